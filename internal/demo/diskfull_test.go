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
// tmpfs, mounted by the test as root) that something else fills. The
// station's reserve (stationdir.MinFree, 64 MiB) is kept for its own
// voice. Under it, USA still sends and acknowledges, from the reserve,
// while CHN's messages wait: not taken, counted, with an alarm at USA,
// and CHN told. Under the reserve's last quarter (16 MiB), USA refuses
// its own sends too, with a clear error (507 from the API, a non-zero
// exit from the CLI) saying what it needs. /readyz, hotline doctor and
// the alarms say which level was reached. When the space returns,
// everything that waited arrives. Nothing accepted is lost or duplicated.
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
	waitDelivered(t, ctx, chn, ch)

	// Something else fills the filesystem to half the reserve: USA still
	// sends and acknowledges, from the reserve, and CHN's messages wait.
	fill(t, filepath.Join(disk, "filler"), stationdir.MinFree/2)
	for i := range 3 {
		if err := send(usa, fmt.Sprintf("USA under the reserve %d", i)); err != nil {
			t.Fatalf("USA's send under the reserve: %v", err)
		}
	}
	ack := sent[chn][0]
	if _, err := usa.Client().Ack(ctx, ack, "Lt. Smith"); err != nil {
		t.Fatalf("USA's acknowledgement under the reserve: %v", err)
	}
	waitDelivered(t, ctx, usa, ch)
	for i := range 3 {
		if err := send(chn, fmt.Sprintf("CHN while USA is under its reserve %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := WaitFor(ctx, chn.Client(), time.Minute, func() (bool, error) {
		as, err := chn.Client().Alerts(ctx, 0)
		for _, a := range as {
			if strings.Contains(a.Text, "USA reports: entries wait: the disk here is under its reserve") {
				return true, nil
			}
		}
		return false, err
	}); err != nil {
		t.Errorf("CHN's operators not told that its messages wait at USA: %v", err)
	}
	if alarms(t, ctx, usa, "disk full", "entries from CHN wait", "under the 64.0 MiB reserve") == 0 || refused(t, ctx, usa) == 0 {
		t.Errorf("USA's alarm that CHN's entries wait, and their count: none")
	}
	if got := received(t, ctx, usa, chn.Name); len(got) != 5 {
		t.Errorf("USA took CHN's messages under its reserve: it holds %d, want the 5 from before", len(got))
	}
	if code, detail := readyz(t, usa); code != http.StatusServiceUnavailable || !strings.Contains(detail, "peers' entries wait") || !strings.Contains(detail, "own requests go on down to 16.0 MiB") {
		t.Errorf("/readyz under the reserve: %d, disk: %q; want 503 saying peers' entries wait", code, detail)
	}
	out, _ := exec.CommandContext(ctx, binary, "doctor", "--dir", usa.Dir).CombinedOutput()
	if !strings.Contains(string(out), "disk") || !strings.Contains(string(out), "lets peers' entries wait") {
		t.Errorf("hotline doctor under the reserve does not say so:\n%s", out)
	}

	// Fuller still, under the reserve's last quarter: USA's own sends are
	// refused too, saying why and what to do.
	fill(t, filepath.Join(disk, "filler2"), stationdir.OwnFloor()/2)
	before := refused(t, ctx, usa)
	err = send(usa, "refused for want of space")
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusInsufficientStorage || !strings.Contains(ae.Message, "disk full") || !strings.Contains(ae.Message, "free space") {
		t.Fatalf("send on a full disk: %v; want 507 saying the disk is full and to free space", err)
	}
	out, err = exec.CommandContext(ctx, binary, "send", "--dir", usa.Dir, "--channel", ch, "--precedence", "FLASH", "--text", "refused too").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "disk full") {
		t.Errorf("hotline send on a full disk: %v\n%s; want it refused naming the disk", err, out)
	}
	if code, detail := readyz(t, usa); code != http.StatusServiceUnavailable || !strings.Contains(detail, "own requests are refused") {
		t.Errorf("/readyz under the reserve's last quarter: %d, disk: %q; want 503 saying requests are refused", code, detail)
	}
	out, _ = exec.CommandContext(ctx, binary, "doctor", "--dir", usa.Dir).CombinedOutput()
	if !strings.Contains(string(out), "disk") || !strings.Contains(string(out), "refuses its own sends") {
		t.Errorf("hotline doctor on a full disk does not say so:\n%s", out)
	}
	if alarms(t, ctx, usa, "requests refused", "free space") == 0 || refused(t, ctx, usa) < before+2 {
		t.Errorf("alarm raised: %d, refusals counted %d more; want an alarm and both refusals counted", alarms(t, ctx, usa, "requests refused", "free space"), refused(t, ctx, usa)-before)
	}

	// The space returns: what waited arrives, USA sends again, everything
	// is delivered once, in order.
	for _, f := range []string{"filler", "filler2"} {
		if err := os.Remove(filepath.Join(disk, f)); err != nil {
			t.Fatal(err)
		}
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
		if got := received(t, ctx, pair[1], pair[0].Name); strings.Join(got, " ") != strings.Join(sent[pair[0]], " ") {
			t.Errorf("%s sent %v\n%s holds %v", pair[0].Name, sent[pair[0]], pair[1].Name, got)
		}
	}
	outbox, err := chn.Client().Outbox(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range outbox {
		if m.ID == ack && m.Status != "acknowledged" {
			t.Errorf("CHN's message USA acknowledged under its reserve: %s", m.Status)
		}
	}
	if code, detail := readyz(t, usa); code != http.StatusOK {
		t.Errorf("/readyz once there is room: %d, disk: %q", code, detail)
	}
}

