package ops

import (
	"context"
	"encoding/json"
	"time"
)

// Multilateral is what operators do with several parties at once: one
// act addressed to every party, a group or a list of names, written as
// one entry on each party's channel (sealed to that party alone, as any
// entry) and linked by a common id; and the groups of peers a station
// names.
type Multilateral interface {
	// Broadcast sends a text or a notice to several parties. The parties
	// it could not send to are named in the view, with why; the others
	// are sent all the same.
	Broadcast(ctx context.Context, r BroadcastRequest) (*BroadcastView, error)
	// BroadcastShow is a broadcast and, for each party, its delivery,
	// acknowledgement and deadline ladder.
	BroadcastShow(ctx context.Context, id string) (*BroadcastView, error)
	// Broadcasts lists the newest broadcasts (200), newest first.
	Broadcasts(ctx context.Context) ([]BroadcastView, error)
	// IntroducePeer signs this station's introduction of a peer it
	// pinned by fingerprint, for a third station that pinned this one.
	IntroducePeer(ctx context.Context, peer string) (*IntroductionFile, error)
	// AddIntroduced pins a peer on the word of a peer pinned already.
	// Without By, nothing is pinned: the answer is a refusal that says
	// what the introduction vouches for, for a person to decide.
	AddIntroduced(ctx context.Context, r IntroducedRequest) (*PeerView, error)
	SetGroup(ctx context.Context, r GroupRequest) (*GroupView, error)
	RemoveGroup(ctx context.Context, name string) (*GroupView, error)
	Groups(ctx context.Context) ([]GroupView, error)
}

// AllParties addresses every pinned peer.
const AllParties = "all"

// BroadcastRequest sends one text or notice to several parties.
type BroadcastRequest struct {
	// To names the parties: "all" (every pinned peer), names of groups
	// and names of peers; a party named twice gets one copy.
	To []string `json:"to"`
	// Level chooses each party's channel when it has several: the one
	// at this level. Without it, a party with more than one channel is
	// refused, named with its channels.
	Level      string `json:"level,omitempty"`
	Precedence string `json:"precedence,omitempty"` // a text needs one; a notice's default is PRIORITY
	// A text (with its language), or a notice body (docs/DECONFLICTION.md)
	// whose call channel each party's copy sets to that party's channel,
	// or a planned activity to notify as it stands.
	Text   string          `json:"text,omitempty"`
	Lang   string          `json:"lang,omitempty"`
	Notice json.RawMessage `json:"notice,omitempty"`
	Plan   int64           `json:"plan,omitempty"`
	// Replaces names an earlier broadcast of a notice: each party's copy
	// amends that party's copy of it.
	Replaces string `json:"replaces,omitempty"`
}

// BroadcastRef names a broadcast.
type BroadcastRef struct {
	ID string `json:"id"`
}

// BroadcastView is a broadcast and where each party's copy stands.
type BroadcastView struct {
	ID         string               `json:"id"`
	Kind       string               `json:"kind"` // text or notice
	Precedence string               `json:"precedence"`
	At         time.Time            `json:"at"`
	To         string               `json:"to"` // as addressed
	Summary    string               `json:"summary"`
	Parties    []BroadcastPartyView `json:"parties"`
	// Counts of the parties by where their copy stands.
	Sent         int `json:"sent"`
	Delivered    int `json:"delivered"`
	Acknowledged int `json:"acknowledged"`
	Overdue      int `json:"overdue"`
	Refused      int `json:"refused"`
}

// BroadcastPartyView is one party of a broadcast.
type BroadcastPartyView struct {
	Peer    string `json:"peer"`
	Channel string `json:"channel,omitempty"`
	Entry   string `json:"entry,omitempty"`
	// Refused says why nothing was sent to the party.
	Refused string `json:"refused,omitempty"`
	// Status: refused, writing (for a moment, while the act runs), not
	// written (the station stopped or failed while writing it), queued
	// (written here, no receipt yet), delivered (the peer's station
	// cosigned it), acknowledged (a person there).
	Status      string     `json:"status"`
	DeliveredAt *time.Time `json:"delivered_at,omitempty"` // the peer's clock, from its signed receipt
	AckBy       string     `json:"ack_by,omitempty"`
	AckAt       *time.Time `json:"ack_at,omitempty"`
	AckDue      *time.Time `json:"ack_due,omitempty"`
	// Overdue: no acknowledgement by its deadline; Ladder is the steps
	// of its deadline ladder taken so far.
	Overdue bool             `json:"overdue"`
	Ladder  []EscalationView `json:"ladder,omitempty"`
}

// GroupRequest names a group of pinned peers (replacing one of that
// name).
type GroupRequest struct {
	Name  string   `json:"name"`
	Peers []string `json:"peers"`
}

// GroupRef names a group.
type GroupRef struct {
	Name string `json:"name"`
}

// GroupView is a group of peers.
type GroupView struct {
	Name      string    `json:"name"`
	Peers     []string  `json:"peers"`
	UpdatedAt time.Time `json:"updated_at"`
}

// IntroductionFormat is the format of an introduction's file.
const IntroductionFormat = "hotline-introduction/v1"

// MaxIntroductionFile bounds an introduction's file.
const MaxIntroductionFile = 16 << 10

// IntroductionFile is one station's signed introduction of a peer, with
// the peer's card, as a file carried to a third station.
type IntroductionFile struct {
	Format string `json:"format"`
	// Introduction is the signed note (identity.Introduction); Card the
	// introduced peer's signed card.
	Introduction string `json:"introduction"`
	Card         string `json:"card"`
}

// IntroducedRequest pins the peer an introduction vouches for, on behalf
// of By, the person who took the introducer's word.
type IntroducedRequest struct {
	IntroductionFile
	By string `json:"by,omitempty"`
}
