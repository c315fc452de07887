package ops

import (
	"context"
	"time"
)

// CallOps is what may be asked of a station's calls (docs/CALLS.md,
// "Signalling"): place one, answer, decline or end one, and list them.
// Each act is a signed entry in the channel's log. There is no media yet.
type CallOps interface {
	StartCall(ctx context.Context, r StartCallRequest) (*CallView, error)
	AnswerCall(ctx context.Context, r CallActRequest) (*CallView, error)
	DeclineCall(ctx context.Context, r CallActRequest) (*CallView, error)
	EndCall(ctx context.Context, r CallActRequest) (*CallView, error)
	Calls(ctx context.Context, channel string) ([]CallView, error)
}

// StartCallRequest places a call to the other party of a channel.
type StartCallRequest struct {
	Channel    string `json:"channel"`
	Precedence string `json:"precedence,omitempty"` // default FLASH
	Video      bool   `json:"video,omitempty"`
	// As is the name, for the record, of the person who calls.
	As string `json:"as"`
	// Back is the other party's call this one returns, "" for none.
	Back string `json:"back,omitempty"`
}

// CallActRequest answers, declines or ends a call.
type CallActRequest struct {
	ID     string `json:"id"` // the call's id: its request entry's
	As     string `json:"as"` // who acts, for the record
	Reason string `json:"reason,omitempty"`
	Video  bool   `json:"video,omitempty"` // answering: whether video is accepted
}

// CallView is a call as this station holds it, folded from both logs.
type CallView struct {
	ID          string     `json:"id"` // the request entry's id
	Channel     string     `json:"channel"`
	From        string     `json:"from"` // the calling station
	Caller      string     `json:"caller"`
	Precedence  string     `json:"precedence"`
	State       string     `json:"state"` // ringing, answered, declined, missed or ended
	Video       bool       `json:"video"`
	RequestedAt time.Time  `json:"requested_at"` // the caller's clock
	Due         time.Time  `json:"due"`          // the answer's deadline, on this station's clock
	AnsweredAt  *time.Time `json:"answered_at"`  // the answerer's clock
	AnsweredBy  string     `json:"answered_by"`
	DeclinedBy  string     `json:"declined_by,omitempty"`
	Reason      string     `json:"reason,omitempty"`
	EndedAt     *time.Time `json:"ended_at"` // the ender's clock
	EndedBy     string     `json:"ended_by,omitempty"`
	Back        string     `json:"back,omitempty"`        // the call this one returns
	ReturnedBy  string     `json:"returned_by,omitempty"` // the call back that returned this one
}
