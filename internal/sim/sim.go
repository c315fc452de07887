// Package sim is a deterministic simulator of whole networks of Hotline
// stations in one process, in the spirit of FoundationDB's simulation and
// TigerBeetle's VOPR. Every station is a real protocol.Core; everything
// around the cores is simulated: disks that lose what was not synced, a
// network of direct connections and a relay mailbox, operators who send,
// acknowledge and suspend, and a virtual clock. One seeded random source
// (math/rand/v2 PCG) decides everything, so the same seed replays the same
// run step by step.
//
// A run has three phases. Setup pins every pair of stations and agrees
// their channels (a full mesh). Then, for the configured simulated time,
// operators send and faults are injected: per path drops, duplicates,
// reorders, delays, corruption, partitions and cuts; crashes, pauses and
// disk failures of stations; crashes of the relay; clock jumps. Then the
// faults stop and everything heals, and what was pending must be
// delivered within a bound (Config.Liveness).
//
// Invariants (see check.go) are checked after every step of a core, and in
// full at the end: exactly-once, in-order delivery of every entry whose
// submit completed; identical logs on both sides of each channel; valid
// checkpoints and cosignatures (through transcript.Verify); receipts only
// for entries on the receiver's synced disk; consistent suspensions and
// acknowledgements; liveness once faults stop.
//
// What the model is, and is not, is written down in docs/RELIABILITY.md.
package sim

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"hotline/internal/protocol"
	"hotline/internal/transcript"
)

// Config says what to simulate. The zero value of every field but Seed
// takes a default; Replay prints the command that runs the same config.
type Config struct {
	Seed     uint64
	Stations int           // stations in the network, each pair with its channels (default 2)
	Duration time.Duration // simulated time with traffic and faults, after setup (default 1h)
	// Liveness bounds the simulated time, after the faults stop and
	// everything heals, by which everything pending must be delivered
	// (default 10m).
	Liveness time.Duration
	// Rate is each station's operator messages per simulated minute
	// (default 6 for two stations, 2 for more).
	Rate float64
	// Faults is the mean number of faults injected per simulated minute
	// in the whole network (default 2 per pair of stations, at most 40; -1
	// for none).
	Faults float64
	// Trace, if set, gets one line per step of a core.
	Trace io.Writer
	// Stop, if set, ends the run after this many steps (to replay up to
	// the step where something went wrong).
	Stop int64
	// Restores, if set, backs every station up now and then and adds the
	// fault "restore": a station's disk lost and restored from one of its
	// backups, of any age (restore.go).
	Restores bool
}

func (c Config) withDefaults() Config {
	if c.Stations == 0 {
		c.Stations = 2
	}
	if c.Duration == 0 {
		c.Duration = time.Hour
	}
	if c.Liveness == 0 {
		c.Liveness = 10 * time.Minute
	}
	if c.Rate == 0 {
		c.Rate = 6
		if c.Stations > 2 {
			c.Rate = 2
		}
	}
	if c.Faults == 0 {
		pairs := c.Stations * (c.Stations - 1) / 2
		c.Faults = 2 * float64(min(pairs, 20))
	}
	return c
}

// Args are the flags of hotline sim that run this config for one seed.
func (c Config) Args() string {
	d := c.withDefaults()
	args := fmt.Sprintf("--seed %d --seeds 1 --stations %d --hours %s --rate %s --faults %s", c.Seed, d.Stations,
		num(d.Duration.Hours()), num(d.Rate), num(d.Faults))
	if d.Restores {
		args += " --restores"
	}
	return args
}

