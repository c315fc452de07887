// Package ops is what a person or program can ask a station for: the
// operations (Ops, and the table of them in table.go), their requests and
// the views they answer with. A running station implements Ops (package
// station); the API serves the table and its client calls it (package api);
// the command line and the console ask through it. It holds no state and
// runs nothing.
package ops

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"hotline/internal/badrequest"
	"hotline/internal/deconflict"
	"hotline/internal/record"
	"hotline/internal/transcript"
)

// Errors any operation may answer besides a bad request.
var (
	// ErrDiskFull: the station keeps a reserve of free space, and an
	// operator's request would eat into it.
	ErrDiskFull = errors.New("disk full")
	// ErrStopped: the station is stopping.
	ErrStopped = errors.New("station is stopping")
)

// Ops is what an operator can do with a station. The station implements it
// directly (offline, or inside hotline run); the API client implements it
// over HTTP. The CLI uses whichever applies.
type Ops interface {
	Deconfliction
	CallOps
	Multilateral
	Card(ctx context.Context) ([]byte, error)
	AddPeer(ctx context.Context, card []byte, fingerprint string) (*PeerView, error)
	Peers(ctx context.Context) ([]PeerView, error)
	Propose(ctx context.Context, r ProposeRequest) (*ChannelView, error)
	Accept(ctx context.Context, channel string) (*ChannelView, error)
	Withdraw(ctx context.Context, r WithdrawRequest) (*ChannelView, error)
	Channels(ctx context.Context) ([]ChannelView, error)
	Send(ctx context.Context, r SendRequest) (*MessageView, error)
	Inbox(ctx context.Context, channel string) ([]MessageView, error)
	Outbox(ctx context.Context, channel string) ([]MessageView, error)
	Ack(ctx context.Context, id, by string) (*MessageView, error)
	// Export returns a channel's audit bundle, disclosing the entries
	// named (IDs).
	Export(ctx context.Context, channel string, disclose ...string) (*transcript.Bundle, error)
	Status(ctx context.Context) (*StatusView, error)
	Alerts(ctx context.Context, after int64) ([]AlertView, error)
	Suspend(ctx context.Context, r SuspendRequest) (*ChannelView, error)
	Resume(ctx context.Context, r SuspendRequest) (*ChannelView, error)
	Checks(ctx context.Context, channel string) (*ChecksView, error)
	Escalations(ctx context.Context, channel string) ([]EscalationView, error)
	BundleExport(ctx context.Context, peer string) (*OfflineBundle, error)
	// BundleImport reads the bundle from r as a stream (ReadOffline).
	BundleImport(ctx context.Context, r io.Reader) (*ImportView, error)
	RotateKeys(ctx context.Context, r KeyRequest) (*RotationView, error)
	ReplacePeer(ctx context.Context, card []byte, fingerprint, by string) (*PeerView, error)
	KeyHistory(ctx context.Context, station string) ([]KeyView, error)
}

// SuspensionView is one party's suspension of a channel.
type SuspensionView struct {
	By     string    `json:"by"`    // the station that suspended
	Index  uint64    `json:"index"` // its suspend entry in that station's log
	Reason string    `json:"reason"`
	At     time.Time `json:"at"` // the suspending station's clock
}

// AlertView is a station alert as operators see it.
type AlertView struct {
	ID      int64     `json:"id"`
	At      time.Time `json:"at"`
	Level   string    `json:"level"` // "alarm" or "warning"
	Channel string    `json:"channel,omitempty"`
	Peer    string    `json:"peer,omitempty"`
	Text    string    `json:"text"` // in English, as written
	// Format and Args are what Text was written from (fmt verbs, each
	// argument as text), so that a console can write the alert in its
	// operator's language; an alert written before they were kept has
	// none.
	Format string   `json:"format,omitempty"`
	Args   []string `json:"args,omitempty"`
}

// EscalationView is a step of a late entry's deadline ladder that the
// station took.
type EscalationView struct {
	Channel string `json:"channel"`
	Entry   string `json:"entry"` // the late entry: CHANNEL/AUTHOR/INDEX
	Author  string `json:"author"`
	Index   uint64 `json:"index"`
	// Step is 1 (undelivered), 2 (overdue), 3 (supervisor alerted) or 4
	// (forwarded to the channel above); Name says it.
	Step   int       `json:"step"`
	Name   string    `json:"name"`
	At     time.Time `json:"at"`
	Detail string    `json:"detail,omitempty"` // what was done, e.g. the entry it was forwarded as
}

