package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"hotline/internal/linkemu"
	"hotline/internal/ops"
)

// LinkBenchOptions configure hotline bench --link.
type LinkBenchOptions struct {
	Profile string
	Latency int // messages sent one in flight (0: the profile's default)
	Flash   int // FLASH messages measured under load, each way (0: the profile's default)
	Backlog int // ROUTINE messages caught up after an outage (0: the profile's default)
	Idle    time.Duration
	Size    int
	Seed    uint64
	JSON    bool
	Out     io.Writer
	// Progress, if set, is told each step as it begins.
	Progress io.Writer
}

// LinkResult is what hotline bench --link reports (docs/BENCHMARKS.md,
// "Real links").
type LinkResult struct {
	Machine string      `json:"machine"`
	Size    int         `json:"size"`
	Link    LinkFigures `json:"link"`
	// Station is the floor of a message at the stations (crypto and one
	// fsync each side), part of the link's floor.
	Station     Floor   `json:"station_floor"`
	OneInFlight Latency `json:"one_in_flight"`
	// FlashUnderLoad: a FLASH message sent on a channel while a backlog
	// of ROUTINE messages on the same channel drains; FlashOtherChannel:
	// on another channel with the same peer.
	FlashUnderLoad    Latency `json:"flash_under_load"`
	FlashOtherChannel Latency `json:"flash_under_load_other_channel"`
	FlashBacklog      int     `json:"flash_backlog_messages"` // ROUTINE messages queued before each FLASH
	WireBytes         struct {
		Payload     int     `json:"payload"`       // text bytes of one message
		OneInFlight float64 `json:"one_in_flight"` // both ways, everything, per message
		Bulk        float64 `json:"bulk"`          // both ways, during the backlog's catch-up
	} `json:"wire_bytes_per_message"`
	IdleBytesPerS float64    `json:"idle_bytes_per_s"`      // both ways, one peer, its channels idle
	IdleEachWay   [2]float64 `json:"idle_bytes_per_s_each"` // USA→CHN, CHN→USA
	IdleChannels  int        `json:"idle_channels"`
	IdleShare     float64    `json:"idle_link_share"` // idle bits per second over the link's rate (0 with no rate)
	Backlog       struct {
		Messages        int     `json:"messages"`
		OutageS         float64 `json:"outage_s"`
		Seconds         float64 `json:"seconds"`     // from the link's return to the last receipt
		ReconnectS      float64 `json:"reconnect_s"` // from the link's return to the first receipt
		LinkUtilisation float64 `json:"link_utilisation"`
		PayloadShare    float64 `json:"payload_share"` // text bytes over the link's capacity in that time
	} `json:"backlog"`
	Counters [2]linkemu.Stats `json:"link_counters"` // the whole run, USA→CHN then CHN→USA
}

// LinkFigures are the emulated link's settings and its floor.
type LinkFigures struct {
	Profile    string  `json:"profile"`
	RTTms      float64 `json:"rtt_ms"`
	JitterMs   float64 `json:"jitter_ms"`
	Loss       float64 `json:"loss"`
	Burst      float64 `json:"loss_burst"`
	RateBps    int64   `json:"rate_bps"`
	QueueBytes int     `json:"queue_bytes"`
	MTU        int     `json:"mtu"`
	// FloorMs is one round trip, plus the time the entry (with its
	// checkpoint) and its receipt take at the link's rate, each in one
	// TLS record and one TCP/IPv4 segment, plus the station floor.
	FloorMs float64 `json:"floor_ms"`
}

// segmentOverhead is what one TLS 1.3 record (5 bytes of header, 1 of
// content type, 16 of tag) in one TCP/IPv4 segment with timestamps (20 +
// 32 bytes of headers) adds to the bytes it carries.
const segmentOverhead = 22 + 52

// linkDefaults are the counts a profile's run uses unless told otherwise:
// enough samples, in a run of minutes on the slowest link.
func linkDefaults(p linkemu.Profile) (latency, flash, backlog int) {
	switch {
	case p.Rate > 0 && p.Rate < 64_000:
		return 12, 3, 40
	case p.Rate > 0 && p.Rate < 1_000_000:
		return 50, 8, 1000
	case p.RTT > 0:
		return 100, 10, 1000
	}
	return 200, 10, 1000
}

