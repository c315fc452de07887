package demo

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"hotline/internal/api"
	"hotline/internal/ops"
)

var (
	failoverCuts  = flag.Int("failover.cuts", 20, "cuts of the direct path in BenchmarkFailover, per kind")
	catchupN      = flag.Int("catchup.n", 100000, "backlog of BenchmarkCatchUp")
	idleChannels  = flag.Int("idle.channels", 1000, "channels of BenchmarkIdleChannels")
	idleFor       = flag.Duration("idle.for", time.Minute, "how long BenchmarkIdleChannels measures")
	benchStations = flag.String("bench.keep", "", "keep the benchmark's stations in this folder")
)

// delivered watches a station's events and tells when an entry of its own
// log is receipted.
type delivered struct {
	mu    sync.Mutex
	upTo  map[string]uint64 // channel → highest receipted index
	waits []chan struct{}
}

func watchDelivered(ctx context.Context, c *api.Client) *delivered {
	d := &delivered{upTo: map[string]uint64{}}
	go c.Events(ctx, func(ev api.Event) {
		if ev.What != "delivered" {
			return
		}
		// Entry is CHANNEL/AUTHOR/FIRST-LAST.
		i := strings.LastIndexByte(ev.Entry, '-')
		last, err := strconv.ParseUint(ev.Entry[i+1:], 10, 64)
		if i < 0 || err != nil {
			return
		}
		d.mu.Lock()
		d.upTo[ev.Channel] = max(d.upTo[ev.Channel], last)
		for _, w := range d.waits {
			close(w)
		}
		d.waits = nil
		d.mu.Unlock()
	})
	return d
}

func (d *delivered) wait(ctx context.Context, ch string, idx uint64) error {
	for {
		d.mu.Lock()
		if d.upTo[ch] >= idx {
			d.mu.Unlock()
			return nil
		}
		w := make(chan struct{})
		d.waits = append(d.waits, w)
		d.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkFailover measures the time from the loss of the active (direct)
// path to the receipt of a message sent at that moment, over the relay:
// when the direct path is cut (its connections close) and when it goes
// silent (bytes vanish; only the path probes can tell). It reports the
// median and the maximum of -failover.cuts cuts of each kind.
//
//	go test ./internal/demo -run '^$' -bench Failover -benchtime 1x
func BenchmarkFailover(b *testing.B) {
	for range b.N {
		ctx, cancel := context.WithTimeout(b.Context(), 20*time.Minute)
		p, _, proxies := relayPair(b, ctx)
		usa := p.A.Client()
		d := watchDelivered(ctx, usa)
		// Baseline from the same run: send to receipt with nothing cut.
		var base []time.Duration
		for range *failoverCuts {
			t0 := time.Now()
			m, err := usa.Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "FLASH", Text: "failover probe"})
			if err != nil {
				b.Fatal(err)
			}
			if err := d.wait(ctx, "ops", m.Index); err != nil {
				b.Fatal(err)
			}
			base = append(base, time.Since(t0))
		}
		b.ReportMetric(float64(median(base).Microseconds())/1000, "ms-median-healthy")
		for _, kind := range []string{"cut", "silent"} {
			var times []time.Duration
			for range *failoverCuts {
				waitPaths(b, ctx, usa, "direct active, relay up", func(ps map[string]ops.PathView, _ string) bool {
					return ps["direct"].Active && ps["relay"].Up
				})
				t0 := time.Now()
				if kind == "cut" {
					proxies["CHN"].Cut()
				} else {
					proxies["CHN"].Blackhole()
				}
				m, err := usa.Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "FLASH", Text: "failover probe"})
				if err != nil {
					b.Fatal(err)
				}
				if err := d.wait(ctx, "ops", m.Index); err != nil {
					b.Fatalf("%s: %v", m.ID, err)
				}
				times = append(times, time.Since(t0))
				proxies["CHN"].Heal()
			}
			b.ReportMetric(float64(median(times).Microseconds())/1000, "ms-median-"+kind)
			b.ReportMetric(float64(slices.Max(times).Microseconds())/1000, "ms-max-"+kind)
		}
		cancel()
	}
}

// BenchmarkCatchUp measures how long a backlog takes to reach the peer
// once a partition heals: CHN is down while USA writes -catchup.n
// messages; then CHN starts and the clock runs until USA holds the
// receipt of the last one.
//
//	go test ./internal/demo -run '^$' -bench CatchUp -benchtime 1x -timeout 30m
func BenchmarkCatchUp(b *testing.B) {
	for range b.N {
		ctx, cancel := context.WithTimeout(b.Context(), 30*time.Minute)
		root := b.TempDir()
		if *benchStations != "" {
			root = *benchStations
		}
		p, err := NewPair(ctx, root, binary, map[string]string{"ops": "staff"})
		if err != nil {
			b.Fatal(err)
		}
		p.Stop()
		// The backlog, written at USA while CHN is away (in-process, to
		// write it quickly; the station is the same).
		var last uint64
		written := time.Now()
		if err := p.A.Offline(ctx, func(o ops.Ops) (err error) {
			last, err = writeBacklog(ctx, o, "ops", "backlog", *catchupN/64*64)
			return err
		}); err != nil {
			b.Fatal(err)
		}
		b.Logf("backlog of %d written in %s", last-1, time.Since(written).Round(time.Millisecond))
		if err := p.A.Start(ctx); err != nil {
			b.Fatal(err)
		}
		usa := p.A.Client()
		d := watchDelivered(ctx, usa)
		b.ResetTimer()
		t0 := time.Now()
		if err := p.B.Start(ctx); err != nil {
			b.Fatal(err)
		}
		if err := d.wait(ctx, "ops", last); err != nil {
			b.Fatal(err)
		}
		el := time.Since(t0)
		b.StopTimer()
		b.ReportMetric(el.Seconds(), "s-catch-up")
		b.ReportMetric(float64(last-1)/el.Seconds(), "msgs/s")
		p.Stop()
		cancel()
	}
}

