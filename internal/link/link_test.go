package link_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"hotline/internal/link"
)

// party is one side of a TLS test: a signing key and its certificate.
type party struct {
	name string
	pub  ed25519.PublicKey
	cert tls.Certificate
}

func newParty(t *testing.T, name string) party {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := link.Certificate(name, priv)
	if err != nil {
		t.Fatal(err)
	}
	return party{name: name, pub: pub, cert: cert}
}

// pinned returns a server lookup that knows exactly the given parties.
func pinned(ps ...party) func(ed25519.PublicKey) (string, bool) {
	return func(k ed25519.PublicKey) (string, bool) {
		for _, p := range ps {
			if p.pub.Equal(k) {
				return p.name, true
			}
		}
		return "", false
	}
}

type serverResult struct {
	err  error    // handshake error
	peer string   // the client's key as looked up, when the handshake succeeded
	data []byte   // what the client sent after the handshake
	conn net.Conn // closed by the test's cleanup
}

// serveOnce accepts one connection on loopback, runs the server side of the
// handshake with cfg, then reads what the client sends until it closes.
func serveOnce(t *testing.T, cfg *tls.Config, lookup func(ed25519.PublicKey) (string, bool)) (string, <-chan serverResult) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	out := make(chan serverResult, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			out <- serverResult{err: err}
			return
		}
		tc := tls.Server(c, cfg)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tc.HandshakeContext(ctx); err != nil {
			tc.Close()
			out <- serverResult{err: err}
			return
		}
		r := serverResult{conn: tc}
		if k, err := link.PeerKey(tc.ConnectionState()); err == nil && lookup != nil {
			r.peer, _ = lookup(k)
		}
		tc.SetReadDeadline(time.Now().Add(10 * time.Second))
		r.data, _ = io.ReadAll(tc)
		tc.Close()
		out <- r
	}()
	return ln.Addr().String(), out
}

func waitServer(t *testing.T, ch <-chan serverResult) serverResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(15 * time.Second):
		t.Fatal("server side did not finish")
		return serverResult{}
	}
}

func dial(t *testing.T, addr string, cfg *tls.Config) (*tls.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return link.Dial(ctx, addr, cfg)
}

func TestServerAcceptsPinnedClient(t *testing.T) {
	srv, cli := newParty(t, "USA"), newParty(t, "CHN")
	lookup := pinned(cli)
	addr, res := serveOnce(t, link.ServerConfig(srv.cert, lookup), lookup)
	tc, err := dial(t, addr, link.ClientConfig(cli.cert, "USA", srv.pub))
	if err != nil {
		t.Fatalf("pinned client refused: %v", err)
	}
	if v := tc.ConnectionState().Version; v != tls.VersionTLS13 {
		t.Errorf("negotiated TLS version %x, want TLS 1.3", v)
	}
	if k := tc.ConnectionState().CurveID; k != tls.X25519MLKEM768 {
		t.Errorf("negotiated key exchange %v, want X25519MLKEM768", k)
	}
	k, err := link.PeerKey(tc.ConnectionState())
	if err != nil || !k.Equal(srv.pub) {
		t.Errorf("client sees server key %x (%v), want %x", k, err, srv.pub)
	}
	c := link.NewConn(tc)
	c.Send([]byte("hello"), false)
	c.Send([]byte("world"), true) // close after this frame
	r := waitServer(t, res)
	if r.err != nil {
		t.Fatalf("server handshake with a pinned client failed: %v", r.err)
	}
	if r.peer != "CHN" {
		t.Errorf("server identified the client as %q, want CHN", r.peer)
	}
	br := bufio.NewReader(bytes.NewReader(r.data))
	for _, want := range []string{"hello", "world"} {
		got, err := link.ReadFrame(br)
		if err != nil || string(got) != want {
			t.Fatalf("server read frame %q, %v; want %q", got, err, want)
		}
	}
	select {
	case <-c.Closed():
	case <-time.After(5 * time.Second):
		t.Error("Send(close=true) did not close the connection")
	}
}

func TestServerRefusesUnpinnedClient(t *testing.T) {
	srv, friend, stranger := newParty(t, "USA"), newParty(t, "CHN"), newParty(t, "CHN")
	addr, res := serveOnce(t, link.ServerConfig(srv.cert, pinned(friend)), nil)
	// The stranger claims the friend's name but has its own key. In TLS 1.3
	// the client may finish its side of the handshake before the server has
	// checked the client certificate; either way no data may get through.
	tc, err := dial(t, addr, link.ClientConfig(stranger.cert, "USA", srv.pub))
	if err == nil {
		link.WriteFrame(tc, []byte("proposal from an impostor"))
		tc.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, rerr := tc.Read(make([]byte, 1))
		if rerr == nil {
			t.Error("the unpinned client could read from the server")
		}
		tc.Close()
	}
	r := waitServer(t, res)
	if r.err == nil {
		t.Fatalf("server accepted an unpinned client (read %q)", r.data)
	}
	if !errors.Is(r.err, link.ErrNotPinned) {
		t.Errorf("server handshake error %q does not wrap ErrNotPinned", r.err)
	}
	if !strings.Contains(r.err.Error(), "not pinned") {
		t.Errorf("server handshake error %q does not say the key is not pinned", r.err)
	}
}

