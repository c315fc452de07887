package protocol

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"hotline/internal/call"
	"hotline/internal/envelope"
)

// TestCallLadderUnanswered: a FLASH call nobody answers climbs the ladder
// at the charter's times, as a FLASH message does: reminded at 10m, the
// supervisor at 15m, forwarded to the channel above at 20m with the call
// in words; the called station alarms at 10m too.
func TestCallLadderUnanswered(t *testing.T) {
	s := newLadderSim(t, false)
	a, b := s.nodes[0], s.nodes[1]
	d := s.send(a, "patrol", envelope.CallRequest, envelope.Flash, call.Request{Caller: "Cdr. Hale", Video: true})
	if d.Err != nil {
		t.Fatal(d.Err)
	}
	id, sent := d.Result.Entry, d.Result.At
	if got := s.info(a, "patrol").AwaitingPeer; got != 1 {
		t.Fatalf("awaiting the peer = %d, want the call", got)
	}
	if got := s.info(b, "patrol").AwaitingHere; got != 1 {
		t.Fatalf("awaiting here = %d, want the call", got)
	}
	s.until(sent.Add(10*time.Minute - time.Second))
	if st := steps(a, id); len(st) != 0 {
		t.Fatalf("steps before the deadline: %v", st)
	}
	s.until(sent.Add(10*time.Minute + time.Second))
	if st := steps(a, id); fmt.Sprint(st) != "[2]" {
		t.Fatalf("steps at the deadline = %v, want [2]", st)
	}
	if k := kinds(b, "patrol", "ALPHA"); k[len(k)-1] != "reminder" {
		t.Fatalf("BRAVO's copy of ALPHA's log ends %v, want a reminder", k)
	}
	if st := steps(b, id); fmt.Sprint(st) != "[2]" || alerted(b, "alarm", "deadline (10m0s) has passed") != 1 {
		t.Fatalf("BRAVO's steps %v, alerts %+v", st, b.alerts)
	}
	s.until(sent.Add(15*time.Minute + time.Second))
	if alerted(a, "supervisor", "a supervisor must act") != 1 {
		t.Fatalf("no supervisor alert at 15m: %+v", a.alerts)
	}
	s.until(sent.Add(20*time.Minute + time.Second))
	if st := steps(a, id); fmt.Sprint(st) != "[2 3 4]" {
		t.Fatalf("steps = %v, want [2 3 4]", st)
	}
	ops := b.disk.entries["ops/ALPHA"]
	fwd := ops[len(ops)-1]
	var eb EscalationBody
	if err := json.Unmarshal(fwd.Body, &eb); err != nil || fwd.Kind != envelope.Escalation || eb.From != id ||
		!strings.Contains(eb.Text, "Cdr. Hale") || !strings.Contains(eb.Text, "video") || fwd.Precedence != envelope.Flash {
		t.Fatalf("forwarded entry: kind %s, prec %s, body %+v (%v)", fwd.Kind, fwd.Precedence, eb, err)
	}
}

// TestCallAnswerStopsLadder: an answer before the deadline means no step
// is ever taken, at either station, and both record the call as
// acknowledged by the person who answered. A restart keeps it so.
func TestCallAnswerStopsLadder(t *testing.T) {
	s := newLadderSim(t, false)
	a, b := s.nodes[0], s.nodes[1]
	d := s.send(a, "patrol", envelope.CallRequest, envelope.Immediate, call.Request{Caller: "Cdr. Hale"})
	if d.Err != nil {
		t.Fatal(d.Err)
	}
	id := d.Result.Entry
	s.advance(time.Minute)
	if d := s.send(b, "patrol", envelope.CallAnswer, envelope.Immediate, call.Answer{Call: id, By: "Col. Li"}); d.Err != nil {
		t.Fatal(d.Err)
	}
	for _, n := range s.nodes {
		if ack, ok := n.disk.acks[id]; !ok || ack.By != "Col. Li" {
			t.Fatalf("%s: the call is not recorded as answered: %+v", n.name, n.disk.acks)
		}
		if i := s.info(n, "patrol"); i.AwaitingPeer+i.AwaitingHere != 0 {
			t.Fatalf("%s still awaits: %+v", n.name, i)
		}
	}
	s.crash(a)
	s.settle(10000)
	s.advance(2 * time.Hour)
	for _, n := range s.nodes {
		if st := steps(n, id); len(st) != 0 {
			t.Errorf("%s: an answered call climbed: %v", n.name, st)
		}
	}
	if n := count(kinds(a, "ops", "ALPHA"), "escalation"); n != 0 {
		t.Error("an answered call was forwarded")
	}
}

