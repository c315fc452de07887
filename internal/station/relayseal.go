package station

import (
	"crypto/ed25519"
	"crypto/hpke"
	"fmt"
	"sync"
	"time"

	"hotline/internal/deposit"
	"hotline/internal/identity"
	"hotline/internal/protocol"
	"hotline/internal/relay"
)

// Relay deposits are sealed (internal/deposit). Each frame a station
// deposits for a peer is sealed to the HPKE key of the peer's card as
// pinned now, bound to the key this station authenticated with at the
// relay and to the peer's name, and padded to a size class. Each mail
// this station picks up is opened with its current keys, then those of a
// key change under way, then its retired ones. A relay therefore learns
// who deposits for whom, when, and the size class, and nothing of the
// frame.

// sealKey is a peer's pinned card with its HPKE key, parsed once.
type sealKey struct {
	card *identity.Card
	kem  hpke.PublicKey // nil if the card's KEM key does not parse
}

func newSealKey(c *identity.Card) sealKey {
	k, _ := c.HPKEKey() // a pinned card's key parsed when it was pinned
	return sealKey{card: c, kem: k}
}

// sealFor returns the card and HPKE key of the named peer, as pinned now.
func (s *Station) sealFor(peer string) (sealKey, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.sealTo[peer]
	return k, ok && k.kem != nil
}

// setNextKeys makes k (nil for none) the keys a key change under way
// moves to.
func (s *Station) setNextKeys(k *identity.Keys) {
	s.mu.Lock()
	s.nextKeys = k
	s.mu.Unlock()
}

// openKeys lists the keys a deposit for this station may be sealed to:
// the current ones first, then those of a key change under way (next is
// 1 if there are, else 0), then the retired ones. A
// deposit sealed to a retired key opens for as long as the station holds
// that key, as an entry's body does.
func (s *Station) openKeys() (keys []*identity.Keys, next int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys = make([]*identity.Keys, 0, 2+len(s.retired))
	keys = append(keys, s.Keys)
	if s.nextKeys != nil {
		keys, next = append(keys, s.nextKeys), 1
	}
	return append(keys, s.retired...), next
}

// sealed is a frame sealed for one peer, kept while the key it was sealed
// as is the same, so that trying a second relay does not seal again.
type sealed struct {
	as      ed25519.PublicKey
	payload []byte
}

// seal seals frame p for the peer, as this station authenticated at a
// relay with the key as.
func (r *relays) seal(to sealKey, as ed25519.PublicKey, p []byte, prev *sealed) (*sealed, error) {
	if prev != nil && prev.as.Equal(as) {
		return prev, nil
	}
	d, err := deposit.Seal(p, deposit.Sender{Name: r.s.Cfg.Name, Key: as}, to.card.Name, to.kem)
	if err != nil {
		return nil, err
	}
	return &sealed{as: as, payload: d}, nil
}

// opened is a mail opened: the peer it is from and its frame.
type opened struct {
	peer  string
	frame []byte
}

// open opens one mail from a relay and names the pinned peer it is from.
// Mail that does not open, names a sender other than the peer whose key
// the relay names, or comes from a key that is not a pinned peer's (but
// for an entries frame of a pinned peer that changed its keys), is
// refused and counted, and changes nothing.
func (r *relays) open(m relay.Mail, via string) (*opened, bool) {
	s := r.s
	keys, next := s.openKeys()
	o, err := deposit.Open(m.Payload, m.From, keys)
	if err != nil {
		r.refuse(via, "relay deposit", fmt.Sprintf("relay %s handed over mail of %d bytes, refused: %v", via, len(m.Payload), err))
		return nil, false
	}
	name, ok := s.mailFrom(m.From)
	if !ok && len(m.Statements) > 0 {
		// A peer that changed its keys, and a relay that followed the
		// change, sends the statements that lead to the key it labels
		// the mail with: followed from the key pinned here, each signed
		// by the key before, they name the peer, and the core follows
		// them as it does a certificate's (Statements).
		if n, found := s.peerLookup(m.From, m.Statements); found && n == o.Sender {
			name, ok = n, true
			s.event(protocol.Statements{Peer: n, Statements: m.Statements})
		}
	}
	if ok && name != o.Sender {
		r.refuse(via, "relay deposit", fmt.Sprintf("relay %s handed over a deposit sealed by %s as coming from %s's key", via, o.Sender, name))
		return nil, false
	}
	if !ok && protocol.FrameType(o.Frame[0]) == protocol.FrameEntries {
		// A peer that changed its keys deposits under its new key, which
		// this station learns from the key entry such a frame may carry:
		// entries are taken by their author's name and checked by its
		// signatures as always (the relay's "from" was never trusted).
		if f, err := protocol.DecodeFrame(o.Frame); err == nil && f.Author == o.Sender {
			if _, pinned := s.peerKey(f.Author); pinned {
				name, ok = f.Author, true
			}
		}
	}
	if !ok {
		r.refuse(via, "relay mail", fmt.Sprintf("relay %s handed over mail (%d bytes) from a key that is not a pinned peer", via, len(m.Payload)))
		return nil, false
	}
	key := "current"
	switch {
	case o.Key > next:
		key = "retired"
		s.Log.Debug("a relay deposit opened with a retired key of this station", "peer", name)
	case o.Key > 0:
		key = "next"
	}
	s.metrics.relayOpened.WithLabelValues(key).Inc()
	return &opened{peer: name, frame: o.Frame}, true
}

// refuse counts and reports mail a relay should not have handed over.
// The count and the alert are the core's (rate-limited there); the log
// line is limited here, to one a second, with how many it left out.
func (r *relays) refuse(via, reason, text string) {
	r.s.event(protocol.LinkRefused{Reason: reason, Text: text})
	r.logLimit.Lock()
	defer r.logLimit.Unlock()
	if now := time.Now(); now.Sub(r.loggedAt) >= time.Second {
		r.s.Log.Warn("refused relay mail", "relay", via, "reason", reason, "err", text, "left_out", r.leftOut)
		r.loggedAt, r.leftOut = now, 0
		return
	}
	r.leftOut++
}

// logLimiter limits the log lines of refused mail.
type logLimiter struct {
	logLimit sync.Mutex
	loggedAt time.Time
	leftOut  int
}
