package station

import (
	"context"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"hotline/internal/ops"
	"hotline/internal/protocol"
	"hotline/internal/relay"
	"hotline/internal/stationdir"
)

// relayBenchPair opens USA and CHN in this process, whose only path is a
// relay in this process, with the channel "bench" agreed.
func relayBenchPair(b *testing.B) (usa, chn *Station, rs *relay.Server) {
	b.Helper()
	return relayPair(b, [2]string{"USA", "CHN"}, "bench", nil)
}

// relayPair opens two stations in this process whose only path is a
// relay in this process (their cards' direct endpoints lead nowhere),
// pinned to each other and running, with channel agreed. lie, if not
// nil, is the relay's lying policy (relay.Options.Lie).
func relayPair(b testing.TB, names [2]string, channel string, lie func(relay.Mail) []relay.Mail) (usa, chn *Station, rs *relay.Server) {
	b.Helper()
	ctx := b.Context()
	root := b.TempDir()
	free := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	relayAddr := free()
	rdir := filepath.Join(root, "relay")
	rcard, err := relay.Init(ctx, relay.InitOptions{Dir: rdir, Name: "NEUTRAL", Party: "RELAY", Listen: relayAddr})
	if err != nil {
		b.Fatal(err)
	}
	rs, err = relay.Open(ctx, rdir, relay.Options{Log: quietLog(), Lie: lie})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rs.Close() })
	ln, err := net.Listen("tcp", relayAddr)
	if err != nil {
		b.Fatal(err)
	}
	go rs.Serve(ctx, ln)
	var sts []*Station
	for _, name := range names {
		dir := filepath.Join(root, name)
		// The card's endpoint: a free port nobody listens on.
		if _, err := stationdir.Init(ctx, stationdir.InitOptions{Dir: dir, Name: name, Party: name, PeerListen: "127.0.0.1:0",
			APIListen: "127.0.0.1:0", Endpoints: []string{free()}}); err != nil {
			b.Fatal(err)
		}
		card, err := stationdir.AddRelay(ctx, dir, rcard.Text, rcard.Fingerprint())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := relay.Allow(ctx, rdir, card.Text, card.Fingerprint()); err != nil {
			b.Fatal(err)
		}
		st, err := Open(ctx, dir, quietLog())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		sts = append(sts, st)
	}
	usa, chn = sts[0], sts[1]
	for _, pin := range [][2]*Station{{usa, chn}, {chn, usa}} {
		if _, err := pin[0].AddPeer(ctx, pin[1].OwnCard.Text, pin[1].OwnCard.Fingerprint()); err != nil {
			b.Fatal(err)
		}
	}
	for _, st := range sts {
		go st.Run(ctx)
	}
	notes, cancel := chn.Subscribe()
	defer cancel()
	if _, err := usa.Propose(ctx, ops.ProposeRequest{Peer: names[1], Channel: channel, Level: "staff"}); err != nil {
		b.Fatal(err)
	}
	waitNote(b, notes, func(n protocol.Notify) bool { return n.What == "channel" && n.Channel == channel })
	an, cancelA := usa.Subscribe()
	defer cancelA()
	if _, err := chn.Accept(ctx, channel); err != nil {
		b.Fatal(err)
	}
	waitNote(b, an, func(n protocol.Notify) bool { return n.What == "channel" && n.Channel == channel })
	return usa, chn, rs
}

// cpuTime is the CPU time this process has used, user and system: here
// both stations' and the relay's. On a machine shared with other work, it
// is what a message costs; the time per message also counts the waits
// for a CPU.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportDeposits reports the relay's deposits over the run: how many per
// message and their mean size, probes between the stations included; and
// the CPU time of the process per message since cpu0.
func reportDeposits(b *testing.B, rs *relay.Server, before relay.Counters, msgs int, cpu0 time.Duration) {
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(msgs), "cpu-µs/msg")
	after := rs.Stats()
	n := after.Deposits - before.Deposits
	if n > 0 {
		b.ReportMetric(float64(n)/float64(msgs), "deposits/msg")
		b.ReportMetric(float64(after.DepositedBytes-before.DepositedBytes)/float64(n), "B/deposit")
	}
}

// BenchmarkRelaySendToReceipt is BenchmarkSendToReceipt over a relay: one
// message in flight between two stations whose only path is a relay, all
// three in this process on loopback, from Send to the peer's cosigned
// receipt. The entries frame and the receipt each pass a durable commit
// at the relay.
func BenchmarkRelaySendToReceipt(b *testing.B) {
	usa, _, rs := relayBenchPair(b)
	notes, cancel := usa.Subscribe()
	defer cancel()
	text := strings.Repeat("x", 256)
	ctx := context.Background()
	var lats []time.Duration
	before, cpu0 := rs.Stats(), cpuTime()
	for b.Loop() {
		t0 := time.Now()
		m, err := usa.Send(ctx, ops.SendRequest{Channel: "bench", Precedence: "FLASH", Text: text})
		if err != nil {
			b.Fatal(err)
		}
		suffix := "-" + itoa(m.Index)
		waitNote(b, notes, func(n protocol.Notify) bool { return n.What == "delivered" && strings.HasSuffix(n.Entry, suffix) })
		lats = append(lats, time.Since(t0))
	}
	reportDeposits(b, rs, before, len(lats), cpu0)
	slices.Sort(lats)
	b.ReportMetric(float64(lats[len(lats)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkRelayThroughput queues b.N messages at once on a channel whose
// only path is a relay and waits until the peer has receipted the last:
// entries go many to a frame, and receipts cover many entries.
func BenchmarkRelayThroughput(b *testing.B) {
	usa, _, rs := relayBenchPair(b)
	text := strings.Repeat("x", 256)
	ctx := context.Background()
	before, cpu0 := rs.Stats(), cpuTime()
	b.ResetTimer()
	var queued []*QueuedSend
	for range b.N {
		q, err := usa.QueueSend(ctx, ops.SendRequest{Channel: "bench", Precedence: "ROUTINE", Text: text})
		if err != nil {
			b.Fatal(err)
		}
		queued = append(queued, q)
	}
	for _, q := range queued {
		if _, err := q.Wait(); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		cs, err := usa.Channels(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(cs) == 1 && cs[0].Delivered == cs[0].Written {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("after 5 minutes, %d of %d delivered", cs[0].Delivered, cs[0].Written)
		}
		time.Sleep(2 * time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	reportDeposits(b, rs, before, b.N, cpu0)
}
