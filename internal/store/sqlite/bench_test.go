package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"hotline/internal/envelope"
	"hotline/internal/record"
)

// BenchmarkApplyOneEntry is one durable transaction holding one 1 KiB
// entry and its log update: the store's share of one message at each end.
func BenchmarkApplyOneEntry(b *testing.B) {
	benchmarkApply(b, 1)
}

// BenchmarkApplyGroup64 is one durable transaction of 64 entries, as group
// commit makes under load; the figure is per entry.
func BenchmarkApplyGroup64(b *testing.B) {
	benchmarkApply(b, 64)
}

func benchmarkApply(b *testing.B, group int) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.Apply(ctx, &record.Batch{
		Peers:    []record.Peer{{Name: "B", Party: "B", Card: []byte("card"), Fingerprint: "fp"}},
		Channels: []record.Channel{{ID: "c", Peer: "B", Level: "staff", State: record.Active, Proposer: "A", Charter: []byte("charter")}},
	}); err != nil {
		b.Fatal(err)
	}
	raw := make([]byte, 1024)
	root := make([]byte, 32)
	hashes := [][]byte{root, root, root}
	idx := uint64(0)
	b.ReportAllocs()
	for b.Loop() {
		batch := &record.Batch{}
		for range group {
			idx++
			copy(raw, fmt.Sprint(idx))
			batch.Entries = append(batch.Entries, record.Entry{Channel: "c", Author: "A", Index: idx, Kind: envelope.Text,
				Precedence: envelope.Flash, Raw: raw, Body: raw[:200], Root: root})
		}
		batch.Logs = []record.Log{{Channel: "c", Author: "A", Size: idx, Hashes: hashes}}
		if err := s.Apply(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*group), "µs/entry")
}
