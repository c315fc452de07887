package sim

import (
	"errors"
	"time"

	"golang.org/x/mod/sumdb/note"

	"hotline/internal/identity"
	"hotline/internal/protocol"
)

// lazyDelay is how long the station holds a write of receipts only,
// waiting for company (internal/station, "Pipelined group commit").
const lazyDelay = 100 * time.Millisecond

// errDisk is the error of a write the simulated disk failed.
var errDisk = errors.New("simulated disk failure")

// Station is one simulated station process: a protocol.Core with what
// internal/station puts around it (one loop, a writer that commits groups
// of batches in order, notifications held until their write is durable,
// one timer at the core's NextWake, a dialer per peer, a relay client),
// driven by the world's events instead of goroutines.
type Station struct {
	w        *World
	index    int
	Name     string
	keys     *identity.Keys
	card     *identity.Card
	verifier note.Verifier
	core     *protocol.Core
	disk     *Disk

	life    int  // incarnation: events of an earlier life are dropped
	up      bool // the process runs
	paused  bool // stopped (SIGSTOP): what arrives waits in backlog
	backlog []func()
	skew    time.Duration // this station's clock minus the world's
	// clockLo and clockHi are the earliest and latest times this
	// station's clock has read: a receipt it signs carries a time
	// between them.
	clockLo, clockHi time.Time

	// the writer
	queue, lazy, writing []protocol.Persist
	lazySince            time.Time
	lazyTimer            bool
	slowUntil            time.Time // the disk is slow until then
	failNext             bool      // the next write fails

	held map[uint64][]protocol.Notify // notifications waiting for their write

	// armed is a fault waiting for the next write that sends entries
	// ahead (takeover.go): "takeover" or "crash after ahead".
	armed string
	// capture, while set, takes the frames the core sends instead of the
	// network: those a process decided to send just before it was
	// paused, which leave when it runs again.
	capture *[]protocol.Send

	wakeAt  time.Time
	wakeTok uint64

	// restores (restore.go): the backups taken, a restore waiting to
	// start, whether the restored marker is there, restores so far
	backups  []backup
	restore  *pendingRestore
	restored bool
	restores int

	dialers    map[string]*dialer // direct path, by peer
	relay      *relayLink         // this station's connection to the relay, nil if none
	toRelay    path               // the path to the relay, and how the relay treats this station's mail
	relayTry   bool               // a relay dial is scheduled or under way
	relayBack  backoff
	relayPaths map[string]*relayPath // by peer
	peers      []*Station            // every other station, in index order
	channels   []chanInfo            // this station's channels (static, from setup)

	nextReq  uint64
	reqs     map[uint64]request
	received map[string]bool // entries notified as received, once durable
	mine     map[string]bool // this station's suspensions in force, by channel, as its operators believe
}

// chanInfo is what operators know of a channel.
type chanInfo struct {
	id   string
	peer *Station
}

type request struct {
	what    string // "submit", "suspend", "resume", "propose", "accept", "peer", "import"
	channel string
}

// operator says whether the request is one of the operators' entries
// (what the report counts as submitted).
func (r request) operator() bool {
	return r.what == "submit" || r.what == "suspend" || r.what == "resume"
}

func (s *Station) now() time.Time {
	t := s.w.now.Add(s.skew)
	if s.clockLo.IsZero() || t.Before(s.clockLo) {
		s.clockLo = t
	}
	if t.After(s.clockHi) {
		s.clockHi = t
	}
	return t
}

// deliver runs fn as the station's next input: at once if it runs, after
// the pause if it is stopped, never if it is down.
func (s *Station) deliver(fn func()) {
	switch {
	case !s.up:
	case s.paused:
		s.backlog = append(s.backlog, fn)
	default:
		fn()
	}
}

// input steps the core with ev, as the station's next input.
func (s *Station) input(ev protocol.Event) { s.deliver(func() { s.step(ev) }) }

