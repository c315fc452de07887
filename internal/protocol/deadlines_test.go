package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/cryptotest"
	"time"

	"hotline/internal/channel"
	"hotline/internal/envelope"
	"hotline/internal/record"
)

// advance moves the simulated clock, fires both cores' timers and lets
// what they produce settle.
func (s *sim) advance(d time.Duration) {
	s.now = s.now.Add(d)
	for _, n := range s.nodes {
		s.step(n, Tick{})
	}
	s.settle(100000)
}

// run advances the clock by d in steps of PingEvery, so that the paths
// stay probed and alive as they are in a running station.
func (s *sim) run(d time.Duration) {
	for end := s.now.Add(d); s.now.Before(end); {
		s.advance(min(PingEvery, end.Sub(s.now)))
	}
}

// until advances the clock to t (minus the milliseconds steps add).
func (s *sim) until(t time.Time) {
	if d := t.Sub(s.now); d > 0 {
		s.advance(d)
	}
}

func (s *sim) send(n *simNode, ch string, kind envelope.Kind, prec envelope.Precedence, body any) Done {
	s.t.Helper()
	data, _ := json.Marshal(body)
	req := s.request(n, func(id uint64) Event {
		return Submit{ID: id, Channel: ch, Kind: kind, Precedence: prec, Body: data}
	})
	s.settle(100000)
	return n.done[req]
}

func (s *sim) info(n *simNode, ch string) ChannelInfo {
	for _, i := range n.core.Channels() {
		if i.ID == ch {
			return i
		}
	}
	s.t.Fatalf("%s has no channel %s", n.name, ch)
	return ChannelInfo{}
}

// kinds lists the kinds of an author's log on a node's disk.
func kinds(n *simNode, ch, author string) []string {
	var out []string
	for _, e := range n.disk.entries[ch+"/"+author] {
		out = append(out, e.Kind.String())
	}
	return out
}

func count(xs []string, x string) int {
	c := 0
	for _, y := range xs {
		if y == x {
			c++
		}
	}
	return c
}

func steps(n *simNode, id string) []int {
	var out []int
	for _, x := range n.disk.escal {
		if fmt.Sprintf("%s/%s/%d", x.Channel, x.Author, x.Index) == id {
			out = append(out, x.Step)
		}
	}
	return out
}

func alerted(n *simNode, level, text string) int {
	c := 0
	for _, a := range n.alerts {
		if (level == "" || a.Level == level) && strings.Contains(a.Text, text) {
			c++
		}
	}
	return c
}

// newLadderSim adds a unit-level channel "patrol" that escalates to the
// staff channel "ops".
func newLadderSim(t *testing.T, flashExempt bool) *sim {
	cryptotest.SetGlobalRandom(t, 11)
	s := newSim(t, 11)
	a, b := s.nodes[0], s.nodes[1]
	req := s.request(a, func(id uint64) Event {
		return Propose{ID: id, Channel: "patrol", Peer: "BRAVO", Level: channel.Unit, EscalateTo: "ops", FlashExempt: flashExempt}
	})
	s.settle(1000)
	if err := a.done[req].Err; err != nil {
		t.Fatal(err)
	}
	req = s.request(b, func(id uint64) Event { return Accept{ID: id, Channel: "patrol"} })
	s.settle(1000)
	if err := b.done[req].Err; err != nil {
		t.Fatal(err)
	}
	return s
}

