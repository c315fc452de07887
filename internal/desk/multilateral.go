package desk

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"hotline/internal/badrequest"
	"hotline/internal/channel"
	"hotline/internal/deconflict"
	"hotline/internal/envelope"
	"hotline/internal/identity"
	"hotline/internal/ops"
	"hotline/internal/protocol"
	"hotline/internal/record"
	"hotline/internal/store"
)

// MaxGroupName bounds a group's name, in characters.
const MaxGroupName = 64

// checkGroupName says what is wrong with a group's name: it is written
// in --to lists beside peer names, separated by commas.
func checkGroupName(name string) error {
	switch {
	case name == "":
		return badrequest.New("group: give its name")
	case utf8.RuneCountInString(name) > MaxGroupName:
		return badrequest.New("group name %.40q…: at most %d characters", name, MaxGroupName)
	case strings.TrimSpace(name) != name:
		return badrequest.New("group name %q begins or ends with a space", name)
	case strings.Contains(name, ","):
		return badrequest.New("group name %q holds a comma, which separates names in --to", name)
	case strings.EqualFold(name, ops.AllParties):
		return badrequest.New("group name %q is taken: %q addresses every pinned peer", name, ops.AllParties)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return badrequest.New("group name %q holds the character U+%04X: use letters, digits, spaces and punctuation", name, r)
		}
	}
	return nil
}

// SetGroup names a group of pinned peers.
func (s *Desk) SetGroup(ctx context.Context, r ops.GroupRequest) (*ops.GroupView, error) {
	if err := checkGroupName(r.Name); err != nil {
		return nil, err
	}
	pinned, err := s.pinnedNames(ctx)
	if err != nil {
		return nil, err
	}
	if pinned[r.Name] {
		return nil, badrequest.New("group name %q is a pinned peer's name: choose another", r.Name)
	}
	if len(r.Peers) == 0 {
		return nil, badrequest.New("group %s: name its peers", r.Name)
	}
	peers := slices.Clone(r.Peers)
	slices.Sort(peers)
	peers = slices.Compact(peers)
	var unknown []string
	for _, p := range peers {
		if !pinned[p] {
			unknown = append(unknown, fmt.Sprintf("%q", p))
		}
	}
	if len(unknown) > 0 {
		return nil, badrequest.New("group %s: %s not a pinned peer (hotline peer list); nothing changed", r.Name, plural(unknown, "is", "are"))
	}
	g := store.Group{Name: r.Name, Peers: peers, UpdatedAt: time.Now().UTC()}
	if err := s.db.SetGroup(ctx, g); err != nil {
		return nil, err
	}
	return &ops.GroupView{Name: g.Name, Peers: g.Peers, UpdatedAt: g.UpdatedAt}, nil
}

func plural(names []string, one, many string) string {
	if len(names) == 1 {
		return names[0] + " " + one
	}
	return strings.Join(names, ", ") + " " + many
}

// RemoveGroup removes a group and returns it as it was.
func (s *Desk) RemoveGroup(ctx context.Context, name string) (*ops.GroupView, error) {
	gs, err := s.Groups(ctx)
	if err != nil {
		return nil, err
	}
	for _, g := range gs {
		if g.Name == name {
			if err := s.db.RemoveGroup(ctx, name); err != nil {
				return nil, err
			}
			return &g, nil
		}
	}
	return nil, badrequest.New("no group %q (hotline group list)", name)
}

// Groups lists the groups by name.
func (s *Desk) Groups(ctx context.Context) ([]ops.GroupView, error) {
	gs, err := s.db.Groups(ctx)
	if err != nil {
		return nil, err
	}
	out := []ops.GroupView{}
	for _, g := range gs {
		out = append(out, ops.GroupView{Name: g.Name, Peers: g.Peers, UpdatedAt: g.UpdatedAt})
	}
	return out, nil
}

