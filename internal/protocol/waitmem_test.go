package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/cryptotest"
	"time"

	"hotline/internal/channel"
	"hotline/internal/envelope"
	"hotline/internal/record"
)

// heapNow is the live heap after a collection.
func heapNow() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestWaitingMemory: what the core holds per message that waits for
// acknowledgement, restored from the store and with its ladder armed, is
// bounded whatever the message's length: its text stays in the store and
// is read back only when a forward falls due (TestForwardReadsBack), and
// its ladder is a 24-byte record and an index in a queue of its channel,
// with no timer of its own (waits.go). About 37 bytes; it was 205 with a
// record in a map and a timer in the heap per message.
func TestWaitingMemory(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 3)
	s := newSim(t, 3)
	a := s.nodes[0]
	const n = 50000
	const bound = 64 // bytes per waiting message
	snap := a.disk.snapshot(a.name)
	text := strings.Repeat("x", 1000)
	for i := range n {
		body := fmt.Appendf(nil, `{"text":"%s %d","lang":"en"}`, text, i)
		snap.Outstanding = append(snap.Outstanding, record.Waiting{Channel: "ops", Author: a.name, Index: uint64(1000 + i),
			Kind: envelope.Text, Precedence: envelope.Flash, Body: body, StoredAt: s.now.Add(time.Duration(i) * time.Millisecond)})
	}
	before := heapNow()
	c, err := New(testConfig(Config{MaxBatch: 8, MaxBatchBytes: 64 << 10, Window: 32}), a.keys, snap)
	if err != nil {
		t.Fatal(err)
	}
	restored := heapNow()
	c.Step(s.now, Tick{})
	armed := heapNow()
	per := float64(armed-before) / n
	t.Logf("per waiting message of %d bytes: %d bytes restored, %.0f with its ladder armed", len(text), (restored-before)/n, per)
	if per > bound {
		t.Errorf("%.0f bytes per waiting message, more than %d", per, bound)
	}
	if got := c.channels["ops"].awaiting[0]; got != n {
		t.Errorf("%d messages await acknowledgement, want %d", got, n)
	}
	runtime.KeepAlive(snap)
	runtime.KeepAlive(c)
}

// TestForwardReadsBack: the core keeps no text of a waiting message, and
// its forward up the ladder reads it back from the store (Load with
// Ladder): across a restart between the supervisor's step and the
// forward, the forward still carries the text, once; a message whose
// body cannot be read back is not forwarded, and the step says why.
func TestForwardReadsBack(t *testing.T) {
	s := newLadderSim(t, false)
	a, b := s.nodes[0], s.nodes[1]
	d := s.send(a, "patrol", envelope.Text, envelope.Flash, TextBody{Text: "hold position", Lang: "en"})
	if d.Err != nil {
		t.Fatal(d.Err)
	}
	id, sent := d.Result.Entry, d.Result.At
	s.until(sent.Add(15*time.Minute + time.Second))
	s.crash(a)
	s.settle(10000)
	s.until(sent.Add(20*time.Minute + time.Second))
	if st := steps(a, id); fmt.Sprint(st) != "[2 3 4]" {
		t.Fatalf("steps = %v, want [2 3 4]", st)
	}
	ops := b.disk.entries["ops/ALPHA"]
	var eb EscalationBody
	if err := json.Unmarshal(ops[len(ops)-1].Body, &eb); err != nil || eb.From != id || eb.Text != "hold position" || eb.Lang != "en" {
		t.Fatalf("forwarded body %+v (%v)", eb, err)
	}
	s.advance(time.Hour)
	if n := count(kinds(a, "ops", "ALPHA"), "escalation"); n != 1 {
		t.Errorf("%d forwards, want 1", n)
	}

	// A body that cannot be read back: the step is taken, not forwarded.
	d = s.send(a, "patrol", envelope.Text, envelope.Flash, TextBody{Text: "second", Lang: "en"})
	if d.Err != nil {
		t.Fatal(d.Err)
	}
	id2, sent2 := d.Result.Entry, d.Result.At
	s.until(sent2.Add(20*time.Minute - time.Second))
	if st, ok := a.core.waitingStep("patrol", a.name, d.Result.Index); !ok || st != record.StepSupervisor {
		t.Fatalf("before the forward: step %d (waiting %v)", st, ok)
	}
	s.now = sent2.Add(20*time.Minute + time.Second)
	var load *Load
	for _, act := range a.core.Step(s.now, Tick{}) {
		if l, ok := act.(Load); ok && l.Ladder {
			load = &l
		}
	}
	if load == nil || load.Channel != "patrol" || load.From != d.Result.Index || load.To != d.Result.Index {
		t.Fatalf("no ladder load for the forward: %+v", load)
	}
	s.step(a, Loaded{Channel: load.Channel, Author: load.Author, From: load.From, Ladder: true, Err: errors.New("disk on fire")})
	s.settle(10000)
	if n := count(kinds(a, "ops", "ALPHA"), "escalation"); n != 1 {
		t.Errorf("%d forwards, want still 1", n)
	}
	found := false
	for _, x := range a.disk.escal {
		if fmt.Sprintf("%s/%s/%d", x.Channel, x.Author, x.Index) == id2 && x.Step == record.StepForwarded {
			found = strings.Contains(x.Detail, "not forwarded: could not read it back: disk on fire")
		}
	}
	if !found {
		t.Errorf("no step saying the forward could not be read back: %+v", a.disk.escal)
	}
}