// TestLadder: a FLASH left unacknowledged climbs the ladder step by step
// at the charter's times: reminded at its deadline (10m), the sender's
// supervisor alerted at 15m, forwarded to the channel above at 20m; the
// receiver alarms at the deadline too. Acknowledging the forwarded
// message stops the ladder of the original.
func TestLadder(t *testing.T) {
	s := newLadderSim(t, false)
	a, b := s.nodes[0], s.nodes[1]
	d := s.send(a, "patrol", envelope.Text, envelope.Flash, TextBody{Text: "turn back", Lang: "en"})
	if d.Err != nil {
		t.Fatal(d.Err)
	}
	id, sent := d.Result.Entry, d.Result.At
	if got := s.info(a, "patrol").AwaitingPeer; got != 1 {
		t.Fatalf("awaiting the peer = %d, want 1", got)
	}
	if got := s.info(b, "patrol").AwaitingHere; got != 1 {
		t.Fatalf("awaiting here = %d, want 1", got)
	}

	// Just before the deadline: nothing.
	s.until(sent.Add(10*time.Minute - time.Second))
	if st := steps(a, id); len(st) != 0 {
		t.Fatalf("steps before the deadline: %v", st)
	}
	if k := kinds(a, "patrol", "ALPHA"); k[len(k)-1] == "reminder" {
		t.Fatal("reminded before the deadline")
	}

	// The deadline: a reminder entry goes to BRAVO, both sides alarm.
	s.until(sent.Add(10*time.Minute + time.Second))
	if st := steps(a, id); fmt.Sprint(st) != "[2]" {
		t.Fatalf("steps after the deadline = %v, want [2] (delivered, so no undelivered step)", st)
	}
	if k := kinds(b, "patrol", "ALPHA"); k[len(k)-1] != "reminder" {
		t.Fatalf("BRAVO's copy of ALPHA's log ends %v, want a reminder", k)
	}
	if alerted(b, "alarm", "reminds") != 1 || alerted(b, "alarm", "deadline (10m0s) has passed") != 1 {
		t.Fatalf("BRAVO's alerts: %+v", b.alerts)
	}
	if st := steps(b, id); fmt.Sprint(st) != "[2]" {
		t.Fatalf("BRAVO's steps = %v, want [2]", st)
	}
	if alerted(a, "supervisor", "") != 0 {
		t.Fatal("supervisor alerted before 15m")
	}

	// 15m: the supervisor.
	s.until(sent.Add(15*time.Minute + time.Second))
	if alerted(a, "supervisor", "a supervisor must act") != 1 {
		t.Fatalf("no supervisor alert at 15m: %+v", a.alerts)
	}
	if len(a.disk.entries["ops/ALPHA"]) != 1 {
		t.Fatal("forwarded before 20m")
	}

	// 20m: forwarded to ops, linked to the original.
	s.until(sent.Add(20*time.Minute + time.Second))
	if st := steps(a, id); fmt.Sprint(st) != "[2 3 4]" {
		t.Fatalf("steps = %v, want [2 3 4]", st)
	}
	ops := b.disk.entries["ops/ALPHA"]
	fwd := ops[len(ops)-1]
	var eb EscalationBody
	if err := json.Unmarshal(fwd.Body, &eb); err != nil || fwd.Kind != envelope.Escalation || eb.From != id || eb.Text != "turn back" || fwd.Precedence != envelope.Flash {
		t.Fatalf("forwarded entry: kind %s, prec %s, body %+v (%v)", fwd.Kind, fwd.Precedence, eb, err)
	}
	if got := s.info(b, "ops").AwaitingHere; got != 1 {
		t.Fatalf("BRAVO ops awaiting = %d, want the forwarded message", got)
	}

	// BRAVO acknowledges the forwarded message on ops: both ladders stop
	// and the original reads as acknowledged.
	if d := s.send(b, "ops", envelope.Ack, envelope.Flash, AckBody{Of: fwd.Index, By: "Col. Li"}); d.Err != nil {
		t.Fatal(d.Err)
	}
	if ack, ok := a.disk.acks[id]; !ok || ack.By != "Col. Li on ops" {
		t.Fatalf("the original is not acknowledged through the forward: %+v", a.disk.acks)
	}
	if i := s.info(a, "patrol"); i.AwaitingPeer != 0 {
		t.Fatalf("patrol still awaits %d", i.AwaitingPeer)
	}
	before := len(a.disk.escal)
	s.advance(time.Hour)
	for _, x := range a.disk.escal[before:] {
		if x.Channel != "ops" || x.Author != "ALPHA" {
			t.Errorf("a step after the acknowledgement: %+v", x)
		}
	}
	if n := count(kinds(a, "ops", "ALPHA"), "escalation"); n != 1 {
		t.Errorf("%d forwards, want 1", n)
	}
}

