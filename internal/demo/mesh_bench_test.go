package demo

import (
	"flag"
	"fmt"
	"slices"
	"testing"
	"time"

	"hotline/internal/ops"
)

var (
	meshParties = flag.Int("mesh.parties", 57, "stations of BenchmarkBroadcast, in a full mesh")
	meshIdle    = flag.Duration("mesh.idle", 30*time.Second, "how long BenchmarkBroadcast measures the mesh idle")
)

// BenchmarkBroadcast runs -mesh.parties stations as processes in a full
// mesh (one channel per pair), measures each station's CPU (share of one
// core) and resident memory idle over -mesh.idle, then has the first send
// a FLASH text to all the others in one act, b.N times: the time until
// the act returns (every copy durable) and until every party's receipt is
// back, and each station's CPU and memory over the broadcasts. The mesh
// is set up once (b.Loop).
func BenchmarkBroadcast(b *testing.B) {
	ctx := b.Context()
	names := make([]string, *meshParties)
	for i := range names {
		names[i] = fmt.Sprintf("P%02d", i+1)
	}
	t0 := time.Now()
	m, err := NewMesh(ctx, b.TempDir(), binary, names, "staff", 10*time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Stop()
	b.Logf("%d stations, %d channels agreed in %s", len(names), len(names)*(len(names)-1)/2, time.Since(t0).Round(time.Second))
	usa := m.Nodes[0]
	// Let the probes and link tests settle before measuring idle.
	time.Sleep(10 * time.Second)
	idle := meshUsage(b, m, *meshIdle, func() {})

	// send is one act to the parties to, timed until it returns and until
	// every receipt is back.
	send := func(i int, to string, want int) (written, receipted time.Duration) {
		t0 := time.Now()
		v, err := usa.Client().Broadcast(ctx, ops.BroadcastRequest{To: []string{to}, Precedence: "FLASH",
			Text: fmt.Sprintf("Broadcast %d: hold position and report.", i)})
		if err != nil {
			b.Fatal(err)
		}
		written = time.Since(t0)
		if v.Sent != want {
			b.Fatalf("broadcast %d sent to %d of %d parties: %+v", i, v.Sent, want, v)
		}
		if err := WaitFor(ctx, usa.Client(), 5*time.Minute, func() (bool, error) {
			v, err := usa.Client().BroadcastShow(ctx, v.ID)
			return err == nil && v.Delivered == v.Sent, err
		}); err != nil {
			b.Fatal(err)
		}
		return written, time.Since(t0)
	}
	// The baseline: the same act to one party, in the same mesh.
	var one []time.Duration
	for i := range 5 {
		_, r := send(i, names[1], 1)
		one = append(one, r)
	}
	slices.Sort(one)
	var written, receipted []time.Duration
	busy := meshUsage(b, m, 0, func() {
		for i := 0; b.Loop(); i++ {
			w, r := send(i, ops.AllParties, len(names)-1)
			written, receipted = append(written, w), append(receipted, r)
		}
	})
	b.StopTimer()
	slices.Sort(written)
	slices.Sort(receipted)
	b.ReportMetric(ms(one[len(one)/2]), "ms-one-party-receipt-p50")
	b.ReportMetric(ms(written[len(written)/2]), "ms-written-p50")
	b.ReportMetric(ms(receipted[len(receipted)/2]), "ms-all-receipts-p50")
	b.ReportMetric(ms(receipted[len(receipted)-1]), "ms-all-receipts-max")
	b.ReportMetric(idle.meanCPU*100, "%core-idle-mean")
	b.ReportMetric(idle.maxCPU*100, "%core-idle-max")
	b.ReportMetric(float64(idle.meanRSS)/(1<<20), "MiB-idle-mean")
	b.ReportMetric(float64(idle.maxRSS)/(1<<20), "MiB-idle-max")
	b.ReportMetric(busy.maxCPU*100, "%core-broadcasting-max")
	b.ReportMetric(float64(busy.maxRSS)/(1<<20), "MiB-broadcasting-max")
	b.Logf("idle: CPU mean %.2f%%, max %.2f%% (%s) of a core; RSS mean %.1f MiB, max %.1f MiB (%s)",
		idle.meanCPU*100, idle.maxCPU*100, idle.maxCPUAt, float64(idle.meanRSS)/(1<<20), float64(idle.maxRSS)/(1<<20), idle.maxRSSAt)
	b.Logf("broadcasting: the sender %.1f%% of a core, the busiest %.1f%% (%s); RSS max %.1f MiB",
		busy.cpu[usa.Name]*100, busy.maxCPU*100, busy.maxCPUAt, float64(busy.maxRSS)/(1<<20))
}

// usage is what the stations of a mesh used over a time: CPU as a share
// of one core, resident memory at its end.
type usage struct {
	cpu             map[string]float64
	meanCPU, maxCPU float64
	maxCPUAt        string
	meanRSS, maxRSS int64
	maxRSSAt        string
}

// meshUsage measures each station's CPU over f (and then over wait).
func meshUsage(b *testing.B, m *Mesh, wait time.Duration, f func()) usage {
	before := map[string]time.Duration{}
	for _, n := range m.Nodes {
		cpu, _, err := procStat(n.PID())
		if err != nil {
			b.Fatal(err)
		}
		before[n.Name] = cpu
	}
	t0 := time.Now()
	f()
	time.Sleep(wait)
	el := time.Since(t0)
	u := usage{cpu: map[string]float64{}}
	for _, n := range m.Nodes {
		cpu, rss, err := procStat(n.PID())
		if err != nil {
			b.Fatal(err)
		}
		share := float64(cpu-before[n.Name]) / float64(el)
		u.cpu[n.Name] = share
		u.meanCPU += share / float64(len(m.Nodes))
		u.meanRSS += rss / int64(len(m.Nodes))
		if share > u.maxCPU {
			u.maxCPU, u.maxCPUAt = share, n.Name
		}
		if rss > u.maxRSS {
			u.maxRSS, u.maxRSSAt = rss, n.Name
		}
	}
	return u
}
