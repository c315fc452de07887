package demo

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"hotline/internal/api"
	"hotline/internal/ops"
	"hotline/internal/station"
	"hotline/internal/stationdir"
)

// TestBackupWhileRunning backs up a running station, goes on sending, and
// restores the backup into a new directory: the restored station holds
// exactly what the original held at the backup, under the same identity.
func TestBackupWhileRunning(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	root := t.TempDir()
	p, err := NewPair(ctx, root, binary, map[string]string{"ops": "staff"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	usa := p.A.Client()
	var ids []string
	for _, text := range []string{"one", "two", "three"} {
		m, err := usa.Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "ROUTINE", Text: text})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	if err := waitStatus(ctx, usa, ids[2], "delivered"); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(root, "usa.backup")
	if err := stationdir.Backup(ctx, p.A.Dir, file); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, mode %v; want 0600 (it holds keys)", err, fi.Mode())
	}
	if _, err := usa.Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "ROUTINE", Text: "after the backup"}); err != nil {
		t.Fatal(err)
	}

	restored := filepath.Join(root, "restored")
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := stationdir.Restore(ctx, restored, f); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"signing.key", "kem.key"} {
		if fi, err := os.Stat(filepath.Join(restored, "keys", k)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("restored %s: %v %v", k, err, fi)
		}
	}
	st, err := station.Open(ctx, restored, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.OwnCard.Fingerprint() != p.A.Fingerprint {
		t.Errorf("restored fingerprint %s, want %s", st.OwnCard.Fingerprint(), p.A.Fingerprint)
	}
	out, err := st.Outbox(ctx, "ops")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range out {
		got = append(got, m.ID)
	}
	if strings.Join(got, " ") != strings.Join(ids, " ") {
		t.Errorf("restored outbox %v, want %v (what was there at the backup)", got, ids)
	}
}

// TestRestoreRefuses: bad backups and occupied directories change nothing.
func TestRestoreRefuses(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	n, err := NewNode(ctx, root, binary, "USA", "USA")
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(root, "good.backup")
	if err := stationdir.Backup(ctx, n.Dir, good); err != nil {
		t.Fatal(err)
	}
	goodBytes, _ := os.ReadFile(good)
	evil := func(name string) []byte {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: 1, Typeflag: tar.TypeReg})
		tw.Write([]byte("x"))
		tw.Close()
		return b.Bytes()
	}
	tests := []struct {
		name string
		dir  string
		data []byte
		want string
	}{
		{"garbage", filepath.Join(root, "a"), []byte("not a backup"), "reading backup"},
		{"path outside the station", filepath.Join(root, "b"), evil("../escape"), "not part of a station"},
		{"truncated", filepath.Join(root, "c"), goodBytes[:len(goodBytes)/2], "backup"},
		{"into a station", n.Dir, goodBytes, "not empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := os.ReadDir(tt.dir)
			err := stationdir.Restore(ctx, tt.dir, bytes.NewReader(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Restore = %v, want an error mentioning %q", err, tt.want)
			}
			after, _ := os.ReadDir(tt.dir)
			if len(after) != len(before) {
				t.Errorf("%s had %d entries, now %d", tt.dir, len(before), len(after))
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(tt.dir), "escape")); err == nil {
				t.Error("a file was written outside the station directory")
			}
		})
	}
}

// TestRestoredStationRecovers: a station restored from an old backup,
// started as a real process, refuses to send until its peer has said what
// it holds; the peer holds messages the backup lacks, so the station
// fetches them back (checked against its own signature) and then sends at
// the next free index. The peer receives every message once; both
// transcripts verify.
func TestRestoredStationRecovers(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	root := t.TempDir()
	p, err := NewPair(ctx, root, binary, map[string]string{"ops": "staff"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	send := func(text string) *ops.MessageView {
		t.Helper()
		m, err := p.A.Client().Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "ROUTINE", Text: text})
		if err != nil {
			t.Fatal(err)
		}
		if err := waitStatus(ctx, p.A.Client(), m.ID, "delivered"); err != nil {
			t.Fatal(err)
		}
		return m
	}
	send("one")
	file := filepath.Join(root, "usa.backup")
	if err := stationdir.Backup(ctx, p.A.Dir, file); err != nil {
		t.Fatal(err)
	}
	var last *ops.MessageView
	for _, text := range []string{"two", "three", "four"} {
		last = send(text)
	}
	// USA's disk is lost. Its directory is restored from the backup.
	if err := p.A.Stop(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(p.A.Dir)
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	err = stationdir.Restore(ctx, p.A.Dir, f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(p.A.Dir, stationdir.RestoredFile)); err != nil {
		t.Fatalf("no restored marker: %v", err)
	}
	// Offline (no peer to ask), a restored station sends nothing.
	err = p.A.Offline(ctx, func(o ops.Ops) error {
		_, err := o.Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "FLASH", Text: "too early"})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "restored from a backup") {
		t.Fatalf("send before the peer spoke: %v", err)
	}
	if err := p.A.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c := p.A.Client()
	var m *ops.MessageView
	if err := WaitFor(ctx, c, 30*time.Second, func() (bool, error) {
		var err error
		m, err = c.Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "FLASH", Text: "after the restore"})
		return err == nil, nil
	}); err != nil {
		t.Fatalf("never allowed to send after the restore: %v", err)
	}
	if m.Index != last.Index+1 {
		t.Fatalf("first message after the restore at %d, want %d", m.Index, last.Index+1)
	}
	if err := waitStatus(ctx, c, m.ID, "delivered"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(p.A.Dir, stationdir.RestoredFile)); err == nil {
		t.Error("the restored marker is still there")
	}
	in, err := p.B.Client().Inbox(ctx, "ops")
	if err != nil {
		t.Fatal(err)
	}
	if len(in) != 5 || in[4].Text != "after the restore" {
		t.Fatalf("CHN inbox: %d messages (want 5)", len(in))
	}
	out, err := c.Outbox(ctx, "ops")
	if err != nil || len(out) != 5 || !strings.Contains(out[2].Text, "recovered") {
		t.Fatalf("USA outbox after the restore: %+v %v", out, err)
	}
	verifyBoth(t, ctx, p)
}

