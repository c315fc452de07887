// Package protocol is the core of a station: a deterministic state machine
// with no I/O of its own. Events go in (an operator submitted, a frame
// arrived, a write became durable, a connection came or went); actions come
// out (persist this batch, send this frame, complete this request, notify).
// The station wires it to a store, links and a clock; the simulator wires it
// to fakes. The rules it implements are in docs/PROTOCOL.md.
//
// Ordering comes from log positions, never from clocks: each station appends
// only to its own log per channel, assigns indexes itself, and sends an
// entry only once it is durable on its own disk. The receiver accepts
// entries strictly in order, checks the author's checkpoint against the
// entries it holds, and cosigns it only once they are durable: the
// cosignature is the delivery receipt.
package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"golang.org/x/mod/sumdb/note"

	"hotline/internal/channel"
	"hotline/internal/envelope"
	"hotline/internal/identity"
	"hotline/internal/record"
	"hotline/internal/transcript"
)

// Config sets the core's limits.
type Config struct {
	MaxBatch      int // entries in one entries frame
	MaxBatchBytes int // bytes of entries in one frame
	Window        int // entries sent and not yet receipted, per log
	// Restored: the station was restored from a backup, so it appends
	// nothing on a channel until the peer has said what it holds of this
	// station's log there (see recover.go).
	Restored bool
	// Relays: this station's card lists relays it picks up from, so a
	// peer whose card lists relays can be reached over a relay path.
	Relays bool
	// Retired are this station's earlier keys (keys/retired): bodies
	// sealed to an earlier HPKE key still open, and checkpoints of
	// entries signed with an earlier key are signed with it.
	Retired []*identity.Keys
	// Books are the codebooks of standard phrases this station has; a
	// charter naming another is refused, and a proposal that names none
	// takes the first.
	Books []channel.Book
	// Bodies decodes entry bodies: the protocol's own kinds and those a
	// station registers (BodyKind). Nil for the protocol's own only.
	Bodies *Bodies
	// Rand is where the core reads the nonces of the bodies it seals; nil
	// for crypto/rand. The HPKE encapsulation that begins a key epoch
	// reads the system's randomness whatever Rand is (crypto/hpke takes
	// no reader), which is why the simulator still fixes it with
	// testing/cryptotest. Time comes with each event.
	Rand io.Reader
}

// DefaultConfig is what a station runs with.
var DefaultConfig = Config{MaxBatch: 256, MaxBatchBytes: 1 << 20, Window: 2048}

// Core is one station's protocol state. It is not safe for concurrent use:
// one goroutine owns it.
type Core struct {
	cfg    Config
	keys   *identity.Keys
	signer note.Signer
	// cosigner signs receipts: cosignature/v1, at the core's time.
	cosigner note.Signer
	// owed are the receipts of stored checkpoints to cosign again at
	// the first step after a restart.
	owed     []owedReceipt
	verifier note.Verifier
	own      []keyLink              // this station's key chain; the last is keys
	ownKeys  map[int]*identity.Keys // private keys by seq, where held
	signers  map[*identity.Keys]note.Signer
	// cosigns are the receipts that wait for a write and that no Writing
	// has signed yet; appended are the channels whose own log grew since
	// the last Writing.
	cosigns  []*cosigning
	appended []*chanState

	peers    map[string]*peer
	channels map[string]*chanState

	now      time.Time
	out      []Action
	batch    *record.Batch
	onDurabl []func(error)
	write    uint64
	pending  map[uint64][]func(error)
	// While a Persisted event runs its callbacks, flushes wait in
	// flushes, so that one flush sends all the entries it made durable.
	deferFlush bool
	flushes    map[string]bool

	// Stats counts what the core refused, by reason. It is read by the
	// station for status and by tests.
	Stats Stats

	lastAlert map[string]time.Time // when each kind of refusal was last recorded

	timers   timers
	timerSeq uint64
	// staleTimers counts acknowledgements since the timers were last
	// compacted: each may have left a timer for nothing.
	staleTimers int
	armed       bool // timers are scheduled (from the first step on)
	// startAlarms raise, at the first step, what New found wrong but
	// could start with.
	startAlarms []func()
	pathTimer   bool // the path probe timer is scheduled
}

