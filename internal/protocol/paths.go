package protocol

import (
	"cmp"
	"slices"
	"time"
)

// Paths: a peer may be reached over several connections at once (the
// direct path, a relay, any other transport the station lists). Each
// outbound connection is a path for this station's entries; the core
// sends on one, the active path. The core knows a path by the name and
// the rank the station gave it. Which transport makes it is the
// station's affair; only a path named direct, a connection to the peer's
// own process, carries entries sent ahead (see sendAhead). Every path is
// probed (a probe frame with no channel) so that a silent one is closed
// within DeadAfter, and traffic moves to the next best.
//
// Paths are ranked by what the probes measure: a smoothed round trip,
// with recent loss counted against it (cost). The station's rank is only
// the prior: it orders paths not yet measured, and breaks ties. A path
// not yet measured whose status arrives takes the traffic at once if it
// ranks before the active one by that prior (the direct path
// reconnected). Otherwise traffic moves to another path only once it has
// been clearly cheaper than the active one at SwitchAfter probes in a
// row, so that it does not flap between two paths alike. Entries may so
// travel twice; the receiver ignores the duplicates.

// Path timing. A path is probed every PingEvery, one probe at a time: a
// probe is lost when its answer has not come within ProbeTimeout of it
// (longer on a long path), and then the next goes. A path is closed when
// nothing at all was heard on it for DeadAfter, plus four smoothed round
// trips: a satellite's or a radio's path is not given up for a round
// trip that is only long.
const (
	PingEvery = 500 * time.Millisecond // probe of every path
	DeadAfter = 1500 * time.Millisecond
	// MaxRTT bounds a round trip sample, so that a clock that jumped
	// cannot swamp the average.
	MaxRTT = 30 * time.Second
	// IdleShare is the share of a path's measured rate that one
	// station's probes and link tests may take while its channels are
	// idle (half of the 1% the two stations together may): on a path
	// measured narrow, probes go less often (half the share) and so do
	// link tests (the other half), and the path is given up later in
	// proportion (docs/PROTOCOL.md, "Narrow paths").
	IdleShare = 0.005
	// probeCost is what a probe and its answer put on a path: two
	// frames, each in a TLS record and a TCP/IPv4 segment, and the
	// acknowledgements (counted at 320 bytes, the stations' idle traffic
	// measured 28% over its share on an emulated satellite link).
	probeCost = 420
	// HelloAgain: an outbound path whose status has not come for this
	// long says hello again (the status, or the hello, was lost on a path
	// that is otherwise up: a relay may lose a frame).
	HelloAgain = 5 * time.Second
	// ResendAfter: entries sent without a receipt for this long are sent
	// again from the last receipt (a frame lost on a path that stays up).
	ResendAfter = 5 * time.Second
)

// Path ranking.
const (
	// LossCost is what losing every probe adds to a path's smoothed
	// round trip; a path that recently lost a share l of its probes
	// costs l×LossCost more. A frame lost on a path that stays up is sent
	// again after ResendAfter, so such a path delays each frame by about
	// l×ResendAfter.
	LossCost = ResendAfter
	// SwitchAfter is how many probes in a row a path must be clearly
	// cheaper than the active one before traffic moves to it.
	SwitchAfter = 4
	// SwitchMargin is the least by which a path must be cheaper than the
	// active one to be clearly cheaper. It must also cost at most
	// three quarters of the active path's cost.
	SwitchMargin = 10 * time.Millisecond
	// smoothing: the smoothed round trip and the loss move this fraction
	// (1/smoothing) of the way toward each probe's outcome.
	smoothing = 8
	// lossOne is a loss of every probe, in the fixed point loss is kept in.
	lossOne = 1 << 16
)

// path is one connection to a peer.
type path struct {
	conn     ConnID
	name     string
	rank     int // lower is preferred
	outbound bool
	ready    bool // outbound: the peer's status arrived on it
	since    time.Time
	heard    time.Time // last frame received on it
	hello    time.Time // outbound: when hello was last sent on it
	pingSeq  uint64
	pingAt   time.Time // of the unanswered ping, zero if answered
	pinged   time.Time // when the last ping went
	rate     float64   // bytes a second the path was measured to carry, 0 if not
	rtt      time.Duration
	lastOK   time.Time
	skew     time.Duration
	skewSeen bool
	pings    int
	lost     int
	// srtt is the smoothed round trip of the answered probes.
	srtt time.Duration
	// loss is the recent share of probes lost, in 1/lossOne: it moves
	// toward lossOne with each probe lost and toward 0 with each answered.
	loss int64
	// better counts the probes in a row at which the path was clearly
	// cheaper than the active one.
	better int
}

