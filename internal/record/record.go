// Package record holds the protocol's vocabulary as plain data: the peers,
// channels, entries, logs, receipts, acknowledgements, alerts, ladder steps
// and key chains that the core (internal/protocol) keeps, the batches it
// asks to have written and the snapshot it resumes from. The store
// persists these types; the core never sees the store. Nothing here does
// I/O or knows what an entry's body means.
package record

import (
	"time"

	"hotline/internal/envelope"
)

// Channel states.
const (
	ProposedOut = "proposed" // this station proposed, waiting for the peer
	ProposedIn  = "incoming" // the peer proposed, waiting for an operator here
	Active      = "active"   // both signatures held
	// Withdrawn: the proposer withdrew its proposal (a withdraw entry in
	// its log) before it held the acceptance; nothing more is written.
	Withdrawn = "withdrawn"
)

// Peer is a pinned station.
type Peer struct {
	Name        string
	Party       string
	Card        []byte // the signed card, as received
	Fingerprint string
	AddedAt     time.Time
}

// Channel is a channel with one peer and its charter.
type Channel struct {
	ID        string
	Peer      string
	Level     string
	State     string
	Proposer  string
	Charter   []byte // signed note: one signature when proposed, two when agreed
	CreatedAt time.Time
	UpdatedAt time.Time
	// Suspensions in force, one per party at most.
	Suspensions []Suspension
	// LastCheck is this station's latest operator check on the channel
	// (index in its own log and when it was written), zero if none.
	LastCheck   uint64
	LastCheckAt time.Time
}

// Suspension is a party's signed suspension of a channel: the entry that
// made it and its reason.
type Suspension struct {
	By     string    `json:"by"`    // the station that suspended
	Index  uint64    `json:"index"` // its suspend entry in that station's log
	Reason string    `json:"reason"`
	At     time.Time `json:"at"` // the suspending station's clock
}

// Entry is one envelope in a log, with what the station learned from it.
type Entry struct {
	Channel    string
	Author     string
	Index      uint64
	Kind       envelope.Kind
	Precedence envelope.Precedence
	SenderTime time.Time // the author's clock, from the header
	StoredAt   time.Time // this station's clock when it stored the entry
	Raw        []byte    // the exact envelope bytes
	Body       []byte    // the opened body (JSON); this station's own disk is trusted
	Root       []byte    // the log's root hash after this entry
}

// ID is the entry's name on both stations.
func (e *Entry) ID() string {
	h := envelope.Header{Channel: e.Channel, Author: e.Author, Index: e.Index}
	return h.ID()
}

// Waiting is an entry that waits for a person's acknowledgement as a
// station resumes its ladder: not its bytes, and its body only where the
// ladder reads it (a check's window, what an escalation of Self's
// forwarded); a forward reads the rest back when it falls due.
type Waiting struct {
	Channel    string
	Author     string
	Index      uint64
	StoredAt   time.Time // this station's clock when it stored the entry
	Body       []byte    // a check's, or an escalation by Self; nil for others
	Kind       envelope.Kind
	Precedence envelope.Precedence
}

// ID is the entry's name on both stations.
func (w *Waiting) ID() string {
	h := envelope.Header{Channel: w.Channel, Author: w.Author, Index: w.Index}
	return h.ID()
}

// Waiting is what Snapshot.Outstanding holds of the entry.
func (e *Entry) Waiting() Waiting {
	return Waiting{Channel: e.Channel, Author: e.Author, Index: e.Index, StoredAt: e.StoredAt, Body: e.Body, Kind: e.Kind, Precedence: e.Precedence}
}

// WaitingBody says whether Snapshot.Outstanding carries the body of an
// entry of this kind and author: a check's, and an escalation by self.
func WaitingBody(k envelope.Kind, author, self string) bool {
	return k == envelope.Check || k == envelope.Escalation && author == self
}

// Log is the state of one author's log for one channel.
type Log struct {
	Channel string
	Author  string
	Size    uint64
	Hashes  [][]byte // compact range of the Merkle tree, see transcript.Tree
	// Checkpoint is the latest checkpoint signed by the author, if any.
	Checkpoint []byte
	// Receipt is the latest checkpoint cosigned by the receiver: every
	// entry up to ReceiptSize is delivered.
	Receipt     []byte
	ReceiptSize uint64
	// EpochFrom is, for a peer's log, the index of the entry that began
	// the body key epoch in force after the last entry: later entries
	// that begin no epoch open with its key, which the station derives
	// from that entry again when it starts. 0 for this station's own
	// logs, and until an entry that begins one. A record with 0 leaves
	// the stored value.
	EpochFrom uint64
}

// Receipt records a cosigned checkpoint for a log.
type Receipt struct {
	Channel string
	Author  string
	Size    uint64
	Note    []byte
	// Rewind replaces the log's receipt even with a smaller one: the
	// receipt held was disowned (its cosigning key revoked), and what it
	// covered awaits a receipt again.
	Rewind bool
	// At is when the receiver cosigned it, by the time its signature
	// carries (zero for a receipt without one): kept by size, so that
	// each entry shows when the receiver first held it.
	At time.Time
}

// Ack records that the peer (or this station) acknowledged an entry.
type Ack struct {
	Channel   string
	Author    string // author of the acknowledged entry
	Index     uint64 // index of the acknowledged entry
	AckAuthor string
	AckIndex  uint64 // the acknowledgement's own entry
	By        string // the operator who acknowledged
	At        time.Time
}

