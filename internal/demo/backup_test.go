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
