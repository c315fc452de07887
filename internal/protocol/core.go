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
	"crypto/hpke"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"time"

	"golang.org/x/mod/sumdb/note"

	"hotline/internal/channel"
	"hotline/internal/envelope"
	"hotline/internal/identity"
	"hotline/internal/record"
	"hotline/internal/transcript"
)

// ConnID names one connection for the life of a process. The station
// assigns them; the core only hands them back.
type ConnID uint64

// Event is an input to the core.
type Event interface{ event() }

// Submit asks the core to append an entry to this station's log for a
// channel. It completes (Done) once the entry is durable.
type Submit struct {
	ID         uint64
	Channel    string
	Kind       envelope.Kind // Text or Ack
	Precedence envelope.Precedence
	Body       []byte // JSON, see TextBody and AckBody
}

// Propose asks the core to propose a channel to a pinned peer.
type Propose struct {
	ID      uint64
	Channel string
	Peer    string
	Level   channel.Level
	// Deadlines and Delivery override channel.DefaultDeadlines and
	// DefaultDelivery where set; zero values below take the defaults.
	Deadlines   map[envelope.Precedence]time.Duration
	Delivery    map[envelope.Precedence]time.Duration
	EscalateTo  string
	FlashExempt bool
	LinkTest    time.Duration
	CheckEvery  time.Duration
	CheckWindow time.Duration
	// Codebook names the codebook of standard phrases for the channel;
	// zero for the first the core has (Config.Books).
	Codebook channel.BookRef
}

// Accept asks the core to accept a channel the peer proposed.
type Accept struct {
	ID      uint64
	Channel string
}

// AddPeer pins a peer by its card. The caller has checked the fingerprint
// with a person.
type AddPeer struct {
	ID   uint64
	Card *identity.Card
}

// FrameIn is a frame that arrived from an authenticated peer. Pre, if
// set, is the frame already decoded and its entries checked (see Prepare).
type FrameIn struct {
	Peer string
	Conn ConnID
	Data []byte
	Pre  *Prepared
}

// Connected reports a connection to or from a peer. Outbound connections
// carry this station's entries; inbound ones carry the peer's. Path names
// the way it goes ("direct" if empty, "relay", or any other transport's
// name). Rank is the station's prior preference, lower preferred: it
// orders paths the core has not measured yet, and breaks ties between
// paths that measure the same (see paths.go).
type Connected struct {
	Peer     string
	Conn     ConnID
	Outbound bool
	Path     string
	Rank     int
}

// Disconnected reports that a connection is gone.
type Disconnected struct {
	Peer string
	Conn ConnID
}

// Persisted reports that the batches of Persist actions are durable, or
// that writing them failed: one, or a group written in one transaction,
// in the order they were asked for. Entries made durable by one event
// go to the peer in one frame, under one checkpoint, whatever the number
// of requests that appended them.
type Persisted struct {
	Writes []uint64
	Err    error
}

// Writing reports that the batches up to write Through (all those asked
// for so far if it is 0) are being written. Until they are durable, the
// core signs now what their durability will let it send: the checkpoint
// of its own entries being written, the receipt for the peer's; the
// signatures are the ones it would make then (Ed25519 signs
// deterministically), made while the disk works instead of after. It
// also sends the entries ahead, to be checked and held by the peer until
// a durable frame (docs/PROTOCOL.md, "Sent ahead"); nothing that counts
// leaves before Persisted. A station that never reports it signs at
// Persisted, as before.
type Writing struct {
	Through uint64
}

// LinkRefused reports a connection the link layer refused (an unpinned
// key, a failed handshake), so that it is counted and shown.
type LinkRefused struct {
	Peer    string // the pinned peer it claimed or was dialed as, if known
	Channel string // the channel it concerns, if any
	Reason  string
	Text    string
	// Level of the alert it raises: "alarm" when empty. A handshake
	// that fails before anyone is identified is a "warning".
	Level string
}

// AddCodebook gives the core a codebook of standard phrases (an agreed
// extension the station has stored): channels whose charter names it
// take it, and proposals may name it. It completes at once.
type AddCodebook struct {
	ID   uint64
	Book channel.Book
}

func (AddCodebook) event()  {}
func (LinkRefused) event()  {}
func (Submit) event()       {}
func (Propose) event()      {}
func (Accept) event()       {}
func (AddPeer) event()      {}
func (FrameIn) event()      {}
func (Connected) event()    {}
func (Disconnected) event() {}
func (Persisted) event()    {}
func (Writing) event()      {}

// Action is an output of the core.
type Action interface{ action() }

// Persist asks the station to apply a batch durably and then to report
// Persisted with the same Write number. Batches must be applied in order.
type Persist struct {
	Write uint64
	Batch *record.Batch
	// Lazy batches hold only what the peer can give again (receipts): the
	// station may delay them and write them with a later batch.
	Lazy bool
}

// Send asks the station to write a frame to a connection. Close asks it to
// close the connection after the frame.
type Send struct {
	Peer  string
	Conn  ConnID
	Data  []byte
	Close bool
}

// Done completes a request (Submit, Propose, Accept, AddPeer).
type Done struct {
	ID     uint64
	Result Result
	Err    error
}

// Notify tells live observers that something changed.
type Notify struct {
	// "received", "delivered", "acknowledged", "channel", "alert",
	// "escalation", or "link": a path to the channel's peer came up or
	// went away, so its state (active, degraded, down) may have changed.
	What    string
	Channel string
	Entry   string        // entry id where one applies
	Kind    envelope.Kind // of a received entry
}

func (Persist) action() {}
func (Send) action()    {}
func (Done) action()    {}
func (Notify) action()  {}

// Result describes what a request produced.
type Result struct {
	Entry    string // channel/author/index
	Channel  string
	Index    uint64
	At       time.Time     // the time in the entry's header
	Deadline time.Duration // the charter's acknowledgement deadline for its precedence
	Imported *Imported     // for an Import
}

// Errors a caller can test for with errors.Is.
var (
	ErrUnknownChannel = errors.New("unknown channel")
	ErrNotActive      = errors.New("channel is not active")
	ErrUnknownPeer    = errors.New("unknown peer")
	ErrRefused        = errors.New("refused")
	ErrStorage        = errors.New("storage failed")
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
	cfg      Config
	keys     *identity.Keys
	signer   note.Signer
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
}

