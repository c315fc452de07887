package protocol

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/cryptotest"
	"time"

	"hotline/internal/envelope"
)

// TestRestoredStationRecovers: a station restored from an old backup
// appends nothing until its peer has said what it holds; the peer holds
// entries the backup lacks, signed by the station, so the station fetches
// them back, checks them against its own signature and receipt, and only
// then appends again, at the next free index. Nothing is signed twice at
// one index, and both sides end with identical logs.
func TestRestoredStationRecovers(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 17)
	s := newSim(t, 17)
	a, b := s.nodes[0], s.nodes[1]
	for i := range 3 {
		if d := s.send(a, "ops", envelope.Text, envelope.Routine, TextBody{Text: "before the backup " + string(rune('a'+i))}); d.Err != nil {
			t.Fatal(d.Err)
		}
	}
	backup := a.disk.clone()
	for i := range 12 {
		if d := s.send(a, "ops", envelope.Text, envelope.Routine, TextBody{Text: "after the backup " + string(rune('a'+i))}); d.Err != nil {
			t.Fatal(d.Err)
		}
	}
	want := len(a.disk.entries["ops/ALPHA"])
	wantRaw := a.disk.entries["ops/ALPHA"][want-1].Raw

	// ALPHA's disk is lost; it is restored from the backup.
	for id, ends := range s.conns {
		if ends[0] == a || ends[1] == a {
			s.cut(id)
		}
	}
	a.disk, a.unsynced = backup, nil
	core, err := New(testConfig(Config{MaxBatch: 8, MaxBatchBytes: 64 << 10, Window: 32, Restored: true}), a.keys, backup.snapshot("ALPHA"))
	if err != nil {
		t.Fatal(err)
	}
	a.core = core
	if !core.Holding() {
		t.Fatal("a restored core is not holding")
	}
	data := textBody(99)
	req := s.request(a, func(id uint64) Event {
		return Submit{ID: id, Channel: "ops", Kind: envelope.Text, Precedence: envelope.Flash, Body: data}
	})
	if err := a.done[req].Err; !errors.Is(err, ErrRestoring) {
		t.Fatalf("append before the peer spoke: %v, want ErrRestoring", err)
	}
	// Status says so, with what to do.
	if ci := s.info(a, "ops"); ci.State == StateActive || len(ci.Troubles) == 0 || !slices.ContainsFunc(ci.Troubles, func(tr Trouble) bool {
		return tr.Kind == TroubleRestore && strings.Contains(tr.Reason, "restored from a backup") && strings.Contains(tr.Action, "direct connection")
	}) {
		t.Errorf("a restored channel's view before the peer spoke: %+v", ci)
	}

	s.settle(100000)
	if a.core.Holding() {
		t.Fatalf("still holding after the peer's status: %+v", a.core.Channels())
	}
	got := a.disk.entries["ops/ALPHA"]
	if len(got) != want || string(got[want-1].Raw) != string(wantRaw) {
		t.Fatalf("ALPHA holds %d entries of its log, want %d with the same last entry", len(got), want)
	}
	if len(got[want-1].Body) != 0 {
		t.Error("a recovered entry has a body: it is sealed to the peer")
	}
	d := s.send(a, "ops", envelope.Text, envelope.Flash, TextBody{Text: "after the restore"})
	if d.Err != nil {
		t.Fatal(d.Err)
	}
	if d.Result.Index != uint64(want+1) {
		t.Fatalf("first entry after the restore at %d, want %d", d.Result.Index, want+1)
	}
	s.settle(100000)
	if n := len(b.disk.entries["ops/ALPHA"]); n != want+1 {
		t.Fatalf("BRAVO holds %d of ALPHA's entries, want %d", n, want+1)
	}
	if s.info(a, "leaders").State != StateActive || s.info(a, "ops").State != StateActive || s.info(a, "ops").Blocked != "" {
		t.Fatalf("channels after recovery: %+v", a.core.Channels())
	}
	checkInvariants(t, s)
}

