package desk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"hotline/internal/badrequest"
	"hotline/internal/channel"
	"hotline/internal/codebook"
	"hotline/internal/deconflict"
	"hotline/internal/envelope"
	"hotline/internal/identity"
	"hotline/internal/ops"
	"hotline/internal/protocol"
	"hotline/internal/record"
	"hotline/internal/store"
	"hotline/internal/transcript"
)

// AsBadRequest marks what the core refused as the operator's error; a
// storage failure or a stopping station stays the station's.
func AsBadRequest(err error) error {
	if err == nil || errors.Is(err, protocol.ErrStorage) || errors.Is(err, ops.ErrStopped) || errors.Is(err, ops.ErrDiskFull) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %w", badrequest.Err, err)
}

// Peers lists pinned peers.
func (s *Desk) Peers(ctx context.Context) ([]ops.PeerView, error) {
	ps, err := s.db.Peers(ctx)
	if err != nil {
		return nil, err
	}
	conn := s.st.Connected(ctx)
	ins, err := s.db.Introductions(ctx)
	if err != nil {
		return nil, err
	}
	introduced := map[string]store.Introduction{}
	for _, in := range ins {
		introduced[in.Peer] = in
	}
	out := []ops.PeerView{}
	for _, p := range ps {
		c, err := identity.ParseCard(p.Card)
		if err != nil {
			return nil, err
		}
		ks, err := s.st.KeyHistory(ctx, p.Name)
		if err != nil {
			return nil, err
		}
		in := introduced[p.Name]
		out = append(out, ops.PeerView{Name: p.Name, Party: p.Party, Fingerprint: p.Fingerprint, Endpoints: c.Endpoints, AddedAt: p.AddedAt, Connected: conn[p.Name], Keys: ks,
			IntroducedBy: in.Introducer, ConfirmedBy: in.ConfirmedBy})
	}
	return out, nil
}

// Propose proposes a channel to a pinned peer.
func (s *Desk) Propose(ctx context.Context, r ops.ProposeRequest) (*ops.ChannelView, error) {
	if err := identity.CheckName("channel id", r.Channel); err != nil {
		return nil, badrequest.New("%v", err)
	}
	level, err := channel.ParseLevel(r.Level)
	if err != nil {
		return nil, badrequest.New("%v", err)
	}
	perPrec := func(what string, m map[string]string) (map[envelope.Precedence]time.Duration, error) {
		out := map[envelope.Precedence]time.Duration{}
		for k, v := range m {
			p, err := envelope.ParsePrecedence(k)
			if err != nil {
				return nil, badrequest.New("%s: %v", what, err)
			}
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return nil, badrequest.New("%s for %s: %q is not a positive duration like 5m", what, p, v)
			}
			out[p] = d
		}
		return out, nil
	}
	deadlines, err := perPrec("deadline", r.Deadlines)
	if err != nil {
		return nil, err
	}
	delivery, err := perPrec("delivery deadline", r.Delivery)
	if err != nil {
		return nil, err
	}
	var durs [3]time.Duration
	for i, f := range []struct{ name, v string }{{"link test", r.LinkTest}, {"check interval", r.CheckEvery}, {"check window", r.CheckWindow}} {
		if f.v == "" {
			continue
		}
		if durs[i], err = time.ParseDuration(f.v); err != nil || durs[i] <= 0 {
			return nil, badrequest.New("%s %q is not a positive duration like 10m", f.name, f.v)
		}
	}
	cb, err := FindBook(s.st.Books(), r.Codebook)
	if err != nil {
		return nil, err
	}
	if _, err := s.st.Call(ctx, func(id uint64) protocol.Event {
		return protocol.Propose{ID: id, Channel: r.Channel, Peer: r.Peer, Level: level, Deadlines: deadlines, Delivery: delivery,
			EscalateTo: r.EscalateTo, FlashExempt: r.FlashExempt, CallRecording: r.CallRecording, CallNoVideo: r.NoCallVideo, CallBitrate: r.CallBitrate, LinkTest: durs[0], CheckEvery: durs[1], CheckWindow: durs[2],
			Codebook: cb.Ref()}
	}); err != nil {
		return nil, AsBadRequest(err)
	}
	return s.channelView(ctx, r.Channel)
}

