package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"hotline/internal/ops"
	"hotline/internal/transcript"
)

func hotlineCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), binary, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("hotline %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestOfflineBundle: with no network between the stations, messages,
// receipts and acknowledgements go by bundle files carried by hand (the
// real CLI, one station running and one offline). Importing twice changes
// nothing; a bundle with one flipped byte is refused whole. When the
// network comes back nothing is delivered twice, and both transcripts
// verify.
func TestOfflineBundle(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	root := t.TempDir()
	p, err := NewPair(ctx, root, binary, map[string]string{"ops": "staff"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	// The network goes: CHN's station is cut off (stopped).
	if err := p.B.Stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	usa := p.A.Client()
	var ids []string
	for i := range 20 {
		m, err := usa.Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "IMMEDIATE", Text: "message " + string(rune('A'+i))})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	toCHN := filepath.Join(root, "usa-to-chn.bundle")
	hotlineCLI(t, "bundle", "export", "--dir", p.A.Dir, "--peer", "CHN", "--out", toCHN)

	// A flipped byte anywhere in a frame: refused whole, nothing changes.
	data, err := os.ReadFile(toCHN)
	if err != nil {
		t.Fatal(err)
	}
	var b ops.OfflineBundle
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatal(err)
	}
	last := b.Frames[len(b.Frames)-1]
	last[len(last)/2] ^= 0x20
	bad, _ := json.Marshal(b)
	badFile := filepath.Join(root, "tampered.bundle")
	os.WriteFile(badFile, bad, 0o644)
	out, err := exec.CommandContext(ctx, binary, "bundle", "import", "--dir", p.B.Dir, badFile).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "frame") {
		t.Fatalf("tampered bundle: %v\n%s", err, out)
	}
	inbox := func(n *Node) []ops.MessageView {
		var ms []ops.MessageView
		if err := n.Offline(ctx, func(o ops.Ops) error {
			var err error
			ms, err = o.Inbox(ctx, "ops")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return ms
	}
	if got := inbox(p.B); len(got) != 0 {
		t.Fatalf("a refused bundle left %d messages", len(got))
	}

	// CHN takes the bundle offline, twice.
	if out := hotlineCLI(t, "bundle", "import", "--dir", p.B.Dir, toCHN); !strings.Contains(out, "20 new entries") {
		t.Fatalf("first import: %s", out)
	}
	if out := hotlineCLI(t, "bundle", "import", "--dir", p.B.Dir, toCHN); !strings.Contains(out, " 0 new entries") {
		t.Fatalf("second import: %s", out)
	}
	if got := inbox(p.B); len(got) != 20 {
		t.Fatalf("CHN inbox holds %d messages, want 20", len(got))
	}
	// CHN acknowledges one and answers, offline, and sends it all back.
	hotlineCLI(t, "ack", "--dir", p.B.Dir, "--id", ids[3], "--as", "Cdr. Wang")
	hotlineCLI(t, "send", "--dir", p.B.Dir, "--channel", "ops", "--precedence", "PRIORITY", "--text", "received by courier")
	toUSA := filepath.Join(root, "chn-to-usa.bundle")
	hotlineCLI(t, "bundle", "export", "--dir", p.B.Dir, "--peer", "USA", "--out", toUSA)
	if out := hotlineCLI(t, "bundle", "import", "--dir", p.A.Dir, toUSA); !strings.Contains(out, "new entries") {
		t.Fatalf("import at USA: %s", out)
	}
	outbox, err := usa.Outbox(ctx, "ops")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range outbox {
		want := "delivered"
		if m.ID == ids[3] {
			want = "acknowledged"
		}
		if m.Status != want {
			t.Errorf("%s is %s after the bundle, want %s", m.ID, m.Status, want)
		}
	}
	in, err := usa.Inbox(ctx, "ops")
	if err != nil || len(in) != 1 || in[0].Text != "received by courier" {
		t.Fatalf("USA inbox: %+v %v", in, err)
	}

	// The network comes back.
	if err := p.B.Start(ctx); err != nil {
		t.Fatal(err)
	}
	chn := p.B.Client()
	m, err := usa.Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "FLASH", Text: "network is back"})
	if err != nil {
		t.Fatal(err)
	}
	if err := waitStatus(ctx, usa, m.ID, "delivered"); err != nil {
		t.Fatal(err)
	}
	got, err := chn.Inbox(ctx, "ops")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, m := range got {
		seen[m.ID]++
	}
	if len(got) != 21 || len(seen) != 21 {
		t.Fatalf("CHN inbox: %d messages, %d distinct; want 21 once each", len(got), len(seen))
	}
	verifyBoth(t, ctx, p)
}

// verifyBoth exports channel ops from both running stations and verifies
// both transcripts offline.
func verifyBoth(t *testing.T, ctx context.Context, p *Pair) {
	t.Helper()
	for _, n := range []*Node{p.A, p.B} {
		b, err := n.Client().Export(ctx, "ops")
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		json.NewEncoder(&buf).Encode(b)
		rb, err := transcript.ReadBundle(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := transcript.Verify(rb); err != nil {
			t.Errorf("%s transcript: %v", n.Name, err)
		}
	}
}
