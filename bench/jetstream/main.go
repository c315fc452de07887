// Command jsbench is the baseline that Hotline's own benchmark is compared
// against: NATS JetStream, embedded in-process, with a file-storage stream
// whose every write is fsynced (the nats-server `sync_interval: always`
// setting), driven by the official Go client over TCP loopback.
//
// It measures the publish→ack latency with one message in flight, the
// latency and throughput with a window of many messages in flight
// (PublishAsync), and the throughput of a single synchronous publisher.
//
// Run: cd bench/jetstream && go run . --json
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const (
	streamName = "HOTLINE_BASELINE"
	subject    = "baseline.msgs"
	// syncSetting names the server option used, and its config-file form.
	syncSetting = "server.Options.SyncAlways=true (config file: jetstream { sync_interval: always })"
)

// config holds the command-line settings.
type config struct {
	size         int
	latencyN     int
	warmup       int
	messages     int
	window       int
	syncMessages int
	storeDir     string
	timeout      time.Duration
	jsonOut      bool
}

// latencyStats is the one-in-flight result.
type latencyStats struct {
	P50ms  float64 `json:"p50_ms"`
	P99ms  float64 `json:"p99_ms"`
	MeanMs float64 `json:"mean_ms"`
	N      int     `json:"n"`
}

// windowStats is the many-in-flight result.
type windowStats struct {
	Window    int     `json:"window"`
	P50ms     float64 `json:"p50_ms"`
	P99ms     float64 `json:"p99_ms"`
	MeanMs    float64 `json:"mean_ms"`
	MsgsPerS  float64 `json:"msgs_per_s"`
	N         int     `json:"n"`
	WallMs    float64 `json:"wall_ms"`
	LatencyOf string  `json:"latency_of"`
}

// result is the whole report; its JSON form is what --json prints.
type result struct {
	Tool                 string       `json:"tool"`
	Size                 int          `json:"size"`
	OneInFlight          latencyStats `json:"one_in_flight"`
	ManyInFlight         windowStats  `json:"many_in_flight"`
	SyncPublishMsgsPerS  float64      `json:"sync_publish_msgs_per_s"`
	SyncPublishN         int          `json:"sync_publish_n"`
	ServerVersion        string       `json:"server_version"`
	ClientVersion        string       `json:"client_version"`
	SyncSetting          string       `json:"sync_setting"`
	ServerSyncAlways     bool         `json:"server_sync_always"`
	Transport            string       `json:"transport"`
	StoreFS              string       `json:"store_fs"`
	Warmup               int          `json:"warmup"`
	TotalSeconds         float64      `json:"total_s"`
	GoMaxProcs           int          `json:"gomaxprocs"`
	streamStoreDirForLog string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		msg := strings.Join(strings.Fields(err.Error()), " ")
		fmt.Fprintf(os.Stderr, "jsbench: error: %s\n", msg)
		os.Exit(1)
	}
}