// Stats are counters of refusals, duplicates and failovers.
type Stats struct {
	Refused    map[string]int
	Duplicates int
	// Failovers counts changes of a peer's active path from one path to
	// another (a lost path replaced, or a better one taking over).
	Failovers int
	// SignedAhead counts the checkpoints and receipts sent that were
	// signed while the write they waited for was under way (Writing).
	SignedAhead int
	// SentAhead counts the entries frames this station sent ahead of
	// their durability (FrameAhead), TakenAhead those of the peer's it
	// took when their durable frame came, MissedAhead durable frames that
	// found nothing held to take (the author sends the entries again).
	SentAhead, TakenAhead, MissedAhead int
	// LeaseAhead counts the groups not sent ahead because the station's
	// lease was not confirmed recently enough (Writing.Lease);
	// ConflictAhead the peer's ahead frames dropped because they reach
	// into what this station holds of its log: sent by a process that
	// lost the station to a successor, or before a crash. Neither binds
	// the peer (docs/PROTOCOL.md, "Sent ahead"), so neither is an alarm.
	LeaseAhead, ConflictAhead int
}

// restoreEpochs derives again the key epoch of each peer's log from the
// entry that began it: its key is never stored. An entry missing or that
// does not yield it (changed on disk) raises a tamper alarm at the first
// step rather than keeping every channel down: that log's entries that
// continue the epoch are refused.
func (c *Core) restoreEpochs(snap *record.Snapshot) {
	began := map[string]record.Entry{}
	for _, e := range snap.EpochEntries {
		began[e.Channel+"/"+e.Author] = e
	}
	for _, ch := range snap.Channels { // in stored order: alarms are raised in it
		in := &c.channels[ch.ID].theirs
		if in.epochFrom == 0 {
			continue
		}
		id := fmt.Sprintf("%s/%s/%d", ch.ID, ch.Peer, in.epochFrom)
		e, ok := began[ch.ID+"/"+ch.Peer]
		var env *envelope.Envelope
		err := errors.New("it is not stored")
		if ok && e.Index == in.epochFrom {
			env, err = envelope.Parse(e.Raw)
		}
		if err == nil {
			_, in.epoch, err = c.openBody(&Opened{Env: env}, nil)
		}
		if err == nil && in.epoch == nil {
			err = errors.New("it begins no key epoch")
		}
		if err != nil {
			c.startAlarms = append(c.startAlarms, func() {
				c.alert("alarm", ch.ID, ch.Peer, "tamper alarm: stored entry %s, which began the key epoch of its log, does not open (%v); entries of that log sealed under it are refused: restore this station from a backup", id, err)
			})
		}
	}
}

// New restores a core from a snapshot of the store.
func New(cfg Config, keys *identity.Keys, snap *record.Snapshot) (*Core, error) {
	c := &Core{
		cfg:      cfg,
		keys:     keys,
		signer:   keys.Signer(),
		peers:    map[string]*peer{},
		channels: map[string]*chanState{},
		pending:  map[uint64][]func(error){},
		Stats:    Stats{Refused: map[string]int{}},
	}
	c.cosigner = c.newCosigner(keys)
	var err error
	if c.verifier, err = note.NewVerifier(mustVKey(keys.Name, keys.SignPublic())); err != nil {
		return nil, err
	}
	for _, p := range snap.Peers {
		card, err := identity.ParseCard(p.Card)
		if err != nil {
			return nil, fmt.Errorf("stored card of %s: %w", p.Name, err)
		}
		if err := c.addPeer(card); err != nil {
			return nil, err
		}
	}
	logKeys, err := c.restoreKeys(cfg, snap)
	if err != nil {
		return nil, err
	}
	if err := c.restoreChannels(snap, logKeys); err != nil {
		return nil, err
	}
	if err := c.restoreLogs(snap, logKeys); err != nil {
		return nil, err
	}
	if err := c.restoreUndelivered(snap); err != nil {
		return nil, err
	}
	c.restoreEpochs(snap)
	if cfg.Restored {
		for _, cs := range c.channels {
			cs.holding = true
		}
	}
	if err := c.restoreAwaiting(snap); err != nil {
		return nil, fmt.Errorf("reading the entries that wait for acknowledgement: %w", err)
	}
	for _, p := range c.peers {
		sort.Strings(p.channels)
	}
	for _, cs := range c.channels {
		if uint64(len(cs.mine.pending)) != cs.mine.size-cs.mine.delivered {
			return nil, fmt.Errorf("channel %s: %d undelivered entries stored, want %d", cs.rec.ID, len(cs.mine.pending), cs.mine.size-cs.mine.delivered)
		}
	}
	return c, nil
}