// pingEvery is how often the path is probed: every PingEvery, or less
// often on a path measured narrow, so that probes take at most half of
// IdleShare of it.
func (x *path) pingEvery() time.Duration {
	if x.rate <= 0 {
		return PingEvery
	}
	return max(PingEvery, time.Duration(probeCost/(IdleShare/2*x.rate)*float64(time.Second)).Truncate(PingEvery))
}

// deadAfter is how long the path may be silent before it is closed:
// DeadAfter, four smoothed round trips more, and as much more as its
// probes are further apart than PingEvery.
func (x *path) deadAfter() time.Duration { return DeadAfter + 4*x.srtt + x.pingEvery() - PingEvery }

// probeTimeout is how long a probe waits for its answer before it is
// lost: until the next tick on a short path (as every probe did before
// paths were long), two smoothed round trips and a tick on a long one,
// and DeadAfter before the path's first answer.
func (x *path) probeTimeout() time.Duration {
	if x.lastOK.IsZero() {
		return DeadAfter
	}
	return max(PingEvery, 2*x.srtt+PingEvery)
}

// measured says whether any probe on the path was answered or lost.
func (x *path) measured() bool { return !x.lastOK.IsZero() || x.lost > 0 }

// cost is what the path is ranked by once measured: its smoothed round
// trip, with its recent loss counted against it.
func (x *path) cost() time.Duration {
	return x.srtt + time.Duration(int64(LossCost)*x.loss/lossOne)
}

// before orders two ready paths, the preferred first: measured paths by
// cost, before those not yet measured; then by the station's rank; then
// by connection, so that the order never depends on a map's.
func before(x, y *path) bool {
	if mx, my := x.measured(), y.measured(); mx != my {
		return mx
	} else if mx {
		if c := cmp.Compare(x.cost(), y.cost()); c != 0 {
			return c < 0
		}
	}
	return cmp.Or(cmp.Compare(x.rank, y.rank), cmp.Compare(x.conn, y.conn)) < 0
}

// clearlyBetter says whether path x is clearly cheaper than the active
// path a: both measured, x cheaper by SwitchMargin and by a quarter.
func clearlyBetter(x, a *path) bool {
	if !x.measured() || !a.measured() {
		return false
	}
	d := a.cost() - x.cost()
	return d >= SwitchMargin && 4*d >= a.cost()
}

func (c *Core) pathOf(p *peer, conn ConnID) *path {
	if p.paths == nil {
		return nil
	}
	return p.paths[conn]
}

func (c *Core) connected(ev Connected) {
	p := c.peers[ev.Peer]
	if p == nil {
		return
	}
	c.addPath(p, ev)
	if ev.Outbound {
		c.emit(Send{Peer: ev.Peer, Conn: ev.Conn, Data: (&Frame{Type: FrameHello, Version: Version}).Encode()})
	}
}

func (c *Core) disconnected(ev Disconnected) {
	p := c.peers[ev.Peer]
	if p == nil {
		return
	}
	// What the peer sent ahead on it never became durable here.
	delete(p.ahead, ev.Conn)
	if c.pathOf(p, ev.Conn) != nil {
		c.lostPath(p, ev.Conn)
	}
}

func (c *Core) addPath(p *peer, ev Connected) {
	if p.paths == nil {
		p.paths = map[ConnID]*path{}
	}
	name := ev.Path
	if name == "" {
		name = "direct"
	}
	p.paths[ev.Conn] = &path{conn: ev.Conn, name: name, rank: ev.Rank, outbound: ev.Outbound, since: c.now, heard: c.now, hello: c.now}
	c.armPaths()
}

// armPaths starts the path timer if it is not running.
func (c *Core) armPaths() {
	if c.armed && !c.pathTimer {
		c.pathTimer = true
		c.schedule(&timer{at: c.now.Add(PingEvery), kind: tPaths})
	}
}

// best returns the preferred ready outbound path other than not.
func (c *Core) best(p *peer, not ConnID) *path {
	var b *path
	for _, x := range p.paths {
		if !x.outbound || !x.ready || x.conn == not {
			continue
		}
		if b == nil || before(x, b) {
			b = x
		}
	}
	return b
}

// activate makes x the active path. fresh says the peer's status on it is
// current (just arrived), so sending resumes from what it holds;
// otherwise every entry not yet receipted goes again.
func (c *Core) activate(p *peer, x *path, held map[string]uint64) {
	p.out, p.ready = x.conn, true
	for _, y := range p.paths {
		y.better = 0
	}
	for _, id := range p.channels {
		cs := c.channels[id]
		if size, ok := held[id]; ok && held != nil && size >= cs.mine.delivered && size <= cs.mine.size {
			cs.mine.sent = size
		} else {
			cs.mine.sent = cs.mine.delivered
		}
		cs.mine.progress = c.now
	}
	c.flush(p.card.Name)
}

