package protocol

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"golang.org/x/mod/sumdb/note"

	"hotline/internal/envelope"
	"hotline/internal/identity"
	"hotline/internal/record"
	"hotline/internal/transcript"
)

// A station's keys form a chain: key 0 is the one its card had when it was
// made (or first pinned), and each rotation statement, signed by key n,
// makes key n+1. Each log says from which index on its entries are signed
// by which key of its author's chain (logKey). docs/PROTOCOL.md, "Key
// rotation".

// keyLink is one key of a chain.
type keyLink struct {
	card     *identity.Card // nil for this station's key 0 before any rotation
	key      ed25519.PublicKey
	verifier note.Verifier
	// cosign verifies the key's receipts (cosignature/v1, with time).
	cosign  note.Verifier
	revoked bool   // the next key replaced it by a revocation
	reason  string // how it replaced the key before it
	at      time.Time
}

func newLink(name string, key ed25519.PublicKey, card *identity.Card) keyLink {
	v, err := note.NewVerifier(mustVKey(name, key))
	if err != nil {
		panic(err) // a 32-byte key and a valid name
	}
	return keyLink{card: card, key: key, verifier: v, cosign: transcript.NewCosignVerifier(name, key)}
}

// logKey: entries from index from on are signed by key seq.
type logKey struct {
	from uint64
	seq  int
}

// seqAt returns the key that signs entry i of a log.
func seqAt(ks []logKey, i uint64) int {
	seq := 0
	for _, k := range ks {
		if k.from <= i {
			seq = k.seq
		}
	}
	return seq
}

// ownSeq is this station's current key.
func (c *Core) ownSeq() int { return len(c.own) - 1 }

// signerAt signs as this station's key seq.
func (c *Core) signerAt(seq int) note.Signer {
	k := c.ownKeys[seq]
	if k == nil || k == c.keys {
		return c.signer
	}
	// Building a signer derives the key from its seed (a scalar
	// multiplication, more than the signature itself): once per key.
	if s := c.signers[k]; s != nil {
		return s
	}
	if c.signers == nil {
		c.signers = map[*identity.Keys]note.Signer{}
	}
	s := k.Signer()
	c.signers[k] = s
	return s
}

// ownVerifiers are every key this station has had: its own signature on a
// receipt may be by any of them.
func (c *Core) ownVerifiers() []note.Verifier {
	var vs []note.Verifier
	for _, l := range c.own {
		vs = append(vs, l.verifier)
	}
	return vs
}

// ownCosigners verify the receipts this station's keys cosigned.
func (c *Core) ownCosigners() []note.Verifier {
	var vs []note.Verifier
	for _, l := range c.own {
		vs = append(vs, l.cosign)
	}
	return vs
}

// newCosigner returns the signer of this station's receipts with keys:
// cosignature/v1 (transcript.Cosigner), at the core's time, so that a
// receipt proves when this station held what it receipts.
func (c *Core) newCosigner(keys *identity.Keys) note.Signer {
	return transcript.NewCosigner(keys.Name, keys.Sign, func() time.Time { return c.now })
}

// ReceiptGrace is how long after a peer rotated its key (not after a
// revocation or a loss) a receipt cosigned by the key before is still
// taken: receipts already on their way when it rotated. After it, and
// at once after a revocation, only the current key cosigns.
const ReceiptGrace = 10 * time.Minute

// cosigners are the peer's keys that may sign a receipt now: its current
// key, and the key before it for ReceiptGrace after a plain rotation. A
// retired key, held by whoever kept a copy, cosigns nothing.
func (c *Core) cosigners(p *peer) []note.Verifier {
	n := len(p.chain)
	last := p.chain[n-1]
	vs := []note.Verifier{last.cosign, last.verifier}
	if n > 1 && last.reason == identity.ReasonRotate && !p.chain[n-2].revoked && c.now.Sub(last.at) < ReceiptGrace {
		vs = append(vs, p.chain[n-2].cosign, p.chain[n-2].verifier)
	}
	return vs
}

// revokeThrough marks keys 0 to i of chain revoked: a revocation says the
// key may be in other hands, and so may every key before it, which the
// same hands could have kept.
func revokeThrough(chain []keyLink, i int) {
	for j := 0; j <= i && j < len(chain); j++ {
		chain[j].revoked = true
	}
}