// run parses args, performs the measurement and writes the report to stdout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()

	res, err := measure(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("gave up after --timeout %s: %w", cfg.timeout, err)
		}
		return err
	}
	if cfg.jsonOut {
		b, err := json.Marshal(res)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	return printTable(stdout, res, cfg)
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("jsbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&cfg.size, "size", 256, "payload size in bytes (random bytes)")
	fs.IntVar(&cfg.latencyN, "latency", 300, "number of measured synchronous publishes with one message in flight")
	fs.IntVar(&cfg.warmup, "warmup", 50, "synchronous publishes before measuring (not recorded)")
	fs.IntVar(&cfg.messages, "messages", 2000, "number of messages published with many in flight (PublishAsync)")
	fs.IntVar(&cfg.window, "window", 256, "outstanding acks allowed with many in flight")
	fs.IntVar(&cfg.syncMessages, "sync-messages", 1000, "number of messages for the synchronous-publisher throughput run")
	fs.StringVar(&cfg.storeDir, "store-dir", "", "parent directory for the JetStream store (a fresh temp dir is made inside and removed; default: os.TempDir())")
	fs.DurationVar(&cfg.timeout, "timeout", 50*time.Second, "hard limit for the whole run")
	fs.BoolVar(&cfg.jsonOut, "json", false, "print one JSON object instead of a table")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case cfg.size < 1 || cfg.size > 1<<20:
		return cfg, fmt.Errorf("--size must be between 1 and 1048576, got %d", cfg.size)
	case cfg.latencyN < 1:
		return cfg, fmt.Errorf("--latency must be at least 1, got %d", cfg.latencyN)
	case cfg.warmup < 0:
		return cfg, fmt.Errorf("--warmup must not be negative, got %d", cfg.warmup)
	case cfg.messages < 1:
		return cfg, fmt.Errorf("--messages must be at least 1, got %d", cfg.messages)
	case cfg.window < 1:
		return cfg, fmt.Errorf("--window must be at least 1, got %d", cfg.window)
	case cfg.syncMessages < 1:
		return cfg, fmt.Errorf("--sync-messages must be at least 1, got %d", cfg.syncMessages)
	case cfg.timeout <= 0:
		return cfg, fmt.Errorf("--timeout must be positive, got %s", cfg.timeout)
	}
	return cfg, nil
}

// measure starts the embedded server, runs the three measurements and tears
// everything down again, including the temp store directory.
func measure(ctx context.Context, cfg config) (res *result, err error) {
	start := time.Now()
	storeDir, err := os.MkdirTemp(cfg.storeDir, "jsbench-")
	if err != nil {
		return nil, fmt.Errorf("make store dir: %w", err)
	}
	defer func() {
		if rmErr := os.RemoveAll(storeDir); rmErr != nil && err == nil {
			err = fmt.Errorf("remove store dir: %w", rmErr)
		}
	}()

	opts := &server.Options{
		ServerName: "hotline-baseline",
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		NoLog:      true,
		NoSigs:     true,
		JetStream:  true,
		StoreDir:   storeDir,
		// Equivalent of `sync_interval: always`: the config parser sets
		// SyncAlways=true (and leaves SyncInterval at its default, which
		// only drives the background flusher). With it, the file store
		// fsyncs the message block after every write before acking.
		SyncAlways: true,
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("new nats server: %w", err)
	}
	go ns.Start()
	defer func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	}()
	if !ns.ReadyForConnections(10 * time.Second) {
		return nil, errors.New("embedded nats server not ready within 10s")
	}
	jsCfg := ns.JetStreamConfig()
	if jsCfg == nil {
		return nil, errors.New("embedded nats server started without JetStream")
	}
	if !jsCfg.SyncAlways {
		return nil, errors.New("server reports SyncAlways=false although it was requested")
	}

	// Plain TCP to the loopback listener (no in-process connection).
	nc, err := nats.Connect(ns.ClientURL(), nats.Name("hotline-baseline"), nats.NoReconnect())
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", ns.ClientURL(), err)
	}
	defer nc.Close()

	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(cfg.window))
	if err != nil {
		return nil, fmt.Errorf("jetstream context: %w", err)
	}
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name:      streamName,
		Subjects:  []string{subject},
		Storage:   jetstream.FileStorage,
		Replicas:  1,
		Retention: jetstream.LimitsPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("create stream: %w", err)
	}

	payload := make([]byte, cfg.size)
	if _, err := rand.Read(payload); err != nil {
		return nil, fmt.Errorf("random payload: %w", err)
	}

	res = &result{
		Tool:             fmt.Sprintf("nats-server %s jetstream file storage, sync always", server.VERSION),
		Size:             cfg.size,
		ServerVersion:    server.VERSION,
		ClientVersion:    "nats.go " + nats.Version,
		SyncSetting:      syncSetting,
		ServerSyncAlways: jsCfg.SyncAlways,
		Transport:        "tcp " + ns.ClientURL(),
		StoreFS:          fsType(storeDir),
		Warmup:           cfg.warmup,
		GoMaxProcs:       goMaxProcs(),
	}
	res.streamStoreDirForLog = storeDir

	// Warmup: not recorded.
	for i := 0; i < cfg.warmup; i++ {
		if _, err := js.Publish(ctx, subject, payload); err != nil {
			return nil, fmt.Errorf("warmup publish %d: %w", i, err)
		}
	}

	// a) One message in flight.
	lats := make([]time.Duration, 0, cfg.latencyN)
	for i := 0; i < cfg.latencyN; i++ {
		t0 := time.Now()
		if _, err := js.Publish(ctx, subject, payload); err != nil {
			return nil, fmt.Errorf("publish (one in flight) %d: %w", i, err)
		}
		lats = append(lats, time.Since(t0))
	}
	res.OneInFlight = latencyStats{
		P50ms:  ms(percentile(lats, 0.50)),
		P99ms:  ms(percentile(lats, 0.99)),
		MeanMs: ms(mean(lats)),
		N:      len(lats),
	}

	// b) Many in flight.
	ws, err := manyInFlight(ctx, js, payload, cfg.messages, cfg.window)
	if err != nil {
		return nil, err
	}
	res.ManyInFlight = ws

	// c) Sustained throughput of one synchronous publisher.
	t0 := time.Now()
	for i := 0; i < cfg.syncMessages; i++ {
		if _, err := js.Publish(ctx, subject, payload); err != nil {
			return nil, fmt.Errorf("publish (sync throughput) %d: %w", i, err)
		}
	}
	res.SyncPublishMsgsPerS = round(float64(cfg.syncMessages)/time.Since(t0).Seconds(), 1)
	res.SyncPublishN = cfg.syncMessages

	// Every message must be in the stream: a cheap check that nothing was
	// silently dropped.
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("stream info: %w", err)
	}
	want := uint64(cfg.warmup + cfg.latencyN + cfg.messages + cfg.syncMessages)
	if info.State.Msgs != want {
		return nil, fmt.Errorf("stream holds %d messages, want %d", info.State.Msgs, want)
	}
	if info.Config.Storage != jetstream.FileStorage {
		return nil, fmt.Errorf("stream storage is %s, want file", info.Config.Storage)
	}
	res.TotalSeconds = round(time.Since(start).Seconds(), 2)
	return res, nil
}