// TestRestoredPeerIsResent: BRAVO is restored from a backup taken before
// it received (and receipted) twelve of ALPHA's entries. BRAVO asks for
// them; ALPHA, which had them receipted, sends them again from its disk
// once BRAVO asks twice, tells its operators, and every entry of ALPHA's
// log, those before and after the restore, ends at BRAVO once (issue:
// a restore stalled the channel, every ALPHA→BRAVO send stayed queued).
func TestRestoredPeerIsResent(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 18)
	s := newSim(t, 18)
	a, b := s.nodes[0], s.nodes[1]
	for i := range 3 {
		if d := s.send(a, "ops", envelope.Text, envelope.Routine, TextBody{Text: "before the backup " + string(rune('a'+i))}); d.Err != nil {
			t.Fatal(d.Err)
		}
	}
	backup := b.disk.clone()
	for i := range 12 {
		if d := s.send(a, "ops", envelope.Text, envelope.Routine, TextBody{Text: "after the backup " + string(rune('a'+i))}); d.Err != nil {
			t.Fatal(d.Err)
		}
	}
	if got, want := a.core.channels["ops"].mine.delivered, a.core.channels["ops"].mine.size; got != want {
		t.Fatalf("ALPHA's log delivered %d of %d before the restore", got, want)
	}
	// BRAVO's disk is lost; it is restored from the backup.
	for id, ends := range s.conns {
		if ends[0] == b || ends[1] == b {
			s.cut(id)
		}
	}
	b.disk, b.unsynced = backup, nil
	core, err := New(testConfig(Config{MaxBatch: 8, MaxBatchBytes: 64 << 10, Window: 32, Restored: true}), b.keys, backup.snapshot("BRAVO"))
	if err != nil {
		t.Fatal(err)
	}
	b.core = core
	if d := s.send(a, "ops", envelope.Text, envelope.Flash, TextBody{Text: "after the restore"}); d.Err != nil {
		t.Fatal(d.Err)
	}
	for range 6 {
		s.run(ResendAfter)
		s.settle(100000)
	}
	want := len(a.disk.entries["ops/ALPHA"])
	got := b.disk.entries["ops/ALPHA"]
	if len(got) != want {
		t.Fatalf("BRAVO holds %d of ALPHA's %d entries after the restore: the lost ones were not sent again", len(got), want)
	}
	for i, e := range got {
		if string(e.Raw) != string(a.disk.entries["ops/ALPHA"][i].Raw) {
			t.Fatalf("BRAVO's entry %d of ALPHA's log differs from ALPHA's", i+1)
		}
	}
	if m := a.core.channels["ops"].mine; m.delivered != m.size {
		t.Errorf("ALPHA's log delivered %d of %d", m.delivered, m.size)
	}
	if alerted(a, "alarm", "BRAVO lost entries 5 to 16 of ops") != 1 {
		t.Errorf("ALPHA's operators were not told what BRAVO lost: %+v", a.alerts)
	}
	checkInvariants(t, s)

	// A peer asking again and again for what it holds gets no second
	// rewind (each reads the log back from disk) within RewindEvery.
	s.dial(b)
	ask := (&Frame{Type: FrameResend, Channel: "ops", Author: "ALPHA", From: 5}).Encode()
	for range 4 {
		s.step(a, FrameIn{Peer: "BRAVO", Conn: b.out, Data: ask})
		s.advance(ResendAfter)
	}
	if a.core.channels["ops"].mine.rewind != nil || alerted(a, "alarm", "BRAVO lost entries") != 1 {
		t.Errorf("a peer asking again rewound the log again within RewindEvery: %+v", a.alerts)
	}
}

