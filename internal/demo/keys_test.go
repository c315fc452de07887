package demo

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"hotline/internal/api"
	"hotline/internal/ops"
	"hotline/internal/transcript"
)

// TestKeyRotationProcesses: two real hotline processes (SQLite, TLS on
// loopback). Mid-conversation USA's signal officer runs hotline key
// rotate against the running station (through its API); CHN follows.
// Then CHN is stopped, USA revokes its new key with hotline key revoke
// (offline: USA stopped too, the CLI opens its directory), both start
// again and CHN, with the earlier key pinned, follows the chain its peer's
// certificate carries. Messages before, between and after are delivered,
// both sides' hotline peer list and key list show the history, and both
// exported transcripts pass hotline verify.
func TestKeyRotationProcesses(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	root := t.TempDir()
	p, err := NewPair(ctx, root, binary, map[string]string{"ops": "staff"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	chn := p.B.Client()
	send := func(n *Node, text string) {
		t.Helper()
		c := n.Client()
		if _, err := c.Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "IMMEDIATE", Text: text}); err != nil {
			t.Fatalf("%s sends %q: %v", n.Name, text, err)
		}
		err := WaitFor(ctx, c, time.Minute, func() (bool, error) {
			chs, err := c.Channels(ctx)
			if err != nil || len(chs) == 0 {
				return false, err
			}
			return chs[0].Delivered == chs[0].Written, nil
		})
		if err != nil {
			t.Fatalf("%s: %q not delivered: %v", n.Name, text, err)
		}
	}
	send(p.A, "before")
	send(p.B, "reply before")
	out := hotlineCLI(t, "key", "rotate", "--dir", p.A.Dir, "--as", "signal officer", "--json")
	var rot ops.RotationView
	if err := json.Unmarshal([]byte(out), &rot); err != nil {
		t.Fatalf("key rotate printed %q: %v", out, err)
	}
	if rot.Reason != "rotate" || rot.Channels != 1 {
		t.Fatalf("key rotate: %+v", rot)
	}
	send(p.A, "after")
	send(p.B, "reply after")
	if err := WaitFor(ctx, chn, time.Minute, func() (bool, error) {
		ps, err := chn.Peers(ctx)
		return err == nil && len(ps) == 1 && ps[0].Fingerprint == rot.Fingerprint && len(ps[0].Keys) == 2, err
	}); err != nil {
		t.Fatalf("CHN does not show USA's new key: %v", err)
	}
	if list := hotlineCLI(t, "peer", "list", "--dir", p.B.Dir); !strings.Contains(list, rot.OldFingerprint) || !strings.Contains(list, rot.Fingerprint) {
		t.Errorf("peer list does not show USA's key history:\n%s", list)
	}
	// Revocation with both stopped: the CLI opens USA's directory itself.
	for _, n := range []*Node{p.B, p.A} {
		if err := n.Stop(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}
	out = hotlineCLI(t, "key", "revoke", "--dir", p.A.Dir, "--reason", "laptop lost in transit", "--as", "signal officer", "--json")
	var rev ops.RotationView
	if err := json.Unmarshal([]byte(out), &rev); err != nil {
		t.Fatalf("key revoke printed %q: %v", out, err)
	}
	for _, n := range []*Node{p.A, p.B} {
		if err := n.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	send(p.A, "after revocation")
	send(p.B, "reply after revocation")
	list := hotlineCLI(t, "key", "list", "--dir", p.B.Dir, "--station", "USA")
	if !strings.Contains(list, "REVOKED") || !strings.Contains(list, rev.Fingerprint) {
		t.Errorf("key list at CHN:\n%s", list)
	}
	if n := len(alertsWith(t, ctx, p.B.Client(), "USA REVOKED its key")); n != 1 {
		t.Errorf("CHN shows %d revocation alarms, want 1", n)
	}
	if n := len(alertsWith(t, ctx, p.A.Client(), "this station's keys were changed")); n != 2 {
		t.Errorf("USA shows %d key change notices, want 2", n)
	}
	for _, n := range []*Node{p.A, p.B} {
		file := filepath.Join(root, n.Name+"-ops.json")
		hotlineCLI(t, "export", "--dir", n.Dir, "--channel", "ops", "--out", file)
		out := hotlineCLI(t, "verify", "--json", file)
		var rep transcript.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("verify printed %q: %v", out, err)
		}
		for _, l := range rep.Logs {
			if l.Author == "USA" && (l.Keys != 3 || l.Fingerprints[1] != rot.Fingerprint || l.Fingerprints[2] != rev.Fingerprint) {
				t.Errorf("%s's transcript: USA's keys %v", n.Name, l.Fingerprints)
			}
			if l.Author == "USA" && l.Entries != 6 {
				t.Errorf("%s's transcript: USA's log has %d entries, want 6 (agreement, 3 texts, 2 key entries)", n.Name, l.Entries)
			}
		}
	}
}

func alertsWith(t *testing.T, ctx context.Context, c *api.Client, text string) []ops.AlertView {
	t.Helper()
	as, err := c.Alerts(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []ops.AlertView
	for _, a := range as {
		if strings.Contains(a.Text, text) {
			out = append(out, a)
		}
	}
	return out
}
