package station

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"hotline/internal/ops"
	"hotline/internal/protocol"
	"hotline/internal/stationdir"
)

// benchPair opens two stations in this process, pinned to each other and
// running on loopback, with one agreed channel.
func benchPair(tb testing.TB) (a, b *Station) {
	tb.Helper()
	return logPair(tb, quietLog(), quietLog())
}

// logPair is benchPair with the stations' loggers.
func logPair(tb testing.TB, logA, logB *slog.Logger) (a, b *Station) {
	tb.Helper()
	ctx := tb.Context()
	root := tb.TempDir()
	open := func(name string, log *slog.Logger) *Station {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		dir := filepath.Join(root, name)
		if _, err := stationdir.Init(ctx, stationdir.InitOptions{Dir: dir, Name: name, Party: name, PeerListen: addr, APIListen: "127.0.0.1:0"}); err != nil {
			tb.Fatal(err)
		}
		st, err := Open(ctx, dir, log)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { st.Close() })
		return st
	}
	a, b = open("USA", logA), open("CHN", logB)
	for _, pin := range [][2]*Station{{a, b}, {b, a}} {
		if _, err := pin[0].AddPeer(ctx, pin[1].OwnCard.Text, pin[1].OwnCard.Fingerprint()); err != nil {
			tb.Fatal(err)
		}
	}
	for _, st := range []*Station{a, b} {
		go st.Run(ctx)
	}
	notes, cancel := b.Subscribe()
	defer cancel()
	if _, err := a.Propose(ctx, ops.ProposeRequest{Peer: "CHN", Channel: "bench", Level: "staff"}); err != nil {
		tb.Fatal(err)
	}
	waitNote(tb, notes, func(n protocol.Notify) bool { return n.What == "channel" && n.Channel == "bench" })
	an, cancelA := a.Subscribe()
	defer cancelA()
	if _, err := b.Accept(ctx, "bench"); err != nil {
		tb.Fatal(err)
	}
	waitNote(tb, an, func(n protocol.Notify) bool { return n.What == "channel" && n.Channel == "bench" })
	return a, b
}

func waitNote(tb testing.TB, ch <-chan protocol.Notify, ok func(protocol.Notify) bool) protocol.Notify {
	tb.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case n := <-ch:
			if ok(n) {
				return n
			}
		case <-timeout:
			tb.Fatal("timed out waiting for a notification")
		}
	}
}

// BenchmarkSendToReceipt is one message in flight between two stations in
// one process, over real TLS on loopback, both durable: from Send to the
// peer's cosigned receipt. It leaves out the HTTP API and the separate
// processes that hotline bench includes.
func BenchmarkSendToReceipt(b *testing.B) {
	a, _ := benchPair(b)
	notes, cancel := a.Subscribe()
	defer cancel()
	text := strings.Repeat("x", 256)
	ctx := context.Background()
	var lats []time.Duration
	for b.Loop() {
		t0 := time.Now()
		m, err := a.Send(ctx, ops.SendRequest{Channel: "bench", Precedence: "FLASH", Text: text})
		if err != nil {
			b.Fatal(err)
		}
		suffix := "-" + itoa(m.Index)
		waitNote(b, notes, func(n protocol.Notify) bool { return n.What == "delivered" && strings.HasSuffix(n.Entry, suffix) })
		lats = append(lats, time.Since(t0))
	}
	slices.Sort(lats)
	b.ReportMetric(float64(lats[len(lats)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds())/1000, "p99-ms")
}

func itoa(n uint64) string {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(buf[i:])
		}
	}
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestSignedAheadWhileWriting: the station's loop tells the core once the
// writer has begun a group (protocol.Writing), so that the author's
// checkpoint and the receiver's receipt are signed while the disk writes,
// and the entries go ahead, to be checked by the receiver meanwhile; both
// leave signed ahead, the receiver takes the entries sent ahead on their
// durable frame, and the message is delivered.
func TestSignedAheadWhileWriting(t *testing.T) {
	a, b := benchPair(t)
	notes, cancel := a.Subscribe()
	defer cancel()
	ctx := t.Context()
	for i := range 3 {
		m, err := a.Send(ctx, ops.SendRequest{Channel: "bench", Precedence: "FLASH", Text: fmt.Sprintf("message %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		suffix := "-" + itoa(m.Index)
		waitNote(t, notes, func(n protocol.Notify) bool { return n.What == "delivered" && strings.HasSuffix(n.Entry, suffix) })
	}
	ahead := func(s *Station) int {
		var n int
		if err := s.inLoop(ctx, func() { n = s.core.Stats.SignedAhead }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	var sent, taken int
	a.inLoop(ctx, func() { sent = a.core.Stats.SentAhead })
	b.inLoop(ctx, func() { taken = b.core.Stats.TakenAhead })
	if sent == 0 || taken == 0 {
		t.Errorf("the author sent %d entries frames ahead of their write, the receiver took %d; want some", sent, taken)
	}
	if n := ahead(a); n == 0 {
		t.Error("the author signed no checkpoint ahead of its write")
	}
	if n := ahead(b); n == 0 {
		t.Error("the receiver signed no receipt ahead of its write")
	}
}
