package protocol

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/cryptotest"
	"time"

	"hotline/internal/envelope"
	"hotline/internal/identity"
	"hotline/internal/transcript"
)

// rotation makes new keys and a card for n listing endpoint, and the
// Rotate event that hands them to its core, as the station does.
func (s *sim) rotation(n *simNode, reason, endpoint string) (*identity.Keys, *identity.Card, func(id uint64) Event) {
	s.t.Helper()
	nk, err := identity.NewKeys(n.name)
	if err != nil {
		s.t.Fatal(err)
	}
	card, err := identity.NewCard(nk, n.name, []string{endpoint}, s.now)
	if err != nil {
		s.t.Fatal(err)
	}
	r, err := identity.NewRotation(n.keys, card, reason, s.now)
	if err != nil {
		s.t.Fatal(err)
	}
	old := n.card
	return nk, card, func(id uint64) Event {
		return Rotate{ID: id, Keys: nk, Statement: r, OldCard: old, By: "signal officer"}
	}
}

// rotate makes new keys and a new card for n and hands them to its core,
// as the station does; it returns the Done.
func (s *sim) rotate(n *simNode, reason string) Done {
	s.t.Helper()
	nk, card, ev := s.rotation(n, reason, n.name+":2")
	req := s.request(n, ev)
	s.settle(100000)
	d := n.done[req]
	if d.Err == nil {
		n.retired = append(n.retired, n.keys)
		n.keys, n.card = nk, card
	}
	return d
}

// bundleOf builds the audit bundle of a channel from a node's disk, with
// the cards each log began with (as the station exports it): the
// exporter's log first, with its receipt, then the peer's, with its
// checkpoint cosigned by the exporter; sealed by the exporter.
func bundleOf(t *testing.T, n *simNode, ch string, cards ...*identity.Card) *transcript.Bundle {
	t.Helper()
	b := &transcript.Bundle{Format: transcript.BundleFormat, Channel: ch, ExportedBy: n.name, ExportedAt: time.Unix(1_800_000_000, 0)}
	authors := []string{"ALPHA", "BRAVO"}
	if n.name == "BRAVO" {
		authors = []string{"BRAVO", "ALPHA"}
	}
	for _, author := range authors {
		for _, c := range cards {
			if c.Name == author {
				b.Cards = append(b.Cards, string(c.Text))
			}
		}
	}
	for _, c := range n.disk.channels {
		if c.ID == ch {
			b.Charter = string(c.Charter)
		}
	}
	for _, author := range authors {
		l := transcript.BundleLog{Author: author}
		for _, e := range n.disk.entries[ch+"/"+author] {
			l.Entries = append(l.Entries, e.Raw)
			if e.Kind == envelope.Key {
				var kb KeyBody
				if err := json.Unmarshal(e.Body, &kb); err != nil {
					t.Fatal(err)
				}
				l.Keys = append(l.Keys, transcript.BundleKey{Index: e.Index, Statement: kb.Statement, Replaced: kb.Replaced})
			}
		}
		lg := n.disk.logs[ch+"/"+author]
		switch {
		case lg == nil:
		case author == n.name:
			l.Checkpoint = string(lg.Receipt)
		case lg.Checkpoint != nil:
			l.Checkpoint = string(cosignAny(t, lg.Checkpoint, author, n))
		}
		b.Logs = append(b.Logs, l)
	}
	if err := b.Seal(n.keys.Signer()); err != nil {
		t.Fatal(err)
	}
	return b
}

// cosignAny cosigns, as n, a checkpoint of author's signed by one of the
// keys n holds for it: its pinned card, or one of its key chain.
func cosignAny(t *testing.T, signed []byte, author string, n *simNode) []byte {
	t.Helper()
	var cards [][]byte
	for _, k := range n.disk.keys {
		if k.Station == author {
			cards = append(cards, k.Card)
		}
	}
	cards = append(cards, n.disk.peers[author].Card)
	for _, text := range cards {
		c, err := identity.ParseCard(text)
		if err != nil {
			t.Fatal(err)
		}
		v, err := c.Verifier()
		if err != nil {
			t.Fatal(err)
		}
		if r, err := transcript.Cosign(signed, v, n.keys.Signer()); err == nil {
			return r
		}
	}
	t.Fatalf("no card of %s signs its checkpoint", author)
	return nil
}