// TestRestoreTrafficBothWays is issue 20's scenario with real processes:
// CHN is backed up; then traffic both ways (CHN sends, USA acknowledges;
// USA sends, CHN acknowledges; USA sends again); CHN's disk is lost and
// restored from the backup. Traffic moves both ways again, everything USA
// held comes back to CHN (its own entries, USA's entries and the
// acknowledgement of CHN's message, which CHN's outbox shows), and both
// operators are told: USA that CHN lost entries it had receipted, CHN
// what it recovered, that it asked for USA's log again, and that the
// acknowledgement it wrote after the backup came back sealed (with the
// commands that resolve it).
func TestRestoreTrafficBothWays(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	root := t.TempDir()
	p, err := NewPair(ctx, root, binary, map[string]string{"ops": "staff"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	usa, chn := p.A.Client(), p.B.Client()
	send := func(c *api.Client, text, want string) *ops.MessageView {
		t.Helper()
		m, err := c.Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "FLASH", Text: text})
		if err != nil {
			t.Fatal(err)
		}
		if err := waitStatus(ctx, c, m.ID, want); err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		return m
	}
	ack := func(c *api.Client, id string) {
		t.Helper()
		if _, err := c.Ack(ctx, id, "duty officer"); err != nil {
			t.Fatal(err)
		}
	}
	before := send(chn, "CHN before the backup", "delivered")
	ack(usa, before.ID)
	send(usa, "USA before the backup", "delivered")

	file := filepath.Join(root, "chn.backup")
	if err := stationdir.Backup(ctx, p.B.Dir, file); err != nil {
		t.Fatal(err)
	}
	m1 := send(chn, "CHN after the backup", "delivered")
	ack(usa, m1.ID)
	if err := waitStatus(ctx, chn, m1.ID, "acknowledged"); err != nil {
		t.Fatal(err)
	}
	m2 := send(usa, "USA after the backup, acknowledged", "delivered")
	ack(chn, m2.ID)
	if err := waitStatus(ctx, usa, m2.ID, "acknowledged"); err != nil {
		t.Fatal(err)
	}
	m3 := send(usa, "USA after the backup, not acknowledged", "delivered")

	// CHN's disk is lost; its directory is restored from the backup.
	if err := p.B.Stop(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(p.B.Dir)
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	err = stationdir.Restore(ctx, p.B.Dir, f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	// USA goes on sending while CHN is away.
	m4, err := usa.Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "FLASH", Text: "USA while CHN is restored"})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.B.Start(ctx); err != nil {
		t.Fatal(err)
	}
	chn = p.B.Client()
	var m5 *ops.MessageView
	if err := WaitFor(ctx, chn, time.Minute, func() (bool, error) {
		var err error
		m5, err = chn.Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "FLASH", Text: "CHN after the restore"})
		return err == nil, nil
	}); err != nil {
		t.Fatalf("CHN never allowed to send after the restore: %v", err)
	}
	// CHN's log: its message after the backup and its acknowledgement of
	// m2 came back; it appends after them.
	if m5.Index != m1.Index+2 {
		t.Errorf("CHN's first message after the restore at %d, want %d", m5.Index, m1.Index+2)
	}
	for _, m := range []*ops.MessageView{m5} {
		if err := waitStatus(ctx, chn, m.ID, "delivered"); err != nil {
			t.Fatal(err)
		}
	}
	m6 := send(usa, "USA after the restore", "delivered")
	if err := waitStatus(ctx, usa, m4.ID, "delivered"); err != nil {
		t.Fatal(err)
	}
	// The acknowledgement of CHN's message came back with USA's log.
	if err := waitStatus(ctx, chn, m1.ID, "acknowledged"); err != nil {
		out, _ := chn.Outbox(ctx, "ops")
		t.Fatalf("CHN's outbox does not show %s acknowledged: %v; %+v", m1.ID, err, out)
	}
	in, err := chn.Inbox(ctx, "ops")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range in {
		got[m.ID] = m.Text
	}
	for _, m := range []*ops.MessageView{m2, m3, m4, m6} {
		if got[m.ID] == "" {
			t.Errorf("CHN's inbox lacks %s (%q): %v", m.ID, m.Text, got)
		}
	}
	for _, c := range []struct {
		name  string
		c     *api.Client
		texts []string
	}{
		{"USA", usa, []string{"CHN lost entries"}},
		{"CHN", chn, []string{"recovered 2 entries of this station's log ops", "restored from a backup: asking USA to send its log ops again",
			"1 of the entries recovered on ops are acknowledgements"}},
	} {
		for _, text := range c.texts {
			if len(alertsWith(t, ctx, c.c, text)) == 0 {
				as, _ := c.c.Alerts(ctx, 0)
				t.Errorf("%s's operators were not told %q: %+v", c.name, text, as)
			}
		}
	}
	verifyBoth(t, ctx, p)
}