// TestLadderStopsOnAck: an acknowledgement before the deadline means no
// step is ever taken; one between steps stops the rest. A restart keeps
// the steps taken and the times of the next.
func TestLadderStopsOnAck(t *testing.T) {
	s := newLadderSim(t, false)
	a, b := s.nodes[0], s.nodes[1]
	early := s.send(a, "patrol", envelope.Text, envelope.Immediate, TextBody{Text: "early"})
	late := s.send(a, "patrol", envelope.Text, envelope.Immediate, TextBody{Text: "late"})
	s.advance(time.Minute)
	if d := s.send(b, "patrol", envelope.Ack, envelope.Immediate, AckBody{Of: early.Result.Index, By: "duty"}); d.Err != nil {
		t.Fatal(d.Err)
	}
	// Past the deadline (30m) of IMMEDIATE: the late one was reminded.
	s.until(late.Result.At.Add(31 * time.Minute))
	if st := steps(a, early.Result.Entry); len(st) != 0 {
		t.Fatalf("acknowledged message climbed: %v", st)
	}
	if st := steps(a, late.Result.Entry); fmt.Sprint(st) != "[2]" {
		t.Fatalf("late steps = %v, want [2]", st)
	}
	// ALPHA restarts from disk; the ladder resumes where it was.
	s.crash(a)
	s.settle(10000)
	s.until(late.Result.At.Add(46 * time.Minute))
	if st := steps(a, late.Result.Entry); fmt.Sprint(st) != "[2 3]" {
		t.Fatalf("after restart, steps = %v, want [2 3]", st)
	}
	if alerted(a, "alarm", "is not acknowledged by BRAVO within") != 1 {
		t.Errorf("the reminder alarm repeated after the restart: %d", alerted(a, "alarm", "is not acknowledged by BRAVO within"))
	}
	if d := s.send(b, "patrol", envelope.Ack, envelope.Immediate, AckBody{Of: late.Result.Index, By: "duty"}); d.Err != nil {
		t.Fatal(d.Err)
	}
	s.advance(2 * time.Hour)
	if st := steps(a, late.Result.Entry); fmt.Sprint(st) != "[2 3]" {
		t.Fatalf("steps after the acknowledgement = %v, want [2 3]", st)
	}
	if n := count(kinds(a, "ops", "ALPHA"), "escalation"); n != 0 {
		t.Error("forwarded although acknowledged")
	}
}

// TestUndelivered: with no path to the peer, the delivery deadline of a
// FLASH (1m) raises its own alarm.
func TestUndelivered(t *testing.T) {
	s := newLadderSim(t, false)
	a := s.nodes[0]
	for id := range s.conns {
		s.cut(id)
	}
	data, _ := json.Marshal(TextBody{Text: "are you there"})
	req := s.request(a, func(id uint64) Event {
		return Submit{ID: id, Channel: "patrol", Kind: envelope.Text, Precedence: envelope.Flash, Body: data}
	})
	s.sync(a)
	d := a.done[req]
	if d.Err != nil {
		t.Fatal(d.Err)
	}
	if got := s.info(a, "patrol").State; got != StateDown {
		t.Fatalf("state with no connection = %s, want down", got)
	}
	s.now = d.Result.At.Add(time.Minute + time.Second)
	s.step(a, Tick{})
	s.sync(a)
	if st := steps(a, d.Result.Entry); fmt.Sprint(st) != "[1]" {
		t.Fatalf("steps = %v, want [1]", st)
	}
	if alerted(a, "alarm", "is not delivered") != 1 {
		t.Fatalf("alerts: %+v", a.alerts)
	}
}

