// Command compare runs hotline bench and the JetStream baseline
// (bench/jetstream) alternately on the same machine and prints the median
// of each figure with its ratios to the floor and to JetStream, as
// docs/BENCHMARKS.md reports them.
//
//	go run ./bench/compare --rounds 3
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"
)

type hotlineResult struct {
	Machine string `json:"machine"`
	Floor   struct {
		FsyncMs  float64 `json:"fsync_p50_ms"`
		IdleMs   float64 `json:"fsync_idle_p50_ms"`
		GapMs    float64 `json:"fsync_idle_gap_ms"`
		CryptoMs float64 `json:"crypto_p50_ms"`
		TotalMs  float64 `json:"total_ms"`
		EpochMs  float64 `json:"epoch_total_ms"`
	} `json:"floor"`
	OneInFlight latency `json:"one_in_flight"`
	Many        []struct {
		InFlight   int     `json:"in_flight"`
		Latency    latency `json:"latency"`
		MsgsPerSec float64 `json:"msgs_per_s"`
	} `json:"many_in_flight"`
}

type latency struct {
	P50ms float64 `json:"p50_ms"`
	P99ms float64 `json:"p99_ms"`
}

type jetstreamResult struct {
	Tool        string  `json:"tool"`
	OneInFlight latency `json:"one_in_flight"`
	Many        struct {
		latency
		MsgsPerSec float64 `json:"msgs_per_s"`
	} `json:"many_in_flight"`
}

func run(dir string, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s %v: %v: %s", name, args, err, stderr.String())
	}
	return out, nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func main() {
	rounds := flag.Int("rounds", 3, "alternating rounds of each benchmark")
	size := flag.Int("size", 256, "message size in bytes")
	latency := flag.Int("latency", 1000, "messages measured one in flight, by each tool (after each one's 50 unrecorded warm-up messages); a 99th percentile wants many")
	flag.Parse()
	root, err := os.Getwd()
	if err != nil {
		fail(err)
	}
	bin := filepath.Join(os.TempDir(), fmt.Sprintf("hotline-compare-%d", os.Getpid()))
	defer os.Remove(bin)
	if _, err := run(root, "go", "build", "-o", bin, "./cmd/hotline"); err != nil {
		fail(err)
	}
	jsBin := bin + "-jetstream"
	defer os.Remove(jsBin)
	if _, err := run(filepath.Join(root, "bench", "jetstream"), "go", "build", "-o", jsBin, "."); err != nil {
		fail(err)
	}
	var (
		floor, efloor, fsync, idle, crypto, h1p50, h1p99, h256, h256p50, j1p50, j1p99, j256, j256p50 []float64
		r1p50, r1p99                                                                                 []float64 // each round's ratio to its own floor
		machine, tool                                                                                string
		gap                                                                                          float64
	)
	for r := 1; r <= *rounds; r++ {
		fmt.Fprintf(os.Stderr, "round %d of %d\n", r, *rounds)
		out, err := run(root, bin, "bench", "--json", "--size", fmt.Sprint(*size), "--latency", fmt.Sprint(*latency), "--warmup", "50")
		if err != nil {
			fail(err)
		}
		var h hotlineResult
		if err := json.Unmarshal(out, &h); err != nil {
			fail(err)
		}
		machine, gap = h.Machine, h.Floor.GapMs
		floor, fsync, crypto = append(floor, h.Floor.TotalMs), append(fsync, h.Floor.FsyncMs), append(crypto, h.Floor.CryptoMs)
		efloor, idle = append(efloor, h.Floor.EpochMs), append(idle, h.Floor.IdleMs)
		h1p50, h1p99 = append(h1p50, h.OneInFlight.P50ms), append(h1p99, h.OneInFlight.P99ms)
		r1p50, r1p99 = append(r1p50, h.OneInFlight.P50ms/h.Floor.TotalMs), append(r1p99, h.OneInFlight.P99ms/h.Floor.TotalMs)
		for _, m := range h.Many {
			if m.InFlight == 256 {
				h256, h256p50 = append(h256, m.MsgsPerSec), append(h256p50, m.Latency.P50ms)
			}
		}
		out, err = run(root, jsBin, "--json", "--size", fmt.Sprint(*size), "--latency", fmt.Sprint(*latency), "--warmup", "50")
		if err != nil {
			fail(err)
		}
		var j jetstreamResult
		if err := json.Unmarshal(out, &j); err != nil {
			fail(err)
		}
		tool = j.Tool
		j1p50, j1p99 = append(j1p50, j.OneInFlight.P50ms), append(j1p99, j.OneInFlight.P99ms)
		j256, j256p50 = append(j256, j.Many.MsgsPerSec), append(j256p50, j.Many.P50ms)
	}
	f := median(floor)
	fmt.Printf("Machine: %s. Medians of %d alternating rounds, %d-byte messages, %s.\n\n", machine, *rounds, *size, time.Now().UTC().Format("2006-01-02"))
	fmt.Printf("Floor: fsync p50 %.3f ms, crypto of one message p50 %.3f ms, floor = crypto + one fsync on each side = %.3f ms.\n", median(fsync), median(crypto), f)
	ef := median(efloor)
	fmt.Printf("Epoch floor (a message continuing a key epoch, no encapsulation): %.3f ms; one in flight p50 %.2f×, p99 %.2f× of it.\n",
		ef, median(h1p50)/ef, median(h1p99)/ef)
	fmt.Printf("An fsync after the disk rested %g ms, as one message in flight finds it (not part of the floor): p50 %.3f ms.\n", gap, median(idle))
	fmt.Printf("Baseline: %s.\n\n", tool)
	fmt.Println("| figure | Hotline | floor | ratio to floor | JetStream | ratio to JetStream |")
	fmt.Println("| --- | --- | --- | --- | --- | --- |")
	fmt.Printf("| one in flight, p50 (ms) | %.3f | %.3f | %.2f× | %.3f | %.2f× |\n", median(h1p50), f, median(h1p50)/f, median(j1p50), median(h1p50)/median(j1p50))
	fmt.Printf("| one in flight, p99 (ms) | %.3f | %.3f | %.2f× | %.3f | %.2f× |\n", median(h1p99), f, median(h1p99)/f, median(j1p99), median(h1p99)/median(j1p99))
	fmt.Printf("| 256 in flight, p50 (ms) | %.1f | | | %.1f | %.2f× |\n", median(h256p50), median(j256p50), median(h256p50)/median(j256p50))
	fmt.Printf("| 256 in flight, msgs/s | %.0f | | | %.0f | %.2f× |\n", median(h256), median(j256), median(h256)/median(j256))
	fmt.Printf("\nEach round: Hotline %v msgs/s, JetStream %v msgs/s (256 in flight).\n", rounded(h256), rounded(j256))
	fmt.Printf("Each round, one in flight, to that round's floor: p50 %v, p99 %v.\n", ratios(r1p50), ratios(r1p99))
}

func ratios(xs []float64) string {
	var b bytes.Buffer
	for i, x := range xs {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%.2f×", x)
	}
	return "[" + b.String() + "]"
}

func rounded(xs []float64) []int {
	out := make([]int, len(xs))
	for i, x := range xs {
		out[i] = int(x + 0.5)
	}
	return out
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "compare:", err)
	os.Exit(1)
}