// Accept accepts a channel the peer proposed.
func (s *Desk) Accept(ctx context.Context, ch string) (*ops.ChannelView, error) {
	if _, err := s.st.Call(ctx, func(id uint64) protocol.Event { return protocol.Accept{ID: id, Channel: ch} }); err != nil {
		return nil, AsBadRequest(err)
	}
	return s.channelView(ctx, ch)
}

// Withdraw withdraws a channel this station proposed and the peer has
// not accepted: a signed withdraw entry the peer follows.
func (s *Desk) Withdraw(ctx context.Context, r ops.WithdrawRequest) (*ops.ChannelView, error) {
	if r.By == "" {
		return nil, badrequest.New("withdraw: say who withdraws it (--as NAME)")
	}
	if _, err := s.st.Call(ctx, func(id uint64) protocol.Event {
		return protocol.Withdraw{ID: id, Channel: r.Channel, By: r.By, Reason: r.Reason}
	}); err != nil {
		return nil, AsBadRequest(err)
	}
	return s.channelView(ctx, r.Channel)
}

func (s *Desk) channelView(ctx context.Context, id string) (*ops.ChannelView, error) {
	cs, err := s.Channels(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		if c.ID == id {
			return &c, nil
		}
	}
	return nil, badrequest.New("%v: %q", protocol.ErrUnknownChannel, id)
}

// Channels lists channels with their delivery state.
func (s *Desk) Channels(ctx context.Context) ([]ops.ChannelView, error) {
	// Read through the loop so that the view matches what was just done.
	var info []protocol.ChannelInfo
	if err := s.st.InLoop(ctx, func(core *protocol.Core) { info = core.Channels() }); err != nil {
		return nil, err
	}
	stored, err := s.db.Channels(ctx)
	if err != nil {
		return nil, err
	}
	byID := map[string]record.Channel{}
	for _, c := range stored {
		byID[c.ID] = c
	}
	out := []ops.ChannelView{}
	refusing := s.st.RelaysRefusing()
	_, own := s.st.Identity()
	for _, i := range info {
		c := byID[i.ID]
		v := channelView(s.name, i, c)
		relayTroubles(&v, own, refusing)
		out = append(out, v)
	}
	return out, nil
}

// RelayNeeded reports whether a channel with peer needs relay r: one of
// this station's own (where it picks up all its mail), or one the peer's
// card lists (where it deposits for the peer).
func RelayNeeded(r ops.RelayRefusalView, peer string) bool {
	return r.Own || slices.Contains(r.Peers, peer)
}

// relayTroubles makes an agreed channel degraded while a relay it needs
// refuses this station: one of this station's own (where it picks up all
// its mail) or one of the peer's (where it deposits for the peer).
func relayTroubles(v *ops.ChannelView, own *identity.Card, refusing []ops.RelayRefusalView) {
	if v.Agreement != record.Active || v.State == protocol.StateSuspended || v.State == protocol.StateDormant {
		return
	}
	for _, r := range refusing {
		if !RelayNeeded(r, v.Peer) {
			continue
		}
		whose := own.Name + "'s card"
		if !r.Own {
			whose = v.Peer + "'s card"
		}
		v.Troubles = append(v.Troubles, ops.TroubleView{Kind: "relay",
			Reason: fmt.Sprintf("relay %s at %s, listed in %s, refuses this station (since %s): %s", r.Relay, r.Addr, whose, r.Since.UTC().Format(time.RFC3339), r.Error),
			Action: fmt.Sprintf("read this station's fingerprint (%s) to the relay's operator and have them run hotline relay allow --card CARD --fingerprint FP (with --replace after a lost key)", own.Fingerprint()),
		})
		if v.State == protocol.StateActive {
			v.State = protocol.StateDegraded
		}
	}
}

