package protocol

import (
	"testing"
	"testing/cryptotest"
	"time"

	"hotline/internal/envelope"
	"hotline/internal/identity"
	"hotline/internal/transcript"
)

// forgedReceipt cosigns ALPHA's current checkpoint of ch with key k, as
// whoever holds k could, without BRAVO ever receiving the entries.
func forgedReceipt(t *testing.T, a *simNode, ch string, k *identity.Keys) []byte {
	t.Helper()
	cs := a.core.channels[ch]
	cp, err := transcript.SignCheckpoint(transcript.Checkpoint{Origin: transcript.Origin(ch, "ALPHA"), Size: cs.mine.size, Root: cs.mine.tree.Root()}, a.core.signer)
	if err != nil {
		t.Fatal(err)
	}
	r, err := transcript.Cosign(cp, a.core.verifier, k.Signer())
	if err != nil {
		t.Fatal(err)
	}
	return (&Frame{Type: FrameReceipt, Channel: ch, Author: "ALPHA", Checkpoint: r}).Encode()
}

// TestRetiredKeyCosignsNothing: after BRAVO rotates, its key before
// cosigns receipts only for ReceiptGrace (receipts on their way); after
// that, whoever kept a copy of it cannot make ALPHA believe BRAVO has
// what it never got (security review item 1).
func TestRetiredKeyCosignsNothing(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 11)
	s := newSim(t, 11)
	a, b := s.nodes[0], s.nodes[1]
	old := b.keys
	if d := s.rotate(b, identity.ReasonRotate); d.Err != nil {
		t.Fatal(d.Err)
	}
	s.run(ReceiptGrace + time.Minute)
	// ALPHA writes; BRAVO never gets it.
	s.lose = func(p packet) bool { return p.from == a }
	req := s.request(a, func(id uint64) Event {
		return Submit{ID: id, Channel: "ops", Kind: envelope.Text, Precedence: envelope.Flash, Body: textBody(1)}
	})
	s.settle(1000)
	if d := a.done[req]; d.Err != nil {
		t.Fatal(d.Err)
	}
	delivered := a.core.channels["ops"].mine.delivered
	s.dial(b)
	refused := a.core.Stats.Refused["bad cosignature"]
	s.step(a, FrameIn{Peer: "BRAVO", Conn: b.out, Data: forgedReceipt(t, a, "ops", old)})
	if got := a.core.channels["ops"].mine.delivered; got != delivered {
		t.Fatalf("a receipt cosigned by BRAVO's retired key delivered %d entries, had %d", got, delivered)
	}
	if a.core.Stats.Refused["bad cosignature"] != refused+1 {
		t.Errorf("the forged receipt was not refused as a bad cosignature: %v", a.core.Stats.Refused)
	}
}

// TestRevocationDisownsReceipts: whoever held BRAVO's key made ALPHA
// believe BRAVO had an entry it never got. Once BRAVO revokes that key,
// the receipt proves nothing: ALPHA sends the entry again from its disk,
// BRAVO gets it, and it counts as delivered once BRAVO's new key
// receipts it (security review item 1).
func TestRevocationDisownsReceipts(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 12)
	s := newSim(t, 12)
	a, b := s.nodes[0], s.nodes[1]
	s.lose = func(p packet) bool { return p.from == a && p.to == b }
	req := s.request(a, func(id uint64) Event {
		return Submit{ID: id, Channel: "ops", Kind: envelope.Text, Precedence: envelope.Flash, Body: textBody(7)}
	})
	s.settle(1000)
	if d := a.done[req]; d.Err != nil {
		t.Fatal(d.Err)
	}
	size := a.core.channels["ops"].mine.size
	s.dial(b)
	s.step(a, FrameIn{Peer: "BRAVO", Conn: b.out, Data: forgedReceipt(t, a, "ops", b.keys)})
	if got := a.core.channels["ops"].mine.delivered; got != size {
		t.Fatalf("the forged receipt by BRAVO's current key delivered %d of %d: the attack did not take", got, size)
	}
	if n := len(b.disk.entries["ops/ALPHA"]); uint64(n) >= size {
		t.Fatalf("BRAVO holds %d entries of ALPHA's log already", n)
	}

	s.lose = nil
	if d := s.rotate(b, identity.ReasonRevoke); d.Err != nil {
		t.Fatal(d.Err)
	}
	s.run(time.Minute)
	s.settle(100000)
	if n := len(b.disk.entries["ops/ALPHA"]); uint64(n) < size {
		t.Fatalf("after the revocation BRAVO holds %d entries of ALPHA's log, want %d: the disowned entry was not sent again", n, size)
	}
	m := a.core.channels["ops"].mine
	if m.delivered < size || !a.core.receiptHolds(a.core.peers["BRAVO"], m.receipt) {
		t.Errorf("ALPHA's delivered mark %d (of %d) does not rest on BRAVO's new key", m.delivered, size)
	}
	if alerted(a, "alarm", "entries of ops was cosigned by a key it has since revoked") != 1 {
		t.Errorf("ALPHA's operators were not told of the disowned receipt: %+v", a.alerts)
	}
	if got := a.disk.logs["ops/ALPHA"].ReceiptSize; got < size {
		t.Errorf("ALPHA's stored receipt covers %d entries, want %d", got, size)
	}
}