// TestDormant: each station issues operator checks on the charter's
// schedule; a check unanswered when its window passes makes the channel
// dormant exactly then, and an answer lifts it.
func TestDormant(t *testing.T) {
	s := newLadderSim(t, false)
	a, b := s.nodes[0], s.nodes[1]
	created := a.disk.channels["patrol"].CreatedAt
	s.until(created.Add(time.Hour + time.Second))
	ia := s.info(a, "patrol")
	if ia.LastCheck == 0 || kinds(b, "patrol", "ALPHA")[ia.LastCheck-1] != "check" {
		t.Fatalf("no operator check from ALPHA after an hour: %+v", ia)
	}
	if s.info(b, "patrol").LastCheck == 0 {
		t.Fatal("no operator check from BRAVO")
	}
	due := ia.LastCheckAt.Add(channel.DefaultCheckWindow)
	s.until(due.Add(-time.Second))
	if st := s.info(a, "patrol").State; st != StateActive {
		t.Fatalf("state a second before the window ends = %s", st)
	}
	s.until(due.Add(time.Second))
	if st := s.info(a, "patrol").State; st != StateDormant {
		t.Fatalf("state after the window = %s, want dormant", st)
	}
	if alerted(a, "alarm", "patrol is dormant") != 1 {
		t.Fatalf("alerts: %+v", a.alerts)
	}
	// A restart keeps it dormant without alarming again.
	s.crash(a)
	s.settle(10000)
	s.advance(time.Second)
	if st := s.info(a, "patrol").State; st != StateDormant {
		t.Fatalf("state after restart = %s, want dormant", st)
	}
	if alerted(a, "alarm", "patrol is dormant") != 1 {
		t.Error("dormant alarm repeated after restart")
	}
	// BRAVO's operator answers.
	if d := s.send(b, "patrol", envelope.Ack, envelope.Routine, AckBody{Of: ia.LastCheck, By: "Lt. Wu"}); d.Err != nil {
		t.Fatal(d.Err)
	}
	if st := s.info(a, "patrol").State; st != StateActive {
		t.Fatalf("state after the answer = %s, want active", st)
	}
}

