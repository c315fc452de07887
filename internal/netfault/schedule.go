package netfault

import (
	"bytes"
	"math/rand/v2"
	"sync"
	"time"
)

// Schedule is a seeded schedule of faults a proxy puts on the bytes it
// forwards while it runs. The seed fixes the sequence of decisions (how
// long each wait, which byte); when they fall depends on the real
// processes, so a run is reproducible in kind, not byte for byte.
type Schedule struct {
	Seed uint64
	// Delay: each chunk of bytes waits up to Delay before it goes on, in
	// order (a slow path, not a reordering one).
	Delay time.Duration
	// Stall: on average every StallEvery, nothing goes through for up to
	// StallFor, in either direction; connections stay open (a path that
	// goes silent for a while, then comes back).
	StallEvery, StallFor time.Duration
	// Cut: on average every CutEvery, every connection through the proxy
	// is closed; new ones are accepted.
	CutEvery time.Duration
	// Corrupt: on average every CorruptEvery, one byte of the next chunk
	// is changed. Over TLS this is never a damaged frame but a failed
	// connection: the record does not authenticate, and TLS closes it.
	CorruptEvery time.Duration
}

// shaper is a running schedule.
type shaper struct {
	s    Schedule
	mu   sync.Mutex
	rng  *rand.Rand
	stop chan struct{}
	done chan struct{}

	stallUntil  time.Time
	corruptNext bool
	counts      map[string]int
}

// Run applies the schedule to the proxy's traffic until the returned
// stop is called (or the proxy closes). A schedule already running is
// stopped first.
func (p *Proxy) Run(s Schedule) (stop func()) {
	sh := &shaper{s: s, rng: rand.New(rand.NewPCG(s.Seed, s.Seed^0x5851f42d4c957f2d)), stop: make(chan struct{}),
		done: make(chan struct{}), counts: map[string]int{}}
	p.mu.Lock()
	old := p.shape
	p.shape = sh
	p.mu.Unlock()
	if old != nil {
		old.end()
	}
	go sh.loop(p)
	return func() {
		sh.end()
		p.mu.Lock()
		if p.shape == sh {
			p.shape = nil
		}
		p.mu.Unlock()
	}
}

// Counts returns the faults applied so far by the schedules run on the
// proxy, by kind: "delay" (chunks delayed), "stall", "cut", "corrupt".
func (p *Proxy) Counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for k, v := range p.counts {
		out[k] = v
	}
	return out
}

func (sh *shaper) end() {
	select {
	case <-sh.stop:
	default:
		close(sh.stop)
	}
	<-sh.done
	sh.mu.Lock()
	sh.stallUntil = time.Time{}
	sh.mu.Unlock()
}

// expo draws an exponential wait with the given mean, 0 if mean is 0.
func (sh *shaper) expo(mean time.Duration) time.Duration {
	if mean <= 0 {
		return 0
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return time.Duration(sh.rng.ExpFloat64() * float64(mean))
}

// loop fires the timed faults: stalls, cuts, corruption.
func (sh *shaper) loop(p *Proxy) {
	defer close(sh.done)
	type timed struct {
		every time.Duration
		next  time.Time
		fire  func()
	}
	now := time.Now()
	faults := []*timed{
		{every: sh.s.StallEvery, fire: func() {
			d := time.Duration(0)
			if sh.s.StallFor > 0 {
				sh.mu.Lock()
				d = time.Duration(sh.rng.Int64N(int64(sh.s.StallFor)))
				sh.mu.Unlock()
			}
			sh.mu.Lock()
			sh.stallUntil = time.Now().Add(d)
			sh.mu.Unlock()
			p.count("stall")
		}},
		{every: sh.s.CutEvery, fire: func() {
			p.cutAll()
			p.count("cut")
		}},
		{every: sh.s.CorruptEvery, fire: func() {
			sh.mu.Lock()
			sh.corruptNext = true
			sh.mu.Unlock()
		}},
	}
	for _, f := range faults {
		f.next = now.Add(sh.expo(f.every))
	}
	for {
		var first *timed
		for _, f := range faults {
			if f.every > 0 && (first == nil || f.next.Before(first.next)) {
				first = f
			}
		}
		var wait <-chan time.Time
		if first != nil {
			wait = time.After(time.Until(first.next))
		}
		select {
		case <-sh.stop:
			return
		case <-p.done:
			return
		case <-wait:
			first.fire()
			first.next = time.Now().Add(sh.expo(first.every))
		}
	}
}

// apply puts the schedule on one chunk before it is forwarded: it waits
// out a stall and its delay, and may change one byte.
func (sh *shaper) apply(p *Proxy, b []byte) []byte {
	sh.mu.Lock()
	until := sh.stallUntil
	var d time.Duration
	if sh.s.Delay > 0 {
		d = time.Duration(sh.rng.Int64N(int64(sh.s.Delay)))
	}
	corrupt := sh.corruptNext && len(b) > 0
	var at int
	var x byte
	if corrupt {
		sh.corruptNext = false
		at, x = sh.rng.IntN(len(b)), byte(1+sh.rng.IntN(255))
	}
	sh.mu.Unlock()
	if w := time.Until(until); w > 0 {
		sh.sleep(w)
	}
	if d > 0 {
		p.count("delay")
		sh.sleep(d)
	}
	if corrupt {
		p.count("corrupt")
		b = bytes.Clone(b)
		b[at] ^= x
	}
	return b
}

func (sh *shaper) sleep(d time.Duration) {
	select {
	case <-time.After(d):
	case <-sh.stop:
	}
}