// TestRestoreAfterAcknowledgement is issue 20's scenario: BRAVO is backed
// up, sends a message, ALPHA acknowledges it (an entry BRAVO receipts),
// then BRAVO is restored from the backup. BRAVO fetches its own message
// back, ALPHA sends its acknowledgement again, BRAVO records the message
// acknowledged, and traffic moves both ways again, at the next free
// indexes; both operators are told. BRAVO's own acknowledgement of a
// message of ALPHA's comes back as an entry whose body is sealed to
// ALPHA: an alarm says so, with the commands that resolve it.
func TestRestoreAfterAcknowledgement(t *testing.T) {
	for seed := uint64(30); seed < 36; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			cryptotest.SetGlobalRandom(t, seed)
			s := newSim(t, seed)
			a, b := s.nodes[0], s.nodes[1]
			if d := s.send(b, "ops", envelope.Text, envelope.Routine, TextBody{Text: "before the backup"}); d.Err != nil {
				t.Fatal(d.Err)
			}
			backup := b.disk.clone()
			msg := s.send(b, "ops", envelope.Text, envelope.Flash, TextBody{Text: "after the backup"})
			if msg.Err != nil {
				t.Fatal(msg.Err)
			}
			ack := s.send(a, "ops", envelope.Ack, envelope.Flash, AckBody{Of: msg.Result.Index, By: "Col. Li"})
			if ack.Err != nil {
				t.Fatal(ack.Err)
			}
			// And the other way: ALPHA sends, BRAVO acknowledges.
			theirs := s.send(a, "ops", envelope.Text, envelope.Flash, TextBody{Text: "from ALPHA after the backup"})
			if theirs.Err != nil {
				t.Fatal(theirs.Err)
			}
			if d := s.send(b, "ops", envelope.Ack, envelope.Flash, AckBody{Of: theirs.Result.Index, By: "Maj. Smith"}); d.Err != nil {
				t.Fatal(d.Err)
			}
			s.run(time.Second)
			if _, ok := b.disk.acks[msg.Result.Entry]; !ok {
				t.Fatal("BRAVO did not record the acknowledgement before the restore")
			}
			for id, ends := range s.conns {
				if ends[0] == b || ends[1] == b {
					s.cut(id)
				}
			}
			b.disk, b.unsynced = backup, nil
			core, err := New(testConfig(Config{MaxBatch: 8, MaxBatchBytes: 64 << 10, Window: 32, Restored: true}), b.keys, backup.snapshot("BRAVO"))
			if err != nil {
				t.Fatal(err)
			}
			b.core = core
			s.faults = seed%2 == 1
			for range 8 {
				s.run(ResendAfter)
			}
			s.settle(100000)
			if b.core.Holding() {
				t.Fatalf("BRAVO still holding: %+v", b.core.Channels())
			}
			if _, ok := b.disk.acks[msg.Result.Entry]; !ok {
				t.Errorf("BRAVO lost the acknowledgement of %s: %+v", msg.Result.Entry, b.disk.acks)
			}
			for _, author := range []string{"ALPHA", "BRAVO"} {
				k := "ops/" + author
				if len(a.disk.entries[k]) != len(b.disk.entries[k]) {
					t.Errorf("log %s: ALPHA holds %d, BRAVO %d", k, len(a.disk.entries[k]), len(b.disk.entries[k]))
				}
			}
			if d := s.send(a, "ops", envelope.Text, envelope.Flash, TextBody{Text: "to BRAVO after the restore"}); d.Err != nil {
				t.Fatal(d.Err)
			}
			d := s.send(b, "ops", envelope.Text, envelope.Flash, TextBody{Text: "from BRAVO after the restore"})
			if d.Err != nil {
				t.Fatal(d.Err)
			}
			if d.Result.Index != msg.Result.Index+2 {
				t.Errorf("BRAVO's first entry after the restore at %d, want %d", d.Result.Index, msg.Result.Index+2)
			}
			s.run(ResendAfter)
			s.settle(100000)
			for _, n := range s.nodes {
				for _, ci := range n.core.Channels() {
					if ci.Delivered != ci.Written {
						t.Errorf("%s %s: delivered %d of %d", n.name, ci.ID, ci.Delivered, ci.Written)
					}
				}
			}
			if alerted(a, "alarm", "BRAVO lost entries") == 0 {
				t.Errorf("ALPHA's operators were not told: %+v", a.alerts)
			}
			if alerted(b, "alarm", "1 of the entries recovered on ops are acknowledgements") != 1 {
				t.Errorf("BRAVO's operators were not told of the acknowledgement it recovered: %+v", b.alerts)
			}
			if alerted(b, "", "recovered") == 0 {
				t.Errorf("BRAVO's operators were not told: %+v", b.alerts)
			}
			for _, n := range s.nodes {
				for _, al := range n.alerts {
					t.Logf("%s %s: %s", n.name, al.Level, al.Text)
				}
			}
			checkInvariants(t, s)
		})
	}
}

// TestRestoreRecoversSuspension: BRAVO suspends a channel after its
// backup and is restored. The suspend entry comes back from ALPHA with
// its body sealed to ALPHA: BRAVO holds the suspension in force as ALPHA
// does (its reason not known here), raises an alarm naming the command
// that lifts it, and lifting it works as ever.
func TestRestoreRecoversSuspension(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 40)
	s := newSim(t, 40)
	a, b := s.nodes[0], s.nodes[1]
	backup := b.disk.clone()
	if d := s.send(b, "ops", envelope.Suspend, envelope.Flash, SuspendBody{Reason: "protest", By: "Minister"}); d.Err != nil {
		t.Fatal(d.Err)
	}
	if got := s.info(a, "ops").Suspensions; len(got) != 1 || got[0].By != "BRAVO" {
		t.Fatalf("ALPHA's suspensions before the restore: %+v", got)
	}
	for id, ends := range s.conns {
		if ends[0] == b || ends[1] == b {
			s.cut(id)
		}
	}
	b.disk, b.unsynced = backup, nil
	core, err := New(testConfig(Config{MaxBatch: 8, MaxBatchBytes: 64 << 10, Window: 32, Restored: true}), b.keys, backup.snapshot("BRAVO"))
	if err != nil {
		t.Fatal(err)
	}
	b.core = core
	s.run(2 * ResendAfter)
	got := s.info(b, "ops").Suspensions
	if len(got) != 1 || got[0].By != "BRAVO" || got[0].Reason != RecoveredReason || got[0].Index != 2 {
		t.Fatalf("BRAVO's suspensions after the restore: %+v", got)
	}
	if alerted(b, "alarm", "this station suspended ops after its backup (entry 2") != 1 {
		t.Errorf("BRAVO's operators were not told: %+v", b.alerts)
	}
	if d := s.send(b, "ops", envelope.Resume, envelope.Flash, ResumeBody{Reason: "talks", By: "Minister"}); d.Err != nil {
		t.Fatal(d.Err)
	}
	s.run(ResendAfter)
	for _, n := range s.nodes {
		if got := s.info(n, "ops").Suspensions; len(got) != 0 {
			t.Errorf("%s still shows ops suspended: %+v", n.name, got)
		}
	}
	checkInvariants(t, s)
}

