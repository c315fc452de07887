package main

import (
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
