package protocol

import (
	"crypto/hpke"
	"hotline/internal/channel"
	"hotline/internal/envelope"
	"hotline/internal/identity"
	"hotline/internal/record"
	"hotline/internal/transcript"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// What the core holds per peer (its card, its key chain, its paths, the
// frames it sent ahead that are held here) and per channel: the charter,
// this station's log (outLog) and the peer's (inLog), the entries that
// wait for a person's acknowledgement, and the link tests. New rebuilds
// what the store keeps of it.

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
	// tests is the round of link tests waiting for a path probe's
	// answer, nil if none; testsAt is when the next round falls due (its
	// timer), zero if none is scheduled.
	tests   *linkRound
	testsAt time.Time
}

type chanState struct {
	rec      record.Channel
	charter  *channel.Charter
	codebook channel.Book // the one the charter names; nil if this station lacks it
	mine     outLog
	theirs   inLog
	blocked  string // why sending on this channel is stopped, if it is
	// lossWarned is set once the peer asked for entries it had receipted;
	// lossAsked is when it first did, since the last rewind.
	lossWarned  bool
	lossAsked   time.Time
	lossRewound time.Time // when such a request last rewound the log

	holding bool      // restored: waiting for the peer's status before appending
	recover *recovery // fetching this station's own entries back from the peer
	// asked counts the requests a restored station made for the peer's
	// log from what its backup holds, askedAt the last (recover.go).
	asked   int
	askedAt time.Time
	// relayHeldAt: when a status over a relay first reached this
	// restored channel while it held (it does not count); relayHeld: the
	// operators were told (relayHold).
	relayHeldAt time.Time
	relayHeld   bool

	// waits are the entries of either log awaiting acknowledgement
	// (this station's, the peer's), queues their ladders' next steps
	// (waits.go); awaiting counts them by side.
	waits    [2]waitList
	queues   []*waitQueue
	awaiting [2]int
	dormant  bool // this station's latest operator check went unanswered
	armed    bool // link tests and checks are scheduled
	probe    probeState
}

type presigned struct {
	size   uint64
	seq    int
	root   []byte
	signed []byte
}

type sizeAt struct{ write, size uint64 }

type pendingEntry struct {
	raw    []byte
	root   []byte
	urgent bool // FLASH or IMMEDIATE
}

// urgentEntry says whether raw is a FLASH or IMMEDIATE entry (a raw
// entry that does not parse is not).
func urgentEntry(raw []byte) bool {
	e, err := envelope.Parse(raw)
	return err == nil && urgentPrec(e.Header.Precedence)
}

func urgentPrec(p envelope.Precedence) bool { return p == envelope.Flash || p == envelope.Immediate }

type outLog struct {
	tree      *transcript.Tree
	size      uint64 // entries appended (durable or being written)
	durable   uint64
	sent      uint64         // sent on the current outbound connection
	delivered uint64         // covered by the peer's cosignature
	progress  time.Time      // when delivered last grew, or sending from it began
	movedAt   time.Time      // when delivered last grew (zero before, since the start)
	pending   []pendingEntry // entries delivered+1 .. size
	// writes is the log's size at each write not yet durable that
	// appended to it, in order: what a group being written (Writing)
	// holds of the log.
	writes  []sizeAt
	receipt []byte
	// receiptAt is when the peer cosigned receipt (receiptTime).
	receiptAt time.Time
	keys      []logKey // where the key signing this log changes
	// rewind is the rewind under way, if any: the entries from 1 are being
	// read back from disk (disown.go).
	rewind *rewind
	// unchecked is the latest receipt cosigned by a key of the peer's not
	// yet known here; it is checked again when the peer's chain grows.
	unchecked []byte
	// signed holds the checkpoints sent and not yet receipted, by size: a
	// receipt that extends one of them byte for byte needs only the peer's
	// signature checked.
	signed map[uint64][]byte
	// checked holds the last few receipts of this log, besides receipt,
	// whose signatures were checked and that brought nothing new
	// (applyReceipt): a peer's statuses carry them again and again.
	checked [][]byte
	// presigned is the checkpoint of the entries being written, signed
	// while they are (see Writing): flush reuses it for a frame that ends
	// at its size, under its key seq, with its root.
	presigned presigned
	// ahead is the frame of entries from..to sent ahead on conn while
	// they were written (FrameAhead): once they are durable, flush sends
	// only FrameDurable for it, with their checkpoint, if it would send
	// that very frame there.
	ahead struct {
		conn     ConnID
		from, to uint64
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
	// durableRoot is the log's root at durable: what this station's
	// checkpoints say it holds of the peer's log (transcript.Held).
	durableRoot []byte
	receipt     []byte   // latest cosigned checkpoint
	keys        []logKey // where the key signing this log changes
	// stuckSince is when the peer first sent entries after a gap that
	// nothing has filled since (zero while none wait): the peer holds
	// more than this station could take.
	stuckSince time.Time
	// epoch is the key epoch of the latest entry accepted that began
	// one, entry epochFrom: the entries after it that carry no
	// encapsulation open with it.
	epoch     *envelope.Epoch
	epochFrom uint64
}

// rootAt is the root of this station's log at size n, where it is known
// without reading the log back: its size now, a checkpoint sent and not
// yet receipted, or the last receipt.
func (m *outLog) rootAt(n uint64) ([]byte, bool) {
	if n == m.tree.Size() {
		return m.tree.Root(), true
	}
	if signed := m.signed[n]; signed != nil {
		if cp, err := transcript.ParseCheckpointText(noteText(signed)); err == nil && cp.Size == n {
			return cp.Root, true
		}
	}
	if m.receipt != nil {
		if cp, err := transcript.ParseCheckpointText(noteText(m.receipt)); err == nil && cp.Size == n {
			return cp.Root, true
		}
	}
	return nil, false
}
