package protocol

import (
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
// (record.ProposedOut, record.ProposedIn).
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
	// Agreement is record.ProposedOut, ProposedIn or Active; State is what
	// operators see (one of the State constants when agreed).
	Agreement, State         string
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

// state says what operators see of a channel.
func (c *Core) state(cs *chanState) string {
	switch {
	case cs.rec.State != record.Active:
		return cs.rec.State
	case len(cs.rec.Suspensions) > 0:
		return StateSuspended
	case cs.dormant:
		return StateDormant
	}
	p := c.peers[cs.rec.Peer]
	if !p.ready {
		return StateDown
	}
	for _, x := range c.pathInfos(p) {
		if !x.Up {
			return StateDegraded
		}
	}
	return StateActive
}

// Channels describes every channel, sorted by id.
func (c *Core) Channels() []ChannelInfo {
	var out []ChannelInfo
	for id, cs := range c.channels {
		p := c.peers[cs.rec.Peer]
		i := ChannelInfo{ID: id, Peer: cs.rec.Peer, Level: cs.rec.Level, Agreement: cs.rec.State, State: c.state(cs), Blocked: cs.blocked,
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
