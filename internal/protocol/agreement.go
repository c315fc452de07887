package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
	"hotline/internal/channel"
	"hotline/internal/envelope"
	"hotline/internal/record"
	"hotline/internal/transcript"
	"maps"
	"slices"
	"sort"
	"time"
)

// Channel agreement: a channel begins with a charter that one station
// proposes (propose) and the peer accepts (accept), each in an agreement
// entry, the first of its log. A charter may name a codebook of standard
// phrases; AddCodebook gives the core one more (addCodebook).

func (c *Core) addCodebook(ev AddCodebook) {
	if ev.Book == nil {
		c.done(ev.ID, Result{}, errors.New("no codebook"))
		return
	}
	for _, b := range c.cfg.Books {
		if b.Ref() == ev.Book.Ref() {
			c.done(ev.ID, Result{}, nil)
			return
		}
	}
	c.cfg.Books = append(slices.Clone(c.cfg.Books), ev.Book)
	for _, cs := range c.channels {
		if cs.codebook == nil {
			cs.codebook, _ = cs.charter.FindBook(ev.Book)
		}
	}
	c.done(ev.ID, Result{}, nil)
}

func (c *Core) propose(ev Propose) {
	p := c.peers[ev.Peer]
	if p == nil {
		c.done(ev.ID, Result{}, fmt.Errorf("%w: %q is not pinned; add it with peer add", ErrUnknownPeer, ev.Peer))
		return
	}
	if cs := c.channels[ev.Channel]; cs != nil {
		if cs.rec.State == record.Withdrawn {
			c.done(ev.ID, Result{}, fmt.Errorf("channel %q already exists, withdrawn: its id is spent (its logs hold the withdrawn proposal); propose under another id", ev.Channel))
			return
		}
		c.done(ev.ID, Result{}, fmt.Errorf("channel %q already exists", ev.Channel))
		return
	}
	deadlines, delivery := maps.Clone(channel.DefaultDeadlines), maps.Clone(channel.DefaultDelivery)
	maps.Copy(deadlines, ev.Deadlines)
	maps.Copy(delivery, ev.Delivery)
	if up := ev.EscalateTo; up != "" {
		ucs := c.channels[up]
		switch {
		case ucs == nil || ucs.rec.Peer != ev.Peer:
			c.done(ev.ID, Result{}, fmt.Errorf("channel %q, to escalate to, is not a channel with %s here", up, ev.Peer))
			return
		case !channel.Level(ucs.rec.Level).Above(ev.Level):
			c.done(ev.ID, Result{}, fmt.Errorf("channel %s is at level %s, not above %s: escalation climbs", up, ucs.rec.Level, ev.Level))
			return
		}
	}
	ch := &channel.Charter{ID: ev.Channel, Level: ev.Level, Proposer: c.keys.Name, Acceptor: ev.Peer, Deadlines: deadlines,
		Delivery: delivery, EscalateTo: ev.EscalateTo, FlashExempt: ev.FlashExempt, CallRecording: ev.CallRecording, CallNoVideo: ev.CallNoVideo, CallBitrate: ev.CallBitrate, LinkTest: ev.LinkTest,
		CheckEvery: ev.CheckEvery, CheckWindow: ev.CheckWindow, Codebook: ev.Codebook}
	if ch.Codebook == (channel.BookRef{}) && len(c.cfg.Books) > 0 {
		ch.Codebook = c.cfg.Books[0].Ref()
	}
	cb, err := ch.FindBook(c.cfg.Books...)
	if err != nil {
		c.done(ev.ID, Result{}, err)
		return
	}
	if err := channel.Propose(ch, c.signer); err != nil {
		c.done(ev.ID, Result{}, err)
		return
	}
	cs := &chanState{
		rec: record.Channel{ID: ev.Channel, Peer: ev.Peer, Level: string(ev.Level), State: record.ProposedOut,
			Proposer: c.keys.Name, Charter: ch.Text, CreatedAt: c.now, UpdatedAt: c.now},
		charter:  ch,
		codebook: cb,
		mine:     outLog{tree: transcript.NewTree()},
		theirs:   inLog{tree: transcript.NewTree()},
	}
	body, _ := json.Marshal(AgreementBody{Charter: string(ch.Text)})
	c.channels[ev.Channel] = cs
	p.channels = append(p.channels, ev.Channel)
	sort.Strings(p.channels)
	c.batch.Channels = append(c.batch.Channels, cs.rec)
	if _, err := c.appendMine(ev.ID, cs, envelope.Agreement, envelope.Priority, body); err != nil {
		panic(err) // a fresh channel and a pinned card: sealing cannot fail
	}
}

