package protocol

import (
	"encoding/json"
	"testing"
	"testing/cryptotest"
	"time"

	"hotline/internal/envelope"
)

// loseOnce loses the first frame of type ft that from sends.
func loseOnce(from *simNode, ft FrameType) (func(packet) bool, *int) {
	n := 0
	return func(p packet) bool {
		if n == 0 && p.from == from && len(p.data) > 0 && FrameType(p.data[0]) == ft {
			n++
			return true
		}
		return false
	}, &n
}

// TestLostStatusOnLivePath: the status answering a hello is lost on a
// path that otherwise works (a relay that dropped it, or lost it in a
// crash). Probes are answered, so the path is never closed; the dialer
// says hello again until a status comes, and entries flow. (Found by
// internal/sim: before, the path stayed up and carried nothing, forever.)
func TestLostStatusOnLivePath(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 31)
	s := newSim(t, 31)
	a, b := s.nodes[0], s.nodes[1]
	var lost *int
	s.lose, lost = loseOnce(b, FrameStatus)
	s.cut(a.out)
	s.settle(10000) // a redials; b's status is lost
	if *lost != 1 || a.core.Ready("BRAVO") {
		t.Fatalf("lost %d statuses; ready %v", *lost, a.core.Ready("BRAVO"))
	}
	s.send(a, "ops", envelope.Text, envelope.Routine, TextBody{Text: "after the lost status"})
	s.run(HelloAgain + 2*PingEvery)
	if i := s.info(a, "ops"); i.Delivered != i.Written {
		t.Fatalf("%s after %s: delivered %d of %d, paths %+v", "ops", HelloAgain, i.Delivered, i.Written, i.Paths)
	}
	checkInvariants(t, s)
}

// TestLostEntriesOnLivePath: an entries frame is lost on a path that
// stays up, and the author writes nothing more on the channel. Without a
// receipt within ResendAfter it sends again from its last receipt. (Found
// by internal/sim: before, the entry waited for the author's next entry
// on the channel, a reminder or an operator check, up to hours later.)
func TestLostEntriesOnLivePath(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 32)
	s := newSim(t, 32)
	a := s.nodes[0]
	var lost *int
	s.lose, lost = loseOnce(a, FrameEntries)
	s.send(a, "ops", envelope.Text, envelope.Routine, TextBody{Text: "lost once"})
	if i := s.info(a, "ops"); *lost != 1 || i.Delivered == i.Written {
		t.Fatalf("lost %d frames; delivered %d of %d", *lost, i.Delivered, i.Written)
	}
	s.run(ResendAfter + 2*PingEvery)
	if i := s.info(a, "ops"); i.Delivered != i.Written {
		t.Fatalf("after %s: delivered %d of %d", ResendAfter, i.Delivered, i.Written)
	}
	checkInvariants(t, s)
}

// TestLostAheadIsResent: the entries sent ahead of their write are lost
// on a path that stays up. Their durable frame finds nothing held: the
// receiver counts it and asks for the entries again at once, and they
// come in an entries frame.
func TestLostAheadIsResent(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 34)
	s := newSim(t, 34)
	a, b := s.nodes[0], s.nodes[1]
	var lost *int
	s.lose, lost = loseOnce(a, FrameAhead)
	body, _ := json.Marshal(TextBody{Text: "sent ahead, lost"})
	s.request(a, func(id uint64) Event {
		return Submit{ID: id, Channel: "ops", Kind: envelope.Text, Precedence: envelope.Flash, Body: body}
	})
	s.step(a, Writing{})
	s.settle(100000) // no time passes: not ResendAfter
	if i := s.info(a, "ops"); *lost != 1 || b.core.Stats.MissedAhead != 1 || i.Delivered != i.Written {
		t.Fatalf("lost %d ahead frames, %d durable frames missed; delivered %d of %d", *lost, b.core.Stats.MissedAhead, i.Delivered, i.Written)
	}
	checkInvariants(t, s)
}