// fill writes a file of zeros at path until free bytes are left on its
// filesystem.
func fill(t *testing.T, path string, free uint64) {
	t.Helper()
	var fs unix.Statfs_t
	if err := unix.Statfs(filepath.Dir(path), &fs); err != nil {
		t.Fatal(err)
	}
	n := int64(fs.Bavail*uint64(fs.Bsize)) - int64(free)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for written := int64(0); written < n; written += int64(len(chunk)) {
		if _, err := f.Write(chunk[:min(int64(len(chunk)), n-written)]); err != nil {
			t.Fatal(err)
		}
	}
}

// readyz asks n's /readyz with the API token, so that it says why a
// check failed, and returns the status and the disk check's detail.
func readyz(t *testing.T, n *Node) (int, string) {
	t.Helper()
	c := n.Client()
	req, err := http.NewRequest("GET", c.Base+"/readyz", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h station.Health
	json.NewDecoder(resp.Body).Decode(&h)
	for _, c := range h.Checks {
		if c.Name == "disk" {
			return resp.StatusCode, c.Detail
		}
	}
	return resp.StatusCode, ""
}

// alarms counts n's alarms whose text holds every one of subs.
func alarms(t *testing.T, ctx context.Context, n *Node, subs ...string) int {
	t.Helper()
	as, err := n.Client().Alerts(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, a := range as {
		ok := a.Level == "alarm"
		for _, s := range subs {
			ok = ok && strings.Contains(a.Text, s)
		}
		if ok {
			count++
		}
	}
	return count
}

// refused is n's count of refusals for want of space.
func refused(t *testing.T, ctx context.Context, n *Node) int {
	t.Helper()
	st, err := n.Client().Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st.Refused["disk full"]
}

// received lists the ids of from's text messages in n's inbox, in order.
func received(t *testing.T, ctx context.Context, n *Node, from string) []string {
	t.Helper()
	in, err := n.Client().Inbox(ctx, "ops")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range in {
		if m.Kind == "text" && m.From == from {
			got = append(got, m.ID)
		}
	}
	return got
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
