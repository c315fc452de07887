package relay_test

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkDepositReceive measures deposit → delivery through a relay on
// loopback: one station deposits 1 KiB payloads for another that is
// connected, with 1 or 64 deposits in flight; the receiver deletes what it
// has received every 256 mails, as a station would. It reports msgs/s
// (first deposit to last delivery) and the latency of each payload from
// Deposit being called to its arrival (p50, p99). Every deposit is
// durable (fsync) before the relay streams it. The floor, measured in the
// same run on the relay's disk, is one 1 KiB write and fsync (p50 of 200).
//
//	go test -run XXX -bench DepositReceive -benchtime 5000x ./internal/relay/
func BenchmarkDepositReceive(b *testing.B) {
	for _, inflight := range []int{1, 64} {
		b.Run(fmt.Sprintf("inflight=%d", inflight), func(b *testing.B) { benchDepositReceive(b, inflight, 1024) })
	}
}

func benchDepositReceive(b *testing.B, inflight, size int) {
	r := newRelay(b, nil)
	usa, chn := newStation(b, "USA"), newStation(b, "CHN")
	r.allow(usa, chn)
	floor := fsyncFloor(b, r.dir, size)
	r.Start()
	ctx := b.Context()
	a, c := r.dial(usa), r.dial(chn)

	// The receiver records each payload's latency; deletes go through
	// their own goroutine so that Mail is always drained.
	var mu sync.Mutex
	var lat []time.Duration
	var received atomic.Int64
	deletes := make(chan uint64, 1)
	go func() {
		for id := range deletes {
			if err := c.Delete(ctx, id); err != nil {
				return
			}
		}
	}()
	go func() {
		defer close(deletes)
		n := 0
		for m := range c.Mail() {
			sent := time.Unix(0, int64(binary.BigEndian.Uint64(m.Payload)))
			mu.Lock()
			lat = append(lat, time.Since(sent))
			mu.Unlock()
			n++
			if n%256 == 0 {
				select {
				case deletes <- m.ID:
				default:
				}
			}
			received.Store(int64(n))
		}
	}()

	sem := make(chan struct{}, inflight)
	var wg sync.WaitGroup
	n := 0
	start := time.Now()
	for b.Loop() {
		sem <- struct{}{}
		p := make([]byte, size)
		binary.BigEndian.PutUint64(p, uint64(time.Now().UnixNano()))
		wg.Go(func() {
			defer func() { <-sem }()
			if err := a.Deposit(ctx, chn.key(), p); err != nil {
				b.Error(err)
			}
		})
		n++
	}
	wg.Wait()
	for deadline := time.Now().Add(30 * time.Second); received.Load() < int64(n); time.Sleep(100 * time.Microsecond) {
		if time.Now().After(deadline) {
			b.Fatalf("received %d of %d", received.Load(), n)
		}
	}
	elapsed := time.Since(start)
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	b.ReportMetric(float64(n)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(lat[len(lat)/2])/1e6, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100])/1e6, "p99-ms")
	b.ReportMetric(float64(floor)/1e6, "fsync-p50-ms")
}

// fsyncFloor is the p50 of 200 writes of size bytes, each followed by
// fsync, in dir.
func fsyncFloor(b *testing.B, dir string, size int) time.Duration {
	f, err := os.Create(filepath.Join(dir, "floor"))
	if err != nil {
		b.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	p := make([]byte, size)
	var ds []time.Duration
	for range 200 {
		start := time.Now()
		if _, err := f.Write(p); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}