// step feeds one event to the core and carries out its actions. Nothing
// here steps a core again: everything that reaches another station (or
// this one) is scheduled. The one exception is Writing, which kick feeds
// the core at once when it hands the writer a group: the simulated write
// begins then (the station's loop feeds it once its writer says it has
// begun).
func (s *Station) step(ev protocol.Event) {
	w := s.w
	if w.stop || !s.up {
		return
	}
	w.steps++
	acts := s.core.Step(s.now(), ev)
	w.record(s, ev, acts)
	var write uint64
	for _, a := range acts {
		if p, ok := a.(protocol.Persist); ok && !p.Lazy {
			write = p.Write
		}
	}
	var notes []protocol.Notify
	for _, a := range acts {
		switch a := a.(type) {
		case protocol.Persist:
			if a.Lazy {
				if len(s.lazy) == 0 {
					s.lazySince = w.now
				}
				s.lazy = append(s.lazy, a)
			} else {
				s.queue = append(s.queue, a)
			}
		case protocol.Send:
			if s.capture != nil {
				*s.capture = append(*s.capture, a)
			} else {
				s.send(a)
			}
		case protocol.Done:
			s.done(a)
		case protocol.Notify:
			notes = append(notes, a)
		case protocol.Load:
			s.load(a)
		}
	}
	if write != 0 && len(notes) > 0 {
		s.held[write] = append(s.held[write], notes...)
	} else {
		s.notify(notes)
	}
	w.checkStep(s, acts)
	s.releaseMarker()
	s.kick()
	s.rewake()
	if w.cfg.Stop > 0 && w.steps >= w.cfg.Stop {
		w.stop = true
	}
}

// load reads entries of a log from the disk, as internal/station does
// for protocol.Load (a peer's own entries to send back to it after its
// restore, this station's own log to send again), and hands them to the
// core a disk read later.
func (s *Station) load(a protocol.Load) {
	ev := protocol.Loaded{Peer: a.Peer, Conn: a.Conn, Channel: a.Channel, Author: a.Author, From: a.From, Ladder: a.Ladder}
	for _, e := range s.disk.log(a.Channel, a.Author) {
		if e.Index >= a.From && e.Index <= a.To {
			ev.Entries = append(ev.Entries, e.Raw)
			if a.Ladder {
				ev.Bodies = append(ev.Bodies, e.Body)
			}
		}
	}
	life := s.life
	s.w.after(s.diskLatency(), func() {
		if life == s.life {
			s.input(ev)
		}
	})
}

// kick hands the writer its next group, as the station's loop does after
// each turn: everything queued, with receipt-only writes that waited long
// enough or found company.
func (s *Station) kick() {
	if s.writing != nil || !s.up || s.paused {
		return
	}
	w := s.w
	if len(s.lazy) > 0 && (len(s.queue) > 0 || !w.now.Before(s.lazySince.Add(lazyDelay))) {
		s.queue, s.lazy = append(s.lazy, s.queue...), nil
	}
	if len(s.queue) > 0 {
		s.writing, s.queue = s.queue, nil
		life := s.life
		w.after(s.diskLatency(), func() { s.written(life) })
		// The write has begun: sign ahead what its end will send. The
		// lease is the one a station on several machines confirms every
		// second (internal/station, AheadUnder): a running process
		// always holds it; a paused one is modelled by takeover.go.
		var through uint64
		for _, p := range s.writing {
			through = max(through, p.Write)
		}
		armed, sentAhead := s.armed, s.core.Stats.SentAhead
		var held []protocol.Send
		if armed == "takeover" {
			s.capture = &held
		}
		s.step(protocol.Writing{Through: through, Lease: s.now().Add(aheadUnder)})
		s.capture = nil
		if armed != "" && s.up && s.core.Stats.SentAhead > sentAhead {
			s.armed = ""
			if armed == "takeover" {
				s.takeover(held)
			} else {
				w.fault("crash after ahead")
				s.crash(w.between(time.Second, time.Minute))
			}
			return
		}
		for _, a := range held {
			s.send(a)
		}
		return
	}
	if len(s.lazy) > 0 && !s.lazyTimer {
		s.lazyTimer = true
		life := s.life
		w.at(s.lazySince.Add(lazyDelay), func() {
			if life == s.life {
				s.lazyTimer = false
				s.kick()
			}
		})
	}
}

func (s *Station) diskLatency() time.Duration {
	if s.w.now.Before(s.slowUntil) {
		return s.w.between(50*time.Millisecond, 2*time.Second)
	}
	return s.w.between(100*time.Microsecond, 5*time.Millisecond)
}

