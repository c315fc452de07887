package sim

import (
	"cmp"
	"fmt"
	"hotline/internal/record"
	"slices"
	"strings"
	"time"
)

// The faults. While the fault phase lasts, faults come at random times
// (a Poisson process, Config.Faults a minute on average), each of a kind
// drawn by weight. Episodes (a lossy path, a misbehaving relay, a
// partition, a slow disk) last a while and end by themselves; at the end
// of the phase everything heals at once.

var faultKinds = []struct {
	name   string
	weight int
}{
	{"lossy path", 10},       // a direct path drops, corrupts (its connections fail) and delays
	{"relay misbehaves", 10}, // the relay drops, duplicates, reorders, corrupts, delays a station's mail
	{"lossy relay link", 4},  // a station's connection to the relay fails and delays
	{"partition pair", 8},    // a direct path black-holed or refused
	{"partition group", 3},   // a group of stations cut off from the rest, maybe from the relay too
	{"partition relay", 5},   // a station's path to the relay black-holed or refused
	{"cut direct", 8},        // a direct connection reset
	{"cut relay", 4},         // a station's connection to the relay reset
	{"crash", 6},             // a station killed, restarted from its disk later
	{"pause", 4},             // a station stopped (SIGSTOP) and continued
	{"takeover", 4},          // at its next write sent ahead, paused; a successor takes over and writes; then continued (takeover.go)
	{"crash after ahead", 3}, // at its next write sent ahead, killed before the write is durable, maybe; restarted from its disk
	{"relay crash", 2},       // the relay killed, restarted later with what it stored
	{"clock jump", 3},        // a station's clock steps
	{"slow disk", 4},         // a station's writes take up to 2 s
	{"disk error", 2},        // a station's next write fails: it stops and is restarted
	{"restore", 0},           // a station's disk lost, restored from a backup of any age (restore.go; weight restoreWeight with Config.Restores)
}

// restoreWeight is the weight of "restore" in runs with Config.Restores.
const restoreWeight = 6

func (w *World) startFaults(end time.Time) {
	if w.cfg.Faults <= 0 {
		return
	}
	mean := time.Duration(float64(time.Minute) / w.cfg.Faults)
	var next func()
	next = func() {
		if w.phase != phaseFaults || !w.now.Before(end) {
			return
		}
		w.inject()
		w.after(w.expo(mean), next)
	}
	w.after(w.expo(mean), next)
}

func (w *World) anyStation() *Station { return w.stations[w.rng.IntN(len(w.stations))] }

func (w *World) anyUp() *Station {
	var up []*Station
	for _, s := range w.stations {
		if s.up {
			up = append(up, s)
		}
	}
	if len(up) == 0 {
		return nil
	}
	return up[w.rng.IntN(len(up))]
}

