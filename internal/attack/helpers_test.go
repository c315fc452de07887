package attack_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"hotline/internal/identity"
	"hotline/internal/ops"
	"hotline/internal/record"
	"hotline/internal/relay"
	"hotline/internal/station"
	"hotline/internal/stationdir"
	"hotline/internal/store"
)

const staff = "usa-chn-staff"

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// node is a station opened in this process: a real directory, a real
// SQLite store, its peer port on loopback once run.
type node struct {
	name, dir, listen string
	st                *station.Station
}

// newNode initializes a station listening at its own address, whose card
// lists that address for peers to dial, or px's, which then leads to it.
func newNode(t *testing.T, name string, px *proxy) *node {
	t.Helper()
	listen := freeAddr(t)
	endpoint := listen
	if px != nil {
		endpoint = px.addr
		px.mu.Lock()
		px.target = listen
		px.mu.Unlock()
	}
	dir := filepath.Join(t.TempDir(), strings.ToLower(name))
	if _, err := stationdir.Init(context.Background(), stationdir.InitOptions{Dir: dir, Name: name, Party: name,
		PeerListen: listen, APIListen: "127.0.0.1:0", Endpoints: []string{endpoint}}); err != nil {
		t.Fatal(err)
	}
	st, err := station.Open(context.Background(), dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &node{name: name, dir: dir, listen: listen, st: st}
}

// run runs the node's links until the test ends.
func (n *node) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.st.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	waitFor(t, n.name+"'s peer listener", func() bool { return n.st.PeerAddr() != nil })
}

func pin(t *testing.T, a, b *node) {
	t.Helper()
	if _, err := a.st.AddPeer(context.Background(), b.st.OwnCard.Text, b.st.OwnCard.Fingerprint()); err != nil {
		t.Fatal(err)
	}
}

// pair makes USA and CHN, pinned to each other and running, with the
// staff channel agreed. Operator checks are set a day apart so that none
// is written during a test.
func pair(t *testing.T) (usa, chn *node) { return pairVia(t, nil, nil) }

// pairVia is pair with each card listing a proxy (if not nil) in front of
// its station.
func pairVia(t *testing.T, toUSA, toCHN *proxy) (usa, chn *node) {
	t.Helper()
	ctx := context.Background()
	usa, chn = newNode(t, "USA", toUSA), newNode(t, "CHN", toCHN)
	pin(t, usa, chn)
	pin(t, chn, usa)
	usa.run(t)
	chn.run(t)
	if _, err := usa.st.Propose(ctx, ops.ProposeRequest{Peer: "CHN", Channel: staff, Level: "staff", CheckEvery: "24h"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "CHN to hold the proposal", func() bool { return channelState(t, chn) == record.ProposedIn })
	if _, err := chn.st.Accept(ctx, staff); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the channel agreed on both sides", func() bool {
		return channelState(t, usa) == record.Active && channelState(t, chn) == record.Active
	})
	return usa, chn
}

func channelState(t *testing.T, n *node) string {
	t.Helper()
	cs, err := n.st.Channels(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.ID == staff {
			return c.State
		}
	}
	return ""
}

// send sends a text on the staff channel and returns its id.
func send(t *testing.T, n *node, text string) string {
	t.Helper()
	m, err := n.st.Send(context.Background(), ops.SendRequest{Channel: staff, Precedence: "ROUTINE", Text: text})
	if err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// delivered reports whether the entry id of n's outbox is delivered.
func delivered(t *testing.T, n *node, id string) bool {
	t.Helper()
	ms, err := n.st.Outbox(context.Background(), staff)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.ID == id {
			return m.Status != "queued"
		}
	}
	t.Fatalf("%s is not in %s's outbox", id, n.name)
	return false
}

// waitFor polls cond until it holds; the limit is only there so that a
// broken build fails rather than hangs.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// state is what an attack must not change: pinned cards, channels and
// their charters, every entry with its delivery and acknowledgement, and
// every log's size, tree, checkpoint and receipt.
type state struct {
	Peers    []record.Peer
	Channels []record.Channel
	Entries  []store.Message
	Logs     []*record.Log
}

