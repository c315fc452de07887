package media

import (
	"fmt"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"hotline/internal/media/mediatest"
	"hotline/internal/netfault"
)

// percentile is the q-th quantile of ds, sorted in place.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(q*float64(len(ds))))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// oneWay sends n packets from a to b, one at a time, and returns how long
// each took to arrive.
func oneWay(b testing.TB, from, to *mediatest.Browser, n int) []time.Duration {
	b.Helper()
	arrivals := to.Arrivals()
	var out []time.Duration
	for i := range n {
		want := fmt.Sprintf("lat-%d", i)
		sent := time.Now()
		from.Speak(want)
		timeout := time.After(5 * time.Second)
	wait:
		for {
			select {
			case a := <-arrivals:
				if a.Payload == want {
					out = append(out, a.At.Sub(sent))
					break wait
				}
			case <-timeout:
				b.Fatalf("packet %s never arrived", want)
			}
		}
	}
	return out
}

// warm has both browsers speak until each heard 10 packets (ICE, DTLS
// and SRTP up both ways).
func warm(t testing.TB, a, b *mediatest.Browser) { talkUntil(t, a, b, "warm", 10) }

// BenchmarkMediaLatency: the time from a browser's packet leaving to its
// arrival at the other browser, one packet at a time on loopback: two
// browsers connected directly (the baseline), and through two stations
// (browser → station → station → browser). The difference is the latency
// the stations add. Reported as p50 and p99 per run of b.N packets.
func BenchmarkMediaLatency(b *testing.B) {
	b.Run("browsers-direct", func(b *testing.B) {
		x, y := mediatest.New(b), mediatest.New(b)
		x.Answered(y.Answer(x.Offer()))
		warm(b, x, y)
		b.ResetTimer()
		ds := oneWay(b, x, y, b.N)
		b.ReportMetric(ms(percentile(ds, 0.5)), "p50-ms")
		b.ReportMetric(ms(percentile(ds, 0.99)), "p99-ms")
	})
	b.Run("through-stations", func(b *testing.B) {
		usa, chn := listen(b), listen(b)
		const id = "usa-chn/USA/1"
		trunk(b, usa, chn, id)
		x, y := attach(b, usa, id), attach(b, chn, id)
		warm(b, x, y)
		b.ResetTimer()
		ds := oneWay(b, x, y, b.N)
		b.ReportMetric(ms(percentile(ds, 0.5)), "p50-ms")
		b.ReportMetric(ms(percentile(ds, 0.99)), "p99-ms")
	})
}

// BenchmarkMediaFailover: b.N calls through two engines whose direct path
// is a wire, each with audio both ways at 50 packets a second; mid-call
// the wire is cut and the call goes on through a real relay. The gap is
// the longest wait between two packets from the other station at either
// engine, over the call (View.MaxGap). Reported as p50 and max per run.
func BenchmarkMediaFailover(b *testing.B) {
	tr := startRelay(b, "USA", "CHN")
	wire, err := netfault.NewWire()
	if err != nil {
		b.Fatal(err)
	}
	defer wire.Close()
	usa, err := Listen("127.0.0.1:0", Options{Log: quietLog(), Advertise: wire.AAddr(), Relays: tr.as("USA")})
	if err != nil {
		b.Fatal(err)
	}
	defer usa.Close()
	chn, err := Listen("127.0.0.1:0", Options{Log: quietLog(), Advertise: wire.BAddr(), Relays: tr.as("CHN")})
	if err != nil {
		b.Fatal(err)
	}
	defer chn.Close()
	if err := wire.Join(usa.Addr().String(), chn.Addr().String()); err != nil {
		b.Fatal(err)
	}
	var gaps []time.Duration
	for i := range b.N {
		id := fmt.Sprintf("usa-chn/USA/%d", i+1)
		wire.Heal()
		trunk(b, usa, chn, id)
		x, y := attach(b, usa, id), attach(b, chn, id)
		talkUntil(b, x, y, "direct", 10)
		wire.Cut()
		talkUntil(b, x, y, "relayed", 25)
		for _, e := range []*Engine{usa, chn} {
			v, _ := e.View(id)
			if v.Path != PathRelay {
				b.Fatalf("call %d: not on the relay after the cut: %+v", i, v)
			}
			gaps = append(gaps, v.MaxGap)
		}
		usa.End(id, "")
		waitView(b, chn, id, "the end", func(v View) bool { return v.State == Closed })
	}
	b.ReportMetric(ms(percentile(gaps, 0.5)), "gap-p50-ms")
	b.ReportMetric(ms(percentile(gaps, 1)), "gap-max-ms")
}

// cpu is the process's user and system CPU time so far.
func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// speak has every pair of browsers talk both ways at 50 packets a second
// (Opus at 20 ms) for d, and returns the process CPU time it took.
func speak(pairs [][2]*mediatest.Browser, d time.Duration) time.Duration {
	start := cpu()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	end := time.Now().Add(d)
	payload := string(make([]byte, 80)) // about a 32 kbit/s Opus frame
	for i := 0; time.Now().Before(end); i++ {
		<-tick.C
		var wg sync.WaitGroup
		for _, p := range pairs {
			wg.Go(func() { p[0].Speak(payload); p[1].Speak(payload) })
		}
		wg.Wait()
	}
	return cpu() - start
}

// BenchmarkMediaCPU: the CPU a station spends on audio calls, with 1 and
// with 10 calls at once, each carrying 50 packets a second both ways for
// 5 seconds. Browsers and stations run in one process, so the browsers'
// own CPU is measured apart (the same browsers connected directly, the
// same traffic) and taken off; what is left is shared by the two
// stations. Reported as a share of one core per call per station.
func BenchmarkMediaCPU(b *testing.B) {
	const d = 5 * time.Second
	for _, calls := range []int{1, 10} {
		b.Run(fmt.Sprintf("calls=%d", calls), func(b *testing.B) {
			var share []float64
			for range b.N {
				var direct, relayed [][2]*mediatest.Browser
				for range calls {
					x, y := mediatest.New(b), mediatest.New(b)
					x.Answered(y.Answer(x.Offer()))
					warm(b, x, y)
					direct = append(direct, [2]*mediatest.Browser{x, y})
				}
				base := speak(direct, d)
				usa, chn := listen(b), listen(b)
				for i := range calls {
					id := fmt.Sprintf("usa-chn/USA/%d", i+1)
					trunk(b, usa, chn, id)
					x, y := attach(b, usa, id), attach(b, chn, id)
					warm(b, x, y)
					relayed = append(relayed, [2]*mediatest.Browser{x, y})
				}
				through := speak(relayed, d)
				share = append(share, 100*float64(through-base)/float64(d)/2/float64(calls))
				for _, p := range append(direct, relayed...) {
					p[0].PC.Close()
					p[1].PC.Close()
				}
				usa.Close()
				chn.Close()
			}
			slices.Sort(share)
			b.ReportMetric(share[len(share)/2], "core%/call/station")
		})
	}
}
