package desk

// Calls at the station (docs/CALLS.md, "Signalling"): each act on a call
// is an entry written through the core like any message. The desk checks
// an act against the call as both logs hold it before writing, so that a
// second answer, an answer to a call that ended or was never made, or an
// answer to this station's own call is refused and nothing is written.
// There is no media yet.

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"hotline/internal/badrequest"
	"hotline/internal/call"
	"hotline/internal/channel"
	"hotline/internal/envelope"
	"hotline/internal/ops"
	"hotline/internal/protocol"
	"hotline/internal/record"
	"hotline/internal/store"
)

// folded reads the call entries of a channel ("" for every channel) and
// folds them into calls, with the charters' deadlines at now.
func (s *Desk) folded(ctx context.Context, ch string) ([]call.Call, error) {
	ms, err := s.db.Messages(ctx, store.Query{Channel: ch, Kinds: call.Kinds})
	if err != nil {
		return nil, err
	}
	stored, err := s.db.Channels(ctx)
	if err != nil {
		return nil, err
	}
	charters := map[string]*channel.Charter{}
	for _, c := range stored {
		if cc, err := channel.ParseUnverified(c.Charter); err == nil {
			charters[c.ID] = cc
		}
	}
	entries := make([]call.Entry, 0, len(ms))
	for _, m := range ms {
		b, err := call.Decode(m.Kind, m.Body)
		if err != nil {
			return nil, fmt.Errorf("stored call entry %s: %v", m.ID(), err)
		}
		entries = append(entries, call.Entry{Ref: call.Ref{Channel: m.Channel, Author: m.Author, Index: m.Index},
			Kind: m.Kind, Precedence: m.Precedence, SentAt: m.SenderTime, StoredAt: m.StoredAt, Body: b})
	}
	// The store lists each log in order; the fold takes them in the order
	// this station stored them.
	sortStored(entries)
	return call.Fold(entries, time.Now(), func(ch string, p envelope.Precedence) time.Duration {
		if c := charters[ch]; c != nil {
			return c.Deadlines[p]
		}
		return 0
	}), nil
}

// sortStored orders entries by when this station stored them, each log's
// own order kept for entries stored at the same time.
func sortStored(es []call.Entry) {
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].StoredAt.Before(es[j-1].StoredAt); j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}

func callView(c call.Call) ops.CallView {
	v := ops.CallView{ID: c.ID.String(), Channel: c.ID.Channel, From: c.ID.Author, Caller: protocol.Reveal(c.Caller),
		Precedence: c.Precedence.String(), State: string(c.State), Video: c.Video, RequestedAt: c.RequestedAt, Due: c.Due,
		AnsweredBy: c.AnsweredBy, DeclinedBy: c.DeclinedBy, Reason: c.Reason, EndedBy: c.EndedBy}
	if !c.AnsweredAt.IsZero() {
		at := c.AnsweredAt
		v.AnsweredAt = &at
	}
	if !c.EndedAt.IsZero() {
		at := c.EndedAt
		v.EndedAt = &at
	}
	if c.Back != nil {
		v.Back = c.Back.String()
	}
	if c.ReturnedBy != nil {
		v.ReturnedBy = c.ReturnedBy.String()
	}
	return v
}

// Calls lists the calls of a channel ("" for every channel), in the order
// they were requested.
func (s *Desk) Calls(ctx context.Context, ch string) ([]ops.CallView, error) {
	if ch != "" {
		if _, err := s.activeChannel(ctx, ch); err != nil {
			return nil, err
		}
	}
	cs, err := s.folded(ctx, ch)
	if err != nil {
		return nil, err
	}
	out := make([]ops.CallView, 0, len(cs))
	for _, c := range cs {
		out = append(out, callView(c))
	}
	return out, nil
}

// activeChannel returns a channel that exists here, refusing an unknown
// one as the asker's error.
func (s *Desk) activeChannel(ctx context.Context, id string) (*record.Channel, error) {
	chs, err := s.db.Channels(ctx)
	if err != nil {
		return nil, err
	}
	for i := range chs {
		if chs[i].ID == id {
			return &chs[i], nil
		}
	}
	return nil, badrequest.New("%v: %q", protocol.ErrUnknownChannel, id)
}

// findCall returns the call with id as this station holds it.
func (s *Desk) findCall(ctx context.Context, id string) (*call.Call, error) {
	ref, err := call.ParseRef(id)
	if err != nil {
		return nil, badrequest.New("%v", err)
	}
	if _, err := s.activeChannel(ctx, ref.Channel); err != nil {
		return nil, err
	}
	cs, err := s.folded(ctx, ref.Channel)
	if err != nil {
		return nil, err
	}
	for i := range cs {
		if cs[i].ID == ref {
			return &cs[i], nil
		}
	}
	return nil, badrequest.New("no call %s here: nobody placed a call with that id on %s", id, ref.Channel)
}

// settled says why a call can no longer be answered or declined, "" if
// it can.
func settled(c *call.Call) string {
	switch {
	case c.State == call.Answered:
		return fmt.Sprintf("call %s was answered already, by %s", c.ID, protocol.Reveal(c.AnsweredBy))
	case c.State == call.Declined:
		return fmt.Sprintf("call %s was declined already, by %s", c.ID, protocol.Reveal(c.DeclinedBy))
	case c.State == call.Ended:
		return fmt.Sprintf("call %s has ended (by %s)", c.ID, protocol.Reveal(c.EndedBy))
	case c.ReturnedBy != nil:
		return fmt.Sprintf("call %s was called back, as %s", c.ID, c.ReturnedBy)
	}
	return ""
}

func checkName(what, s string) error {
	if err := call.Visible(what, s, call.MaxName, true); err != nil {
		return badrequest.New("%v", err)
	}
	return nil
}

