package sim

import (
	"bytes"
	"cmp"
	"slices"
	"time"

	"hotline/internal/protocol"
)

// The direct path. Each station dials each peer and keeps one outbound
// connection (internal/station/links.go): TLS over TCP, so a connection
// delivers frames in order or fails. A frame lost or damaged below TLS is
// a failed connection, not a frame the core sees; a duplicate or reorder
// cannot get through at all. What the network can do to the direct path
// is delay it, cut it, refuse it, or black-hole it (bytes vanish, the
// connection stays open until the path heals). The relay is where frames
// themselves are dropped, duplicated, reordered and corrupted (relay.go).

// pathMode is what a path does to traffic.
type pathMode int

const (
	pathUp      pathMode = iota
	pathRefused          // connections fail at once and new ones are refused
	pathSilent           // a black hole: bytes vanish, connections hang
)

// block is one fault keeping a path down; a path heals when its last
// block ends.
type block struct {
	id   uint64
	mode pathMode
}

// path is the faults and latency of one way of reaching something: the
// direct path of a pair of stations, or a station's link to the relay.
type path struct {
	lat    time.Duration // one-way base latency
	blocks []block
	// a lossy episode, until its end
	lossUntil         time.Time
	drop, corrupt     float64 // per frame: the connection fails
	delay             float64 // per frame: a delay spike of up to spike
	spike             time.Duration
	relayUntil        time.Time // the relay misbehaves for this recipient
	rdrop, rdup, rreo float64
	rcorrupt, rdelay  float64
}

func (p *path) mode() pathMode {
	m := pathUp
	for _, b := range p.blocks {
		m = max(m, b.mode)
	}
	return m
}

// latency is the time one frame takes on the path now, with jitter and
// any delay spike.
func (w *World) latency(p *path) time.Duration {
	d := p.lat + time.Duration(w.rng.Int64N(int64(p.lat)/5+1))
	if w.now.Before(p.lossUntil) && w.chance(p.delay) {
		w.fault("delay")
		d += w.between(p.spike/10, p.spike)
	}
	return d
}

// lost says whether a frame on the path breaks its TLS connection (lost or
// damaged below TLS).
func (w *World) lost(p *path) bool {
	if !w.now.Before(p.lossUntil) {
		return false
	}
	if w.chance(p.drop) {
		w.fault("drop")
		return true
	}
	if w.chance(p.corrupt) {
		w.fault("corrupt")
		return true
	}
	return false
}

// pair is two stations and the direct path between them.
type pair struct {
	a, b   *Station
	direct bool // false: the two can reach each other only through the relay
	path
}

// conn is one direct connection. End 0 is the dialer (the connection
// carries its entries), end 1 the acceptor.
type conn struct {
	id     protocol.ConnID
	ends   [2]*Station
	lives  [2]int
	open   [2]bool // the end has not been told it is gone
	closed bool    // no more frames go in
	pair   *pair
	last   [2]time.Time // arrival of the last frame sent by each end
	broken bool         // it lost bytes into a black hole: it is cut when the path heals
	hung   [2]bool      // the end was not told of the close, because the path is silent
	made   time.Time
}

func (c *conn) end(s *Station) int {
	if c.ends[0] == s {
		return 0
	}
	return 1
}

// connsOf lists a station's open connections, in id order.
func (w *World) connsOf(s *Station) []*conn {
	var out []*conn
	for _, c := range w.conns {
		if (c.ends[0] == s && c.open[0]) || (c.ends[1] == s && c.open[1]) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b *conn) int { return cmp.Compare(a.id, b.id) })
	return out
}

// dialer is a station's outbound direct connection to one peer.
type dialer struct {
	s, peer *Station
	conn    *conn
	trying  bool
	back    backoff
	gen     int // bumped by reset: attempts of an earlier life are dropped
}

func (d *dialer) reset() {
	d.conn, d.trying = nil, false
	d.back.reset()
	d.gen++
}

// startLinks starts the station's dialers and its relay client, as Run
// does, after stepping the core once so that its timers are set.
func (s *Station) startLinks() {
	s.input(protocol.Tick{})
	for _, p := range s.peers {
		s.dialers[p.Name].schedule(0)
	}
	s.w.relayDial(s, 0)
}

// schedule tries to dial after d.
func (d *dialer) schedule(after time.Duration) {
	if d.trying || d.conn != nil {
		return
	}
	d.trying = true
	gen, life := d.gen, d.s.life
	d.s.w.after(after, func() {
		if gen == d.gen && life == d.s.life {
			d.attempt()
		}
	})
}

// attempt dials the peer: TCP, then the TLS handshake. A refused path or
// a stopped peer fails within a round trip, a silent one after the
// connect timeout, a paused peer after the handshake timeout.
func (d *dialer) attempt() {
	s, w := d.s, d.s.w
	if !s.up {
		d.trying = false
		return
	}
	if s.paused {
		d.trying = false
		d.schedule(100 * time.Millisecond)
		return
	}
	p := w.pair(s, d.peer)
	if !p.direct {
		d.trying = false
		return
	}
	var took time.Duration
	switch {
	case p.mode() == pathSilent:
		took = 5 * time.Second
	case p.mode() == pathRefused || !d.peer.up:
		took = 2 * p.lat
	case d.peer.paused:
		took = 10 * time.Second
	default:
		took = 3*p.lat + time.Duration(w.rng.Int64N(int64(p.lat)+1))
	}
	gen, life, plife := d.gen, s.life, d.peer.life
	w.after(took, func() {
		if gen != d.gen || life != s.life {
			return
		}
		d.trying = false
		if !s.up {
			return
		}
		if p.mode() != pathUp || !d.peer.up || d.peer.paused || d.peer.life != plife {
			d.schedule(d.back.next(w))
			return
		}
		w.connect(d)
	})
}

