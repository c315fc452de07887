package station

import (
	"context"
	"crypto/ed25519"
	"fmt"

	"hotline/internal/ops"
	"hotline/internal/protocol"
)

// Transports. A transport is one way of reaching peers: the direct TLS
// link (links.go) and the relays (relays.go) today. Each keeps paths up to
// the peers it can reach and hands every connection of a path to the
// station, which gives it to the core under the transport's name and
// rank. The core ranks paths by what its probes measure of them; the rank
// is only its prior, for a path not measured yet and to break ties. The
// station starts every transport of its list the same way, so a further
// kind of link (a media path, say) is a type that implements transport,
// added to the list in newTransports; the core does not change.

// transport is one way of reaching peers.
type transport interface {
	// Name names the paths it makes, to the core and in status.
	Name() string
	// Rank is the prior rank of its paths, lower preferred.
	Rank() int
	// Run keeps paths up to every peer it can reach until ctx ends. It
	// hands each connection of a path to the station with openPath, the
	// frames that arrive on it with pathFrame, and its end with
	// closePath. An error it returns before ctx ends stops Station.Run.
	Run(ctx context.Context) error
	// Pinned tells it that a peer was pinned, so that it reaches that
	// peer too. It may come before Run, or while it runs.
	Pinned(peer string)
}

// Prior ranks of the paths of each transport: the direct path is tried
// first, then the relays.
const (
	directRank = 0
	relayRank  = 1
)

// newTransports lists the transports a station runs.
func newTransports(s *Station) []transport {
	return []transport{newDirect(s), newRelays(s)}
}

// Run runs every transport until ctx is done or the station stops. It
// returns once they have all stopped: nil when ctx ended them, the error
// of a transport that could not go on (the peer listener could not
// listen), or the reason the station stopped (a failed write, a lost
// lease).
func (s *Station) Run(ctx context.Context) error {
	keys, _ := s.Identity()
	cert, err := s.makeCert(ctx, keys)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	s.cert = cert
	s.mu.Unlock()
	// The core sets its timers at its first step: take it now, so that
	// deadlines, checks and link tests run even if no peer can be reached.
	s.event(protocol.Tick{})
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		s.RunDetector(ctx)
	}()
	stopMedia, err := s.startMedia(ctx)
	if err != nil {
		return fmt.Errorf("call media on %s: %w", s.Cfg.MediaAddr(), err)
	}
	defer stopMedia()
	go func() {
		select {
		case <-ctx.Done():
		case <-s.done:
		}
		cancel()
	}()
	errs := make(chan error, len(s.transports))
	for _, t := range s.transports {
		go func() { errs <- t.Run(ctx) }()
	}
	var failed error
	for range s.transports {
		if err := <-errs; err != nil && failed == nil && ctx.Err() == nil {
			failed = err
			cancel()
		}
	}
	if failed != nil {
		return failed
	}
	return s.Err() // why the station stopped, if it did
}

// newConnID returns an id for a new connection of a path.
func (s *Station) newConnID() protocol.ConnID {
	return protocol.ConnID(s.nextConn.Add(1))
}

// openPath hands the core connection id, one of the connections of a path
// to peer that transport t brought up, under t's name and rank: the core
// sends on c from now on. Outbound connections carry this station's
// entries, inbound ones the peer's.
func (s *Station) openPath(t transport, peer string, id protocol.ConnID, c conn, outbound bool) {
	s.mu.Lock()
	s.conns[id] = c
	s.mu.Unlock()
	select {
	case <-s.done: // the station closed while this connection was being set up
		c.Close()
	default:
	}
	s.event(protocol.Connected{Peer: peer, Conn: id, Outbound: outbound, Path: t.Name(), Rank: t.Rank()})
}

// pathFrame hands the core a frame that arrived from peer on connection
// id. A frame of the peer's entries first passes admit (admit.go): one
// over the peer's quota, or that came while the disk is under its
// reserve, is not taken, and its author sends it again later. The frame
// is decoded, and its entries verified (against key, the key it came
// under) and opened, here on the caller's goroutine (protocol.Prepare),
// so that this costly part runs in parallel with the core's loop. It
// returns false if the frame was refused as equivocation: it never
// reaches the core, and the direct path closes the connection that
// carried it, as it would for a forged frame.
func (s *Station) pathFrame(peer string, id protocol.ConnID, key ed25519.PublicKey, data []byte) bool {
	if !s.admit(peer, id, data) {
		return true // the frame waits; the connection stays
	}
	keys, _ := s.Identity()
	pre := protocol.Prepare(data, key, keys)
	if eq := s.equivocation(context.Background(), peer, pre); eq != nil {
		s.refuseEquivocation(peer, eq)
		return false
	}
	s.event(protocol.FrameIn{Peer: peer, Conn: id, Data: data, Pre: pre})
	return true
}

// closePath tells the core that connection id of a path to peer is gone.
func (s *Station) closePath(peer string, id protocol.ConnID) {
	s.mu.Lock()
	delete(s.conns, id)
	s.mu.Unlock()
	s.event(protocol.Disconnected{Peer: peer, Conn: id})
}

// RelaysRefusing lists the relays that refused this station when it last
// dialed them (desk.Station).
func (s *Station) RelaysRefusing() []ops.RelayRefusalView {
	for _, t := range s.transports {
		if r, ok := t.(*relays); ok {
			return r.refusing()
		}
	}
	return nil
}
