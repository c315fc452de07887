package main

import (
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