// TestSuspension: a suspension is a signed entry with a reason, shown to
// both sides as suspended; messages are refused on both sides while it
// holds (FLASH too, unless the charter exempts it); only the party that
// suspended can resume.
func TestSuspension(t *testing.T) {
	for _, exempt := range []bool{false, true} {
		t.Run(fmt.Sprintf("flash-exempt=%v", exempt), func(t *testing.T) {
			s := newLadderSim(t, exempt)
			a, b := s.nodes[0], s.nodes[1]
			if d := s.send(b, "patrol", envelope.Resume, envelope.Routine, ResumeBody{By: "x"}); d.Err == nil {
				t.Fatal("resumed a channel that was not suspended")
			}
			if d := s.send(a, "patrol", envelope.Suspend, envelope.Routine, SuspendBody{Reason: "protest: incident of 3 May", By: "Minister"}); d.Err != nil {
				t.Fatal(d.Err)
			}
			for _, n := range s.nodes {
				i := s.info(n, "patrol")
				if i.State != StateSuspended || len(i.Suspensions) != 1 || i.Suspensions[0].By != "ALPHA" || i.Suspensions[0].Reason != "protest: incident of 3 May" {
					t.Fatalf("%s sees %s %+v", n.name, i.State, i.Suspensions)
				}
			}
			if alerted(b, "alarm", "ALPHA SUSPENDED channel patrol (by Minister): protest") != 1 {
				t.Fatalf("BRAVO alerts: %+v", b.alerts)
			}
			for _, n := range s.nodes {
				d := s.send(n, "patrol", envelope.Text, envelope.Immediate, TextBody{Text: "hello"})
				if !errors.Is(d.Err, ErrSuspended) || !strings.Contains(d.Err.Error(), "protest") {
					t.Errorf("%s sent on a suspended channel: %v", n.name, d.Err)
				}
				d = s.send(n, "patrol", envelope.Text, envelope.Flash, TextBody{Text: "collision risk"})
				if exempt != (d.Err == nil) {
					t.Errorf("%s FLASH with exempt=%v: %v", n.name, exempt, d.Err)
				}
			}
			if d := s.send(a, "patrol", envelope.Suspend, envelope.Routine, SuspendBody{Reason: "again", By: "x"}); !errors.Is(d.Err, ErrSuspended) {
				t.Errorf("suspended twice: %v", d.Err)
			}
			if d := s.send(b, "patrol", envelope.Resume, envelope.Routine, ResumeBody{By: "x"}); d.Err == nil {
				t.Fatal("BRAVO lifted ALPHA's suspension")
			}
			// The other channels are not affected.
			if d := s.send(b, "ops", envelope.Text, envelope.Routine, TextBody{Text: "on ops"}); d.Err != nil {
				t.Fatal(d.Err)
			}
			// No operator checks while suspended, so it never turns dormant.
			s.advance(3 * time.Hour)
			if i := s.info(a, "patrol"); i.LastCheck != 0 || i.State != StateSuspended {
				t.Fatalf("while suspended: %+v", i)
			}
			if d := s.send(a, "patrol", envelope.Resume, envelope.Routine, ResumeBody{By: "Minister", Reason: "talks resumed"}); d.Err != nil {
				t.Fatal(d.Err)
			}
			for _, n := range s.nodes {
				if i := s.info(n, "patrol"); i.State != StateActive || len(i.Suspensions) != 0 {
					t.Fatalf("%s after resume: %s %+v", n.name, i.State, i.Suspensions)
				}
			}
			if d := s.send(b, "patrol", envelope.Text, envelope.Routine, TextBody{Text: "hello again"}); d.Err != nil {
				t.Fatal(d.Err)
			}
			// The suspension survives a restart (it is in the channel record).
			if d := s.send(b, "patrol", envelope.Suspend, envelope.Routine, SuspendBody{Reason: "maintenance", By: "Signals"}); d.Err != nil {
				t.Fatal(d.Err)
			}
			s.crash(a)
			s.settle(10000)
			if i := s.info(a, "patrol"); i.State != StateSuspended || i.Suspensions[0].By != "BRAVO" {
				t.Fatalf("after restart: %s %+v", i.State, i.Suspensions)
			}
		})
	}
}

// TestLinkTests: machine-answered tests every LinkTest interval measure
// the round trip and the peer's clock offset, and warn of a large skew;
// the counts are written for the answer-rate statistics.
func TestLinkTests(t *testing.T) {
	s := newLadderSim(t, false)
	a, b := s.nodes[0], s.nodes[1]
	b.skew = 3 * time.Hour
	s.run(channel.DefaultLinkTest + time.Second)
	i := s.info(a, "patrol")
	if i.LinkOK.IsZero() || !i.SkewKnown {
		t.Fatalf("no link test answered: %+v", i)
	}
	if i.Skew < 3*time.Hour-time.Second || i.Skew > 3*time.Hour+time.Second {
		t.Fatalf("skew = %s, want about 3h", i.Skew)
	}
	if alerted(a, "warning", "the clock of BRAVO is 3h0m0s from this station's") != 1 {
		t.Fatalf("alerts: %+v", a.alerts)
	}
	// Link tests keep going without a new warning within the hour.
	s.run(5 * time.Minute)
	if n := alerted(a, "warning", "the clock of BRAVO"); n != 1 {
		t.Errorf("skew warned %d times in 5 minutes", n)
	}
	// The path probes measure the same skew, and the path stayed up.
	p := s.info(a, "patrol").Paths[0]
	if !p.Up || !p.Active || !p.SkewKnown || p.Skew < 3*time.Hour-time.Second || p.Probes < 600 || p.Lost != 0 {
		t.Errorf("direct path: %+v", p)
	}
}