// Replay is the command that replays this run byte for byte: under go
// test, crypto/rand is made deterministic too (testing/cryptotest), so
// even keys and HPKE encapsulations repeat.
func (c Config) Replay() string {
	d := c.withDefaults()
	return fmt.Sprintf("go test ./internal/sim -run 'TestReplay$' -sim.seed %d -sim.stations %d -sim.duration %s -sim.rate %s -sim.faults %s -sim.restores=%v -v",
		c.Seed, d.Stations, d.Duration, num(d.Rate), num(d.Faults), d.Restores)
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// Violation is an invariant that did not hold.
type Violation struct {
	At        time.Duration // simulated time since the start
	Step      int64         // the core step after which it was found
	Invariant string
	Detail    string
}

func (v Violation) String() string {
	return fmt.Sprintf("step %d at +%s: %s: %s", v.Step, v.At, v.Invariant, v.Detail)
}

// Report is what one run did.
type Report struct {
	Config    Config
	Simulated time.Duration // from the start to the end of the run
	Steps     int64         // core steps
	Faults    map[string]int
	// Operators' requests: submitted, completed (the entry is durable and
	// promised), refused (an error the core gave, by its text's start).
	Submitted, Completed int
	Refused              map[string]int
	// Offline bundles carried by hand: imported, refused whole (damaged
	// on the way), and the new entries they brought.
	Bundles struct{ Imported, Refused, Entries int }
	// Entries delivered (in the receiver's log and receipted), by kind;
	// Messages counts operator texts among them.
	Delivered map[string]int
	// Settled is how long after the faults stopped everything pending
	// was delivered.
	Settled time.Duration
	// CoreRefused sums the cores' refusal counters, by reason.
	CoreRefused map[string]int
	Duplicates  int
	// SignedAhead counts the checkpoints and receipts the cores signed
	// while the write they waited for was under way (all the cores'
	// lives, as the counts below).
	SignedAhead int
	// SentAhead counts the entries frames sent ahead of their write
	// (protocol.FrameAhead), TakenAhead those the receivers took on their
	// durable frame, MissedAhead the durable frames that found nothing
	// held.
	SentAhead, TakenAhead, MissedAhead int
	// ConflictAhead counts the ahead frames receivers dropped because
	// they reached into what they held (a former leader's, continued
	// after its successor wrote; a crashed process's, read late);
	// LeaseAhead the groups not sent ahead for want of a fresh lease.
	ConflictAhead, LeaseAhead int
	messages                  int
	Violations                []Violation
	// Digest covers every step (the event, the actions, frame bytes): two
	// runs of one seed with deterministic crypto have the same digest.
	Digest string
	// Schedule covers every step without the bytes that crypto/rand
	// makes differ between processes: two runs of one seed have the same.
	Schedule string
	Wall     time.Duration

	// RestoredAges are the ages of the backups stations were restored
	// from; LostWithDisk counts the entries completed after a backup that
	// were lost with the disk (the peer never held them).
	RestoredAges []time.Duration
	LostWithDisk int

	// Withdrawn counts the channels withdrawn on both sides at the end,
	// WithdrawnAccepted those of them whose acceptance crossed the
	// withdrawal (the acceptor wrote its agreement).
	Withdrawn, WithdrawnAccepted int
}

// OK reports whether no invariant was violated.
func (r *Report) OK() bool { return len(r.Violations) == 0 }

// DeliveredTotal sums Delivered.
func (r *Report) DeliveredTotal() int {
	n := 0
	for _, v := range r.Delivered {
		n += v
	}
	return n
}

// phases of a run
const (
	phaseSetup = iota
	phaseFaults
	phaseQuiet
)

// World is one simulated network.
type World struct {
	cfg   Config
	rng   *rand.Rand
	start time.Time
	now   time.Time
	nowNS int64 // now, in nanoseconds since start
	queue eventQueue
	seq   uint64
	phase int

	coreCfg    protocol.Config
	stations   []*Station
	byName     map[string]*Station
	pairs      map[[2]int]*pair // by station indexes, lower first
	relay      *Relay
	conns      map[protocol.ConnID]*conn
	relayConns map[protocol.ConnID]*relayPath
	nextConn   protocol.ConnID

	steps    int64
	texts    int
	calls    int    // calls placed
	extra    int    // channels proposed during the run
	blocks   uint64 // ids of path blocks
	halt     bool   // the loop returns at once (setup done, settled)
	promises []promise
	receipts map[string]transcript.Checkpoint // receipts whose signatures were checked
	binding  map[string]transcript.Checkpoint // author checkpoints that arrived, whose signatures were checked
	// dropMail, if set, makes the relay lose the mail it says (tests).
	dropMail   func(*mail) bool
	stop       bool
	faults     map[string]int
	violations []Violation
	digest     hash.Hash
	schedule   hash.Hash
	recBuf     []byte // record's encoding of a step
	report     *Report
	quietAt    time.Time
	settledAt  time.Time
	targets    map[logKey]uint64 // quiet phase: what must be delivered
	targetPeer map[logKey]string // and to whom
}

// Run simulates one network with cfg and reports what happened. It never
// panics on a violation: the run stops at the first one and the report
// says where.
func Run(cfg Config) *Report {
	began := time.Now()
	w := newWorld(cfg)
	func() {
		// A panic (in a core, or in the simulator) is reported like any
		// violation, with the command that replays it.
		defer func() {
			if p := recover(); p != nil {
				w.violate("no panic", "%v\n%s", p, debug.Stack())
			}
		}()
		w.run()
	}()
	r := w.report
	r.Simulated = w.now.Sub(w.start)
	r.Steps = w.steps
	r.Faults = w.faults
	r.Violations = w.violations
	r.Digest = fmt.Sprintf("%x", w.digest.Sum(nil))
	r.Schedule = fmt.Sprintf("%x", w.schedule.Sum(nil))
	r.Wall = time.Since(began)
	return r
}

func newWorld(cfg Config) *World {
	cfg = cfg.withDefaults()
	w := &World{
		cfg:        cfg,
		rng:        rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		start:      time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC),
		byName:     map[string]*Station{},
		pairs:      map[[2]int]*pair{},
		conns:      map[protocol.ConnID]*conn{},
		relayConns: map[protocol.ConnID]*relayPath{},
		faults:     map[string]int{},
		digest:     sha256.New(),
		schedule:   sha256.New(),
		report:     &Report{Config: cfg, Refused: map[string]int{}, Delivered: map[string]int{}, CoreRefused: map[string]int{}},
		targets:    map[logKey]uint64{},
		targetPeer: map[logKey]string{},
		receipts:   map[string]transcript.Checkpoint{},
		binding:    map[string]transcript.Checkpoint{},
	}
	w.now = w.start
	return w
}