// TestKeyRotation: ALPHA rotates its keys mid-conversation. Every channel
// gets a key entry signed by the old key; BRAVO follows the statement,
// pins the new card and seals to the new HPKE key; messages before and
// after are delivered and receipted both ways; both restart from disk and
// go on; and the channel's transcript verifies across the change.
func TestKeyRotation(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 5)
	s := newSim(t, 5)
	a, b := s.nodes[0], s.nodes[1]
	card0 := a.card
	if d := s.send(a, "ops", envelope.Text, envelope.Routine, TextBody{Text: "before"}); d.Err != nil {
		t.Fatal(d.Err)
	}
	if d := s.send(b, "ops", envelope.Text, envelope.Routine, TextBody{Text: "reply before"}); d.Err != nil {
		t.Fatal(d.Err)
	}
	if d := s.rotate(a, identity.ReasonRotate); d.Err != nil {
		t.Fatalf("rotate: %v", d.Err)
	}
	for _, ch := range []string{"ops", "leaders"} {
		ks := kinds(b, ch, "ALPHA")
		if ks[len(ks)-1] != "key" {
			t.Errorf("BRAVO's copy of %s/ALPHA ends %v, want the key entry", ch, ks)
		}
	}
	if got := b.core.Peer("ALPHA"); !got.SignKey.Equal(a.keys.SignPublic()) {
		t.Fatal("BRAVO did not pin ALPHA's new key")
	}
	if string(b.disk.peers["ALPHA"].Card) != string(a.card.Text) {
		t.Error("BRAVO's stored card of ALPHA is not the new card")
	}
	if alerted(b, "alarm", "ALPHA rotated its keys") != 1 {
		t.Errorf("BRAVO's operators were not told once: %+v", b.alerts)
	}
	if alerted(a, "notice", "this station's keys were changed") != 1 {
		t.Errorf("ALPHA's operators were not told: %+v", a.alerts)
	}
	after := func(tag string) {
		t.Helper()
		for _, n := range []*simNode{a, b} {
			if d := s.send(n, "ops", envelope.Text, envelope.Routine, TextBody{Text: tag}); d.Err != nil {
				t.Fatalf("%s %s: %v", n.name, tag, d.Err)
			}
		}
		s.run(2 * time.Second)
		for _, n := range []*simNode{a, b} {
			i := s.info(n, "ops")
			if i.Delivered != i.Written {
				t.Fatalf("%s %s: %d of %d entries delivered", n.name, tag, i.Delivered, i.Written)
			}
		}
	}
	after("after")
	// The text BRAVO sent after the rotation was sealed to the new key.
	es := a.disk.entries["ops/BRAVO"]
	last := es[len(es)-1]
	env, err := envelope.Parse(last.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Open(a.keys.KEM); err != nil {
		t.Errorf("BRAVO's entry after the rotation does not open with ALPHA's new key: %v", err)
	}
	// Both restart from their disks and go on.
	s.crash(a)
	s.crash(b)
	after("after restart")
	// The transcript of ops verifies at both stations, across the change.
	for _, n := range []*simNode{a, b} {
		rep, err := transcript.Verify(bundleOf(t, n, "ops", card0, b.card))
		if err != nil {
			t.Fatalf("%s's transcript of ops: %v", n.name, err)
		}
		for _, l := range rep.Logs {
			if l.Author == "ALPHA" && l.Keys != 2 {
				t.Errorf("%s's transcript: ALPHA's log shows %d keys, want 2", n.name, l.Keys)
			}
		}
	}
}

