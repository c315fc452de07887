package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"hotline/internal/operator"
)

func operatorList(t *testing.T, dir string) []operator.View {
	t.Helper()
	var vs []operator.View
	if err := json.Unmarshal([]byte(mustRun(t, "operator", "list", "--dir", dir, "--json")), &vs); err != nil {
		t.Fatal(err)
	}
	return vs
}

func names(vs []operator.View) string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Name+":"+v.Role+":"+v.Lang)
	}
	return strings.Join(out, " ")
}

// TestOperators: operators are added with the password on stdin or in a
// file (never a flag), listed and removed, offline and while hotline run
// owns the station; bad input changes nothing.
func TestOperators(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "usa")
	mustRun(t, "init", "--dir", dir, "--name", "USA", "--party", "USA", "--peer-listen", "127.0.0.1:0")

	r := hotlineIn(t, "correct horse battery\n", "operator", "add", "--dir", dir, "--name", "ann", "--role", "duty")
	if r.code != 0 || !strings.Contains(r.stdout, "added operator ann (duty)") {
		t.Fatalf("operator add (stdin): exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("another long password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "operator", "add", "--dir", dir, "--name", "王伟", "--role", "auditor", "--lang", "zh", "--password-file", pwFile)

	bad := []struct {
		stdin string
		args  []string
		wants []string
	}{
		{"correct horse battery\n", []string{"operator", "add", "--dir", dir, "--name", "bob", "--role", "root"}, []string{`role "root"`, "duty, supervisor, admin, auditor"}},
		{"short\n", []string{"operator", "add", "--dir", dir, "--name", "bob", "--role", "duty"}, []string{"at least 12"}},
		{"", []string{"operator", "add", "--dir", dir, "--name", "bob", "--role", "duty"}, []string{"no password"}},
		{"correct horse battery\n", []string{"operator", "add", "--dir", dir, "--name", "ann", "--role", "admin"}, []string{`"ann" already exists`}},
		{"correct horse battery\n", []string{"operator", "add", "--dir", dir, "--name", strings.Repeat("n", 65), "--role", "duty"}, []string{"more than 64"}},
		{"correct horse battery\n", []string{"operator", "add", "--dir", dir, "--name", "bob", "--role", "duty", "--password", "x"}, []string{"-password"}},
		{"", []string{"operator", "add", "--dir", dir, "--role", "duty"}, []string{"missing --name"}},
		{"", []string{"operator", "remove", "--dir", dir, "--name", "nobody"}, []string{`no operator "nobody"`}},
	}
	for _, c := range bad {
		checkFailed(t, c.args, hotlineIn(t, c.stdin, c.args...), c.wants...)
	}
	if got := names(operatorList(t, dir)); got != "ann:duty:en 王伟:auditor:zh" {
		t.Fatalf("operators = %s", got)
	}

	// While hotline run owns the station, the same verbs go through its API.
	cmd := exec.Command(binary, "run", "--dir", dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "api.addr")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("hotline run did not write api.addr")
		}
		time.Sleep(20 * time.Millisecond)
	}
	r = hotlineIn(t, "supervisor password\n", "operator", "add", "--dir", dir, "--name", "sue", "--role", "supervisor")
	if r.code != 0 {
		t.Fatalf("operator add while running: %q", r.stderr)
	}
	args := []string{"operator", "add", "--dir", dir, "--name", "eve", "--role", "god"}
	checkFailed(t, args, hotlineIn(t, "correct horse battery\n", args...), `role "god"`)
	mustRun(t, "operator", "remove", "--dir", dir, "--name", "ann")
	mustRun(t, "operator", "unlock", "--dir", dir, "--name", "sue")
	if got := names(operatorList(t, dir)); got != "sue:supervisor:en 王伟:auditor:zh" {
		t.Errorf("operators while running = %s", got)
	}
}
