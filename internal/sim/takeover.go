package sim

import (
	"time"

	"hotline/internal/protocol"
)

// A station on several machines (PostgreSQL, internal/station/lease.go)
// and a paused leader. The fault "takeover" strikes the active process
// at the worst moment: right after it began a write and decided to send
// its entries ahead (under a lease it had just confirmed), before the
// frames left. It is paused (SIGSTOP); its lease runs out and a standby
// takes over from what the database holds (the write in flight was
// committed before the pause, or never is: the fencing token refuses
// it), and the standby's operators write, at the indexes the paused
// process had used. Then the former leader is continued: the frames it
// had decided to send leave on its own connections to the peers, which
// outlived the pause (TCP does not know a process is stopped), and it
// stops, its lease lost. The peer must not take any of it for a second
// version of the station's log (docs/PROTOCOL.md, "Sent ahead").
//
// The fault "crash after ahead" is the single-process case: killed at
// the same moment, restarted from its disk, it writes other entries at
// the indexes it had sent ahead.
//
// Both are armed when drawn and strike at the station's next write that
// sends entries ahead (Station.kick).

// aheadUnder is internal/station.AheadUnder: how long after its last
// confirmation of the lease a process sends entries ahead.
const aheadUnder = 2 * time.Second

// formerLeader is a paused process that lost its station to a successor:
// the frames it decided to send before the pause, and its connections.
type formerLeader struct {
	s     *Station
	life  int // the life it was; the successor is a later one
	sends []protocol.Send
	conns []*conn
}

// takeover pauses the active process with the frames held that it was
// sending, and starts its successor.
func (s *Station) takeover(held []protocol.Send) {
	w := s.w
	w.fault("takeover")
	z := &formerLeader{s: s, life: s.life, sends: held}
	for _, c := range w.connsOf(s) {
		if c.lives[c.end(s)] == s.life {
			z.conns = append(z.conns, c)
		}
	}
	s.end(false)
	// The lease runs out (internal/station: LeaseTTL + StandbyPoll at
	// most, plus loading), then the standby runs. The former leader is
	// continued after that (before, it would have renewed its lease and
	// no one would have taken over): as often just after the successor
	// started, its entries sent ahead reaching the peer before the
	// successor's own, as a while later, after them.
	takeover := w.between(3*time.Second, 6*time.Second)
	resume := takeover + w.between(0, 3*time.Second)
	if w.chance(0.5) {
		resume = takeover + w.between(3*time.Second, 90*time.Second)
	}
	w.after(takeover, func() {
		s.restart()
		if !s.up {
			return
		}
		// Its operators write on the channels the former leader was
		// sending on: at the indexes it had used, unless its write was
		// committed before the pause.
		// Within four seconds: before its connection to the peer is
		// up, or after, when it sends them ahead too.
		seen := map[string]bool{}
		for _, a := range held {
			if f, err := protocol.DecodeFrame(a.Data); err == nil && f.Type == protocol.FrameAhead && !seen[f.Channel] {
				seen[f.Channel] = true
				life := s.life
				w.after(w.between(0, 4*time.Second), func() {
					if s.life == life && s.up {
						w.sendText(s, f.Channel)
					}
				})
			}
		}
	})
	w.after(resume, z.resume)
}

// resume continues the former leader: what it was sending leaves on its
// connections that are still open, then, within two seconds (its next
// lease renewal is refused, or its write by the fencing token), it
// stops, and its connections end.
func (z *formerLeader) resume() {
	s, w := z.s, z.s.w
	if w.stop {
		return
	}
	w.fault("former leader continued")
	for _, a := range z.sends {
		c := w.conns[a.Conn]
		if c == nil {
			continue // a relay path's, gone with the process's relay link, or closed
		}
		if i := c.end(s); c.lives[i] != z.life || c.closed || !c.open[i] {
			continue
		}
		if len(a.Data) > 0 && protocol.FrameType(a.Data[0]) == protocol.FrameAhead {
			w.fault("late ahead frame")
		}
		w.sendDirect(s, c, a.Data, a.Close)
	}
	w.after(w.between(0, 2*time.Second), func() {
		for _, c := range z.conns {
			if i := c.end(s); c.lives[i] == z.life && c.open[i] {
				w.dropEnd(c, s)
			}
		}
	})
}