func (w *World) anyDirectPair() *pair {
	var ps []*pair
	for _, p := range w.pairList() {
		if p.direct {
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		return nil
	}
	return ps[w.rng.IntN(len(ps))]
}

func (w *World) blockID() uint64 {
	w.blocks++
	return w.blocks
}

// inject draws one fault and starts it.
func (w *World) inject() {
	weight := func(name string, wt int) int {
		if name == "restore" && w.cfg.Restores {
			return restoreWeight
		}
		return wt
	}
	total := 0
	for _, k := range faultKinds {
		total += weight(k.name, k.weight)
	}
	r := w.rng.IntN(total)
	kind := faultKinds[0].name
	for _, k := range faultKinds {
		if r < weight(k.name, k.weight) {
			kind = k.name
			break
		}
		r -= weight(k.name, k.weight)
	}
	switch kind {
	case "lossy path":
		if p := w.anyDirectPair(); p != nil {
			w.lossy(&p.path)
		}
	case "lossy relay link":
		w.lossy(&w.anyStation().toRelay)
	case "relay misbehaves":
		p := &w.anyStation().toRelay
		p.relayUntil = w.now.Add(w.between(5*time.Second, 5*time.Minute))
		p.rdrop, p.rdup, p.rreo = 0.1*w.rng.Float64(), 0.1*w.rng.Float64(), 0.1*w.rng.Float64()
		p.rcorrupt, p.rdelay = 0.05*w.rng.Float64(), 0.1*w.rng.Float64()
	case "partition pair":
		if p := w.anyDirectPair(); p != nil {
			w.partitionPair(p, w.partitionMode(), w.between(5*time.Second, 10*time.Minute))
		}
	case "partition group":
		w.partitionGroup()
	case "partition relay":
		w.partitionRelay(w.anyStation(), w.partitionMode(), w.between(5*time.Second, 10*time.Minute))
	case "cut direct":
		var open []*conn
		for _, c := range w.connList() {
			if !c.closed {
				open = append(open, c)
			}
		}
		if len(open) > 0 {
			w.fault("cut")
			w.cut(open[w.rng.IntN(len(open))])
		}
	case "cut relay":
		if s := w.anyStation(); s.relay != nil && s.relay.open {
			w.fault("cut")
			w.relayCut(s.relay)
		}
	case "crash":
		if s := w.anyUp(); s != nil {
			w.fault("crash")
			s.crash(w.between(time.Second, 3*time.Minute))
		}
	case "pause":
		if s := w.anyUp(); s != nil && !s.paused {
			w.fault("pause")
			s.pause(w.between(time.Second, 40*time.Second))
		}
	case "takeover", "crash after ahead":
		if s := w.anyUp(); s != nil && !s.paused && s.armed == "" {
			s.armed = kind
		}
	case "relay crash":
		if w.relay.up {
			w.fault("relay crash")
			w.crashRelay(w.between(2*time.Second, 3*time.Minute))
		}
	case "clock jump":
		d := w.between(time.Second, 5*time.Minute)
		if w.chance(0.4) {
			d = w.between(5*time.Minute, 2*time.Hour)
		}
		if w.chance(0.5) {
			d = -d
		}
		w.fault("clock jump")
		w.anyStation().jump(d)
	case "slow disk":
		w.fault("slow disk")
		w.anyStation().slowUntil = w.now.Add(w.between(10*time.Second, 5*time.Minute))
	case "disk error":
		w.anyStation().failNext = true
	case "restore":
		if s := w.anyUp(); s != nil {
			w.restoreStation(s)
		}
	}
}

// lossy starts an episode on a path: frames lost or damaged (their TLS
// connection fails) and delay spikes.
func (w *World) lossy(p *path) {
	p.lossUntil = w.now.Add(w.between(5*time.Second, 3*time.Minute))
	p.drop, p.corrupt = 0.05*w.rng.Float64(), 0.03*w.rng.Float64()
	p.delay, p.spike = 0.3*w.rng.Float64(), w.between(200*time.Millisecond, 8*time.Second)
}

func (w *World) partitionMode() pathMode {
	if w.chance(0.5) {
		return pathSilent
	}
	return pathRefused
}

// partitionPair takes a pair's direct path down for d.
func (w *World) partitionPair(p *pair, mode pathMode, d time.Duration) {
	w.fault("partition")
	id := w.blockID()
	p.blocks = append(p.blocks, block{id, mode})
	if mode == pathRefused {
		for _, c := range w.pairConns(p) {
			w.cut(c)
		}
	}
	w.after(d, func() { w.heal(&p.path, id, func() []*conn { return w.pairConns(p) }) })
}

// partitionRelay takes a station's path to the relay down for d.
func (w *World) partitionRelay(s *Station, mode pathMode, d time.Duration) {
	w.fault("partition")
	id := w.blockID()
	s.toRelay.blocks = append(s.toRelay.blocks, block{id, mode})
	if mode == pathRefused && s.relay != nil {
		w.relayCut(s.relay)
	}
	w.after(d, func() { w.healRelayPath(s, id) })
}

// partitionGroup cuts a group of stations off from the others (every
// direct path across), and in half the cases from the relay too.
func (w *World) partitionGroup() {
	n := len(w.stations)
	size := 1 + w.rng.IntN(max(1, n/2))
	group := map[int]bool{}
	for _, i := range w.rng.Perm(n)[:size] {
		group[i] = true
	}
	mode, d := w.partitionMode(), w.between(30*time.Second, 10*time.Minute)
	for _, p := range w.pairList() {
		if p.direct && group[p.a.index] != group[p.b.index] {
			w.partitionPair(p, mode, d)
		}
	}
	if w.chance(0.5) {
		for _, s := range w.stations {
			if group[s.index] {
				w.partitionRelay(s, mode, d)
			}
		}
	}
}

func (w *World) connList() []*conn {
	out := make([]*conn, 0, len(w.conns))
	for _, c := range w.conns {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *conn) int {
		if a.id < b.id {
			return -1
		}
		return 1
	})
	return out
}

