package relay_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"hotline/internal/home"
	"hotline/internal/identity"
	"hotline/internal/link"
	"hotline/internal/relay"
)

// TestDepositAndReceive: two stations over real TLS on loopback. Mail to a
// connected station is pushed at once; mail to an absent one waits and is
// streamed, in order, when it connects.
func TestDepositAndReceive(t *testing.T) {
	r := newRelay(t, nil)
	usa, chn := newStation(t, "USA"), newStation(t, "CHN")
	r.allow(usa, chn)
	r.Start()
	ctx := t.Context()

	a, b := r.dial(usa), r.dial(chn)
	start := time.Now()
	if err := a.Deposit(ctx, chn.key(), []byte("frame one")); err != nil {
		t.Fatal(err)
	}
	got := receive(t, b, 1, 2*time.Second)
	if pushed := time.Since(start); pushed > time.Second {
		t.Errorf("deposit to delivery took %s; a station fails over to a relay within 2 s", pushed)
	}
	m := got[0]
	if string(m.Payload) != "frame one" || !m.From.Equal(usa.key()) || m.ID == 0 {
		t.Errorf("mail = %+v", m)
	}
	if want := r.clock.Now(); !m.DepositedAt.Equal(want) {
		t.Errorf("deposited at %v, want the relay's clock %v", m.DepositedAt, want)
	}

	// CHN answers while USA is away: it waits, then arrives in order.
	a.Close()
	for i := range 5 {
		if err := b.Deposit(ctx, usa.key(), fmt.Appendf(nil, "reply %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	a = r.dial(usa)
	got = receive(t, a, 5, 5*time.Second)
	for i, m := range got {
		if want := fmt.Sprintf("reply %d", i); string(m.Payload) != want || !m.From.Equal(chn.key()) {
			t.Errorf("mail %d = %q from %x, want %q from CHN", i, m.Payload, []byte(m.From)[:4], want)
		}
		if i > 0 && m.ID <= got[i-1].ID {
			t.Errorf("mail IDs not increasing: %d after %d", m.ID, got[i-1].ID)
		}
	}
	quietFor(t, b, 100*time.Millisecond)
	if rtt, err := a.Ping(ctx); err != nil || rtt <= 0 || rtt > time.Second {
		t.Errorf("Ping = %s, %v", rtt, err)
	}
	// The relay's clock is injected: the offset is how far it is from ours.
	if off, ok := a.ClockOffset(); !ok || (off-r.clock.Now().Sub(time.Now())).Abs() > time.Second {
		t.Errorf("ClockOffset = %s, %v; want about %s", off, ok, r.clock.Now().Sub(time.Now()))
	}
	st := r.srv.Stats()
	if st.Deposits != 6 || st.Connections != 3 {
		t.Errorf("counters = %+v, want 6 deposits, 3 connections", st)
	}
}

// TestPipelinedDeposits: many deposits in flight at once on one
// connection are all stored, each answered, and streamed in order.
func TestPipelinedDeposits(t *testing.T) {
	r := newRelay(t, nil)
	usa, chn := newStation(t, "USA"), newStation(t, "CHN")
	r.allow(usa, chn)
	r.Start()
	a, b := r.dial(usa), r.dial(chn)
	const n = 2000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			if err := a.Deposit(t.Context(), chn.key(), fmt.Appendf(nil, "%05d", i)); err != nil {
				errs <- err
			}
		})
	}
	got := receive(t, b, n, 30*time.Second)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, m := range got {
		if i > 0 && m.ID <= got[i-1].ID {
			t.Fatalf("mail %d has ID %d after %d", i, m.ID, got[i-1].ID)
		}
		seen[string(m.Payload)] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct payloads, want %d", len(seen), n)
	}
}

