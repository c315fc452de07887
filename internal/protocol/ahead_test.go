package protocol

import (
	"bytes"
	"encoding/json"
	"testing"
	"testing/cryptotest"
	"time"

	"hotline/internal/envelope"
)

// framesFrom lists the frames of type typ that n has put on the
// simulated network and that are still there.
func framesFrom(s *sim, n *simNode, typ FrameType) []*Frame {
	var out []*Frame
	for _, p := range s.net {
		if f, err := DecodeFrame(p.data); err == nil && p.from == n && f.Type == typ {
			out = append(out, f)
		}
	}
	return out
}

// submitText submits a FLASH text on ops at n.
func submitText(s *sim, n *simNode, text string) {
	body, _ := json.Marshal(TextBody{Text: text})
	s.request(n, func(id uint64) Event {
		return Submit{ID: id, Channel: "ops", Kind: envelope.Text, Precedence: envelope.Flash, Body: body}
	})
}

// refusals is the number of frames n's core refused, whatever the reason.
func refusals(n *simNode) int {
	total := 0
	for _, k := range n.core.Stats.Refused {
		total += k
	}
	return total
}

// TestAheadOnlyUnderLease: a station on several machines sends entries
// ahead only while the lease it last confirmed runs (Writing.Lease), and
// the frame goes with the lease as its Until; a process that may have
// lost the station (paused past its lease) sends its entries only once
// durable, in an entries frame. A station with no lease (zero) sends
// ahead as before.
func TestAheadOnlyUnderLease(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 41)
	s := newSim(t, 41)
	a, b := s.nodes[0], s.nodes[1]
	s.net = nil

	// The lease ran out (now is not before it): nothing goes ahead.
	submitText(s, a, "under a lease run out")
	s.step(a, Writing{Lease: s.now.Add(time.Millisecond)}) // step moves the clock 1 ms: now == lease
	if n := len(framesFrom(s, a, FrameAhead)); n != 0 || a.core.Stats.LeaseAhead != 1 || a.core.Stats.SentAhead != 0 {
		t.Fatalf("with the lease run out: %d frames sent ahead, LeaseAhead %d, SentAhead %d; want 0, 1, 0", n, a.core.Stats.LeaseAhead, a.core.Stats.SentAhead)
	}
	if len(s.net) != 0 {
		t.Fatalf("%d frames sent before the write was durable", len(s.net))
	}
	s.sync(a)
	if len(framesFrom(s, a, FrameEntries)) != 1 || len(framesFrom(s, a, FrameDurable)) != 0 {
		t.Fatal("once durable, the entries did not go in an entries frame")
	}
	s.settle(10000)

	// A lease confirmed a moment ago: the frame goes ahead, with the
	// lease as its Until.
	submitText(s, a, "under a fresh lease")
	lease := s.now.Add(2 * time.Second)
	var until []time.Time
	for _, act := range a.core.Step(s.now, Writing{Lease: lease}) {
		if x, ok := act.(Send); ok && FrameType(x.Data[0]) == FrameAhead {
			until = append(until, x.Until)
		}
	}
	if len(until) != 1 || !until[0].Equal(lease) || a.core.Stats.SentAhead != 1 {
		t.Fatalf("under a fresh lease: frames sent ahead with Until %v (SentAhead %d); want one, until %v", until, a.core.Stats.SentAhead, lease)
	}

	// No lease (one process): ahead, with no Until.
	s.settle(10000)
	s.net = nil
	submitText(s, a, "with no lease")
	s.step(a, Writing{})
	if f := framesFrom(s, a, FrameAhead); len(f) != 1 {
		t.Fatalf("with no lease: %d frames sent ahead, want 1", len(f))
	}
	s.settle(10000)
	if i := s.info(a, "ops"); i.Delivered != i.Written || b.core.Stats.TakenAhead < 1 {
		t.Fatalf("delivered %d of %d, BRAVO took %d frames sent ahead", i.Delivered, i.Written, b.core.Stats.TakenAhead)
	}
	checkInvariants(t, s)
}

