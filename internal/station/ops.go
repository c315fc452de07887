package station

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"hotline/internal/badrequest"
	"hotline/internal/desk"
	"hotline/internal/envelope"
	"hotline/internal/identity"
	"hotline/internal/ops"
	"hotline/internal/protocol"
	"hotline/internal/store"
)

var _ ops.Ops = (*Station)(nil)

// Card returns the station's signed card.
func (s *Station) Card(ctx context.Context) ([]byte, error) {
	_, card := s.Identity()
	return card.Text, nil
}

// AddPeer pins a peer's card after checking the fingerprint a person read.
func (s *Station) AddPeer(ctx context.Context, text []byte, fingerprint string) (*ops.PeerView, error) {
	card, err := identity.ParseCard(text)
	if err != nil {
		return nil, badrequest.New("%v", err)
	}
	if !identity.SameFingerprint(card.Fingerprint(), fingerprint) {
		return nil, badrequest.New("%v: the card of %s does not have the fingerprint given; do not pin it, and read the fingerprint again with its owner", identity.ErrFingerprint, card.Name)
	}
	if _, err := s.Call(ctx, func(id uint64) protocol.Event { return protocol.AddPeer{ID: id, Card: card} }); err != nil {
		return nil, desk.AsBadRequest(err)
	}
	if err := s.inLoop(ctx, s.refreshPins); err != nil {
		return nil, err
	}
	for _, t := range s.transports {
		t.Pinned(card.Name)
	}
	return &ops.PeerView{Name: card.Name, Party: card.Party, Fingerprint: card.Fingerprint(), Endpoints: card.Endpoints, AddedAt: time.Now().UTC()}, nil
}

// AddIntroduced pins a peer on the signed introduction of a peer pinned
// already, once a person (r.By) takes the introducer's word; without By
// it pins nothing and says what the introduction vouches for.
func (s *Station) AddIntroduced(ctx context.Context, r ops.IntroducedRequest) (*ops.PeerView, error) {
	in, card, err := s.CheckIntroduction(ctx, r.IntroductionFile)
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("%s introduces %s (party %s, fingerprint %s), which %s pinned on %s; signed %s",
		in.Introducer, in.Peer, in.Party, in.Fingerprint, in.Introducer, in.PinnedAt.Format(time.RFC3339), in.At.Format(time.RFC3339))
	if strings.TrimSpace(r.By) == "" {
		return nil, badrequest.New("%s. Nothing is pinned until a person takes %s's word for it: give who decides (--by NAME)", what, in.Introducer)
	}
	if err := protocol.Visible("who decides", r.By); err != nil || len(r.By) > 128 {
		return nil, badrequest.New("by: %q: at most 128 characters, none invisible", r.By)
	}
	v, err := s.AddPeer(ctx, card.Text, card.Fingerprint())
	if err != nil {
		return nil, err
	}
	if err := s.Store.AddIntroduction(ctx, store.Introduction{Peer: card.Name, Introducer: in.Introducer, Statement: in.Text,
		ConfirmedBy: r.By, At: time.Now().UTC()}); err != nil {
		return nil, err
	}
	s.Log.Info("peer pinned on an introduction", "peer", card.Name, "introducer", in.Introducer, "by", r.By)
	v.IntroducedBy, v.ConfirmedBy = in.Introducer, r.By
	return v, nil
}

// Connected names the peers a path is up to.
func (s *Station) Connected(ctx context.Context) map[string]bool {
	out := map[string]bool{}
	s.inLoop(ctx, func() {
		for _, n := range s.core.PeerNames() {
			out[n] = s.core.Ready(n)
		}
	})
	return out
}

// Send appends a text message to this station's log for a channel. It
// returns once the message is durable here.
func (s *Station) Send(ctx context.Context, r ops.SendRequest) (*ops.MessageView, error) {
	q, err := s.QueueSend(ctx, r)
	if err != nil {
		return nil, err
	}
	return q.Wait()
}

// QueueSend is Send for a caller with many sends in flight: it returns once
// the message is queued, and the loop appends queued messages in the order
// they were queued. A message refused before it was queued (a bad
// precedence, text too long, a full disk) is refused here; the rest, once
// its entry is durable or refused, by Wait.
func (s *Station) QueueSend(ctx context.Context, r ops.SendRequest) (*QueuedSend, error) {
	prec, err := envelope.ParsePrecedence(r.Precedence)
	if err != nil {
		return nil, badrequest.New("%v", err)
	}
	if err := protocol.CheckText(r.Text); err != nil {
		return nil, badrequest.New("%v", err)
	}
	if err := protocol.Visible("message text", r.Text); err != nil {
		return nil, badrequest.New("%v", err)
	}
	body, _ := json.Marshal(protocol.TextBody{Text: r.Text, Lang: r.Lang})
	reply, err := s.queue(ctx, func(id uint64) protocol.Event {
		return protocol.Submit{ID: id, Channel: r.Channel, Kind: envelope.Text, Precedence: prec, Body: body}
	})
	if err != nil {
		return nil, desk.AsBadRequest(err)
	}
	return &QueuedSend{s: s, ctx: ctx, reply: reply, req: r, prec: prec}, nil
}

// A QueuedSend is a message QueueSend queued.
type QueuedSend struct {
	s     *Station
	ctx   context.Context
	reply chan protocol.Done
	req   ops.SendRequest
	prec  envelope.Precedence
}

// Ready reports whether the outcome is in, so that Wait will not block.
func (q *QueuedSend) Ready() bool { return len(q.reply) > 0 }

// Wait returns what Send would have: the message once its entry is
// durable, or why it was refused.
func (q *QueuedSend) Wait() (*ops.MessageView, error) {
	res, err := q.s.await(q.ctx, q.reply)
	if err != nil {
		return nil, desk.AsBadRequest(err)
	}
	// Built from what was just written, not read back: this is the hot path.
	now := res.At.UTC()
	return &ops.MessageView{ID: res.Entry, Channel: q.req.Channel, Index: res.Index, From: q.s.Cfg.Name, Precedence: q.prec.String(),
		Text: q.req.Text, Lang: q.req.Lang, SentAt: now, ReceivedAt: now, Status: "queued", AckDue: now.Add(res.Deadline)}, nil
}
