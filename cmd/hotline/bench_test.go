package main

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"hotline/internal/demo"
	"hotline/internal/linkemu"
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

// TestBenchLinkReports: hotline bench --link, run short on the lan
// profile, prints as its last line the JSON docs/BENCHMARKS.md ("Real
// links") reads, with every figure measured; bad flags are refused,
// naming what is wrong.
func TestBenchLinkReports(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two stations in network namespaces")
	}
	if err := linkemu.Available(); err != nil {
		t.Skip(err)
	}
	out := mustRun(t, "bench", "--link", "lan", "--json", "--latency", "5", "--flash", "2", "--backlog", "50", "--idle", "2s")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var r demo.LinkResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		t.Fatalf("bench --link --json, last line: %v\n%s", err, out)
	}
	if r.Link.Profile != "lan" || r.Link.FloorMs <= 0 || r.Link.MTU != 1500 {
		t.Errorf("link: %+v", r.Link)
	}
	if r.OneInFlight.N != 5 || r.OneInFlight.P50ms <= 0 || r.OneInFlight.P99ms < r.OneInFlight.P50ms {
		t.Errorf("one in flight: %+v; want 5 measured", r.OneInFlight)
	}
	if r.FlashUnderLoad.N != 2 || r.FlashOtherChannel.N != 2 || r.FlashBacklog <= 0 {
		t.Errorf("FLASH under load: %+v, other channel %+v, behind %d", r.FlashUnderLoad, r.FlashOtherChannel, r.FlashBacklog)
	}
	if w := r.WireBytes; w.Payload != 256 || w.OneInFlight <= 256 || w.Bulk <= 256 {
		t.Errorf("wire bytes per message: %+v; want more than the payload on the wire", w)
	}
	if b := r.Backlog; b.Messages != 50 || b.Seconds <= 0 || b.ReconnectS <= 0 || b.ReconnectS > b.Seconds || b.OutageS < 10 {
		t.Errorf("backlog: %+v", b)
	}
	if r.IdleBytesPerS <= 0 || r.Counters[0].Packets == 0 || r.Counters[1].Packets == 0 || r.Counters[0].OutageDrops == 0 {
		t.Errorf("idle %.0f bytes/s, counters %+v", r.IdleBytesPerS, r.Counters)
	}
	for _, c := range []struct {
		args  []string
		wants []string
	}{
		{[]string{"bench", "--link", "dialup"}, []string{`unknown link profile "dialup"`, "narrowband"}},
		{[]string{"bench", "--link", "lan", "--soak", "1m"}, []string{"--soak is not used with --link"}},
		{[]string{"bench", "--flash", "3"}, []string{"--flash is used only with --link"}},
		{[]string{"bench", "--link", "lan", "--backlog", "-1"}, []string{"--backlog"}},
		{[]string{"bench", "--link", "lan", "--idle", "0s"}, []string{"--idle positive"}},
	} {
		checkFailed(t, c.args, hotline(t, c.args...), c.wants...)
	}
}
