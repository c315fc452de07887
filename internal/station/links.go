package station

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"hotline/internal/identity"
	"hotline/internal/link"
	"hotline/internal/protocol"
)

// direct is the direct path: a TLS listener for the peers that dial in,
// and a dialer for each pinned peer that keeps an outbound connection to
// the endpoints its card lists.
type direct struct {
	s       *Station
	mu      sync.Mutex
	ctx     context.Context // while it runs
	dialers map[string]bool // peers dialed
	// shaking: inbound connections in their TLS handshake now.
	shaking atomic.Int64
}

// MaxHandshakes bounds the inbound connections in their TLS handshake at
// once from addresses that are not a pinned peer's. Anyone who can reach
// the peer port can open connections and send nothing; each is held for
// HandshakeTimeout (30 s, for a radio link's handshake), so past this
// many a new one from a stranger is closed at once and counted
// ("handshake limit"). A connection from an address in a pinned peer's
// card is always taken (a TCP connection cannot come from an address
// its sender does not hold), so that a flood of strangers does not shut
// the peer out.
const MaxHandshakes = 512

func newDirect(s *Station) *direct { return &direct{s: s, dialers: map[string]bool{}} }

func (d *direct) Name() string { return "direct" }

func (d *direct) Rank() int { return directRank }

// Run listens for peers and dials every pinned peer until ctx is done. It
// returns once the peer listener is closed: nil when ctx ended it, or why
// it could not listen or accept.
func (d *direct) Run(ctx context.Context) error {
	s := d.s
	// No TCP keepalives on peers' connections (link.DialPeer).
	ln, err := (&net.ListenConfig{KeepAlive: -1}).Listen(ctx, "tcp", s.Cfg.PeerListen)
	if err != nil {
		return fmt.Errorf("peer listener: %w", err)
	}
	s.mu.Lock()
	s.peerAddr = ln.Addr()
	s.mu.Unlock()
	s.Log.Info("listening for peers", "addr", ln.Addr().String())
	d.mu.Lock()
	d.ctx = ctx
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.ctx = nil
		clear(d.dialers)
		d.mu.Unlock()
	}()
	for _, n := range s.pinNames() {
		d.Pinned(n)
	}
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	tlsCfg := link.ChainServerConfig(s.currentCert, s.peerLookup)
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
		if _, peer := s.peerAt(host); !peer && d.shaking.Load() >= MaxHandshakes {
			c.Close()
			s.event(protocol.LinkRefused{Reason: "handshake limit", Level: "warning",
				Text: fmt.Sprintf("closed a connection from %s at once: %d others were in their TLS handshake", c.RemoteAddr(), MaxHandshakes)})
			continue
		}
		d.shaking.Add(1)
		go d.serveInbound(ctx, tls.Server(c, tlsCfg))
	}
}

// Pinned starts the peer's dialer, if the direct path runs and it has none.
func (d *direct) Pinned(peer string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx == nil || d.dialers[peer] {
		return
	}
	d.dialers[peer] = true
	go d.dial(d.ctx, peer)
}

// PeerAddr is the address the peer listener is bound to, once Run started.
func (s *Station) PeerAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peerAddr
}

// HandshakeTimeout bounds the TLS handshake of an inbound connection on the
// peer port: a connection that sends too little (one byte a second, or
// nothing) is closed after it and counted ("handshake timeout").
const HandshakeTimeout = 30 * time.Second

func (d *direct) serveInbound(ctx context.Context, tc *tls.Conn) {
	s := d.s
	hctx, cancel := context.WithTimeout(ctx, HandshakeTimeout)
	err := tc.HandshakeContext(hctx)
	cancel()
	d.shaking.Add(-1)
	if err != nil {
		tc.Close()
		switch {
		case errors.Is(err, link.ErrNotPinned):
			// Anyone who can reach the peer port can present a key of its
			// own: a counted warning. From a pinned peer's own address it
			// may be an impostor there, or a key change this station
			// cannot follow: an alarm.
			host, _, _ := net.SplitHostPort(tc.RemoteAddr().String())
			if peer, ok := s.peerAt(host); ok {
				s.event(protocol.LinkRefused{Reason: "unpinned station", Peer: peer,
					Text: fmt.Sprintf("refused a station at %s, an address of %s: %v", tc.RemoteAddr(), peer, err)})
			} else {
				s.event(protocol.LinkRefused{Reason: "unknown station", Level: "warning",
					Text: fmt.Sprintf("refused a station at %s: %v", tc.RemoteAddr(), err)})
			}
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			// Slow or silent: the connection held nothing but a socket
			// for HandshakeTimeout.
			s.event(protocol.LinkRefused{Reason: "handshake timeout", Level: "warning",
				Text: fmt.Sprintf("closed a connection from %s: no TLS handshake within %s", tc.RemoteAddr(), HandshakeTimeout)})
		case ctx.Err() == nil:
			// Not TLS 1.3, no hybrid key exchange, no certificate, not TLS
			// at all: nobody was identified, so this is a warning.
			s.event(protocol.LinkRefused{Reason: "handshake failed", Level: "warning",
				Text: fmt.Sprintf("refused a connection from %s: %v", tc.RemoteAddr(), err)})
		}
		s.handshakeLog.Warn("inbound handshake failed", "remote", tc.RemoteAddr().String(), "err", err)
		return
	}
	k, _ := link.PeerKey(tc.ConnectionState())
	stmts := link.Statements(tc.ConnectionState())
	name, ok := s.peerLookup(k, stmts)
	if !ok {
		tc.Close()
		return
	}
	if len(stmts) > 0 {
		s.event(protocol.Statements{Peer: name, Statements: stmts})
	}
	d.serve(name, k, link.NewConn(tc), false)
}

