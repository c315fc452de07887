package demo

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"hotline/internal/ops"
	"hotline/internal/protocol"
)

// laterBinary builds hotline from a copy of this module whose protocol
// version is one more than this one's: a station of a later release.
func laterBinary(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	src := filepath.Join(t.TempDir(), "src")
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(src, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(src, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	frame := filepath.Join(src, "internal", "protocol", "frame.go")
	data, err := os.ReadFile(frame)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^const Version = (\d+)$`)
	m := re.FindSubmatch(data)
	if m == nil || string(m[1]) != strconv.Itoa(protocol.Version) {
		t.Fatalf("internal/protocol/frame.go does not hold const Version = %d", protocol.Version)
	}
	data = re.ReplaceAll(data, []byte(fmt.Sprintf("const Version = %d", protocol.Version+1)))
	if err := os.WriteFile(frame, data, 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "hotline-later")
	build := exec.Command("go", "build", "-buildvcs=false", "-o", bin, "./cmd/hotline")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building a hotline of protocol version %d: %v\n%s", protocol.Version+1, err, out)
	}
	return bin
}

// TestProtocolVersionBetweenStations: two real stations as hotline run
// processes, USA of this release and CHN built with the next protocol
// version, pinned to each other, USA having proposed a channel. Each
// refuses the other's connection: each raises an alarm naming the peer
// and both versions, counts the refusal, and nothing crosses (CHN never
// receives the proposal).
func TestProtocolVersionBetweenStations(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a second hotline and runs two processes")
	}
	ctx := t.Context()
	later := laterBinary(t)
	root := t.TempDir()
	usa, err := NewNode(ctx, root, binary, "USA", "USA")
	if err != nil {
		t.Fatal(err)
	}
	chn, err := NewNode(ctx, root, later, "CHN", "CHN")
	if err != nil {
		t.Fatal(err)
	}
	for _, pin := range []struct{ self, other *Node }{{usa, chn}, {chn, usa}} {
		card, err := os.ReadFile(filepath.Join(pin.other.Dir, "card"))
		if err != nil {
			t.Fatal(err)
		}
		if err := pin.self.Offline(ctx, func(o ops.Ops) error {
			_, err := o.AddPeer(ctx, card, pin.other.Fingerprint)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := usa.Offline(ctx, func(o ops.Ops) error {
		_, err := o.Propose(ctx, ops.ProposeRequest{Peer: "CHN", Channel: "ops", Level: "staff"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*Node{usa, chn} {
		if err := n.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer n.Stop(syscall.SIGTERM)
	}
	v, w := protocol.Version, protocol.Version+1
	for _, c := range []struct {
		n            *Node
		peer         string
		theirs, ours int
	}{{usa, "CHN", w, v}, {chn, "USA", v, w}} {
		want := fmt.Sprintf("%s: protocol version %d is not compatible: %s speaks version %d", c.peer, c.theirs, c.n.Name, c.ours)
		if err := WaitFor(ctx, c.n.Client(), 60*time.Second, func() (bool, error) {
			as, err := c.n.Client().Alerts(ctx, 0)
			for _, a := range as {
				if a.Text == want && a.Level == "alarm" && a.Peer == c.peer {
					return true, err
				}
			}
			return false, err
		}); err != nil {
			t.Errorf("%s never raised the alarm %q: %v", c.n.Name, want, err)
		}
		st, err := c.n.Client().Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Refused["protocol version"] == 0 {
			t.Errorf("%s counts no refusal for the protocol version: %v", c.n.Name, st.Refused)
		}
	}
	chs, err := chn.Client().Channels(ctx)
	if err != nil || len(chs) != 0 {
		t.Errorf("CHN holds channels %+v (%v); nothing may cross between versions", chs, err)
	}
	chs, err = usa.Client().Channels(ctx)
	if err != nil || len(chs) != 1 || chs[0].State != "proposed" {
		t.Errorf("USA's channels %+v (%v); want ops, still proposed", chs, err)
	}
}