func channelView(self string, i protocol.ChannelInfo, c record.Channel) ops.ChannelView {
	v := ops.ChannelView{ID: i.ID, Peer: i.Peer, Level: i.Level, State: i.State, Agreement: i.Agreement, Proposer: c.Proposer,
		Written: i.Written, Delivered: i.Delivered, Received: i.Received, Connected: i.Connected, Blocked: i.Blocked,
		ReceiptAt: i.ReceiptAt, Deadlines: map[string]string{}, Delivery: map[string]string{}, Suspensions: []ops.SuspensionView{}, Dormant: i.Dormant,
		AwaitingPeer: i.AwaitingPeer, AwaitingHere: i.AwaitingHere, Paths: []ops.PathView{}}
	for _, t := range i.Troubles {
		v.Troubles = append(v.Troubles, ops.TroubleView{Kind: t.Kind, Reason: t.Reason, Action: t.Action})
	}
	for _, x := range i.Suspensions {
		// What was stored before invisible characters were refused shows them.
		v.Suspensions = append(v.Suspensions, ops.SuspensionView{By: x.By, Index: x.Index, Reason: protocol.Reveal(x.Reason), At: x.At})
	}
	if ch, err := parseCharter(c.Charter); err == nil {
		for p, d := range ch.Deadlines {
			v.Deadlines[p.String()] = d.String()
		}
		for p, d := range ch.Delivery {
			v.Delivery[p.String()] = d.String()
		}
		v.EscalateTo, v.FlashExempt, v.CallRecording = ch.EscalateTo, ch.FlashExempt, ch.CallRecording
		v.NoCallVideo, v.CallBitrate = ch.CallNoVideo, ch.CallBitrate
		v.LinkTest, v.CheckEvery, v.CheckWindow = ch.LinkTest.String(), ch.CheckEvery.String(), ch.CheckWindow.String()
		v.Codebook = ch.Codebook.String()
	}
	if i.LastCheck != 0 {
		at := i.LastCheckAt.UTC()
		v.LastCheck, v.LastCheckAt = fmt.Sprintf("%s/%s/%d", i.ID, self, i.LastCheck), &at
	}
	for _, p := range i.Paths {
		pv := ops.PathView{Name: p.Name, Up: p.Up, Active: p.Active, Probes: p.Probes, Lost: p.Lost}
		if !p.LastOK.IsZero() {
			ok := p.LastOK.UTC()
			rtt := float64(p.RTT.Microseconds()) / 1000
			pv.LastOK, pv.RTTms = &ok, &rtt
		}
		if p.SkewKnown {
			skew := float64(p.Skew.Microseconds()) / 1000
			pv.Skewms = &skew
		}
		if p.Measured {
			cost := float64(p.Cost.Microseconds()) / 1000
			pv.Costms = &cost
		}
		v.Paths = append(v.Paths, pv)
	}
	return v
}

// Suspend suspends a channel for this party: a signed entry with the
// reason, shown to both sides as a suspension.
func (s *Desk) Suspend(ctx context.Context, r ops.SuspendRequest) (*ops.ChannelView, error) {
	return s.suspendOrResume(ctx, r, envelope.Suspend)
}

// Resume lifts this party's suspension of a channel.
func (s *Desk) Resume(ctx context.Context, r ops.SuspendRequest) (*ops.ChannelView, error) {
	return s.suspendOrResume(ctx, r, envelope.Resume)
}

func (s *Desk) suspendOrResume(ctx context.Context, r ops.SuspendRequest, kind envelope.Kind) (*ops.ChannelView, error) {
	var body []byte
	if kind == envelope.Suspend {
		body, _ = json.Marshal(protocol.SuspendBody{Reason: r.Reason, By: r.By})
	} else {
		body, _ = json.Marshal(protocol.ResumeBody{Reason: r.Reason, By: r.By})
	}
	if _, err := protocol.DecodeBody(kind, body); err != nil {
		return nil, badrequest.New("%v", err)
	}
	if _, err := s.st.Call(ctx, func(id uint64) protocol.Event {
		return protocol.Submit{ID: id, Channel: r.Channel, Kind: kind, Precedence: envelope.Flash, Body: body}
	}); err != nil {
		return nil, AsBadRequest(err)
	}
	return s.channelView(ctx, r.Channel)
}

