package sim

import (
	"slices"
	"time"

	"hotline/internal/protocol"
)

// The relay path, as internal/station/relays.go builds it: each station
// keeps one connection to the network's relay; while it is up, the
// station has a relay path to every peer, made of two connections for the
// core (Connected{Path: "relay", Rank: 1}), an outbound one (its hello,
// entries and probes go out as deposits; the peer's status, receipts,
// resend requests and probe answers come back as mail) and an inbound one
// (the other way round). Mail is sorted onto them by frame type.
//
// The relay itself (internal/relay) keeps what it stored across its own
// crashes, pushes each station its mail in order when it connects and as
// it arrives, and deletes what the station took. It is untrusted, so this
// is where frames are dropped, duplicated, reordered and corrupted: the
// relay may do any of it to the mail of a station while it misbehaves.

// The prior ranks the station's transports give their paths
// (internal/station/transports.go): the core orders paths by them until
// it has measured them.
const (
	directRank = 0
	relayRank  = 1
)

// Relay is the network's mailbox.
type Relay struct {
	w     *World
	up    bool
	life  int
	mail  map[string][]*mail    // by recipient, in deposit order, some of it gone (mail.gone)
	dead  map[string]int        // how much of mail[recipient] is gone
	links map[string]*relayLink // by station: its current connection
}

type mail struct {
	from, to *Station
	data     []byte
	pushedOn *relayLink // the connection it was last sent on
	gone     bool       // deleted: the recipient took it, or the relay dropped it
}

// relayLink is one station's connection to the relay.
type relayLink struct {
	s      *Station
	sLife  int
	rLife  int
	open   bool
	last   [2]time.Time // arrival of the last message: to the relay, to the station
	broken bool         // it lost bytes into a black hole: cut when the path heals
	hung   bool         // the station was not told it is gone (the path is silent)
	made   time.Time
}

// relayPath is a station's relay path to one peer.
type relayPath struct {
	s, peer *Station
	out, in protocol.ConnID
	link    *relayLink
}

func newRelay(w *World) *Relay {
	return &Relay{w: w, up: true, mail: map[string][]*mail{}, dead: map[string]int{}, links: map[string]*relayLink{}}
}

// relayDial connects a station to the relay after d, redialing with
// backoff until it is connected.
func (w *World) relayDial(s *Station, d time.Duration) {
	if s.relayTry || s.relay != nil || !s.up {
		return
	}
	s.relayTry = true
	life := s.life
	w.after(d, func() {
		if life != s.life {
			return
		}
		if s.paused {
			s.relayTry = false
			w.relayDial(s, 100*time.Millisecond)
			return
		}
		r, p := w.relay, &s.toRelay
		var took time.Duration
		switch {
		case p.mode() == pathSilent:
			took = 5 * time.Second
		case p.mode() == pathRefused || !r.up:
			took = 2 * p.lat
		default:
			took = 3 * p.lat
		}
		rlife := r.life
		w.after(took, func() {
			if life != s.life {
				return
			}
			s.relayTry = false
			if p.mode() != pathUp || !r.up || r.life != rlife || s.paused {
				w.relayDial(s, s.relayBack.next(w))
				return
			}
			w.relayConnect(s)
		})
	})
}

// relayConnect makes the connection: the station's relay paths come up,
// and the relay sends what it holds for the station.
func (w *World) relayConnect(s *Station) {
	r := w.relay
	l := &relayLink{s: s, sLife: s.life, rLife: r.life, open: true, made: w.now}
	if old := r.links[s.Name]; old != nil {
		r.forget(old)
	}
	r.links[s.Name] = l
	s.relay = l
	for _, p := range s.peers {
		w.relayPathUp(s, p)
	}
	for _, m := range slices.Clone(r.mail[s.Name]) {
		if !m.gone {
			r.push(m, l)
		}
	}
}

// relayPathUp registers a relay path to peer with the station's core.
func (w *World) relayPathUp(s *Station, peer *Station) {
	w.nextConn++
	in := w.nextConn
	w.nextConn++
	out := w.nextConn
	rp := &relayPath{s: s, peer: peer, out: out, in: in, link: s.relay}
	s.relayPaths[peer.Name] = rp
	w.relayConns[in], w.relayConns[out] = rp, rp
	s.input(protocol.Connected{Peer: peer.Name, Conn: in, Outbound: false, Path: "relay", Rank: relayRank})
	s.input(protocol.Connected{Peer: peer.Name, Conn: out, Outbound: true, Path: "relay", Rank: relayRank})
}