// restoreChannels rebuilds each stored channel with its charter, checked
// against the keys that signed entry 1 of each log, and the codebook the
// charter names. It runs once the key chains are restored.
func (c *Core) restoreChannels(snap *record.Snapshot, logKeys map[[2]string][]logKey) error {
	var err error
	for _, ch := range snap.Channels {
		p := c.peers[ch.Peer]
		if p == nil {
			return fmt.Errorf("channel %s: peer %s is not pinned", ch.ID, ch.Peer)
		}
		cs := &chanState{rec: ch, mine: outLog{tree: transcript.NewTree()}, theirs: inLog{tree: transcript.NewTree()}}
		// The charter is signed by the keys that signed entry 1 of each log.
		mineAt1 := c.own[seqAt(logKeys[[2]string{ch.ID, c.keys.Name}], 1)].verifier
		theirsAt1 := p.chain[min(seqAt(logKeys[[2]string{ch.ID, ch.Peer}], 1), len(p.chain)-1)].verifier
		verifiers := []note.Verifier{theirsAt1}
		if ch.Proposer == c.keys.Name {
			verifiers = []note.Verifier{mineAt1}
		}
		if ch.State == record.Active {
			verifiers = []note.Verifier{mineAt1, theirsAt1}
		}
		if cs.charter, err = channel.Parse(ch.Charter, verifiers...); err != nil && ch.State == record.Active {
			// The acceptance of crossing proposals follows the acceptor's
			// withdrawn proposal in its log: a key change between the two
			// signs it with a later key (docs/PROTOCOL.md, "Crossing
			// proposals").
			cs.charter, err = parseWithAnyKeys(ch.Charter, c.own, p.chain)
		}
		if err != nil {
			return fmt.Errorf("stored charter of %s: %w", ch.ID, err)
		}
		// A codebook this binary lacks leaves the channel without one:
		// its coded entries are refused with that reason, the rest works.
		cs.codebook, _ = cs.charter.FindBook(c.cfg.Books...)
		c.channels[ch.ID] = cs
		p.channels = append(p.channels, ch.ID)
	}
	return nil
}

// parseWithAnyKeys parses an agreed charter signed by one key of each
// chain.
func parseWithAnyKeys(text []byte, mine, theirs []keyLink) (*channel.Charter, error) {
	var err error
	for _, m := range mine {
		for _, t := range theirs {
			var ch *channel.Charter
			if ch, err = channel.Parse(text, m.verifier, t.verifier); err == nil {
				return ch, nil
			}
		}
	}
	return nil, err
}

// restoreLogs rebuilds both logs of each channel from their stored sizes
// and hashes, and the receipt this station gave for the peer's.
func (c *Core) restoreLogs(snap *record.Snapshot, logKeys map[[2]string][]logKey) error {
	for _, l := range snap.Logs {
		cs := c.channels[l.Channel]
		if cs == nil {
			return fmt.Errorf("stored log %s/%s has no channel", l.Channel, l.Author)
		}
		tree, err := transcript.TreeFromHashes(l.Size, l.Hashes)
		if err != nil {
			return err
		}
		lk := logKeys[[2]string{l.Channel, l.Author}]
		switch l.Author {
		case c.keys.Name:
			cs.mine = outLog{tree: tree, size: l.Size, durable: l.Size, delivered: l.ReceiptSize, sent: l.ReceiptSize, receipt: l.Receipt, keys: lk}
			if p := c.peers[cs.rec.Peer]; p != nil {
				cs.mine.receiptAt = c.receiptTime(p, l.Receipt)
			}
		case cs.rec.Peer:
			cs.theirs = inLog{tree: tree, size: l.Size, durable: l.Size, durableRoot: tree.Root(), keys: lk, epochFrom: l.EpochFrom}
			if l.Checkpoint != nil {
				// Entries and the checkpoint covering them were stored in one
				// batch, so they are durable: cosign again, at the first step,
				// when the core has a time to sign with (cosignOwed).
				if cp, err := transcript.ParseCheckpointText(noteText(l.Checkpoint)); err == nil && cp.Size == l.Size {
					p := c.peers[cs.rec.Peer]
					c.owed = append(c.owed, owedReceipt{cs, l.Checkpoint, p.chain[min(seqAt(lk, l.Size), len(p.chain)-1)].verifier})
				}
			}
		default:
			return fmt.Errorf("stored log %s/%s: author is neither party", l.Channel, l.Author)
		}
	}
	return nil
}

// restoreUndelivered takes back this station's entries the peer has not
// receipted, in order, to send them again.
func (c *Core) restoreUndelivered(snap *record.Snapshot) error {
	for _, e := range snap.Undelivered {
		cs := c.channels[e.Channel]
		if cs == nil || e.Author != c.keys.Name {
			return fmt.Errorf("undelivered entry %s does not belong to this station", e.ID())
		}
		if e.Index != cs.mine.delivered+uint64(len(cs.mine.pending))+1 {
			return fmt.Errorf("undelivered entry %s is out of sequence", e.ID())
		}
		cs.mine.pending = append(cs.mine.pending, pendingEntry{raw: e.Raw, root: e.Root, urgent: urgentEntry(e.Raw)})
	}
	return nil
}