// TestPathFailover: with two outbound paths, traffic uses the better
// ranked one, moves to the other when the active one goes silent for
// DeadAfter, and back when the better one answers again; nothing is lost
// or delivered twice, and the state shows degraded while a path is down.
func TestPathFailover(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 13)
	s := newSim(t, 13)
	a, b := s.nodes[0], s.nodes[1]
	// A second path from ALPHA to BRAVO: a relay, ranked after direct.
	s.nextID++
	relay := s.nextID
	s.conns[relay] = [2]*simNode{a, b}
	s.step(b, Connected{Peer: "ALPHA", Conn: relay, Outbound: false, Path: "relay", Rank: 1})
	s.step(a, Connected{Peer: "BRAVO", Conn: relay, Outbound: true, Path: "relay", Rank: 1})
	s.settle(10000)
	paths := s.info(a, "ops").Paths
	if len(paths) != 2 || paths[0].Name != "direct" || !paths[0].Active || paths[1].Name != "relay" || !paths[1].Up || paths[1].Active {
		t.Fatalf("paths: %+v", paths)
	}
	send := func(text string) string {
		d := s.send(a, "ops", envelope.Text, envelope.Flash, TextBody{Text: text})
		if d.Err != nil {
			t.Fatal(d.Err)
		}
		return d.Result.Entry
	}
	send("one")
	// The direct path goes silent: frames on it are lost from now on.
	direct := a.out
	s.drop, s.noDial = map[ConnID]bool{direct: true, b.out: true}, true
	id := send("two")
	s.run(DeadAfter + PingEvery)
	i := s.info(a, "ops")
	if i.Paths[0].Name != "direct" || i.Paths[0].Up || !i.Paths[1].Active {
		t.Fatalf("after the direct path went silent: %+v", i.Paths)
	}
	if i.State != StateDegraded || i.Delivered != i.Written {
		t.Fatalf("state %s, delivered %d of %d (%s)", i.State, i.Delivered, i.Written, id)
	}
	send("three")
	if i := s.info(a, "ops"); i.Delivered != i.Written {
		t.Fatalf("over the relay: delivered %d of %d", i.Delivered, i.Written)
	}
	// Direct comes back: the sim redials it; traffic moves back.
	s.drop, s.noDial = nil, false
	s.run(2 * PingEvery)
	if p := s.info(a, "ops").Paths; !p[0].Active || !p[0].Up || !p[1].Up {
		t.Fatalf("after direct came back: %+v", p)
	}
	send("four")
	checkInvariants(t, s)
	var texts []string
	for _, e := range b.disk.entries["ops/ALPHA"] {
		if e.Kind == envelope.Text {
			var tb TextBody
			json.Unmarshal(e.Body, &tb)
			texts = append(texts, tb.Text)
		}
	}
	if strings.Join(texts, " ") != "one two three four" {
		t.Fatalf("BRAVO holds %q", texts)
	}
}

// TestLinkNotify: when a path to a peer goes away or comes up, observers
// are told of every channel with the peer, whose state it changes; a path
// that went away still tells when a probe was last answered on it.
func TestLinkNotify(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 17)
	s := newSim(t, 17)
	a := s.nodes[0]
	links := func() string {
		var out []string
		for _, n := range a.notes {
			if n.What == "link" {
				out = append(out, n.Channel)
			}
		}
		a.notes = nil
		return strings.Join(out, " ")
	}
	links()
	s.run(2 * PingEvery)
	s.noDial = true
	s.cut(a.out)
	if got := links(); got != "leaders ops" {
		t.Errorf("link notifications when the path went away: %q, want leaders ops", got)
	}
	i := s.info(a, "ops")
	if i.State != StateDown {
		t.Fatalf("state without a path: %s", i.State)
	}
	if len(i.Paths) != 1 || i.Paths[0].Up || i.Paths[0].LastOK.IsZero() {
		t.Errorf("a path that went away does not say when it last worked: %+v", i.Paths)
	}
	s.noDial = false
	s.dial(a)
	s.settle(1000)
	if got := links(); got != "leaders ops" {
		t.Errorf("link notifications when the path came up: %q, want leaders ops", got)
	}
	if st := s.info(a, "ops").State; st != StateActive {
		t.Fatalf("state with the path back: %s", st)
	}
}

