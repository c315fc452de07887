package protocol

import (
	"fmt"

	"hotline/internal/envelope"
	"hotline/internal/identity"
	"hotline/internal/record"
	"slices"
	"sort"
	"time"
)

// Reads: views of the core's state for the station, its console and
// tests, made when asked on the goroutine that owns the core, between
// steps.

// Channel states as operators see them, besides the agreement states
// (record.ProposedOut, record.ProposedIn, record.Withdrawn).
const (
	StateActive    = "active"    // every path up
	StateDegraded  = "degraded"  // some paths down
	StateDown      = "down"      // no path up
	StateDormant   = "dormant"   // this station's latest operator check went unanswered
	StateSuspended = "suspended" // a party suspended it: a signed act, not an outage
)

// ChannelInfo is a read-only view of a channel for status displays.
type ChannelInfo struct {
	ID, Peer, Level, Blocked string
	// Agreement is record.ProposedOut, ProposedIn, Active or Withdrawn; State is what
	// operators see (one of the State constants when agreed).
	Agreement, State string
	// Troubles say why State is degraded or down, and what to do.
	Troubles                 []Trouble
	Sent, Written, Delivered uint64
	Received                 uint64
	// ReceiptAt is when the peer's station cosigned its latest receipt
	// of this station's log (Delivered entries), by its clock, under its
	// signature; zero for a receipt without a time.
	ReceiptAt   time.Time
	Connected   bool
	Suspensions []record.Suspension
	Dormant     bool
	// AwaitingPeer counts this station's entries that wait for the peer's
	// acknowledgement; AwaitingHere the peer's that wait for a person here.
	AwaitingPeer, AwaitingHere int
	LastCheck                  uint64
	LastCheckAt                time.Time
	Paths                      []PathInfo
	// Link tests: when one was last answered, its round trip, and the
	// peer's clock minus this station's (SkewKnown once measured).
	LinkOK    time.Time
	LinkRTT   time.Duration
	Skew      time.Duration
	SkewKnown bool
}

// PathInfo is one transport path to a channel's peer and its health, from
// the probes of the path: when one was last answered, the round trip, the
// peer's clock minus this station's, probes sent and unanswered. Once a
// probe was answered or lost (Measured), SRTT is the smoothed round trip
// and Cost what the core ranks the path by: SRTT with recent loss
// counted against it.
type PathInfo struct {
	Name         string
	Up, Active   bool
	Rank         int
	LastOK       time.Time
	RTT, Skew    time.Duration
	SkewKnown    bool
	Probes, Lost int
	Measured     bool
	SRTT, Cost   time.Duration
}

// Trouble is why a channel is degraded or down, and what to do.
type Trouble struct {
	// Kind is TroublePath, TroubleStall or (added by the desk) "relay".
	Kind           string
	Reason, Action string
}

// Kinds of trouble.
const (
	TroublePath  = "path"  // a path down
	TroubleStall = "stall" // a direction not moving
	// TroubleRestore: restored from a backup, this station appends
	// nothing on the channel yet (recover.go).
	TroubleRestore = "restore"
)

// state says what operators see of a channel, and why it is not active.
func (c *Core) state(cs *chanState) (string, []Trouble) {
	switch {
	case cs.rec.State != record.Active:
		return cs.rec.State, nil
	case len(cs.rec.Suspensions) > 0:
		return StateSuspended, nil
	case cs.dormant:
		return StateDormant, nil
	}
	p := c.peers[cs.rec.Peer]
	stalls := c.stalls(cs)
	if err := c.mayWrite(cs); err != nil {
		stalls = append([]Trouble{{Kind: TroubleRestore, Reason: err.Error(),
			Action: fmt.Sprintf("let this station reach %s on a direct connection (hotline doctor checks each endpoint): it appends again by itself once %s has said what it holds", p.card.Name, p.card.Name)}}, stalls...)
	}
	if !p.ready {
		return StateDown, append([]Trouble{{Kind: TroublePath, Reason: "no path to " + p.card.Name + " is up",
			Action: "hotline doctor checks each endpoint and relay; hotline alerts says why paths closed"}}, stalls...)
	}
	var out []Trouble
	for _, x := range c.pathInfos(p) {
		if !x.Up {
			out = append(out, Trouble{Kind: TroublePath, Reason: fmt.Sprintf("the %s path to %s is down; traffic goes by the others", x.Name, p.card.Name),
				Action: "hotline doctor checks each endpoint and relay; hotline alerts says why the path closed"})
		}
	}
	out = append(out, stalls...)
	if len(out) > 0 {
		return StateDegraded, out
	}
	return StateActive, nil
}