// pending is one published message waiting for its ack.
type pending struct {
	t0  time.Time
	ok  <-chan *jetstream.PubAck
	err <-chan error
}

// manyInFlight publishes n messages with PublishAsync, keeping up to window
// acks outstanding, and records for each message the time from the
// PublishAsync call to the moment its ack is seen on the future's Ok()
// channel. The window is also enforced here (a slot is freed when the ack is
// observed) so that PublishAsync never stalls internally and t0 is the moment
// the message is handed to the client, not the moment it starts waiting for
// a free slot. The client's own WithPublishAsyncMaxPending(window) stays set
// as the same cap.
func manyInFlight(ctx context.Context, js jetstream.JetStream, payload []byte, n, window int) (windowStats, error) {
	slots := make(chan struct{}, window)
	queue := make(chan pending, window)
	lats := make([]time.Duration, 0, n)
	collectorDone := make(chan struct{})
	var collectorErr error
	var lastAck time.Time

	go func() {
		defer close(collectorDone)
		for p := range queue {
			select {
			case <-p.ok:
				now := time.Now()
				lats = append(lats, now.Sub(p.t0))
				lastAck = now
			case err := <-p.err:
				collectorErr = fmt.Errorf("async publish ack %d: %w", len(lats), err)
				return
			case <-ctx.Done():
				collectorErr = fmt.Errorf("waiting for async ack %d: %w", len(lats), ctx.Err())
				return
			}
			<-slots
		}
	}()

	var first time.Time
	var pubErr error
publish:
	for i := 0; i < n; i++ {
		select {
		case slots <- struct{}{}:
		case <-collectorDone:
			break publish
		case <-ctx.Done():
			pubErr = fmt.Errorf("waiting for a publish slot: %w", ctx.Err())
			break publish
		}
		t0 := time.Now()
		if i == 0 {
			first = t0
		}
		f, err := js.PublishAsync(subject, payload)
		if err != nil {
			pubErr = fmt.Errorf("publish async %d: %w", i, err)
			break publish
		}
		// Cannot block: queue has room for window entries and at most
		// window slots are taken.
		queue <- pending{t0: t0, ok: f.Ok(), err: f.Err()}
	}
	close(queue)
	<-collectorDone
	if collectorErr != nil {
		return windowStats{}, collectorErr
	}
	if pubErr != nil {
		return windowStats{}, pubErr
	}
	if len(lats) != n {
		return windowStats{}, fmt.Errorf("got %d async acks, want %d", len(lats), n)
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return windowStats{}, fmt.Errorf("waiting for async publishes to complete: %w", ctx.Err())
	}
	wall := lastAck.Sub(first)
	return windowStats{
		Window:    window,
		P50ms:     ms(percentile(lats, 0.50)),
		P99ms:     ms(percentile(lats, 0.99)),
		MeanMs:    ms(mean(lats)),
		MsgsPerS:  round(float64(len(lats))/wall.Seconds(), 1),
		N:         len(lats),
		WallMs:    ms(wall),
		LatencyOf: "PublishAsync call to ack on PubAckFuture.Ok()",
	}, nil
}

