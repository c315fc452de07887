package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hotline/internal/ops"
)

// Every operation of the table has the verb it names: what the API
// serves, the command line does.
func TestEveryOperationHasItsVerb(t *testing.T) {
	have := map[string]bool{}
	for _, v := range verbs {
		have[v.name] = true
	}
	for _, op := range ops.All {
		if !have[op.Verb] {
			t.Errorf("operation %s names the verb %q, which hotline does not have", op.Name, op.Verb)
		}
	}
}

// A mistyped verb is answered with the nearest one, or with the verbs of
// the group its first word names.
func TestUnknownVerbSuggests(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"sned", "--dir", "usa"}, `unknown verb "sned": did you mean "send"?`},
		{[]string{"chanel", "list"}, `unknown verb "chanel list": did you mean "channel list"?`},
		{[]string{"peer", "ad"}, `unknown verb "peer ad": did you mean "peer add"?`},
		{[]string{"peer", "frob"}, `unknown verb "peer frob": peer has peer add, peer list`},
		{[]string{"frobnicate"}, `unknown verb "frobnicate" (run hotline help)`},
		{[]string{"--dir", "x"}, `no verb given before "--dir"`},
	} {
		err := dispatch(t.Context(), tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("hotline %s: %v, want %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}

// The name an act carries to the other party is never the login by
// default (security review item 7).
func TestDefaultOperatorIsNotTheLogin(t *testing.T) {
	t.Setenv("HOTLINE_OPERATOR", "")
	t.Setenv("USER", "duty1")
	if got := defaultOperator(); got != "duty officer" {
		t.Errorf("defaultOperator() = %q with USER=duty1, want \"duty officer\"", got)
	}
	t.Setenv("HOTLINE_OPERATOR", "Lt. Chen")
	if got := defaultOperator(); got != "Lt. Chen" {
		t.Errorf("defaultOperator() = %q, want $HOTLINE_OPERATOR", got)
	}
}

// Acknowledging a message again under another name fails (exit 1) with
// one line saying who acknowledged it and when, and changes nothing; the
// same name again is a repeat, said so, exit 0 (issue 20, item 8).
func TestAckTwiceSaysSo(t *testing.T) {
	dir, _ := demoRun(t)
	chn := copyStation(t, filepath.Join(dir, "chn"))
	var inbox []ops.MessageView
	if err := json.Unmarshal([]byte(mustRun(t, "inbox", "--dir", chn, "--json")), &inbox); err != nil {
		t.Fatal(err)
	}
	var acked, open *ops.MessageView
	for i := range inbox {
		if inbox[i].Acknowledged {
			acked = &inbox[i]
		} else {
			open = &inbox[i]
		}
	}
	if acked == nil || acked.AckAt == nil || open == nil {
		t.Fatal("the demo left CHN no acknowledged message, or none to acknowledge")
	}
	// A first acknowledgement, made at once after another, is not taken
	// for a repeat.
	if out, want := mustRun(t, "ack", "--dir", chn, "--id", open.ID, "--as", "Lt. Wu"), open.ID+" acknowledged by Lt. Wu\n"; out != want {
		t.Errorf("acknowledging %s printed %q, want %q", open.ID, out, want)
	}
	when := acked.AckAt.UTC().Format(time.RFC3339)
	before := stationState(t, chn)
	for _, json := range []bool{false, true} {
		args := []string{"ack", "--dir", chn, "--id", acked.ID, "--as", "Someone Else"}
		if json {
			args = append(args, "--json")
		}
		checkFailed(t, args, hotline(t, args...), acked.ID+" was already acknowledged by "+acked.AckBy+" at "+when, "nothing changed")
	}
	out := mustRun(t, "ack", "--dir", chn, "--id", acked.ID, "--as", acked.AckBy)
	if want := acked.ID + " was already acknowledged by " + acked.AckBy + " at " + when; !strings.Contains(out, want) {
		t.Errorf("acknowledging %s again under the same name printed %q, want %q", acked.ID, out, want)
	}
	if after := stationState(t, chn); after != before {
		t.Errorf("acknowledging again changed the station:\nbefore %s\nafter %s", before, after)
	}
}