// restoreAwaiting puts back the entries that await acknowledgement, each
// at the latest step of its ladder the store holds.
func (c *Core) restoreAwaiting(snap *record.Snapshot) error {
	type key struct {
		channel, author string
		index           uint64
	}
	steps := map[key]int{}
	for _, x := range snap.Escalations {
		k := key{x.Channel, x.Author, x.Index}
		steps[k] = max(steps[k], x.Step)
	}
	take := func(e *record.Waiting) {
		if cs := c.channels[e.Channel]; cs != nil && cs.rec.State != record.Withdrawn {
			c.await(cs, e, steps[key{e.Channel, e.Author, e.Index}])
		}
	}
	if snap.EachOutstanding != nil {
		return snap.EachOutstanding(take)
	}
	for i := range snap.Outstanding {
		take(&snap.Outstanding[i])
	}
	return nil
}

func mustVKey(name string, pub []byte) string {
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		panic(err)
	}
	return vkey
}

func noteText(signed []byte) string {
	body, _, _ := bytes.Cut(signed, []byte("\n\n"))
	return string(body) + "\n"
}

// Step feeds one event to the core at the given local time and returns the
// actions it produced. The returned slice is valid until the next Step.
func (c *Core) Step(now time.Time, ev Event) []Action {
	c.now = now
	c.cosignOwed()
	c.out = c.out[:0]
	c.batch = &record.Batch{}
	c.onDurabl = nil
	if !c.armed {
		c.arm()
	}
	for _, f := range c.startAlarms {
		f()
	}
	c.startAlarms = nil
	switch ev := ev.(type) {
	case Tick:
		c.tick()
	case Import:
		c.importFrames(ev)
	case CheckImport:
		c.checkImport(ev)
	case Loaded:
		if ev.Ladder {
			c.forwardLoaded(ev)
		} else if c.loadedOwn(ev) {
			c.rewound(ev)
		} else {
			c.loaded(ev)
		}
	case Submit:
		c.submit(ev)
	case Propose:
		c.propose(ev)
	case Accept:
		c.accept(ev)
	case Withdraw:
		c.withdraw(ev)
	case AddPeer:
		c.addPeerReq(ev)
	case AddCodebook:
		c.addCodebook(ev)
	case Rotate:
		c.rotate(ev)
	case ReplacePeer:
		c.replacePeer(ev)
	case Statements:
		c.statements(ev)
	case FrameIn:
		c.frameIn(ev)
	case Connected:
		c.connected(ev)
	case Disconnected:
		c.disconnected(ev)
	case PathMeasured:
		if p := c.peers[ev.Peer]; p != nil {
			if x := c.pathOf(p, ev.Conn); x != nil {
				x.rate = max(ev.Rate, 0)
			}
		}
	case Persisted:
		c.persisted(ev)
	case Writing:
		c.writing(ev.Through, ev.Lease)
	case LinkRefused:
		level := ev.Level
		if level == "" {
			level = "alarm"
		}
		c.refuse(ev.Reason, level, ev.Channel, ev.Peer, "%s", ev.Text)
	}
	if !c.batch.Empty() || len(c.onDurabl) > 0 {
		c.write++
		c.pending[c.write] = c.onDurabl
		b := c.batch
		lazy := len(c.onDurabl) == 0 && len(b.Receipts)+len(b.Probes) > 0 &&
			len(b.Keys)+len(b.LogKeys)+len(b.Peers)+len(b.Channels)+len(b.Entries)+len(b.Logs)+len(b.Acks)+len(b.Alerts)+len(b.Escalations) == 0
		c.out = append(c.out, Persist{Write: c.write, Batch: b, Lazy: lazy})
	}
	return c.out
}

func (c *Core) emit(a Action) { c.out = append(c.out, a) }

func (c *Core) done(id uint64, r Result, err error) {
	if id != 0 {
		c.emit(Done{ID: id, Result: r, Err: err})
	}
}

// afterDurable runs f once this step's batch is durable.
func (c *Core) afterDurable(f func(error)) { c.onDurabl = append(c.onDurabl, f) }