// percentile returns the nearest-rank p-quantile (0 < p <= 1) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := int(math.Ceil(p * float64(len(s))))
	if rank < 1 {
		rank = 1
	}
	if rank > len(s) {
		rank = len(s)
	}
	return s[rank-1]
}

func mean(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

// ms converts to milliseconds, rounded to 0.1 µs.
func ms(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 4) }

func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}

func f3(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

func goMaxProcs() int { return runtime.GOMAXPROCS(0) }

func printTable(w io.Writer, r *result, cfg config) error {
	fmt.Fprintf(w, "Baseline: %s\n", r.Tool)
	fmt.Fprintf(w, "  server   nats-server %s, embedded in-process, GOMAXPROCS=%d\n", r.ServerVersion, r.GoMaxProcs)
	fmt.Fprintf(w, "  client   %s (jetstream package) over %s\n", r.ClientVersion, r.Transport)
	fmt.Fprintf(w, "  sync     %s; server reports SyncAlways=%t\n", r.SyncSetting, r.ServerSyncAlways)
	fmt.Fprintf(w, "  storage  file stream %s, R1, one subject, store on %s (%s, removed afterwards)\n", streamName, r.StoreFS, r.streamStoreDirForLog)
	fmt.Fprintf(w, "  payload  %d random bytes; warmup %d sync publishes\n\n", r.Size, r.Warmup)

	const row = "%-42s %6s %9s %9s %9s %9s\n"
	fmt.Fprintf(w, row, "measurement", "n", "p50 ms", "p99 ms", "mean ms", "msgs/s")
	o := r.OneInFlight
	fmt.Fprintf(w, row, "one in flight (sync Publish)", strconv.Itoa(o.N),
		f3(o.P50ms), f3(o.P99ms), f3(o.MeanMs), "-")
	m := r.ManyInFlight
	fmt.Fprintf(w, row, fmt.Sprintf("many in flight (PublishAsync, window %d)", m.Window), strconv.Itoa(m.N),
		f3(m.P50ms), f3(m.P99ms), f3(m.MeanMs), fmt.Sprintf("%.0f", m.MsgsPerS))
	fmt.Fprintf(w, row, "sync Publish, 1 publisher", strconv.Itoa(r.SyncPublishN),
		"-", "-", "-", fmt.Sprintf("%.0f", r.SyncPublishMsgsPerS))
	_, err := fmt.Fprintf(w, "\nmany-in-flight latency = %s; msgs/s = n / (first publish .. last ack). total run %.2fs\n", m.LatencyOf, r.TotalSeconds)
	return err
}
