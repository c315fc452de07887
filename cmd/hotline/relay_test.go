package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"hotline/internal/home"
	"hotline/internal/link"
	"hotline/internal/relay"
)

// TestRelayVerbs: a third party creates a relay, allows a station after
// checking its fingerprint, runs it, lists it while it runs, and stops it
// with SIGTERM.
func TestRelayVerbs(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "relay")
	out := mustRun(t, "relay", "init", "--dir", dir, "--name", "RELAY-CH", "--listen", "127.0.0.1:7444", "--expiry", "72h")
	card, err := relay.ReadCard(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "RELAY-CH (RELAY)") || !strings.Contains(out, card.Fingerprint()) {
		t.Errorf("relay init printed %q", out)
	}
	if got := mustRun(t, "relay", "card", "--dir", dir); got != string(card.Text) {
		t.Errorf("relay card printed %q", got)
	}
	var cj struct{ Name, Fingerprint string }
	if err := json.Unmarshal([]byte(mustRun(t, "relay", "card", "--dir", dir, "--json")), &cj); err != nil || cj.Fingerprint != card.Fingerprint() {
		t.Errorf("relay card --json: %+v, %v", cj, err)
	}

	usa := filepath.Join(root, "usa")
	mustRun(t, "init", "--dir", usa, "--name", "USA", "--party", "USA", "--peer-listen", "127.0.0.1:7443")
	fp := strings.TrimSpace(mustRun(t, "fingerprint", "--dir", usa))
	out = mustRun(t, "relay", "allow", "--dir", dir, "--card", filepath.Join(usa, "card"), "--fingerprint", fp)
	if !strings.Contains(out, "allowed USA (USA)") {
		t.Errorf("relay allow printed %q", out)
	}
	var st relay.Status
	if err := json.Unmarshal([]byte(mustRun(t, "relay", "list", "--dir", dir, "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Stations) != 1 || st.Stations[0].Fingerprint != fp || st.Expiry != "72h0m0s" || st.Stations[0].Pending.QuotaMessages != relay.DefaultMessages {
		t.Errorf("relay list --json = %+v", st)
	}

	// Run it, as a process, on a free port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(binary, "relay", "--dir", dir, "--listen", addr)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()

	// A station deposits mail for itself through it.
	keys, err := home.LoadKeys(filepath.Join(usa, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := link.Certificate("USA", keys.Sign)
	if err != nil {
		t.Fatal(err)
	}
	var c *relay.Client
	for deadline := time.Now().Add(10 * time.Second); ; {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		c, err = relay.Dial(ctx, addr, card.SignKey, cert)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dialing the relay: %v\n%s", err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := c.Deposit(t.Context(), keys.SignPublic(), []byte("note to self")); err != nil {
		t.Fatal(err)
	}
	c.Close()
	args := []string{"relay", "run", "--dir", dir}
	checkFailed(t, args, hotline(t, args...), "in use", "already running")
	if err := json.Unmarshal([]byte(mustRun(t, "relay", "list", "--dir", dir, "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if p := st.Stations[0].Pending; p.Messages != 1 || p.Bytes != int64(len("note to self")) {
		t.Errorf("while running, pending = %+v", p)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err // for the deferred wait
		if err != nil {
			t.Fatalf("relay stopped by SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("relay did not stop on SIGTERM")
	}
	out = mustRun(t, "relay", "list", "--dir", dir)
	for _, w := range []string{"USA", fp, "1/100000", "deposits 1 (12 bytes)", "connections 1"} {
		if !strings.Contains(out, w) {
			t.Errorf("relay list does not show %q:\n%s", w, out)
		}
	}
}

func TestRelayBadInput(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "relay")
	mustRun(t, "relay", "init", "--dir", dir, "--name", "RELAY-CH", "--listen", "127.0.0.1:7444")
	usa, chn := filepath.Join(root, "usa"), filepath.Join(root, "chn")
	mustRun(t, "init", "--dir", usa, "--name", "USA", "--party", "USA", "--peer-listen", "127.0.0.1:7443")
	mustRun(t, "init", "--dir", chn, "--name", "CHN", "--party", "CHN", "--peer-listen", "127.0.0.1:7445")
	usaFP := strings.TrimSpace(mustRun(t, "fingerprint", "--dir", usa))
	chnFP := strings.TrimSpace(mustRun(t, "fingerprint", "--dir", chn))
	newDir := filepath.Join(root, "new")

	cases := []struct {
		args  []string
		wants []string
	}{
		{[]string{"relay", "frob", "--dir", dir}, []string{`unknown verb "relay frob"`}},
		{[]string{"relay", "init", "--dir", newDir}, []string{"missing --listen, --name"}},
		{[]string{"relay", "init", "--name", "R"}, []string{"missing --dir, --listen"}},
		{[]string{"relay", "init", "--dir", newDir, "--name", "R", "--listen", "nowhere"}, []string{"nowhere", "HOST:PORT"}},
		{[]string{"relay", "init", "--dir", newDir, "--name", "bad name", "--listen", "127.0.0.1:1"}, []string{`"bad name"`, "not valid"}},
		{[]string{"relay", "init", "--dir", newDir, "--name", "R", "--listen", "127.0.0.1:1", "--expiry", "-1h"}, []string{"--expiry -1h0m0s is not positive"}},
		{[]string{"relay", "init", "--dir", newDir, "--name", "R", "--listen", "127.0.0.1:1", "--expiry", "soon"}, []string{"-expiry", "soon"}},
		{[]string{"relay", "init", "--dir", dir, "--name", "R", "--listen", "127.0.0.1:1"}, []string{dir, "already holds"}},
		{[]string{"relay", "init", "--dir", usa, "--name", "R", "--listen", "127.0.0.1:1"}, []string{usa, "already holds"}},
		{[]string{"relay", "allow", "--dir", dir}, []string{"missing --card, --fingerprint"}},
		{[]string{"relay", "allow", "--dir", dir, "--card", filepath.Join(usa, "card"), "--fingerprint", chnFP},
			[]string{"does not have the fingerprint given", "do not allow"}},
		{[]string{"relay", "allow", "--dir", dir, "--card", filepath.Join(root, "no-such-card"), "--fingerprint", usaFP}, []string{"no-such-card"}},
		{[]string{"relay", "allow", "--dir", dir, "--card", filepath.Join(dir, "card"), "--fingerprint", relayFP(t, dir)},
			[]string{"relay's own card"}},
		{[]string{"relay", "allow", "--dir", usa, "--card", filepath.Join(chn, "card"), "--fingerprint", chnFP}, []string{"not a relay directory"}},
		{[]string{"relay", "list", "--bogus"}, []string{"relay list", "-bogus"}},
		{[]string{"relay", "list", "--dir", dir, "extra"}, []string{`unexpected argument "extra"`}},
		{[]string{"relay", "list"}, []string{"no relay directory", "--dir"}},
		{[]string{"relay", "list", "--dir", filepath.Join(root, "nowhere")}, []string{"nowhere", "not a relay directory"}},
		{[]string{"relay", "card", "--dir", chn}, []string{"not a relay directory"}},
		{[]string{"relay", "--dir", dir, "--listen", "nowhere"}, []string{"--listen", "nowhere"}},
		{[]string{"relay", "run"}, []string{"missing --dir"}},
		{[]string{"relay", "run", "--dir", dir, "extra"}, []string{`unexpected argument "extra"`}},
	}
	before := filesOf(t, dir)
	for _, c := range cases {
		checkFailed(t, c.args, hotline(t, c.args...), c.wants...)
	}
	after := filesOf(t, dir)
	for f, h := range before {
		if after[f] != h && filepath.Base(f) != "relay.db" {
			t.Errorf("%s changed", f)
		}
	}
	if len(after) != len(before) {
		t.Errorf("files before %v, after %v", before, after)
	}
	if _, err := os.Stat(newDir); err == nil {
		t.Errorf("a failed relay init left %s behind", newDir)
	}
	out := mustRun(t, "relay", "list", "--dir", dir)
	if strings.Contains(out, "USA") || strings.Contains(out, "CHN") {
		t.Errorf("a refused allow allowed a station:\n%s", out)
	}

	// A readable key is refused, and named.
	p := filepath.Join(dir, "keys", "kem.key")
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"relay", "run", "--dir", dir}, {"relay", "list", "--dir", dir}} {
		checkFailed(t, args, hotline(t, args...), "chmod 600", p)
	}
}

func relayFP(t *testing.T, dir string) string {
	t.Helper()
	c, err := relay.ReadCard(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c.Fingerprint()
}