// TestInboundChoiceIsDeterministic: when the inbound connection receipts
// go on is lost and two others were last heard at the same moment, the
// newer one is taken, whatever the order of the map that holds them.
func TestInboundChoiceIsDeterministic(t *testing.T) {
	at := time.Unix(1_800_000_000, 0)
	for range 50 {
		c := &Core{}
		p := &peer{paths: map[ConnID]*path{}, in: 1}
		for id := ConnID(1); id <= 6; id++ {
			p.paths[id] = &path{conn: id, heard: at}
		}
		c.lostPath(p, 1)
		if p.in != 6 {
			t.Fatalf("receipts go on connection %d, want the newest, 6", p.in)
		}
	}
}

// TestStaleStatusesDoNotResend: a relay holds every hello a station sent
// while its peer was away (one each time the path was closed as silent
// and came up again); when the peer comes back it answers them all, and
// the statuses all arrive on the station's current relay path. Only the
// first may set where sending resumes: before, each one moved it back and
// every unreceipted entry went again, once per stale status. (Found by
// internal/sim: 500 copies of a 100 KB frame after a partition.)
func TestStaleStatusesDoNotResend(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 33)
	s := newSim(t, 33)
	a, b := s.nodes[0], s.nodes[1]
	// b's answer to a hello now: what it holds of a's logs.
	var stale []byte
	for _, act := range b.core.Step(s.now, FrameIn{Peer: "ALPHA", Conn: a.out, Data: (&Frame{Type: FrameHello, Version: Version}).Encode()}) {
		if x, ok := act.(Send); ok && FrameType(x.Data[0]) == FrameStatus {
			stale = x.Data
		}
	}
	// a sends more; b's receipts are lost, so none is delivered yet.
	s.lose = func(p packet) bool { return p.from == b && FrameType(p.data[0]) == FrameReceipt }
	for i := range 5 {
		s.send(a, "ops", envelope.Text, envelope.Routine, TextBody{Text: "before the statuses " + string(rune('a'+i))})
	}
	frames := 0
	for range 20 {
		for _, act := range a.core.Step(s.now, FrameIn{Peer: "BRAVO", Conn: a.out, Data: stale}) {
			if x, ok := act.(Send); ok && FrameType(x.Data[0]) == FrameEntries {
				frames++
			}
		}
	}
	if frames > 0 {
		t.Fatalf("20 stale statuses on the active path made %d entries frames go again", frames)
	}
}

// TestAheadOnlyTheGroup: entries appended after the writer began a group
// are not in it: the frame sent ahead for the group holds the group's
// entries only, so that its durable frame takes it, and the later entries
// go ahead with their own group.
func TestAheadOnlyTheGroup(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 36)
	s := newSim(t, 36)
	a, b := s.nodes[0], s.nodes[1]
	s.net = nil
	submit := func(text string) {
		body, _ := json.Marshal(TextBody{Text: text})
		s.request(a, func(id uint64) Event {
			return Submit{ID: id, Channel: "ops", Kind: envelope.Text, Precedence: envelope.Flash, Body: body}
		})
	}
	submit("in the group")
	group := a.unsynced[len(a.unsynced)-1].Write
	submit("after the group began")
	s.step(a, Writing{Through: group})
	frames := func(typ FrameType) []*Frame {
		var out []*Frame
		for _, p := range s.net {
			if f, err := DecodeFrame(p.data); err == nil && p.from == a && f.Type == typ {
				out = append(out, f)
			}
		}
		return out
	}
	ahead := frames(FrameAhead)
	if len(ahead) != 1 || len(ahead[0].Entries) != 1 {
		t.Fatalf("sent ahead %d frames (%+v); want one, of the group's one entry", len(ahead), ahead)
	}
	s.sync(a) // the group is durable
	if d := frames(FrameDurable); len(d) != 1 || len(frames(FrameEntries)) != 0 {
		t.Fatalf("after the group's write: %d durable frames, %d entries frames; want the durable frame only", len(d), len(frames(FrameEntries)))
	}
	s.step(a, Writing{Through: a.unsynced[len(a.unsynced)-1].Write})
	if n := len(frames(FrameAhead)); n != 2 {
		t.Fatalf("%d frames sent ahead after the second group began, want 2", n)
	}
	s.settle(100000)
	if i := s.info(a, "ops"); i.Delivered != i.Written || b.core.Stats.TakenAhead != 2 {
		t.Fatalf("delivered %d of %d, BRAVO took %d frames sent ahead; want all, and 2", i.Delivered, i.Written, b.core.Stats.TakenAhead)
	}
	checkInvariants(t, s)
}