func (s *Desk) pinnedNames(ctx context.Context) (map[string]bool, error) {
	ps, err := s.db.Peers(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, p := range ps {
		out[p.Name] = true
	}
	return out, nil
}

// parties resolves a --to list into peers, in the order named, each once;
// what names no pinned peer or group comes back as a refused party.
func (s *Desk) parties(ctx context.Context, to []string) ([]store.BroadcastParty, error) {
	ps, err := s.db.Peers(ctx)
	if err != nil {
		return nil, err
	}
	gs, err := s.db.Groups(ctx)
	if err != nil {
		return nil, err
	}
	pinned := map[string]bool{}
	for _, p := range ps {
		pinned[p.Name] = true
	}
	var out []store.BroadcastParty
	seen := map[string]bool{}
	add := func(p store.BroadcastParty) {
		if !seen[p.Peer] {
			seen[p.Peer] = true
			out = append(out, p)
		}
	}
	for _, name := range to {
		name = strings.TrimSpace(name)
		switch {
		case name == "":
			return nil, badrequest.New("to: an empty name in the list")
		case name == ops.AllParties:
			for _, p := range ps {
				add(store.BroadcastParty{Peer: p.Name})
			}
		case pinned[name]:
			add(store.BroadcastParty{Peer: name})
		default:
			i := slices.IndexFunc(gs, func(g store.Group) bool { return g.Name == name })
			if i < 0 {
				add(store.BroadcastParty{Peer: name, Refused: "not a pinned peer or a group"})
				continue
			}
			for _, p := range gs[i].Peers {
				if pinned[p] {
					add(store.BroadcastParty{Peer: p})
				} else {
					add(store.BroadcastParty{Peer: p, Refused: fmt.Sprintf("in group %s but no longer pinned", name)})
				}
			}
		}
	}
	return out, nil
}

// chooseChannels gives each party the channel its copy goes on: its one
// agreed channel, or its channel at level; a party without one, with
// several, or whose channel is suspended (unless the charter lets a
// FLASH pass a suspension and prec is FLASH) is refused, with why.
func (s *Desk) chooseChannels(ctx context.Context, parties []store.BroadcastParty, level string, prec envelope.Precedence) error {
	chs, err := s.Channels(ctx)
	if err != nil {
		return err
	}
	for i := range parties {
		p := &parties[i]
		if p.Refused != "" {
			continue
		}
		var fit []ops.ChannelView
		for _, c := range chs {
			if c.Peer == p.Peer && c.Agreement == "active" && (level == "" || c.Level == level) {
				fit = append(fit, c)
			}
		}
		switch {
		case len(fit) == 0 && level != "":
			p.Refused = fmt.Sprintf("no agreed channel at level %s", level)
		case len(fit) == 0:
			p.Refused = "no agreed channel"
		case len(fit) > 1:
			var names []string
			for _, c := range fit {
				names = append(names, c.ID+" ("+c.Level+")")
			}
			p.Refused = fmt.Sprintf("%d channels, %s: give a level", len(fit), strings.Join(names, ", "))
		case len(fit[0].Suspensions) > 0 && !(prec == envelope.Flash && fit[0].FlashExempt):
			x := fit[0].Suspensions[0]
			p.Channel = fit[0].ID
			p.Refused = fmt.Sprintf("channel %s is suspended by %s: %s", fit[0].ID, x.By, x.Reason)
		default:
			p.Channel = fit[0].ID
		}
	}
	return nil
}

func newBroadcastID() string {
	var b [8]byte
	rand.Read(b[:])
	return "b-" + hex.EncodeToString(b[:])
}

// A broadcastBody writes one party's body.
type broadcastBody struct {
	kind    envelope.Kind
	prec    envelope.Precedence
	summary string
	// body writes a party's copy of the broadcast id.
	body func(id string, p store.BroadcastParty, replaces *deconflict.EntryRef) ([]byte, error)
}

// Broadcast sends one text or notice to several parties: one entry on
// each party's channel, each body carrying the broadcast's id. The
// broadcast and its parties are stored before the first entry is
// written, and each party's entry (or why none was written) as it comes.
func (s *Desk) Broadcast(ctx context.Context, r ops.BroadcastRequest) (*ops.BroadcastView, error) {
	if len(r.To) == 0 {
		return nil, badrequest.New("to: name the parties: %s, groups or peers", ops.AllParties)
	}
	if r.Level != "" {
		if _, err := channel.ParseLevel(r.Level); err != nil {
			return nil, badrequest.New("level: %v", err)
		}
	}
	b, err := s.broadcastBody(ctx, r)
	if err != nil {
		return nil, err
	}
	parties, err := s.parties(ctx, r.To)
	if err != nil {
		return nil, err
	}
	if err := s.chooseChannels(ctx, parties, r.Level, b.prec); err != nil {
		return nil, err
	}
	var earlier map[string]string // peer → its copy of the broadcast replaced
	if r.Replaces != "" {
		if earlier, err = s.replacedCopies(ctx, r.Replaces, b.kind); err != nil {
			return nil, err
		}
	}
	var refused []string
	for _, p := range parties {
		if p.Refused != "" {
			refused = append(refused, p.Peer+": "+p.Refused)
		}
	}
	if len(refused) == len(parties) {
		return nil, badrequest.New("sent to nobody: %s", strings.Join(refused, "; "))
	}
	rec := store.Broadcast{ID: newBroadcastID(), Kind: b.kind.String(), Precedence: b.prec.String(), At: time.Now().UTC(),
		To: strings.Join(r.To, ","), Summary: b.summary, Parties: parties}
	if err := s.db.AddBroadcast(ctx, rec); err != nil {
		return nil, err
	}
	// Each party's copy is written at once, so that the core takes them
	// in one group commit; each is recorded as it becomes durable. Once
	// begun, the act is finished whatever becomes of the asker.
	ctx = context.WithoutCancel(ctx)
	// No check runs between the notices' writing and the plan's record
	// of them, so that the two are never taken for two activities.
	if b.kind == envelope.Notice {
		s.detectMu.Lock()
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error
	for i := range rec.Parties {
		p := &rec.Parties[i]
		if p.Refused != "" {
			continue
		}
		wg.Go(func() {
			var replaces *deconflict.EntryRef
			if id, ok := earlier[p.Peer]; ok {
				ref, err := parseEntryRef(id)
				if err == nil {
					replaces = &ref
				}
			}
			body, err := b.body(rec.ID, *p, replaces)
			var res protocol.Result
			if err == nil {
				res, err = s.st.Call(ctx, func(id uint64) protocol.Event {
					return protocol.Submit{ID: id, Channel: p.Channel, Kind: b.kind, Precedence: b.prec, Body: body}
				})
				err = AsBadRequest(err)
			}
			switch {
			case err == nil:
				p.Entry = (&envelope.Header{Channel: p.Channel, Author: s.name, Index: res.Index}).ID()
			case badrequest.Is(err):
				p.Refused = badrequest.Message(err)
			default:
				// Not refused, and perhaps written: the party shows as
				// "not written" until someone looks at its channel.
				mu.Lock()
				failed = cmp.Or(failed, err)
				mu.Unlock()
				return
			}
			if err := s.db.SetBroadcastParty(ctx, rec.ID, *p); err != nil {
				mu.Lock()
				failed = cmp.Or(failed, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if failed != nil {
		s.log.Warn("broadcast: a party's copy was not recorded", "id", rec.ID, "err", failed)
	}
	if r.Plan != 0 {
		err = s.db.SetPlanNotice(ctx, r.Plan, rec.ID)
	}
	if b.kind == envelope.Notice {
		s.detectMu.Unlock()
	}
	if err != nil {
		return nil, err
	}
	if b.kind == envelope.Notice {
		if _, err := s.Detect(ctx); err != nil {
			return nil, err
		}
	}
	return s.BroadcastShow(ctx, rec.ID)
}

// broadcastBody checks the request's text or notice once, before
// anything is written, and returns how to write each party's copy.
func (s *Desk) broadcastBody(ctx context.Context, r ops.BroadcastRequest) (*broadcastBody, error) {
	switch {
	case r.Text != "" && (len(r.Notice) > 0 || r.Plan != 0):
		return nil, badrequest.New("give a text or a notice, not both")
	case r.Text != "":
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
		if r.Replaces != "" {
			return nil, badrequest.New("replaces: only a notice amends an earlier one")
		}
		return &broadcastBody{kind: envelope.Text, prec: prec, summary: firstLine(r.Text),
			body: func(id string, _ store.BroadcastParty, _ *deconflict.EntryRef) ([]byte, error) {
				return json.Marshal(protocol.TextBody{Text: r.Text, Lang: r.Lang, Broadcast: id})
			}}, nil
	case len(r.Notice) > 0 || r.Plan != 0:
		if r.Lang != "" {
			return nil, badrequest.New("lang: a notice gives the language of its title and description in its body")
		}
		prec, err := precedenceOr(r.Precedence, envelope.Priority)
		if err != nil {
			return nil, err
		}
		raw := r.Notice
		if r.Plan != 0 {
			if len(raw) > 0 {
				return nil, badrequest.New("give the notice or the plan to notify, not both")
			}
			p, err := s.plan(ctx, r.Plan)
			if err != nil {
				return nil, err
			}
			if p.Notice != "" {
				return nil, badrequest.New("plan %d was notified already, as %s", p.ID, p.Notice)
			}
			raw = p.Body
		}
		n, err := deconflict.DecodeNoticeTemplate(raw)
		if err != nil {
			return nil, badrequest.New("%v", err)
		}
		switch {
		case r.Plan == 0 && n.Call != "":
			return nil, badrequest.New("notice: call: a notice to several parties names each party's own channel to call; leave call out")
		case n.Replaces != nil:
			return nil, badrequest.New("notice: replaces: a notice to several parties amends an earlier broadcast, named by the request's replaces")
		case n.Broadcast != "":
			return nil, badrequest.New("notice: broadcast: the station sets the broadcast's id")
		}
		summary := cmp.Or(n.Title, string(n.Kind))
		return &broadcastBody{kind: envelope.Notice, prec: prec, summary: summary,
			body: func(id string, p store.BroadcastParty, replaces *deconflict.EntryRef) ([]byte, error) {
				c := *n
				c.Call, c.Replaces, c.Broadcast = p.Channel, replaces, id
				if err := c.Check(); err != nil {
					return nil, badrequest.New("%v", err)
				}
				return c.Encode()
			}}, nil
	}
	return nil, badrequest.New("give a text or a notice to send")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if utf8.RuneCountInString(s) > 80 {
		s = string([]rune(s)[:79]) + "…"
	}
	return s
}

// replacedCopies maps each party of an earlier broadcast of a notice to
// its copy.
func (s *Desk) replacedCopies(ctx context.Context, id string, kind envelope.Kind) (map[string]string, error) {
	if kind != envelope.Notice {
		return nil, badrequest.New("replaces: only a notice amends an earlier one")
	}
	if err := envelope.CheckBroadcast(id); err != nil {
		return nil, badrequest.New("replaces: %v", err)
	}
	old, err := s.db.Broadcast(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, badrequest.New("replaces: no broadcast %s (hotline notice list)", id)
	}
	if err != nil {
		return nil, err
	}
	if old.Kind != envelope.Notice.String() {
		return nil, badrequest.New("replaces: broadcast %s is a %s, not a notice", id, old.Kind)
	}
	out := map[string]string{}
	for _, p := range old.Parties {
		if p.Entry != "" {
			out[p.Peer] = p.Entry
		}
	}
	return out, nil
}

// BroadcastShow is a broadcast with where each party's copy stands.
func (s *Desk) BroadcastShow(ctx context.Context, id string) (*ops.BroadcastView, error) {
	if err := envelope.CheckBroadcast(id); err != nil {
		return nil, badrequest.New("%v", err)
	}
	b, err := s.db.Broadcast(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, badrequest.New("no broadcast %s (hotline notice list)", id)
	}
	if err != nil {
		return nil, err
	}
	vs, err := s.broadcastViews(ctx, []store.Broadcast{*b}, time.Now())
	if err != nil {
		return nil, err
	}
	return &vs[0], nil
}

// MaxBroadcastsListed bounds the broadcasts Broadcasts lists: the newest.
const MaxBroadcastsListed = 200

// Broadcasts lists the newest broadcasts, newest first.
func (s *Desk) Broadcasts(ctx context.Context) ([]ops.BroadcastView, error) {
	bs, err := s.db.Broadcasts(ctx, MaxBroadcastsListed)
	if err != nil {
		return nil, err
	}
	return s.broadcastViews(ctx, bs, time.Now())
}

// writing is how long a broadcast's copies may take to be written before
// one without its entry is taken for one that never will be.
const writing = 30 * time.Second

// broadcastViews views broadcasts: their copies read and viewed
// together (one read of the channels and their charters for all of
// them), each channel's ladder steps read once.
func (s *Desk) broadcastViews(ctx context.Context, bs []store.Broadcast, now time.Time) ([]ops.BroadcastView, error) {
	var ms []store.Message
	for _, b := range bs {
		for _, p := range b.Parties {
			if p.Entry == "" {
				continue
			}
			ref, err := parseEntryRef(p.Entry)
			if err != nil {
				return nil, err
			}
			m, err := s.db.Messages(ctx, store.Query{Channel: ref.Channel, Author: ref.Author, Since: ref.Index - 1, Limit: 1})
			if err != nil {
				return nil, err
			}
			if len(m) == 0 || m[0].Index != ref.Index {
				return nil, fmt.Errorf("broadcast %s: its copy %s is not held here", b.ID, p.Entry)
			}
			ms = append(ms, m[0])
		}
	}
	views, err := s.views(ctx, ms)
	if err != nil {
		return nil, err
	}
	byID := map[string]*ops.MessageView{}
	for i := range views {
		byID[views[i].ID] = &views[i]
	}
	ladders := map[string][]ops.EscalationView{} // channel → its steps
	out := []ops.BroadcastView{}
	for _, b := range bs {
		v, err := s.broadcastView(ctx, b, now, byID, ladders)
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, nil
}

// broadcastView is one broadcast with where each party's copy stands,
// from its copies' views (byID) and the ladder steps read so far.
func (s *Desk) broadcastView(ctx context.Context, b store.Broadcast, now time.Time, byID map[string]*ops.MessageView, ladders map[string][]ops.EscalationView) (*ops.BroadcastView, error) {
	v := &ops.BroadcastView{ID: b.ID, Kind: b.Kind, Precedence: b.Precedence, At: b.At, To: b.To, Summary: b.Summary,
		Parties: []ops.BroadcastPartyView{}}
	var err error
	for _, p := range b.Parties {
		pv := ops.BroadcastPartyView{Peer: p.Peer, Channel: p.Channel, Entry: p.Entry, Refused: p.Refused}
		m := byID[p.Entry]
		switch {
		case p.Refused != "":
			pv.Status = "refused"
			v.Refused++
		case p.Entry == "" && now.Sub(b.At) < writing:
			pv.Status = "writing"
		case p.Entry == "":
			// Listed, but no entry recorded: the station stopped or
			// failed while writing it; its channel's outbox says
			// whether it was.
			pv.Status = "not written"
			pv.Refused = "the station stopped or failed while writing it: see the channel's outbox"
			v.Refused++
		default:
			v.Sent++
			pv.Status = m.Status
			pv.DeliveredAt = m.PeerReceivedAt
			if m.Status == "delivered" || m.Status == "acknowledged" {
				v.Delivered++
			}
			if m.Acknowledged {
				v.Acknowledged++
				pv.AckBy, pv.AckAt = m.AckBy, m.AckAt
			} else if !m.AckDue.IsZero() {
				due := m.AckDue
				pv.AckDue = &due
				if now.After(due) {
					pv.Overdue = true
					v.Overdue++
				}
			}
			steps, ok := ladders[p.Channel]
			if !ok {
				if steps, err = s.Escalations(ctx, p.Channel); err != nil {
					return nil, err
				}
				ladders[p.Channel] = steps
			}
			for _, x := range steps {
				if x.Entry == p.Entry {
					pv.Ladder = append(pv.Ladder, x)
				}
			}
		}
		v.Parties = append(v.Parties, pv)
	}
	return v, nil
}

// IntroducePeer signs this station's introduction of a peer it pinned by
// its fingerprint read aloud. A peer pinned on another's introduction is
// not passed on: this station has only that other's word for it.
func (s *Desk) IntroducePeer(ctx context.Context, peer string) (*ops.IntroductionFile, error) {
	ins, err := s.db.Introductions(ctx)
	if err != nil {
		return nil, err
	}
	for _, in := range ins {
		if in.Peer == peer {
			return nil, badrequest.New("%s was pinned here on %s's introduction, not by its fingerprint read aloud: only a station that read it can introduce it", peer, in.Introducer)
		}
	}
	card, pinned, err := s.currentCard(ctx, peer)
	if err != nil {
		return nil, err
	}
	if card == nil {
		return nil, badrequest.New("%q is not a pinned peer (hotline peer list)", peer)
	}
	keys, _ := s.st.Identity()
	in, err := identity.Introduce(keys, card, pinned, time.Now())
	if err != nil {
		return nil, err
	}
	return &ops.IntroductionFile{Format: ops.IntroductionFormat, Introduction: string(in.Text), Card: string(card.Text)}, nil
}

// CheckIntroduction reads an introduction's file against the introducer
// as pinned here: what a person must see before taking its word.
func (s *Desk) CheckIntroduction(ctx context.Context, f ops.IntroductionFile) (*identity.Introduction, *identity.Card, error) {
	if f.Format != ops.IntroductionFormat {
		return nil, nil, badrequest.New("introduction: format %.40q, want %s", f.Format, ops.IntroductionFormat)
	}
	card, err := identity.ParseCard([]byte(f.Card))
	if err != nil {
		return nil, nil, badrequest.New("introduction: card: %v", err)
	}
	name, _, _ := strings.Cut(strings.TrimPrefix(f.Introduction, "hotline introduction v1\nintroducer "), "\n")
	introducer, _, err := s.currentCard(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	if introducer == nil || identity.CheckName("introducer", name) != nil {
		return nil, nil, badrequest.New("introduction: by %.64q, which is not a peer pinned here: only a peer this station pinned can introduce another", name)
	}
	in, err := identity.ParseIntroduction([]byte(f.Introduction), introducer)
	if err != nil {
		return nil, nil, badrequest.New("%v", err)
	}
	if err := in.Introduces(card); err != nil {
		return nil, nil, badrequest.New("%v", err)
	}
	if card.Name == s.name {
		return nil, nil, badrequest.New("introduction: it introduces this station itself")
	}
	return in, card, nil
}

// currentCard is a pinned peer's card for the key it holds now and when
// that key was taken here; nil if the peer is not pinned.
func (s *Desk) currentCard(ctx context.Context, name string) (*identity.Card, time.Time, error) {
	ps, err := s.db.Peers(ctx)
	if err != nil {
		return nil, time.Time{}, err
	}
	i := slices.IndexFunc(ps, func(p record.Peer) bool { return p.Name == name })
	if i < 0 {
		return nil, time.Time{}, nil
	}
	text, at := ps[i].Card, ps[i].AddedAt
	ks, err := s.db.Keys(ctx, name)
	if err != nil {
		return nil, time.Time{}, err
	}
	if len(ks) > 0 && len(ks[len(ks)-1].Card) > 0 {
		text, at = ks[len(ks)-1].Card, ks[len(ks)-1].At
	}
	card, err := identity.ParseCard(text)
	if err != nil {
		return nil, time.Time{}, err
	}
	return card, at, nil
}