// Alert is something a person must see: a tamper alarm, a refused peer.
type Alert struct {
	ID      int64
	At      time.Time
	Level   string // "alarm" or "warning"
	Channel string
	Peer    string
	Text    string // in English, as written
	// Format and Args are what Text was written from (fmt verbs, each
	// argument as text), so that a console can show the alert in its
	// operator's language; an alert written before they were kept has
	// none.
	Format string
	Args   []string
}

// Escalation steps of an entry's deadline ladder.
const (
	StepUndelivered = 1 // the delivery deadline passed without a receipt (author's side)
	StepOverdue     = 2 // the acknowledgement deadline passed: the author reminded, the receiver alarmed
	StepSupervisor  = 3 // half a deadline later: the author's supervisor alerted
	StepForwarded   = 4 // a whole deadline later: forwarded to the channel above
)

// Escalation records one step of an entry's deadline ladder, taken by
// this station.
type Escalation struct {
	Channel string
	Author  string // author of the entry that is late
	Index   uint64
	Step    int
	At      time.Time
	Detail  string // what was done, e.g. the entry it was forwarded as
}

// ProbeStat counts a channel's machine-answered link tests in one hour.
type ProbeStat struct {
	Channel  string
	Hour     time.Time // start of the hour, UTC
	Sent     int64
	Answered int64
	RTT      time.Duration // sum over answered tests
}

// Key is one link of a station's key chain (this station's or a peer's):
// its card of sequence number Seq, from 0 (the card first pinned, or made
// at init) up, and how it came to replace key Seq-1. See docs/PROTOCOL.md,
// "Key rotation".
type Key struct {
	Station     string
	Seq         int
	Card        []byte // the signed card
	Fingerprint string
	// Reason is "initial" for Seq 0, "rotate" or "revoke" for a signed
	// rotation statement (revoke: key Seq-1 is revoked), "replace" for a
	// peer re-pinned by fingerprint after it lost its key (key Seq-1 is
	// revoked).
	Reason    string
	Statement []byte // the rotation statement; empty for initial and replace
	At        time.Time
	Detail    string // who did it, for a replacement and this station's own rotations
}

// LogKey says that the entries of a log from index From on are signed by
// its author's key Seq; a log with no LogKey is signed by key 0.
type LogKey struct {
	Channel string
	Author  string
	From    uint64
	Seq     int
}

// Batch is a set of records applied atomically and durably.
type Batch struct {
	Keys        []Key
	LogKeys     []LogKey
	Peers       []Peer
	Channels    []Channel
	Entries     []Entry
	Logs        []Log // upsert size and hashes; a nil Checkpoint keeps the stored one
	Receipts    []Receipt
	Acks        []Ack
	Alerts      []Alert
	Escalations []Escalation
	Probes      []ProbeStat // added to what is stored for the channel and hour
	EpochKeys   []EpochKey
}

// EpochKey is the key of a body key epoch of a log (docs/PROTOCOL.md,
// "Envelope"), kept with the index of the entry that began it: what the
// station needs to disclose one entry of the epoch (its own key, derived
// from this one) to a third party. It is as secret as the bodies, which
// the same store holds opened.
type EpochKey struct {
	Channel, Author string
	From            uint64
	Key             []byte
}

// Empty reports whether b holds nothing.
func (b *Batch) Empty() bool {
	return len(b.Keys)+len(b.LogKeys)+len(b.Peers)+len(b.Channels)+len(b.Entries)+len(b.Logs)+len(b.Receipts)+len(b.Acks)+len(b.Alerts)+
		len(b.Escalations)+len(b.Probes)+len(b.EpochKeys) == 0
}

// Merge appends o's records to b.
func (b *Batch) Merge(o *Batch) {
	b.Keys = append(b.Keys, o.Keys...)
	b.LogKeys = append(b.LogKeys, o.LogKeys...)
	b.EpochKeys = append(b.EpochKeys, o.EpochKeys...)
	b.Peers = append(b.Peers, o.Peers...)
	b.Channels = append(b.Channels, o.Channels...)
	b.Entries = append(b.Entries, o.Entries...)
	b.Logs = append(b.Logs, o.Logs...)
	b.Receipts = append(b.Receipts, o.Receipts...)
	b.Acks = append(b.Acks, o.Acks...)
	b.Alerts = append(b.Alerts, o.Alerts...)
	b.Escalations = append(b.Escalations, o.Escalations...)
	b.Probes = append(b.Probes, o.Probes...)
}

// Snapshot is what a station needs to resume: every peer, channel and log,
// and the entries of its own logs that the peer has not yet receipted.
type Snapshot struct {
	Peers       []Peer
	Channels    []Channel
	Logs        []Log
	Undelivered []Entry // entries by Self past their log's ReceiptSize, in log order
	// Outstanding are the entries of either author that wait for a
	// person's acknowledgement (kinds that need one, no ack stored) and
	// whose deadline ladder is not finished, by channel, author and
	// index, with only what their ladders need (Waiting); Escalations are
	// the steps already taken for them.
	Outstanding []Waiting
	// EachOutstanding, if set, gives the entries Outstanding would hold,
	// in the same order, one at a time, and Outstanding is empty: a
	// store's Load sets it so that a million waiting entries are never
	// held at once. It is called once, while the core is made.
	EachOutstanding func(f func(*Waiting)) error
	Escalations     []Escalation
	// Keys are every station's key chain, by station and Seq; LogKeys
	// where each log's key changes, by channel, author and From.
	Keys    []Key
	LogKeys []LogKey
	// EpochEntries are, for each log with an EpochFrom, that entry.
	EpochEntries []Entry
}
