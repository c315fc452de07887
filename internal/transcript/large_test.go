package transcript_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"hotline/internal/transcript"
	"hotline/internal/transcript/transcripttest"
)

// TestLargeBundleVerifies: the bundles the benchmark verifies are
// valid, streamed or read whole, with their limits as made.
func TestLargeBundleVerifies(t *testing.T) {
	l, err := transcripttest.NewLarge(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "large.json")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	const n = 10002 // two key epochs in each log
	if err := l.Write(f, n, dir); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	f, err = os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	c, err := transcript.CheckSeeker(f, transcript.Options{})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	r := c.Report
	if r.Logs[0].Entries != n || r.Logs[0].Receipted != n-1 || r.Logs[1].Receipted != n || r.Logs[0].HeldByOther != n-1 || r.Logs[1].HeldByOther != n {
		t.Errorf("report %+v", r.Logs)
	}
	if len(r.Logs[0].Limits) != 1 || len(r.Logs[1].Limits) != 0 {
		t.Errorf("limits %q, %q: want the exporter's last entry only", r.Logs[0].Limits, r.Logs[1].Limits)
	}
	f, err = os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := transcript.ReadBundle(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := transcript.Verify(b); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkVerifyLarge verifies a bundle of 2 × 500,000 entries as
// hotline verify does (CheckSeeker), and reports the peak of the Go heap:
// with signatures checked in batches, and, as the baseline, one by one.
// The bundle is made once, before the timer (about a minute a core).
//
//	go test -run '^$' -bench VerifyLarge -benchtime 1x ./internal/transcript
//
// HOTLINE_BENCH_ENTRIES sets the entries a log (default 500,000);
// HOTLINE_BENCH_OUT keeps the bundle in that file.
func BenchmarkVerifyLarge(b *testing.B) {
	n := 500_000
	if s := os.Getenv("HOTLINE_BENCH_ENTRIES"); s != "" {
		if _, err := fmt.Sscan(s, &n); err != nil {
			b.Fatal(err)
		}
	}
	l, err := transcripttest.NewLarge(time.Now())
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	file := filepath.Join(dir, "large.json")
	if out := os.Getenv("HOTLINE_BENCH_OUT"); out != "" {
		file = out // kept, for hotline verify to be timed on it
	}
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	if err := l.Write(f, n, dir); err != nil {
		b.Fatal(err)
	}
	f.Close()
	st, _ := os.Stat(file)
	for _, mode := range []struct {
		name  string
		batch bool
	}{{"one-by-one", false}, {"batch", true}} {
		b.Run(mode.name, func(b *testing.B) {
			transcript.SetBatchSignatures(mode.batch)
			defer transcript.SetBatchSignatures(true)
			for b.Loop() {
				runtime.GC()
				peak := heapPeak()
				f, err := os.Open(file)
				if err != nil {
					b.Fatal(err)
				}
				c, err := transcript.CheckSeeker(f, transcript.Options{})
				f.Close()
				p := peak()
				if err != nil {
					b.Fatal(err)
				}
				if c.Report.Logs[1].Entries != n {
					b.Fatal("wrong size")
				}
				b.ReportMetric(float64(p)/1e6, "MB-heap-peak")
				b.ReportMetric(float64(st.Size())/1e6, "MB-file")
			}
			b.ReportMetric(float64(2*n), "entries")
		})
	}
}

// heapPeak samples the heap in use every 10 ms until the function it
// returns is called, which returns the highest sample.
func heapPeak() func() uint64 {
	done := make(chan uint64)
	stop := make(chan struct{})
	go func() {
		var peak uint64
		var ms runtime.MemStats
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				done <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(stop); return <-done }
}

// TestBatchFindsTheBadSignature: signatures are checked in batches; one
// bad signature among thousands is found and named, streamed or not.
func TestBatchFindsTheBadSignature(t *testing.T) {
	l, err := transcripttest.NewLarge(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := l.Write(&buf, 3000, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	b, err := transcript.ReadBundle(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []int{1499, 2998} { // USA/1500, and the last receipted one
		e := b.Logs[0].Entries[at]
		e[len(e)-7] ^= 0x10 // in the signature
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("usa-chn-large/USA/%d: envelope signature does not verify", at+1)
		if _, err := transcript.Check(b, transcript.Options{}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("in memory: %v, want %q", err, want)
		}
		if _, err := transcript.CheckStream(bytes.NewReader(data), transcript.Options{}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("streamed: %v, want %q", err, want)
		}
		e[len(e)-7] ^= 0x10
	}
}