// TestCallDeclineStopsLadder: a decline between steps stops the rest; a
// call back from the other side stops the ladder of the call it returns.
func TestCallDeclineStopsLadder(t *testing.T) {
	s := newLadderSim(t, false)
	a, b := s.nodes[0], s.nodes[1]
	first := s.send(a, "patrol", envelope.CallRequest, envelope.Immediate, call.Request{Caller: "Cdr. Hale"})
	second := s.send(a, "patrol", envelope.CallRequest, envelope.Immediate, call.Request{Caller: "Cdr. Hale"})
	if first.Err != nil || second.Err != nil {
		t.Fatal(first.Err, second.Err)
	}
	// Past IMMEDIATE's deadline (30m): both reminded.
	s.until(first.Result.At.Add(31 * time.Minute))
	if d := s.send(b, "patrol", envelope.CallDecline, envelope.Immediate, call.Decline{Call: first.Result.Entry, By: "Col. Li", Reason: "in a briefing"}); d.Err != nil {
		t.Fatal(d.Err)
	}
	if d := s.send(b, "patrol", envelope.CallRequest, envelope.Immediate, call.Request{Caller: "Col. Li", Back: second.Result.Entry}); d.Err != nil {
		t.Fatal(d.Err)
	}
	s.advance(2 * time.Hour)
	for _, r := range []Result{first.Result, second.Result} {
		if st := steps(a, r.Entry); fmt.Sprint(st) != "[2]" {
			t.Errorf("%s: steps = %v, want [2] (stopped after the reminder)", r.Entry, st)
		}
	}
	if ack := a.disk.acks[second.Result.Entry]; ack.By != "Col. Li (called back)" {
		t.Errorf("the call back is recorded as %+v", ack)
	}
	if n := count(kinds(a, "ops", "ALPHA"), "escalation"); n != 0 {
		t.Error("a declined call was forwarded")
	}
}

// TestCallRefused: a station answers only a call of the other party on
// the same channel, which it has; the core refuses the rest before
// writing anything.
func TestCallRefused(t *testing.T) {
	s := newLadderSim(t, false)
	a, b := s.nodes[0], s.nodes[1]
	d := s.send(a, "patrol", envelope.CallRequest, envelope.Flash, call.Request{Caller: "Cdr. Hale"})
	if d.Err != nil {
		t.Fatal(d.Err)
	}
	size := len(b.disk.entries["patrol/BRAVO"])
	for _, tt := range []struct {
		n    *simNode
		kind envelope.Kind
		body any
		want string
	}{
		{a, envelope.CallAnswer, call.Answer{Call: d.Result.Entry, By: "Cdr. Hale"}, "no such entry from the peer"},
		{b, envelope.CallAnswer, call.Answer{Call: "patrol/ALPHA/99", By: "Col. Li"}, "no such entry from the peer"},
		{b, envelope.CallAnswer, call.Answer{Call: "ops/ALPHA/2", By: "Col. Li"}, "another channel"},
		{b, envelope.CallDecline, call.Decline{Call: d.Result.Entry, By: "Col.\u202eLi"}, "invisible character U+202E"},
		{b, envelope.CallRequest, call.Request{Caller: ""}, "caller is empty"},
	} {
		if got := s.send(tt.n, "patrol", tt.kind, envelope.Flash, tt.body); got.Err == nil || !strings.Contains(got.Err.Error(), tt.want) {
			t.Errorf("%s %s %+v: %v, want %q", tt.n.name, tt.kind, tt.body, got.Err, tt.want)
		}
	}
	if got := len(b.disk.entries["patrol/BRAVO"]); got != size {
		t.Errorf("BRAVO's log grew from %d to %d", size, got)
	}
}