// lostPath handles a path that went away: traffic fails over to the next
// best ready path, if any.
func (c *Core) lostPath(p *peer, conn ConnID) {
	if x := p.paths[conn]; x != nil && x.outbound {
		c.linkChanged(p)
		if !x.lastOK.IsZero() {
			if p.lastOK == nil {
				p.lastOK = map[string]time.Time{}
			}
			p.lastOK[x.name] = x.lastOK
		}
	}
	delete(p.paths, conn)
	if p.tests != nil && p.tests.conn == conn {
		c.endTests(p) // unanswered
	}
	if p.out == conn {
		p.out, p.ready = 0, false
		if b := c.best(p, conn); b != nil {
			c.Stats.Failovers++
			c.activate(p, b, nil)
		}
	}
	if p.in == conn {
		p.in = 0
		var latest *path
		for _, x := range p.paths {
			// Ties go to the newer connection, so that the choice does
			// not depend on the order of a map.
			if !x.outbound && (latest == nil || x.heard.After(latest.heard) || x.heard.Equal(latest.heard) && x.conn > latest.conn) {
				latest = x
			}
		}
		if latest != nil {
			p.in = latest.conn
		}
	}
}

// linkChanged tells observers that the paths to a peer changed, so that
// the state of its channels may have.
func (c *Core) linkChanged(p *peer) {
	for _, id := range p.channels {
		c.emit(Notify{What: "link", Channel: id})
	}
}

// tickPaths probes every path and closes the silent ones.
func (c *Core) tickPaths() {
	names := make([]string, 0, len(c.peers))
	for n := range c.peers {
		names = append(names, n)
	}
	slices.Sort(names)
	any := false
	for _, n := range names {
		p := c.peers[n]
		conns := make([]ConnID, 0, len(p.paths))
		for id := range p.paths {
			conns = append(conns, id)
		}
		slices.Sort(conns)
		for _, id := range conns {
			x := p.paths[id]
			any = true
			if !x.outbound {
				continue // the peer probes its own outbound paths
			}
			if dead := x.deadAfter(); c.now.Sub(x.heard) > dead {
				c.refuse("silent path", "warning", "", n, "%s path to %s closed: nothing heard for %s", x.name, n, c.now.Sub(x.heard).Round(time.Millisecond))
				c.emit(Send{Peer: n, Conn: id, Data: (&Frame{Type: FrameError, Text: "nothing heard for " + dead.Round(time.Millisecond).String()}).Encode(), Close: true})
				c.lostPath(p, id)
				continue
			}
			// The probe before may still be answered; else it is lost.
			// A narrow path is probed less often.
			if c.now.Sub(x.pinged) >= x.pingEvery() && (x.pingAt.IsZero() || c.now.Sub(x.pingAt) >= x.probeTimeout()) {
				if !x.pingAt.IsZero() {
					x.lost++
					x.loss += (lossOne - x.loss) / smoothing
					if p.tests != nil && p.tests.conn == id && p.tests.seq == x.pingSeq {
						c.endTests(p) // the link tests it answers are not
					}
				}
				x.pingSeq++
				x.pings++
				x.pingAt, x.pinged = c.now, c.now
				if p.tests != nil && p.tests.conn == id && p.tests.seq == 0 {
					p.tests.seq = x.pingSeq
				}
				c.emit(Send{Peer: n, Conn: id, Data: (&Frame{Type: FrameProbe, Seq: x.pingSeq, Time: c.now}).Encode()})
			}
			if !x.ready && c.now.Sub(x.hello) >= HelloAgain {
				x.hello = c.now
				c.emit(Send{Peer: n, Conn: id, Data: (&Frame{Type: FrameHello, Version: Version}).Encode()})
			}
		}
		c.rerank(p)
		c.resendUnreceipted(p)
		c.askRestored(p)
	}
	c.pathTimer = any
	if any {
		c.schedule(&timer{at: c.now.Add(PingEvery), kind: tPaths})
	}
}