// TestUnallowedKeyRefused: a key the relay has not allowed is refused at
// the handshake, and counted.
func TestUnallowedKeyRefused(t *testing.T) {
	r := newRelay(t, nil)
	usa, rus := newStation(t, "USA"), newStation(t, "RUS")
	r.allow(usa)
	r.Start()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := relay.Dial(ctx, r.addr, r.card.SignKey, rus.cert)
	if !errors.Is(err, relay.ErrNotAllowed) {
		t.Fatalf("Dial with an unallowed key: %v, want ErrNotAllowed", err)
	}
	waitFor(t, func() bool { return r.srv.Stats().Refused["unknown station"] == 1 }, "the refusal to be counted")
	if st := r.srv.Stats(); st.Connections != 0 {
		t.Errorf("connections = %d", st.Connections)
	}
	// A client with no certificate at all is refused too, and counted.
	tc, err := tls.Dial("tcp", r.addr, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	if err == nil {
		tc.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = tc.Read(make([]byte, 1))
		tc.Close()
	}
	if err == nil {
		t.Fatal("a client without a certificate was served")
	}
	waitFor(t, func() bool { return r.srv.Stats().Refused["handshake failed"] == 1 }, "the failed handshake to be counted")
	// Allowed later, while the relay runs: it connects.
	r.allow(rus)
	r.dial(rus)
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestOwnMailOnly: a station receives its own mail and nobody else's,
// and cannot delete another's.
func TestOwnMailOnly(t *testing.T) {
	r := newRelay(t, nil)
	usa, chn, gbr := newStation(t, "USA"), newStation(t, "CHN"), newStation(t, "GBR")
	r.allow(usa, chn, gbr)
	r.Start()
	ctx := t.Context()
	a := r.dial(usa)
	for i := range 3 {
		if err := a.Deposit(ctx, chn.key(), fmt.Appendf(nil, "for CHN %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Deposit(ctx, gbr.key(), []byte("for GBR")); err != nil {
		t.Fatal(err)
	}
	g := r.dial(gbr)
	got := receive(t, g, 1, 5*time.Second)
	if string(got[0].Payload) != "for GBR" {
		t.Errorf("GBR received %q", got[0].Payload)
	}
	quietFor(t, g, 200*time.Millisecond)
	// GBR deletes everything it could name: only its own mail goes.
	if err := g.Delete(ctx, 1<<62); err != nil {
		t.Fatal(err)
	}
	quietFor(t, a, 100*time.Millisecond)
	b := r.dial(chn)
	got = receive(t, b, 3, 5*time.Second)
	for i, m := range got {
		if want := fmt.Sprintf("for CHN %d", i); string(m.Payload) != want {
			t.Errorf("CHN mail %d = %q, want %q", i, m.Payload, want)
		}
	}
	quietFor(t, b, 200*time.Millisecond)
}

// TestWrongRelayKey: a client that pinned another key refuses a relay
// presenting its own.
func TestWrongRelayKey(t *testing.T) {
	r := newRelay(t, nil)
	usa := newStation(t, "USA")
	r.allow(usa)
	r.Start()
	impostor := newStation(t, "RELAY-XX")
	_, err := relay.Dial(t.Context(), r.addr, impostor.key(), usa.cert)
	if !errors.Is(err, link.ErrNotPinned) {
		t.Fatalf("Dial pinned to another key: %v, want link.ErrNotPinned", err)
	}
	if st := r.srv.Stats(); st.Connections != 0 {
		t.Errorf("the relay counted %d connections", st.Connections)
	}
}

// TestRedeliveryAndDelete: mail sent but not deleted comes again on the
// next connection; deleted mail never does, also after a restart.
func TestRedeliveryAndDelete(t *testing.T) {
	r := newRelay(t, nil)
	usa, chn := newStation(t, "USA"), newStation(t, "CHN")
	r.allow(usa, chn)
	r.Start()
	ctx := t.Context()
	a := r.dial(usa)
	deposit := func(text string) {
		t.Helper()
		if err := a.Deposit(ctx, chn.key(), []byte(text)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 4 {
		deposit(fmt.Sprintf("m%d", i))
	}
	b := r.dial(chn)
	got := receive(t, b, 4, 5*time.Second)
	b.Close()
	b = r.dial(chn)
	again := receive(t, b, 4, 5*time.Second)
	for i := range got {
		if got[i].ID != again[i].ID || !bytes.Equal(got[i].Payload, again[i].Payload) {
			t.Errorf("redelivered mail %d = %d %q, first %d %q", i, again[i].ID, again[i].Payload, got[i].ID, got[i].Payload)
		}
	}
	if err := b.Delete(ctx, again[1].ID); err != nil {
		t.Fatal(err)
	}
	b.Close()

	b = r.dial(chn)
	got = receive(t, b, 2, 5*time.Second)
	if string(got[0].Payload) != "m2" || string(got[1].Payload) != "m3" {
		t.Errorf("after deleting up to m1: %q, %q", got[0].Payload, got[1].Payload)
	}
	b.Close()
	deposit("m4")

	r.Stop()
	r.Start()
	b = r.dial(chn)
	got = receive(t, b, 3, 5*time.Second)
	for i, want := range []string{"m2", "m3", "m4"} {
		if string(got[i].Payload) != want {
			t.Errorf("after restart, mail %d = %q, want %q", i, got[i].Payload, want)
		}
	}
	quietFor(t, b, 100*time.Millisecond)
	if err := b.Delete(ctx, got[2].ID); err != nil {
		t.Fatal(err)
	}
	if st := r.srv.Stats(); st.PickedUp != 5 || st.Deposits != 5 {
		t.Errorf("counters after restart: %+v, want 5 deposits, 5 picked up", st)
	}
	s, err := r.srv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range s.Stations {
		if v.Pending.Messages != 0 || v.Deposited.Messages != 0 || v.Pending.Bytes != 0 {
			t.Errorf("%s still has mail: %+v", v.Name, v)
		}
	}
}

// TestDurableAcrossRestart: everything answered Stored is there after the
// relay stops and starts again.
func TestDurableAcrossRestart(t *testing.T) {
	r := newRelay(t, nil)
	usa, chn := newStation(t, "USA"), newStation(t, "CHN")
	r.allow(usa, chn)
	r.Start()
	a := r.dial(usa)
	const n = 300
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := a.Deposit(t.Context(), chn.key(), fmt.Appendf(nil, "entry %d", i)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	r.Stop()
	r.Start()
	b := r.dial(chn)
	got := receive(t, b, n, 10*time.Second)
	seen := map[string]bool{}
	for _, m := range got {
		seen[string(m.Payload)] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct after restart, want %d", len(seen), n)
	}
	quietFor(t, b, 100*time.Millisecond)
}

// TestQuotas: each limit refuses with its reason, names the numbers, and
// stores nothing; deleting makes room again.
func TestQuotas(t *testing.T) {
	r := newRelay(t, nil)
	usa, chn, gbr, rus := newStation(t, "USA"), newStation(t, "CHN"), newStation(t, "GBR"), newStation(t, "RUS")
	r.allow(usa, chn, gbr)
	editConfig(t, r.dir, func(c map[string]any) {
		c["recipient_quota"] = map[string]any{"messages": 3, "bytes": 1000}
		c["sender_quota"] = map[string]any{"messages": 5, "bytes": 100000}
		c["max_payload"] = 600
	})
	r.Start()
	ctx := t.Context()
	a, g := r.dial(usa), r.dial(gbr)
	ok := func(c *relay.Client, to station, size int) {
		t.Helper()
		if err := c.Deposit(ctx, to.key(), make([]byte, size)); err != nil {
			t.Fatal(err)
		}
	}
	refused := func(c *relay.Client, to station, size int, want error, words ...string) {
		t.Helper()
		err := c.Deposit(ctx, to.key(), make([]byte, size))
		var re *relay.RefusedError
		if !errors.As(err, &re) || !errors.Is(err, want) || !errors.Is(err, relay.ErrRefused) {
			t.Fatalf("deposit of %d bytes: %v, want a refusal matching %v", size, err, want)
		}
		for _, w := range words {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("refusal %q does not mention %q", err, w)
			}
		}
	}
	refused(a, chn, 601, relay.ErrTooLarge, "601 bytes", "limit of 600")
	refused(a, rus, 10, relay.ErrUnknownRecipient, "not allowed")
	ok(a, chn, 500)
	refused(a, chn, 501, relay.ErrQuota, "mailbox of CHN is full", "500 bytes pending", "1000 bytes")
	ok(a, chn, 100)
	ok(g, chn, 100)
	refused(g, chn, 1, relay.ErrQuota, "mailbox of CHN is full", "3 messages")
	ok(a, gbr, 1)
	ok(a, gbr, 1)
	ok(a, gbr, 1)
	refused(a, gbr, 1, relay.ErrQuota, "mailbox of GBR is full")
	// USA now has 5 deposits pending (2 at CHN, 3 at GBR): its sender quota.
	refused(a, usa, 1, relay.ErrQuota, "this station's deposits", "5 messages")
	st := r.srv.Stats()
	want := map[string]int64{"too large": 1, "unknown recipient": 1, "recipient quota": 3, "sender quota": 1}
	for k, v := range want {
		if st.Refused[k] != v {
			t.Errorf("refused %q = %d, want %d (all: %v)", k, st.Refused[k], v, st.Refused)
		}
	}
	if st.Deposits != 6 {
		t.Errorf("deposits = %d, want 6", st.Deposits)
	}
	// CHN picks up its mail: room again for CHN, and USA's sender quota.
	b := r.dial(chn)
	got := receive(t, b, 3, 5*time.Second)
	if err := b.Delete(ctx, got[2].ID); err != nil {
		t.Fatal(err)
	}
	ok(a, chn, 500)
	ok(g, chn, 500)
	s, err := r.srv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range s.Stations {
		if v.Name == "CHN" && (v.Pending.Messages != 2 || v.Pending.Bytes != 1000 || v.Pending.QuotaMessages != 3) {
			t.Errorf("CHN pending = %+v, want 2 messages, 1000 bytes, quota 3", v.Pending)
		}
		if v.Name == "USA" && (v.Deposited.Messages != 4 || v.Deposited.Bytes != 503) {
			t.Errorf("USA deposited = %+v, want 4 messages, 503 bytes", v.Deposited)
		}
	}
}

// editConfig changes a relay's config.json.
func editConfig(t *testing.T, dir string, edit func(map[string]any)) {
	t.Helper()
	p := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	edit(c)
	data, err = json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestExpiry: with the relay's clock moved on, mail older than the expiry
// is deleted and counted; younger mail stays, and is still delivered.
func TestExpiry(t *testing.T) {
	r := newRelay(t, func(o *relay.InitOptions) { o.Expiry = 48 * time.Hour })
	usa, chn := newStation(t, "USA"), newStation(t, "CHN")
	r.allow(usa, chn)
	r.Start()
	ctx := t.Context()
	a := r.dial(usa)
	for i := range 3 {
		if err := a.Deposit(ctx, chn.key(), fmt.Appendf(nil, "old %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	r.clock.Advance(24 * time.Hour)
	if err := a.Deposit(ctx, chn.key(), []byte("young")); err != nil {
		t.Fatal(err)
	}
	if n, err := r.srv.Expire(ctx); err != nil || n != 0 {
		t.Fatalf("Expire after 24h = %d, %v; want 0", n, err)
	}
	r.clock.Advance(24*time.Hour + time.Millisecond)
	if n, err := r.srv.Expire(ctx); err != nil || n != 3 {
		t.Fatalf("Expire after 48h = %d, %v; want 3", n, err)
	}
	if st := r.srv.Stats(); st.Expired != 3 {
		t.Errorf("expired counter = %d", st.Expired)
	}
	b := r.dial(chn)
	got := receive(t, b, 1, 5*time.Second)
	if string(got[0].Payload) != "young" {
		t.Errorf("after expiry CHN received %q", got[0].Payload)
	}
	quietFor(t, b, 100*time.Millisecond)
	// Expired mail no longer counts against the sender's quota.
	s, err := r.srv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range s.Stations {
		if v.Name == "USA" && v.Deposited.Messages != 1 {
			t.Errorf("USA deposited = %+v after expiry, want 1 message", v.Deposited)
		}
	}
	// The counter survives a restart.
	r.Stop()
	st, err := relay.List(ctx, r.dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Counters.Expired != 3 || st.Counters.Deposits != 4 {
		t.Errorf("counters on disk = %+v", st.Counters)
	}
}

// TestLockedAndKeys: one process runs a relay directory; readable keys
// are refused.
func TestLockedAndKeys(t *testing.T) {
	r := newRelay(t, nil)
	r.Start()
	if _, err := relay.Open(t.Context(), r.dir, relay.Options{Log: quiet()}); !errors.Is(err, relay.ErrLocked) {
		t.Errorf("second Open = %v, want ErrLocked", err)
	}
	r.Stop()
	p := filepath.Join(r.dir, "keys", "signing.key")
	if err := os.Chmod(p, 0o640); err != nil {
		t.Fatal(err)
	}
	_, err := relay.Open(t.Context(), r.dir, relay.Options{Log: quiet()})
	if !errors.Is(err, home.ErrKeyPermissions) || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("Open with a readable key = %v", err)
	}
}

// TestAllow: the fingerprint must match (and a refusal does not say the
// right one); the relay's own card, a name
// already allowed with other keys and a station's directory are refused.
func TestAllow(t *testing.T) {
	r := newRelay(t, nil)
	usa, chn := newStation(t, "USA"), newStation(t, "CHN")
	ctx := t.Context()
	_, err := relay.Allow(ctx, r.dir, usa.card.Text, chn.card.Fingerprint())
	// The refusal does not print the card's own fingerprint: that would
	// invite a copy past the check read aloud.
	if !errors.Is(err, identity.ErrFingerprint) || strings.Contains(err.Error(), usa.card.Fingerprint()) {
		t.Errorf("Allow with CHN's fingerprint for USA's card = %v", err)
	}
	if _, err := relay.Allow(ctx, r.dir, r.card.Text, r.card.Fingerprint()); err == nil || !strings.Contains(err.Error(), "own card") {
		t.Errorf("Allow of the relay's own card = %v", err)
	}
	v, err := relay.Allow(ctx, r.dir, usa.card.Text, strings.ToLower(usa.card.Fingerprint()))
	if err != nil || v.Name != "USA" || v.Fingerprint != usa.card.Fingerprint() {
		t.Fatalf("Allow = %+v, %v", v, err)
	}
	if _, err := relay.Allow(ctx, r.dir, usa.card.Text, usa.card.Fingerprint()); err != nil {
		t.Errorf("allowing the same card again: %v", err)
	}
	other := newStation(t, "USA")
	if _, err := relay.Allow(ctx, r.dir, other.card.Text, other.card.Fingerprint()); err == nil || !strings.Contains(err.Error(), "already allowed") {
		t.Errorf("Allow of another USA = %v", err)
	}
	if _, err := relay.Allow(ctx, r.dir, []byte("not a card"), "AAAA"); !errors.Is(err, identity.ErrBadCard) {
		t.Errorf("Allow of garbage = %v", err)
	}
	st, err := relay.List(ctx, r.dir)
	if err != nil || len(st.Stations) != 1 || st.Stations[0].Name != "USA" {
		t.Fatalf("List = %+v, %v", st, err)
	}
	if _, err := relay.List(ctx, t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a relay directory") {
		t.Errorf("List of an empty directory = %v", err)
	}
	if _, err := relay.Init(ctx, relay.InitOptions{Dir: r.dir, Name: "X", Listen: "127.0.0.1:1"}); err == nil || !strings.Contains(err.Error(), "already holds") {
		t.Errorf("Init over a relay = %v", err)
	}
}

// TestDeleteOnlyWhatWasSent: a delete reaching beyond what the connection
// has carried deletes only what it carried. The station here stops
// reading, so that most of its backlog waits behind TCP backpressure.
func TestDeleteOnlyWhatWasSent(t *testing.T) {
	r := newRelay(t, nil)
	usa, chn := newStation(t, "USA"), newStation(t, "CHN")
	r.allow(usa, chn)
	r.Start()
	ctx := t.Context()
	a := r.dial(usa)
	const n, size = 16, 2 << 20 // far more than loopback's socket buffers
	for i := range n {
		p := bytes.Repeat([]byte{byte(i)}, size)
		if err := a.Deposit(ctx, chn.key(), p); err != nil {
			t.Fatal(err)
		}
	}
	raw := rawConn(t, r, chn)
	raw.send(&relay.Message{Type: relay.TypeHello, Version: relay.Version})
	// The hello and the first mail: the relay has begun sending.
	for _, want := range []relay.Type{relay.TypeHello, relay.TypeMail} {
		if m, err := raw.read(); err != nil || m.Type != want {
			t.Fatalf("read %v, %v; want %s", m, err, want)
		}
	}
	raw.send(&relay.Message{Type: relay.TypeDelete, UpTo: ^uint64(0) >> 1})
	waitFor(t, func() bool { return r.srv.Stats().PickedUp > 0 }, "the delete")
	raw.Close()
	deleted := r.srv.Stats().PickedUp
	if deleted >= n {
		t.Fatalf("a delete from a station that read nothing deleted all %d mails", deleted)
	}
	b := r.dial(chn)
	got := receive(t, b, n-int(deleted), 10*time.Second)
	for i, m := range got {
		if want := byte(int(deleted) + i); m.Payload[0] != want || len(m.Payload) != size {
			t.Errorf("remaining mail %d starts with %d (%d bytes), want %d", i, m.Payload[0], len(m.Payload), want)
		}
	}
	quietFor(t, b, 100*time.Millisecond)
}

// TestDialCard: a station dials the endpoints on the relay's card in
// order, past one that does not answer.
func TestDialCard(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := newRelay(t, func(o *relay.InitOptions) {
		o.Listen = addr
		o.Endpoints = []string{"127.0.0.1:1", addr}
	})
	usa := newStation(t, "USA")
	r.allow(usa)
	srv, err := relay.Open(t.Context(), r.dir, relay.Options{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, "") }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	var c *relay.Client
	waitFor(t, func() bool {
		c, err = relay.DialCard(t.Context(), r.card, usa.cert)
		return err == nil
	}, "the relay to answer on its second endpoint")
	defer c.Close()
	if err := c.Deposit(t.Context(), usa.key(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, c, 1, 5*time.Second); string(got[0].Payload) != "x" {
		t.Errorf("received %q", got[0].Payload)
	}
	rus := newStation(t, "RUS")
	if _, err := relay.DialCard(t.Context(), r.card, rus.cert); !errors.Is(err, relay.ErrNotAllowed) {
		t.Errorf("DialCard with an unallowed key = %v", err)
	}
}

// TestAllowReplacing: a station that lost its key is allowed again under
// its name with --replace only: its new key connects and gets new mail,
// the lost key is refused, and the mail waiting for the lost key (sealed
// to keys nobody holds) is gone.
func TestAllowReplacing(t *testing.T) {
	r := newRelay(t, nil)
	usa, chn := newStation(t, "USA"), newStation(t, "CHN")
	r.allow(usa, chn)
	r.Start()
	ctx := t.Context()
	b := r.dial(chn)
	for i := range 3 {
		if err := b.Deposit(ctx, usa.key(), fmt.Appendf(nil, "for the lost key %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	lost := newStation(t, "USA") // the same station with new keys
	if _, err := relay.Allow(ctx, r.dir, lost.card.Text, lost.card.Fingerprint()); err == nil || !strings.Contains(err.Error(), "--replace") {
		t.Fatalf("Allow of USA's new card without replacing: %v; want a refusal that names --replace", err)
	}
	if _, err := relay.AllowReplacing(ctx, r.dir, lost.card.Text, usa.card.Fingerprint()); !errors.Is(err, identity.ErrFingerprint) {
		t.Errorf("AllowReplacing with the old fingerprint: %v", err)
	}
	v, err := relay.AllowReplacing(ctx, r.dir, lost.card.Text, lost.card.Fingerprint())
	if err != nil || v.Fingerprint != lost.card.Fingerprint() {
		t.Fatalf("AllowReplacing = %+v, %v", v, err)
	}
	st, err := relay.List(ctx, r.dir)
	if err != nil || len(st.Stations) != 2 {
		t.Fatalf("List = %+v, %v", st, err)
	}
	for _, s := range st.Stations {
		if s.Name == "USA" && (s.Fingerprint != lost.card.Fingerprint() || s.Pending.Messages != 0) {
			t.Errorf("USA after the replacement: %+v; want the new fingerprint and no mail waiting", s)
		}
	}
	a := r.dial(lost)
	if err := b.Deposit(ctx, lost.key(), []byte("for the new key")); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, a, 1, 5*time.Second); string(got[0].Payload) != "for the new key" {
		t.Errorf("the new key got %q first", got[0].Payload)
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := relay.Dial(dctx, r.addr, r.card.SignKey, usa.cert); !errors.Is(err, relay.ErrNotAllowed) {
		t.Errorf("the lost key dialing after the replacement: %v, want ErrNotAllowed", err)
	}
}
