package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSim runs the network simulator through the CLI: two short seeds,
// as text and as JSON, and refuses what it cannot run.
func TestSim(t *testing.T) {
	r := hotline(t, "sim", "--seeds", "2", "--hours", "0.05")
	if r.code != 0 || !strings.Contains(r.stdout, "2 runs (2 of 2 stations)") || !strings.Contains(r.stdout, "violations: 0") {
		t.Fatalf("hotline sim: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "seed 1, 2 stations") || !strings.Contains(r.stdout, "seed 2, 2 stations") {
		t.Fatalf("hotline sim: no line per seed:\n%s", r.stdout)
	}
	r = hotline(t, "sim", "--seeds", "1", "--seed", "5", "--stations", "3", "--hours", "0.05", "--json")
	var got struct {
		Runs       int
		Delivered  map[string]int
		Violations []string
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 0 || got.Runs != 1 || got.Delivered["text"] == 0 || len(got.Violations) != 0 {
		t.Fatalf("hotline sim --json: exit %d, %+v, %v\n%s%s", r.code, got, err, r.stdout, r.stderr)
	}
	r = hotline(t, "sim", "--seeds", "1", "--seed", "2", "--hours", "0.5", "--restores")
	if r.code != 0 || !strings.Contains(r.stdout, "violations: 0") {
		t.Fatalf("hotline sim --restores: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, args := range [][]string{{"--seeds", "0"}, {"--hours", "-1"}, {"--stations", "1"}, {"--bogus"}} {
		r := hotline(t, append([]string{"sim"}, args...)...)
		if r.code != 1 || !strings.HasPrefix(r.stderr, "hotline: sim") {
			t.Errorf("hotline sim %v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}