// Checks reports a channel's communication checks over the last day,
// week and month.
func (s *Desk) Checks(ctx context.Context, ch string) (*ops.ChecksView, error) {
	if _, err := s.channelView(ctx, ch); err != nil {
		return nil, err
	}
	now := time.Now()
	v := &ops.ChecksView{Channel: ch}
	for _, p := range []struct {
		name string
		d    time.Duration
	}{{"day", 24 * time.Hour}, {"week", 7 * 24 * time.Hour}, {"month", 30 * 24 * time.Hour}} {
		st, err := s.db.CheckStats(ctx, ch, s.name, now.Add(-p.d))
		if err != nil {
			return nil, err
		}
		cs := ops.CheckStats{Period: p.name, Checks: st.Checks, Answered: st.Answered, LinkTests: st.Probes, LinkAnswered: st.ProbesAnswered}
		if st.Checks > 0 {
			r := float64(st.Answered) / float64(st.Checks)
			cs.AnswerRate = &r
		}
		if st.Answered > 0 {
			cs.MeanAnswer = (st.AnswerTime / time.Duration(st.Answered)).Round(time.Second).String()
		}
		if st.Probes > 0 {
			r := float64(st.ProbesAnswered) / float64(st.Probes)
			cs.LinkRate = &r
		}
		if st.ProbesAnswered > 0 {
			ms := float64((st.ProbeRTT / time.Duration(st.ProbesAnswered)).Microseconds()) / 1000
			cs.LinkMeanRTTms = &ms
		}
		v.Periods = append(v.Periods, cs)
	}
	return v, nil
}

// Escalations lists the deadline ladder steps this station took on a
// channel ("" for every channel), oldest first.
func (s *Desk) Escalations(ctx context.Context, ch string) ([]ops.EscalationView, error) {
	xs, err := s.db.Escalations(ctx, ch)
	if err != nil {
		return nil, err
	}
	out := make([]ops.EscalationView, 0, len(xs))
	for _, x := range xs {
		out = append(out, ops.EscalationView{Channel: x.Channel, Entry: fmt.Sprintf("%s/%s/%d", x.Channel, x.Author, x.Index),
			Author: x.Author, Index: x.Index, Step: x.Step, Name: ops.StepNames[x.Step], At: x.At, Detail: x.Detail})
	}
	return out, nil
}

