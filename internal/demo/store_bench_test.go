package demo

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// BenchmarkStoreEngines runs hotline bench's measurement twice in one
// run on the same machine: both stations on SQLite (the baseline), then
// both on PostgreSQL (each its own database on one throwaway server on
// loopback, started as pgtest does, fsync on). Reported per engine:
// send-to-receipt p50 and p99 with one message in flight and with 16 and
// 256 in flight, and messages per second.
//
//	go test ./internal/demo -run '^$' -bench StoreEngines -benchtime 1x -timeout 30m -v
func BenchmarkStoreEngines(b *testing.B) {
	srv := postgresServer(b)
	o := BenchOptions{Messages: 2000, LatencyMessages: 300, Size: 256}
	for b.Loop() {
		var table strings.Builder
		fmt.Fprintf(&table, "%-10s %-14s %8s %8s %8s\n", "store", "run", "p50 ms", "p99 ms", "msgs/s")
		for _, engine := range []string{"sqlite", "postgres"} {
			ctx := b.Context()
			po := PairOptions{}
			if engine == "postgres" {
				dsns := map[string]string{"USA": srv.FreshDB(b), "CHN": srv.FreshDB(b)}
				po.Store = func(name string) string { return dsns[name] }
			}
			start := time.Now()
			p, err := NewPairWith(ctx, b.TempDir(), binary, map[string]string{"bench": "staff"}, po)
			if err != nil {
				b.Fatalf("%s: %v", engine, err)
			}
			res := &BenchResult{Size: o.Size}
			send, closeSend, err := newSender(ctx, p.A.Client(), SendStream)
			if err == nil {
				_, err = measure(ctx, p, "bench", send, o, res)
				closeSend()
			}
			p.Stop()
			if err != nil {
				b.Fatalf("%s: %v", engine, err)
			}
			b.Logf("%s: pair and runs took %s", engine, time.Since(start).Round(time.Second))
			fmt.Fprintf(&table, "%-10s %-14s %8.3f %8.3f %8s\n", engine, "1 in flight", res.OneInFlight.P50ms, res.OneInFlight.P99ms, "-")
			b.ReportMetric(res.OneInFlight.P50ms, engine+"-1-p50-ms")
			b.ReportMetric(res.OneInFlight.P99ms, engine+"-1-p99-ms")
			for _, m := range res.Many {
				fmt.Fprintf(&table, "%-10s %-14s %8.3f %8.3f %8.0f\n", engine, fmt.Sprintf("%d in flight", m.InFlight), m.Latency.P50ms, m.Latency.P99ms, m.MsgsPerSec)
				b.ReportMetric(m.Latency.P50ms, fmt.Sprintf("%s-%d-p50-ms", engine, m.InFlight))
				b.ReportMetric(m.Latency.P99ms, fmt.Sprintf("%s-%d-p99-ms", engine, m.InFlight))
				b.ReportMetric(m.MsgsPerSec, fmt.Sprintf("%s-%d-msgs/s", engine, m.InFlight))
			}
		}
		b.Logf("send → cosigned receipt, 256-byte FLASH messages, USA → CHN:\n%s", table.String())
	}
}