// quiet ends the faults: every path heals, the relay and every station
// run again, disks are well. From here everything pending must be
// delivered within Config.Liveness.
func (w *World) quiet() {
	w.phase = phaseQuiet
	w.quietAt = w.now
	if !w.relay.up {
		w.relay.up = true
	}
	for _, p := range w.pairList() {
		p.lossUntil, p.relayUntil = w.now, w.now
		for _, b := range slices.Clone(p.blocks) {
			w.heal(&p.path, b.id, func() []*conn { return w.pairConns(p) })
		}
	}
	for _, s := range w.stations {
		s.toRelay.lossUntil, s.toRelay.relayUntil = w.now, w.now
		for _, b := range slices.Clone(s.toRelay.blocks) {
			w.healRelayPath(s, b.id)
		}
		s.slowUntil, s.failNext, s.armed = w.now, false, ""
		if !s.up {
			s.restart()
		}
		if s.paused {
			s.resume()
		}
	}
	w.after(0, func() {
		for _, s := range w.stations {
			if !s.up {
				continue
			}
			for _, ci := range s.core.Channels() {
				// The core's count, with what is not yet on the disk
				// (a proposal written a moment ago has no record there).
				w.targets[logKey{ci.ID, s.Name}] = ci.Written
				w.targetPeer[logKey{ci.ID, s.Name}] = ci.Peer
			}
		}
		w.pollSettled()
	})
}

// pollSettled checks every simulated second whether everything that was
// written when the faults stopped is delivered and receipted.
func (w *World) pollSettled() {
	if w.pending() == "" {
		w.settledAt = w.now
		w.halt = true
		return
	}
	w.after(time.Second, w.pollSettled)
}

// pending describes what is not yet delivered of the targets, and which
// channel is not yet agreed on both sides, "" if nothing.
func (w *World) pending() string {
	var b strings.Builder
	n := 0
	note := func(format string, args ...any) {
		n++
		if n <= 3 {
			fmt.Fprintf(&b, format, args...)
		}
	}
	for _, s := range w.stations {
		if !s.up {
			return s.Name + " is down"
		}
		for _, id := range sortedKeys(s.disk.channels) {
			peer := s.peerOf(id)
			c, pc := s.disk.channels[id], peer.disk.channels[id]
			if (c.State != record.Active || pc.State != record.Active) && (c.State != record.Withdrawn || pc.State != record.Withdrawn) {
				note("channel %s is %q at %s and %q at %s; ", id, c.State, s.Name, peer.disk.channels[id].State, peer.Name)
			}
		}
	}
	keys := make([]logKey, 0, len(w.targets))
	for k := range w.targets {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b logKey) int { return cmp.Or(cmp.Compare(a.ch, b.ch), cmp.Compare(a.author, b.author)) })
	for _, k := range keys {
		s := w.byName[k.author]
		target, peer := w.targets[k], w.byName[w.targetPeer[k]]
		delivered := s.core.Delivered(k.ch)
		held := uint64(len(peer.disk.log(k.ch, s.Name)))
		if delivered < target || held < target {
			note("log %s/%s: %d written, %d receipted, %d held by %s; ", k.ch, s.Name, target, delivered, held, peer.Name)
		}
	}
	if n > 3 {
		fmt.Fprintf(&b, "and %d more", n-3)
	}
	return b.String()
}

func (w *World) pendingText() string {
	p := w.pending()
	for _, s := range w.stations {
		if !s.up {
			continue
		}
		for _, ci := range s.core.Channels() {
			if ci.Delivered < w.targets[logKey{ci.ID, s.Name}] {
				p += fmt.Sprintf("\n  %s %s: state %s, blocked %q, sent %d, written %d, delivered %d, paths %+v", s.Name, ci.ID, ci.State, ci.Blocked, ci.Sent, ci.Written, ci.Delivered, ci.Paths)
			}
		}
	}
	return p
}
