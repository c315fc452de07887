package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

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

// Acknowledging a message again, under another name, says it was already
// acknowledged, and by whom, rather than seem to have done it (issue 20,
// item 8).
func TestAckTwiceSaysSo(t *testing.T) {
	dir, _ := demoRun(t)
	chn := copyStation(t, filepath.Join(dir, "chn"))
	var inbox []ops.MessageView
	if err := json.Unmarshal([]byte(mustRun(t, "inbox", "--dir", chn, "--json")), &inbox); err != nil {
		t.Fatal(err)
	}
	var acked *ops.MessageView
	for i := range inbox {
		if inbox[i].Acknowledged {
			acked = &inbox[i]
		}
	}
	if acked == nil {
		t.Fatal("the demo left CHN no acknowledged message")
	}
	out := mustRun(t, "ack", "--dir", chn, "--id", acked.ID, "--as", "Someone Else")
	if !strings.Contains(out, "was already acknowledged by "+acked.AckBy) {
		t.Errorf("acknowledging %s again printed %q", acked.ID, out)
	}
}