// rerank moves a peer's traffic to another ready path once it has been
// clearly cheaper than the active one at SwitchAfter probes in a row.
// Every entry not yet receipted goes again on it, as after a failover.
func (c *Core) rerank(p *peer) {
	a := c.pathOf(p, p.out)
	if !p.ready || a == nil {
		return
	}
	conns := make([]ConnID, 0, len(p.paths))
	for id := range p.paths {
		conns = append(conns, id)
	}
	slices.Sort(conns)
	var next *path
	for _, id := range conns {
		x := p.paths[id]
		if x == a || !x.outbound || !x.ready {
			continue
		}
		if clearlyBetter(x, a) {
			x.better++
		} else {
			x.better = 0
		}
		if x.better >= SwitchAfter && (next == nil || before(x, next)) {
			next = x
		}
	}
	if next != nil {
		c.Stats.Failovers++
		c.linkChanged(p)
		c.activate(p, next, nil)
	}
}

// resendAfter is how long entries sent may wait for a receipt before they
// are sent again: ResendAfter, plus, on a long path, two round trips, and,
// on a path measured narrow, twice the time the path takes to carry what
// was sent and not receipted. Sent again sooner, they would only queue
// behind themselves: a narrow link would carry nothing but copies.
func resendAfter(x *path, m *outLog) time.Duration {
	d := ResendAfter
	if x == nil {
		return d
	}
	d += 2 * x.srtt
	if x.rate > 0 {
		bytes := 0
		for _, pe := range m.pending[:m.sent-m.delivered] {
			bytes += len(pe.raw)
		}
		d += time.Duration(2 * float64(bytes) / x.rate * float64(time.Second))
	}
	return d
}

// resendUnreceipted sends a peer's channels again from their last
// receipt when entries have waited ResendAfter for one: a frame (entries,
// a receipt, a resend request) was lost on a path that stayed up.
func (c *Core) resendUnreceipted(p *peer) {
	if !p.ready {
		return
	}
	again := false
	x := c.pathOf(p, p.out)
	for _, id := range p.channels {
		m := &c.channels[id].mine
		// resendAfter sums what is unreceipted: only once the shortest
		// wait has passed.
		if since := c.now.Sub(m.progress); c.channels[id].blocked == "" && m.sent > m.delivered && since >= ResendAfter && since >= resendAfter(x, m) {
			m.sent, m.progress = m.delivered, c.now
			again = true
		}
	}
	if again {
		c.flush(p.card.Name)
	}
}

// pong records the answer to a path probe.
func (c *Core) pong(p *peer, conn ConnID, f *Frame) {
	x := c.pathOf(p, conn)
	if x == nil || f.Seq != x.pingSeq || x.pingAt.IsZero() || !f.Time.Equal(x.pingAt) {
		return
	}
	x.rtt = c.now.Sub(x.pingAt)
	sample := min(max(x.rtt, 0), MaxRTT)
	if x.lastOK.IsZero() {
		x.srtt = sample
	} else {
		x.srtt += (sample - x.srtt) / smoothing
	}
	x.loss -= (x.loss + smoothing - 1) / smoothing // rounded up, so that it reaches 0
	x.pingAt, x.lastOK = time.Time{}, c.now
	x.skew, x.skewSeen = f.PeerTime.Sub(c.now.Add(-x.rtt/2)), true
	if p.tests != nil && p.tests.conn == conn && p.tests.seq == f.Seq {
		c.testsAnswered(p, x)
	}
}

// pathInfos describes a peer's paths for status: every outbound path,
// and the kinds of path its card promises that are not connected.
func (c *Core) pathInfos(p *peer) []PathInfo {
	var out []PathInfo
	seen := map[string]bool{}
	for _, x := range p.paths {
		if !x.outbound {
			continue
		}
		seen[x.name] = true
		i := PathInfo{Name: x.name, Up: x.ready, Active: x.conn == p.out && p.ready, Rank: x.rank, LastOK: x.lastOK,
			RTT: x.rtt, Skew: x.skew, SkewKnown: x.skewSeen, Probes: x.pings, Lost: x.lost, Measured: x.measured()}
		if i.Measured {
			i.SRTT, i.Cost = x.srtt, x.cost()
		}
		out = append(out, i)
	}
	for _, want := range c.expectedPaths(p) {
		if !seen[want.Name] {
			want.LastOK = p.lastOK[want.Name]
			out = append(out, want)
		}
	}
	slices.SortFunc(out, func(a, b PathInfo) int { return cmp.Or(cmp.Compare(a.Rank, b.Rank), cmp.Compare(a.Name, b.Name)) })
	return out
}

// expectedPaths are the paths the two cards promise: the direct one, and
// one through relays when both list any (a relay path needs one to deposit
// at and one to pick up from).
func (c *Core) expectedPaths(p *peer) []PathInfo {
	out := []PathInfo{{Name: "direct", Rank: 0}}
	if len(p.card.Relays) > 0 && c.cfg.Relays {
		out = append(out, PathInfo{Name: "relay", Rank: 1})
	}
	return out
}