// TestKeyRotationPeerAway: ALPHA rotates while BRAVO cannot be reached,
// and BRAVO sends meanwhile, sealing to ALPHA's old HPKE key. When the
// link comes back, BRAVO takes the key entries and ALPHA opens BRAVO's
// message with its retired key.
func TestKeyRotationPeerAway(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 6)
	s := newSim(t, 6)
	a, b := s.nodes[0], s.nodes[1]
	for _, ends := range s.conns {
		_ = ends
	}
	s.noDial = true
	for id := range s.conns {
		s.cut(id)
	}
	if d := s.rotate(a, identity.ReasonRotate); d.Err != nil {
		t.Fatal(d.Err)
	}
	if d := s.send(b, "ops", envelope.Text, envelope.Flash, TextBody{Text: "sealed to the old key"}); d.Err != nil {
		t.Fatal(d.Err)
	}
	if d := s.send(a, "ops", envelope.Text, envelope.Flash, TextBody{Text: "signed by the new key"}); d.Err != nil {
		t.Fatal(d.Err)
	}
	if b.core.Peer("ALPHA").SignKey.Equal(a.keys.SignPublic()) {
		t.Fatal("BRAVO knows the new key before any link")
	}
	s.noDial = false
	s.run(2 * time.Second)
	for _, n := range []*simNode{a, b} {
		if i := s.info(n, "ops"); i.Delivered != i.Written || i.Written == 0 {
			t.Fatalf("%s: %d of %d delivered after reconnecting", n.name, i.Delivered, i.Written)
		}
	}
	if !b.core.Peer("ALPHA").SignKey.Equal(a.keys.SignPublic()) {
		t.Error("BRAVO did not follow ALPHA's rotation after reconnecting")
	}
	es := a.disk.entries["ops/BRAVO"]
	var tb TextBody
	if err := json.Unmarshal(es[len(es)-1].Body, &tb); err != nil || tb.Text != "sealed to the old key" {
		t.Errorf("ALPHA's last entry from BRAVO is %q (%v)", es[len(es)-1].Body, err)
	}
}

// TestKeyRotationWrongKey: a rotation statement signed by a key other
// than the one pinned is refused with a clear error, by the author's core
// and by the receiver, and changes nothing.
func TestKeyRotationWrongKey(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 7)
	s := newSim(t, 7)
	a, b := s.nodes[0], s.nodes[1]
	s.settle(10000)
	impostor, _ := identity.NewKeys("ALPHA")
	nk, _ := identity.NewKeys("ALPHA")
	card, _ := identity.NewCard(nk, "ALPHA", nil, s.now)
	bad, err := identity.NewRotation(impostor, card, identity.ReasonRotate, s.now)
	if err != nil {
		t.Fatal(err)
	}
	// The author's core refuses to write it.
	before := snapshotDisk(a)
	req := s.request(a, func(id uint64) Event { return Rotate{ID: id, Keys: nk, Statement: bad, OldCard: a.card, By: "x"} })
	s.settle(1000)
	if err := a.done[req].Err; !errors.Is(err, identity.ErrWrongKey) {
		t.Fatalf("rotate with a statement by the wrong key: %v, want ErrWrongKey", err)
	}
	if string(snapshotDisk(a)) != string(before) {
		t.Error("the refused rotation changed ALPHA's disk")
	}
	// The receiver refuses a key entry carrying it, signed by ALPHA's
	// real key (as a station that lost control of its software might).
	next := uint64(len(a.disk.entries["ops/ALPHA"]) + 1)
	body, _ := json.Marshal(KeyBody{Statement: string(bad.Text)})
	raw, err := envelope.Seal(envelope.Header{Channel: "ops", Author: "ALPHA", Recipient: "BRAVO", Index: next,
		Precedence: envelope.Flash, Kind: envelope.Key, Time: s.now}, body, b.keys.KEM.PublicKey(), a.keys.Sign)
	if err != nil {
		t.Fatal(err)
	}
	data := entriesFrame(t, a, "ops", raw)
	before = snapshotDisk(b)
	s.dial(a)
	s.step(b, FrameIn{Peer: "ALPHA", Conn: a.out, Data: data})
	if b.core.Stats.Refused["bad key change"] != 1 {
		t.Fatalf("refused %v, want one bad key change", b.core.Stats.Refused)
	}
	if alerted(b, "alarm", "not signed by the pinned key") != 1 {
		t.Errorf("no clear alarm: %+v", b.alerts)
	}
	s.net = nil
	s.settle(10000)
	if string(snapshotDisk(b)) != string(before) {
		t.Error("the refused key entry changed BRAVO's disk")
	}
	if !b.core.Peer("ALPHA").SignKey.Equal(a.keys.SignPublic()) {
		t.Error("BRAVO's pin of ALPHA changed")
	}
}