// openCosigned opens a checkpoint signed by one of authors and one of
// cosigners (either list may be empty: then that signature is not
// required).
func openCosigned(signed []byte, authors, cosigners []note.Verifier) (transcript.Checkpoint, error) {
	cp, _, err := openCosignedAt(signed, authors, cosigners)
	return cp, err
}

// openCosignedAt is openCosigned that also returns the time the
// cosignature carries (zero for a plain one): one verification gives
// both.
func openCosignedAt(signed []byte, authors, cosigners []note.Verifier) (transcript.Checkpoint, time.Time, error) {
	var err error
	for _, a := range orNil(authors) {
		for _, b := range orNil(cosigners) {
			var vs []note.Verifier
			for _, v := range []note.Verifier{a, b} {
				if v != nil {
					vs = append(vs, v)
				}
			}
			var cp transcript.Checkpoint
			var n *note.Note
			if cp, n, err = transcript.OpenCheckpoint(signed, vs...); err == nil {
				at, _ := transcript.CosignTime(n, b)
				return cp, at, nil
			}
		}
	}
	return transcript.Checkpoint{}, time.Time{}, err
}

func orNil(vs []note.Verifier) []note.Verifier {
	if len(vs) == 0 {
		return []note.Verifier{nil}
	}
	return vs
}

// openBody opens an entry's body. An entry that carries its
// encapsulation (version 1, or the first of a version 2 key epoch) opens
// with this station's current HPKE key, or an earlier one: an entry
// sealed to the key before a rotation still opens. One that continues an
// epoch opens with ep, the epoch of the latest entry before it in its log
// that began one. It returns the epoch in force after the entry.
func (c *Core) openBody(o *Opened, ep *envelope.Epoch) ([]byte, *envelope.Epoch, error) {
	if !o.Env.BeginsEpoch() {
		body, err := o.Env.OpenIn(ep)
		return body, ep, err
	}
	body, err := o.open(c.keys)
	if err != nil {
		for _, seq := range slices.Backward(slices.Sorted(maps.Keys(c.ownKeys))) {
			k := c.ownKeys[seq]
			if k == nil || k == c.keys {
				continue
			}
			if b, e, err2 := o.Env.OpenBeginning(k.KEM); err2 == nil {
				o.Body, o.Epoch, o.OpenErr = b, e, nil
				body, err = b, nil
				break
			}
		}
	}
	switch {
	case err != nil:
		return nil, ep, err
	case o.Env.Version == 1:
		return body, ep, nil // a version 1 entry stands alone
	}
	return body, o.Epoch, nil
}

// restoreKeys rebuilds the key chains and the logs' key positions from the
// snapshot. It runs after the peers are added and before charters and
// logs are read.
func (c *Core) restoreKeys(cfg Config, snap *record.Snapshot) (map[[2]string][]logKey, error) {
	byStation := map[string][]record.Key{}
	for _, k := range snap.Keys {
		byStation[k.Station] = append(byStation[k.Station], k)
	}
	private := append([]*identity.Keys{c.keys}, cfg.Retired...)
	c.own = []keyLink{newLink(c.keys.Name, c.keys.SignPublic(), nil)}
	if rows := byStation[c.keys.Name]; len(rows) > 0 {
		chain, err := chainOf(c.keys.Name, rows)
		if err != nil {
			return nil, err
		}
		if !chain[len(chain)-1].key.Equal(c.keys.SignPublic()) {
			return nil, fmt.Errorf("the keys on disk are not this station's current keys (key %d in the store, fingerprint %s)",
				len(chain)-1, chain[len(chain)-1].card.Fingerprint())
		}
		c.own = chain
	}
	c.ownKeys = map[int]*identity.Keys{}
	for seq, l := range c.own {
		for _, k := range private {
			if k.SignPublic().Equal(l.key) {
				c.ownKeys[seq] = k
			}
		}
	}
	for name, p := range c.peers {
		rows := byStation[name]
		if len(rows) == 0 {
			continue
		}
		chain, err := chainOf(name, rows)
		if err != nil {
			return nil, err
		}
		if last := chain[len(chain)-1].card; !last.SignKey.Equal(p.card.SignKey) {
			return nil, fmt.Errorf("peer %s: the pinned card is not the last of its key chain", name)
		}
		chain[len(chain)-1].card = p.card
		p.chain = chain
	}
	logs := map[[2]string][]logKey{}
	for _, k := range snap.LogKeys {
		id := [2]string{k.Channel, k.Author}
		logs[id] = append(logs[id], logKey{from: k.From, seq: k.Seq})
	}
	return logs, nil
}

