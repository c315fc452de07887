package main

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// outboxTexts is the texts of a station's outbox on a channel, oldest first.
func outboxTexts(t *testing.T, dir, ch string) []string {
	t.Helper()
	var ms []struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "outbox", "--dir", dir, "--channel", ch, "--json")), &ms); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.Text)
	}
	return out
}

// TestSendLines: send --lines sends each line of standard input as one
// message, in order, printing each id; a refused line is named, the
// others still go, and the command fails. It works on a station opened by
// the command and, pipelined on a send stream, through hotline run.
func TestSendLines(t *testing.T) {
	dir, _ := demoRun(t)
	usa := copyStation(t, filepath.Join(dir, "usa"))
	const ch = "usa-chn-staff"
	var in strings.Builder
	for i := range 50 {
		fmt.Fprintf(&in, "track report %02d\n", i)
		if i == 20 {
			in.WriteString("\n") // blank: skipped
		}
	}
	check := func(what string, before []string, stdout string) {
		t.Helper()
		ids := strings.Fields(stdout)
		after := outboxTexts(t, usa, ch)
		if len(ids) != 50 || len(after) != len(before)+50 {
			t.Fatalf("%s: %d ids printed, outbox %d → %d messages; want 50 more", what, len(ids), len(before), len(after))
		}
		for i, tx := range after[len(before):] {
			if want := fmt.Sprintf("track report %02d", i); tx != want {
				t.Fatalf("%s: message %d is %q, want %q", what, i, tx, want)
			}
			if !strings.HasPrefix(ids[i], ch+"/USA/") {
				t.Fatalf("%s: id %q", what, ids[i])
			}
		}
	}
	before := outboxTexts(t, usa, ch)
	r := hotlineIn(t, in.String(), "send", "--dir", usa, "--channel", ch, "--precedence", "ROUTINE", "--lines")
	if r.code != 0 {
		t.Fatalf("send --lines: exit %d: %s", r.code, r.stderr)
	}
	check("station opened by the command", before, r.stdout)

	// A refused line: named, with how many went; the lines around it go.
	before = outboxTexts(t, usa, ch)
	args := []string{"send", "--dir", usa, "--channel", ch, "--precedence", "ROUTINE", "--lines"}
	r = hotlineIn(t, "first\n"+strings.Repeat("x", 40<<10)+"\nthird\n", args...)
	if r.code == 0 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "2 sent, 1 refused; line 2: message text has") || !strings.Contains(r.stderr, "limit") {
		t.Errorf("send --lines with a line too long: exit %d, stderr %q", r.code, r.stderr)
	}
	if after := outboxTexts(t, usa, ch); len(after) != len(before)+2 || after[len(after)-2] != "first" || after[len(after)-1] != "third" {
		t.Errorf("outbox after a refused line: %q", after[len(before):])
	}
	for _, c := range []struct {
		args  []string
		wants []string
	}{
		{[]string{"send", "--dir", usa, "--channel", ch, "--precedence", "ROUTINE", "--lines", "--text", "x"}, []string{"--lines", "no --text"}},
		{[]string{"send", "--dir", usa, "--channel", ch, "--lines"}, []string{"missing --precedence"}},
		{[]string{"send", "--dir", usa, "--channel", ch, "--precedence", "URGENT", "--lines"}, []string{"0 sent, 1 refused; line 1", "URGENT"}},
	} {
		checkFailed(t, c.args, hotlineIn(t, "hello\n", c.args...), c.wants...)
	}

	// Through hotline run: on one send stream.
	_, stop := startRun(t, usa)
	defer stop()
	before = outboxTexts(t, usa, ch)
	r = hotlineIn(t, in.String(), "send", "--dir", usa, "--channel", ch, "--precedence", "ROUTINE", "--lines")
	if r.code != 0 {
		t.Fatalf("send --lines through hotline run: exit %d: %s", r.code, r.stderr)
	}
	check("through hotline run", before, r.stdout)
	// Lines the station would refuse are refused one by one, as on a
	// station the command opens, and the stream goes on.
	before = outboxTexts(t, usa, ch)
	r = hotlineIn(t, "first\n"+strings.Repeat("<", 40<<10)+"\nbad \xff utf-8\nlast\n", args...)
	if r.code == 0 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "2 sent, 2 refused; line 2: message text has") {
		t.Errorf("send --lines through hotline run with refused lines: exit %d, stderr %q", r.code, r.stderr)
	}
	if after := outboxTexts(t, usa, ch); len(after) != len(before)+2 || after[len(after)-2] != "first" || after[len(after)-1] != "last" {
		t.Errorf("outbox after refused lines through hotline run: %q", after[len(before):])
	}

	// An interrupt stops the reading; what was sent is reported.
	cmdIn := exec.Command(binary, args...)
	stdin, err := cmdIn.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	cmdIn.Stdout, cmdIn.Stderr = &stdout, &stderr
	if err := cmdIn.Start(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(stdin, "before the interrupt")
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(strings.Join(outboxTexts(t, usa, ch), "\n"), "before the interrupt") {
		if time.Now().After(deadline) {
			t.Fatal("the line sent before the interrupt never reached the outbox")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmdIn.Process.Signal(syscall.SIGTERM)
	werr := cmdIn.Wait() // stdin still open: it must not wait for its end
	stdin.Close()
	if werr == nil || !strings.Contains(stderr.String(), "1 sent, then stopped") || strings.Count(stderr.String(), "\n") != 1 {
		t.Errorf("send --lines interrupted: %v, stdout %q, stderr %q", werr, stdout.String(), stderr.String())
	}
	r = hotlineIn(t, "one\n", "send", "--dir", usa, "--channel", ch, "--precedence", "FLASH", "--lines", "--json")
	var m struct {
		ID, Status, Text string
	}
	if err := json.Unmarshal([]byte(r.stdout), &m); r.code != 0 || err != nil || m.Text != "one" || m.Status != "queued" || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("send --lines --json: exit %d, %q (%v), stderr %q", r.code, r.stdout, err, r.stderr)
	}
}