// TestKeyRevoked: after ALPHA revokes its key, BRAVO refuses a receipt
// cosigned with the revoked key and a new log begun with it, each with an
// alarm, and the revocation itself is an alarm.
func TestKeyRevoked(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 8)
	s := newSim(t, 8)
	a, b := s.nodes[0], s.nodes[1]
	if d := s.send(b, "ops", envelope.Text, envelope.Routine, TextBody{Text: "before"}); d.Err != nil {
		t.Fatal(d.Err)
	}
	oldKeys := a.keys
	if d := s.rotate(a, identity.ReasonRevoke); d.Err != nil {
		t.Fatal(d.Err)
	}
	if alerted(b, "alarm", "ALPHA REVOKED its key") != 1 {
		t.Errorf("no revocation alarm at BRAVO: %+v", b.alerts)
	}
	if d := s.send(b, "ops", envelope.Text, envelope.Routine, TextBody{Text: "after"}); d.Err != nil {
		t.Fatal(d.Err)
	}
	s.run(2 * time.Second)
	// A receipt cosigned by the revoked key, of an entry BRAVO wrote
	// while the link was down (an old receipt would add nothing and is
	// ignored).
	s.noDial = true
	for id := range s.conns {
		s.cut(id)
	}
	if d := s.send(b, "ops", envelope.Text, envelope.Routine, TextBody{Text: "not yet delivered"}); d.Err != nil {
		t.Fatal(d.Err)
	}
	l := b.disk.logs["ops/BRAVO"]
	cp, err := transcript.SignCheckpoint(transcript.Checkpoint{Origin: transcript.Origin("ops", "BRAVO"), Size: l.Size,
		Root: b.disk.entries["ops/BRAVO"][l.Size-1].Root}, b.keys.Signer())
	if err != nil {
		t.Fatal(err)
	}
	forged, err := transcript.Cosign(cp, mustVerifier(t, b.card), oldKeys.Signer())
	if err != nil {
		t.Fatal(err)
	}
	s.step(b, FrameIn{Peer: "ALPHA", Conn: 999, Data: (&Frame{Type: FrameReceipt, Channel: "ops", Author: "BRAVO", Checkpoint: forged}).Encode()})
	if b.core.Stats.Refused["bad cosignature"] != 1 {
		t.Errorf("a receipt cosigned by the revoked key: refused %v", b.core.Stats.Refused)
	}
	s.noDial = false
	// A new log (channel proposed with the revoked key).
	raw, err := envelope.Seal(envelope.Header{Channel: "fresh", Author: "ALPHA", Recipient: "BRAVO", Index: 1,
		Precedence: envelope.Priority, Kind: envelope.Agreement, Time: s.now}, []byte(`{"charter":"x"}`), b.keys.KEM.PublicKey(), oldKeys.Sign)
	if err != nil {
		t.Fatal(err)
	}
	cp2, _ := transcript.SignCheckpoint(transcript.Checkpoint{Origin: transcript.Origin("fresh", "ALPHA"), Size: 1, Root: transcript.LeafHash(raw)}, oldKeys.Signer())
	s.dial(a)
	s.step(b, FrameIn{Peer: "ALPHA", Conn: a.out, Data: (&Frame{Type: FrameEntries, Channel: "fresh", Author: "ALPHA", Checkpoint: cp2, Entries: [][]byte{raw}}).Encode()})
	if b.core.Stats.Refused["bad entry"] != 1 {
		t.Errorf("an entry signed by the revoked key: refused %v", b.core.Stats.Refused)
	}
}