// serve hands a connection to the station as a path and feeds it the
// frames that arrive until it closes.
func (d *direct) serve(peer string, key ed25519.PublicKey, c *link.Conn, outbound bool) {
	s := d.s
	id := s.newConnID()
	s.Log.Info("connected", "peer", peer, "outbound", outbound, "remote", c.RemoteAddr().String())
	s.openPath(d, peer, id, c, outbound)
	go s.measurePath(peer, id, c)
	for {
		data, err := c.Read()
		if errors.Is(err, link.ErrFrameSize) {
			s.event(protocol.LinkRefused{Peer: peer, Reason: "oversized frame", Text: fmt.Sprintf("%s sent a frame refused unread: %v", peer, err)})
		}
		if err != nil || !s.pathFrame(peer, id, key, data) {
			break
		}
	}
	c.Close()
	s.closePath(peer, id)
	s.Log.Info("disconnected", "peer", peer, "outbound", outbound)
}

// measureEvery is how often a direct path's measured rate is looked at;
// the core hears of it when it moved by a quarter.
const measureEvery = time.Second

// measurePath tells the core what the kernel measures a direct path to
// carry (protocol.PathMeasured), until the connection closes.
func (s *Station) measurePath(peer string, id protocol.ConnID, c *link.Conn) {
	t := time.NewTicker(measureEvery)
	defer t.Stop()
	told := 0.0
	for {
		if rate, _ := c.Rate(); rate > 0 && (told == 0 || rate > told*1.25 || rate < told*0.8) {
			told = rate
			s.event(protocol.PathMeasured{Peer: peer, Conn: id, Rate: rate})
		}
		select {
		case <-c.Closed():
			return
		case <-t.C:
		}
	}
}

// dial keeps an outbound connection to a peer until ctx ends.
func (d *direct) dial(ctx context.Context, peer string) {
	s := d.s
	cfg := link.ChainClientConfig(s.currentCert, peer, s.acceptPeer(peer))
	b := link.Backoff{Min: 50 * time.Millisecond, Max: 5 * time.Second}
	// An endpoint that answered with another key is dialed again no
	// sooner than a second later, the wait doubling up to a minute.
	refusals := link.Backoff{Min: RefusedRetry, Max: time.Minute}
	for ctx.Err() == nil {
		// The card is read again for each round: the peer may have
		// changed its keys (and endpoints) since.
		var card *identity.Card
		if err := s.inLoop(ctx, func() { card = s.core.Peer(peer) }); err != nil || card == nil {
			return
		}
		refused := false
		for _, addr := range card.Endpoints {
			tc, err := link.DialPeer(ctx, addr, cfg)
			if err != nil {
				if errors.Is(err, link.ErrNotPinned) {
					refused = true
					s.event(protocol.LinkRefused{Peer: peer, Reason: "wrong peer key", Text: fmt.Sprintf("%s at %s: %v", peer, addr, err)})
				}
				continue
			}
			c := link.NewConn(tc)
			go func() {
				select {
				case <-ctx.Done():
					c.Close()
				case <-c.Closed():
				}
			}()
			began := time.Now()
			k, _ := link.PeerKey(tc.ConnectionState())
			if stmts := link.Statements(tc.ConnectionState()); len(stmts) > 0 {
				s.event(protocol.Statements{Peer: peer, Statements: stmts})
			}
			d.serve(peer, k, c, true)
			// Only a connection that lasted starts the backoff again, so a
			// peer that refuses every connection is not redialed in a loop.
			if time.Since(began) > 10*time.Second {
				b.Reset()
				refusals.Reset()
			}
			break
		}
		wait := b.Next()
		if refused {
			wait = refusals.Next()
		}
		select {
		case <-ctx.Done():
		case <-s.done:
			return
		case <-time.After(wait):
		}
	}
}
