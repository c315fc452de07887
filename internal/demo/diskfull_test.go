package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"hotline/internal/api"
	"hotline/internal/ops"
	"hotline/internal/station"
	"hotline/internal/stationdir"
)

// TestDiskFills: station USA runs on a filesystem of its own (a 96 MiB
// tmpfs, mounted by the test as root) that something else fills. With
// less free than the station's reserve (stationdir.MinFree), USA refuses
// new sends with a clear error (507 from the API, a non-zero exit from
// the CLI) saying what it needs, says so on /readyz, in hotline doctor and
// in an alarm, and keeps taking CHN's messages from its reserve. When the
// space returns it sends again. Nothing accepted is lost or duplicated.
func TestDiskFills(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes on a filesystem that fills up")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs for the station's store")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	root := t.TempDir()
	disk := filepath.Join(root, "usa")
	if err := os.Mkdir(disk, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=96m,mode=0700", "tmpfs", disk).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	// Registered before the stations', so it runs after they stop.
	t.Cleanup(func() { exec.Command("umount", "-l", disk).Run() })
	const ch = "ops"
	p, err := NewPair(ctx, root, binary, map[string]string{ch: "staff"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	usa, chn := p.A, p.B
	sent := map[*Node][]string{}
	send := func(n *Node, text string) error {
		m, err := n.Client().Send(ctx, ops.SendRequest{Channel: ch, Precedence: "ROUTINE", Text: text})
		if err == nil {
			sent[n] = append(sent[n], m.ID)
		}
		return err
	}
	for i := range 5 {
		for _, n := range []*Node{usa, chn} {
			if err := send(n, fmt.Sprintf("%s before %d", n.Name, i)); err != nil {
				t.Fatal(err)
			}
		}
	}

	// Something else fills the filesystem to half the reserve.
	var fs unix.Statfs_t
	if err := unix.Statfs(disk, &fs); err != nil {
		t.Fatal(err)
	}
	fill := int64(fs.Bavail*uint64(fs.Bsize)) - int64(stationdir.MinFree/2)
	filler := filepath.Join(disk, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for written := int64(0); written < fill; written += int64(len(chunk)) {
		if _, err := f.Write(chunk[:min(int64(len(chunk)), fill-written)]); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()

	// A send is refused, saying why and what to do.
	err = send(usa, "refused for want of space")
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusInsufficientStorage || !strings.Contains(ae.Message, "disk full") || !strings.Contains(ae.Message, "free space") {
		t.Fatalf("send on a full disk: %v; want 507 saying the disk is full and to free space", err)
	}
	out, err := exec.CommandContext(ctx, binary, "send", "--dir", usa.Dir, "--channel", ch, "--precedence", "FLASH", "--text", "refused too").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "disk full") {
		t.Errorf("hotline send on a full disk: %v\n%s; want it refused naming the disk", err, out)
	}
	// /readyz, doctor and an alarm say so.
	resp, err := usa.Client().HTTP.Get(usa.Client().Base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var h station.Health
	json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	diskFailed := false
	for _, c := range h.Checks {
		diskFailed = diskFailed || c.Name == "disk" && !c.OK
	}
	if resp.StatusCode != http.StatusServiceUnavailable || !diskFailed {
		t.Errorf("/readyz on a full disk: %d %+v; want 503 with the disk check failing", resp.StatusCode, h)
	}
	out, _ = exec.CommandContext(ctx, binary, "doctor", "--dir", usa.Dir).CombinedOutput()
	if !strings.Contains(string(out), "disk") || !strings.Contains(string(out), "refuses sends") {
		t.Errorf("hotline doctor on a full disk does not say so:\n%s", out)
	}
	as, err := usa.Client().Alerts(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	alarm := false
	for _, a := range as {
		alarm = alarm || a.Level == "alarm" && strings.Contains(a.Text, "requests refused") && strings.Contains(a.Text, "free space")
	}
	st, err := usa.Client().Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !alarm || st.Refused["disk full"] < 2 {
		t.Errorf("alarm raised: %v, refusals counted %d; want an alarm and both refusals counted", alarm, st.Refused["disk full"])
	}
	// CHN's messages are still taken, from the reserve.
	for i := range 5 {
		if err := send(chn, fmt.Sprintf("CHN while USA's disk is full %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	waitDelivered(t, ctx, chn, ch)

	// The space returns: USA sends again, everything is delivered once.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := send(usa, fmt.Sprintf("USA after %d", i)); err != nil {
			t.Fatalf("send once there is room again: %v", err)
		}
	}
	for _, n := range []*Node{usa, chn} {
		waitDelivered(t, ctx, n, ch)
	}
	for _, pair := range [][2]*Node{{usa, chn}, {chn, usa}} {
		in, err := pair[1].Client().Inbox(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range in {
			if m.Kind == "text" && m.From == pair[0].Name {
				got = append(got, m.ID)
			}
		}
		if strings.Join(got, " ") != strings.Join(sent[pair[0]], " ") {
			t.Errorf("%s sent %v\n%s holds %v", pair[0].Name, sent[pair[0]], pair[1].Name, got)
		}
	}
	resp, err = usa.Client().HTTP.Get(usa.Client().Base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz once there is room: %d", resp.StatusCode)
	}
}

// waitDelivered waits until nothing in n's outbox on ch is queued.
func waitDelivered(t *testing.T, ctx context.Context, n *Node, ch string) {
	t.Helper()
	if err := WaitFor(ctx, n.Client(), 2*time.Minute, func() (bool, error) {
		out, err := n.Client().Outbox(ctx, ch)
		for _, m := range out {
			if m.Status == "queued" {
				return false, err
			}
		}
		return err == nil, err
	}); err != nil {
		t.Fatalf("%s: not everything delivered: %v", n.Name, err)
	}
}