func (w *World) run() {
	w.setup()
	if w.stop {
		return
	}
	w.phase = phaseFaults
	faultsEnd := w.now.Add(w.cfg.Duration)
	for _, s := range w.stations {
		w.startOperator(s)
	}
	w.startBackups()
	w.startFaults(faultsEnd)
	w.at(faultsEnd, w.quiet)
	w.loop(faultsEnd)
	if w.settledAt.IsZero() {
		w.loop(faultsEnd.Add(w.cfg.Liveness))
	}
	if w.stop {
		return
	}
	if w.settledAt.IsZero() {
		w.violate("liveness", "%s after the faults stopped, entries are still not delivered: %s", w.cfg.Liveness, w.pendingText())
		return
	}
	w.report.Settled = w.settledAt.Sub(w.quietAt)
	w.finalCheck()
}

// loop runs events until the queue is empty, the time is past end, or a
// violation stops the run.
func (w *World) loop(end time.Time) {
	w.halt = false
	until := int64(end.Sub(w.start))
	for len(w.queue) > 0 && !w.stop && !w.halt {
		if w.queue[0].at > until {
			return
		}
		e := w.queue.pop()
		if e.at > w.nowNS {
			w.nowNS = e.at
			w.now = w.start.Add(time.Duration(e.at))
		}
		e.fn()
	}
}

// at schedules fn at t (now if t is past).
func (w *World) at(t time.Time, fn func()) {
	if t.Before(w.now) {
		t = w.now
	}
	w.seq++
	w.queue.push(event{at: int64(t.Sub(w.start)), seq: w.seq, fn: fn})
}

func (w *World) after(d time.Duration, fn func()) { w.at(w.now.Add(d), fn) }

// elapsed is the simulated time since the start.
func (w *World) elapsed() time.Duration { return w.now.Sub(w.start) }

// chance reports true with probability p.
func (w *World) chance(p float64) bool { return w.rng.Float64() < p }

// between returns a duration uniform in [lo, hi).
func (w *World) between(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(w.rng.Int64N(int64(hi-lo)))
}

// expo returns an exponentially distributed duration with the given mean.
func (w *World) expo(mean time.Duration) time.Duration {
	return time.Duration(w.rng.ExpFloat64() * float64(mean))
}

func (w *World) fault(kind string) { w.faults[kind]++ }

func (w *World) violate(invariant, format string, args ...any) {
	v := Violation{At: w.elapsed(), Step: w.steps, Invariant: invariant, Detail: fmt.Sprintf(format, args...)}
	w.violations = append(w.violations, v)
	w.stop = true
	if w.cfg.Trace != nil {
		fmt.Fprintf(w.cfg.Trace, "VIOLATION %s\n", v)
	}
}

