package sim

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"hotline/internal/call"
	"hotline/internal/channel"
	"hotline/internal/codebook"
	"hotline/internal/deconflict"
	"hotline/internal/envelope"
	"hotline/internal/identity"
	"hotline/internal/protocol"
	"hotline/internal/record"
)

// plannedChannel is a channel setup agrees.
type plannedChannel struct {
	id                 string
	proposer, acceptor *Station
	level              channel.Level
	escalateTo         string
}

// setup creates the stations, pins every pair and agrees their channels,
// without faults. Two to four stations get three channels per pair
// (leader, staff and unit, each escalating to the one above); more get
// one staff channel per pair, and one pair in ten a unit channel below it.
// One station of each pair proposes its channels (a channel must exist
// before another can escalate to it); the other accepts.
func (w *World) setup() {
	n := w.cfg.Stations
	if n < 2 || n > 99 {
		w.violate("config", "%d stations: want 2 to 99", n)
		return
	}
	w.coreCfg = protocol.DefaultConfig
	if w.chance(0.5) {
		// Small frames and window, so that batching and the window
		// limit are exercised.
		w.coreCfg = protocol.Config{MaxBatch: 8, MaxBatchBytes: 64 << 10, Window: 32}
	}
	// What a station's core has: the embedded codebook and the
	// deconfliction kinds.
	w.coreCfg.Books = []channel.Book{codebook.Default()}
	var kinds []protocol.BodyKind
	for _, k := range deconflict.BodyKinds() {
		kinds = append(kinds, k)
	}
	for _, k := range call.BodyKinds() {
		kinds = append(kinds, k)
	}
	w.coreCfg.Bodies = protocol.MustBodies(kinds...)
	relayKeys, err := identity.NewKeys("RELAY")
	if err != nil {
		w.violate("setup", "relay keys: %v", err)
		return
	}
	relays := []identity.RelayRef{{Name: "RELAY", Addr: "relay.example:4800", Key: relayKeys.SignPublic()}}
	w.relay = newRelay(w)
	for i := range n {
		name := fmt.Sprintf("S%02d", i+1)
		keys, err := identity.NewKeys(name)
		if err != nil {
			w.violate("setup", "keys of %s: %v", name, err)
			return
		}
		card, err := identity.NewCardRelays(keys, name, []string{strings.ToLower(name) + ".example:4700"}, relays, w.start)
		if err != nil {
			w.violate("setup", "card of %s: %v", name, err)
			return
		}
		v, err := card.Verifier()
		if err != nil {
			w.violate("setup", "card of %s: %v", name, err)
			return
		}
		s := &Station{w: w, index: i, Name: name, keys: keys, card: card, verifier: v, disk: newDisk(), up: true,
			held: map[uint64][]protocol.Notify{}, dialers: map[string]*dialer{}, relayPaths: map[string]*relayPath{},
			reqs: map[uint64]request{}, received: map[string]bool{}, mine: map[string]bool{}}
		s.skew = w.between(-5*time.Minute, 5*time.Minute)
		if w.chance(0.2) {
			s.skew = w.between(-2*time.Hour, 2*time.Hour)
		}
		s.toRelay = path{lat: w.between(5*time.Millisecond, 80*time.Millisecond)}
		if s.core, err = protocol.New(w.coreCfg, keys, s.disk.snapshot(name)); err != nil {
			w.violate("setup", "core of %s: %v", name, err)
			return
		}
		w.stations = append(w.stations, s)
		w.byName[name] = s
	}
	// Some pairs have no direct path at all and talk only through the
	// relay: in networks of two, one seed in four.
	relayOnly := 0.15
	if n == 2 {
		relayOnly = 0.25
	}
	for i, a := range w.stations {
		for _, b := range w.stations[i+1:] {
			p := &pair{a: a, b: b, direct: !w.chance(relayOnly), path: path{lat: w.between(2*time.Millisecond, 60*time.Millisecond)}}
			w.pairs[[2]int{a.index, b.index}] = p
		}
	}
	for _, s := range w.stations {
		for _, p := range w.stations {
			if p != s {
				s.peers = append(s.peers, p)
				s.dialers[p.Name] = &dialer{s: s, peer: p}
			}
		}
	}
	var plan []plannedChannel
	for k, p := range w.pairList() {
		prop, acc := p.a, p.b
		if k%2 == 1 {
			prop, acc = acc, prop
		}
		tag := p.a.Name + "-" + p.b.Name
		if n <= 4 {
			plan = append(plan,
				plannedChannel{"leaders." + tag, prop, acc, channel.Leader, ""},
				plannedChannel{"ops." + tag, prop, acc, channel.Staff, "leaders." + tag},
				plannedChannel{"patrol." + tag, prop, acc, channel.Unit, "ops." + tag})
			continue
		}
		plan = append(plan, plannedChannel{"ops." + tag, prop, acc, channel.Staff, ""})
		if w.chance(0.1) {
			plan = append(plan, plannedChannel{"patrol." + tag, prop, acc, channel.Unit, "ops." + tag})
		}
	}
	for _, c := range plan {
		c.proposer.channels = append(c.proposer.channels, chanInfo{c.id, c.acceptor})
		c.acceptor.channels = append(c.acceptor.channels, chanInfo{c.id, c.proposer})
	}
	for _, s := range w.stations {
		for _, p := range s.peers {
			card := p.card
			s.request(request{what: "peer"}, func(id uint64) protocol.Event { return protocol.AddPeer{ID: id, Card: card} })
		}
	}
	w.after(time.Second, func() {
		for _, s := range w.stations {
			s.startLinks()
		}
	})
	w.after(2*time.Second, func() {
		for _, c := range plan {
			ev := w.proposal(c)
			c.proposer.request(request{what: "propose", channel: c.id}, func(id uint64) protocol.Event { ev.ID = id; return ev })
		}
	})
	done := false
	var poll func()
	poll = func() {
		for _, c := range plan {
			for _, s := range []*Station{c.proposer, c.acceptor} {
				if s.disk.channels[c.id].State != record.Active {
					w.after(time.Second, poll)
					return
				}
			}
		}
		done = true
	}
	w.after(3*time.Second, poll)
	end := w.now.Add(10 * time.Minute)
	for !done && !w.stop && w.now.Before(end) && len(w.queue) > 0 {
		w.loop(w.now.Add(time.Second))
	}
	if !done && !w.stop {
		w.violate("setup", "channels not agreed within 10 simulated minutes without faults")
	}
}