// TestAheadConflictIsDropped: a paused former leader, resumed after its
// successor wrote, sends ahead on its own surviving connection entries
// at indexes the successor already used. The peer holds the successor's:
// the ahead frame binds nobody (it carries no checkpoint), so it is
// dropped and counted, with no alarm, no refusal, no answer, nothing
// held and the connection left open; the log stays the successor's.
func TestAheadConflictIsDropped(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 42)
	s := newSim(t, 42)
	a, b := s.nodes[0], s.nodes[1]
	for i := range 3 {
		submitText(s, a, "before the takeover "+string(rune('a'+i)))
	}
	s.settle(10000)
	held := uint64(len(b.disk.entries["ops/ALPHA"]))
	conn := a.out
	// The former leader's entries at the last index held and the next:
	// signed by ALPHA's key, other bytes than the successor's.
	var former [][]byte
	for idx := held; idx <= held+1; idx++ {
		body, _ := json.Marshal(TextBody{Text: "the former leader's"})
		raw, err := envelope.Seal(envelope.Header{Channel: "ops", Author: "ALPHA", Recipient: "BRAVO", Index: idx,
			Precedence: envelope.Flash, Kind: envelope.Text, Time: s.now}, body, b.keys.KEM.PublicKey(), a.keys.Sign)
		if err != nil {
			t.Fatal(err)
		}
		former = append(former, raw)
	}
	if bytes.Equal(former[0], b.disk.entries["ops/ALPHA"][held-1].Raw) {
		t.Fatal("the former leader's entry is the one held")
	}
	data := (&Frame{Type: FrameAhead, Channel: "ops", Author: "ALPHA", Entries: former}).Encode()
	before, refused, alerts := snapshotDisk(b), refusals(b), len(b.alerts)
	s.net = nil
	for _, prepared := range []bool{false, true} {
		ev := FrameIn{Peer: "ALPHA", Conn: conn, Data: data}
		if prepared {
			ev.Pre = Prepare(data, a.keys.SignPublic(), b.keys)
		}
		s.step(b, ev)
	}
	if b.core.Stats.ConflictAhead != 2 {
		t.Errorf("ConflictAhead = %d, want 2", b.core.Stats.ConflictAhead)
	}
	if refusals(b) != refused || len(b.alerts) != alerts {
		t.Errorf("refusals %d → %d, alerts %d → %d: a conflicting ahead frame was taken for a fault or an equivocation", refused, refusals(b), alerts, len(b.alerts))
	}
	if len(s.net) != 0 {
		t.Errorf("BRAVO answered a conflicting ahead frame with %d frames", len(s.net))
	}
	if len(b.core.peers["ALPHA"].ahead[conn]) != 0 {
		t.Error("a conflicting ahead frame is held")
	}
	if _, open := s.conns[conn]; !open {
		t.Error("a conflicting ahead frame closed the connection")
	}
	s.settle(10000)
	if !bytes.Equal(before, snapshotDisk(b)) {
		t.Error("a conflicting ahead frame changed what is stored")
	}
	// The channel goes on.
	submitText(s, a, "after the takeover")
	s.settle(10000)
	checkInvariants(t, s)
}

// TestCrashAfterSendingAhead: a station sends entries ahead, crashes
// before their write is durable, restarts and writes other entries at
// those indexes. What it sent ahead carried no checkpoint, so nothing it
// ever signed under a checkpoint shows two versions of an index; the
// peer takes only the entries written, and the old ahead frame, read
// late, is dropped and counted, not an alarm.
func TestCrashAfterSendingAhead(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 43)
	s := newSim(t, 43)
	a, b := s.nodes[0], s.nodes[1]
	submitText(s, a, "first")
	s.settle(10000)
	s.net = nil
	submitText(s, a, "sent ahead, then lost in the crash")
	s.step(a, Writing{})
	ahead := framesFrom(s, a, FrameAhead)
	if len(ahead) != 1 {
		t.Fatalf("%d frames sent ahead, want 1", len(ahead))
	}
	lost := ahead[0]
	s.net = nil // not delivered before the crash
	s.crash(a)  // the write was not durable
	s.settle(10000)
	submitText(s, a, "written after the restart, at the same index")
	s.settle(10000)
	idx := uint64(len(a.disk.entries["ops/ALPHA"]))
	if e, err := envelope.Parse(lost.Entries[0]); err != nil || e.Index != idx || bytes.Equal(lost.Entries[0], a.disk.entries["ops/ALPHA"][idx-1].Raw) {
		t.Fatalf("the entry sent ahead (%v) is not another version of index %d", err, idx)
	}
	// Every checkpoint ALPHA sent or BRAVO holds is over ALPHA's log as
	// written: the one version of each index that binds it.
	if len(lost.Checkpoint) != 0 {
		t.Fatal("the entries sent ahead came with a checkpoint")
	}
	checkInvariants(t, s)

	// The old frame, read late on a connection of the old process.
	s.dial(a)
	refused, alerts := refusals(b), len(b.alerts)
	s.step(b, FrameIn{Peer: "ALPHA", Conn: a.out, Data: lost.Encode()})
	if b.core.Stats.ConflictAhead != 1 || refusals(b) != refused || len(b.alerts) != alerts {
		t.Fatalf("the lost entries sent ahead, read late: ConflictAhead %d, refusals %d → %d, alerts %d → %d; want 1 and none",
			b.core.Stats.ConflictAhead, refused, refusals(b), alerts, len(b.alerts))
	}
	s.settle(10000)
	checkInvariants(t, s)
}
