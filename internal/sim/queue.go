package sim

// event is something that happens at a simulated time: at is the time in
// nanoseconds since the start of the run. Events at the same time run in
// the order they were scheduled (seq).
type event struct {
	at  int64
	seq uint64
	fn  func()
}

func (e *event) before(f *event) bool {
	if e.at != f.at {
		return e.at < f.at
	}
	return e.seq < f.seq
}

// eventQueue is a 4-ary min-heap of events by (at, seq), held by value:
// a run schedules tens of millions of events, and a wider, shallower heap
// of values moves less memory than container/heap's binary heap of
// pointers behind an interface.
type eventQueue []event

func (q eventQueue) Len() int { return len(q) }

// push adds e.
func (q *eventQueue) push(e event) {
	*q = append(*q, e)
	h := *q
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 4
		if !h[i].before(&h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

// pop removes and returns the first event; the queue must not be empty.
func (q *eventQueue) pop() event {
	h := *q
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h[n] = event{} // let the closure go
	h = h[:n]
	*q = h
	i := 0
	for {
		first := 4*i + 1
		if first >= n {
			break
		}
		m := first
		for c := first + 1; c < first+4 && c < n; c++ {
			if h[c].before(&h[m]) {
				m = c
			}
		}
		if !h[m].before(&h[i]) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	return top
}