// BenchLink runs two stations as processes in two network namespaces
// joined by an emulated link under the named profile, and measures what
// a message costs on it: the floor, one in flight, FLASH behind a
// backlog, a backlog caught up after an outage, and idle traffic.
func BenchLink(ctx context.Context, o LinkBenchOptions) error {
	p, err := linkemu.Named(o.Profile)
	if err != nil {
		return err
	}
	if err := linkemu.Available(); err != nil {
		return fmt.Errorf("bench --link: %w", err)
	}
	lat, flash, backlog := linkDefaults(p)
	if o.Latency > 0 {
		lat = o.Latency
	}
	if o.Flash > 0 {
		flash = o.Flash
	}
	if o.Backlog > 0 {
		backlog = o.Backlog
	}
	if o.Idle <= 0 {
		o.Idle = 30 * time.Second
	}
	progress := o.Progress
	if progress == nil {
		progress = io.Discard
	}
	step := func(format string, args ...any) {
		fmt.Fprintf(progress, "bench --link %s: "+format+"\n", append([]any{p.Name}, args...)...)
	}
	root, err := os.MkdirTemp("", "hotline-bench-link-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	res := &LinkResult{Machine: fmt.Sprintf("%s/%s, %d CPUs", runtime.GOOS, runtime.GOARCH, runtime.NumCPU()), Size: o.Size}
	res.WireBytes.Payload = o.Size
	if err := linkFloor(res, p, root); err != nil {
		return err
	}

	step("making two network namespaces joined by the emulated link")
	tb, err := linkemu.NewTestbed(fmt.Sprintf("hlb%d", os.Getpid()), p, o.Seed)
	if err != nil {
		return err
	}
	defer tb.Close()
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	// Acknowledgement deadlines of a day: the run's messages stay
	// unacknowledged, and no reminder may add traffic to what is measured.
	deadlines := map[string]string{"FLASH": "20h", "IMMEDIATE": "21h", "PRIORITY": "22h", "ROUTINE": "23h"}
	step("starting USA and CHN, pairing them and agreeing channels %s and %s over the link", chBench, chFlash)
	pair, err := PairOver(ctx, tb, root, bin, PairOptions{
		Proposals: []ops.ProposeRequest{{Channel: chBench, Level: "staff", Deadlines: deadlines}, {Channel: chFlash, Level: "staff", Deadlines: deadlines}},
	})
	if err != nil {
		return err
	}
	defer pair.Stop()
	r, err := newLinkRun(ctx, pair, tb, strings.Repeat("x", o.Size))
	if err != nil {
		return err
	}
	defer r.close()

	step("%d messages one in flight", lat)
	if err := r.oneInFlight(res, lat); err != nil {
		return err
	}
	// The backlog before each FLASH: about ten seconds of the link.
	res.FlashBacklog = 1000
	if p.Rate > 0 {
		perMsg := max(res.WireBytes.OneInFlight, float64(o.Size))
		res.FlashBacklog = min(1000, max(20, int(float64(p.Rate)/8*10/perMsg)))
	}
	for _, v := range []struct {
		name string
		w    *deliveryWatch
		ch   string
		out  *Latency
	}{{"on the same channel", r.wb, chBench, &res.FlashUnderLoad}, {"on another channel", r.wf, chFlash, &res.FlashOtherChannel}} {
		step("%d FLASH messages %s, each behind %d ROUTINE", flash, v.name, res.FlashBacklog)
		if *v.out, err = r.flashBehind(v.w, v.ch, flash, res.FlashBacklog); err != nil {
			return err
		}
	}
	const outage = 10 * time.Second
	step("%d ROUTINE messages sent during a %v outage, then caught up", backlog, outage)
	if err := r.catchUp(res, p, backlog, outage); err != nil {
		return err
	}
	step("idle for %v", o.Idle)
	if err := r.idle(res, p, o.Idle); err != nil {
		return err
	}
	res.Counters[0], res.Counters[1] = tb.Link.Stats()
	if o.JSON {
		return json.NewEncoder(o.Out).Encode(res)
	}
	printLinkBench(o.Out, res)
	return nil
}

// The channels hotline bench --link agrees: the backlog's and another.
const chBench, chFlash = "bench", "flash"

// linkFloor measures the station floor (crypto, and an fsync on the disk
// of root) and sets the link's figures and floor.
func linkFloor(res *LinkResult, p linkemu.Profile, root string) error {
	var err error
	if res.Station, err = measureCrypto(res.Size); err != nil {
		return err
	}
	probe, err := newFsyncProbe(root, res.Size)
	if err != nil {
		return err
	}
	defer probe.close()
	if err := probe.sample(floorSamples); err != nil {
		return err
	}
	probe.setFsync(&res.Station)
	res.Link = LinkFigures{Profile: p.Name, RTTms: p.RTTms(), JitterMs: p.JitterMs(), Loss: p.Loss, Burst: p.Burst,
		RateBps: p.Rate, QueueBytes: p.Queue, MTU: p.MTU}
	res.Link.FloorMs = ms(p.RTT+p.Serialise(res.Station.EntryBytes+segmentOverhead)+p.Serialise(res.Station.ReceiptBytes+segmentOverhead)) + res.Station.EpochTotalMs
	return nil
}

// PairOver is NewPairWith for two stations in the namespaces of tb: USA
// in A, CHN in B, each listening for the other on its address there, run
// under ip netns exec and its API dialled from inside its namespace. A
// zero o.Wait becomes three minutes (a narrow link agrees slowly).
func PairOver(ctx context.Context, tb *linkemu.Testbed, root, bin string, o PairOptions) (*Pair, error) {
	nsOf := map[string]*linkemu.Namespace{"USA": tb.A, "CHN": tb.B}
	addrOf := map[string]string{"USA": tb.AddrA, "CHN": tb.AddrB}
	o.Listen = func(name string) string { return addrOf[name] + ":7001" }
	o.Place = func(n *Node) {
		ns := nsOf[n.Name]
		n.Exec, n.Dial = ns.Exec(), ns.DialContext
	}
	if o.Wait == 0 {
		o.Wait = 3 * time.Minute
	}
	return NewPairWith(ctx, root, bin, nil, o)
}

// linkRun is a bench --link run under way: USA's sender and the watches of
// its two channels' receipts, and the link's counters.
type linkRun struct {
	ctx       context.Context
	tb        *linkemu.Testbed
	send      sender
	closeSend func()
	wb, wf    *deliveryWatch
	text      string
}

func newLinkRun(ctx context.Context, pair *Pair, tb *linkemu.Testbed, text string) (*linkRun, error) {
	a := pair.A.Client()
	send, closeSend, err := newSender(ctx, a, SendStream)
	if err != nil {
		return nil, err
	}
	r := &linkRun{ctx: ctx, tb: tb, send: send, closeSend: closeSend, text: text}
	if r.wb, err = newDeliveryWatch(ctx, a, chBench, pair.A.Name); err == nil {
		r.wf, err = newDeliveryWatch(ctx, a, chFlash, pair.A.Name)
	}
	if err != nil {
		closeSend()
		return nil, err
	}
	return r, nil
}

func (r *linkRun) close() { r.closeSend() }

// wire is the bytes on the link so far, both ways.
func (r *linkRun) wire() uint64 {
	ab, ba := r.tb.Link.Stats()
	return ab.Wire() + ba.Wire()
}

// one sends one message and waits for its receipt.
func (r *linkRun) one(w *deliveryWatch, ch, prec string) (time.Duration, error) {
	t0 := time.Now()
	m, err := r.send(r.ctx, ops.SendRequest{Channel: ch, Precedence: prec, Text: r.text})
	if err != nil {
		return 0, err
	}
	if err := w.waitFor(r.ctx, m.Index, 10*time.Minute); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}

// oneInFlight sends n ROUTINE messages one at a time, after three not
// recorded (connections and caches), and the bytes they took.
func (r *linkRun) oneInFlight(res *LinkResult, n int) error {
	for range 3 {
		if _, err := r.one(r.wb, chBench, "ROUTINE"); err != nil {
			return err
		}
	}
	before := r.wire()
	var ds []time.Duration
	for range n {
		d, err := r.one(r.wb, chBench, "ROUTINE")
		if err != nil {
			return err
		}
		ds = append(ds, d)
	}
	res.OneInFlight = summarize(ds)
	res.WireBytes.OneInFlight = float64(r.wire()-before) / float64(n)
	return nil
}

// flashBehind sends, n times, k ROUTINE messages on the bench channel and
// then a FLASH on ch, measures the FLASH, and waits for the backlog.
func (r *linkRun) flashBehind(w *deliveryWatch, ch string, n, k int) (Latency, error) {
	var ds []time.Duration
	for range n {
		last, err := queue(r.ctx, r.send, chBench, "ROUTINE", r.text, k)
		if err != nil {
			return Latency{}, err
		}
		d, err := r.one(w, ch, "FLASH")
		if err != nil {
			return Latency{}, err
		}
		ds = append(ds, d)
		if err := r.wb.waitFor(r.ctx, last, 30*time.Minute); err != nil {
			return Latency{}, err
		}
	}
	return summarize(ds), nil
}

// catchUp cuts the link, sends n ROUTINE messages, heals it after the
// outage and measures until the last is receipted.
func (r *linkRun) catchUp(res *LinkResult, p linkemu.Profile, n int, outage time.Duration) error {
	r.tb.Link.Cut()
	cut := time.Now()
	first, last, err := queueSpan(r.ctx, r.send, chBench, "ROUTINE", r.text, n)
	if err != nil {
		r.tb.Link.Heal()
		return err
	}
	if rest := outage - time.Since(cut); rest > 0 {
		time.Sleep(rest)
	}
	abBefore, baBefore := r.tb.Link.Stats()
	r.tb.Link.Heal()
	healed := time.Now()
	res.Backlog.Messages, res.Backlog.OutageS = n, healed.Sub(cut).Seconds()
	if err := r.wb.waitFor(r.ctx, first, 30*time.Minute); err != nil {
		return err
	}
	res.Backlog.ReconnectS = time.Since(healed).Seconds()
	if err := r.wb.waitFor(r.ctx, last, 60*time.Minute); err != nil {
		return err
	}
	took := time.Since(healed)
	abAfter, baAfter := r.tb.Link.Stats()
	res.Backlog.Seconds = took.Seconds()
	res.WireBytes.Bulk = float64(abAfter.Wire()-abBefore.Wire()+baAfter.Wire()-baBefore.Wire()) / float64(n)
	if p.Rate > 0 {
		capacity := float64(p.Rate) / 8 * took.Seconds()
		res.Backlog.LinkUtilisation = float64(abAfter.Wire()-abBefore.Wire()) / capacity
		res.Backlog.PayloadShare = float64(n*res.Size) / capacity
	}
	return nil
}

// idle measures the traffic each way while nothing is sent for d.
func (r *linkRun) idle(res *LinkResult, p linkemu.Profile, d time.Duration) error {
	ab0, ba0 := r.tb.Link.Stats()
	t0 := time.Now()
	select {
	case <-time.After(d):
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
	secs := time.Since(t0).Seconds()
	ab1, ba1 := r.tb.Link.Stats()
	res.IdleEachWay = [2]float64{float64(ab1.Wire()-ab0.Wire()) / secs, float64(ba1.Wire()-ba0.Wire()) / secs}
	res.IdleBytesPerS = res.IdleEachWay[0] + res.IdleEachWay[1]
	res.IdleChannels = 2
	if p.Rate > 0 {
		res.IdleShare = res.IdleBytesPerS * 8 / float64(p.Rate)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// queue sends n messages pipelined, each returning once durable at the
// sender (not waiting for receipts), and returns the last index.
func queue(ctx context.Context, send sender, ch, prec, text string, n int) (uint64, error) {
	_, last, err := queueSpan(ctx, send, ch, prec, text, n)
	return last, err
}

// queueSpan is queue returning the first index too.
func queueSpan(ctx context.Context, send sender, ch, prec, text string, n int) (first, last uint64, err error) {
	var (
		next     atomic.Int64
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	if n <= 0 {
		return 0, 0, errors.New("nothing to queue")
	}
	first = ^uint64(0)
	for range min(n, 64) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for int(next.Add(1)) <= n {
				m, err := send(ctx, ops.SendRequest{Channel: ch, Precedence: prec, Text: text})
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				first, last = min(first, m.Index), max(last, m.Index)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return 0, 0, firstErr
	}
	return first, last, nil
}

func printLinkBench(out io.Writer, r *LinkResult) {
	l := r.Link
	fmt.Fprintf(out, "hotline bench --link %s: %s, %d-byte messages, two stations in network namespaces joined by an emulated link\n", l.Profile, r.Machine, r.Size)
	fmt.Fprintf(out, "link: rtt %.0f ms, jitter ±%.0f ms, loss %.2f%% (bursts of %.0f), rate %s, queue %d bytes, MTU %d\n",
		l.RTTms, l.JitterMs, l.Loss*100, max(1, l.Burst), rateText(l.RateBps), l.QueueBytes, l.MTU)
	fmt.Fprintf(out, "floor: %.1f ms (one round trip, the entry (%d bytes) and its receipt (%d bytes) at the link's rate, the stations' %.2f ms)\n\n",
		l.FloorMs, r.Station.EntryBytes, r.Station.ReceiptBytes, r.Station.EpochTotalMs)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "send → cosigned receipt\tn\tp50 ms\tp99 ms\tp50/floor\tp99/floor\t")
	for _, row := range []struct {
		name string
		l    Latency
	}{{"one in flight", r.OneInFlight}, {"FLASH behind ROUTINE, same channel", r.FlashUnderLoad}, {"FLASH behind ROUTINE, other channel", r.FlashOtherChannel}} {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.2f\t%.2f\t\n", row.name, row.l.N, row.l.P50ms, row.l.P99ms, row.l.P50ms/l.FloorMs, row.l.P99ms/l.FloorMs)
	}
	tw.Flush()
	fmt.Fprintf(out, "(each FLASH sent behind %d ROUTINE messages)\n", r.FlashBacklog)
	fmt.Fprintf(out, "wire bytes per %d-byte message, both ways: one in flight %.0f (%.2f×), in bulk %.0f (%.2f×)\n",
		r.WireBytes.Payload, r.WireBytes.OneInFlight, r.WireBytes.OneInFlight/float64(r.WireBytes.Payload), r.WireBytes.Bulk, r.WireBytes.Bulk/float64(r.WireBytes.Payload))
	fmt.Fprintf(out, "idle: %.0f bytes/s both ways (%.0f USA→CHN, %.0f CHN→USA) with %d channels to one peer", r.IdleBytesPerS, r.IdleEachWay[0], r.IdleEachWay[1], r.IdleChannels)
	if l.RateBps > 0 {
		fmt.Fprintf(out, ", %.2f%% of the link", r.IdleShare*100)
	}
	fmt.Fprintln(out)
	b := r.Backlog
	fmt.Fprintf(out, "backlog: %d ROUTINE messages sent during a %.0f s outage caught up in %.1f s (first receipt after %.1f s)", b.Messages, b.OutageS, b.Seconds, b.ReconnectS)
	if l.RateBps > 0 {
		fmt.Fprintf(out, ", link use %.0f%%, text %.0f%% of its capacity", b.LinkUtilisation*100, b.PayloadShare*100)
	}
	fmt.Fprintln(out)
	fmt.Fprintf(out, "link counters USA→CHN: %d packets, %d lost, %d dropped by the queue; CHN→USA: %d packets, %d lost, %d dropped by the queue\n",
		r.Counters[0].Packets, r.Counters[0].Lost, r.Counters[0].QueueDrops, r.Counters[1].Packets, r.Counters[1].Lost, r.Counters[1].QueueDrops)
}

func rateText(bps int64) string {
	switch {
	case bps == 0:
		return "unlimited"
	case bps >= 1_000_000:
		return fmt.Sprintf("%g Mbit/s", float64(bps)/1e6)
	}
	return fmt.Sprintf("%g kbit/s", float64(bps)/1e3)
}