// written completes the group being written: it is on the disk, then the
// core hears of each batch in order. A failed write stops the station, as
// internal/station does; it is restarted from its disk.
func (s *Station) written(life int) {
	w := s.w
	if life != s.life || w.stop {
		return
	}
	group := s.writing
	if s.failNext && !s.paused {
		s.failNext = false
		w.fault("disk error")
		s.step(protocol.Persisted{Writes: writes(group), Err: errDisk})
		s.writing = nil
		s.crash(w.between(time.Second, time.Minute))
		return
	}
	for _, p := range group {
		w.applied(s, p.Batch)
	}
	// As internal/station does: the whole group in one event.
	ws := writes(group)
	s.deliver(func() {
		for _, w := range ws {
			s.notify(s.held[w])
			delete(s.held, w)
		}
		s.step(protocol.Persisted{Writes: ws})
	})
	s.writing = nil
	s.kick()
}

func writes(group []protocol.Persist) []uint64 {
	ws := make([]uint64, len(group))
	for i, p := range group {
		ws[i] = p.Write
	}
	return ws
}

// rewake sets the station's one timer to the core's next wake-up, if that
// is sooner than the one set. A timer that fires with nothing due only
// sets the next.
func (s *Station) rewake() {
	if !s.up || s.core == nil {
		return
	}
	next := s.core.NextWake()
	if next.IsZero() {
		return
	}
	at := next.Add(-s.skew)
	if at.Before(s.w.now) {
		at = s.w.now
	}
	if !s.wakeAt.IsZero() && !at.Before(s.wakeAt) {
		return
	}
	s.wakeAt = at
	s.wakeTok++
	tok, life := s.wakeTok, s.life
	s.w.at(at, func() {
		if life != s.life || tok != s.wakeTok {
			return
		}
		s.wakeAt = time.Time{}
		s.input(protocol.Tick{})
		if s.paused {
			return
		}
		s.rewake()
	})
}

// jump moves the station's clock.
func (s *Station) jump(d time.Duration) {
	s.skew += d
	s.wakeAt = time.Time{}
	s.wakeTok++
	s.rewake()
}

// request hands an operator's request to the core.
func (s *Station) request(r request, build func(id uint64) protocol.Event) {
	if !s.up {
		return
	}
	s.nextReq++
	id := s.nextReq
	s.reqs[id] = r
	if r.operator() {
		s.w.report.Submitted++
	}
	s.input(build(id))
}

// crash kills the process: what was not synced is lost (the group being
// written may or may not have reached the disk), connections end, and
// the station comes back after down.
func (s *Station) crash(down time.Duration) {
	if !s.up {
		return
	}
	s.end(true)
	s.w.after(down, s.restart)
}

// end ends the process: what was not synced is lost (the group being
// written may or may not have reached the disk) and its relay link
// ends. Its direct connections end too if drop is set; otherwise their
// ends stay open at the peers (a process paused, not dead: see
// takeover.go), and nothing reaches it on them any more.
func (s *Station) end(drop bool) {
	w := s.w
	if s.writing != nil && w.chance(0.5) {
		// The write reached the disk just before the crash: durable,
		// and the core never heard.
		w.fault("crash after write")
		for _, p := range s.writing {
			w.applied(s, p.Batch)
		}
	}
	s.life++
	s.up, s.paused, s.backlog = false, false, nil
	s.queue, s.lazy, s.writing, s.lazyTimer = nil, nil, nil, false
	s.held = map[uint64][]protocol.Notify{}
	s.reqs = map[uint64]request{}
	s.wakeAt = time.Time{}
	w.countAhead(s.core)
	s.core = nil
	s.armed, s.capture = "", nil
	for _, c := range w.connsOf(s) {
		if drop || c.lives[c.end(s)] != s.life-1 {
			w.dropEnd(c, s)
		}
	}
	for _, d := range s.dialers {
		d.reset()
	}
	if s.relay != nil {
		w.relayLinkLost(s.relay)
	}
	for _, rp := range s.relayPaths {
		delete(w.relayConns, rp.out)
		delete(w.relayConns, rp.in)
	}
	s.relayPaths = map[string]*relayPath{}
	s.relayTry = false
	s.relayBack = backoff{}
}