// relayPathDown takes one relay path down (the core closed one of its
// connections): the core hears of both, and while the relay is connected
// the path comes up again at once, as the station's reconcile does.
func (w *World) relayPathDown(rp *relayPath) {
	s := rp.s
	if s.relayPaths[rp.peer.Name] != rp {
		return
	}
	delete(s.relayPaths, rp.peer.Name)
	delete(w.relayConns, rp.out)
	delete(w.relayConns, rp.in)
	life := s.life
	w.after(0, func() {
		if life != s.life {
			return
		}
		s.input(protocol.Disconnected{Peer: rp.peer.Name, Conn: rp.out})
		s.input(protocol.Disconnected{Peer: rp.peer.Name, Conn: rp.in})
		s.deliver(func() {
			if s.relay != nil && s.relay.open && s.relayPaths[rp.peer.Name] == nil {
				w.relayPathUp(s, rp.peer)
			}
		})
	})
}

// sendRelay deposits a frame the core sent on a relay connection.
func (w *World) sendRelay(s *Station, rp *relayPath, data []byte, closeAfter bool) {
	l := s.relay
	if s.relayPaths[rp.peer.Name] == rp && l != nil && l.open && rp.link == l {
		r := w.relay
		to := rp.peer
		switch p := &s.toRelay; {
		case p.mode() == pathSilent:
			l.broken = true
		case w.lost(p):
			w.relayCut(l)
		default:
			at := w.now.Add(w.latency(p))
			if at.Before(l.last[0]) {
				at = l.last[0]
			}
			l.last[0] = at
			rlife := l.rLife
			w.at(at, func() {
				if l.open && r.up && r.life == rlife {
					r.store(&mail{from: s, to: to, data: data})
				}
			})
		}
	}
	if closeAfter {
		w.relayPathDown(rp)
	}
}

// store keeps a deposit and pushes it if its recipient is connected.
func (r *Relay) store(m *mail) {
	r.mail[m.to.Name] = append(r.mail[m.to.Name], m)
	if l := r.links[m.to.Name]; l != nil && l.open {
		r.push(m, l)
	}
}

// push sends one mail to its recipient, misbehaving if the relay does for
// that recipient now.
func (r *Relay) push(m *mail, l *relayLink) {
	w, s := r.w, l.s
	p := &s.toRelay
	data := m.data
	inOrder := true
	var extra time.Duration
	if w.dropMail != nil && w.dropMail(m) {
		w.fault("drop")
		r.remove(m)
		return
	}
	if w.now.Before(p.relayUntil) {
		switch {
		case w.chance(p.rdrop):
			w.fault("drop")
			r.remove(m)
			return
		case w.chance(p.rcorrupt):
			w.fault("corrupt")
			data = w.corrupt(data)
		case w.chance(p.rreo):
			w.fault("reorder")
			inOrder = false
			extra = w.between(20*time.Millisecond, 2*time.Second)
		case w.chance(p.rdup):
			w.fault("duplicate")
			w.after(w.between(time.Millisecond, 3*time.Second), func() {
				if l.open && r.links[s.Name] == l && r.holds(m) {
					r.push(m, l)
				}
			})
		case w.chance(p.rdelay):
			w.fault("delay")
			extra = w.between(100*time.Millisecond, 10*time.Second)
		}
	}
	m.pushedOn = l
	switch {
	case p.mode() == pathSilent:
		l.broken = true
		return
	case w.lost(p):
		w.relayCut(l)
		return
	}
	at := w.now.Add(w.latency(p) + extra)
	if inOrder {
		if at.Before(l.last[1]) {
			at = l.last[1]
		}
		l.last[1] = at
	}
	life := l.sLife
	w.at(at, func() {
		if l.open && s.life == life && s.relay == l {
			s.deliver(func() { w.takeMail(s, m, data, l) })
		}
	})
}

func (r *Relay) holds(m *mail) bool { return !m.gone }

// remove deletes a mail. It is marked gone and left in its recipient's
// list until half the list is gone: a station cut off from the relay
// for minutes has thousands waiting, taken one by one when it is back.
func (r *Relay) remove(m *mail) {
	if m.gone {
		return
	}
	m.gone = true
	to := m.to.Name
	r.dead[to]++
	if q := r.mail[to]; 2*r.dead[to] > len(q) {
		r.mail[to] = slices.DeleteFunc(q, func(x *mail) bool { return x.gone })
		r.dead[to] = 0
	}
}

