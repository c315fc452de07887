package protocol

import (
	"bytes"
	"fmt"
	"hotline/internal/identity"
	"hotline/internal/record"
	"time"
)

// Pinning peers: AddPeer pins a peer by its card, once a person has
// checked its fingerprint; a newer card under the same keys replaces the
// pinned one. A pinned peer's key changes are in keys.go.

func (c *Core) addPeer(card *identity.Card) error {
	v, err := card.Verifier()
	if err != nil {
		return err
	}
	c.peers[card.Name] = &peer{card: card, verifier: v, chain: []keyLink{newLink(card.Name, card.SignKey, card)}}
	return nil
}

func (c *Core) addPeerReq(ev AddPeer) {
	card := ev.Card
	if card.Name == c.keys.Name {
		c.done(ev.ID, Result{}, fmt.Errorf("%w: card %s is this station's own name", ErrRefused, card.Name))
		return
	}
	if p := c.peers[card.Name]; p != nil {
		if bytes.Equal(p.card.SignKey, card.SignKey) && bytes.Equal(p.card.KEMKey, card.KEMKey) {
			switch {
			case bytes.Equal(p.card.Text, card.Text):
				c.done(ev.ID, Result{}, nil)
			case !card.Issued.After(p.card.Issued):
				c.done(ev.ID, Result{}, fmt.Errorf("%w: this card of %s was issued %s, not after the pinned one (%s)", ErrRefused,
					card.Name, card.Issued.Format(time.RFC3339), p.card.Issued.Format(time.RFC3339)))
			default:
				// A newer card under the same keys (new endpoints or
				// relays): signed by the key pinned, so it replaces the old.
				p.card = card
				c.batch.Peers = append(c.batch.Peers, record.Peer{Name: card.Name, Party: card.Party, Card: card.Text, Fingerprint: card.Fingerprint(), AddedAt: c.now})
				id := ev.ID
				c.afterDurable(func(err error) { c.done(id, Result{}, err) })
			}
			return
		}
		c.done(ev.ID, Result{}, fmt.Errorf("%w: %s is already pinned with another key (fingerprint %s)", ErrRefused, card.Name, p.card.Fingerprint()))
		return
	}
	if err := c.addPeer(card); err != nil {
		c.done(ev.ID, Result{}, err)
		return
	}
	c.batch.Peers = append(c.batch.Peers, record.Peer{Name: card.Name, Party: card.Party, Card: card.Text, Fingerprint: card.Fingerprint(), AddedAt: c.now})
	id := ev.ID
	c.afterDurable(func(err error) { c.done(id, Result{}, err) })
}