// record adds one step to the digests and the trace. The digests take a
// binary encoding of what the trace says (the event and the actions, by
// type, names, numbers and frame sizes), and the digest the frames'
// bytes besides; the text is made only for a trace.
func (w *World) record(s *Station, ev protocol.Event, acts []protocol.Action) {
	b := binary.BigEndian.AppendUint64(w.recBuf[:0], uint64(w.now.UnixNano()))
	b = appendString(b, s.Name)
	b = appendEvent(b, ev)
	for _, a := range acts {
		b = appendAction(b, a)
	}
	w.schedule.Write(b)
	w.digest.Write(b)
	w.recBuf = b
	if f, ok := ev.(protocol.FrameIn); ok {
		w.digest.Write(f.Data)
	}
	for _, a := range acts {
		if x, ok := a.(protocol.Send); ok {
			w.digest.Write(x.Data)
		}
	}
	if w.cfg.Trace != nil {
		var line strings.Builder
		fmt.Fprintf(&line, "%d +%s %s %s", w.steps, w.elapsed(), s.Name, eventText(ev))
		for _, a := range acts {
			line.WriteString(" → " + actionText(a))
		}
		fmt.Fprintln(w.cfg.Trace, line.String())
	}
}

func appendString(b []byte, x string) []byte {
	b = binary.AppendUvarint(b, uint64(len(x)))
	return append(b, x...)
}

func appendBool(b []byte, x bool) []byte {
	if x {
		return append(b, 1)
	}
	return append(b, 0)
}

// appendFrame is frameDesc in binary: the frame's type and size, an
// error frame's size left out.
func appendFrame(b, data []byte) []byte {
	if len(data) == 0 {
		return append(b, 0xff)
	}
	b = append(b, data[0])
	if protocol.FrameType(data[0]) == protocol.FrameError {
		return b
	}
	return binary.AppendUvarint(b, uint64(len(data)))
}

// appendEvent is eventText in binary.
func appendEvent(b []byte, ev protocol.Event) []byte {
	switch ev := ev.(type) {
	case protocol.FrameIn:
		b = appendString(append(b, 'F'), ev.Peer)
		return appendFrame(binary.AppendUvarint(b, uint64(ev.Conn)), ev.Data)
	case protocol.Connected:
		b = appendString(append(b, 'C'), ev.Peer)
		b = appendBool(binary.AppendUvarint(b, uint64(ev.Conn)), ev.Outbound)
		return appendString(b, ev.Path)
	case protocol.Disconnected:
		b = appendString(append(b, 'D'), ev.Peer)
		return binary.AppendUvarint(b, uint64(ev.Conn))
	case protocol.Persisted:
		b = binary.AppendUvarint(append(b, 'P'), uint64(len(ev.Writes)))
		for _, x := range ev.Writes {
			b = binary.AppendUvarint(b, x)
		}
		return appendBool(b, ev.Err != nil)
	case protocol.Writing:
		return binary.AppendUvarint(append(b, 'W'), ev.Through)
	case protocol.Submit:
		b = appendString(binary.AppendUvarint(append(b, 'S'), ev.ID), ev.Channel)
		return append(b, byte(ev.Kind), byte(ev.Precedence))
	case protocol.Propose:
		b = appendString(binary.AppendUvarint(append(b, 'p'), ev.ID), ev.Channel)
		return appendString(b, ev.Peer)
	case protocol.Accept:
		return appendString(binary.AppendUvarint(append(b, 'a'), ev.ID), ev.Channel)
	case protocol.Withdraw:
		return appendString(binary.AppendUvarint(append(b, 'w'), ev.ID), ev.Channel)
	case protocol.AddPeer:
		return appendString(binary.AppendUvarint(append(b, 'A'), ev.ID), ev.Card.Name)
	case protocol.Tick:
		return append(b, 'T')
	}
	return appendString(append(b, '?'), fmt.Sprintf("%T", ev))
}