// stalls reports each direction of a channel whose traffic has not moved
// for longer than its delivery deadline: this station's oldest entry not
// receipted, written longer ago than its precedence's delivery deadline
// with no receipt since; or the peer's entries, sent after a gap that
// nothing has filled for longer than the charter's longest delivery
// deadline (the precedence of entries not taken is not known).
func (c *Core) stalls(cs *chanState) []Trouble {
	var out []Trouble
	if cs.charter == nil {
		return nil
	}
	peer := cs.rec.Peer
	if m := &cs.mine; m.delivered < m.size && len(m.pending) > 0 {
		if e, err := envelope.Parse(m.pending[0].raw); err == nil {
			since := e.Time
			if m.movedAt.After(since) {
				since = m.movedAt
			}
			if d := cs.charter.Delivery[e.Precedence]; d > 0 && c.now.Sub(since) > d {
				out = append(out, Trouble{Kind: TroubleStall,
					Reason: fmt.Sprintf("%s→%s has not moved for %s: %d of this station's entries await %s's receipt, the oldest (%s, %d) for longer than its delivery deadline of %s",
						c.keys.Name, peer, c.now.Sub(since).Round(time.Second), m.size-m.delivered, peer, e.Precedence, e.Index, d),
					Action: fmt.Sprintf("hotline alerts says what %s refused or asked for; hotline doctor checks the paths; if no path reaches %s, carry a bundle (hotline bundle export --peer %s)", peer, peer, peer),
				})
			}
		}
	}
	if t := cs.theirs.stuckSince; !t.IsZero() {
		var d time.Duration
		for _, v := range cs.charter.Delivery {
			d = max(d, v)
		}
		if c.now.Sub(t) > d {
			out = append(out, Trouble{Kind: TroubleStall,
				Reason: fmt.Sprintf("%s→%s has not moved for %s: %s sends entries after %d that this station cannot take, and not entry %d (longer than the longest delivery deadline, %s)",
					peer, c.keys.Name, c.now.Sub(t).Round(time.Second), peer, cs.theirs.size, cs.theirs.size+1, d),
				Action: fmt.Sprintf("hotline alerts says what was refused; ask %s's signal officer whether it restored a backup or lost entries, and have it run hotline doctor", peer),
			})
		}
	}
	return out
}

// Channels describes every channel, sorted by id.
func (c *Core) Channels() []ChannelInfo {
	var out []ChannelInfo
	for id, cs := range c.channels {
		p := c.peers[cs.rec.Peer]
		state, troubles := c.state(cs)
		i := ChannelInfo{ID: id, Peer: cs.rec.Peer, Level: cs.rec.Level, Agreement: cs.rec.State, State: state, Troubles: troubles, Blocked: cs.blocked,
			Sent: cs.mine.sent, Written: cs.mine.size, Delivered: cs.mine.delivered, Received: cs.theirs.durable, Connected: p.ready,
			ReceiptAt:   cs.mine.receiptAt,
			Suspensions: slices.Clone(cs.rec.Suspensions), Dormant: cs.dormant, LastCheck: cs.rec.LastCheck, LastCheckAt: cs.rec.LastCheckAt,
			Paths:  c.pathInfos(p),
			LinkOK: cs.probe.lastOK, LinkRTT: cs.probe.rtt, Skew: cs.probe.skew, SkewKnown: cs.probe.skewSeen}
		i.AwaitingPeer, i.AwaitingHere = cs.awaiting[0], cs.awaiting[1]
		out = append(out, i)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Receipt returns the latest receipt (cosigned checkpoint) of this
// station's log for a channel, as checked, which the store may write a
// moment later; nil if none.
func (c *Core) Receipt(channel string) []byte {
	if cs := c.channels[channel]; cs != nil {
		return cs.mine.receipt
	}
	return nil
}

// Delivered returns how many entries of this station's log for a channel
// the peer has receipted, as checked (the store may write it a moment
// later).
func (c *Core) Delivered(channel string) uint64 {
	if cs := c.channels[channel]; cs != nil {
		return cs.mine.delivered
	}
	return 0
}

// PeerNames lists the pinned peers.
func (c *Core) PeerNames() []string {
	out := make([]string, 0, len(c.peers))
	for n := range c.peers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Ready reports whether a peer has an active path.
func (c *Core) Ready(peer string) bool {
	p := c.peers[peer]
	return p != nil && p.ready
}

// Peer returns a pinned peer's card.
func (c *Core) Peer(name string) *identity.Card {
	if p := c.peers[name]; p != nil {
		return p.card
	}
	return nil
}