// The steps of a deadline ladder (docs/PROTOCOL.md), as EscalationView.Step.
const (
	StepUndelivered = record.StepUndelivered // the delivery deadline passed without a receipt
	StepOverdue     = record.StepOverdue     // the acknowledgement deadline passed
	StepSupervisor  = record.StepSupervisor  // half a deadline later: a supervisor alerted
	StepForwarded   = record.StepForwarded   // a whole deadline later: forwarded to the channel above
)

// StepNames name the steps of a deadline ladder.
var StepNames = map[int]string{StepUndelivered: "undelivered", StepOverdue: "overdue",
	StepSupervisor: "supervisor", StepForwarded: "forwarded"}

// StateActive is ChannelView.State of a channel both parties agreed and
// neither suspended, whose paths are up.
const StateActive = record.Active

// PeerView describes a pinned peer.
type PeerView struct {
	Name        string    `json:"name"`
	Party       string    `json:"party"`
	Fingerprint string    `json:"fingerprint"`
	Endpoints   []string  `json:"endpoints"`
	AddedAt     time.Time `json:"added_at"`
	Connected   bool      `json:"connected"`
	// Keys is the peer's key history, oldest first (one key if it never
	// changed them).
	Keys []KeyView `json:"keys"`
	// IntroducedBy is the peer whose signed introduction this one was
	// pinned on, and ConfirmedBy the person here who took its word;
	// both empty for a peer pinned by its fingerprint read aloud.
	IntroducedBy string `json:"introduced_by,omitempty"`
	ConfirmedBy  string `json:"confirmed_by,omitempty"`
}

// ChannelView describes a channel.
type ChannelView struct {
	ID    string `json:"channel"`
	Peer  string `json:"peer"`
	Level string `json:"level"`
	// State is what operators see: active, degraded, down, dormant,
	// suspended, or (before both signatures) proposed or incoming.
	State     string            `json:"state"`
	Agreement string            `json:"agreement"` // proposed, incoming, active, withdrawn
	Proposer  string            `json:"proposer"`
	Deadlines map[string]string `json:"deadlines"` // acknowledgement, per precedence
	Delivery  map[string]string `json:"delivery"`  // delivery, per precedence
	// EscalateTo is the channel late messages climb to.
	EscalateTo  string `json:"escalate_to,omitempty"`
	FlashExempt bool   `json:"flash_exempt"`
	// CallRecording: each station records its own side's call audio.
	CallRecording bool `json:"call_recording"`
	// NoCallVideo: the charter forbids video in calls; CallBitrate caps
	// each stream of a call (kbit/s, 0 for none).
	NoCallVideo bool   `json:"no_call_video"`
	CallBitrate int    `json:"call_bitrate_kbps"`
	LinkTest    string `json:"link_test"`    // interval of machine-answered tests
	CheckEvery  string `json:"check_every"`  // interval of operator checks
	CheckWindow string `json:"check_window"` // time a person has to answer one
	Codebook    string `json:"codebook"`     // the codebook of standard phrases: version and hash
	Written     uint64 `json:"written"`      // entries in this station's log
	Delivered   uint64 `json:"delivered"`    // of those, receipted by the peer
	// ReceiptAt is when the peer's station cosigned that receipt, by its
	// clock, under its signature (absent for a receipt without a time).
	ReceiptAt   time.Time        `json:"receipt_at,omitzero"`
	Received    uint64           `json:"received"` // entries held of the peer's log
	Connected   bool             `json:"connected"`
	Blocked     string           `json:"blocked,omitempty"`
	Suspensions []SuspensionView `json:"suspensions"`
	Dormant     bool             `json:"dormant"`
	// AwaitingPeer counts this station's messages the peer has not
	// acknowledged; AwaitingHere the peer's that wait for a person here.
	AwaitingPeer int        `json:"awaiting_peer"`
	AwaitingHere int        `json:"awaiting_here"`
	LastCheck    string     `json:"last_check,omitempty"` // id of this station's latest operator check
	LastCheckAt  *time.Time `json:"last_check_at,omitempty"`
	Paths        []PathView `json:"paths"`
	// Troubles say why State is degraded or down, and what to do: a path
	// down, a direction whose traffic has not moved for longer than its
	// delivery deadline, a relay that refuses this station.
	Troubles []TroubleView `json:"troubles,omitempty"`
}

