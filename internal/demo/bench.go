package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"hotline/internal/api"
	"hotline/internal/envelope"
	"hotline/internal/identity"
	"hotline/internal/ops"
	"hotline/internal/transcript"
)

// BenchOptions configure hotline bench.
type BenchOptions struct {
	Messages        int           // messages in each many-in-flight run
	LatencyMessages int           // messages in the one-in-flight run
	Warmup          int           // messages sent one at a time first, not recorded
	Size            int           // text bytes per message
	Duration        time.Duration // if set, a soak run of this length sampling memory
	Send            string        // SendStream or SendRequests; "" is SendStream
	JSON            bool
	Out             io.Writer
}

// How the benchmark's client sends: on one pipelined stream (POST
// /api/v1/messages/stream), as a program sending many messages would, or
// with one request per message (POST /api/v1/messages), as hotline send
// does.
const (
	SendStream   = "stream"
	SendRequests = "requests"
)

// sender sends one message and returns once it is durable at the sender.
type sender func(ctx context.Context, r ops.SendRequest) (*ops.MessageView, error)

// newSender returns the client's way of sending, and what closes it.
func newSender(ctx context.Context, c *api.Client, via string) (sender, func(), error) {
	if via == SendRequests {
		return c.Send, func() {}, nil
	}
	s, err := c.SendStream(ctx)
	if err != nil {
		return nil, nil, err
	}
	send := func(ctx context.Context, r ops.SendRequest) (*ops.MessageView, error) {
		return s.Send(r).Wait(ctx)
	}
	return send, func() { s.Close(ctx) }, nil
}

// Latency summarizes a set of send-to-receipt latencies.
type Latency struct {
	N      int     `json:"n"`
	P50ms  float64 `json:"p50_ms"`
	P99ms  float64 `json:"p99_ms"`
	MeanMs float64 `json:"mean_ms"`
}

// Floor is the least any durable, signed exchange can cost on this machine.
type Floor struct {
	FsyncMs float64 `json:"fsync_p50_ms"` // one small write + fsync, back to back
	// The same write + fsync after the disk has been idle for a while
	// (IdleGap), as a message sent alone finds it: for reading the
	// figures, not part of the floor.
	FsyncIdleMs float64 `json:"fsync_idle_p50_ms"`
	IdleGapMs   float64 `json:"fsync_idle_gap_ms"`
	CryptoMs    float64 `json:"crypto_p50_ms"` // seal (an HPKE encapsulation of its own), sign, verify, open, checkpoint, cosign, receipt check
	TotalMs     float64 `json:"total_ms"`      // crypto + one fsync on each side
	// The same for a message that continues a key epoch, as all but the
	// first of a run are (docs/PROTOCOL.md, "Envelope"): no encapsulation.
	EpochCryptoMs float64 `json:"epoch_crypto_p50_ms"`
	EpochTotalMs  float64 `json:"epoch_total_ms"`
	// What one message continuing an epoch must carry: its sealed,
	// signed entry with the checkpoint over it, and the receipt back.
	EntryBytes   int `json:"entry_bytes"`
	ReceiptBytes int `json:"receipt_bytes"`
}

// BenchResult is what hotline bench reports.
type BenchResult struct {
	Machine     string  `json:"machine"`
	Size        int     `json:"size"`
	Warmup      int     `json:"warmup"` // messages sent before measuring, not recorded
	Send        string  `json:"send"`   // SendStream or SendRequests
	Floor       Floor   `json:"floor"`
	OneInFlight Latency `json:"one_in_flight"`
	OneDurable  Latency `json:"one_in_flight_durable"` // send call to durable at the sender
	Many        []Many  `json:"many_in_flight"`
	Soak        *Soak   `json:"soak,omitempty"`
}

// Many is a run with several messages in flight.
type Many struct {
	InFlight   int     `json:"in_flight"`
	Latency    Latency `json:"latency"`
	Durable    Latency `json:"durable"` // send call to durable at the sender
	MsgsPerSec float64 `json:"msgs_per_s"`
}

