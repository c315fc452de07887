package desk

// Calls at the station (docs/CALLS.md): each act on a call is an entry
// written through the core like any message. The desk checks an act
// against the call as both logs hold it before writing, so that a second
// answer, an answer to a call that ended or was never made, or an answer
// to this station's own call is refused and nothing is written. When the
// station runs its media (Media), the request carries this station's
// media offer and the answer the other's answer; the desk tells the media
// what the entries say (WatchMedia) and connects browsers (CallMedia).

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
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
		if cc, err := parseCharter(c.Charter); err == nil {
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

// Media is the station's media engine (internal/media) as the desk asks
// it, by call id. Its errors that are the asker's (a bad description, no
// media for a call, a console attached already) are badrequest errors.
type Media interface {
	// Offer makes this station's leg of a call it places.
	// peer is the other station's name.
	Offer(ctx context.Context, peer string, video bool) (MediaOffer, error)
	// Answer makes this station's leg of the other station's call from
	// the offer in its signed request, and returns the answer.
	Answer(ctx context.Context, call, peer, offer string, video bool) (string, error)
	// Accept takes the answer from the other station's signed answer.
	// video: the call has video (both parties chose it).
	Accept(call, answer string, video bool) error
	// Fail records why a call has no media here.
	Fail(call, reason string)
	// Attach connects a participant's browser: its offer in, the
	// station's answer out.
	Attach(ctx context.Context, call, who, offer string) (string, error)
	// End closes a call's media here, with the reason ("" when the call
	// ended).
	End(call, reason string)
	// View is a call's media, false if there is none here.
	View(call string) (ops.CallMediaView, bool)
	// Live lists the calls whose media is not closed.
	Live() []string
	// Record starts recording the audio this station's side sends in a
	// call (the channel's charter says call-recording); again is a no-op.
	Record(call string) error
	// FinishRecording closes a call's recording and names it: nil if
	// there was none or nothing was recorded.
	FinishRecording(call string) (*call.Recording, error)
	// Recording lists the calls being recorded (their media may have
	// closed before the entry that ends them arrived).
	Recording() []string
	// Limit sets the charter's limits on a call: each stream capped at
	// kbps kbit/s (call-bitrate), video refused (call-video no).
	Limit(call string, kbps int, noVideo bool) error
}

// MediaOffer is the media of a call being placed, until its request is
// written (Bind) or not (Drop).
type MediaOffer interface {
	SDP() string
	Bind(call string) error
	Drop()
}

// SetMedia gives the desk the station's media, nil when it stops.
func (s *Desk) SetMedia(m Media) {
	s.mediaMu.Lock()
	s.media = m
	s.mediaMu.Unlock()
	s.KickMedia()
}

func (s *Desk) mediaOf() Media {
	s.mediaMu.Lock()
	defer s.mediaMu.Unlock()
	return s.media
}

// withMedia adds the call's media at this station to its view.
func (s *Desk) withMedia(v ops.CallView) ops.CallView {
	if m := s.mediaOf(); m != nil {
		if mv, ok := m.View(v.ID); ok {
			v.Media = &mv
		}
	}
	return v
}

// KickMedia asks the media watcher for a pass, if one runs (WatchMedia).
func (s *Desk) KickMedia() {
	select {
	case s.mediaKick <- struct{}{}:
	default:
	}
}

// WatchMedia tells the station's media what the call entries say, at
// once and whenever kicked (a call entry arrived or was written), until
// ctx is done or the station stops: the answer to this station's call
// connects its media; an end, a decline or a call back closes it.
func (s *Desk) WatchMedia(ctx context.Context) {
	for {
		if err := s.tellMedia(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("call media: reading the calls failed", "err", err)
		}
		select {
		case <-s.mediaKick:
		case <-ctx.Done():
			return
		case <-s.done:
			return
		}
	}
}

func (s *Desk) tellMedia(ctx context.Context) error {
	m := s.mediaOf()
	if m == nil {
		return nil
	}
	live := m.Live()
	recording := m.Recording()
	if len(live) == 0 && len(recording) == 0 {
		return nil
	}
	cs, err := s.folded(ctx, "")
	if err != nil {
		return err
	}
	for _, c := range cs {
		id := c.ID.String()
		if !slices.Contains(live, id) {
			if slices.Contains(recording, id) && (c.State == call.Ended || c.State == call.Declined || c.ReturnedBy != nil) {
				s.leaveRecorded(ctx, m, c)
			}
			continue
		}
		switch {
		case c.State == call.Ended || c.State == call.Declined || c.ReturnedBy != nil:
			m.End(id, "")
			s.leaveRecorded(ctx, m, c)
		case c.State == call.Answered && c.ID.Author == s.name:
			v, _ := m.View(id)
			if v.State != "offered" {
				continue
			}
			if c.Answer == nil {
				m.End(id, "the other station answered without media")
				continue
			}
			if err := m.Accept(id, c.Answer.SDP, c.Video); err != nil {
				s.log.Warn("call media: the other station's answer refused", "call", id, "err", err)
			}
		}
	}
	return nil
}

// CallRecording is this station's recording of its own side of a call,
// decrypted and checked against the hash its signed entry names.
func (s *Desk) CallRecording(ctx context.Context, r ops.CallRecordingRequest) (*ops.CallRecordingFile, error) {
	c, err := s.findCall(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	for _, x := range c.Recordings {
		if x.Station != s.name {
			continue
		}
		ogg, err := s.st.ReadRecording(c.ID.String(), x.Recording)
		if err != nil {
			return nil, badrequest.New("%v", err)
		}
		return &ops.CallRecordingFile{ID: c.ID.String(), Ogg: ogg, CallRecordingView: ops.CallRecordingView{
			Station: x.Station, Entry: x.Entry.String(), SHA256: x.SHA256, Bytes: x.Bytes}}, nil
	}
	return nil, badrequest.New("no signed entry of this station names a recording of call %s: its channel's charter does not record calls, the call is not over, or this side sent no audio", c.ID)
}

// joined writes a join entry for a participant whose browser attached,
// unless they are in the call on this side already.
func (s *Desk) joined(ctx context.Context, c *call.Call, who string) {
	for _, p := range c.Participants {
		if p.Station == s.name && p.Name == who && p.Present {
			return
		}
	}
	s.callMu.Lock()
	defer s.callMu.Unlock()
	if _, err := s.writeCall(ctx, c.ID.Channel, envelope.CallJoin, c.Precedence, call.Join{Call: c.ID.String(), Participant: who}, c.ID.String()); err != nil {
		s.log.Error("call: the join entry of a participant was not written", "call", c.ID, "who", who, "err", err)
	}
}

// ParticipantLeft writes a leave entry for a participant whose browser
// went away during a call that goes on.
func (s *Desk) ParticipantLeft(ctx context.Context, id, who string) {
	c, err := s.findCall(ctx, id)
	if err != nil || c.State == call.Ended || c.State == call.Declined || c.ReturnedBy != nil {
		return
	}
	s.callMu.Lock()
	defer s.callMu.Unlock()
	if _, err := s.writeCall(ctx, c.ID.Channel, envelope.CallLeave, c.Precedence, call.Leave{Call: id, Participant: who}, id); err != nil {
		s.log.Error("call: the leave entry of a participant was not written", "call", id, "who", who, "err", err)
	}
}

// leaveRecorded names this station's recording of a call the other
// party ended in a leave entry of this station's log, so that both
// stations' recordings are in signed entries.
func (s *Desk) leaveRecorded(ctx context.Context, m Media, c call.Call) {
	rec, err := m.FinishRecording(c.ID.String())
	if err != nil {
		s.log.Error("call recording could not be finished", "call", c.ID, "err", err)
	}
	if rec == nil {
		return
	}
	s.callMu.Lock()
	defer s.callMu.Unlock()
	if _, err := s.writeCall(ctx, c.ID.Channel, envelope.CallLeave, c.Precedence,
		call.Leave{Call: c.ID.String(), Participant: s.name, Recording: rec}, c.ID.String()); err != nil {
		s.log.Error("call recording: the leave entry naming it was not written", "call", c.ID, "sha256", rec.SHA256, "err", err)
	}
}

// CallMedia connects a browser to a call's audio at this station: the
// browser's offer in, the station's answer out. The call must be this
// station's, ringing or answered, or the peer's once answered here, and
// have media here.
func (s *Desk) CallMedia(ctx context.Context, r ops.CallMediaRequest) (*ops.CallMediaAnswer, error) {
	m := s.mediaOf()
	if m == nil {
		return nil, badrequest.New("this station carries no media now: its media starts with hotline run")
	}
	c, err := s.findCall(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	switch {
	case c.State == call.Ended || c.State == call.Declined || c.ReturnedBy != nil:
		return nil, badrequest.New("%s: there is nothing to talk on", settled(c))
	case c.ID.Author != s.name && c.State != call.Answered:
		return nil, badrequest.New("call %s is the peer's and was not answered: answer it first", c.ID)
	case c.Offer == nil:
		return nil, badrequest.New("call %s was placed without media: there is nothing to talk on", c.ID)
	}
	if charter := s.charterOf(ctx, c.ID.Channel); charter != nil && (charter.CallBitrate > 0 || charter.CallNoVideo) {
		if err := m.Limit(c.ID.String(), charter.CallBitrate, charter.CallNoVideo); err != nil {
			return nil, err
		}
	}
	who := r.As
	if who == "" {
		who = s.name + " console"
	}
	if err := checkName("the participant", who); err != nil {
		return nil, err
	}
	sdp, err := m.Attach(ctx, c.ID.String(), who, r.SDP)
	if err != nil {
		return nil, err
	}
	s.joined(ctx, c, who)
	if s.recorded(ctx, c.ID.Channel) {
		if err := m.Record(c.ID.String()); err != nil {
			// The call goes on; that it is not recorded is said, and no
			// hash will be signed for it.
			s.log.Error("call recording could not start", "call", c.ID, "err", err)
		}
	}
	return &ops.CallMediaAnswer{ID: c.ID.String(), SDP: sdp}, nil
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
	for _, r := range c.Recordings {
		v.Recordings = append(v.Recordings, ops.CallRecordingView{Station: r.Station, Entry: r.Entry.String(), SHA256: r.SHA256, Bytes: r.Bytes})
	}
	for _, p := range c.Participants {
		v.Participants = append(v.Participants, ops.CallParticipantView{Station: p.Station, Name: protocol.Reveal(p.Name), Present: p.Present})
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
		out = append(out, s.withMedia(callView(c)))
	}
	return out, nil
}

// activeChannel returns a channel that exists here, refusing an unknown
// one as the asker's error.
// recorded says whether a channel's charter has its calls recorded.
func (s *Desk) recorded(ctx context.Context, id string) bool {
	c := s.charterOf(ctx, id)
	return c != nil && c.CallRecording
}

// charterOf is a channel's charter, nil if there is none to read.
func (s *Desk) charterOf(ctx context.Context, id string) *channel.Charter {
	ch, err := s.activeChannel(ctx, id)
	if err != nil {
		return nil
	}
	c, err := parseCharter(ch.Charter)
	if err != nil {
		return nil
	}
	return c
}

// noVideo refuses video on a channel whose charter forbids it.
func (s *Desk) noVideo(ctx context.Context, id, what string) error {
	if c := s.charterOf(ctx, id); c != nil && c.CallNoVideo {
		return badrequest.New("%s with video: the charter of channel %s forbids video in calls (call-video no)", what, id)
	}
	return nil
}

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
	v := s.withMedia(callView(*c))
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
	if r.Video {
		if err := s.noVideo(ctx, r.Channel, "a call"); err != nil {
			return nil, err
		}
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
	req := call.Request{Caller: r.As, Video: r.Video, Back: r.Back}
	// The call is placed even when this station cannot make its media:
	// the request is on the record and climbs the ladder; the reason is
	// in the call's media.
	m := s.mediaOf()
	var offer MediaOffer
	var offerErr error
	if m != nil {
		if offer, offerErr = m.Offer(ctx, s.peerOf(ctx, r.Channel), r.Video); offerErr == nil {
			req.Media = &call.Media{SDP: offer.SDP()}
		} else {
			s.log.Warn("call media: making this station's offer failed", "err", offerErr)
		}
	}
	v, err := s.writeCall(ctx, r.Channel, envelope.CallRequest, prec, req, "")
	if err != nil {
		if offer != nil {
			offer.Drop()
		}
		return nil, err
	}
	switch {
	case offer != nil:
		if err := offer.Bind(v.ID); err != nil {
			s.log.Warn("call media: the offer could not be kept", "call", v.ID, "err", err)
		}
		s.KickMedia()
	case offerErr != nil:
		m.Fail(v.ID, "making this station's media offer: "+offerErr.Error())
	}
	w := s.withMedia(*v)
	return &w, nil
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
	if r.Video {
		if err := s.noVideo(ctx, c.ID.Channel, "an answer"); err != nil {
			return nil, err
		}
	}
	id := c.ID.String()
	a := call.Answer{Call: id, By: r.As, Video: r.Video}
	m := s.mediaOf()
	if m != nil && c.Offer != nil {
		// A person answers even when the media cannot be made: the
		// answer is on the record, and the reason in the call's media.
		sdp, err := m.Answer(ctx, id, c.ID.Author, c.Offer.SDP, c.Video && r.Video)
		if err != nil {
			s.log.Warn("call media: answering the other station's offer failed", "call", id, "err", err)
			m.Fail(id, "answering the other station's media offer: "+err.Error())
		} else {
			a.Media = &call.Media{SDP: sdp}
		}
	}
	v, err := s.writeCall(ctx, c.ID.Channel, envelope.CallAnswer, c.Precedence, a, id)
	if err != nil && a.Media != nil {
		m.End(id, "the answer was not written")
	}
	return v, err
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
	end := call.End{Call: c.ID.String(), By: r.As}
	if m := s.mediaOf(); m != nil {
		rec, err := m.FinishRecording(c.ID.String())
		if err != nil {
			s.log.Error("call recording could not be finished: the end entry names none", "call", c.ID, "err", err)
		}
		end.Recording = rec
	}
	v, err := s.writeCall(ctx, c.ID.Channel, envelope.CallEnd, c.Precedence, end, c.ID.String())
	if err == nil {
		if m := s.mediaOf(); m != nil {
			m.End(c.ID.String(), "")
			w := s.withMedia(*v)
			v = &w
		}
	}
	return v, err
}