func stateOf(t *testing.T, n *node) state {
	t.Helper()
	ctx := context.Background()
	var s state
	var err error
	if s.Peers, err = n.st.Store.Peers(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Channels, err = n.st.Store.Channels(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Entries, err = n.st.Store.Messages(ctx, store.Query{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range s.Channels {
		for _, author := range []string{n.name, c.Peer} {
			l, err := n.st.Store.Log(ctx, c.ID, author)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Fatal(err)
			}
			s.Logs = append(s.Logs, l)
		}
	}
	return s
}

// settled returns n's state once it has stopped changing: a receipt or a
// status may still be on its way from the exchange before the attack
// (receipts wait up to 100 ms for company), and the attack must be
// compared with a station at rest.
func settled(t *testing.T, n *node) state {
	t.Helper()
	prev := stateOf(t, n)
	var s state
	waitFor(t, n.name+" at rest", func() bool {
		time.Sleep(250 * time.Millisecond)
		s = stateOf(t, n)
		same := reflect.DeepEqual(prev, s)
		prev = s
		return same
	})
	return s
}

// unchanged fails the test if n's state differs from before.
func unchanged(t *testing.T, n *node, before state) {
	t.Helper()
	after := stateOf(t, n)
	if !reflect.DeepEqual(before.Peers, after.Peers) {
		t.Errorf("%s: pinned cards changed:\nbefore %+v\nafter  %+v", n.name, before.Peers, after.Peers)
	}
	if !reflect.DeepEqual(before.Channels, after.Channels) {
		t.Errorf("%s: channels changed:\nbefore %+v\nafter  %+v", n.name, before.Channels, after.Channels)
	}
	if !reflect.DeepEqual(before.Entries, after.Entries) {
		t.Errorf("%s: entries changed: %d before, %d after", n.name, len(before.Entries), len(after.Entries))
	}
	if !reflect.DeepEqual(before.Logs, after.Logs) {
		t.Errorf("%s: logs changed:\nbefore %+v\nafter  %+v", n.name, before.Logs, after.Logs)
	}
}

func refused(t *testing.T, n *node) map[string]int {
	t.Helper()
	st, err := n.st.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.Refused
}

func duplicates(t *testing.T, n *node) int {
	t.Helper()
	st, err := n.st.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.Duplicates
}

// alerts returns n's alerts of level whose text holds every sub.
func alerts(t *testing.T, n *node, level string, subs ...string) []ops.AlertView {
	t.Helper()
	as, err := n.st.Alerts(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []ops.AlertView
next:
	for _, a := range as {
		if level != "" && a.Level != level {
			continue
		}
		for _, s := range subs {
			if !strings.Contains(a.Text, s) {
				continue next
			}
		}
		out = append(out, a)
	}
	return out
}

// proxy forwards TCP connections to a target. Transparent, it passes TLS
// through untouched (and can record what clients send); intercepting, it
// is a man in the middle with its own certificate.
type proxy struct {
	addr   string
	target string
	mu     sync.Mutex
	mitm   func(c net.Conn) // when set, handles each new connection
	conns  map[net.Conn]struct{}
	record chan []byte // the bytes of each finished client-to-target stream, when set
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: ln.Addr().String(), target: target, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() {
		ln.Close()
		p.cut()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.handle(c)
		}
	}()
	return p
}

func (p *proxy) track(c net.Conn) {
	p.mu.Lock()
	p.conns[c] = struct{}{}
	p.mu.Unlock()
}

func (p *proxy) handle(c net.Conn) {
	p.track(c)
	p.mu.Lock()
	mitm, rec, target := p.mitm, p.record, p.target
	p.mu.Unlock()
	if mitm != nil {
		mitm(c)
		return
	}
	u, err := net.Dial("tcp", target)
	if err != nil {
		c.Close()
		return
	}
	p.track(u)
	var sent []byte
	done := make(chan struct{})
	go func() {
		io.Copy(c, u)
		c.Close()
		close(done)
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if rec != nil {
				sent = append(sent, buf[:n]...)
			}
			if _, werr := u.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	u.Close()
	<-done
	if rec != nil {
		select {
		case rec <- sent:
		default:
		}
	}
}

// cut closes every connection through the proxy.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// intercept makes every new connection go to h (nil: transparent again)
// and cuts the ones open.
func (p *proxy) intercept(h func(net.Conn)) {
	p.mu.Lock()
	p.mitm = h
	p.mu.Unlock()
	p.cut()
}

// testRelay is a relay server in this process, on loopback.
type testRelay struct {
	srv  *relay.Server
	card *identity.Card
	dir  string
	addr string
}

// newRelayServer starts a relay whose card lists the address it serves
// at; lie, if not nil, is its lying policy (relay.Options.Lie).
func newRelayServer(t *testing.T, lie func(relay.Mail) []relay.Mail) *testRelay {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "relay")
	addr := freeAddr(t)
	card, err := relay.Init(context.Background(), relay.InitOptions{Dir: dir, Name: "RELAY-CH", Listen: addr})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := relay.Open(context.Background(), dir, relay.Options{Log: quiet(), Lie: lie})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	return &testRelay{srv: srv, card: card, dir: dir, addr: ln.Addr().String()}
}