// procStat reads a process's CPU time (user+system) and resident memory.
func procStat(pid int) (cpu time.Duration, rss int64, err error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	cpu = time.Duration(ut+st) * time.Second / 100 // USER_HZ
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			rss = kb << 10
		}
	}
	return cpu, rss, nil
}

// BenchmarkIdleChannels measures what idle channels cost: two stations
// with -idle.channels agreed channels, each with link tests every 10s,
// nothing else sent; CPU (share of one core) and resident memory of each
// station over -idle.for.
//
//	go test ./internal/demo -run '^$' -bench IdleChannels -benchtime 1x -timeout 30m
func BenchmarkIdleChannels(b *testing.B) {
	for range b.N {
		ctx, cancel := context.WithTimeout(b.Context(), 30*time.Minute)
		p, err := NewPair(ctx, b.TempDir(), binary, map[string]string{"ch-0000": "staff"})
		if err != nil {
			b.Fatal(err)
		}
		usa, chn := p.A.Client(), p.B.Client()
		// What the stations hold with one channel, once settled: the
		// baseline of the memory each further channel adds.
		if err := WaitFor(ctx, usa, time.Minute, func() (bool, error) {
			cs, err := usa.Channels(ctx)
			return len(cs) == 1 && cs[0].State == "active", err
		}); err != nil {
			b.Fatal(err)
		}
		time.Sleep(15 * time.Second)
		var rss1 [2]int64
		for i, n := range []*Node{p.A, p.B} {
			_, rss1[i], _ = procStat(n.PID())
		}
		for i := 1; i < *idleChannels; i++ {
			if _, err := usa.Propose(ctx, ops.ProposeRequest{Peer: "CHN", Channel: fmt.Sprintf("ch-%04d", i), Level: "staff"}); err != nil {
				b.Fatal(err)
			}
		}
		if err := WaitFor(ctx, chn, 5*time.Minute, func() (bool, error) {
			cs, err := chn.Channels(ctx)
			return len(cs) == *idleChannels, err
		}); err != nil {
			b.Fatal(err)
		}
		for i := 1; i < *idleChannels; i++ {
			if _, err := chn.Accept(ctx, fmt.Sprintf("ch-%04d", i)); err != nil {
				b.Fatal(err)
			}
		}
		if err := WaitFor(ctx, usa, 5*time.Minute, func() (bool, error) {
			cs, err := usa.Channels(ctx)
			n := 0
			for _, c := range cs {
				if c.State == "active" {
					n++
				}
			}
			return n == *idleChannels, err
		}); err != nil {
			b.Fatal(err)
		}
		// Let the agreements' writes and the first link tests settle.
		time.Sleep(15 * time.Second)
		var cpu0 [2]time.Duration
		for i, n := range []*Node{p.A, p.B} {
			cpu0[i], _, _ = procStat(n.PID())
		}
		b.ResetTimer()
		time.Sleep(*idleFor)
		b.StopTimer()
		for i, n := range []*Node{p.A, p.B} {
			cpu, rss, err := procStat(n.PID())
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(100*float64(cpu-cpu0[i])/float64(*idleFor), "%cpu-"+n.Name)
			b.ReportMetric(float64(rss)/(1<<20), "MiB-"+n.Name)
			b.ReportMetric(float64(rss-rss1[i])/float64(*idleChannels-1)/(1<<10), "KiB/channel-"+n.Name)
		}
		st, err := usa.Status(ctx)
		if err != nil {
			b.Fatal(err)
		}
		answered := 0
		for _, c := range st.Channels {
			for _, pv := range c.Paths {
				if pv.Name == "direct" && pv.Up {
					answered++
				}
			}
		}
		b.Logf("%d channels, %d with the direct path up", len(st.Channels), answered)
		p.Stop()
		p.A.Stop(syscall.SIGTERM)
		cancel()
	}
}

// writeBacklog sends n ROUTINE texts on channel ch of o from 64 writers
// at once (a station's own disk and crypto as fast as they go) and
// returns the highest index written.
func writeBacklog(ctx context.Context, o ops.Ops, ch, what string, n int) (uint64, error) {
	var mu sync.Mutex
	var last uint64
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 64 {
		per := n / 64
		if w < n%64 {
			per++
		}
		wg.Go(func() {
			for i := range per {
				m, err := o.Send(ctx, ops.SendRequest{Channel: ch, Precedence: "ROUTINE", Text: fmt.Sprintf("%s %d/%d: position, course and speed of the units in the area", what, w, i)})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				last = max(last, m.Index)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	return last, <-errs
}