// TestLadderQueuesOnTime: restored waiting entries of both sides, of
// several precedences and a check, one stored after the clock went back,
// take each step of their ladders at its due time, not before and not
// later, though the core keeps one timer per queue of a channel rather
// than one per entry.
func TestLadderQueuesOnTime(t *testing.T) {
	s := newSim(t, 5)
	a := s.nodes[0]
	snap := a.disk.snapshot(a.name)
	base := s.now.Add(time.Hour)
	type ent struct {
		author string
		index  uint64
		kind   envelope.Kind
		prec   envelope.Precedence
		at     time.Duration
	}
	peer := s.nodes[1].name
	ents := []ent{
		{a.name, 1000, envelope.Text, envelope.Flash, 0},
		{a.name, 1001, envelope.Text, envelope.Flash, -5 * time.Minute}, // the clock went back
		{a.name, 1002, envelope.Text, envelope.Immediate, time.Minute},
		{a.name, 1003, envelope.Text, envelope.Flash, 30 * time.Second},
		{a.name, 1004, envelope.Text, envelope.Flash, 30 * time.Second},
		{peer, 2000, envelope.Text, envelope.Flash, -2 * time.Minute},
		{peer, 2001, envelope.Text, envelope.Priority, 0},
		{peer, 2002, envelope.Check, envelope.Routine, 10 * time.Second},
		{peer, 2003, envelope.Text, envelope.Flash, -3 * time.Minute},
	}
	type key struct {
		index uint64
		step  int
	}
	want := map[key]time.Time{}
	deadline := channel.DefaultDeadlines
	delivery := channel.DefaultDelivery
	for _, e := range ents {
		at := base.Add(e.at)
		body := []byte(`{"text":"x","lang":"en"}`)
		if e.kind == envelope.Check {
			body = []byte(`{"window":"10m0s"}`)
		}
		snap.Outstanding = append(snap.Outstanding, record.Waiting{Channel: "ops", Author: e.author, Index: e.index,
			Kind: e.kind, Precedence: e.prec, Body: body, StoredAt: at})
		d := deadline[e.prec]
		switch {
		case e.kind == envelope.Check:
			want[key{e.index, record.StepOverdue}] = at.Add(10 * time.Minute)
		case e.author == peer:
			want[key{e.index, record.StepOverdue}] = at.Add(d)
		default:
			want[key{e.index, record.StepUndelivered}] = at.Add(delivery[e.prec])
			want[key{e.index, record.StepOverdue}] = at.Add(d)
			want[key{e.index, record.StepSupervisor}] = at.Add(d + d/2)
			want[key{e.index, record.StepForwarded}] = at.Add(2 * d)
		}
	}
	c, err := New(testConfig(Config{MaxBatch: 8, MaxBatchBytes: 64 << 10, Window: 32}), a.keys, snap)
	if err != nil {
		t.Fatal(err)
	}
	var times []time.Time
	for _, at := range want {
		times = append(times, at.Add(-time.Millisecond), at)
	}
	slices.SortFunc(times, time.Time.Compare)
	times = slices.Compact(times)
	got := map[key]time.Time{}
	for _, now := range times {
		var loads []Load
		for _, act := range c.Step(now, Tick{}) {
			switch act := act.(type) {
			case Persist:
				for _, x := range act.Batch.Escalations {
					k := key{x.Index, x.Step}
					if _, ok := want[k]; !ok || x.Channel != "ops" {
						continue
					}
					if _, dup := got[k]; dup {
						t.Errorf("%d step %d taken twice", x.Index, x.Step)
					}
					got[k] = x.At
				}
			case Load:
				if act.Ladder {
					got[key{act.From, record.StepForwarded}] = now
					loads = append(loads, act)
				}
			}
		}
		for _, l := range loads {
			// The forward read back: the step is taken.
			c.Step(now, Loaded{Channel: l.Channel, Author: l.Author, From: l.From, Ladder: true, Bodies: [][]byte{[]byte(`{"text":"x","lang":"en"}`)}})
		}
	}
	for k, at := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("%d step %d: not taken, due at +%s", k.index, k.step, at.Sub(base))
		} else if !g.Equal(at) {
			t.Errorf("%d step %d: taken at +%s, due at +%s", k.index, k.step, g.Sub(base), at.Sub(base))
		}
	}
	if len(c.timers) > 32 {
		t.Errorf("%d timers for %d waiting entries", len(c.timers), len(ents))
	}
}
