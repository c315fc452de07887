package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"hotline/internal/envelope"
	"hotline/internal/record"
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
	if err := s.Apply(ctx, &record.Batch{
		Peers:    []record.Peer{{Name: "B", Party: "B", Card: []byte("card"), Fingerprint: "fp"}},
		Channels: []record.Channel{{ID: "c", Peer: "B", Level: "staff", State: record.Active, Proposer: "A", Charter: []byte("charter")}},
	}); err != nil {
		t.Fatal(err)
	}
	before := s.Checkpoints()
	raw := make([]byte, 3000)
	const n = 2000
	for i := uint64(1); i <= n; i++ {
		copy(raw, fmt.Sprint(i))
		if err := s.Apply(ctx, &record.Batch{Entries: []record.Entry{{Channel: "c", Author: "A", Index: i, Kind: envelope.Text,
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

// TestWALRestartsUnderSteadyWrites: while writes never stop (each PASSIVE
// checkpoint is overtaken by them) the WAL is still restarted from its
// beginning (SQLite reports each RESTART checkpoint complete), so that it
// stays bounded and its blocks are overwritten rather than the file
// extended; short reads go on throughout, as the console's do; every
// entry reads back; and the pooled connections keep their busy timeout.
// Without the restarts, 10 s of such writes gave none.
func TestWALRestartsUnderSteadyWrites(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "r.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Apply(ctx, &record.Batch{
		Peers:    []record.Peer{{Name: "B", Party: "B", Card: []byte("card"), Fingerprint: "fp"}},
		Channels: []record.Channel{{ID: "c", Peer: "B", Level: "staff", State: record.Active, Proposer: "A", Charter: []byte("charter")}},
	}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	readerDone := make(chan error, 1)
	go func() { // short reads, back to back, as the console and API make
		for {
			select {
			case <-stop:
				readerDone <- nil
				return
			default:
			}
			if _, err := s.Entries(ctx, "c", "A", 1, 1); err != nil {
				readerDone <- err
				return
			}
		}
	}()
	raw := make([]byte, 3000)
	var i uint64
	deadline := time.Now().Add(2 * time.Minute)
	for s.Restarts() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the WAL did not restart 3 times in %d steady writes (%d checkpoints)", i, s.Checkpoints())
		}
		i++
		copy(raw, fmt.Sprint(i))
		if err := s.Apply(ctx, &record.Batch{Entries: []record.Entry{{Channel: "c", Author: "A", Index: i, Kind: envelope.Text,
			Precedence: envelope.Routine, Raw: raw, Body: raw[:100], Root: raw[:32]}}}); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	if err := <-readerDone; err != nil {
		t.Fatal(err)
	}
	es, err := s.Entries(ctx, "c", "A", 1, i)
	if err != nil || uint64(len(es)) != i {
		t.Fatalf("%d of %d entries read back, %v", len(es), i, err)
	}
	var busy int
	if err := s.DB().QueryRow(`PRAGMA busy_timeout`).Scan(&busy); err != nil || busy != 10000 {
		t.Errorf("busy_timeout of a pooled connection after restarts = %d, %v; want 10000", busy, err)
	}
}