// proposal draws a charter: deadlines short enough that ladders, checks
// and dormancy happen within a run.
func (w *World) proposal(c plannedChannel) protocol.Propose {
	r := func(lo, hi time.Duration) time.Duration { return w.between(lo, hi).Round(time.Second) }
	every := r(5*time.Minute, time.Hour).Round(time.Minute)
	linkTest := r(5*time.Second, time.Minute)
	if w.cfg.Stations > 4 {
		linkTest = r(10*time.Second, time.Minute)
	}
	return protocol.Propose{
		Channel: c.id, Peer: c.acceptor.Name, Level: c.level, EscalateTo: c.escalateTo, FlashExempt: w.chance(0.5),
		Deadlines: map[envelope.Precedence]time.Duration{
			envelope.Flash: r(2*time.Minute, 10*time.Minute), envelope.Immediate: r(5*time.Minute, 30*time.Minute),
			envelope.Priority: r(15*time.Minute, 3*time.Hour), envelope.Routine: r(30*time.Minute, 6*time.Hour)},
		Delivery: map[envelope.Precedence]time.Duration{
			envelope.Flash: r(30*time.Second, 2*time.Minute), envelope.Immediate: r(time.Minute, 5*time.Minute),
			envelope.Priority: r(5*time.Minute, 30*time.Minute), envelope.Routine: r(10*time.Minute, time.Hour)},
		LinkTest:    linkTest,
		CheckEvery:  every,
		CheckWindow: r(time.Minute, min(10*time.Minute, every)),
	}
}

// operatorChannel: an operator accepts a channel proposed to the station,
// and once a channel is agreed, starts using it.
func (w *World) operatorChannel(s *Station, ch string) {
	c, ok := s.disk.channels[ch]
	if ok && c.State == record.Active && s.peerOf(ch) != nil && !slices.ContainsFunc(s.channels, func(x chanInfo) bool { return x.id == ch }) {
		s.channels = append(s.channels, chanInfo{ch, w.byName[c.Peer]})
	}
	if ok && w.cfg.Restores {
		// Operators read the channel's suspensions off its view (a
		// restore may bring one of theirs back).
		s.mine[ch] = slices.ContainsFunc(c.Suspensions, func(x record.Suspension) bool { return x.By == s.Name })
	}
	if c.State != record.ProposedIn {
		return
	}
	life := s.life
	w.after(w.between(100*time.Millisecond, 3*time.Second), func() {
		if life == s.life && s.disk.channels[ch].State == record.ProposedIn {
			s.request(request{what: "accept", channel: ch}, func(id uint64) protocol.Event { return protocol.Accept{ID: id, Channel: ch} })
			if strings.HasPrefix(ch, "x") && w.chance(0.3) {
				// The proposer's officer withdraws it at the same moment:
				// the acceptance and the withdrawal cross.
				w.withdrawSoon(w.byName[c.Peer], ch, w.between(0, 200*time.Millisecond))
			}
		}
	})
}