func mustVerifier(t *testing.T, c *identity.Card) interface {
	Name() string
	KeyHash() uint32
	Verify(msg, sig []byte) bool
} {
	v, err := c.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestLostKey: ALPHA loses its key. Its statement is signed by its new
// key, so BRAVO refuses its key entries (and its new key) until BRAVO's
// signal officer re-pins ALPHA by the new fingerprint. That writes a
// replacement record on BRAVO's logs and revokes the lost key; ALPHA's
// key entries are then taken, messages flow both ways, a receipt
// cosigned by the lost key is refused, and the transcript verifies at
// both stations, the key change explained by the record.
func TestLostKey(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 9)
	s := newSim(t, 9)
	a, b := s.nodes[0], s.nodes[1]
	card0 := a.card
	if d := s.send(a, "ops", envelope.Text, envelope.Routine, TextBody{Text: "before"}); d.Err != nil {
		t.Fatal(d.Err)
	}
	lostKeys := a.keys
	s.noDial = true
	for id := range s.conns {
		s.cut(id)
	}
	nk, _ := identity.NewKeys("ALPHA")
	card, _ := identity.NewCard(nk, "ALPHA", []string{"ALPHA:3"}, s.now)
	stmt, err := identity.NewLostStatement(lostKeys.SignPublic(), nk, card, s.now)
	if err != nil {
		t.Fatal(err)
	}
	req := s.request(a, func(id uint64) Event {
		return Rotate{ID: id, Keys: nk, Statement: stmt, OldCard: a.card, By: "signal officer"}
	})
	s.settle(1000)
	if err := a.done[req].Err; err != nil {
		t.Fatal(err)
	}
	a.retired, a.keys, a.card = append(a.retired, a.keys), nk, card
	// Before its officer re-pins ALPHA, BRAVO refuses ALPHA's key entry,
	// signed by a key it does not know.
	es := a.disk.entries["ops/ALPHA"]
	keyEntry := es[len(es)-1]
	if keyEntry.Kind != envelope.Key {
		t.Fatalf("ALPHA's log ends with %s", keyEntry.Kind)
	}
	tree := transcript.NewTree()
	for _, e := range es {
		tree.Append(e.Raw)
	}
	cp, _ := transcript.SignCheckpoint(transcript.Checkpoint{Origin: transcript.Origin("ops", "ALPHA"), Size: tree.Size(), Root: tree.Root()}, nk.Signer())
	s.step(b, FrameIn{Peer: "ALPHA", Conn: 999, Data: (&Frame{Type: FrameEntries, Channel: "ops", Author: "ALPHA", Checkpoint: cp, Entries: [][]byte{keyEntry.Raw}}).Encode()})
	if b.core.Stats.Refused["bad entry"] != 1 {
		t.Fatalf("BRAVO took ALPHA's entry signed by an unknown key: refused %v", b.core.Stats.Refused)
	}
	s.settle(1000)
	// BRAVO's officer re-pins ALPHA by the fingerprint read aloud.
	req = s.request(b, func(id uint64) Event { return ReplacePeer{ID: id, Card: card, By: "signal officer"} })
	s.settle(1000)
	s.noDial = false
	s.run(6 * time.Second)
	if err := b.done[req].Err; err != nil {
		t.Fatal(err)
	}
	if ks := kinds(b, "ops", "ALPHA"); ks[len(ks)-1] != "key" {
		t.Fatalf("after re-pinning, BRAVO's copy of ALPHA's log ends %v", ks)
	}
	if alerted(b, "alarm", "re-pinned by fingerprint") != 1 || alerted(a, "notice", "BRAVO re-pinned this station") != 2 {
		t.Errorf("operators were not told: BRAVO %+v, ALPHA %+v", b.alerts, a.alerts)
	}
	for _, n := range []*simNode{a, b} {
		if d := s.send(n, "ops", envelope.Text, envelope.Routine, TextBody{Text: "after"}); d.Err != nil {
			t.Fatal(d.Err)
		}
	}
	s.run(6 * time.Second)
	for _, n := range []*simNode{a, b} {
		if i := s.info(n, "ops"); i.Delivered != i.Written {
			t.Fatalf("%s: %d of %d delivered", n.name, i.Delivered, i.Written)
		}
	}
	// A receipt cosigned by the lost key, of an entry not yet delivered,
	// is refused.
	s.noDial = true
	for id := range s.conns {
		s.cut(id)
	}
	if d := s.send(b, "ops", envelope.Text, envelope.Routine, TextBody{Text: "not yet delivered"}); d.Err != nil {
		t.Fatal(d.Err)
	}
	l := b.disk.logs["ops/BRAVO"]
	cp2, _ := transcript.SignCheckpoint(transcript.Checkpoint{Origin: transcript.Origin("ops", "BRAVO"), Size: l.Size,
		Root: b.disk.entries["ops/BRAVO"][l.Size-1].Root}, b.keys.Signer())
	forged, _ := transcript.Cosign(cp2, mustVerifier(t, b.card), lostKeys.Signer())
	before := b.core.Stats.Refused["bad cosignature"]
	s.step(b, FrameIn{Peer: "ALPHA", Conn: 999, Data: (&Frame{Type: FrameReceipt, Channel: "ops", Author: "BRAVO", Checkpoint: forged}).Encode()})
	if b.core.Stats.Refused["bad cosignature"] != before+1 {
		t.Errorf("a receipt cosigned by the lost key was not refused")
	}
	s.net = nil
	s.noDial = false
	s.crash(a)
	s.crash(b)
	s.run(6 * time.Second)
	for _, n := range []*simNode{a, b} {
		rep, err := transcript.Verify(bundleOf(t, n, "ops", card0, b.card))
		if err != nil {
			t.Fatalf("%s's transcript: %v", n.name, err)
		}
		for _, l := range rep.Logs {
			if l.Author == "ALPHA" && (l.Keys != 2 || l.Fingerprints[1] != card.Fingerprint()) {
				t.Errorf("%s's transcript shows ALPHA's keys %v", n.name, l.Fingerprints)
			}
		}
		// ALPHA's new key counts because BRAVO re-pinned it. In BRAVO's
		// own export only BRAVO vouches for it, and the report says so,
		// until the auditor pins the new key.
		vouched := func(rep *transcript.Report) bool {
			for _, l := range rep.Logs {
				for _, lim := range l.Limits {
					if l.Author == "ALPHA" && strings.Contains(lim, "only BRAVO, the exporter, vouches") {
						return true
					}
				}
			}
			return false
		}
		if got := vouched(rep); got != (n == b) || rep.Verdict != transcript.VerifiedLimited {
			t.Errorf("%s's transcript: limit on ALPHA's new key %v, verdict %q; want the limit only in BRAVO's", n.name, got, rep.Verdict)
		}
		pinned, err := transcript.VerifyWith(bundleOf(t, n, "ops", card0, b.card), transcript.Options{Pins: map[string]string{"ALPHA": card.Fingerprint()}})
		if err != nil || vouched(pinned) || pinned.Logs[0].Pinned+pinned.Logs[1].Pinned != 2 {
			t.Errorf("%s's transcript with ALPHA's new key pinned: %+v, %v", n.name, pinned, err)
		}
		// Without the replacement record, the key change does not verify.
		bundle := bundleOf(t, n, "ops", card0, b.card)
		for i := range bundle.Logs {
			if bundle.Logs[i].Author == "BRAVO" {
				var keep []transcript.BundleKey
				for _, k := range bundle.Logs[i].Keys {
					if k.Replaced == nil {
						keep = append(keep, k)
					}
				}
				bundle.Logs[i].Keys = keep
			}
		}
		if _, err := transcript.Verify(bundle); err == nil {
			t.Errorf("%s's transcript verifies without BRAVO's replacement record", n.name)
		}
	}
}