// restart starts the process again from what its disk holds.
func (s *Station) restart() {
	w := s.w
	if s.up || w.stop {
		return
	}
	if s.restore != nil {
		if !w.restoreReady(s) {
			return
		}
		w.restored(s)
	}
	core, err := protocol.New(w.coreConfig(s), s.keys, s.disk.snapshot(s.Name))
	if err != nil {
		w.violate("restart", "%s does not restart from its disk: %v", s.Name, err)
		return
	}
	s.core = core
	s.up = true
	s.startLinks()
	// Operators see the channel list again: a proposal waiting for them,
	// a channel agreed while nobody was told.
	for _, id := range sortedKeys(s.disk.channels) {
		w.operatorChannel(s, id)
	}
	// Deadlines, checks and link tests run whether or not a peer is
	// reachable: a second after the start, the core has its timers.
	life := s.life
	w.after(2*time.Second, func() {
		if life == s.life && s.up && !s.paused && s.core.NextWake().IsZero() {
			w.violate("timers run", "%s restarted 2 s ago and its core has no timer set: nothing has stepped it", s.Name)
		}
	})
}

// pause stops the process for d (SIGSTOP, then SIGCONT).
func (s *Station) pause(d time.Duration) {
	if !s.up || s.paused {
		return
	}
	s.paused = true
	life := s.life
	s.w.after(d, func() {
		if life == s.life {
			s.resume()
		}
	})
}

// resume lets a paused process run again: it takes what waited, in order.
func (s *Station) resume() {
	if !s.paused {
		return
	}
	s.paused = false
	for len(s.backlog) > 0 && s.up && !s.paused && !s.w.stop {
		fn := s.backlog[0]
		s.backlog = s.backlog[1:]
		fn()
	}
	s.kick()
	s.rewake()
}

// send puts a frame on the connection the core named: a direct
// connection, or one of a relay path's two.
func (s *Station) send(a protocol.Send) {
	w := s.w
	if rp := w.relayConns[a.Conn]; rp != nil {
		if rp.s == s {
			w.sendRelay(s, rp, a.Data, a.Close)
		}
		return
	}
	if c := w.conns[a.Conn]; c != nil {
		w.sendDirect(s, c, a.Data, a.Close)
	}
}

// done completes an operator's request.
func (s *Station) done(d protocol.Done) {
	w := s.w
	r, ok := s.reqs[d.ID]
	if !ok {
		return
	}
	delete(s.reqs, d.ID)
	operator := r.operator()
	if r.what == "import" {
		if d.Err != nil {
			w.report.Bundles.Refused++
		} else {
			w.report.Bundles.Imported++
			w.report.Bundles.Entries += d.Result.Imported.Entries
		}
		return
	}
	if d.Err != nil {
		if operator {
			w.report.Refused[refusalKind(d.Err)]++
		}
		return
	}
	switch r.what {
	case "suspend":
		s.mine[r.channel] = true
	case "resume":
		s.mine[r.channel] = false
	}
	if r.what != "peer" {
		w.promised(s, d.Result, operator)
	}
}

// refusalKind names an error by what it says before its first colon.
func refusalKind(err error) string {
	if errors.Is(err, protocol.ErrSuspended) {
		return "suspended"
	}
	if errors.Is(err, protocol.ErrStorage) {
		return "storage failed"
	}
	t := err.Error()
	for i, r := range t {
		if r == ':' {
			return t[:i]
		}
	}
	return t
}

// notify gets notifications once their write is durable: what operators
// and the invariants see.
func (s *Station) notify(notes []protocol.Notify) {
	for _, n := range notes {
		switch n.What {
		case "received":
			if s.received[n.Entry] {
				s.w.violate("exactly once", "%s was notified twice of %s", s.Name, n.Entry)
				return
			}
			s.received[n.Entry] = true
			s.w.operatorReceived(s, n)
		case "channel":
			s.w.operatorChannel(s, n.Channel)
		}
	}
}

func (s *Station) String() string { return s.Name }

// backoff is link.Backoff: a delay from 50 ms doubling to 5 s, ±50%.
type backoff struct{ cur time.Duration }

func (b *backoff) next(w *World) time.Duration {
	if b.cur == 0 {
		b.cur = 50 * time.Millisecond
	} else {
		b.cur = min(2*b.cur, 5*time.Second)
	}
	return b.cur/2 + time.Duration(w.rng.Int64N(int64(b.cur)))
}

func (b *backoff) reset() { b.cur = 0 }
