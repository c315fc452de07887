package main

import (
	"encoding/json"
	"math"
	"testing"

	"hotline/internal/demo"
)

// TestBenchReports: hotline bench, run short, measures what
// docs/BENCHMARKS.md reports: the floor and its parts, the fsync after an
// idle disk beside it, one message in flight and the runs with many.
func TestBenchReports(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two stations")
	}
	out := mustRun(t, "bench", "--json", "--latency", "20", "--messages", "64", "--warmup", "5")
	var r demo.BenchResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("bench --json: %v\n%s", err, out)
	}
	f := r.Floor
	if f.FsyncMs <= 0 || f.FsyncIdleMs <= 0 || f.CryptoMs <= 0 || f.EpochCryptoMs <= 0 {
		t.Errorf("floor parts not all measured: %+v", f)
	}
	if math.Abs(f.TotalMs-(f.CryptoMs+2*f.FsyncMs)) > 1e-9 || math.Abs(f.EpochTotalMs-(f.EpochCryptoMs+2*f.FsyncMs)) > 1e-9 {
		t.Errorf("floor is not the crypto and one fsync on each side: %+v", f)
	}
	if o := r.OneInFlight; o.N != 20 || o.P50ms <= 0 || o.P99ms < o.P50ms {
		t.Errorf("one in flight: %+v; want 20 messages measured", o)
	}
	inFlight := map[int]bool{}
	for _, m := range r.Many {
		inFlight[m.InFlight] = true
		if m.Latency.N != 64 || m.MsgsPerSec <= 0 {
			t.Errorf("%d in flight: %+v; want 64 messages and a rate", m.InFlight, m)
		}
	}
	if !inFlight[16] || !inFlight[256] {
		t.Errorf("runs with many in flight: %v; want 16 and 256", inFlight)
	}
}
