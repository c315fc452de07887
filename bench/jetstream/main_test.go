package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// TestJSONTinyRun runs the whole measurement with tiny counts and checks that
// the JSON report carries positive numbers, so the baseline cannot silently
// break.
func TestJSONTinyRun(t *testing.T) {
	parent := t.TempDir()
	var out, errOut bytes.Buffer
	args := []string{"--json", "--size", "64", "--warmup", "2", "--latency", "20",
		"--messages", "20", "--window", "8", "--sync-messages", "20",
		"--store-dir", parent, "--timeout", "30s"}
	if err := run(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("run: %v (stderr %q)", err, errOut.String())
	}
	if n := strings.Count(strings.TrimSpace(out.String()), "\n"); n != 0 {
		t.Fatalf("want one JSON line, got %d extra lines: %q", n, out.String())
	}

	var r struct {
		Tool         string `json:"tool"`
		Size         int    `json:"size"`
		ManyInFlight struct {
			Window   int     `json:"window"`
			P50      float64 `json:"p50_ms"`
			P99      float64 `json:"p99_ms"`
			MsgsPerS float64 `json:"msgs_per_s"`
			N        int     `json:"n"`
		} `json:"many_in_flight"`
		SyncPublishMsgsPerS float64 `json:"sync_publish_msgs_per_s"`
		ServerSyncAlways    bool    `json:"server_sync_always"`
	}
	// one_in_flight is decoded into a map to check its exact key names.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(out.Bytes(), &raw); err != nil {
		t.Fatalf("decode: %v\n%s", err, out.String())
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("decode: %v", err)
	}
	var one map[string]float64
	if err := json.Unmarshal(raw["one_in_flight"], &one); err != nil {
		t.Fatalf("decode one_in_flight: %v", err)
	}

	if !strings.HasPrefix(r.Tool, "nats-server 2.") || !strings.Contains(r.Tool, "sync always") {
		t.Errorf("tool = %q", r.Tool)
	}
	if r.Size != 64 {
		t.Errorf("size = %d, want 64", r.Size)
	}
	if !r.ServerSyncAlways {
		t.Errorf("server_sync_always = false")
	}
	for _, k := range []string{"p50_ms", "p99_ms", "mean_ms"} {
		if one[k] <= 0 {
			t.Errorf("one_in_flight.%s = %v, want > 0", k, one[k])
		}
	}
	if one["n"] != 20 {
		t.Errorf("one_in_flight.n = %v, want 20", one["n"])
	}
	if one["p99_ms"] < one["p50_ms"] {
		t.Errorf("one_in_flight p99 %v < p50 %v", one["p99_ms"], one["p50_ms"])
	}
	m := r.ManyInFlight
	if m.Window != 8 || m.N != 20 {
		t.Errorf("many_in_flight window=%d n=%d, want 8 and 20", m.Window, m.N)
	}
	if m.P50 <= 0 || m.P99 <= 0 || m.MsgsPerS <= 0 || m.P99 < m.P50 {
		t.Errorf("many_in_flight = %+v, want positive numbers and p99 >= p50", m)
	}
	if r.SyncPublishMsgsPerS <= 0 {
		t.Errorf("sync_publish_msgs_per_s = %v, want > 0", r.SyncPublishMsgsPerS)
	}

	// The temp store dir made inside --store-dir is gone again.
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("store dir not cleaned: %v", entries)
	}
}

func TestTableOutput(t *testing.T) {
	var out, errOut bytes.Buffer
	args := []string{"--warmup", "1", "--latency", "3", "--messages", "5", "--sync-messages", "3",
		"--store-dir", t.TempDir()}
	if err := run(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, want := range []string{"SyncAlways=true", "one in flight", "many in flight", "sync Publish"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--size", "0"}, {"--messages", "0"}, {"--window", "0"}, {"extra"}, {"--nope"}} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), args, &out, &errOut); err == nil {
			t.Errorf("run(%v) succeeded, want error", args)
		}
	}
}

func TestPercentile(t *testing.T) {
	ds := make([]time.Duration, 100)
	for i := range ds {
		ds[len(ds)-1-i] = time.Duration(i+1) * time.Millisecond
	}
	if got := percentile(ds, 0.50); got != 50*time.Millisecond {
		t.Errorf("p50 = %v", got)
	}
	if got := percentile(ds, 0.99); got != 99*time.Millisecond {
		t.Errorf("p99 = %v", got)
	}
	if got := percentile(ds[:1], 0.99); got != 100*time.Millisecond {
		t.Errorf("p99 of one = %v", got)
	}
	if got := mean([]time.Duration{1, 2, 3}); got != 2 {
		t.Errorf("mean = %v", got)
	}
}