// connect makes a connection: both ends hear of it, the acceptor first.
func (w *World) connect(d *dialer) {
	w.nextConn++
	c := &conn{id: w.nextConn, ends: [2]*Station{d.s, d.peer}, lives: [2]int{d.s.life, d.peer.life},
		open: [2]bool{true, true}, pair: w.pair(d.s, d.peer), made: w.now}
	w.conns[c.id] = c
	d.conn = c
	d.peer.input(protocol.Connected{Peer: d.s.Name, Conn: c.id, Outbound: false, Path: "direct", Rank: directRank})
	d.s.input(protocol.Connected{Peer: d.peer.Name, Conn: c.id, Outbound: true, Path: "direct", Rank: directRank})
}

// sendDirect puts a frame on a direct connection.
func (w *World) sendDirect(s *Station, c *conn, data []byte, closeAfter bool) {
	i := c.end(s)
	if c.closed || !c.open[i] {
		return
	}
	j := 1 - i
	to := c.ends[j]
	switch {
	case c.pair.mode() == pathSilent:
		c.broken = true
	case w.lost(&c.pair.path):
		w.cut(c)
		return
	default:
		at := w.now.Add(w.latency(&c.pair.path))
		if at.Before(c.last[i]) {
			at = c.last[i]
		}
		c.last[i] = at
		life := c.lives[j]
		from := s
		w.at(at, func() {
			if !c.open[j] || to.life != life {
				return
			}
			w.checkArrival(from, to, data)
			ev := protocol.FrameIn{Peer: from.Name, Conn: c.id, Data: data}
			if w.chance(0.25) {
				// Some frames come prepared, as the station's reader
				// does; the core checks the others itself.
				ev.Pre = protocol.Prepare(data, from.keys.SignPublic(), to.keys)
			}
			to.input(ev)
		})
	}
	if closeAfter {
		w.closeFrom(c, i)
	}
}

// closeFrom closes a connection from one end: that end hears at once, the
// other once the frames in flight have arrived (or when the path heals,
// if it is silent).
func (w *World) closeFrom(c *conn, i int) {
	if c.closed {
		return
	}
	c.closed = true
	w.tellEnd(c, i, w.now)
	j := 1 - i
	if c.pair.mode() == pathSilent {
		c.hung[j] = true
		return
	}
	at := w.now.Add(c.pair.lat)
	if at.Before(c.last[i]) {
		at = c.last[i]
	}
	w.tellEnd(c, j, at)
}

// cut breaks a connection (a reset, a failed TLS record): both ends hear.
func (w *World) cut(c *conn) {
	if c.closed {
		return
	}
	c.closed = true
	for i := range 2 {
		w.tellEnd(c, i, w.now.Add(w.between(0, c.pair.lat)))
	}
}

// dropEnd is a station's end of a connection vanishing with its process:
// the other end hears when the kernel's reset arrives.
func (w *World) dropEnd(c *conn, s *Station) {
	i := c.end(s)
	c.open[i] = false
	if c.closed {
		return
	}
	c.closed = true
	j := 1 - i
	if c.pair.mode() == pathSilent {
		c.hung[j] = true
		return
	}
	w.tellEnd(c, j, w.now.Add(c.pair.lat))
}

// tellEnd tells end i of a connection, at t, that it is gone.
func (w *World) tellEnd(c *conn, i int, t time.Time) {
	s, life := c.ends[i], c.lives[i]
	peer := c.ends[1-i]
	w.at(t, func() {
		if !c.open[i] || s.life != life {
			c.open[i] = false
			return
		}
		c.open[i] = false
		c.hung[i] = false
		if !c.open[0] && !c.open[1] {
			delete(w.conns, c.id)
		}
		s.input(protocol.Disconnected{Peer: peer.Name, Conn: c.id})
		if i == 0 {
			s.deliver(func() {
				d := s.dialers[peer.Name]
				if d.conn != c {
					return
				}
				d.conn = nil
				// Only a connection that lasted starts the backoff
				// again (internal/station/links.go).
				if w.now.Sub(c.made) > 10*time.Second {
					d.back.reset()
				}
				d.schedule(d.back.next(w))
			})
		}
	})
}

// heal lifts one block of a direct path; when none is left,
// the connections that lost bytes into it are cut (their streams are
// broken) and the ends that were not told of a close hear now.
func (w *World) heal(p *path, id uint64, conns func() []*conn) {
	before := p.mode()
	p.blocks = slices.DeleteFunc(p.blocks, func(b block) bool { return b.id == id })
	if before == pathUp || p.mode() == pathSilent {
		return
	}
	w.fault("heal")
	for _, c := range conns() {
		if c.broken && !c.closed {
			w.cut(c)
		}
		for i := range 2 {
			if c.hung[i] {
				c.hung[i] = false
				w.tellEnd(c, i, w.now.Add(p.lat))
			}
		}
	}
}

// pairConns lists a pair's direct connections, in id order.
func (w *World) pairConns(p *pair) []*conn {
	var out []*conn
	for _, c := range w.conns {
		if c.pair == p {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b *conn) int { return cmp.Compare(a.id, b.id) })
	return out
}

// corrupt returns a copy of data with one byte changed.
func (w *World) corrupt(data []byte) []byte {
	out := bytes.Clone(data)
	if len(out) > 0 {
		out[w.rng.IntN(len(out))] ^= byte(1 + w.rng.IntN(255))
	}
	return out
}
