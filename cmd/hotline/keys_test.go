package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestKeyChangeMessages: what key rotate and key revoke --lost print
// says what happens (docs/OPERATIONS.md, "Change or revoke keys"): after
// a rotation, peers and relays follow by themselves, with no new peer add
// or relay allow; after a lost key, peers need hotline peer replace and
// relays hotline relay allow --replace.
func TestKeyChangeMessages(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "usa")
	mustRun(t, "init", "--dir", dir, "--name", "USA", "--party", "USA", "--peer-listen", "127.0.0.1:0")
	out := mustRun(t, "key", "rotate", "--dir", dir, "--as", "signal officer")
	for _, want := range []string{"USA rotated its keys", "peers and relays follow the change by themselves", "no new peer add or relay allow"} {
		if !strings.Contains(out, want) {
			t.Errorf("key rotate printed %q, which does not say %q", out, want)
		}
	}
	if strings.Contains(out, "give relays") {
		t.Errorf("key rotate printed %q: relays need nothing after a rotation", out)
	}
	out = mustRun(t, "key", "revoke", "--lost", "--dir", dir, "--as", "signal officer", "--reason", "laptop lost")
	for _, want := range []string{"declared the old key lost", "hotline peer replace", "hotline relay allow", "--replace"} {
		if !strings.Contains(out, want) {
			t.Errorf("key revoke --lost printed %q, which does not say %q", out, want)
		}
	}
}
