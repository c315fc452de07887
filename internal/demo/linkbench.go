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
// a message costs on it.
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

	res := &LinkResult{Machine: fmt.Sprintf("%s/%s, %d CPUs", runtime.GOOS, runtime.GOARCH, runtime.NumCPU()), Size: o.Size}
	res.WireBytes.Payload = o.Size
	if res.Station, err = measureCrypto(o.Size); err != nil {
		return err
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	root, err := os.MkdirTemp("", "hotline-bench-link-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	probe, err := newFsyncProbe(root, o.Size)
	if err != nil {
		return err
	}
	if err := probe.sample(floorSamples); err != nil {
		probe.close()
		return err
	}
	probe.setFsync(&res.Station)
	probe.close()
	res.Link = LinkFigures{Profile: p.Name, RTTms: p.RTTms(), JitterMs: p.JitterMs(), Loss: p.Loss, Burst: p.Burst,
		RateBps: p.Rate, QueueBytes: p.Queue, MTU: p.MTU}
	res.Link.FloorMs = ms(p.RTT+p.Serialise(res.Station.EntryBytes+segmentOverhead)+p.Serialise(res.Station.ReceiptBytes+segmentOverhead)) + res.Station.EpochTotalMs

	step("making two network namespaces joined by the emulated link")
	tb, err := linkemu.NewTestbed(fmt.Sprintf("hlb%d", os.Getpid()), p, o.Seed)
	if err != nil {
		return err
	}
	defer tb.Close()
	nsOf := map[string]*linkemu.Namespace{"USA": tb.A, "CHN": tb.B}
	addrOf := map[string]string{"USA": tb.AddrA, "CHN": tb.AddrB}
	// Acknowledgement deadlines of a day: the run's messages stay
	// unacknowledged, and no reminder may add traffic to what is measured.
	deadlines := map[string]string{"FLASH": "20h", "IMMEDIATE": "21h", "PRIORITY": "22h", "ROUTINE": "23h"}
	const chBench, chFlash = "bench", "flash"
	step("starting USA and CHN, pairing them and agreeing channels %s and %s over the link", chBench, chFlash)
	pair, err := NewPairWith(ctx, root, bin, nil, PairOptions{
		Listen: func(name string) string { return addrOf[name] + ":7001" },
		Place: func(n *Node) {
			ns := nsOf[n.Name]
			n.Exec, n.Dial = ns.Exec(), ns.DialContext
		},
		Proposals: []ops.ProposeRequest{{Channel: chBench, Level: "staff", Deadlines: deadlines}, {Channel: chFlash, Level: "staff", Deadlines: deadlines}},
		Wait:      3 * time.Minute,
	})
	if err != nil {
		return err
	}
	defer pair.Stop()
	a := pair.A.Client()
	send, closeSend, err := newSender(ctx, a, SendStream)
	if err != nil {
		return err
	}
	defer closeSend()
	wb, err := newDeliveryWatch(ctx, a, chBench, pair.A.Name)
	if err != nil {
		return err
	}
	wf, err := newDeliveryWatch(ctx, a, chFlash, pair.A.Name)
	if err != nil {
		return err
	}
	text := strings.Repeat("x", o.Size)
	wire := func() uint64 {
		ab, ba := tb.Link.Stats()
		return ab.Wire() + ba.Wire()
	}
	one := func(w *deliveryWatch, ch, prec string) (time.Duration, error) {
		t0 := time.Now()
		m, err := send(ctx, ops.SendRequest{Channel: ch, Precedence: prec, Text: text})
		if err != nil {
			return 0, err
		}
		if err := w.waitFor(ctx, m.Index, 10*time.Minute); err != nil {
			return 0, err
		}
		return time.Since(t0), nil
	}

	step("%d messages one in flight", lat)
	for range 3 { // warm-up, not recorded: connections and caches
		if _, err := one(wb, chBench, "ROUTINE"); err != nil {
			return err
		}
	}
	before := wire()
	var ds []time.Duration
	for range lat {
		d, err := one(wb, chBench, "ROUTINE")
		if err != nil {
			return err
		}
		ds = append(ds, d)
	}
	res.OneInFlight = summarize(ds)
	res.WireBytes.OneInFlight = float64(wire()-before) / float64(lat)

	// The backlog before each FLASH: about ten seconds of the link.
	k := 1000
	if p.Rate > 0 {
		perMsg := max(res.WireBytes.OneInFlight, float64(o.Size))
		k = min(1000, max(20, int(float64(p.Rate)/8*10/perMsg)))
	}
	res.FlashBacklog = k
	for _, v := range []struct {
		name string
		w    *deliveryWatch
		ch   string
		out  *Latency
	}{{"on the same channel", wb, chBench, &res.FlashUnderLoad}, {"on another channel", wf, chFlash, &res.FlashOtherChannel}} {
		step("%d FLASH messages %s, each behind %d ROUTINE", flash, v.name, k)
		var ds []time.Duration
		for range flash {
			last, err := queue(ctx, send, chBench, "ROUTINE", text, k)
			if err != nil {
				return err
			}
			d, err := one(v.w, v.ch, "FLASH")
			if err != nil {
				return err
			}
			ds = append(ds, d)
			if err := wb.waitFor(ctx, last, 30*time.Minute); err != nil {
				return err
			}
		}
		*v.out = summarize(ds)
	}

	outage := 10 * time.Second
	step("%d ROUTINE messages sent during a %v outage, then caught up", backlog, outage)
	tb.Link.Cut()
	cut := time.Now()
	firstIdx, lastIdx, err := queueSpan(ctx, send, chBench, "ROUTINE", text, backlog)
	if err != nil {
		tb.Link.Heal()
		return err
	}
	if rest := outage - time.Since(cut); rest > 0 {
		time.Sleep(rest)
	}
	abBefore, baBefore := tb.Link.Stats()
	tb.Link.Heal()
	healed := time.Now()
	res.Backlog.Messages, res.Backlog.OutageS = backlog, healed.Sub(cut).Seconds()
	if err := wb.waitFor(ctx, firstIdx, 30*time.Minute); err != nil {
		return err
	}
	res.Backlog.ReconnectS = time.Since(healed).Seconds()
	if err := wb.waitFor(ctx, lastIdx, 60*time.Minute); err != nil {
		return err
	}
	took := time.Since(healed)
	abAfter, baAfter := tb.Link.Stats()
	res.Backlog.Seconds = took.Seconds()
	res.WireBytes.Bulk = float64(abAfter.Wire()-abBefore.Wire()+baAfter.Wire()-baBefore.Wire()) / float64(backlog)
	if p.Rate > 0 {
		capacity := float64(p.Rate) / 8 * took.Seconds()
		res.Backlog.LinkUtilisation = float64(abAfter.Wire()-abBefore.Wire()) / capacity
		res.Backlog.PayloadShare = float64(backlog*o.Size) / capacity
	}

	step("idle for %v", o.Idle)
	before = wire()
	ab0, ba0 := tb.Link.Stats()
	t0 := time.Now()
	select {
	case <-time.After(o.Idle):
	case <-ctx.Done():
		return ctx.Err()
	}
	idleS := time.Since(t0).Seconds()
	ab1, ba1 := tb.Link.Stats()
	res.IdleBytesPerS = float64(wire()-before) / idleS
	res.IdleEachWay = [2]float64{float64(ab1.Wire()-ab0.Wire()) / idleS, float64(ba1.Wire()-ba0.Wire()) / idleS}
	res.IdleChannels = 2
	if p.Rate > 0 {
		res.IdleShare = res.IdleBytesPerS * 8 / float64(p.Rate)
	}
	res.Counters[0], res.Counters[1] = tb.Link.Stats()
	if o.JSON {
		return json.NewEncoder(o.Out).Encode(res)
	}
	printLinkBench(o.Out, res)
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
	if n == 0 {
		return 0, 0, errors.New("nothing to queue")
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
