package demo

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"hotline/internal/ops"
	"hotline/internal/protocol"
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

// tinyBundle writes a bundle from USA to CHN of n tiny frames, each a
// receipt frame that decodes: about 35 bytes a frame.
func tinyBundle(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	frame := (&protocol.Frame{Type: protocol.FrameReceipt, Channel: "usa-chn-ops", Author: "CHN"}).Encode()
	quoted := `"` + base64.StdEncoding.EncodeToString(frame) + `"`
	fmt.Fprintf(w, `{"format":%q,"from":"USA","to":"CHN","created_at":"2026-11-25T10:00:00Z","frames":[`, ops.OfflineFormat)
	for i := range n {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(quoted)
	}
	w.WriteString("]}\n")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// vmHWM is a running process's peak resident memory, in bytes, from
// /proc/PID/status.
func vmHWM(t *testing.T, pid int) uint64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb uint64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb); err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// The peak resident memory a hotline process may reach while a bundle of
// a million tiny frames is refused: the bundle is read a frame at a time.
// Before, the command took 390 MiB and hotline run 930 MiB for such a
// bundle (measured with 2.5 million frames, 47 MB).
const (
	cliRSSBound     = 64 << 20
	stationRSSBound = 96 << 20
)

// TestOfflineBundleOfTinyFrames: a bundle of a million tiny frames (35 MB),
// carried to CHN, is refused at frame 65,537 naming the limit, by the real
// command on the station it opens itself and through the API of a running
// hotline run; neither process's peak resident memory (rusage, VmHWM)
// passes its bound, and CHN holds nothing of it.
func TestOfflineBundleOfTinyFrames(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	root := t.TempDir()
	usa, err := NewNode(ctx, root, binary, "USA", "USA")
	if err != nil {
		t.Fatal(err)
	}
	chn, err := NewNode(ctx, root, binary, "CHN", "CHN")
	if err != nil {
		t.Fatal(err)
	}
	card, err := os.ReadFile(filepath.Join(usa.Dir, "card"))
	if err != nil {
		t.Fatal(err)
	}
	if err := chn.Offline(ctx, func(o ops.Ops) error {
		_, err := o.AddPeer(ctx, card, usa.Fingerprint)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "tiny.bundle")
	tinyBundle(t, path, 1_000_000)
	want := "more than 65536 frames, the limit (refused at frame 65537)"
	importTiny := func(how string) {
		t.Helper()
		cmd := exec.CommandContext(ctx, binary, "bundle", "import", "--dir", chn.Dir, path)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("%s: %v\n%s; want a refusal naming %q", how, err, out, want)
		}
		rss := uint64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) << 10
		t.Logf("%s: the command's peak resident memory %.1f MiB", how, float64(rss)/(1<<20))
		if rss > cliRSSBound {
			t.Errorf("%s: the command reached %.1f MiB resident, bound %d MiB", how, float64(rss)/(1<<20), cliRSSBound>>20)
		}
	}
	importTiny("CHN not running")

	if err := chn.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer chn.Stop(syscall.SIGTERM)
	importTiny("through hotline run's API")
	rss := vmHWM(t, chn.PID())
	t.Logf("hotline run's peak resident memory %.1f MiB", float64(rss)/(1<<20))
	if rss > stationRSSBound {
		t.Errorf("hotline run reached %.1f MiB resident, bound %d MiB", float64(rss)/(1<<20), stationRSSBound>>20)
	}
	in, err := chn.Client().Inbox(ctx, "")
	if err != nil || len(in) != 0 {
		t.Errorf("CHN inbox after the refused bundle: %d messages, %v", len(in), err)
	}
}