// startOperator starts a station's duty officers: messages at the
// configured rate, now and then a burst, a suspension and its lifting.
func (w *World) startOperator(s *Station) {
	mean := time.Duration(float64(time.Minute) / w.cfg.Rate)
	var next func()
	next = func() {
		if w.phase != phaseFaults {
			return
		}
		w.after(w.expo(mean), next)
		if !s.up || len(s.channels) == 0 {
			return
		}
		ch := s.channels[w.rng.IntN(len(s.channels))].id
		switch r := w.rng.Float64(); {
		case r < 0.005:
			w.toggleSuspension(s, ch)
		case r < 0.025:
			for range 5 + w.rng.IntN(56) {
				w.sendText(s, ch)
			}
		case r < 0.035:
			w.carryBundle(s, s.peerOf(ch))
		case r < 0.038:
			if !w.cfg.Restores {
				w.proposeChannel(s, s.peers[w.rng.IntN(len(s.peers))])
			}
		case r < 0.043:
			w.placeCall(s, ch)
		default:
			w.sendText(s, ch)
		}
	}
	w.after(w.expo(mean), next)
}

var precedences = []struct {
	p      envelope.Precedence
	weight float64
}{{envelope.Flash, 0.1}, {envelope.Immediate, 0.2}, {envelope.Priority, 0.3}, {envelope.Routine, 0.4}}

func (w *World) precedence() envelope.Precedence {
	r := w.rng.Float64()
	for _, p := range precedences {
		if r < p.weight {
			return p.p
		}
		r -= p.weight
	}
	return envelope.Routine
}

func (w *World) sendText(s *Station, ch string) {
	w.texts++
	lang := "en"
	if w.chance(0.3) {
		lang = "zh-Hans"
	}
	body, _ := json.Marshal(protocol.TextBody{Text: fmt.Sprintf("%s message %d on %s", s.Name, w.texts, ch), Lang: lang})
	prec := w.precedence()
	s.request(request{what: "submit", channel: ch}, func(id uint64) protocol.Event {
		return protocol.Submit{ID: id, Channel: ch, Kind: envelope.Text, Precedence: prec, Body: body}
	})
}

// placeCall: an officer calls the other party on a channel. The call's
// signalling is entries like any other: the peer's officer answers most
// calls (operatorReceived), and the rest climb the ladder unanswered.
func (w *World) placeCall(s *Station, ch string) {
	w.calls++
	body, _ := json.Marshal(call.Request{Caller: "duty officer", Video: w.chance(0.2)})
	prec := w.precedence()
	s.request(request{what: "submit", channel: ch}, func(id uint64) protocol.Event {
		return protocol.Submit{ID: id, Channel: ch, Kind: envelope.CallRequest, Precedence: prec, Body: body}
	})
}

// toggleSuspension suspends a channel for the station's party, or lifts
// its suspension; a suspension is lifted again within ten minutes.
func (w *World) toggleSuspension(s *Station, ch string) {
	if s.mine[ch] {
		w.resume(s, ch)
		return
	}
	body, _ := json.Marshal(protocol.SuspendBody{Reason: "protest at the incident of the day", By: "Minister"})
	s.request(request{what: "suspend", channel: ch}, func(id uint64) protocol.Event {
		return protocol.Submit{ID: id, Channel: ch, Kind: envelope.Suspend, Precedence: envelope.Flash, Body: body}
	})
	w.after(w.between(time.Minute, 10*time.Minute), func() {
		if w.phase == phaseFaults && s.up && s.mine[ch] {
			w.resume(s, ch)
		}
	})
}

func (w *World) resume(s *Station, ch string) {
	body, _ := json.Marshal(protocol.ResumeBody{Reason: "talks agreed", By: "Minister"})
	s.request(request{what: "resume", channel: ch}, func(id uint64) protocol.Event {
		return protocol.Submit{ID: id, Channel: ch, Kind: envelope.Resume, Precedence: envelope.Flash, Body: body}
	})
}

