package sim

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestEventQueue: events come out by time, and those at the same time in
// the order they were scheduled, however pushes and pops interleave.
func TestEventQueue(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var q eventQueue
	var want []event
	var seq uint64
	now := int64(0)
	for round := range 20000 {
		if q.Len() == 0 || rng.IntN(3) > 0 {
			seq++
			e := event{at: now + rng.Int64N(50), seq: seq}
			q.push(e)
			want = append(want, e)
			continue
		}
		slices.SortFunc(want, func(a, b event) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.seq, b.seq)) })
		got := q.pop()
		if got.at != want[0].at || got.seq != want[0].seq {
			t.Fatalf("round %d: popped (%d, %d), want (%d, %d)", round, got.at, got.seq, want[0].at, want[0].seq)
		}
		want = want[1:]
		now = got.at
	}
	for q.Len() > 0 {
		slices.SortFunc(want, func(a, b event) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.seq, b.seq)) })
		if got := q.pop(); got.at != want[0].at || got.seq != want[0].seq {
			t.Fatalf("draining: popped (%d, %d), want (%d, %d)", got.at, got.seq, want[0].at, want[0].seq)
		}
		want = want[1:]
	}
}