func (c *Core) accept(ev Accept) {
	cs := c.channels[ev.Channel]
	if cs == nil {
		c.done(ev.ID, Result{}, fmt.Errorf("%w: %q (no proposal has arrived for it)", ErrUnknownChannel, ev.Channel))
		return
	}
	switch {
	case cs.rec.State == record.Withdrawn && cs.rec.Proposer != c.keys.Name:
		c.done(ev.ID, Result{}, fmt.Errorf("%w: %s withdrew its proposal of channel %s (at %s): there is nothing to accept",
			ErrWithdrawn, cs.rec.Proposer, ev.Channel, cs.rec.UpdatedAt.UTC().Format(time.RFC3339)))
		return
	case cs.rec.State == record.Withdrawn:
		c.done(ev.ID, Result{}, fmt.Errorf("%w: channel %s is this station's own proposal, withdrawn: there is nothing to accept", ErrWithdrawn, ev.Channel))
		return
	case cs.rec.State == record.ProposedOut:
		c.done(ev.ID, Result{}, fmt.Errorf("channel %s is this station's own proposal, waiting for %s to accept it; a proposal is accepted by the other station", ev.Channel, cs.rec.Peer))
		return
	case cs.rec.State != record.ProposedIn:
		c.done(ev.ID, Result{}, fmt.Errorf("channel %s is %s, not a proposal waiting for this station", ev.Channel, cs.rec.State))
		return
	}
	if err := c.mayWrite(cs); err != nil {
		c.done(ev.ID, Result{}, err)
		return
	}
	p := c.peers[cs.rec.Peer]
	if _, err := cs.charter.FindBook(c.cfg.Books...); err != nil {
		c.done(ev.ID, Result{}, err)
		return
	}
	if err := channel.Accept(cs.charter, p.chain[seqAt(cs.theirs.keys, 1)].verifier, c.signer); err != nil {
		c.done(ev.ID, Result{}, err)
		return
	}
	cs.rec.State, cs.rec.Charter, cs.rec.UpdatedAt = record.Active, cs.charter.Text, c.now
	c.batch.Channels = append(c.batch.Channels, cs.rec)
	body, _ := json.Marshal(AgreementBody{Charter: string(cs.charter.Text)})
	if _, err := c.appendMine(ev.ID, cs, envelope.Agreement, envelope.Priority, body); err != nil {
		panic(err)
	}
	c.armChannel(cs)
	c.emit(Notify{What: "channel", Channel: ev.Channel})
}

// withdraw writes a withdraw entry after this station's proposal, which
// the peer has not accepted (so far as this station holds): the channel
// is withdrawn here at once, and at the peer when the entry arrives. An
// acceptance already on its way is taken when it arrives, and changes
// nothing: the peer follows the withdrawal too (intake.go).
func (c *Core) withdraw(ev Withdraw) {
	cs := c.channels[ev.Channel]
	switch {
	case cs == nil:
		c.done(ev.ID, Result{}, fmt.Errorf("%w: %q", ErrUnknownChannel, ev.Channel))
		return
	case cs.rec.State == record.Withdrawn && cs.rec.Proposer == c.keys.Name:
		c.done(ev.ID, Result{}, fmt.Errorf("%w: channel %s is withdrawn already (at %s)", ErrWithdrawn, ev.Channel, cs.rec.UpdatedAt.UTC().Format(time.RFC3339)))
		return
	case cs.rec.Proposer != c.keys.Name:
		c.done(ev.ID, Result{}, fmt.Errorf("channel %s was proposed by %s, not by this station: only its proposer can withdraw it", ev.Channel, cs.rec.Proposer))
		return
	case cs.rec.State == record.Active:
		c.done(ev.ID, Result{}, fmt.Errorf("%w: channel %s was accepted by %s already: an agreed channel is not withdrawn (suspend it instead)", ErrRefused, ev.Channel, cs.rec.Peer))
		return
	case cs.rec.State != record.ProposedOut:
		c.done(ev.ID, Result{}, fmt.Errorf("channel %s is %s, not a proposal of this station's", ev.Channel, cs.rec.State))
		return
	}
	body, err := json.Marshal(WithdrawBody{By: ev.By, Reason: ev.Reason})
	if err == nil {
		var b any
		if b, err = decodeWithdraw(body); err == nil {
			err = visibleBody(b)
		}
	}
	if err == nil {
		err = c.mayWrite(cs)
	}
	if err != nil {
		c.done(ev.ID, Result{}, err)
		return
	}
	if _, err := c.appendMine(ev.ID, cs, envelope.Withdraw, envelope.Priority, body); err != nil {
		c.done(ev.ID, Result{}, err)
		return
	}
	cs.rec.State, cs.rec.UpdatedAt = record.Withdrawn, c.now
	c.batch.Channels = append(c.batch.Channels, cs.rec)
	c.emit(Notify{What: "channel", Channel: ev.Channel})
	if p := c.peers[cs.rec.Peer]; cs.theirs.size == 0 && p.ready {
		// A proposal of the peer's that crossed this one was refused
		// here: it is asked for again now rather than at the peer's next
		// resend.
		c.emit(Send{Peer: cs.rec.Peer, Conn: p.out, Data: (&Frame{Type: FrameResend, Channel: cs.rec.ID, Author: cs.rec.Peer, From: 1}).Encode()})
	}
}