// TestRestoredHoldsOverRelay: a restored station that reaches its peer
// only through a relay does not end its hold on the status that comes
// that way (it may be old, or replayed): it appends nothing, and after
// RelayHoldAlarm its operators get one alarm saying what to do. The
// direct path back, the hold ends and the station appends at the next
// free index.
func TestRestoredHoldsOverRelay(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 41)
	s := newSim(t, 41)
	a, b := s.nodes[0], s.nodes[1]
	backup := b.disk.clone()
	if d := s.send(b, "ops", envelope.Text, envelope.Flash, TextBody{Text: "after the backup"}); d.Err != nil {
		t.Fatal(d.Err)
	}
	want := len(b.disk.entries["ops/BRAVO"])
	for id, ends := range s.conns {
		if ends[0] == b || ends[1] == b {
			s.cut(id)
		}
	}
	b.disk, b.unsynced = backup, nil
	core, err := New(testConfig(Config{MaxBatch: 8, MaxBatchBytes: 64 << 10, Window: 32, Restored: true}), b.keys, backup.snapshot("BRAVO"))
	if err != nil {
		t.Fatal(err)
	}
	b.core = core
	s.noDial = true
	for _, id := range []ConnID{900, 901} { // a relay path: BRAVO's outbound, ALPHA's outbound
		from, to := b, a
		if id == 901 {
			from, to = a, b
		}
		s.conns[id] = [2]*simNode{from, to}
		s.step(to, Connected{Peer: from.name, Conn: id, Path: "relay", Rank: 1})
		s.step(from, Connected{Peer: to.name, Conn: id, Outbound: true, Path: "relay", Rank: 1})
	}
	s.settle(100000)
	if !b.core.Holding() {
		t.Fatal("a status over the relay ended the hold")
	}
	if alerted(b, "alarm", "status over a relay cannot end the hold") != 0 {
		t.Error("the alarm came at once, before RelayHoldAlarm")
	}
	s.run(RelayHoldAlarm + time.Second)
	if !b.core.Holding() {
		t.Fatal("the hold ended with no direct connection")
	}
	if n := alerted(b, "alarm", "status over a relay cannot end the hold on ops"); n != 1 {
		t.Errorf("%d alarms of the hold on ops over the relay, want 1: %+v", n, b.alerts)
	}
	s.noDial = false
	s.run(2 * ResendAfter)
	if b.core.Holding() {
		t.Fatalf("still holding with the direct path up: %+v", b.core.Channels())
	}
	d := s.send(b, "ops", envelope.Text, envelope.Flash, TextBody{Text: "after the restore"})
	if d.Err != nil || d.Result.Index != uint64(want+1) {
		t.Fatalf("first entry after the restore: %v at %d, want %d", d.Err, d.Result.Index, want+1)
	}
	checkInvariants(t, s)
}

// TestLossAfterClockStepBack: BRAVO asks for entries it had receipted;
// then ALPHA's clock steps back an hour. BRAVO's next asks, ResendAfter
// apart, still rewind ALPHA's log (the time of the first ask, now in the
// future, does not hold it until the clock catches up: found by the
// simulator's restore runs).
func TestLossAfterClockStepBack(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 42)
	s := newSim(t, 42)
	a, b := s.nodes[0], s.nodes[1]
	for i := range 4 {
		if d := s.send(a, "ops", envelope.Text, envelope.Routine, TextBody{Text: fmt.Sprint("message ", i)}); d.Err != nil {
			t.Fatal(d.Err)
		}
	}
	s.dial(b)
	ask := (&Frame{Type: FrameResend, Channel: "ops", Author: "ALPHA", From: 2}).Encode()
	s.step(a, FrameIn{Peer: "BRAVO", Conn: b.out, Data: ask})
	a.skew -= time.Hour
	for range 3 {
		s.advance(ResendAfter)
		s.step(a, FrameIn{Peer: "BRAVO", Conn: b.out, Data: ask})
	}
	s.settle(100000)
	if alerted(a, "alarm", "BRAVO lost entries 2 to") != 1 {
		t.Errorf("no rewind after the clock stepped back: %+v", a.alerts)
	}
}