// chainOf builds a chain from its stored rows, in Seq order from 0.
func chainOf(name string, rows []record.Key) ([]keyLink, error) {
	sort.Slice(rows, func(i, j int) bool { return rows[i].Seq < rows[j].Seq })
	var chain []keyLink
	for i, r := range rows {
		if r.Seq != i {
			return nil, fmt.Errorf("key chain of %s: key %d is missing", name, i)
		}
		card, err := identity.ParseCard(r.Card)
		if err != nil {
			return nil, fmt.Errorf("key chain of %s, key %d: %w", name, i, err)
		}
		if i > 0 && r.Reason != identity.ReasonRotate {
			revokeThrough(chain, i-1)
		}
		l := newLink(name, card.SignKey, card)
		l.reason, l.at = r.Reason, r.At
		chain = append(chain, l)
	}
	return chain, nil
}

// ReasonReplace is the reason stored for a peer re-pinned by fingerprint
// after it lost its key (no statement).
const ReasonReplace = "replace"

// Rotate asks the core to change this station's keys: it appends a key
// entry carrying Statement (signed by the current key, which the entry is
// also signed with) to each of its logs that has begun, and signs
// everything after with Keys. The station has written Keys to disk
// beside the current ones; it swaps them once Done reports the change
// durable.
type Rotate struct {
	ID        uint64
	Keys      *identity.Keys
	Statement *identity.Rotation
	OldCard   *identity.Card // this station's card before (recorded as key 0 at the first rotation)
	By        string         // who ordered it
}

func (Rotate) event() {}

// KeyInfo is one key of a station's chain, for display.
type KeyInfo struct {
	Seq         int
	Fingerprint string
	Reason      string // how it replaced the key before: initial, rotate, revoke or replace
	At          time.Time
	Revoked     bool
	Current     bool
}

