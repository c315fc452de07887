package relay_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"hotline/internal/identity"
	"hotline/internal/link"
	"hotline/internal/relay"
)

// clock is a settable clock for the relay's deposit times and expiry.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testRelay is a relay directory and, while it runs, its server on
// loopback.
type testRelay struct {
	t     testing.TB
	dir   string
	card  *identity.Card
	clock *clock
	srv   *relay.Server
	addr  string
	stop  context.CancelFunc
	done  chan error
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newRelay creates a relay directory; edit changes its config first.
func newRelay(t testing.TB, edit func(*relay.InitOptions)) *testRelay {
	t.Helper()
	o := relay.InitOptions{Dir: filepath.Join(t.TempDir(), "relay"), Name: "RELAY-CH", Listen: "127.0.0.1:0"}
	if edit != nil {
		edit(&o)
	}
	card, err := relay.Init(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	r := &testRelay{t: t, dir: o.Dir, card: card, clock: newClock()}
	t.Cleanup(r.Stop)
	return r
}

// Start opens the relay and serves on a fresh loopback port.
func (r *testRelay) Start() {
	r.t.Helper()
	srv, err := relay.Open(context.Background(), r.dir, relay.Options{Log: quiet(), Now: r.clock.Now})
	if err != nil {
		r.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.srv, r.addr, r.stop, r.done = srv, ln.Addr().String(), cancel, make(chan error, 1)
	go func() { r.done <- srv.Serve(ctx, ln) }()
}

// Stop stops the server cleanly, as SIGTERM does.
func (r *testRelay) Stop() {
	if r.srv == nil {
		return
	}
	r.stop()
	if err := <-r.done; err != nil {
		r.t.Errorf("Serve: %v", err)
	}
	if err := r.srv.Close(); err != nil {
		r.t.Errorf("Close: %v", err)
	}
	r.srv = nil
}

// station is a station's identity as the relay sees it.
type station struct {
	keys *identity.Keys
	card *identity.Card
	cert tls.Certificate
}

func newStation(t testing.TB, name string) station {
	t.Helper()
	keys, err := identity.NewKeys(name)
	if err != nil {
		t.Fatal(err)
	}
	card, err := identity.NewCard(keys, name, []string{"127.0.0.1:7443"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := link.Certificate(name, keys.Sign)
	if err != nil {
		t.Fatal(err)
	}
	return station{keys: keys, card: card, cert: cert}
}

func (s station) key() ed25519.PublicKey { return s.keys.SignPublic() }

// allow lets stations use the relay, as hotline relay allow does.
func (r *testRelay) allow(sts ...station) {
	r.t.Helper()
	for _, s := range sts {
		if _, err := relay.Allow(r.t.Context(), r.dir, s.card.Text, s.card.Fingerprint()); err != nil {
			r.t.Fatal(err)
		}
	}
}

// dial connects a station to the running relay; the client is closed at
// the end of the test.
func (r *testRelay) dial(s station) *relay.Client {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(r.t.Context(), 10*time.Second)
	defer cancel()
	c, err := relay.Dial(ctx, r.addr, r.card.SignKey, s.cert)
	if err != nil {
		r.t.Fatalf("%s dialing the relay: %v", s.keys.Name, err)
	}
	r.t.Cleanup(func() { c.Close() })
	return c
}

// receive takes n mails from c, failing the test after timeout.
func receive(t *testing.T, c *relay.Client, n int, timeout time.Duration) []relay.Mail {
	t.Helper()
	var out []relay.Mail
	deadline := time.After(timeout)
	for len(out) < n {
		select {
		case m, ok := <-c.Mail():
			if !ok {
				t.Fatalf("connection closed after %d of %d mails: %v", len(out), n, c.Err())
			}
			out = append(out, m)
		case <-deadline:
			t.Fatalf("received %d of %d mails in %s", len(out), n, timeout)
		}
	}
	return out
}

// quietFor checks that c receives no mail for d.
func quietFor(t *testing.T, c *relay.Client, d time.Duration) {
	t.Helper()
	select {
	case m, ok := <-c.Mail():
		if ok {
			t.Fatalf("received mail %d from %x, want none", m.ID, []byte(m.From)[:4])
		}
	case <-time.After(d):
	}
}

// raw is a station's TLS connection to the relay without the client: the
// test writes whatever bytes it likes.
type raw struct {
	t  *testing.T
	tc *tls.Conn
	r  *bufio.Reader
}

func rawConn(t *testing.T, r *testRelay, s station) *raw {
	t.Helper()
	tc, err := link.Dial(t.Context(), r.addr, link.ClientConfig(s.cert, "relay", r.card.SignKey))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tc.Close() })
	return &raw{t: t, tc: tc, r: bufio.NewReader(tc)}
}

func (c *raw) send(m *relay.Message) { c.sendFrame(m.Encode()) }

func (c *raw) sendFrame(p []byte) {
	c.t.Helper()
	if err := link.WriteFrame(c.tc, p); err != nil {
		c.t.Fatal(err)
	}
}

// read reads one message, waiting at most 5 seconds.
func (c *raw) read() (*relay.Message, error) {
	c.tc.SetReadDeadline(time.Now().Add(5 * time.Second))
	data, err := link.ReadFrame(c.r)
	if err != nil {
		return nil, err
	}
	return relay.Decode(data)
}

func (c *raw) Close() error { return c.tc.Close() }

// fakeRelay is a TLS server with a relay's key that answers the hello and
// then sends whatever the test tells it: a relay that lies.
type fakeRelay struct {
	t    *testing.T
	addr string
	id   station
	out  chan []*relay.Message
}

func newFakeRelay(t *testing.T) *fakeRelay {
	t.Helper()
	f := &fakeRelay{t: t, id: newStation(t, "RELAY-FAKE"), out: make(chan []*relay.Message, 1)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	f.addr = ln.Addr().String()
	cfg := link.ServerConfig(f.id.cert, func(ed25519.PublicKey) (string, bool) { return "any", true })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		tc := tls.Server(c, cfg)
		defer tc.Close()
		r := bufio.NewReader(tc)
		if _, err := link.ReadFrame(r); err != nil {
			return
		}
		link.WriteFrame(tc, (&relay.Message{Type: relay.TypeHello, Version: relay.Version}).Encode())
		for _, m := range <-f.out {
			if link.WriteFrame(tc, m.Encode()) != nil {
				return
			}
		}
		io.Copy(io.Discard, r)
	}()
	return f
}

func (f *fakeRelay) key() ed25519.PublicKey { return f.id.key() }

func (f *fakeRelay) send(ms ...*relay.Message) { f.out <- ms }
