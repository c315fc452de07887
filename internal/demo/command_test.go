package demo

import (
	"os"
	"path/filepath"
	"testing"
)

// The demo's --keep output names this binary the way a person can run it
// again (issue 20, item 8): hotline only when that is this binary on the
// PATH, go run ./cmd/hotline only when go run built it, otherwise its
// path, quoted for the shell when it must be.
func TestCommandName(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "hotline")
	other := filepath.Join(dir, "other", "hotline")
	spaced := filepath.Join(dir, "my tools", "hotline")
	goRun := filepath.Join(dir, "go-build1234", "b001", "exe", "hotline")
	for _, f := range []string{exe, other, spaced, goRun} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(f), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ exe, onPath, want string }{
		{exe, exe, "hotline"},
		{exe, other, exe}, // another hotline is on the PATH
		{exe, "", exe},    // none is
		{goRun, "", "go run ./cmd/hotline"},
		{goRun, other, "go run ./cmd/hotline"},
		{spaced, "", "'" + spaced + "'"},
		{"", "", "hotline"},
	} {
		if got := commandName(tc.exe, tc.onPath); got != tc.want {
			t.Errorf("commandName(%q, %q) = %q, want %q", tc.exe, tc.onPath, got, tc.want)
		}
	}
}
