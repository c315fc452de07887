package demo

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"hotline/internal/api"
	"hotline/internal/ops"
)

var (
	waitingN    = flag.String("waiting.n", "100000,1000000", "BenchmarkWaitingMessages: the numbers of waiting messages measured at, in order")
	waitingRest = flag.Duration("waiting.settle", 20*time.Second, "BenchmarkWaitingMessages: how long the stations settle before each measure")
)

// vm reads a process's resident memory (VmRSS) and its peak (VmHWM), in
// KiB.
func vm(pid int) (rss, hwm int64, err error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, l := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	return rss, hwm, nil
}

// BenchmarkWaitingMessages measures the memory of two stations (hotline
// run processes) holding messages nobody acknowledges: USA writes them
// (ROUTINE, in-process while both are stopped, 64 writers, to write them
// quickly), CHN receives and receipts them, and nobody acknowledges any.
// At 0 and at each number of -waiting.n it reads each station's VmRSS
// and VmHWM once the messages are in (both started, USA holding CHN's
// receipt of the last, settled for -waiting.settle), and again after
// both are restarted (the peak then is what loading them back cost).
// ROUTINE's first step falls due an hour after writing, so no ladder
// step is taken during the run.
//
//	go test ./internal/demo -run '^$' -bench WaitingMessages -benchtime 1x -timeout 3h
func BenchmarkWaitingMessages(b *testing.B) {
	var targets []int
	for _, f := range strings.Split(*waitingN, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			b.Fatalf("-waiting.n: %v", err)
		}
		targets = append(targets, n)
	}
	for range b.N {
		ctx, cancel := context.WithTimeout(b.Context(), 3*time.Hour)
		root := b.TempDir()
		if *benchStations != "" {
			root = *benchStations
		}
		p, err := NewPair(ctx, root, binary, map[string]string{"ops": "staff"})
		if err != nil {
			b.Fatal(err)
		}
		settled := func(want int) error {
			for _, c := range []*api.Client{p.A.Client(), p.B.Client()} {
				if err := WaitFor(ctx, c, 5*time.Minute, func() (bool, error) {
					cs, err := c.Channels(ctx)
					if err != nil || len(cs) != 1 {
						return false, err
					}
					v := cs[0]
					return v.State == "active" && v.AwaitingPeer+v.AwaitingHere >= want, nil
				}); err != nil {
					return fmt.Errorf("%d waiting: %w", want, err)
				}
			}
			time.Sleep(*waitingRest)
			return nil
		}
		report := func(when string, n int) {
			for _, node := range []*Node{p.A, p.B} {
				rss, hwm, err := vm(node.PID())
				if err != nil {
					b.Fatal(err)
				}
				// Printed, not logged: a benchmark's log is cut short.
				fmt.Printf("%-4s %9d waiting  %-9s VmRSS %7.1f MiB  VmHWM %7.1f MiB\n", node.Name, n, when, float64(rss)/1024, float64(hwm)/1024)
				if n == targets[len(targets)-1] {
					b.ReportMetric(float64(rss)/1024, "MiB-"+when+"-"+node.Name)
					b.ReportMetric(float64(hwm)/1024, "MiB-peak-"+when+"-"+node.Name)
				}
			}
		}
		// start starts both stations, giving each as long as loading its
		// store takes.
		start := func() {
			for _, node := range []*Node{p.A, p.B} {
				if err := node.Launch(); err != nil {
					b.Fatal(err)
				}
				if err := node.WaitAPI(ctx, 15*time.Minute); err != nil {
					b.Fatal(err)
				}
			}
		}
		restart := func(n int) {
			p.Stop()
			start()
			if err := settled(n); err != nil {
				b.Fatal(err)
			}
			report("restarted", n)
		}
		if err := settled(0); err != nil {
			b.Fatal(err)
		}
		report("running", 0)
		restart(0)
		written := 0
		for _, n := range targets {
			p.Stop()
			var last uint64
			t0 := time.Now()
			if err := p.A.Offline(ctx, func(o ops.Ops) (err error) {
				last, err = writeBacklog(ctx, o, "ops", "waiting", n-written)
				return err
			}); err != nil {
				b.Fatal(err)
			}
			fmt.Printf("%d messages written in %s\n", n-written, time.Since(t0).Round(time.Second))
			written = n
			t0 = time.Now()
			start()
			usa := p.A.Client()
			if err := WaitFor(ctx, usa, time.Hour, func() (bool, error) {
				cs, err := usa.Channels(ctx)
				return err == nil && len(cs) == 1 && cs[0].Delivered >= last, err
			}); err != nil {
				b.Fatal(err)
			}
			fmt.Printf("%d messages delivered in %s\n", n, time.Since(t0).Round(time.Second))
			if err := settled(n); err != nil {
				b.Fatal(err)
			}
			report("running", n)
			restart(n)
		}
		p.Stop()
		cancel()
	}
}