func (c *Core) rotate(ev Rotate) {
	r := ev.Statement
	fail := func(err error) { c.done(ev.ID, Result{}, err) }
	lost := r.Reason == identity.ReasonLost
	if lost {
		// Signed by the new key: it only names the key it replaces.
		if r.Station != c.keys.Name || !r.OldKey.Equal(c.keys.SignPublic()) {
			fail(fmt.Errorf("%w: the statement does not replace this station's current key", identity.ErrWrongKey))
			return
		}
	} else if err := r.Check(c.keys.Name, c.keys.SignPublic()); err != nil {
		fail(err)
		return
	}
	if !r.Card.SignKey.Equal(ev.Keys.SignPublic()) || ev.Keys.Name != c.keys.Name {
		fail(fmt.Errorf("%w: the new card does not carry the new keys", identity.ErrBadRotation))
		return
	}
	if c.ownSeq() == 0 && (ev.OldCard == nil || !ev.OldCard.SignKey.Equal(c.keys.SignPublic())) {
		fail(fmt.Errorf("%w: the card given as this station's current one is not of its current key", identity.ErrBadRotation))
		return
	}
	var ids []string
	for id, cs := range c.channels {
		if cs.mine.size == 0 {
			continue
		}
		if err := c.mayWrite(cs); err != nil {
			fail(fmt.Errorf("keys not rotated: %w", err))
			return
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	old := c.ownSeq()
	seq := old + 1
	switchKeys := func() {
		if old == 0 {
			oc := ev.OldCard
			c.batch.Keys = append(c.batch.Keys, record.Key{Station: c.keys.Name, Seq: 0, Card: oc.Text, Fingerprint: oc.Fingerprint(),
				Reason: "initial", Statement: []byte{}, At: oc.Issued})
			c.own[0].card = oc
		}
		nl := newLink(c.keys.Name, r.Card.SignKey, r.Card)
		nl.reason, nl.at = r.Reason, c.now
		c.own = append(c.own, nl)
		if r.Reason != identity.ReasonRotate {
			c.own[old].revoked = true
		}
		c.ownKeys[seq] = ev.Keys
		c.keys, c.signer = ev.Keys, ev.Keys.Signer()
		c.cosigner = c.newCosigner(ev.Keys)
		c.verifier = c.own[seq].verifier
		c.batch.Keys = append(c.batch.Keys, record.Key{Station: c.keys.Name, Seq: seq, Card: r.Card.Text, Fingerprint: r.Card.Fingerprint(),
			Reason: r.Reason, Statement: r.Text, At: c.now, Detail: ev.By})
		// The receipts this station gives again (in status frames) are
		// cosigned anew with the new key: a peer refuses a cosignature by
		// a key revoked or lost.
		for _, cs := range c.channels {
			t := &cs.theirs
			if t.receipt == nil {
				continue
			}
			p := c.peers[cs.rec.Peer]
			if cp, err := transcript.ParseCheckpointText(noteText(t.receipt)); err == nil {
				author := p.chain[min(seqAt(t.keys, cp.Size), len(p.chain)-1)].verifier
				if r, err := transcript.Cosign(t.receipt, author, c.cosigner); err == nil {
					t.receipt = r
				}
			}
		}
	}
	// A key entry is signed by the key it replaces; after a loss, by the
	// new one (appendMine then starts the log's new key at the entry).
	if lost {
		switchKeys()
	}
	body, _ := json.Marshal(KeyBody{Statement: string(r.Text)})
	var keyed []*chanState
	for _, id := range ids {
		cs := c.channels[id]
		if _, err := c.appendMine(0, cs, envelope.Key, envelope.Flash, body); err != nil {
			panic(err) // a pinned card and a body well under the limit: sealing cannot fail
		}
		keyed = append(keyed, cs)
	}
	if !lost {
		switchKeys()
		for _, cs := range keyed {
			lk := logKey{from: cs.mine.size + 1, seq: seq}
			cs.mine.keys = append(cs.mine.keys, lk)
			c.batch.LogKeys = append(c.batch.LogKeys, record.LogKey{Channel: cs.rec.ID, Author: c.keys.Name, From: lk.from, Seq: seq})
		}
	}
	c.alert("notice", "", "", "this station's keys were changed (%s, by %s): new fingerprint %s; key entries written on %d channels",
		r.Reason, ev.By, r.Card.Fingerprint(), len(keyed))
	c.emit(Notify{What: "key", Entry: c.keys.Name})
	id := ev.ID
	c.afterDurable(func(err error) { c.done(id, Result{}, err) })
}

// ReplacePeer re-pins a peer that lost its key under a new card, after
// its fingerprint was read aloud (docs/PROTOCOL.md, "Lost keys"). The
// core revokes the peer's current key, writes a key entry recording the
// replacement on each channel with it, and takes the peer's log from its
// next key entry signed by the new key.
type ReplacePeer struct {
	ID   uint64
	Card *identity.Card
	By   string
}

func (ReplacePeer) event() {}

func (c *Core) replacePeer(ev ReplacePeer) {
	card := ev.Card
	p := c.peers[card.Name]
	fail := func(format string, args ...any) {
		c.done(ev.ID, Result{}, fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, args...)))
	}
	switch {
	case p == nil:
		c.done(ev.ID, Result{}, fmt.Errorf("%w: %q is not pinned; a new peer is added with peer add", ErrUnknownPeer, card.Name))
		return
	case slices.ContainsFunc(p.chain, func(l keyLink) bool { return l.key.Equal(card.SignKey) }):
		fail("%s's card has a key %s already had; a replacement brings new keys", card.Name, card.Name)
		return
	}
	var ids []string
	for _, id := range p.channels {
		cs := c.channels[id]
		if cs.mine.size == 0 {
			continue
		}
		if err := c.mayWrite(cs); err != nil {
			c.done(ev.ID, Result{}, fmt.Errorf("%s not re-pinned: %w", card.Name, err))
			return
		}
		ids = append(ids, id)
	}
	oldFP := p.card.Fingerprint()
	chain := slices.Clone(p.chain)
	revokeThrough(chain, len(chain)-1)
	nl := newLink(card.Name, card.SignKey, card)
	nl.reason, nl.at = ReasonReplace, c.now
	chain = append(chain, nl)
	if len(p.chain) == 1 {
		c.batch.Keys = append(c.batch.Keys, record.Key{Station: card.Name, Seq: 0, Card: p.card.Text, Fingerprint: oldFP,
			Reason: "initial", Statement: []byte{}, At: p.card.Issued})
	}
	c.batch.Keys = append(c.batch.Keys, record.Key{Station: card.Name, Seq: len(chain) - 1, Card: card.Text, Fingerprint: card.Fingerprint(),
		Reason: ReasonReplace, Statement: []byte{}, At: c.now, Detail: ev.By})
	p.chain, p.card, p.verifier = chain, card, nl.verifier
	p.hpke, p.hpkeOf = nil, nil
	c.batch.Peers = append(c.batch.Peers, record.Peer{Name: card.Name, Party: card.Party, Card: card.Text, Fingerprint: card.Fingerprint(), AddedAt: c.now})
	body, _ := json.Marshal(KeyBody{Replaced: &transcript.Replacement{Station: card.Name, Old: oldFP, Card: string(card.Text), By: ev.By}})
	for _, id := range ids {
		if _, err := c.appendMine(0, c.channels[id], envelope.Key, envelope.Flash, body); err != nil {
			panic(err)
		}
	}
	c.alert("alarm", "", card.Name, "%s re-pinned by fingerprint %s (by %s) after it lost its key %s: anything signed later with the lost key is refused",
		card.Name, card.Fingerprint(), ev.By, oldFP)
	c.emit(Notify{What: "key", Entry: card.Name})
	c.disownReceipts(p)
	id := ev.ID
	c.afterDurable(func(err error) { c.done(id, Result{}, err) })
}