// forget drops a connection at the relay: its mail goes again on the
// next one.
func (r *Relay) forget(l *relayLink) {
	if r.links[l.s.Name] == l {
		delete(r.links, l.s.Name)
	}
	for _, m := range r.mail[l.s.Name] {
		if m.pushedOn == l {
			m.pushedOn = nil
		}
	}
}

// takeMail is a station taking one mail: the frame goes to the core on
// the relay path of its sender, then the station tells the relay to
// delete it.
func (w *World) takeMail(s *Station, m *mail, data []byte, l *relayLink) {
	rp := s.relayPaths[m.from.Name]
	if rp != nil && len(data) > 0 {
		conn := rp.in
		switch protocol.FrameType(data[0]) {
		case protocol.FrameStatus, protocol.FrameReceipt, protocol.FrameResend, protocol.FrameProbeReply, protocol.FrameError:
			conn = rp.out
		}
		w.checkArrival(m.from, s, data)
		ev := protocol.FrameIn{Peer: m.from.Name, Conn: conn, Data: data}
		if w.chance(0.25) {
			ev.Pre = protocol.Prepare(data, m.from.keys.SignPublic(), s.keys)
		}
		s.step(ev)
	}
	if !l.open || s.relay != l {
		return
	}
	p := &s.toRelay
	if p.mode() == pathSilent {
		l.broken = true
		return
	}
	at := w.now.Add(w.latency(p))
	if at.Before(l.last[0]) {
		at = l.last[0]
	}
	l.last[0] = at
	r := w.relay
	rlife := l.rLife
	w.at(at, func() {
		if l.open && r.up && r.life == rlife && m.pushedOn == l {
			r.remove(m)
		}
	})
}

// relayCut breaks a station's connection to the relay: both ends hear,
// the station after a moment.
func (w *World) relayCut(l *relayLink) {
	if !l.open {
		return
	}
	w.relay.forget(l)
	l.open = false
	w.relayLost(l, w.now.Add(w.between(0, l.s.toRelay.lat)))
}

// relayLost tells the station at t that its connection to the relay is
// gone: its relay paths go down and it redials.
func (w *World) relayLost(l *relayLink, t time.Time) {
	s := l.s
	w.at(t, func() {
		if s.life != l.sLife || s.relay != l {
			return
		}
		s.relay = nil
		paths := make([]*relayPath, 0, len(s.relayPaths))
		for _, p := range s.peers {
			if rp := s.relayPaths[p.Name]; rp != nil {
				paths = append(paths, rp)
			}
		}
		s.relayPaths = map[string]*relayPath{}
		for _, rp := range paths {
			delete(w.relayConns, rp.out)
			delete(w.relayConns, rp.in)
			s.input(protocol.Disconnected{Peer: rp.peer.Name, Conn: rp.out})
			s.input(protocol.Disconnected{Peer: rp.peer.Name, Conn: rp.in})
		}
		w.relayDial(s, s.relayBack.next(w))
	})
}

// relayLinkLost is a station's end vanishing with its process.
func (w *World) relayLinkLost(l *relayLink) {
	w.relay.forget(l)
	l.open = false
	l.s.relay = nil
}

// crashRelay kills the relay: what it stored stays, what was on its way
// to it is lost, every station's connection ends.
func (w *World) crashRelay(down time.Duration) {
	r := w.relay
	if !r.up {
		return
	}
	r.up = false
	r.life++
	for _, s := range w.stations {
		l := r.links[s.Name]
		if l == nil {
			continue
		}
		r.forget(l)
		l.open = false
		if s.toRelay.mode() == pathSilent {
			l.hung = true
			continue
		}
		w.relayLost(l, w.now.Add(s.toRelay.lat))
	}
	w.after(down, func() { r.up = true })
}

// healRelayPath lifts one block of a station's path to the relay; when
// none is left, a connection that lost bytes is cut and a station that
// was not told its connection ended hears now.
func (w *World) healRelayPath(s *Station, id uint64) {
	p := &s.toRelay
	before := p.mode()
	p.blocks = slices.DeleteFunc(p.blocks, func(b block) bool { return b.id == id })
	if before == pathUp || p.mode() == pathSilent {
		return
	}
	w.fault("heal")
	if l := s.relay; l != nil {
		switch {
		case l.hung:
			l.hung = false
			w.relayLost(l, w.now.Add(p.lat))
		case l.broken && l.open:
			w.relayCut(l)
		}
	}
}