// TestLinkTestsPerPeer: the link tests of a peer's channels ride on the
// path probes, however many channels there are: forty channels idle for
// two minutes send no link test frame, no more probes than one channel
// does, and keep one timer for their tests; each channel's tests are
// answered at least every link-test interval and a probe, and counted.
func TestLinkTestsPerPeer(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 7)
	s := newSim(t, 7)
	a, b := s.nodes[0], s.nodes[1]
	var chans []string
	for i := range 40 {
		ch := fmt.Sprintf("extra-%02d", i)
		chans = append(chans, ch)
		s.request(a, func(id uint64) Event { return Propose{ID: id, Channel: ch, Peer: "BRAVO", Level: channel.Staff} })
		s.settle(1000)
		if d := b.done[s.request(b, func(id uint64) Event { return Accept{ID: id, Channel: ch} })]; d.Err != nil {
			t.Fatal(d.Err)
		}
		s.settle(1000)
		s.advance(337 * time.Millisecond) // the channels become active at different times
	}
	sent, answered := map[string]int64{}, map[string]int64{}
	s.batch = func(n *simNode, b *record.Batch) {
		for _, st := range b.Probes {
			if n == a {
				sent[st.Channel] += st.Sent
				answered[st.Channel] += st.Answered
			}
		}
	}
	s.run(time.Minute) // their tests drift into one round
	frames, probes := 0, 0
	s.sent = func(n *simNode, snd Send) {
		if n != a {
			return
		}
		if f, err := DecodeFrame(snd.Data); err == nil && f.Type == FrameProbe {
			if f.Channel != "" {
				frames++
			} else {
				probes++
			}
		}
	}
	last := map[string]time.Time{}
	longest := time.Duration(0)
	for range 240 { // two minutes
		s.advance(PingEvery)
		for _, i := range a.core.Channels() {
			if i.LinkOK.IsZero() {
				t.Fatalf("%s: no link test answered", i.ID)
			}
			if !last[i.ID].IsZero() && i.LinkOK != last[i.ID] {
				longest = max(longest, i.LinkOK.Sub(last[i.ID]))
			}
			last[i.ID] = i.LinkOK
			if since := s.now.Sub(i.LinkOK); since > channel.DefaultLinkTest+2*PingEvery {
				t.Fatalf("%s: last link test answered %s ago", i.ID, since)
			}
		}
	}
	if frames != 0 {
		t.Errorf("%d link test frames sent", frames)
	}
	if probes > 2*60*int(time.Second/PingEvery) {
		t.Errorf("%d path probes in two minutes, more than one every %s", probes, PingEvery)
	}
	if longest < channel.DefaultLinkTest/2 {
		t.Errorf("tests %s apart at most: more often than half the interval", longest)
	}
	tests := 0
	for _, tm := range a.core.timers {
		if tm.kind == tTests {
			tests++
		}
	}
	if tests != 1 {
		t.Errorf("%d timers for link tests of one peer, want 1", tests)
	}
	// Every channel's tests were counted, sent and answered: the counts
	// of the first five minutes, written at their end.
	s.run(probeFlushEvery)
	for _, ch := range append(chans, "ops", "leaders") {
		if answered[ch] < 25 || sent[ch]-answered[ch] > 1 {
			t.Errorf("%s: %d link tests sent, %d answered, in the first five minutes", ch, sent[ch], answered[ch])
		}
	}
	_ = b
}