// proposeChannel: an officer proposes one more channel to a peer, under
// whatever faults there are; the peer's officer accepts it when it
// arrives, and both start using it.
func (w *World) proposeChannel(s, peer *Station) {
	w.extra++
	ev := w.proposal(plannedChannel{fmt.Sprintf("x%d.%s-%s", w.extra, s.Name, peer.Name), s, peer, channel.Unit, ""})
	s.request(request{what: "propose", channel: ev.Channel}, func(id uint64) protocol.Event { ev.ID = id; return ev })
	if !w.chance(0.3) {
		return
	}
	// The officer takes it back, sometimes before the peer's operator
	// accepts it (docs/PROTOCOL.md, "Withdraw").
	w.withdrawSoon(s, ev.Channel, w.between(0, 3*time.Second))
}

// withdrawSoon: an officer withdraws a proposal of the station's, after
// d, if it is still waiting for the peer there.
func (w *World) withdrawSoon(s *Station, ch string, d time.Duration) {
	life := s.life
	w.after(d, func() {
		if life == s.life && s.disk.channels[ch].State == record.ProposedOut {
			s.request(request{what: "withdraw", channel: ch}, func(id uint64) protocol.Event {
				return protocol.Withdraw{ID: id, Channel: ch, By: "Officer of the watch", Reason: "proposed in error"}
			})
		}
	})
}

// carryBundle: an officer exports an offline bundle for a peer, and
// someone carries it there by hand, to be imported a while later
// (sometimes twice, sometimes damaged on the way: refused whole).
func (w *World) carryBundle(s, peer *Station) {
	if s.paused {
		return
	}
	frames, err := s.core.Export(peer.Name, s.now())
	if err != nil {
		w.violate("offline bundle", "%s cannot export a bundle for %s: %v", s.Name, peer.Name, err)
		return
	}
	for _, f := range frames {
		switch protocol.FrameType(f[0]) {
		case protocol.FrameEntries:
			w.checkEntriesSent(s, f)
		case protocol.FrameReceipt:
			w.checkReceiptSent(s, f)
		}
	}
	if len(frames) > 0 && w.cfg.Faults > 0 && w.chance(0.1) {
		w.fault("corrupt")
		i := w.rng.IntN(len(frames))
		frames[i] = w.corrupt(frames[i])
	}
	times := 1
	if w.chance(0.2) {
		times = 2
	}
	restores := s.restores
	for range times {
		w.after(w.between(time.Minute, 30*time.Minute), func() {
			if w.phase != phaseFaults || !peer.up || s.restores != restores || s.restore != nil {
				// (A bundle of a disk since lost is not imported: see
				// restore.go.)
				return
			}
			pre := make([]*protocol.Prepared, len(frames))
			for i, f := range frames {
				pre[i] = protocol.Prepare(f, s.keys.SignPublic(), peer.keys)
			}
			peer.request(request{what: "import"}, func(id uint64) protocol.Event {
				return protocol.Import{ID: id, Peer: s.Name, Frames: pre}
			})
		})
	}
}

// operatorReceived: a person at the station acknowledges most of what
// waits for acknowledgement, after a while; some is left to escalate.
func (w *World) operatorReceived(s *Station, n protocol.Notify) {
	ch, author, idx, ok := splitID(n.Entry)
	if !ok || author == s.Name {
		return
	}
	es := s.disk.log(ch, author)
	if idx > uint64(len(es)) {
		return
	}
	e := es[idx-1]
	if !e.Kind.NeedsAck() || w.phase != phaseFaults || !w.chance(0.8) {
		return
	}
	life := s.life
	w.after(time.Second+w.expo(2*time.Minute), func() {
		if w.phase != phaseFaults || !s.up || life != s.life {
			return
		}
		kind := envelope.Ack
		body, _ := json.Marshal(protocol.AckBody{Of: idx, By: "duty officer"})
		if e.Kind == envelope.CallRequest {
			// A call is acknowledged by its answer.
			kind = envelope.CallAnswer
			body, _ = json.Marshal(call.Answer{Call: n.Entry, By: "duty officer"})
		}
		s.request(request{what: "submit", channel: ch}, func(id uint64) protocol.Event {
			return protocol.Submit{ID: id, Channel: ch, Kind: kind, Precedence: e.Precedence, Body: body}
		})
	})
}

// splitID splits an entry id channel/author/index.
func splitID(id string) (ch, author string, idx uint64, ok bool) {
	parts := strings.Split(id, "/")
	if len(parts) != 3 {
		return "", "", 0, false
	}
	n, err := strconv.ParseUint(parts[2], 10, 64)
	return parts[0], parts[1], n, err == nil && n > 0
}
