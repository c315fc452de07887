package protocol

import (
	"bytes"
	"encoding/base64"
	"testing"
	"testing/cryptotest"

	"golang.org/x/mod/sumdb/note"

	"hotline/internal/envelope"
)

// countingVerifier counts the signatures a note.Verifier checks.
type countingVerifier struct {
	note.Verifier
	n int
}

func (v *countingVerifier) Verify(msg, sig []byte) bool {
	v.n++
	return v.Verifier.Verify(msg, sig)
}

// TestRepeatedReceiptNotCheckedAgain: every status a peer sends carries
// its latest receipt of each of this station's logs, most often the very
// receipt this station took last, or an older one (a stale status the
// relay held). That one was checked when it was taken, or when it came
// before, and brings nothing new: it is not checked again (in a network
// of 57 stations whose paths come and go, checking them was a quarter of
// the simulator's CPU). A receipt that differs from it by one byte is
// still checked, and refused.
func TestRepeatedReceiptNotCheckedAgain(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 41)
	s := newSim(t, 41)
	a, b := s.nodes[0], s.nodes[1]
	s.send(a, "ops", envelope.Text, envelope.Routine, TextBody{Text: "to be receipted"})
	s.settle(100000)
	if i := s.info(a, "ops"); i.Delivered != i.Written || i.Written == 0 {
		t.Fatalf("delivered %d of %d", i.Delivered, i.Written)
	}
	// BRAVO's answer to a hello: its status, with its receipt of ALPHA's log.
	var status []byte
	for _, act := range b.core.Step(s.now, FrameIn{Peer: "ALPHA", Conn: a.out, Data: (&Frame{Type: FrameHello, Version: Version}).Encode()}) {
		if x, ok := act.(Send); ok && FrameType(x.Data[0]) == FrameStatus {
			status = x.Data
		}
	}
	f, err := DecodeFrame(status)
	if err != nil {
		t.Fatal(err)
	}
	var receipt []byte
	for _, l := range f.Logs {
		if l.Channel == "ops" {
			receipt = l.Receipt
		}
	}
	if !bytes.Equal(receipt, a.core.channels["ops"].mine.receipt) {
		t.Fatalf("the status carries another receipt than the one ALPHA took last")
	}
	p := a.core.peers["BRAVO"]
	last := &p.chain[len(p.chain)-1]
	cosign, verifier := &countingVerifier{Verifier: last.cosign}, &countingVerifier{Verifier: last.verifier}
	last.cosign, last.verifier = cosign, verifier
	before := a.core.Stats.Refused["bad cosignature"]
	delivered := s.info(a, "ops").Delivered
	for range 20 {
		a.core.Step(s.now, FrameIn{Peer: "BRAVO", Conn: a.out, Data: status})
	}
	if cosign.n+verifier.n != 0 || a.core.Stats.Refused["bad cosignature"] != before || s.info(a, "ops").Delivered != delivered {
		t.Fatalf("20 statuses with the receipt taken last: %d signatures checked, %d refused, delivered %d (was %d); want none checked, none refused",
			cosign.n+verifier.n, a.core.Stats.Refused["bad cosignature"]-before, s.info(a, "ops").Delivered, delivered)
	}
	// ALPHA writes more and BRAVO receipts it: the status above is stale
	// now (a relay hands over such statuses by the hundred). Its receipt
	// is checked once, and not again.
	s.send(a, "ops", envelope.Text, envelope.Routine, TextBody{Text: "receipted later"})
	s.settle(100000)
	if i := s.info(a, "ops"); i.Delivered != i.Written || i.Delivered <= delivered {
		t.Fatalf("delivered %d of %d, before %d", i.Delivered, i.Written, delivered)
	}
	a.core.Step(s.now, FrameIn{Peer: "BRAVO", Conn: a.out, Data: status})
	once := cosign.n + verifier.n
	for range 20 {
		a.core.Step(s.now, FrameIn{Peer: "BRAVO", Conn: a.out, Data: status})
	}
	if once == 0 || cosign.n+verifier.n != once || a.core.Stats.Refused["bad cosignature"] != before {
		t.Fatalf("21 stale statuses: %d signatures checked for the first, %d for the 20 others, %d refused; want some, none, none",
			once, cosign.n+verifier.n-once, a.core.Stats.Refused["bad cosignature"]-before)
	}
	// The same receipt with its last signature damaged: checked, refused.
	for i := range f.Logs {
		if f.Logs[i].Channel == "ops" {
			r := f.Logs[i].Receipt
			start := bytes.LastIndexByte(r[:len(r)-1], ' ') + 1
			sig, err := base64.StdEncoding.DecodeString(string(r[start : len(r)-1]))
			if err != nil {
				t.Fatal(err)
			}
			sig[len(sig)-1] ^= 1
			f.Logs[i].Receipt = append(bytes.Clone(r[:start]), base64.StdEncoding.EncodeToString(sig)+"\n"...)
		}
	}
	checked := cosign.n + verifier.n
	a.core.Step(s.now, FrameIn{Peer: "BRAVO", Conn: a.out, Data: f.Encode()})
	if cosign.n+verifier.n == checked || a.core.Stats.Refused["bad cosignature"] != before+1 {
		t.Fatalf("a damaged copy of the receipt: %d signatures checked, %d refused; want it checked and refused",
			cosign.n+verifier.n-checked, a.core.Stats.Refused["bad cosignature"]-before)
	}
}