// alert records an alert for operators. Its format is also its key in
// the console's translations (internal/console), so each call passes a
// constant format; the arguments are kept as text beside it.
func (c *Core) alert(level, ch, peer, format string, args ...any) {
	text := fmt.Sprintf(format, args...)
	strs := make([]string, len(args))
	for i, a := range args {
		strs[i] = fmt.Sprint(a)
	}
	c.batch.Alerts = append(c.batch.Alerts, record.Alert{At: c.now, Level: level, Channel: ch, Peer: peer, Text: text, Format: format, Args: strs})
	c.emit(Notify{What: "alert", Channel: ch})
}

// alertEvery bounds how often the same refusal (reason, channel, peer) is
// recorded as an alert; every one is still counted. Without it, anyone who
// can reach the peer port could grow the alert table at will.
const alertEvery = time.Minute

// refuse counts and records a refused input from a peer.
func (c *Core) refuse(reason, level, ch, peer, format string, args ...any) {
	c.Stats.Refused[reason]++
	if format == "%s" {
		// A text made elsewhere: the reason goes with it, so that it can
		// be shown in any language.
		format, args = "refused (%s): %s", []any{reason, args[0]}
	}
	if c.limit(reason+"\x00"+ch+"\x00"+peer, alertEvery) {
		c.alert(level, ch, peer, format, args...)
	}
}

// limit reports whether an alert with this key may be recorded now, at
// most once every period.
func (c *Core) limit(key string, every time.Duration) bool {
	if last, ok := c.lastAlert[key]; ok && c.now.Sub(last) < every {
		return false
	}
	if c.lastAlert == nil {
		c.lastAlert = map[string]time.Time{}
	}
	c.lastAlert[key] = c.now
	return true
}

// reject refuses a frame from a peer and closes the connection it came
// on: the peer reconnects and both sides resume from the status exchange,
// so a frame damaged on its way can delay but never wedge a channel.
// Refusals that would only repeat after a reconnect (an agreement that
// conflicts, entries for a channel this station does not have with that
// peer) are recorded without closing: the frame is dropped, the author
// offers it again at its next connection, and other channels go on.
func (c *Core) reject(p *peer, conn ConnID, reason, ch, format string, args ...any) {
	c.refuse(reason, "alarm", ch, p.card.Name, format, args...)
	text := fmt.Sprintf(format, args...)
	c.emit(Send{Peer: p.card.Name, Conn: conn, Data: (&Frame{Type: FrameError, Text: text}).Encode(), Close: true})
}

func (c *Core) frameIn(ev FrameIn) {
	p := c.peers[ev.Peer]
	if p == nil {
		c.refuse("unknown peer", "alarm", "", ev.Peer, "frame from %s, which is not pinned", ev.Peer)
		return
	}
	if x := c.pathOf(p, ev.Conn); x != nil {
		x.heard = c.now
	}
	var f *Frame
	var err error
	if ev.Pre != nil {
		// Decoding does not depend on the key; the entries were verified
		// against ev.Pre's key, which checkEntry compares with the key
		// of each entry's log.
		f, err = ev.Pre.Frame, ev.Pre.Err
	} else {
		f, err = DecodeFrame(ev.Data)
	}
	if err != nil {
		c.refuse("malformed frame", "warning", "", ev.Peer, "frame from %s refused: %v", ev.Peer, err)
		c.emit(Send{Peer: ev.Peer, Conn: ev.Conn, Data: (&Frame{Type: FrameError, Text: err.Error()}).Encode(), Close: true})
		return
	}
	switch f.Type {
	case FrameHello:
		c.hello(p, ev.Conn, f)
	case FrameStatus:
		c.status(p, ev.Conn, f)
	case FrameEntries:
		c.entries(p, ev.Conn, f, ev.Pre)
	case FrameAhead:
		c.holdAhead(p, ev.Conn, f, ev.Pre)
	case FrameDurable:
		c.takeAhead(p, ev.Conn, f, ev.Pre)
	case FrameReceipt:
		c.receipt(p, ev.Conn, f)
	case FrameResend:
		c.resend(p, ev.Conn, f)
	case FrameError:
		c.alert("warning", "", ev.Peer, "%s reports: %s", ev.Peer, f.Text)
	case FrameFetch:
		c.fetch(p, ev.Conn, f)
	case FrameProbe:
		if f.Channel == "" {
			c.emit(Send{Peer: p.card.Name, Conn: ev.Conn, Data: (&Frame{Type: FrameProbeReply, Seq: f.Seq, Time: f.Time, PeerTime: c.now}).Encode()})
		} else {
			c.probe(p, ev.Conn, f)
		}
	case FrameProbeReply:
		if f.Channel == "" {
			c.pong(p, ev.Conn, f)
		} else {
			c.probeReply(p, f)
		}
	}
}
