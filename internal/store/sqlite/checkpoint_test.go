package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"hotline/internal/envelope"
	"hotline/internal/store"
)

// TestCheckpointer: commits never run a checkpoint themselves (the WAL
// grows past SQLite's 1,000-page default untouched by them); the
// checkpointer copies it back into the database file after writes; Close
// leaves no WAL behind; and everything reads back after reopening.
func TestCheckpointer(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var mode int
	if err := s.DB().QueryRow(`PRAGMA wal_autocheckpoint`).Scan(&mode); err != nil || mode != 0 {
		t.Fatalf("wal_autocheckpoint = %d, %v; want 0 (checkpoints are the checkpointer's)", mode, err)
	}
	if err := s.Apply(ctx, &store.Batch{
		Peers:    []store.Peer{{Name: "B", Party: "B", Card: []byte("card"), Fingerprint: "fp"}},
		Channels: []store.Channel{{ID: "c", Peer: "B", Level: "staff", State: store.Active, Proposer: "A", Charter: []byte("charter")}},
	}); err != nil {
		t.Fatal(err)
	}
	before := s.Checkpoints()
	raw := make([]byte, 3000)
	const n = 2000
	for i := uint64(1); i <= n; i++ {
		copy(raw, fmt.Sprint(i))
		if err := s.Apply(ctx, &store.Batch{Entries: []store.Entry{{Channel: "c", Author: "A", Index: i, Kind: envelope.Text,
			Precedence: envelope.Routine, Raw: raw, Body: raw[:100], Root: raw[:32]}}}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for s.Checkpoints() == before {
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint after 2,000 writes")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() < n*3000 {
		t.Errorf("database file after a checkpoint: %v bytes, %v; want the entries copied in", fi.Size(), err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		t.Errorf("WAL after Close: %d bytes", fi.Size())
	}
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	es, err := s.Entries(ctx, "c", "A", 1, n)
	if err != nil || len(es) != n {
		t.Fatalf("%d entries after reopening, %v", len(es), err)
	}
}
