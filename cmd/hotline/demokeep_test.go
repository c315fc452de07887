package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDemoKeep: hotline demo --keep leaves both stations running and says
// how to reach and stop them with commands that work as printed: this
// binary named as it can be run (not hotline when that is not it, not go
// run when go run did not build it), each station's process id, and a
// kill of those ids, never a pkill by name (issue 20, item 8).
func TestDemoKeep(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo")
	}
	dir := t.TempDir()
	r := hotline(t, "demo", "--in", dir, "--keep")
	var pids []int
	t.Cleanup(func() {
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	station := regexp.MustCompile(`(?m)^  (USA|CHN) \(process (\d+)\): (.+) status --dir (\S+)   \(API `)
	for _, m := range station.FindAllStringSubmatch(r.stdout, -1) {
		pid, _ := strconv.Atoi(m[2])
		pids = append(pids, pid)
		if m[3] != binary {
			t.Errorf("the demo names this binary %q, want %q (it is not on the PATH, and go run did not build it)", m[3], binary)
		}
	}
	if r.code != 0 || len(pids) != 2 {
		t.Fatalf("hotline demo --keep: exit %d, %d stations named\nstdout %s\nstderr %s", r.code, len(pids), r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, "pkill") || strings.Contains(r.stdout, "go run") {
		t.Errorf("the demo's output suggests pkill or go run:\n%s", r.stdout)
	}
	for _, m := range station.FindAllStringSubmatch(r.stdout, -1) {
		out, err := exec.Command("bash", "-c", m[3]+" status --dir "+m[4]).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "station "+m[1]) {
			t.Errorf("%s status --dir %s, as printed: %v\n%s", m[3], m[4], err, out)
		}
	}
	stop := regexp.MustCompile(`(?m)^Stop them with: (kill \d+ \d+)$`).FindStringSubmatch(r.stdout)
	if stop == nil || stop[1] != "kill "+strconv.Itoa(pids[0])+" "+strconv.Itoa(pids[1]) {
		t.Fatalf("the demo does not say to stop its stations with a kill of their process ids:\n%s", r.stdout)
	}
	if out, err := exec.Command("bash", "-c", stop[1]).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v %s", stop[1], err, out)
	}
	for _, pid := range pids {
		for alive(pid) {
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// alive says whether process pid exists and has not exited (a zombie
// waiting for its parent has).
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, after, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(after, "Z")
}

// The demo's usage says how many channels it plays: as many as it
// exports transcripts of, one per channel at each of its two stations.
func TestDemoUsageCountsChannels(t *testing.T) {
	dir, _ := demoRun(t)
	bundles, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	help := mustRun(t, "demo", "--help")
	m := regexp.MustCompile(`two stations, (\w+) channels`).FindStringSubmatch(help)
	words := map[string]int{"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
	if m == nil || words[m[1]]*2 != len(bundles) {
		t.Errorf("hotline demo --help says %q; the demo exported %d transcripts, two per channel", m, len(bundles))
	}
}