func TestClientRefusesServerWithOtherKey(t *testing.T) {
	usa, chn, mitm := newParty(t, "USA"), newParty(t, "CHN"), newParty(t, "CHN")
	// The man in the middle answers at CHN's address with its own
	// certificate and accepts any client.
	mitmCfg := &tls.Config{Certificates: []tls.Certificate{mitm.cert}, ClientAuth: tls.RequireAnyClientCert, MinVersion: tls.VersionTLS12}
	addr, res := serveOnce(t, mitmCfg, nil)
	tc, err := dial(t, addr, link.ClientConfig(usa.cert, "CHN", chn.pub))
	if err == nil {
		tc.Close()
		t.Fatal("client completed a handshake with a server presenting an unpinned key")
	}
	if !errors.Is(err, link.ErrNotPinned) {
		t.Errorf("dial error %q does not wrap ErrNotPinned", err)
	}
	if !strings.Contains(err.Error(), "CHN") {
		t.Errorf("dial error %q does not name the peer", err)
	}
	r := waitServer(t, res)
	if r.err == nil || len(r.data) > 0 {
		t.Errorf("man in the middle completed its handshake (err %v) or read %d bytes", r.err, len(r.data))
	}
}

func TestServerRefusesTLS12Client(t *testing.T) {
	srv, cli := newParty(t, "USA"), newParty(t, "CHN")
	addr, res := serveOnce(t, link.ServerConfig(srv.cert, pinned(cli)), nil)
	cfg := link.ClientConfig(cli.cert, "USA", srv.pub)
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS12
	tc, err := dial(t, addr, cfg)
	if err == nil {
		v := tc.ConnectionState().Version
		tc.Close()
		t.Fatalf("a TLS 1.2 client completed a handshake (version %x)", v)
	}
	if !strings.Contains(err.Error(), "version") {
		t.Errorf("client error %q does not name the protocol version", err)
	}
	r := waitServer(t, res)
	if r.err == nil {
		t.Fatal("server completed a handshake with a TLS 1.2 client")
	}
	if !strings.Contains(r.err.Error(), "version") {
		t.Errorf("server error %q does not name the protocol version", r.err)
	}
}

// TestClassicalKeyExchangeRefused: a client or a server that offers only a
// classical key exchange (X25519, P-256) is refused by the other side,
// which names the missing key exchange.
func TestClassicalKeyExchangeRefused(t *testing.T) {
	for _, curve := range []tls.CurveID{tls.X25519, tls.CurveP256} {
		t.Run("client offers "+curve.String(), func(t *testing.T) {
			srv, cli := newParty(t, "USA"), newParty(t, "CHN")
			addr, res := serveOnce(t, link.ServerConfig(srv.cert, pinned(cli)), nil)
			cfg := link.ClientConfig(cli.cert, "USA", srv.pub)
			cfg.CurvePreferences = []tls.CurveID{curve}
			tc, err := dial(t, addr, cfg)
			if err == nil {
				k := tc.ConnectionState().CurveID
				tc.Close()
				t.Fatalf("a client offering only %v completed a handshake (key exchange %v)", curve, k)
			}
			r := waitServer(t, res)
			if r.err == nil || !strings.Contains(r.err.Error(), "key exchange") {
				t.Errorf("server error %v, want one naming the key exchange", r.err)
			}
		})
		t.Run("server offers "+curve.String(), func(t *testing.T) {
			srv, cli := newParty(t, "USA"), newParty(t, "CHN")
			cfg := link.ServerConfig(srv.cert, pinned(cli))
			cfg.CurvePreferences = []tls.CurveID{curve}
			addr, res := serveOnce(t, cfg, nil)
			tc, err := dial(t, addr, link.ClientConfig(cli.cert, "USA", srv.pub))
			if err == nil {
				k := tc.ConnectionState().CurveID
				tc.Close()
				t.Fatalf("the client completed a handshake with a server offering only %v (key exchange %v)", curve, k)
			}
			if r := waitServer(t, res); r.err == nil {
				t.Error("the server completed its handshake")
			}
		})
	}
}

// headerOnly yields a 4-byte length header and fails the test if anything
// reads past it.
type headerOnly struct {
	hdr  []byte
	more int
}

func (h *headerOnly) Read(p []byte) (int, error) {
	if len(h.hdr) == 0 {
		h.more++
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, h.hdr)
	h.hdr = h.hdr[n:]
	return n, nil
}