// Statements reports the rotation statements a peer's TLS certificate
// carries. The core follows them from the peer's current key (each signed
// by the key before, none from a revoked key) and pins the card they lead
// to, as a key entry would: so a peer with which no log has begun (no
// channel yet, or a proposal not yet accepted) is followed too. Each
// log still changes key only at its own key entry.
type Statements struct {
	Peer       string
	Statements [][]byte
}

func (Statements) event() {}

func (c *Core) statements(ev Statements) {
	p := c.peers[ev.Peer]
	if p == nil || len(ev.Statements) == 0 {
		return
	}
	revoked := func(k ed25519.PublicKey) bool {
		return slices.ContainsFunc(p.chain, func(l keyLink) bool { return l.revoked && l.key.Equal(k) })
	}
	_, path := identity.Follow(ev.Peer, p.card.SignKey, ev.Statements, revoked)
	if len(path) == 0 {
		return
	}
	chain := slices.Clone(p.chain)
	for _, r := range path {
		if r.Reason == identity.ReasonRevoke {
			revokeThrough(chain, len(chain)-1)
		}
		nl := newLink(ev.Peer, r.Card.SignKey, r.Card)
		nl.reason, nl.at = r.Reason, c.now
		chain = append(chain, nl)
	}
	c.peerRotated(p, chain, path)
}

// Keys describes a station's key chain (this station's or a pinned
// peer's), oldest first; nil for an unknown station.
func (c *Core) Keys(station string) []KeyInfo {
	chain := c.own
	if station != c.keys.Name {
		p := c.peers[station]
		if p == nil {
			return nil
		}
		chain = p.chain
	}
	var out []KeyInfo
	for i, l := range chain {
		fp := ""
		if l.card != nil {
			fp = l.card.Fingerprint()
		}
		reason := l.reason
		if reason == "" {
			reason = "initial"
		}
		at := l.at
		if at.IsZero() && l.card != nil {
			at = l.card.Issued
		}
		out = append(out, KeyInfo{Seq: i, Fingerprint: fp, Reason: reason, At: at, Revoked: l.revoked, Current: i == len(chain)-1})
	}
	return out
}

// ChainKeys returns every signing key of a peer's chain that is not
// revoked, the current one last. They name the peer of mail a relay hands
// over (a relay may still label it with a key the peer had), never of a
// connection: only the current key speaks for a peer on a link.
func (c *Core) ChainKeys(name string) []ed25519.PublicKey {
	p := c.peers[name]
	if p == nil {
		return nil
	}
	var out []ed25519.PublicKey
	for _, l := range p.chain {
		if !l.revoked {
			out = append(out, l.key)
		}
	}
	return out
}