// TroubleView is one reason a channel is not active, and what to do.
type TroubleView struct {
	Kind   string `json:"kind"` // path (a path down), stall (a direction not moving), relay (a relay refusing this station), restore (restored from a backup, appending nothing yet)
	Reason string `json:"reason"`
	Action string `json:"action"`
}

// PathView is one transport path of a channel and its health, from the
// probes of the path (every 500ms).
type PathView struct {
	Name   string `json:"name"` // "direct", "relay"
	Up     bool   `json:"up"`
	Active bool   `json:"active"` // this station's entries go this way
	// When a probe was last answered, its round trip, the peer's clock
	// minus this station's, probes sent and left unanswered.
	LastOK *time.Time `json:"last_ok,omitempty"`
	RTTms  *float64   `json:"rtt_ms,omitempty"`
	Skewms *float64   `json:"skew_ms,omitempty"`
	Probes int        `json:"probes"`
	Lost   int        `json:"lost"`
	// Costms is what the path is ranked by, once a probe on it was
	// answered or lost: its smoothed round trip, with recent loss counted
	// against it.
	Costms *float64 `json:"cost_ms,omitempty"`
}

// WithdrawRequest withdraws a channel this station proposed and the peer
// has not accepted.
type WithdrawRequest struct {
	Channel string `json:"channel"`
	Reason  string `json:"reason"`
	By      string `json:"by"`
}

// SuspendRequest suspends or resumes a channel.
type SuspendRequest struct {
	Channel string `json:"channel"`
	Reason  string `json:"reason"`
	By      string `json:"by"`
}

// ChecksView is a channel's communication check record over the last
// day, week and month.
type ChecksView struct {
	Channel string       `json:"channel"`
	Periods []CheckStats `json:"periods"`
}

// CheckStats is one period of ChecksView.
type CheckStats struct {
	Period string `json:"period"` // "day", "week", "month"
	// Operator checks this station issued, answered, the answer rate and
	// the mean time to answer.
	Checks     int64    `json:"checks"`
	Answered   int64    `json:"answered"`
	AnswerRate *float64 `json:"answer_rate,omitempty"`
	MeanAnswer string   `json:"mean_answer,omitempty"`
	// Machine-answered link tests.
	LinkTests     int64    `json:"link_tests"`
	LinkAnswered  int64    `json:"link_answered"`
	LinkRate      *float64 `json:"link_rate,omitempty"`
	LinkMeanRTTms *float64 `json:"link_mean_rtt_ms,omitempty"`
}

// MessageView is a message as operators see it.
type MessageView struct {
	ID         string    `json:"id"`
	Channel    string    `json:"channel"`
	Index      uint64    `json:"index"`
	From       string    `json:"from"`
	Precedence string    `json:"precedence"`
	Text       string    `json:"text"`
	Lang       string    `json:"lang,omitempty"`
	SentAt     time.Time `json:"sent_at"`     // the author's clock
	ReceivedAt time.Time `json:"received_at"` // this station's clock when stored
	// PeerReceivedAt is, for this station's message, when the peer's
	// station held it: the time of the first receipt covering it, by
	// the peer's clock, under its signature.
	PeerReceivedAt *time.Time `json:"peer_received_at,omitempty"`
	Status         string     `json:"status"` // outbox: queued, delivered, acknowledged; inbox: received, acknowledged
	Acknowledged   bool       `json:"acknowledged"`
	AckBy          string     `json:"ack_by,omitempty"`
	AckAt          *time.Time `json:"ack_at,omitempty"` // the acknowledging station's clock
	AckDue         time.Time  `json:"ack_due"`          // from the charter's deadline for the precedence
	// Kind is "text", "check" (an operator check: acknowledge it),
	// "escalation" (a message forwarded from a lower channel, From),
	// "coded" (standard phrases), "notice", "report" or "incident".
	Kind          string `json:"kind"`
	EscalatedFrom string `json:"escalated_from,omitempty"`
	// Coded is a coded message and its phrases rendered from the codes in
	// each language of the channel's codebook.
	Coded *CodedView `json:"coded,omitempty"`
	// The body of a notice, report or incident entry.
	Notice   *deconflict.Notice       `json:"notice,omitempty"`
	Report   *deconflict.Report       `json:"report,omitempty"`
	Incident *deconflict.IncidentBody `json:"incident,omitempty"`
	// Rendered is a coded message, notice, report or incident entry
	// written in each language ("en", "zh-Hans") from its codes and
	// fields; free text in it is marked as such. Text is the English.
	Rendered map[string]string `json:"rendered,omitempty"`
	// Broadcast is the id linking the copies of a text or notice sent to
	// several parties in one act, each on its own channel.
	Broadcast string `json:"broadcast,omitempty"`
}