// message returns one text message (not an agreement or acknowledgement).
func (s *Desk) message(ctx context.Context, ch, author string, idx uint64) (*ops.MessageView, error) {
	ms, err := s.db.Messages(ctx, store.Query{Channel: ch, Author: author, Kinds: messageKinds, Since: idx - 1, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 || ms[0].Index != idx {
		return nil, badrequest.New("%s/%s/%d: no such message from %s (only messages, checks, notices, reports and incident entries can be acknowledged)", ch, author, idx, author)
	}
	vs, err := s.views(ctx, ms)
	if err != nil {
		return nil, err
	}
	return &vs[0], nil
}

func (s *Desk) views(ctx context.Context, ms []store.Message) ([]ops.MessageView, error) {
	charters := map[string]*channel.Charter{}
	books := map[string]*codebook.Codebook{}
	stored, err := s.db.Channels(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range stored {
		if ch, err := parseCharter(c.Charter); err == nil {
			charters[c.ID] = ch
			books[c.ID], _ = codebook.Find(ch, s.st.Books()...)
		}
	}
	// The core knows of a receipt as soon as it has checked it; the store
	// may write it up to a moment later (receipts are written lazily).
	delivered := map[string]uint64{}
	s.st.InLoop(ctx, func(core *protocol.Core) {
		for _, m := range ms {
			if _, ok := delivered[m.Channel]; !ok {
				delivered[m.Channel] = core.Delivered(m.Channel)
			}
		}
	})
	out := []ops.MessageView{}
	for _, m := range ms {
		if m.Author == s.name && m.Index <= delivered[m.Channel] {
			m.Delivered = true
		}
		if len(m.Body) == 0 && m.Author == s.name {
			// Fetched back from the peer after a restore: sealed to it.
			m.Body, _ = json.Marshal(protocol.TextBody{Text: "(recovered from the peer after a restore: the text is sealed for the peer and cannot be read here)", Lang: "en"})
			if m.Kind != envelope.Text {
				m.Kind = envelope.Text
			}
		}
		body, err := Bodies.Decode(m.Kind, m.Body, Book(books[m.Channel]))
		if err != nil && books[m.Channel] == nil && (m.Kind == envelope.Coded || m.Kind == envelope.Report) {
			// Stored under a codebook this binary lacks: shown, not rendered.
			body, err = nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("stored message %s: %v", m.ID(), err)
		}
		v := ops.MessageView{ID: m.ID(), Channel: m.Channel, Index: m.Index, From: m.Author, Precedence: m.Precedence.String(),
			SentAt: m.SenderTime, ReceivedAt: m.StoredAt, Kind: m.Kind.String()}
		if m.Author == s.name && m.Delivered && !m.ReceiptAt.IsZero() {
			at := m.ReceiptAt
			v.PeerReceivedAt = &at
		}
		if ch := charters[m.Channel]; ch != nil {
			v.AckDue = m.StoredAt.Add(ch.Deadlines[m.Precedence])
		}
		switch b := body.(type) {
		case *protocol.TextBody:
			v.Text, v.Lang, v.Broadcast = b.Text, b.Lang, b.Broadcast
		case *deconflict.Notice:
			v.Broadcast = b.Broadcast
			render(&v, body, books[m.Channel])
		case *protocol.EscalationBody:
			v.Text, v.Lang, v.EscalatedFrom = b.Text, b.Lang, b.From
		case *protocol.CheckBody:
			w, _ := time.ParseDuration(b.Window)
			v.Text, v.Lang, v.AckDue = fmt.Sprintf("Communication check: acknowledge within %s.", w), "en", m.StoredAt.Add(w)
		case nil:
			v.Text, v.Lang = fmt.Sprintf("(a %s entry under a codebook this station does not have)", m.Kind), "en"
		default:
			render(&v, body, books[m.Channel])
		}
		// What was stored before invisible characters were refused shows
		// them (protocol.Visible).
		v.Text, v.EscalatedFrom = protocol.Reveal(v.Text), protocol.Reveal(v.EscalatedFrom)
		switch {
		case m.Ack != nil:
			at := m.Ack.At
			v.Status, v.Acknowledged, v.AckBy, v.AckAt = "acknowledged", true, protocol.Reveal(m.Ack.By), &at
		case m.Author != s.name:
			v.Status = "received"
		case m.Delivered:
			v.Status = "delivered"
		default:
			v.Status = "queued"
		}
		out = append(out, v)
	}
	return out, nil
}

// messageKinds are the entries inbox and outbox show: those a person
// acknowledges.
var messageKinds = []envelope.Kind{envelope.Text, envelope.Check, envelope.Escalation,
	envelope.Coded, envelope.Notice, envelope.Report, envelope.Incident}

// Inbox lists messages from peers, oldest first.
func (s *Desk) Inbox(ctx context.Context, ch string) ([]ops.MessageView, error) {
	ms, err := s.db.Messages(ctx, store.Query{Channel: ch, ExcludeAuthor: s.name, Kinds: messageKinds})
	if err != nil {
		return nil, err
	}
	return s.views(ctx, ms)
}

// Outbox lists messages this station sent, oldest first.
func (s *Desk) Outbox(ctx context.Context, ch string) ([]ops.MessageView, error) {
	ms, err := s.db.Messages(ctx, store.Query{Channel: ch, Author: s.name, Kinds: messageKinds})
	if err != nil {
		return nil, err
	}
	return s.views(ctx, ms)
}

// Ack acknowledges a message from a peer on behalf of an operator. The
// acknowledgement is an entry in this station's log; acknowledging twice
// returns the first acknowledgement.
func (s *Desk) Ack(ctx context.Context, id, by string) (*ops.MessageView, error) {
	ch, author, idx, err := ops.ParseID(id)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(by) == "" || len(by) > 128 {
		return nil, badrequest.New("who acknowledges must be named (1-128 bytes)")
	}
	// One acknowledgement at a time, so that two operators acknowledging
	// the same message at once do not both append one.
	s.ackMu.Lock()
	defer s.ackMu.Unlock()
	if author == s.name {
		return nil, badrequest.New("%s is this station's own message; only the peer can acknowledge it", id)
	}
	m, err := s.message(ctx, ch, author, idx)
	if err != nil {
		return nil, err
	}
	if m.Acknowledged {
		return m, nil
	}
	body, _ := json.Marshal(protocol.AckBody{Of: idx, By: by})
	prec, _ := envelope.ParsePrecedence(m.Precedence)
	if _, err := s.st.Call(ctx, func(rid uint64) protocol.Event {
		return protocol.Submit{ID: rid, Channel: ch, Kind: envelope.Ack, Precedence: prec, Body: body}
	}); err != nil {
		return nil, AsBadRequest(err)
	}
	return s.message(ctx, ch, author, idx)
}

// Export builds the audit bundle of a channel, disclosing the entries
// named (channel/author/index): each with its own key, which opens it and
// no other (docs/TRANSCRIPT.md, "Disclosing entries").
func (s *Desk) Export(ctx context.Context, ch string, disclose ...string) (*transcript.Bundle, error) {
	c, err := s.agreedChannel(ctx, ch)
	if err != nil {
		return nil, err
	}
	chosen := map[string]map[uint64]bool{s.name: {}, c.Peer: {}}
	for _, id := range disclose {
		dch, author, idx, err := ops.ParseID(id)
		if err != nil || dch != ch || chosen[author] == nil {
			return nil, badrequest.New("cannot disclose %q: not an entry of channel %s (CHANNEL/AUTHOR/INDEX, AUTHOR %s or %s)", id, ch, s.name, c.Peer)
		}
		chosen[author][idx] = true
	}
	// Entry 1 of each log carries the charter, which the bundle shows in
	// full anyway: disclosed, it ties the charter to the entries.
	agreements := map[string]bool{}
	for _, a := range []string{s.name, c.Peer} {
		if !chosen[a][1] {
			chosen[a][1], agreements[a] = true, true
		}
	}
	keys, ownCard := s.st.Identity()
	b := &transcript.Bundle{Format: transcript.BundleFormat, Channel: ch, ExportedBy: s.name, ExportedAt: time.Now().UTC(),
		Charter: string(c.Charter)}
	chains, err := s.keyChains(ctx, ch, c.Peer, ownCard)
	if err != nil {
		return nil, err
	}
	// The receipt is read before the log, so that it never covers entries
	// the bundle does not hold.
	var ownReceipt []byte
	if err := s.st.InLoop(ctx, func(core *protocol.Core) { ownReceipt = core.Receipt(ch) }); err != nil {
		return nil, err
	}
	for _, author := range []string{s.name, c.Peer} {
		bl, first, err := s.exportLog(ctx, ch, author, chains[author], ownReceipt, keys)
		if err != nil {
			return nil, err
		}
		if bl.Disclosed, err = s.disclose(ctx, ch, author, bl.Entries, chosen[author], agreements[author]); err != nil {
			return nil, err
		}
		b.Cards = append(b.Cards, string(first.Text))
		b.Logs = append(b.Logs, bl)
	}
	b.DropRevokedReceipt()
	if err := b.Seal(keys.Signer()); err != nil {
		return nil, err
	}
	return b, nil
}

// disclose gives each chosen entry of a log its own key: derived from
// the key of the epoch it belongs to, which the store keeps by the entry
// that began the epoch.
// optional1 says that entry 1 was not asked for: it is left out, not
// refused, if it cannot be disclosed (sealed before entry keys).
func (s *Desk) disclose(ctx context.Context, ch, author string, entries [][]byte, chosen map[uint64]bool, optional1 bool) ([]transcript.Disclosure, error) {
	if len(chosen) == 0 {
		return nil, nil
	}
	stored, err := s.db.EpochKeys(ctx, ch, author)
	if err != nil {
		return nil, err
	}
	epochKeys := map[uint64][]byte{}
	for _, k := range stored {
		epochKeys[k.From] = k.Key
	}
	var out []transcript.Disclosure
	for _, idx := range slices.Sorted(maps.Keys(chosen)) {
		id := fmt.Sprintf("%s/%s/%d", ch, author, idx)
		if idx > uint64(len(entries)) && optional1 && idx == 1 {
			continue
		}
		if idx > uint64(len(entries)) {
			return nil, badrequest.New("cannot disclose %s: %s's log holds %d entries", id, author, len(entries))
		}
		e, err := envelope.Parse(entries[idx-1])
		if err != nil {
			return nil, err
		}
		if e.Version != 3 && optional1 && idx == 1 {
			continue
		}
		if e.Version != 3 {
			return nil, badrequest.New("cannot disclose %s: it is sealed as version %d, under a key it shares with other entries", id, e.Version)
		}
		// The epoch began at the latest entry at or before it that
		// carries an encapsulation.
		from := idx
		for ; from > 0; from-- {
			if b, err := envelope.Parse(entries[from-1]); err == nil && b.BeginsEpoch() {
				break
			}
		}
		key, ok := epochKeys[from]
		if !ok && optional1 && idx == 1 {
			continue
		}
		if !ok {
			return nil, badrequest.New("cannot disclose %s: this station holds no key of its epoch (begun at %s/%s/%d, before it kept epoch keys)", id, ch, author, from)
		}
		ep, err := envelope.EpochFromKey(key)
		if err != nil {
			return nil, err
		}
		k := e.EntryKey(ep)
		body, err := e.OpenDisclosed(k)
		if err != nil {
			return nil, fmt.Errorf("disclosing %s: %w", id, err)
		}
		out = append(out, transcript.Disclosure{Index: idx, Key: k, Body: string(body)})
	}
	return out, nil
}

// agreedChannel returns a channel that has an agreed transcript: one that
// is active.
func (s *Desk) agreedChannel(ctx context.Context, ch string) (*record.Channel, error) {
	stored, err := s.db.Channels(ctx)
	if err != nil {
		return nil, err
	}
	var c *record.Channel
	for i := range stored {
		if stored[i].ID == ch {
			c = &stored[i]
		}
	}
	if c == nil {
		return nil, badrequest.New("%v: %q", protocol.ErrUnknownChannel, ch)
	}
	if c.State != record.Active {
		return nil, badrequest.New("channel %s is %s: there is no agreed transcript yet", ch, c.State)
	}
	return c, nil
}

// keyChains returns each station's cards, oldest first: its key chain, or
// its one card. For this station that card is ownCard. For the peer it is
// the card pinned for it.
func (s *Desk) keyChains(ctx context.Context, ch, peer string, ownCard *identity.Card) (map[string][]*identity.Card, error) {
	chains := map[string][]*identity.Card{}
	for _, name := range []string{s.name, peer} {
		rows, err := s.db.Keys(ctx, name)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			card, err := identity.ParseCard(r.Card)
			if err != nil {
				return nil, fmt.Errorf("key %d of %s: %w", r.Seq, name, err)
			}
			chains[name] = append(chains[name], card)
		}
	}
	if len(chains[s.name]) == 0 {
		chains[s.name] = []*identity.Card{ownCard}
	}
	if len(chains[peer]) == 0 {
		card, err := s.pinnedCard(ctx, ch, peer)
		if err != nil {
			return nil, err
		}
		chains[peer] = []*identity.Card{card}
	}
	return chains, nil
}

// pinnedCard returns the card pinned for a peer of channel ch.
func (s *Desk) pinnedCard(ctx context.Context, ch, peer string) (*identity.Card, error) {
	peers, err := s.db.Peers(ctx)
	if err != nil {
		return nil, err
	}
	var card *identity.Card
	for _, p := range peers {
		if p.Name == peer {
			if card, err = identity.ParseCard(p.Card); err != nil {
				return nil, err
			}
		}
	}
	if card == nil {
		return nil, fmt.Errorf("channel %s: peer %s has no stored card", ch, peer)
	}
	return card, nil
}

// exportLog returns an author's log on channel ch as the bundle holds it,
// and the card the log began with. chain is the author's cards, oldest
// first. This station's log carries receipt, or the stored one if receipt
// is empty. The peer's log carries its stored checkpoint, if any,
// cosigned with keys.
func (s *Desk) exportLog(ctx context.Context, ch, author string, chain []*identity.Card, receipt []byte, keys *identity.Keys) (transcript.BundleLog, *identity.Card, error) {
	l, err := s.db.Log(ctx, ch, author)
	if errors.Is(err, store.ErrNotFound) {
		return transcript.BundleLog{Author: author, Entries: [][]byte{}}, chain[len(chain)-1], nil
	}
	if err != nil {
		return transcript.BundleLog{}, nil, err
	}
	es, err := s.db.Entries(ctx, ch, author, 1, l.Size)
	if err != nil {
		return transcript.BundleLog{}, nil, err
	}
	bl, err := bundleLog(author, es)
	if err != nil {
		return transcript.BundleLog{}, nil, err
	}
	first := firstCard(chain, es)
	if author == s.name {
		r := receipt
		if len(r) == 0 {
			r = l.Receipt
		}
		bl.Checkpoint = string(r)
	} else if l.Checkpoint != nil {
		r, err := cosignCheckpoint(author, l.Checkpoint, chain, keys)
		if err != nil {
			return transcript.BundleLog{}, nil, err
		}
		bl.Checkpoint = string(r)
	}
	return bl, first, nil
}

// bundleLog holds a log's entries, and the statement or record that
// each of its key entries carries.
func bundleLog(author string, es []record.Entry) (transcript.BundleLog, error) {
	bl := transcript.BundleLog{Author: author, Entries: make([][]byte, len(es))}
	for i, e := range es {
		bl.Entries[i] = e.Raw
		if e.Kind == envelope.Key {
			kb, err := protocol.DecodeBody(e.Kind, e.Body)
			if err != nil {
				return bl, fmt.Errorf("%s: %w", e.ID(), err)
			}
			k := kb.(*protocol.KeyBody)
			bl.Keys = append(bl.Keys, transcript.BundleKey{Index: e.Index, Statement: k.Statement, Replaced: k.Replaced})
		}
	}
	return bl, nil
}

// firstCard returns the card a log began with: the one whose key signed
// entry 1. The log's key entries lead on from it. A log with no entry,
// or none that a card of chain signed, began with the latest card.
func firstCard(chain []*identity.Card, es []record.Entry) *identity.Card {
	first := chain[len(chain)-1]
	if len(es) > 0 {
		if env, err := envelope.Parse(es[0].Raw); err == nil {
			for _, card := range chain {
				if env.Verify(card.SignKey) == nil {
					first = card
					break
				}
			}
		}
	}
	return first
}

// cosignCheckpoint cosigns the peer's stored checkpoint of its log. The
// peer signed it by the key of the log's last entry: one of its chain.
func cosignCheckpoint(author string, checkpoint []byte, chain []*identity.Card, keys *identity.Keys) ([]byte, error) {
	for _, card := range chain {
		v, err := card.Verifier()
		if err != nil {
			return nil, err
		}
		// The exporter's receipt carries the time of export, by its clock.
		if r, err := transcript.Cosign(checkpoint, v, transcript.NewCosigner(keys.Name, keys.Sign, time.Now)); err == nil {
			return r, nil
		}
	}
	return nil, fmt.Errorf("the stored checkpoint of %s's log is not signed by any of its keys", author)
}

// Status describes the station, its peers and channels.
func (s *Desk) Status(ctx context.Context) (*ops.StatusView, error) {
	chs, err := s.Channels(ctx)
	if err != nil {
		return nil, err
	}
	ps, err := s.Peers(ctx)
	if err != nil {
		return nil, err
	}
	_, ownCard := s.st.Identity()
	v := &ops.StatusView{Station: s.name, Party: s.party, Fingerprint: ownCard.Fingerprint(), Channels: chs, Peers: ps, Refused: map[string]int{},
		RelaysRefusing: s.st.RelaysRefusing()}
	if a := s.st.PeerAddr(); a != nil {
		v.PeerAddr = a.String()
	}
	s.st.InLoop(ctx, func(core *protocol.Core) {
		for k, n := range core.Stats.Refused {
			v.Refused[k] = n
		}
		v.Duplicates = core.Stats.Duplicates
		v.AheadConflicts = core.Stats.ConflictAhead
	})
	return v, nil
}

// Alerts lists alerts after an id.
func (s *Desk) Alerts(ctx context.Context, after int64) ([]ops.AlertView, error) {
	as, err := s.db.Alerts(ctx, after)
	if err != nil {
		return nil, err
	}
	out := make([]ops.AlertView, 0, len(as))
	for _, a := range as {
		out = append(out, AlertView(a))
	}
	return out, nil
}

// AlertView is a stored alert as operators see it.
func AlertView(a record.Alert) ops.AlertView {
	return ops.AlertView{ID: a.ID, At: a.At, Level: a.Level, Channel: a.Channel, Peer: a.Peer, Text: a.Text, Format: a.Format, Args: a.Args}
}

// FindBook is the codebook of books that name refers to, by reference or
// version; "" is the first (the embedded one).
func FindBook(books []*codebook.Codebook, name string) (*codebook.Codebook, error) {
	if name == "" {
		return books[0], nil
	}
	var have []string
	for _, b := range books {
		if b.Ref().String() == name || b.Version() == name {
			return b, nil
		}
		have = append(have, b.Version())
	}
	return nil, badrequest.New("%v: no codebook %q here (this station has %v)", codebook.ErrMismatch, name, have)
}