// appendAction is actionText in binary.
func appendAction(b []byte, a protocol.Action) []byte {
	switch a := a.(type) {
	case protocol.Persist:
		b = appendBool(binary.AppendUvarint(append(b, 'p'), a.Write), a.Lazy)
		b = binary.AppendUvarint(b, uint64(len(a.Batch.Entries)))
		return binary.AppendUvarint(b, uint64(len(a.Batch.Receipts)))
	case protocol.Send:
		b = appendString(append(b, 's'), a.Peer)
		b = appendFrame(binary.AppendUvarint(b, uint64(a.Conn)), a.Data)
		return appendBool(b, a.Close)
	case protocol.Done:
		b = appendString(binary.AppendUvarint(append(b, 'd'), a.ID), a.Result.Entry)
		return appendBool(b, a.Err != nil)
	case protocol.Notify:
		b = appendString(append(b, 'n'), a.What)
		return appendString(appendString(b, a.Channel), a.Entry)
	}
	return appendString(append(b, '?'), fmt.Sprintf("%T", a))
}

func eventText(ev protocol.Event) string {
	switch ev := ev.(type) {
	case protocol.FrameIn:
		return fmt.Sprintf("FrameIn(%s conn %d %s)", ev.Peer, ev.Conn, frameDesc(ev.Data))
	case protocol.Connected:
		return fmt.Sprintf("Connected(%s conn %d out=%v %s)", ev.Peer, ev.Conn, ev.Outbound, ev.Path)
	case protocol.Disconnected:
		return fmt.Sprintf("Disconnected(%s conn %d)", ev.Peer, ev.Conn)
	case protocol.Persisted:
		return fmt.Sprintf("Persisted(%v err=%v)", ev.Writes, ev.Err != nil)
	case protocol.Submit:
		return fmt.Sprintf("Submit(%d %s %s %s)", ev.ID, ev.Channel, ev.Kind, ev.Precedence)
	case protocol.Propose:
		return fmt.Sprintf("Propose(%d %s %s)", ev.ID, ev.Channel, ev.Peer)
	case protocol.Accept:
		return fmt.Sprintf("Accept(%d %s)", ev.ID, ev.Channel)
	case protocol.Withdraw:
		return fmt.Sprintf("Withdraw(%d %s)", ev.ID, ev.Channel)
	case protocol.AddPeer:
		return fmt.Sprintf("AddPeer(%d %s)", ev.ID, ev.Card.Name)
	case protocol.Tick:
		return "Tick"
	}
	return fmt.Sprintf("%T", ev)
}

func actionText(a protocol.Action) string {
	switch a := a.(type) {
	case protocol.Persist:
		return fmt.Sprintf("Persist(%d lazy=%v e=%d r=%d)", a.Write, a.Lazy, len(a.Batch.Entries), len(a.Batch.Receipts))
	case protocol.Send:
		return fmt.Sprintf("Send(%s conn %d %s close=%v)", a.Peer, a.Conn, frameDesc(a.Data), a.Close)
	case protocol.Done:
		e := ""
		if a.Err != nil {
			e = " err"
		}
		return fmt.Sprintf("Done(%d %s%s)", a.ID, a.Result.Entry, e)
	case protocol.Notify:
		return fmt.Sprintf("Notify(%s %s %s)", a.What, a.Channel, a.Entry)
	}
	return fmt.Sprintf("%T", a)
}

// frameDesc names a frame by its type and size. An error frame's size is
// left out: its text can depend on crypto bytes (a damaged signature may
// not decode, or decode and not verify), which differ between processes
// unless crypto/rand is made deterministic, and the schedule must not.
func frameDesc(data []byte) string {
	if len(data) == 0 {
		return "empty"
	}
	t := protocol.FrameType(data[0])
	if t == protocol.FrameError {
		return t.String()
	}
	return fmt.Sprintf("%s %dB", t, len(data))
}

// sortedStations returns stations in index order (they are kept so).
func (w *World) station(name string) *Station { return w.byName[name] }

func (w *World) pair(a, b *Station) *pair {
	i, j := a.index, b.index
	if i > j {
		i, j = j, i
	}
	return w.pairs[[2]int{i, j}]
}

// pairList returns every pair in a fixed order.
func (w *World) pairList() []*pair {
	out := make([]*pair, 0, len(w.pairs))
	for _, p := range w.pairs {
		out = append(out, p)
	}
	slices.SortFunc(out, func(x, y *pair) int {
		if x.a.index != y.a.index {
			return x.a.index - y.a.index
		}
		return x.b.index - y.b.index
	})
	return out
}
