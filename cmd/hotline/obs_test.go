package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a process's stderr and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRunHealthAndMetrics runs a real hotline run: /healthz and /readyz
// answer without the token, /metrics only with it, the log is JSON lines
// without the token, and /readyz turns unready when the database is
// removed under the running station.
func TestRunHealthAndMetrics(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "usa")
	mustRun(t, "init", "--dir", dir, "--name", "USA", "--party", "USA", "--peer-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0")
	cmd := exec.Command(binary, "run", "--dir", dir)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	var addr string
	for deadline := time.Now().Add(30 * time.Second); addr == ""; {
		if b, err := os.ReadFile(filepath.Join(dir, "api.addr")); err == nil {
			addr = strings.TrimSpace(string(b))
		} else if time.Now().After(deadline) {
			t.Fatalf("hotline run did not write api.addr; stderr:\n%s", stderr.String())
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	tokb, err := os.ReadFile(filepath.Join(dir, "api-token"))
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(string(tokb))
	get := func(path, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.ReplaceAll(string(b), "\": ", "\":") // compact JSON names
	}

	for _, c := range []struct {
		path, token string
		code        int
		has         string
	}{
		{"/healthz", "", 200, `"live":true`},
		{"/readyz", "", 200, `"ready":true`},
		{"/readyz", tok, 200, `no peers pinned yet`},
		{"/metrics", "", 401, "api-token"},
		{"/metrics", "wrong", 401, "api-token"},
		{"/metrics", tok, 200, "hotline_loop_responsive 1"},
	} {
		code, body := get(c.path, c.token)
		if code != c.code || !strings.Contains(body, c.has) {
			t.Errorf("GET %s (token %q): %d %s; want %d with %q", c.path, c.token, code, body, c.code, c.has)
		}
	}

	for _, f := range []string{"hotline.db", "hotline.db-wal", "hotline.db-shm"} {
		os.Remove(filepath.Join(dir, f))
	}
	code, body := get("/readyz", tok)
	if code != 503 || !strings.Contains(body, `"ready":false`) || !strings.Contains(body, "hotline.db") {
		t.Errorf("GET /readyz with the database removed: %d %s; want 503 naming hotline.db", code, body)
	}
	if code, body := get("/healthz", ""); code != 200 {
		t.Errorf("GET /healthz with the database removed: %d %s; want 200 (alive)", code, body)
	}

	log := strings.TrimSpace(stderr.String())
	if strings.Contains(log, tok) {
		t.Error("the log holds the API token")
	}
	for _, line := range strings.Split(log, "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil || v["msg"] == nil {
			t.Errorf("log line is not slog JSON: %q", line)
		}
	}
}

// TestDoctor: a healthy stopped station passes (with a warning that it
// is not running); a key readable by others and a pinned peer that does
// not answer each fail, with the fix, and the exit status says so.
func TestDoctor(t *testing.T) {
	root := t.TempDir()
	usa, chn := filepath.Join(root, "usa"), filepath.Join(root, "chn")
	mustRun(t, "init", "--dir", usa, "--name", "USA", "--party", "USA", "--peer-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0")
	doctor := func() (int, []map[string]string) {
		t.Helper()
		r := hotline(t, "doctor", "--dir", usa, "--json")
		var ds []map[string]string
		if err := json.Unmarshal([]byte(r.stdout), &ds); err != nil {
			t.Fatalf("doctor --json: %v\n%s\n%s", err, r.stdout, r.stderr)
		}
		return r.code, ds
	}
	find := func(ds []map[string]string, check, status, detail string) bool {
		for _, d := range ds {
			if d["check"] == check && d["status"] == status && strings.Contains(d["detail"], detail) {
				return true
			}
		}
		return false
	}
	code, ds := doctor()
	if code != 0 {
		t.Fatalf("healthy station: exit %d: %v", code, ds)
	}
	for _, c := range [][3]string{{"keys", "ok", "matches"}, {"store", "ok", "writable"}, {"process", "warn", "no hotline run"}, {"reach", "ok", "no peers"}} {
		if !find(ds, c[0], c[1], c[2]) {
			t.Errorf("healthy station: no %v in %v", c, ds)
		}
	}

	key := filepath.Join(usa, "keys", "signing.key")
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	code, ds = doctor()
	if code == 0 || !find(ds, "permissions", "fail", "signing.key has mode 0644") {
		t.Errorf("readable key: exit %d, %v; want a failure naming signing.key", code, ds)
	}
	for _, d := range ds {
		if d["check"] == "permissions" && d["status"] == "fail" && d["fix"] != "chmod 600 "+key {
			t.Errorf("readable key: fix %q, want chmod 600", d["fix"])
		}
	}
	os.Chmod(key, 0o600)

	// A peer whose endpoint nobody listens on.
	mustRun(t, "init", "--dir", chn, "--name", "CHN", "--party", "CHN", "--peer-listen", "127.0.0.1:1", "--api-listen", "127.0.0.1:0")
	fp := strings.TrimSpace(mustRun(t, "fingerprint", "--dir", chn))
	mustRun(t, "peer", "add", "--dir", usa, "--card", filepath.Join(chn, "card"), "--fingerprint", fp)
	code, ds = doctor()
	if code == 0 || !find(ds, "reach", "fail", "peer CHN at 127.0.0.1:1") {
		t.Errorf("unreachable peer: exit %d, %v; want a reach failure for CHN", code, ds)
	}
}

func TestInstallPrintUnit(t *testing.T) {
	out := mustRun(t, "install", "--print-unit", "--dir", "/srv/hotline", "--user", "hl")
	for _, want := range []string{"User=hl\n", "ProtectSystem=strict\n", "ReadWritePaths=/srv/hotline\n", "NoNewPrivileges=yes\n",
		"Restart=on-failure\n", "ExecStart=/usr/local/bin/hotline run --dir /srv/hotline"} {
		if !strings.Contains(out, want) {
			t.Errorf("unit lacks %q:\n%s", want, out)
		}
	}
	args := []string{"install", "--print-unit", "--dir", "/srv/hot line"}
	checkFailed(t, args, hotline(t, args...), "not allowed")
}