// writeCall writes a call entry and returns the call it makes or acts on,
// as this station holds it once the entry is durable.
func (s *Desk) writeCall(ctx context.Context, ch string, kind envelope.Kind, prec envelope.Precedence, body any, id string) (*ops.CallView, error) {
	p, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	res, err := s.st.Call(ctx, func(rid uint64) protocol.Event {
		return protocol.Submit{ID: rid, Channel: ch, Kind: kind, Precedence: prec, Body: p}
	})
	if err != nil {
		return nil, AsBadRequest(err)
	}
	if id == "" {
		id = res.Entry
	}
	c, err := s.findCall(ctx, id)
	if err != nil {
		return nil, err
	}
	v := callView(*c)
	return &v, nil
}

// StartCall places a call: a request entry, whose id is the call's.
func (s *Desk) StartCall(ctx context.Context, r ops.StartCallRequest) (*ops.CallView, error) {
	prec, err := precedenceOr(r.Precedence, envelope.Flash)
	if err != nil {
		return nil, err
	}
	if err := checkName("who calls", r.As); err != nil {
		return nil, err
	}
	ch, err := s.activeChannel(ctx, r.Channel)
	if err != nil {
		return nil, err
	}
	if ch.State != record.Active {
		return nil, badrequest.New("%v: %s is %s; the peer must accept it first", protocol.ErrNotActive, r.Channel, ch.State)
	}
	s.callMu.Lock()
	defer s.callMu.Unlock()
	if r.Back != "" {
		c, err := s.findCall(ctx, r.Back)
		if err != nil {
			return nil, err
		}
		switch {
		case c.ID.Channel != r.Channel:
			return nil, badrequest.New("call %s is on channel %s, not %s", c.ID, c.ID.Channel, r.Channel)
		case c.ID.Author == s.name:
			return nil, badrequest.New("call %s is this station's own: a call back returns the peer's call", c.ID)
		}
		if why := settled(c); why != "" {
			return nil, badrequest.New("%s: there is nothing to call back", why)
		}
	}
	return s.writeCall(ctx, r.Channel, envelope.CallRequest, prec, call.Request{Caller: r.As, Video: r.Video, Back: r.Back}, "")
}

// answerable returns the peer's call that a person here may still answer
// or decline.
func (s *Desk) answerable(ctx context.Context, r ops.CallActRequest, verb string) (*call.Call, error) {
	if err := checkName("who "+verb+"s", r.As); err != nil {
		return nil, err
	}
	c, err := s.findCall(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	if c.ID.Author == s.name {
		return nil, badrequest.New("call %s is this station's own: only %s can %s it", c.ID, s.peerOf(ctx, c.ID.Channel), verb)
	}
	if why := settled(c); why != "" {
		return nil, badrequest.New("%s: it cannot be %sd", why, verb)
	}
	return c, nil
}

func (s *Desk) peerOf(ctx context.Context, ch string) string {
	if c, err := s.activeChannel(ctx, ch); err == nil {
		return c.Peer
	}
	return "the peer"
}

// AnswerCall answers the peer's call on behalf of a person. The answer
// acknowledges the call: its ladder stops at both stations.
func (s *Desk) AnswerCall(ctx context.Context, r ops.CallActRequest) (*ops.CallView, error) {
	if r.Reason != "" {
		return nil, badrequest.New("an answer takes no reason")
	}
	s.callMu.Lock()
	defer s.callMu.Unlock()
	c, err := s.answerable(ctx, r, "answer")
	if err != nil {
		return nil, err
	}
	return s.writeCall(ctx, c.ID.Channel, envelope.CallAnswer, c.Precedence, call.Answer{Call: c.ID.String(), By: r.As, Video: r.Video}, c.ID.String())
}

// DeclineCall declines the peer's call, with a reason. The decline
// acknowledges the call: its ladder stops at both stations.
func (s *Desk) DeclineCall(ctx context.Context, r ops.CallActRequest) (*ops.CallView, error) {
	if err := call.Visible("the reason", r.Reason, call.MaxReason, false); err != nil {
		return nil, badrequest.New("%v", err)
	}
	s.callMu.Lock()
	defer s.callMu.Unlock()
	c, err := s.answerable(ctx, r, "decline")
	if err != nil {
		return nil, err
	}
	return s.writeCall(ctx, c.ID.Channel, envelope.CallDecline, c.Precedence, call.Decline{Call: c.ID.String(), By: r.As, Reason: r.Reason}, c.ID.String())
}

// EndCall ends a call, this station's or the peer's, answered or still
// ringing.
func (s *Desk) EndCall(ctx context.Context, r ops.CallActRequest) (*ops.CallView, error) {
	if err := checkName("who ends the call", r.As); err != nil {
		return nil, err
	}
	if r.Reason != "" {
		return nil, badrequest.New("ending a call takes no reason")
	}
	s.callMu.Lock()
	defer s.callMu.Unlock()
	c, err := s.findCall(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	switch {
	case c.State == call.Ended:
		return nil, badrequest.New("call %s has ended already (by %s)", c.ID, protocol.Reveal(c.EndedBy))
	case c.State == call.Declined:
		return nil, badrequest.New("call %s was declined (by %s): there is nothing to end", c.ID, protocol.Reveal(c.DeclinedBy))
	case c.ReturnedBy != nil:
		return nil, badrequest.New("call %s was called back, as %s: there is nothing to end", c.ID, c.ReturnedBy)
	case c.State != call.Answered && c.ID.Author != s.name:
		return nil, badrequest.New("call %s is the peer's and was not answered: decline it instead", c.ID)
	}
	return s.writeCall(ctx, c.ID.Channel, envelope.CallEnd, c.Precedence, call.End{Call: c.ID.String(), By: r.As}, c.ID.String())
}