// TestStatementsFollowed: the statements of a peer's certificate are
// followed from the pinned key, once; one signed by another key, or a
// lost-key statement, changes nothing.
func TestStatementsFollowed(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 10)
	s := newSim(t, 10)
	a, b := s.nodes[0], s.nodes[1]
	nk, _ := identity.NewKeys("ALPHA")
	card, _ := identity.NewCard(nk, "ALPHA", nil, s.now)
	impostor, _ := identity.NewKeys("ALPHA")
	forged, _ := identity.NewRotation(impostor, card, identity.ReasonRotate, s.now)
	lost, _ := identity.NewLostStatement(a.keys.SignPublic(), nk, card, s.now)
	good, _ := identity.NewRotation(a.keys, card, identity.ReasonRotate, s.now)
	before := snapshotDisk(b)
	s.step(b, Statements{Peer: "ALPHA", Statements: [][]byte{forged.Text, lost.Text, []byte("junk")}})
	s.settle(1000)
	if string(snapshotDisk(b)) != string(before) || len(b.core.Keys("ALPHA")) != 1 {
		t.Fatal("statements not signed by the pinned key changed BRAVO")
	}
	for range 2 {
		s.step(b, Statements{Peer: "ALPHA", Statements: [][]byte{good.Text}})
		s.settle(1000)
	}
	if ks := b.core.Keys("ALPHA"); len(ks) != 2 || ks[1].Fingerprint != card.Fingerprint() || !b.core.Peer("ALPHA").SignKey.Equal(nk.SignPublic()) {
		t.Fatalf("BRAVO's chain of ALPHA: %+v", ks)
	}
	if alerted(b, "alarm", "ALPHA rotated its keys") != 1 {
		t.Errorf("BRAVO's operators told %d times, want once", alerted(b, "alarm", "ALPHA rotated its keys"))
	}
}
