package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigRefused: hotline run refuses a config.json with a misspelt
// setting or a console_down_after that is not a duration in range, and
// says which; the file is left as it was.
func TestConfigRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "usa")
	args := []string{"init", "--dir", dir, "--name", "USA", "--party", "USA", "--peer-listen", "127.0.0.1:0"}
	if r := hotline(t, args...); r.code != 0 {
		t.Fatalf("init: %d %s", r.code, r.stderr)
	}
	for _, c := range []struct {
		key   string
		value any
		wants []string
	}{
		{"console_down_afer", "10s", []string{"config.json", `unknown field "console_down_afer"`}},
		{"console_down_after", "soon", []string{"config.json", `console_down_after "soon" is not a duration`}},
		{"console_down_after", "100ms", []string{"console_down_after 100ms is out of range", "from 1s to 10m0s"}},
		{"console_down_after", "2h", []string{"console_down_after 2h0m0s is out of range"}},
		{"console_down_after", 5, []string{"config.json", "cannot unmarshal number"}},
	} {
		cfg := configOf(t, dir)
		cfg[c.key] = c.value
		data, _ := json.Marshal(cfg)
		if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		args := []string{"run", "--dir", dir}
		checkFailed(t, args, hotline(t, args...), c.wants...)
		if got, _ := os.ReadFile(filepath.Join(dir, "config.json")); string(got) != string(data) {
			t.Errorf("%s=%v: a refused run changed config.json", c.key, c.value)
		}
		delete(cfg, c.key)
		data, _ = json.Marshal(cfg)
		if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// And doctor says the same.
	cfg := configOf(t, dir)
	cfg["console_down_after"] = "soon"
	data, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	r := hotline(t, "doctor", "--dir", dir)
	if r.code == 0 || !strings.Contains(r.stdout, `console_down_after "soon"`) || !strings.Contains(r.stdout, "correct "+filepath.Join(dir, "config.json")) {
		t.Errorf("doctor with a bad console_down_after: exit %d, %s", r.code, r.stdout)
	}
}
