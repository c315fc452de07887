package demo

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"hotline/internal/envelope"
	"hotline/internal/ops"
	"hotline/internal/transcript"
)

// TestStoredTamperDetected flips one byte of a stored entry on a station's
// own disk: its export no longer verifies, and the error names the entry.
func TestStoredTamperDetected(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	p, err := NewPair(ctx, t.TempDir(), binary, map[string]string{"ops": "staff"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	m, err := p.A.Client().Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "FLASH", Text: "hold position"})
	if err != nil {
		t.Fatal(err)
	}
	if err := waitStatus(ctx, p.A.Client(), m.ID, "delivered"); err != nil {
		t.Fatal(err)
	}
	if err := p.B.Stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(p.B.Dir, "hotline.db"))
	if err != nil {
		t.Fatal(err)
	}
	var raw []byte
	if err := db.QueryRow(`SELECT raw FROM entries WHERE channel = 'ops' AND author = 'USA' AND idx = ?`, m.Index).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	raw[len(raw)-100] ^= 0x01 // inside the ciphertext
	if _, err := db.Exec(`UPDATE entries SET raw = ? WHERE channel = 'ops' AND author = 'USA' AND idx = ?`, raw, m.Index); err != nil {
		t.Fatal(err)
	}
	db.Close()

	var b *transcript.Bundle
	if err := p.B.Offline(ctx, func(o ops.Ops) error {
		var err error
		b, err = o.Export(ctx, "ops")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	_, err = transcript.Verify(b)
	if !errors.Is(err, transcript.ErrBundle) || !errors.Is(err, envelope.ErrSignature) {
		t.Fatalf("Verify of a tampered store's export = %v, want a signature failure", err)
	}
	if !strings.Contains(err.Error(), m.ID) {
		t.Errorf("error %q does not name the tampered entry %s", err, m.ID)
	}
}