// Soak samples the stations' memory over a long run.
type Soak struct {
	Seconds    float64 `json:"seconds"`
	Messages   int     `json:"messages"`
	RSSStartKB []int   `json:"rss_start_kb"` // per station
	RSSEndKB   []int   `json:"rss_end_kb"`
	RSSMaxKB   []int   `json:"rss_max_kb"`
	// RSSMinuteKB is both stations' resident memory at the end of each
	// minute: flat memory shows as a plateau, a leak as a slope.
	RSSMinuteKB [][]int `json:"rss_minute_kb"`
	// Acknowledged is how many of them CHN acknowledged (all, unless the
	// run failed).
	Acknowledged int `json:"acknowledged"`
}

// ackAll acknowledges the entries idx of author's log on ch at the
// station c talks to, 32 at a time.
func ackAll(ctx context.Context, c *api.Client, ch, author string, idx []uint64) (int, error) {
	var (
		next  atomic.Int64
		done  atomic.Int64
		first atomic.Value
		wg    sync.WaitGroup
	)
	for range 32 {
		wg.Go(func() {
			for first.Load() == nil {
				j := int(next.Add(1) - 1)
				if j >= len(idx) {
					return
				}
				i := idx[j]
				if _, err := c.Ack(ctx, fmt.Sprintf("%s/%s/%d", ch, author, i), "bench"); err != nil {
					first.CompareAndSwap(nil, fmt.Errorf("acknowledging %s/%s/%d: %w", ch, author, i, err))
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	err, _ := first.Load().(error)
	return int(done.Load()), err
}

func summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return Latency{N: len(s), P50ms: ms(s[len(s)/2]), P99ms: ms(s[min(len(s)-1, len(s)*99/100)]), MeanMs: ms(sum / time.Duration(len(s)))}
}

// Bench runs two stations as processes on loopback, both fully durable,
// and measures send-to-receipt latency and throughput, with the floor.
func Bench(ctx context.Context, o BenchOptions) error {
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	root, err := os.MkdirTemp("", "hotline-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	res := &BenchResult{Machine: fmt.Sprintf("%s/%s, %d CPUs", runtime.GOOS, runtime.GOARCH, runtime.NumCPU()), Size: o.Size, Warmup: o.Warmup, Send: o.Send}
	if res.Send == "" {
		res.Send = SendStream
	}
	if res.Floor, err = measureCrypto(o.Size); err != nil {
		return err
	}
	const ch = "bench"
	p, err := NewPair(ctx, root, bin, map[string]string{ch: "staff"})
	if err != nil {
		return err
	}
	defer p.Stop()
	send, closeSend, err := newSender(ctx, p.A.Client(), res.Send)
	if err != nil {
		return err
	}
	defer closeSend()
	w, err := measure(ctx, p, ch, send, o, res)
	if err != nil {
		return err
	}
	text := strings.Repeat("x", o.Size)
	if o.Duration > 0 {
		soak := &Soak{}
		for _, n := range []*Node{p.A, p.B} {
			soak.RSSStartKB = append(soak.RSSStartKB, n.RSS())
		}
		soak.RSSMaxKB = slices.Clone(soak.RSSStartKB)
		// CHN's duty officer acknowledges every message, as a watch floor
		// does: a message nobody acknowledges is kept in memory (its
		// ladder, and its text for a forward) until someone does. The
		// messages of the measurements before are acknowledged first, or
		// their deadlines would pass during the soak.
		if _, err := ackAll(ctx, p.B.Client(), ch, p.A.Name, w.takeSent()); err != nil {
			return err
		}
		start := time.Now()
		nextMinute := start.Add(time.Minute)
		for time.Since(start) < o.Duration {
			_, _, _, err := w.run(ctx, send, ch, text, 1000, 64)
			if err != nil {
				return err
			}
			soak.Messages += 1000
			n, err := ackAll(ctx, p.B.Client(), ch, p.A.Name, w.takeSent())
			soak.Acknowledged += n
			if err != nil {
				return err
			}
			for i, n := range []*Node{p.A, p.B} {
				soak.RSSMaxKB[i] = max(soak.RSSMaxKB[i], n.RSS())
			}
			if time.Now().After(nextMinute) {
				soak.RSSMinuteKB = append(soak.RSSMinuteKB, []int{p.A.RSS(), p.B.RSS()})
				nextMinute = nextMinute.Add(time.Minute)
			}
		}
		soak.Seconds = time.Since(start).Seconds()
		for _, n := range []*Node{p.A, p.B} {
			soak.RSSEndKB = append(soak.RSSEndKB, n.RSS())
		}
		res.Soak = soak
	}
	if o.JSON {
		enc := json.NewEncoder(o.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	printBench(o.Out, res)
	return nil
}

// measure sends o.Size-byte messages from p.A to p.B on channel ch, a
// pair already running: o.LatencyMessages with one in flight, then
// o.Messages with 16 and with 256 in flight. It fills res.OneInFlight and
// res.Many.
func measure(ctx context.Context, p *Pair, ch string, send sender, o BenchOptions, res *BenchResult) (*deliveryWatch, error) {
	w, err := newDeliveryWatch(ctx, p.A.Client(), ch, p.A.Name)
	if err != nil {
		return nil, err
	}
	text := strings.Repeat("x", o.Size)
	if o.Warmup > 0 {
		// Connections, caches and the WAL file are set up by the first
		// messages after start; bench/jetstream leaves out as many.
		if _, _, _, err := w.run(ctx, send, ch, text, o.Warmup, 1); err != nil {
			return nil, err
		}
	}
	// One in flight, in slices with the floor's fsync measured before
	// each and after the last: the disk's sync time moves from minute to
	// minute, and the ratio to the floor is only fair if both see the
	// same minutes.
	probe, err := newFsyncProbe(filepath.Dir(p.A.Dir), o.Size)
	if err != nil {
		return nil, err
	}
	defer probe.close()
	parts := min(floorSlices, o.LatencyMessages)
	var lats, durs []time.Duration
	for i := range parts {
		if err := probe.sample(floorSamples); err != nil {
			return nil, err
		}
		// One unrecorded message first: after the probe's pauses the
		// stations' threads are cold, as after the warm-up they are not.
		if _, _, _, err := w.runRaw(ctx, send, ch, text, 1, 1); err != nil {
			return nil, err
		}
		n := o.LatencyMessages*(i+1)/parts - o.LatencyMessages*i/parts
		l, d, _, err := w.runRaw(ctx, send, ch, text, n, 1)
		if err != nil {
			return nil, err
		}
		lats, durs = append(lats, l...), append(durs, d...)
	}
	if err := probe.sample(floorSamples); err != nil {
		return nil, err
	}
	probe.setFsync(&res.Floor)
	res.OneInFlight, res.OneDurable = summarize(lats), summarize(durs)
	for _, k := range []int{16, 256} {
		lat, dur, rate, err := w.run(ctx, send, ch, text, o.Messages, k)
		if err != nil {
			return nil, err
		}
		res.Many = append(res.Many, Many{InFlight: k, Latency: lat, Durable: dur, MsgsPerSec: rate})
	}
	return w, nil
}

func printBench(out io.Writer, r *BenchResult) {
	how := "on one pipelined stream (POST /api/v1/messages/stream)"
	if r.Send == SendRequests {
		how = "one request each (POST /api/v1/messages)"
	}
	fmt.Fprintf(out, "hotline bench: %s, %d-byte messages, both stations durable (full sync), %d warm-up messages not recorded, sent %s\n\n", r.Machine, r.Size, r.Warmup, how)
	fmt.Fprintf(out, "floor: fsync p50 %.3f ms, crypto per message p50 %.3f ms, total %.3f ms (crypto + one fsync on each side)\n",
		r.Floor.FsyncMs, r.Floor.CryptoMs, r.Floor.TotalMs)
	fmt.Fprintf(out, "epoch floor: crypto per message continuing a key epoch p50 %.3f ms, total %.3f ms\n",
		r.Floor.EpochCryptoMs, r.Floor.EpochTotalMs)
	fmt.Fprintf(out, "fsync after the disk rested %v (not part of the floor): p50 %.3f ms, %.2f× the floor's\n\n",
		IdleGap, r.Floor.FsyncIdleMs, r.Floor.FsyncIdleMs/r.Floor.FsyncMs)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "send → cosigned receipt\tn\tp50 ms\tp99 ms\tp50/floor\tp99/floor\tp50/epoch floor\tp99/epoch floor\tmsgs/s\t")
	row := func(name string, l Latency, rate float64) {
		rs := "-"
		if rate > 0 {
			rs = fmt.Sprintf("%.0f", rate)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t%.2f\t%.2f\t%.2f\t%.2f\t%s\t\n", name, l.N, l.P50ms, l.P99ms, l.P50ms/r.Floor.TotalMs, l.P99ms/r.Floor.TotalMs,
			l.P50ms/r.Floor.EpochTotalMs, l.P99ms/r.Floor.EpochTotalMs, rs)
	}
	row("one in flight", r.OneInFlight, 0)
	for _, m := range r.Many {
		row(fmt.Sprintf("%d in flight", m.InFlight), m.Latency, m.MsgsPerSec)
	}
	tw.Flush()
	fmt.Fprintf(out, "one in flight: send call to durable at the sender p50 %.3f ms, p99 %.3f ms\n", r.OneDurable.P50ms, r.OneDurable.P99ms)
	for _, m := range r.Many {
		fmt.Fprintf(out, "%d in flight: send call to durable at the sender p50 %.3f ms, p99 %.3f ms\n", m.InFlight, m.Durable.P50ms, m.Durable.P99ms)
	}
	if s := r.Soak; s != nil {
		fmt.Fprintf(out, "\nsoak: %d messages in %.0f s, %d acknowledged by CHN; RSS USA %d → %d KiB (max %d), CHN %d → %d KiB (max %d)\n",
			s.Messages, s.Seconds, s.Acknowledged, s.RSSStartKB[0], s.RSSEndKB[0], s.RSSMaxKB[0], s.RSSStartKB[1], s.RSSEndKB[1], s.RSSMaxKB[1])
		for i, m := range s.RSSMinuteKB {
			fmt.Fprintf(out, "  minute %d: USA %d KiB, CHN %d KiB\n", i+1, m[0], m[1])
		}
	}
}

// RSS is the resident memory of the node's process in KiB, or 0.
func (n *Node) RSS() int {
	n.mu.Lock()
	cmd := n.cmd
	n.mu.Unlock()
	if cmd == nil {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return kb
		}
	}
	return 0
}

// deliveryWatch follows the sender's event stream and wakes waiters when
// the peer's receipt covers their entry.
type deliveryWatch struct {
	mu        sync.Mutex
	delivered uint64
	waiters   map[uint64][]chan struct{}
	// sent are the indexes of the messages run sent, in no order: the
	// log also holds entries the station writes itself (a reminder when
	// a deadline passes), which are not acknowledged.
	sent []uint64
}

// takeSent returns the indexes sent since the last call.
func (w *deliveryWatch) takeSent() []uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.sent
	w.sent = nil
	return out
}

func newDeliveryWatch(ctx context.Context, c *api.Client, ch, author string) (*deliveryWatch, error) {
	w := &deliveryWatch{waiters: map[uint64][]chan struct{}{}}
	prefix := ch + "/" + author + "/"
	ready := make(chan struct{})
	go c.Events(ctx, func(ev api.Event) {
		if ev.What == "connected" {
			close(ready)
			return
		}
		if ev.What != "delivered" || !strings.HasPrefix(ev.Entry, prefix) {
			return
		}
		_, last, _ := strings.Cut(strings.TrimPrefix(ev.Entry, prefix), "-")
		n, err := strconv.ParseUint(last, 10, 64)
		if err != nil {
			return
		}
		w.mu.Lock()
		if n > w.delivered {
			w.delivered = n
			for idx, ws := range w.waiters {
				if idx <= n {
					for _, c := range ws {
						close(c)
					}
					delete(w.waiters, idx)
				}
			}
		}
		w.mu.Unlock()
	})
	select {
	case <-ready:
		return w, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(10 * time.Second):
		return nil, fmt.Errorf("the station's event stream did not open")
	}
}

func (w *deliveryWatch) wait(ctx context.Context, idx uint64) error {
	return w.waitFor(ctx, idx, 60*time.Second)
}

// waitFor waits until entry idx is receipted, for at most limit.
func (w *deliveryWatch) waitFor(ctx context.Context, idx uint64, limit time.Duration) error {
	w.mu.Lock()
	if idx <= w.delivered {
		w.mu.Unlock()
		return nil
	}
	c := make(chan struct{})
	w.waiters[idx] = append(w.waiters[idx], c)
	w.mu.Unlock()
	select {
	case <-c:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(limit):
		return fmt.Errorf("entry %d not receipted within %v", idx, limit)
	}
}

// run sends n messages with k in flight and measures each from the send
// call to the cosigned receipt.
func (w *deliveryWatch) run(ctx context.Context, send sender, ch, text string, n, k int) (Latency, Latency, float64, error) {
	lats, durs, rate, err := w.runRaw(ctx, send, ch, text, n, k)
	if err != nil {
		return Latency{}, Latency{}, 0, err
	}
	return summarize(lats), summarize(durs), rate, nil
}

// runRaw is run returning every message's latency and send call.
func (w *deliveryWatch) runRaw(ctx context.Context, send sender, ch, text string, n, k int) ([]time.Duration, []time.Duration, float64, error) {
	lats := make([]time.Duration, n)
	durs := make([]time.Duration, n)
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || firstErr.Load() != nil {
					return
				}
				t0 := time.Now()
				m, err := send(ctx, ops.SendRequest{Channel: ch, Precedence: "FLASH", Text: text})
				durs[i] = time.Since(t0)
				if err == nil {
					w.mu.Lock()
					w.sent = append(w.sent, m.Index)
					w.mu.Unlock()
					err = w.wait(ctx, m.Index)
				}
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				lats[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return nil, nil, 0, err
	}
	return lats, durs, float64(n) / time.Since(start).Seconds(), nil
}

// floorSlices is how many slices the one-in-flight run is cut into, the
// floor's fsync measured before each and after the last, floorSamples
// times of each kind.
const (
	floorSlices  = 10
	floorSamples = 20
)

// IdleGap is how long the disk rests before the floor's idle fsync: about
// the time between one message's syncs and the next's, one in flight.
const IdleGap = 2 * time.Millisecond

// fsyncProbe measures one small synced write on the stations' disk, back
// to back and after the disk rested IdleGap, alternately, so that both
// see the disk at the same moments.
type fsyncProbe struct {
	f          *os.File
	buf        []byte
	warm, idle []time.Duration
}

func newFsyncProbe(dir string, size int) (*fsyncProbe, error) {
	f, err := os.Create(filepath.Join(dir, "fsync-probe"))
	if err != nil {
		return nil, err
	}
	return &fsyncProbe{f: f, buf: make([]byte, size)}, nil
}

// sample takes n measurements of each kind, once the stations' own
// writes have settled (a receipt-only write waits up to 100 ms for
// company, and the store's checkpointer copies the WAL within 250 ms of
// a write): the probe measures the disk alone.
func (p *fsyncProbe) sample(n int) error {
	time.Sleep(600 * time.Millisecond)
	// One unmeasured first: after the sleep it would be a rested one
	// counted as back to back.
	if _, err := p.f.Write(p.buf); err != nil {
		return err
	}
	if err := p.f.Sync(); err != nil {
		return err
	}
	for i := range 2 * n {
		if i%2 == 1 {
			time.Sleep(IdleGap)
		}
		t0 := time.Now()
		if _, err := p.f.Write(p.buf); err != nil {
			return err
		}
		if err := p.f.Sync(); err != nil {
			return err
		}
		if i%2 == 1 {
			p.idle = append(p.idle, time.Since(t0))
		} else {
			p.warm = append(p.warm, time.Since(t0))
		}
	}
	return nil
}

func (p *fsyncProbe) close() {
	p.f.Close()
	os.Remove(p.f.Name())
}

// setFsync completes fl with the probe's fsync figures.
func (p *fsyncProbe) setFsync(fl *Floor) {
	fl.FsyncMs, fl.FsyncIdleMs = summarize(p.warm).P50ms, summarize(p.idle).P50ms
	fl.IdleGapMs = float64(IdleGap) / float64(time.Millisecond)
	fl.TotalMs = fl.CryptoMs + 2*fl.FsyncMs
	fl.EpochTotalMs = fl.EpochCryptoMs + 2*fl.FsyncMs
}

// measureCrypto measures the crypto of one message end to end.
func measureCrypto(size int) (Floor, error) {
	const n = 200
	a, err := identity.NewKeys("A")
	if err != nil {
		return Floor{}, err
	}
	b, err := identity.NewKeys("B")
	if err != nil {
		return Floor{}, err
	}
	av, _ := (&identity.Card{Name: "A", SignKey: a.SignPublic()}).Verifier()
	bv, _ := (&identity.Card{Name: "B", SignKey: b.SignPublic()}).Verifier()
	// A station builds its note signer once, not per message.
	as, bs := a.Signer(), b.Signer()
	body, _ := json.Marshal(map[string]string{"text": strings.Repeat("x", size)})
	// One message end to end, each operation the stations do once: sealed
	// with an encapsulation of its own (as the first of a key epoch is),
	// or continuing an epoch; signed; verified and opened; its checkpoint
	// signed, verified and cosigned; the cosignature verified (the author
	// compares its own signature byte for byte, as a station does).
	var entryBytes, receiptBytes int
	one := func(tree *transcript.Tree, i int, seal func(envelope.Header) ([]byte, error),
		open func(*envelope.Envelope) ([]byte, error)) (time.Duration, error) {
		t0 := time.Now()
		h := envelope.Header{Channel: "bench", Author: "A", Recipient: "B", Index: uint64(i + 1), Precedence: envelope.Flash, Kind: envelope.Text, Time: time.Now()}
		raw, err := seal(h)
		if err != nil {
			return 0, err
		}
		tree.Append(raw)
		cp, err := transcript.SignCheckpoint(transcript.Checkpoint{Origin: transcript.Origin("bench", "A"), Size: tree.Size(), Root: tree.Root()}, as)
		if err != nil {
			return 0, err
		}
		e, err := envelope.Parse(raw)
		if err != nil {
			return 0, err
		}
		if err := e.Verify(a.SignPublic()); err != nil {
			return 0, err
		}
		if _, err := open(e); err != nil {
			return 0, err
		}
		_, opened, err := transcript.OpenCheckpoint(cp, av)
		if err != nil {
			return 0, err
		}
		r, err := transcript.CosignOpened(opened, av, bs)
		if err != nil {
			return 0, err
		}
		if !bytes.HasPrefix(r, cp) {
			return 0, fmt.Errorf("the receipt does not extend the checkpoint")
		}
		if _, _, err := transcript.OpenCheckpoint(r, bv); err != nil {
			return 0, err
		}
		d := time.Since(t0)
		entryBytes, receiptBytes = len(raw)+len(cp), len(r)
		return d, nil
	}
	ep, err := envelope.NewEpoch(b.KEM.PublicKey(), nil)
	if err != nil {
		return Floor{}, err
	}
	var cs, es []time.Duration
	own, cont := transcript.NewTree(), transcript.NewTree()
	for i := range n {
		d, err := one(own, i, func(h envelope.Header) ([]byte, error) { return envelope.Seal(h, body, b.KEM.PublicKey(), a.Sign) },
			func(e *envelope.Envelope) ([]byte, error) { return e.Open(b.KEM) })
		if err != nil {
			return Floor{}, err
		}
		cs = append(cs, d)
		d, err = one(cont, i, func(h envelope.Header) ([]byte, error) { return ep.Seal(h, body, false, a.Sign) },
			func(e *envelope.Envelope) ([]byte, error) { return e.OpenIn(ep) })
		if err != nil {
			return Floor{}, err
		}
		es = append(es, d)
	}
	return Floor{CryptoMs: summarize(cs).P50ms, EpochCryptoMs: summarize(es).P50ms, EntryBytes: entryBytes, ReceiptBytes: receiptBytes}, nil
}
