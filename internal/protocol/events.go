package protocol

import (
	"errors"
	"hotline/internal/channel"
	"hotline/internal/envelope"
	"hotline/internal/identity"
	"hotline/internal/record"
	"time"
)

// What goes into the core and what comes out of it: the events a station
// (or the simulator) feeds to Step, the actions Step returns, and what a
// completed request produced. The events of time (Tick, deadlines.go), of
// key changes (keys.go), of recovery (recover.go) and of offline bundles
// (offline.go) are declared beside their handling.

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
	// CallRecording: the stations record their own side's call audio.
	CallRecording bool
	// CallNoVideo and CallBitrate: the charter's caps on calls.
	CallNoVideo bool
	CallBitrate int
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

// Withdraw asks the core to withdraw a channel this station proposed and
// the peer has not accepted: a withdraw entry in this station's log,
// signed like any other, that the peer follows (docs/PROTOCOL.md,
// "Channels", "Withdraw").
type Withdraw struct {
	ID      uint64
	Channel string
	By      string // who withdrew it
	Reason  string
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

// PathMeasured says what a connection's path was measured to carry, in
// bytes a second (the kernel's delivery rate, from the station's
// transport): on a narrow path the core probes and tests less often, so
// that its idle traffic stays within IdleShare of it.
type PathMeasured struct {
	Peer string
	Conn ConnID
	Rate float64
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
	// Lease, when set, is how long this process surely holds the
	// station's lease, as it last confirmed it (a station on several
	// machines): entries go ahead only before then, and their frame is
	// sent with it as its Until. A process paused past it, whose
	// successor may be writing at the same indexes, sends nothing ahead.
	// Zero: the station runs in one process, with no lease.
	Lease time.Time
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

func (AddCodebook) event() {}

func (LinkRefused) event() {}

func (Submit) event() {}

func (Propose) event() {}

func (Accept) event() {}

func (Withdraw) event() {}

func (AddPeer) event() {}

func (FrameIn) event() {}

func (Connected) event() {}

func (Disconnected) event() {}
func (PathMeasured) event() {}

func (Persisted) event() {}

func (Writing) event() {}

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
	// Until, when set, is when the frame stops being worth sending: a
	// frame of entries sent ahead under the station's lease
	// (Writing.Lease). The station drops it if it would leave later.
	Until time.Time
	// Stream is set on a frame of a log's entries (entries, ahead,
	// durable): the channel. A connection keeps a stream's frames in
	// order, and may send other frames (probes, receipts, another
	// channel's) before them.
	Stream string
	// Urgent says a stream's frame carries a FLASH or IMMEDIATE entry:
	// its channel goes before channels with only PRIORITY and ROUTINE
	// waiting.
	Urgent bool
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

func (Send) action() {}

func (Done) action() {}

func (Notify) action() {}

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
	ErrWithdrawn      = errors.New("proposal withdrawn")
)