type peer struct {
	card     *identity.Card
	hpke     hpke.PublicKey // the card's HPKE key, parsed
	hpkeOf   []byte         // the KEM key bytes hpke was parsed from
	verifier note.Verifier  // the current key's
	chain    []keyLink      // the peer's key chain; the last is card's
	paths    map[ConnID]*path
	out      ConnID // the active outbound path, 0 if none
	ready    bool   // out is set (its status arrived)
	in       ConnID // the inbound connection receipts go on (latest hello or entries), 0 if none
	channels []string
	// lastOK is when a probe was last answered on each kind of path that
	// went away, so that a path down still tells when it last worked.
	lastOK map[string]time.Time
	// ahead holds, by connection and channel, the entries frame the peer
	// sent ahead of their durability there, until its durable frame.
	ahead map[ConnID]map[string]heldAhead
}

// heldAhead is an entries frame sent ahead, as prepared, and the last
// index it carries.
type heldAhead struct {
	f    *Frame
	pre  *Prepared
	last uint64
	size int // bytes of entries and checkpoint
}

type chanState struct {
	rec      record.Channel
	charter  *channel.Charter
	codebook channel.Book // the one the charter names; nil if this station lacks it
	mine     outLog
	theirs   inLog
	blocked  string // why sending on this channel is stopped, if it is
	// lossWarned is set once the peer asked for entries it had receipted.
	lossWarned bool

	holding bool      // restored: waiting for the peer's status before appending
	recover *recovery // fetching this station's own entries back from the peer

	waiting  map[entryKey]*waiting // entries of either log awaiting acknowledgement
	awaiting [2]int                // of those, this station's and the peer's
	dormant  bool                  // this station's latest operator check went unanswered
	armed    bool                  // link tests and checks are scheduled
	probe    probeState
}

type presigned struct {
	size   uint64
	seq    int
	root   []byte
	signed []byte
}

// cosigning is a receipt to give once the peer's entries it covers are
// durable, made ahead while they are written (see Writing).
type cosigning struct {
	opened   *note.Note
	verifier note.Verifier
	receipt  []byte
	by       note.Signer // the key receipt was cosigned with
	done     bool        // its write is over
}

// receiptBy returns the receipt cosigned by s, and whether it was made
// before (by Writing, with the same key).
func (cg *cosigning) receiptBy(s note.Signer) (r []byte, ahead bool) {
	if cg.receipt != nil && cg.by == s {
		return cg.receipt, true
	}
	r, err := transcript.CosignOpened(cg.opened, cg.verifier, s)
	if err != nil {
		panic(err) // verified when the entries were taken
	}
	cg.receipt, cg.by = r, s
	return r, false
}

type sizeAt struct{ write, size uint64 }

type pendingEntry struct {
	raw  []byte
	root []byte
}

type outLog struct {
	tree      *transcript.Tree
	size      uint64 // entries appended (durable or being written)
	durable   uint64
	sent      uint64         // sent on the current outbound connection
	delivered uint64         // covered by the peer's cosignature
	progress  time.Time      // when delivered last grew, or sending from it began
	pending   []pendingEntry // entries delivered+1 .. size
	// writes is the log's size at each write not yet durable that
	// appended to it, in order: what a group being written (Writing)
	// holds of the log.
	writes  []sizeAt
	receipt []byte
	keys    []logKey // where the key signing this log changes
	// unchecked is the latest receipt cosigned by a key of the peer's not
	// yet known here; it is checked again when the peer's chain grows.
	unchecked []byte
	// signed holds the checkpoints sent and not yet receipted, by size: a
	// receipt that extends one of them byte for byte needs only the peer's
	// signature checked.
	signed map[uint64][]byte
	// presigned is the checkpoint of the entries being written, signed
	// while they are (see Writing): flush reuses it for a frame that ends
	// at its size, under its key seq, with its root.
	presigned presigned
	// ahead is the frame of entries from..to, under checkpoint, sent ahead on conn while
	// they were written (FrameAhead): once they are durable, flush sends
	// only FrameDurable for it, if it would send that very frame there.
	ahead struct {
		conn       ConnID
		from, to   uint64
		checkpoint []byte
	}
	// The key epoch new entries are sealed under (docs/PROTOCOL.md,
	// "Envelope"): begun with the peer's HPKE key epochTo, under this
	// station's key epochSeq, with epochLeft entries left before a new
	// one. Never stored: a station begins a new epoch when it starts.
	epoch     *envelope.Epoch
	epochTo   []byte
	epochLeft int
	epochSeq  int // this station's key (seq) when it began
}

// EpochEntries is how many entries of a log one key epoch seals at most.
const EpochEntries = 10000

