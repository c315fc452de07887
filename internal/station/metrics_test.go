package station

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"hotline/internal/ops"
	"hotline/internal/protocol"
	"hotline/internal/stationdir"
)

// scrape reads a station's /metrics into series → value, the series
// written as in the exposition ("name{a=\"x\",b=\"y\"}").
func scrape(t *testing.T, st *Station) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	st.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// TestMetricsMove scrapes a station during a run: the counters of
// messages written, delivered and acknowledged, the latency histograms,
// the store's write latency and the path's health move as traffic flows.
func TestMetricsMove(t *testing.T) {
	ctx := t.Context()
	a, b := benchPair(t)
	before := scrape(t, a)

	notes, cancel := a.Subscribe()
	defer cancel()
	const n = 5
	var last *ops.MessageView
	for range n {
		m, err := a.Send(ctx, ops.SendRequest{Channel: "bench", Precedence: "FLASH", Text: "metrics"})
		if err != nil {
			t.Fatal(err)
		}
		last = m
	}
	waitNote(t, notes, func(no protocol.Notify) bool {
		return no.What == "delivered" && strings.HasSuffix(no.Entry, "-"+strconv.FormatUint(last.Index, 10))
	})
	if _, err := b.Ack(ctx, last.ID, "Lt. Wu"); err != nil {
		t.Fatal(err)
	}
	waitNote(t, notes, func(no protocol.Notify) bool { return no.What == "acknowledged" })
	after := scrape(t, a)
	atB := scrape(t, b)

	moved := []struct {
		series string
		want   float64 // at least this much more than before
	}{
		{`hotline_messages_total{precedence="FLASH",state="written"}`, n},
		{`hotline_messages_total{precedence="FLASH",state="delivered"}`, n},
		{`hotline_messages_total{precedence="FLASH",state="acknowledged"}`, 1},
		{`hotline_time_to_receipt_seconds_count{precedence="FLASH"}`, n},
		{`hotline_time_to_ack_seconds_count{precedence="FLASH"}`, 1},
		{`hotline_entries_total{kind="text",log="own"}`, n},
		{`hotline_store_apply_seconds_count`, 1},
		{`hotline_log_entries{state="delivered"}`, n},
	}
	for _, m := range moved {
		if got := after[m.series] - before[m.series]; got < m.want {
			t.Errorf("%s moved by %v (from %v to %v), want at least %v", m.series, got, before[m.series], after[m.series], m.want)
		}
	}
	for series, want := range map[string]float64{
		`hotline_path_up{path="direct",peer="CHN"}`:     1,
		`hotline_path_active{path="direct",peer="CHN"}`: 1,
		`hotline_channels{state="active"}`:              1,
		`hotline_loop_responsive`:                       1,
	} {
		if got, ok := after[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	if got := atB[`hotline_messages_total{precedence="FLASH",state="received"}`]; got < n {
		t.Errorf("the peer counts %v FLASH messages received, want at least %d", got, n)
	}
	if got := atB[`hotline_acknowledged_here_total`]; got != 1 {
		t.Errorf("the peer counts %v acknowledgements given, want 1", got)
	}
	if _, ok := after[`hotline_duplicates_total`]; !ok {
		t.Error("no hotline_duplicates_total")
	}
}

// TestReadyzStoreGone: a station is ready with no peers pinned, and turns
// unready (but stays live) when its database file is removed under it,
// which SQLite alone would not notice.
func TestReadyzStoreGone(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "usa")
	if _, err := stationdir.Init(ctx, stationdir.InitOptions{Dir: dir, Name: "USA", Party: "USA", PeerListen: "127.0.0.1:0", APIListen: "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	st, err := Open(ctx, dir, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := st.Health(ctx)
	if !h.Live || !h.Ready {
		t.Fatalf("fresh station: %+v, want live and ready", h)
	}
	for _, f := range []string{"hotline.db", "hotline.db-wal", "hotline.db-shm"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	h = st.Health(ctx)
	if !h.Live || h.Ready {
		t.Fatalf("database removed: %+v, want live and not ready", h)
	}
	for _, c := range h.Checks {
		if c.Name == "store" && (c.OK || !strings.Contains(c.Detail, "hotline.db")) {
			t.Errorf("store check %+v, want a failure naming hotline.db", c)
		}
	}
}

// TestLogsHoldNoSecrets runs two stations with JSON logs at debug level,
// sends and acknowledges a message with a distinctive text, and looks for
// the text and the API tokens in the logs: neither may be there. Lines
// about an entry carry its channel, peer and index.
func TestLogsHoldNoSecrets(t *testing.T) {
	ctx := t.Context()
	var logs lockedBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, b := logPair(t, log, log)
	notes, cancel := a.Subscribe()
	defer cancel()
	const secret = "ZEBRA-7 crossing grid 4471 at dawn"
	m, err := a.Send(ctx, ops.SendRequest{Channel: "bench", Precedence: "IMMEDIATE", Text: secret})
	if err != nil {
		t.Fatal(err)
	}
	waitNote(t, notes, func(no protocol.Notify) bool { return no.What == "delivered" })
	if _, err := b.Ack(ctx, m.ID, "Lt. Wu"); err != nil {
		t.Fatal(err)
	}
	waitNote(t, notes, func(no protocol.Notify) bool { return no.What == "acknowledged" })

	text := logs.String()
	if !strings.Contains(text, `"msg":"acknowledged by the peer"`) {
		t.Fatalf("no line for the acknowledgement in the logs:\n%s", text)
	}
	forbidden := map[string]string{"message text": secret, "a word of it": "ZEBRA"}
	for _, st := range []*Station{a, b} {
		tok, err := stationdir.ReadToken(st.Dir)
		if err != nil {
			t.Fatal(err)
		}
		forbidden[st.Cfg.Name+"'s API token"] = tok
	}
	for what, s := range forbidden {
		if strings.Contains(text, s) {
			t.Errorf("the logs hold %s", what)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if strings.Contains(line, `"msg":"entry stored"`) || strings.Contains(line, `"msg":"acknowledged`) {
			for _, key := range []string{`"channel":"bench"`, `"peer":`, `"index":`} {
				if !strings.Contains(line, key) {
					t.Errorf("log line without %s: %s", key, line)
				}
			}
		}
	}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