// ProposeRequest proposes a channel.
type ProposeRequest struct {
	Peer      string            `json:"peer"`
	Channel   string            `json:"channel"`
	Level     string            `json:"level"`
	Deadlines map[string]string `json:"deadlines,omitempty"` // precedence → duration, e.g. "FLASH": "5m"
	Delivery  map[string]string `json:"delivery,omitempty"`  // delivery deadlines, the same way
	// EscalateTo names the (higher) channel with the same peer that late
	// messages climb to.
	EscalateTo  string `json:"escalate_to,omitempty"`
	FlashExempt bool   `json:"flash_exempt,omitempty"`
	// CallRecording has each station record its own side's call audio,
	// named by hash in its signed entries.
	CallRecording bool `json:"call_recording,omitempty"`
	// NoCallVideo forbids video in the channel's calls; CallBitrate caps
	// each stream of a call, in kbit/s (for narrow links).
	NoCallVideo bool   `json:"no_call_video,omitempty"`
	CallBitrate int    `json:"call_bitrate_kbps,omitempty"`
	LinkTest    string `json:"link_test,omitempty"`    // e.g. "10s"
	CheckEvery  string `json:"check_every,omitempty"`  // e.g. "1h"
	CheckWindow string `json:"check_window,omitempty"` // e.g. "10m"
	// Codebook names the codebook of standard phrases, by reference or
	// version (hotline codebook books); default: the embedded one.
	Codebook string `json:"codebook,omitempty"`
}

// SendRequest sends a text message.
type SendRequest struct {
	Channel    string `json:"channel"`
	Precedence string `json:"precedence"`
	Text       string `json:"text"`
	Lang       string `json:"lang,omitempty"`
}

// StatusView is the station's state at a glance.
type StatusView struct {
	Station     string         `json:"station"`
	Party       string         `json:"party"`
	Fingerprint string         `json:"fingerprint"`
	PeerAddr    string         `json:"peer_addr,omitempty"`
	Channels    []ChannelView  `json:"channels"`
	Peers       []PeerView     `json:"peers"`
	Refused     map[string]int `json:"refused"`
	Duplicates  int            `json:"duplicates"`
	// RelaysRefusing are the relays (of this station's card or a peer's)
	// that refused this station at its latest attempt to connect.
	RelaysRefusing []RelayRefusalView `json:"relays_refusing,omitempty"`
	// AheadConflicts counts the peers' frames of entries sent ahead that
	// reached into what this station holds, dropped: sent by a process
	// of the peer's that lost its station to another, or crashed, before
	// they were durable. They bind nobody (not an equivocation).
	AheadConflicts int `json:"ahead_conflicts,omitempty"`
}

// RelayRefusalView is a relay that refuses this station now.
type RelayRefusalView struct {
	Relay string    `json:"relay"`
	Addr  string    `json:"addr"`
	Own   bool      `json:"own"`             // listed in this station's card
	Peers []string  `json:"peers,omitempty"` // the peers whose cards list it
	Since time.Time `json:"since"`
	Error string    `json:"error"`
}

// ParseID splits an entry id channel/author/index.
func ParseID(id string) (ch, author string, idx uint64, err error) {
	parts := strings.Split(id, "/")
	if len(parts) == 3 {
		idx, err = strconv.ParseUint(parts[2], 10, 64)
		if err == nil && idx > 0 {
			return parts[0], parts[1], idx, nil
		}
	}
	return "", "", 0, badrequest.New("message id %q is not CHANNEL/STATION/INDEX", id)
}