func TestReadFrameRefusesBadLengths(t *testing.T) {
	for _, n := range []uint32{0, uint32(link.MaxFrame) + 1, 1 << 31, 0xFFFFFFFF} {
		var hdr [4]byte
		binary.BigEndian.PutUint32(hdr[:], n)
		src := &headerOnly{hdr: hdr[:]}
		br := bufio.NewReader(src)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		p, err := link.ReadFrame(br)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Errorf("length %d: ReadFrame returned %d bytes, want an error", n, len(p))
			continue
		}
		if !errors.Is(err, link.ErrFrameSize) || !strings.Contains(err.Error(), fmt.Sprint(n)) {
			t.Errorf("length %d: error %q is not ErrFrameSize naming the length", n, err)
		}
		if src.more > 0 {
			t.Errorf("length %d: ReadFrame read past the header", n)
		}
		// bufio's 4 KiB buffer and the error are all that may be allocated;
		// a frame of MaxFrame+1 bytes would be 4 MiB.
		if grew := after.TotalAlloc - before.TotalAlloc; n > 0 && grew > 256<<10 {
			t.Errorf("length %d: ReadFrame allocated %d bytes before refusing", n, grew)
		}
	}
}

func TestFrameRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte{0xA5}, link.MaxFrame)
	frames := [][]byte{{0}, []byte("hello"), bytes.Repeat([]byte("x"), 70000), big}
	var buf bytes.Buffer
	for _, f := range frames {
		if err := link.WriteFrame(&buf, f); err != nil {
			t.Fatal(err)
		}
	}
	br := bufio.NewReader(&buf)
	for i, want := range frames {
		got, err := link.ReadFrame(br)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("frame %d: read %d bytes, wrote %d (or different bytes)", i, len(got), len(want))
		}
	}
	if _, err := link.ReadFrame(br); err != io.EOF {
		t.Errorf("after the last frame: %v, want io.EOF", err)
	}
	// A frame cut short is an error, never a short frame.
	buf.Reset()
	link.WriteFrame(&buf, []byte("truncated"))
	short := buf.Bytes()[:buf.Len()-3]
	if p, err := link.ReadFrame(bufio.NewReader(bytes.NewReader(short))); err == nil {
		t.Errorf("truncated frame read as %q", p)
	}
}

func TestBackoff(t *testing.T) {
	const minD, maxD = 50 * time.Millisecond, 5 * time.Second
	b := link.Backoff{Min: minD, Max: maxD}
	for round := 0; round < 3; round++ {
		cur := minD
		var first, last time.Duration
		for i := 0; i < 20; i++ {
			d := b.Next()
			// Next is the current step with ±50% jitter; the step doubles
			// from Min up to Max.
			if d < cur/2 || d >= cur+cur/2 {
				t.Fatalf("round %d, delay %d: %v outside [%v, %v)", round, i, d, cur/2, cur+cur/2)
			}
			if d < minD/2 || d >= maxD+maxD/2 {
				t.Fatalf("round %d, delay %d: %v outside [Min/2, Max*1.5)", round, i, d)
			}
			if i == 0 {
				first = d
			}
			last = d
			cur = min(cur*2, maxD)
		}
		// After 20 steps the step is Max: even the smallest jittered delay
		// is far above the largest first one.
		if last <= first || last < maxD/2 {
			t.Errorf("round %d: delays did not grow (first %v, last %v)", round, first, last)
		}
		b.Reset()
		// After Reset the next delay is back at Min (with jitter).
		if d := b.Next(); d >= minD+minD/2 {
			t.Fatalf("after Reset: %v, want < %v", d, minD+minD/2)
		}
		b.Reset()
	}
}

// TestSendBeforeDropsLateFrames: a frame queued with SendBefore leaves
// only if the writer reaches it before its time (entries sent ahead
// under a station's lease); one whose time has passed is dropped,
// counted, and the frames around it still go, in order.
func TestSendBeforeDropsLateFrames(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	c := link.NewConn(a)
	defer c.Close()
	c.Send([]byte("first"), false)
	c.SendBefore([]byte("too late"), time.Now().Add(-time.Millisecond))
	c.SendBefore([]byte("in time"), time.Now().Add(time.Hour))
	c.Send([]byte("last"), false)
	r := bufio.NewReader(b)
	var got []string
	for range 3 {
		b.SetReadDeadline(time.Now().Add(5 * time.Second))
		p, err := link.ReadFrame(r)
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		got = append(got, string(p))
	}
	if want := []string{"first", "in time", "last"}; !slices.Equal(got, want) {
		t.Fatalf("frames written %q, want %q", got, want)
	}
	if c.Late() != 1 {
		t.Fatalf("Late = %d, want 1", c.Late())
	}
}