// peerRotated takes a peer's new key chain, which a key entry just
// extended: the pinned card becomes the chain's last (the HPKE key
// sealed to follows), and operators are told.
func (c *Core) peerRotated(p *peer, chain []keyLink, rs []*identity.Rotation) {
	name := p.card.Name
	first := len(p.chain) == 1
	if first {
		c.batch.Keys = append(c.batch.Keys, record.Key{Station: name, Seq: 0, Card: p.card.Text, Fingerprint: p.card.Fingerprint(),
			Reason: "initial", Statement: []byte{}, At: p.card.Issued})
	}
	base := len(chain) - len(rs)
	for i, r := range rs {
		oldFP := chain[base+i-1].card.Fingerprint()
		c.batch.Keys = append(c.batch.Keys, record.Key{Station: name, Seq: base + i, Card: r.Card.Text, Fingerprint: r.Card.Fingerprint(),
			Reason: r.Reason, Statement: r.Text, At: c.now})
		if r.Reason == identity.ReasonRevoke {
			c.alert("alarm", "", name, "%s REVOKED its key (fingerprint %s) and now signs with fingerprint %s: anything signed later with the revoked key is refused",
				name, oldFP, r.Card.Fingerprint())
		} else {
			// An alarm, not a notice: from now on what is sealed to the
			// peer goes to the new key, and a person should know that a key
			// they read aloud is no longer the one in use.
			c.alert("alarm", "", name, "%s rotated its keys: fingerprint %s replaces %s (statement of %s, signed by the old key)",
				name, r.Card.Fingerprint(), oldFP, r.Time.UTC().Format(time.RFC3339))
		}
	}
	last := chain[len(chain)-1]
	p.chain, p.card, p.verifier = chain, last.card, last.verifier
	p.hpke, p.hpkeOf = nil, nil
	c.batch.Peers = append(c.batch.Peers, record.Peer{Name: name, Party: last.card.Party, Card: last.card.Text, Fingerprint: last.card.Fingerprint(), AddedAt: c.now})
	c.emit(Notify{What: "key", Entry: name})
	if slices.ContainsFunc(rs, func(r *identity.Rotation) bool { return r.Reason != identity.ReasonRotate }) {
		c.disownReceipts(p)
	}
	// Receipts that came cosigned by the new key before it was known.
	for _, id := range p.channels {
		cs := c.channels[id]
		if r := cs.mine.unchecked; r != nil {
			cs.mine.unchecked = nil
			c.applyReceipt(p, cs, r)
		}
	}
	c.flush(name)
}

// allKeys are the verifiers of every key of the peer's chain.
func (p *peer) allKeys() []note.Verifier {
	var vs []note.Verifier
	for _, l := range p.chain {
		vs = append(vs, l.verifier)
	}
	return vs
}

// allCosigners are the verifiers of every receipt any key of the peer's
// chain could have cosigned.
func (p *peer) allCosigners() []note.Verifier {
	var vs []note.Verifier
	for _, l := range p.chain {
		vs = append(vs, l.cosign, l.verifier)
	}
	return vs
}

// signedByChain reports whether a parsed entry is signed by some key of
// the peer's chain.
func (p *peer) signedByChain(o Opened) bool {
	if o.Env == nil {
		return false
	}
	for _, l := range p.chain {
		if o.Env.Verify(l.key) == nil {
			return true
		}
	}
	return false
}

// cosignedByUnknownKey reports whether a receipt carries this station's
// own valid signature and one under the peer's name by a key that is not
// in the peer's chain as this station knows it: the peer changed its keys
// and its key entry has not arrived yet.
func (c *Core) cosignedByUnknownKey(p *peer, signed []byte) bool {
	n, err := note.Open(signed, note.VerifierList(c.ownVerifiers()...))
	if err != nil || len(n.Sigs) == 0 {
		return false
	}
	for _, s := range n.UnverifiedSigs {
		if s.Name != p.card.Name {
			continue
		}
		if !slices.ContainsFunc(p.chain, func(l keyLink) bool { return l.verifier.KeyHash() == s.Hash || l.cosign.KeyHash() == s.Hash }) {
			return true
		}
	}
	return false
}
