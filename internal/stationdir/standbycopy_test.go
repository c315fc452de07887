package stationdir_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// standbyCopyStep is the copy step of docs/OPERATIONS.md ("Several
// machines"), the shell block after its standby-copy marker, as lines
// (continuations joined).
func standbyCopyStep(t *testing.T) []string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(doc), "<!-- standby-copy:")
	if !ok {
		t.Fatal("docs/OPERATIONS.md has no standby-copy marker")
	}
	_, after, _ = strings.Cut(after, "```\n")
	block, _, ok := strings.Cut(after, "```")
	if !ok {
		t.Fatal("the standby copy step is not a closed code block")
	}
	var lines []string
	cont := false
	for _, l := range strings.Split(block, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if cont {
			lines[len(lines)-1] += " " + l
		} else {
			lines = append(lines, l)
		}
		cont = strings.HasSuffix(l, "|") || strings.HasSuffix(l, "\\")
	}
	return lines
}

// TestStandbyCopyStep runs the standby copy step of docs/OPERATIONS.md as
// written, on this machine (ssh to the standby dropped, the user and
// group left out, /var/lib/hotline the source on the left of a pipe and
// the standby's elsewhere), under umask 022: the standby's directory is
// 0700, with or without one there before, and every file keeps its mode
// and content.
func TestStandbyCopyStep(t *testing.T) {
	lines := standbyCopyStep(t)
	if len(lines) != 2 {
		t.Fatalf("the copy step has %d commands, want 2 (make the directory, copy): %q", len(lines), lines)
	}
	for _, pre := range []os.FileMode{0, 0o755} {
		root := t.TempDir()
		src := initDir(t, "USA")
		if err := os.WriteFile(filepath.Join(src, "store-password"), []byte("pw\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(root, "standby", "hotline")
		if pre != 0 {
			if err := os.MkdirAll(dst, pre); err != nil {
				t.Fatal(err)
			}
			os.Chmod(dst, pre)
		}
		var script []string
		for _, l := range lines {
			for _, ssh := range []string{"ssh root@hotline-b ", "ssh hotline@hotline-b "} {
				l = strings.ReplaceAll(l, ssh, "")
			}
			l = strings.ReplaceAll(l, " -o hotline -g hotline", "")
			left, right, piped := strings.Cut(l, "|")
			if piped {
				l = strings.ReplaceAll(left, "/var/lib/hotline", src) + "|" + strings.ReplaceAll(right, "/var/lib/hotline", dst)
			} else {
				l = strings.ReplaceAll(l, "/var/lib/hotline", dst)
			}
			if strings.Contains(l, "hotline-b") || strings.Contains(l, "/var/lib") {
				t.Fatalf("cannot run %q here", l)
			}
			script = append(script, l)
		}
		cmd := exec.Command("bash", "-c", "set -eo pipefail; umask 022; mkdir -p "+filepath.Dir(dst)+"; "+strings.Join(script, "; "))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
		if fi, err := os.Stat(dst); err != nil || fi.Mode().Perm() != 0o700 {
			t.Fatalf("after the copy step (directory there before: %04o) the standby's directory is %v, %v: want 0700", pre, fi.Mode(), err)
		}
		if fi, _ := os.Stat(filepath.Join(dst, "keys")); fi == nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("keys/: %v, want 0700", fi)
		}
		n := 0
		filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
			rel, _ := filepath.Rel(src, p)
			if err != nil || d.IsDir() || strings.HasPrefix(rel, "hotline.db") || rel == "lock" {
				return err
			}
			n++
			a, _ := os.ReadFile(p)
			b, err := os.ReadFile(filepath.Join(dst, rel))
			if err != nil || !bytes.Equal(a, b) {
				t.Errorf("%s not copied: %v", rel, err)
				return nil
			}
			sa, _ := os.Stat(p)
			sb, _ := os.Stat(filepath.Join(dst, rel))
			if sa.Mode() != sb.Mode() {
				t.Errorf("%s: mode %v on the standby, %v on the first machine", rel, sb.Mode(), sa.Mode())
			}
			return nil
		})
		if n < 5 {
			t.Errorf("only %d files compared", n)
		}
	}
}