type inLog struct {
	tree    *transcript.Tree
	size    uint64 // entries accepted (durable or being written)
	durable uint64
	receipt []byte   // latest cosigned checkpoint
	keys    []logKey // where the key signing this log changes
	// epoch is the key epoch of the latest entry accepted that began
	// one, entry epochFrom: the entries after it that carry no
	// encapsulation open with it.
	epoch     *envelope.Epoch
	epochFrom uint64
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
	for _, ch := range snap.Channels {
		p := c.peers[ch.Peer]
		if p == nil {
			return nil, fmt.Errorf("channel %s: peer %s is not pinned", ch.ID, ch.Peer)
		}
		cs := &chanState{rec: ch, mine: outLog{tree: transcript.NewTree()}, theirs: inLog{tree: transcript.NewTree()}}
		// The charter is signed by the keys that signed entry 1 of each log.
		mineAt1 := c.own[seqAt(logKeys[[2]string{ch.ID, keys.Name}], 1)].verifier
		theirsAt1 := p.chain[min(seqAt(logKeys[[2]string{ch.ID, ch.Peer}], 1), len(p.chain)-1)].verifier
		verifiers := []note.Verifier{theirsAt1}
		if ch.Proposer == keys.Name {
			verifiers = []note.Verifier{mineAt1}
		}
		if ch.State == record.Active {
			verifiers = []note.Verifier{mineAt1, theirsAt1}
		}
		if cs.charter, err = channel.Parse(ch.Charter, verifiers...); err != nil {
			return nil, fmt.Errorf("stored charter of %s: %w", ch.ID, err)
		}
		// A codebook this binary lacks leaves the channel without one:
		// its coded entries are refused with that reason, the rest works.
		cs.codebook, _ = cs.charter.FindBook(c.cfg.Books...)
		c.channels[ch.ID] = cs
		p.channels = append(p.channels, ch.ID)
	}
	for _, l := range snap.Logs {
		cs := c.channels[l.Channel]
		if cs == nil {
			return nil, fmt.Errorf("stored log %s/%s has no channel", l.Channel, l.Author)
		}
		tree, err := transcript.TreeFromHashes(l.Size, l.Hashes)
		if err != nil {
			return nil, err
		}
		lk := logKeys[[2]string{l.Channel, l.Author}]
		switch l.Author {
		case keys.Name:
			cs.mine = outLog{tree: tree, size: l.Size, durable: l.Size, delivered: l.ReceiptSize, sent: l.ReceiptSize, receipt: l.Receipt, keys: lk}
		case cs.rec.Peer:
			cs.theirs = inLog{tree: tree, size: l.Size, durable: l.Size, keys: lk, epochFrom: l.EpochFrom}
			if l.Checkpoint != nil {
				// Entries and the checkpoint covering them were stored in one
				// batch, so they are durable: cosign again (Ed25519 is
				// deterministic, so this is the same receipt as before).
				if cp, err := transcript.ParseCheckpointText(noteText(l.Checkpoint)); err == nil && cp.Size == l.Size {
					p := c.peers[cs.rec.Peer]
					if r, err := transcript.Cosign(l.Checkpoint, p.chain[min(seqAt(lk, l.Size), len(p.chain)-1)].verifier, c.signer); err == nil {
						cs.theirs.receipt = r
					}
				}
			}
		default:
			return nil, fmt.Errorf("stored log %s/%s: author is neither party", l.Channel, l.Author)
		}
	}
	for _, e := range snap.Undelivered {
		cs := c.channels[e.Channel]
		if cs == nil || e.Author != keys.Name {
			return nil, fmt.Errorf("undelivered entry %s does not belong to this station", e.ID())
		}
		if e.Index != cs.mine.delivered+uint64(len(cs.mine.pending))+1 {
			return nil, fmt.Errorf("undelivered entry %s is out of sequence", e.ID())
		}
		cs.mine.pending = append(cs.mine.pending, pendingEntry{raw: e.Raw, root: e.Root})
	}
	c.restoreEpochs(snap)
	if cfg.Restored {
		for _, cs := range c.channels {
			cs.holding = true
		}
	}
	steps := map[string]int{}
	for _, x := range snap.Escalations {
		k := fmt.Sprintf("%s/%s/%d", x.Channel, x.Author, x.Index)
		steps[k] = max(steps[k], x.Step)
	}
	for i := range snap.Outstanding {
		e := &snap.Outstanding[i]
		if cs := c.channels[e.Channel]; cs != nil {
			c.await(cs, e, steps[e.ID()])
		}
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

func (c *Core) addPeer(card *identity.Card) error {
	v, err := card.Verifier()
	if err != nil {
		return err
	}
	c.peers[card.Name] = &peer{card: card, verifier: v, chain: []keyLink{newLink(card.Name, card.SignKey, card)}}
	return nil
}

// Step feeds one event to the core at the given local time and returns the
// actions it produced. The returned slice is valid until the next Step.
func (c *Core) Step(now time.Time, ev Event) []Action {
	c.now = now
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
		c.loaded(ev)
	case Submit:
		c.submit(ev)
	case Propose:
		c.propose(ev)
	case Accept:
		c.accept(ev)
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
	case Persisted:
		c.persisted(ev)
	case Writing:
		c.writing(ev.Through)
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

func (c *Core) persisted(ev Persisted) {
	err := ev.Err
	if err != nil {
		err = fmt.Errorf("%w: %v", ErrStorage, err)
	}
	func() {
		c.deferFlush = true
		defer func() { c.deferFlush = false }()
		for _, w := range ev.Writes {
			fs := c.pending[w]
			delete(c.pending, w)
			for _, f := range fs {
				f(err)
			}
		}
	}()
	c.cosigns = slices.DeleteFunc(c.cosigns, func(cg *cosigning) bool { return cg.done })
	for _, cs := range c.appended {
		cs.mine.writes = slices.DeleteFunc(cs.mine.writes, func(w sizeAt) bool { return w.size <= cs.mine.durable })
	}
	c.appended = slices.DeleteFunc(c.appended, func(cs *chanState) bool { return cs.mine.durable >= cs.mine.size })
	peers := slices.Sorted(maps.Keys(c.flushes))
	clear(c.flushes)
	for _, p := range peers {
		c.flush(p)
	}
}

func (c *Core) addCodebook(ev AddCodebook) {
	if ev.Book == nil {
		c.done(ev.ID, Result{}, errors.New("no codebook"))
		return
	}
	for _, b := range c.cfg.Books {
		if b.Ref() == ev.Book.Ref() {
			c.done(ev.ID, Result{}, nil)
			return
		}
	}
	c.cfg.Books = append(slices.Clone(c.cfg.Books), ev.Book)
	for _, cs := range c.channels {
		if cs.codebook == nil {
			cs.codebook, _ = cs.charter.FindBook(ev.Book)
		}
	}
	c.done(ev.ID, Result{}, nil)
}

func (c *Core) addPeerReq(ev AddPeer) {
	card := ev.Card
	if card.Name == c.keys.Name {
		c.done(ev.ID, Result{}, fmt.Errorf("%w: card %s is this station's own name", ErrRefused, card.Name))
		return
	}
	if p := c.peers[card.Name]; p != nil {
		if bytes.Equal(p.card.SignKey, card.SignKey) && bytes.Equal(p.card.KEMKey, card.KEMKey) {
			switch {
			case bytes.Equal(p.card.Text, card.Text):
				c.done(ev.ID, Result{}, nil)
			case !card.Issued.After(p.card.Issued):
				c.done(ev.ID, Result{}, fmt.Errorf("%w: this card of %s was issued %s, not after the pinned one (%s)", ErrRefused,
					card.Name, card.Issued.Format(time.RFC3339), p.card.Issued.Format(time.RFC3339)))
			default:
				// A newer card under the same keys (new endpoints or
				// relays): signed by the key pinned, so it replaces the old.
				p.card = card
				c.batch.Peers = append(c.batch.Peers, record.Peer{Name: card.Name, Party: card.Party, Card: card.Text, Fingerprint: card.Fingerprint(), AddedAt: c.now})
				id := ev.ID
				c.afterDurable(func(err error) { c.done(id, Result{}, err) })
			}
			return
		}
		c.done(ev.ID, Result{}, fmt.Errorf("%w: %s is already pinned with another key (fingerprint %s)", ErrRefused, card.Name, p.card.Fingerprint()))
		return
	}
	if err := c.addPeer(card); err != nil {
		c.done(ev.ID, Result{}, err)
		return
	}
	c.batch.Peers = append(c.batch.Peers, record.Peer{Name: card.Name, Party: card.Party, Card: card.Text, Fingerprint: card.Fingerprint(), AddedAt: c.now})
	id := ev.ID
	c.afterDurable(func(err error) { c.done(id, Result{}, err) })
}

// appendMine seals, signs and appends an entry to this station's log for
// cs, adds it to the step's batch and arranges for the request to complete
// once it is durable.
func (c *Core) appendMine(reqID uint64, cs *chanState, kind envelope.Kind, prec envelope.Precedence, body []byte) (*record.Entry, error) {
	p := c.peers[cs.rec.Peer]
	if p.hpke == nil || !bytes.Equal(p.hpkeOf, p.card.KEMKey) {
		// Parsed once per card, not per entry (ML-KEM key parsing is not
		// free).
		k, err := p.card.HPKEKey()
		if err != nil {
			return nil, err
		}
		p.hpke, p.hpkeOf = k, p.card.KEMKey
	}
	to := p.hpke
	if idx := cs.mine.size + 1; seqAt(cs.mine.keys, idx) != c.ownSeq() {
		// A log begun after a rotation: its entries are signed by the
		// current key from the first.
		cs.mine.keys = append(cs.mine.keys, logKey{from: idx, seq: c.ownSeq()})
		c.batch.LogKeys = append(c.batch.LogKeys, record.LogKey{Channel: cs.rec.ID, Author: c.keys.Name, From: idx, Seq: c.ownSeq()})
	}
	h := envelope.Header{
		Channel: cs.rec.ID, Author: c.keys.Name, Recipient: cs.rec.Peer,
		Index: cs.mine.size + 1, Precedence: prec, Kind: kind, Time: c.now,
	}
	first := false
	if cs.mine.epoch == nil || cs.mine.epochLeft <= 0 || !bytes.Equal(cs.mine.epochTo, p.hpkeOf) || cs.mine.epochSeq != c.ownSeq() {
		ep, err := envelope.NewEpoch(to, c.cfg.Rand)
		if err != nil {
			return nil, err
		}
		cs.mine.epoch, cs.mine.epochTo, cs.mine.epochLeft, cs.mine.epochSeq, first = ep, p.hpkeOf, EpochEntries, c.ownSeq(), true
	}
	raw, err := cs.mine.epoch.Seal(h, body, first, c.keys.Sign)
	if err != nil {
		// The next entry begins a new epoch: one whose source of nonces
		// failed must not hold the log.
		cs.mine.epoch = nil
		return nil, err
	}
	cs.mine.epochLeft--
	cs.mine.tree.Append(raw)
	cs.mine.size++
	root := cs.mine.tree.Root()
	cs.mine.pending = append(cs.mine.pending, pendingEntry{raw: raw, root: root})
	// This step's batch becomes write c.write+1 (Step).
	if w := &cs.mine.writes; len(*w) > 0 && (*w)[len(*w)-1].write == c.write+1 {
		(*w)[len(*w)-1].size = cs.mine.size
	} else {
		*w = append(*w, sizeAt{write: c.write + 1, size: cs.mine.size})
	}
	if !slices.Contains(c.appended, cs) {
		c.appended = append(c.appended, cs)
	}
	e := record.Entry{
		Channel: h.Channel, Author: h.Author, Index: h.Index, Kind: kind, Precedence: prec,
		SenderTime: c.now, StoredAt: c.now, Raw: raw, Body: body, Root: root,
	}
	c.batch.Entries = append(c.batch.Entries, e)
	c.batch.Logs = append(c.batch.Logs, record.Log{Channel: h.Channel, Author: h.Author, Size: cs.mine.size, Hashes: cs.mine.tree.Hashes()})
	c.await(cs, &e, 0)
	if kind == envelope.Check {
		cs.rec.LastCheck, cs.rec.LastCheckAt = e.Index, c.now
		c.batch.Channels = append(c.batch.Channels, cs.rec)
	}
	size := cs.mine.size
	res := Result{Entry: h.ID(), Channel: h.Channel, Index: h.Index, At: c.now, Deadline: cs.charter.Deadlines[prec]}
	c.afterDurable(func(err error) {
		if err == nil && size > cs.mine.durable {
			cs.mine.durable = size
			c.flush(cs.rec.Peer)
		}
		c.done(reqID, res, err)
	})
	return &e, nil
}

func (c *Core) submit(ev Submit) {
	cs := c.channels[ev.Channel]
	switch {
	case cs == nil:
		c.done(ev.ID, Result{}, fmt.Errorf("%w: %q", ErrUnknownChannel, ev.Channel))
		return
	case cs.rec.State != record.Active:
		c.done(ev.ID, Result{}, fmt.Errorf("%w: %s is %s; the peer must accept it first", ErrNotActive, ev.Channel, cs.rec.State))
		return
	case !ev.Precedence.Valid():
		c.done(ev.ID, Result{}, fmt.Errorf("precedence %d is not valid", ev.Precedence))
		return
	}
	body, err := c.cfg.Bodies.Decode(ev.Kind, ev.Body, cs.codebook)
	if err == nil {
		err = visibleBody(body)
	}
	if err == nil {
		err = c.mayWrite(cs)
	}
	if err == nil {
		err = c.mayAppend(cs, ev.Kind, ev.Precedence, body)
	}
	if err != nil {
		c.done(ev.ID, Result{}, err)
		return
	}
	e, err := c.appendMine(ev.ID, cs, ev.Kind, ev.Precedence, ev.Body)
	if err != nil {
		c.done(ev.ID, Result{}, err)
		return
	}
	switch b := body.(type) {
	case *AckBody:
		c.batch.Acks = append(c.batch.Acks, record.Ack{Channel: cs.rec.ID, Author: cs.rec.Peer, Index: b.Of,
			AckAuthor: c.keys.Name, AckIndex: e.Index, By: b.By, At: c.now})
		c.acknowledged(cs, cs.rec.Peer, b.Of, b.By)
	case *SuspendBody, *ResumeBody:
		c.setSuspension(cs, c.keys.Name, e, body)
	}
}

// mayAppend says why an operator may not append an entry, if they may not.
func (c *Core) mayAppend(cs *chanState, kind envelope.Kind, prec envelope.Precedence, body any) error {
	var mine *record.Suspension
	for i, s := range cs.rec.Suspensions {
		if s.By == c.keys.Name {
			mine = &cs.rec.Suspensions[i]
		}
	}
	switch b := body.(type) {
	case *AckBody:
		if b.Of > cs.theirs.size {
			return fmt.Errorf("%s/%s/%d: no such entry from the peer", cs.rec.ID, cs.rec.Peer, b.Of)
		}
		return nil
	case *SuspendBody:
		if mine != nil {
			return fmt.Errorf("%w: this station already suspended %s at %s: %s", ErrSuspended, cs.rec.ID, mine.At.UTC().Format(time.RFC3339), mine.Reason)
		}
		return nil
	case *ResumeBody:
		if mine == nil {
			return fmt.Errorf("%s is not suspended by this station, so there is nothing to resume", cs.rec.ID)
		}
		return nil
	case *TextBody, *CheckBody:
		return c.suspendedFor(cs, prec)
	}
	if k := c.cfg.Bodies.registered(kind); k != nil {
		if err := k.Check(body, cs.rec.ID); err != nil {
			return err
		}
		return c.suspendedFor(cs, prec)
	}
	return fmt.Errorf("%s entries are not written by operators", kind)
}

func (c *Core) propose(ev Propose) {
	p := c.peers[ev.Peer]
	if p == nil {
		c.done(ev.ID, Result{}, fmt.Errorf("%w: %q is not pinned; add it with peer add", ErrUnknownPeer, ev.Peer))
		return
	}
	if c.channels[ev.Channel] != nil {
		c.done(ev.ID, Result{}, fmt.Errorf("channel %q already exists", ev.Channel))
		return
	}
	deadlines, delivery := maps.Clone(channel.DefaultDeadlines), maps.Clone(channel.DefaultDelivery)
	maps.Copy(deadlines, ev.Deadlines)
	maps.Copy(delivery, ev.Delivery)
	if up := ev.EscalateTo; up != "" {
		ucs := c.channels[up]
		switch {
		case ucs == nil || ucs.rec.Peer != ev.Peer:
			c.done(ev.ID, Result{}, fmt.Errorf("channel %q, to escalate to, is not a channel with %s here", up, ev.Peer))
			return
		case !channel.Level(ucs.rec.Level).Above(ev.Level):
			c.done(ev.ID, Result{}, fmt.Errorf("channel %s is at level %s, not above %s: escalation climbs", up, ucs.rec.Level, ev.Level))
			return
		}
	}
	ch := &channel.Charter{ID: ev.Channel, Level: ev.Level, Proposer: c.keys.Name, Acceptor: ev.Peer, Deadlines: deadlines,
		Delivery: delivery, EscalateTo: ev.EscalateTo, FlashExempt: ev.FlashExempt, LinkTest: ev.LinkTest,
		CheckEvery: ev.CheckEvery, CheckWindow: ev.CheckWindow, Codebook: ev.Codebook}
	if ch.Codebook == (channel.BookRef{}) && len(c.cfg.Books) > 0 {
		ch.Codebook = c.cfg.Books[0].Ref()
	}
	cb, err := ch.FindBook(c.cfg.Books...)
	if err != nil {
		c.done(ev.ID, Result{}, err)
		return
	}
	if err := channel.Propose(ch, c.signer); err != nil {
		c.done(ev.ID, Result{}, err)
		return
	}
	cs := &chanState{
		rec: record.Channel{ID: ev.Channel, Peer: ev.Peer, Level: string(ev.Level), State: record.ProposedOut,
			Proposer: c.keys.Name, Charter: ch.Text, CreatedAt: c.now, UpdatedAt: c.now},
		charter:  ch,
		codebook: cb,
		mine:     outLog{tree: transcript.NewTree()},
		theirs:   inLog{tree: transcript.NewTree()},
	}
	body, _ := json.Marshal(AgreementBody{Charter: string(ch.Text)})
	c.channels[ev.Channel] = cs
	p.channels = append(p.channels, ev.Channel)
	sort.Strings(p.channels)
	c.batch.Channels = append(c.batch.Channels, cs.rec)
	if _, err := c.appendMine(ev.ID, cs, envelope.Agreement, envelope.Priority, body); err != nil {
		panic(err) // a fresh channel and a pinned card: sealing cannot fail
	}
}

func (c *Core) accept(ev Accept) {
	cs := c.channels[ev.Channel]
	if cs == nil {
		c.done(ev.ID, Result{}, fmt.Errorf("%w: %q (no proposal has arrived for it)", ErrUnknownChannel, ev.Channel))
		return
	}
	if cs.rec.State != record.ProposedIn {
		c.done(ev.ID, Result{}, fmt.Errorf("channel %s is %s, not a proposal waiting for this station", ev.Channel, cs.rec.State))
		return
	}
	if err := c.mayWrite(cs); err != nil {
		c.done(ev.ID, Result{}, err)
		return
	}
	p := c.peers[cs.rec.Peer]
	if _, err := cs.charter.FindBook(c.cfg.Books...); err != nil {
		c.done(ev.ID, Result{}, err)
		return
	}
	if err := channel.Accept(cs.charter, p.chain[seqAt(cs.theirs.keys, 1)].verifier, c.signer); err != nil {
		c.done(ev.ID, Result{}, err)
		return
	}
	cs.rec.State, cs.rec.Charter, cs.rec.UpdatedAt = record.Active, cs.charter.Text, c.now
	c.batch.Channels = append(c.batch.Channels, cs.rec)
	body, _ := json.Marshal(AgreementBody{Charter: string(cs.charter.Text)})
	if _, err := c.appendMine(ev.ID, cs, envelope.Agreement, envelope.Priority, body); err != nil {
		panic(err)
	}
	c.armChannel(cs)
	c.emit(Notify{What: "channel", Channel: ev.Channel})
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

// flush sends every durable, unsent entry to the peer, within the window.
func (c *Core) flush(peerName string) {
	if c.deferFlush {
		if c.flushes == nil {
			c.flushes = map[string]bool{}
		}
		c.flushes[peerName] = true
		return
	}
	p := c.peers[peerName]
	if p == nil || !p.ready {
		return
	}
	for _, id := range p.channels {
		cs := c.channels[id]
		m := &cs.mine
		for cs.blocked == "" && m.sent < m.durable && m.sent-m.delivered < uint64(c.cfg.Window) {
			end := min(m.durable, m.sent+uint64(c.cfg.MaxBatch), m.delivered+uint64(c.cfg.Window))
			f := &Frame{Type: FrameEntries, Channel: id, Author: c.keys.Name}
			size := 0
			seq := seqAt(m.keys, m.sent+1)
			for i := m.sent + 1; i <= end; i++ {
				raw := m.pending[i-m.delivered-1].raw
				// A frame never spans a key change: its entries and its
				// checkpoint are signed by one key.
				if size > 0 && (size+len(raw) > c.cfg.MaxBatchBytes || seqAt(m.keys, i) != seq) {
					end = i - 1
					break
				}
				size += len(raw)
				f.Entries = append(f.Entries, raw)
			}
			root := m.pending[end-m.delivered-1].root
			signed := m.presigned.signed
			if m.presigned.size != end || m.presigned.seq != seq || !slices.Equal(m.presigned.root, root) {
				signed = c.signCheckpoint(id, end, root, seq)
			} else {
				c.Stats.SignedAhead++
			}
			if m.presigned.size <= end {
				m.presigned = presigned{}
			}
			f.Checkpoint = signed
			if m.sent == m.delivered {
				m.progress = c.now
			}
			if m.signed == nil {
				m.signed = map[uint64][]byte{}
			}
			m.signed[end] = signed
			if a := m.ahead; a.conn == p.out && a.from == m.sent+1 && a.to == end && bytes.Equal(signed, a.checkpoint) {
				// The peer holds this very frame: say it is durable.
				f = &Frame{Type: FrameDurable, Channel: id, Author: c.keys.Name, From: end}
			}
			m.ahead.conn, m.ahead.checkpoint = 0, nil
			c.emit(Send{Peer: peerName, Conn: p.out, Data: f.Encode()})
			m.sent = end
		}
	}
}

// writing signs ahead, while the disk writes, the checkpoint each log's
// entries being written will be sent under and the receipts their
// durability will give (see Writing).
func (c *Core) writing(through uint64) {
	for _, cg := range c.cosigns {
		if !cg.done {
			cg.receiptBy(c.signer)
		}
	}
	c.cosigns = nil
	later := c.appended[:0]
	for _, cs := range c.appended {
		id, m := cs.rec.ID, &cs.mine
		// The log's size at the group's last write to it: entries
		// appended since are in a later group.
		end := uint64(0)
		rest := m.writes[:0]
		for _, w := range m.writes {
			if through == 0 || w.write <= through {
				end = w.size
			} else {
				rest = append(rest, w)
			}
		}
		m.writes = rest
		if len(rest) > 0 {
			later = append(later, cs)
		}
		// The frame flush will send once they are durable ends at the
		// last of them if it holds every entry after those sent.
		if end <= m.durable || m.sent >= end || m.presigned.size == end ||
			end-m.sent > uint64(c.cfg.MaxBatch) || end-m.delivered > uint64(c.cfg.Window) {
			continue
		}
		seq := seqAt(m.keys, end)
		if seqAt(m.keys, m.sent+1) != seq {
			continue
		}
		root := m.pending[end-m.delivered-1].root
		m.presigned = presigned{size: end, seq: seq, root: root, signed: c.signCheckpoint(id, end, root, seq)}
		c.sendAhead(cs, end)
	}
	c.appended = later
}

// sendAhead sends the entries being written, under the checkpoint just
// signed ahead, as a FrameAhead: the peer checks them now, while the disk
// writes, holds them, and takes them when the FrameDurable flush sends in
// place of their entries frame comes. Only on a direct path, whose
// connection ends, and what the peer holds with it, if this process
// does: a relay would deliver them however long after. Only when nothing durable is left unsent before them, and when
// they fit one frame, so that flush would send exactly this frame.
func (c *Core) sendAhead(cs *chanState, end uint64) {
	m := &cs.mine
	p := c.peers[cs.rec.Peer]
	if p == nil || !p.ready || cs.blocked != "" || m.sent != m.durable {
		return
	}
	if x := c.pathOf(p, p.out); x == nil || x.name != "direct" {
		return
	}
	f := &Frame{Type: FrameAhead, Channel: cs.rec.ID, Author: c.keys.Name, Checkpoint: m.presigned.signed}
	size := 0
	for i := m.sent + 1; i <= end; i++ {
		raw := m.pending[i-m.delivered-1].raw
		if size += len(raw); len(f.Entries) > 0 && size > c.cfg.MaxBatchBytes {
			return
		}
		f.Entries = append(f.Entries, raw)
	}
	m.ahead.conn, m.ahead.from, m.ahead.to, m.ahead.checkpoint = p.out, m.sent+1, end, m.presigned.signed
	c.Stats.SentAhead++
	c.emit(Send{Peer: p.card.Name, Conn: p.out, Data: f.Encode()})
}

// signCheckpoint signs the checkpoint of this station's log on channel id
// at size, with key seq.
func (c *Core) signCheckpoint(id string, size uint64, root []byte, seq int) []byte {
	signed, err := transcript.SignCheckpoint(transcript.Checkpoint{Origin: transcript.Origin(id, c.keys.Name), Size: size, Root: root}, c.signerAt(seq))
	if err != nil {
		panic(err)
	}
	return signed
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
		c.takeAhead(p, ev.Conn, f)
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

// holdAhead keeps an entries frame the peer sent ahead of writing its
// entries, as prepared (its signatures checked on the connection's
// goroutine meanwhile), until its durable frame: nothing of it is taken,
// stored or shown before. One per channel and connection, within
// MaxHeldAhead bytes a connection; a later one replaces it, and the
// connection's end drops it. A channel not yet known here may be the one
// the frame proposes.
func (c *Core) holdAhead(p *peer, conn ConnID, f *Frame, pre *Prepared) {
	if f.Author != p.card.Name {
		c.reject(p, conn, "wrong author", f.Channel, "%s sent entries of %s's log %s", p.card.Name, f.Author, f.Channel)
		return
	}
	// Only what the peer's process sends on a direct connection, whose
	// end drops it: a relay, which is not trusted, may not make this
	// station hold anything, and nothing is held for a channel it does
	// not share with the peer. The author sends such entries in an
	// entries frame.
	if x := c.pathOf(p, conn); x == nil || x.outbound || x.name != "direct" {
		c.refuse("ahead off a direct path", "warning", f.Channel, p.card.Name, "%s sent entries ahead on a path other than a direct one: not held", p.card.Name)
		return
	}
	if cs := c.channels[f.Channel]; cs != nil && cs.rec.Peer != p.card.Name {
		c.refuse("wrong peer", "alarm", f.Channel, p.card.Name, "%s sent entries for channel %s, which is with %s", p.card.Name, f.Channel, cs.rec.Peer)
		return
	}
	cp, err := transcript.ParseCheckpointText(noteText(f.Checkpoint))
	if err != nil || cp.Origin != transcript.Origin(f.Channel, p.card.Name) {
		if err == nil {
			err = fmt.Errorf("origin %q", cp.Origin)
		}
		c.reject(p, conn, "bad checkpoint", f.Channel, "entries from %s for %s refused: checkpoint: %v", p.card.Name, f.Channel, err)
		return
	}
	if p.ahead == nil {
		p.ahead = map[ConnID]map[string]heldAhead{}
	}
	held := p.ahead[conn]
	if held == nil {
		held = map[string]heldAhead{}
		p.ahead[conn] = held
	}
	// What a connection may make this station hold is bounded: past
	// MaxHeldAhead bytes a frame is not held, its durable frame finds
	// nothing, and the entries come again in an entries frame.
	size := len(f.Checkpoint)
	for _, e := range f.Entries {
		size += len(e)
	}
	total := size
	for ch, h := range held {
		if ch != f.Channel {
			total += h.size
		}
	}
	if total > MaxHeldAhead {
		delete(held, f.Channel)
		return
	}
	held[f.Channel] = heldAhead{f: f, pre: pre, last: cp.Size, size: size}
}

// MaxHeldAhead bounds the bytes of entries and checkpoints sent ahead
// that one connection may make a station hold.
const MaxHeldAhead = 16 << 20

// takeAhead takes the entries held for a durable frame, as if their
// entries frame came now. A durable frame with nothing held to match
// (sent after a frame lost) is counted, and the entries it names that
// this station lacks are asked for again (resend).
func (c *Core) takeAhead(p *peer, conn ConnID, f *Frame) {
	if f.Author != p.card.Name {
		c.reject(p, conn, "wrong author", f.Channel, "%s said entries of %s's log %s are durable", p.card.Name, f.Author, f.Channel)
		return
	}
	h, ok := p.ahead[conn][f.Channel]
	if !ok || h.last != f.From {
		c.Stats.MissedAhead++
		// Ask for them now rather than wait for the author's ResendAfter.
		if cs := c.channels[f.Channel]; cs != nil && cs.rec.Peer == p.card.Name && f.From > cs.theirs.size {
			c.emit(Send{Peer: p.card.Name, Conn: conn, Data: (&Frame{Type: FrameResend, Channel: f.Channel, Author: f.Author, From: cs.theirs.size + 1}).Encode()})
		}
		return
	}
	delete(p.ahead[conn], f.Channel)
	c.Stats.TakenAhead++
	c.entries(p, conn, h.f, h.pre)
}

func (c *Core) versionOK(p *peer, conn ConnID, v uint16) bool {
	if v == Version {
		return true
	}
	c.reject(p, conn, "protocol version", "", "%s: protocol version %d is not compatible: %s speaks version %d", p.card.Name, v, c.keys.Name, Version)
	return false
}

// hello answers a dialer with what this station holds of its logs.
func (c *Core) hello(p *peer, conn ConnID, f *Frame) {
	if !c.versionOK(p, conn, f.Version) {
		return
	}
	p.in = conn
	st := &Frame{Type: FrameStatus, Version: Version}
	for _, id := range p.channels {
		cs := c.channels[id]
		st.Logs = append(st.Logs, LogStatus{Channel: id, Author: p.card.Name, Size: cs.theirs.durable, Receipt: cs.theirs.receipt})
	}
	c.emit(Send{Peer: p.card.Name, Conn: conn, Data: st.Encode()})
}

// status learns where the peer stands on this station's logs and starts
// sending from there.
func (c *Core) status(p *peer, conn ConnID, f *Frame) {
	x := c.pathOf(p, conn)
	if x == nil || !x.outbound || !c.versionOK(p, conn, f.Version) {
		return
	}
	held := map[string]LogStatus{}
	for _, l := range f.Logs {
		held[l.Channel] = l
	}
	for _, l := range f.Logs {
		if l.Author != c.keys.Name {
			c.reject(p, conn, "bad status", l.Channel, "status from %s names log %s/%s", p.card.Name, l.Channel, l.Author)
			return
		}
	}
	// A peer holding more of a log than this station wrote stops that
	// channel, not the others; a receipt that does not verify is refused
	// like any forged frame.
	for _, id := range p.channels {
		cs := c.channels[id]
		l := held[id]
		if l.Size > cs.mine.size {
			// Only a checkpoint carrying this station's own signature can
			// show that it wrote more than it holds; a bare number could
			// be anything.
			cp, err := openCosigned(l.Receipt, c.ownVerifiers(), p.cosigners())
			if err != nil || cp.Origin != transcript.Origin(id, c.keys.Name) || cp.Size <= cs.mine.size {
				c.reject(p, conn, "bad status", id, "status from %s claims %d entries of log %s, this station wrote %d, and no receipt signed by this station shows it",
					p.card.Name, l.Size, id, cs.mine.size)
				return
			}
			c.startRecovery(p, conn, cs, &cp, l.Receipt)
			continue
		}
		c.release(cs)
		if len(l.Receipt) > 0 {
			if r := c.applyReceipt(p, cs, l.Receipt); r != nil {
				if r.quiet {
					c.refuse(r.reason, "warning", id, p.card.Name, "%s", r.text)
					continue
				}
				c.reject(p, conn, r.reason, id, "%s", r.text)
				return
			}
		}
	}
	// A status older than a receipt that overtook it, or from a peer that
	// lost entries it had receipted, resumes after the receipt (activate);
	// a peer that really lost them asks for them again (see resend).
	// Only the first status on a path sets where sending resumes: later
	// ones on the active path (a relay hands over the answers to every
	// hello said while the peer was away, all of them stale) only bring
	// their receipts. A frame lost since is sent again after ResendAfter.
	x.ready = true
	c.linkChanged(p)
	// A path that ranks before the active one by the station's prior,
	// and is not measured yet, takes the traffic at once (the direct path
	// reconnected); a measured one takes it only once clearly cheaper
	// (rerank).
	if a := c.pathOf(p, p.out); !p.ready || a == nil || !x.measured() && x.rank < a.rank {
		if p.ready && a != nil && x.conn != p.out {
			c.Stats.Failovers++
		}
		sizes := map[string]uint64{}
		for id, l := range held {
			sizes[id] = l.Size
		}
		c.activate(p, x, sizes)
	}
}

func (c *Core) resend(p *peer, conn ConnID, f *Frame) {
	cs := c.channels[f.Channel]
	if cs == nil || cs.rec.Peer != p.card.Name || f.Author != c.keys.Name || f.From == 0 {
		c.reject(p, conn, "bad resend", f.Channel, "resend request from %s for %s/%s is not valid", p.card.Name, f.Channel, f.Author)
		return
	}
	from := f.From - 1
	if from < cs.mine.delivered {
		// A request older than a receipt that overtook it, or a peer that
		// lost entries it had receipted. Entries this old are no longer
		// held in memory, so do not resend: count it, and say so once.
		c.Stats.Refused["resend before receipt"]++
		if !cs.lossWarned {
			cs.lossWarned = true
			c.alert("warning", f.Channel, p.card.Name, "%s asks for log %s from %d but receipted up to %d: if this repeats, the peer lost entries it had stored",
				p.card.Name, f.Channel, f.From, cs.mine.delivered)
		}
		return
	}
	if from < cs.mine.sent {
		cs.mine.sent = from
	}
	c.flush(p.card.Name)
}

func (c *Core) receipt(p *peer, conn ConnID, f *Frame) {
	cs := c.channels[f.Channel]
	if cs == nil || cs.rec.Peer != p.card.Name || f.Author != c.keys.Name {
		c.reject(p, conn, "bad receipt", f.Channel, "receipt from %s for unknown log %s/%s", p.card.Name, f.Channel, f.Author)
		return
	}
	if r := c.applyReceipt(p, cs, f.Checkpoint); r != nil {
		if r.quiet {
			c.refuse(r.reason, "warning", cs.rec.ID, p.card.Name, "%s", r.text)
			return
		}
		c.reject(p, conn, r.reason, cs.rec.ID, "%s", r.text)
		return
	}
	c.flush(p.card.Name)
}

// block stops sending on a channel whose two sides disagree on what was
// delivered, and raises an alarm. Only a restart lifts it; the recovery
// itself (fetching entries back from the peer) is not built yet.
func (c *Core) block(cs *chanState, why string) {
	if cs.blocked == "" {
		c.alert("alarm", cs.rec.ID, cs.rec.Peer, "sending stopped on %s: %s", cs.rec.ID, why)
	}
	cs.blocked = why
}

// refusal is a refused input, for the caller to report as it must.
type refusal struct {
	reason, text string
	// quiet: a receipt that cannot be checked yet (cosigned by a key of
	// the peer's this station has not learned): counted and warned about,
	// without closing the connection, so that the key entry can come.
	quiet bool
}

// applyReceipt checks a cosigned checkpoint of this station's log and marks
// every entry it covers delivered. It returns why it refused it, if it did.
func (c *Core) applyReceipt(p *peer, cs *chanState, signed []byte) *refusal {
	m := &cs.mine
	authors := c.ownVerifiers()
	if body, err := transcript.ParseCheckpointText(noteText(signed)); err == nil {
		if mine := m.signed[body.Size]; mine != nil && bytes.HasPrefix(signed, mine) {
			authors = nil // our own signature is the one we sent
		}
	}
	cp, err := openCosigned(signed, authors, p.cosigners())
	if err != nil {
		// An old receipt cosigned by a key since revoked (a status frame
		// a relay held back, say) adds nothing and is ignored; one that
		// would deliver more is refused.
		if old, err2 := openCosigned(signed, authors, p.allKeys()); err2 == nil && old.Size <= m.delivered {
			return nil
		}
		if c.cosignedByUnknownKey(p, signed) {
			m.unchecked = signed
			return &refusal{reason: "receipt by unknown key", quiet: true, text: fmt.Sprintf(
				"receipt from %s for %s is cosigned by a key of %s this station does not know yet (it changed its keys?): not taken; its key entry will tell",
				p.card.Name, cs.rec.ID, p.card.Name)}
		}
		return &refusal{"bad cosignature", fmt.Sprintf("receipt from %s for %s refused: %v", p.card.Name, cs.rec.ID, err), false}
	}
	switch {
	case cp.Origin != transcript.Origin(cs.rec.ID, c.keys.Name):
		return &refusal{"bad cosignature", fmt.Sprintf("receipt from %s names log %q", p.card.Name, cp.Origin), false}
	case cp.Size <= m.delivered:
		return nil // an old receipt: nothing new
	case cp.Size > m.size:
		return &refusal{"bad cosignature", fmt.Sprintf("receipt from %s covers %d entries of %s; this station wrote %d", p.card.Name, cp.Size, cs.rec.ID, m.size), false}
	}
	if want := m.pending[cp.Size-m.delivered-1].root; !bytes.Equal(want, cp.Root) {
		return &refusal{"root mismatch", fmt.Sprintf("tamper alarm: receipt from %s for %s at size %d has a root this station never signed", p.card.Name, cs.rec.ID, cp.Size), false}
	}
	first := m.delivered + 1
	m.pending = slices.Delete(m.pending, 0, int(cp.Size-m.delivered))
	m.delivered, m.receipt, m.progress = cp.Size, signed, c.now
	for size := range m.signed {
		if size <= m.delivered {
			delete(m.signed, size)
		}
	}
	if m.sent < m.delivered {
		m.sent = m.delivered
	}
	c.batch.Receipts = append(c.batch.Receipts, record.Receipt{Channel: cs.rec.ID, Author: c.keys.Name, Size: cp.Size, Note: signed})
	c.emit(Notify{What: "delivered", Channel: cs.rec.ID, Entry: fmt.Sprintf("%s/%s/%d-%d", cs.rec.ID, c.keys.Name, first, cp.Size)})
	return nil
}

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
	Connected                bool
	Suspensions              []record.Suspension
	Dormant                  bool
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
