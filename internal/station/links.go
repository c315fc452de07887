package station

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"hotline/internal/identity"
	"hotline/internal/link"
	"hotline/internal/protocol"
)

// Run listens for peers and dials every pinned peer until ctx is done or
// the station stops. It returns once the peer listener is closed: nil when
// ctx ended it, or the reason the station stopped (a failed write, a lost
// lease).
func (s *Station) Run(ctx context.Context) error {
	keys, _ := s.identity()
	cert, err := s.makeCert(ctx, keys)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.Cfg.PeerListen)
	if err != nil {
		return fmt.Errorf("peer listener: %w", err)
	}
	s.mu.Lock()
	s.cert, s.runCtx, s.peerAddr = cert, ctx, ln.Addr()
	names := make([]string, 0, len(s.pins))
	for _, n := range s.pins {
		names = append(names, n)
	}
	s.mu.Unlock()
	s.Log.Info("listening for peers", "addr", ln.Addr().String())
	// The core sets its timers at its first step: take it now, so that
	// deadlines, checks and link tests run even if no peer can be reached.
	s.event(protocol.Tick{})
	for _, n := range names {
		s.startDialer(n)
	}
	s.startRelays(ctx)
	s.bg.Add(1)
	go s.detectLoop(ctx)
	go func() {
		select {
		case <-ctx.Done():
		case <-s.done:
		}
		ln.Close()
	}()
	tlsCfg := link.ChainServerConfig(s.currentCert, s.peerLookup)
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return s.Err() // why the station stopped, if it did (a failed write)
			}
			return err
		}
		go s.serveInbound(ctx, tls.Server(c, tlsCfg))
	}
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
const HandshakeTimeout = 10 * time.Second

func (s *Station) serveInbound(ctx context.Context, tc *tls.Conn) {
	hctx, cancel := context.WithTimeout(ctx, HandshakeTimeout)
	err := tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		tc.Close()
		switch {
		case errors.Is(err, link.ErrNotPinned):
			s.event(protocol.LinkRefused{Reason: "unpinned station", Text: fmt.Sprintf("refused a station at %s: %v", tc.RemoteAddr(), err)})
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
		s.Log.Warn("inbound handshake failed", "remote", tc.RemoteAddr().String(), "err", err)
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
	s.serveConn(name, k, link.NewConn(tc), false)
}

// serveConn registers a connection with the core and feeds it frames until
// it closes. Each frame is decoded, and its entries verified and opened,
// here on the connection's goroutine (protocol.Prepare), so that this costly
// part runs in parallel with the core's loop.
func (s *Station) serveConn(peer string, key ed25519.PublicKey, c *link.Conn, outbound bool) {
	id := protocol.ConnID(s.nextConn.Add(1))
	s.mu.Lock()
	s.conns[id] = c
	s.mu.Unlock()
	select {
	case <-s.done: // the station closed while this connection was being set up
		c.Close()
	default:
	}
	s.Log.Info("connected", "peer", peer, "outbound", outbound, "remote", c.RemoteAddr().String())
	s.event(protocol.Connected{Peer: peer, Conn: id, Outbound: outbound})
	for {
		data, err := c.Read()
		if errors.Is(err, link.ErrFrameSize) {
			s.event(protocol.LinkRefused{Peer: peer, Reason: "oversized frame", Text: fmt.Sprintf("%s sent a frame refused unread: %v", peer, err)})
		}
		if err != nil {
			break
		}
		keys, _ := s.identity()
		pre := protocol.Prepare(data, key, keys)
		if eq := s.equivocation(context.Background(), peer, pre); eq != nil {
			// Refused like a forged frame: the connection closes and the
			// frame never reaches the core.
			s.refuseEquivocation(peer, eq)
			break
		}
		s.event(protocol.FrameIn{Peer: peer, Conn: id, Data: data, Pre: pre})
	}
	c.Close()
	s.mu.Lock()
	delete(s.conns, id)
	s.mu.Unlock()
	s.event(protocol.Disconnected{Peer: peer, Conn: id})
	s.Log.Info("disconnected", "peer", peer, "outbound", outbound)
}

// startDialer keeps an outbound connection to a peer while the station runs.
func (s *Station) startDialer(peer string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runCtx == nil || s.dialers[peer] != nil {
		return
	}
	ctx, cancel := context.WithCancel(s.runCtx)
	s.dialers[peer] = cancel
	go s.dial(ctx, peer)
}

func (s *Station) dial(ctx context.Context, peer string) {
	cfg := link.ChainClientConfig(s.currentCert, peer, s.acceptPeer(peer))
	b := link.Backoff{Min: 50 * time.Millisecond, Max: 5 * time.Second}
	for ctx.Err() == nil {
		// The card is read again for each round: the peer may have
		// changed its keys (and endpoints) since.
		var card *identity.Card
		if err := s.inLoop(ctx, func() { card = s.core.Peer(peer) }); err != nil || card == nil {
			return
		}
		for _, addr := range card.Endpoints {
			tc, err := link.Dial(ctx, addr, cfg)
			if err != nil {
				if errors.Is(err, link.ErrNotPinned) {
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
			s.serveConn(peer, k, c, true)
			// Only a connection that lasted starts the backoff again, so a
			// peer that refuses every connection is not redialed in a loop.
			if time.Since(began) > 10*time.Second {
				b.Reset()
			}
			break
		}
		select {
		case <-ctx.Done():
		case <-s.done:
			return
		case <-time.After(b.Next()):
		}
	}
}
