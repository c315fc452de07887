package linkemu

import (
	"encoding/binary"
	"io"
	"math"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// port is one end of an in-memory packet pipe: what a test writes to it
// the link reads, and what the link writes to it the test reads.
type port struct {
	in     chan []byte // to the link
	out    chan []byte // from the link
	closed chan struct{}
	once   sync.Once
}

func newPort() *port {
	return &port{in: make(chan []byte, 1<<16), out: make(chan []byte, 1<<16), closed: make(chan struct{})}
}

func (p *port) Read(b []byte) (int, error) {
	select {
	case pkt := <-p.in:
		return copy(b, pkt), nil
	case <-p.closed:
		return 0, io.EOF
	}
}

func (p *port) Write(b []byte) (int, error) {
	select {
	case p.out <- append([]byte(nil), b...):
		return len(b), nil
	case <-p.closed:
		return 0, io.ErrClosedPipe
	}
}

func (p *port) close() { p.once.Do(func() { close(p.closed) }) }

// packet is a test packet of n bytes carrying its number.
func packet(i, n int) []byte {
	b := make([]byte, n)
	binary.BigEndian.PutUint32(b, uint32(i))
	return b
}

// run starts a link under p between two ports inside a synctest bubble,
// and stops it when f returns.
func run(t *testing.T, p Profile, f func(l *Link, a, b *port)) {
	synctest.Test(t, func(t *testing.T) {
		a, b := newPort(), newPort()
		l, err := New(a, b, p, 1)
		if err != nil {
			t.Fatal(err)
		}
		f(l, a, b)
		l.Close()
		a.close()
		b.close()
		l.Wait()
	})
}

// TestDelay: a packet arrives exactly half the round trip after it was
// sent, both ways; with jitter, within ±jitter of it and in order.
func TestDelay(t *testing.T) {
	p := Profile{Name: "t", RTT: 160 * time.Millisecond, MTU: 1500}
	run(t, p, func(l *Link, a, b *port) {
		start := time.Now()
		a.in <- packet(1, 100)
		<-b.out
		if got := time.Since(start); got != 80*time.Millisecond {
			t.Errorf("A→B took %v, want 80ms", got)
		}
		start = time.Now()
		b.in <- packet(2, 100)
		<-a.out
		if got := time.Since(start); got != 80*time.Millisecond {
			t.Errorf("B→A took %v, want 80ms", got)
		}
	})
	p.Jitter = 20 * time.Millisecond
	run(t, p, func(l *Link, a, b *port) {
		sent := map[uint32]time.Time{}
		var spread [2]time.Duration
		spread[0] = time.Hour
		last := uint32(0)
		for i := 1; i <= 500; i++ {
			sent[uint32(i)] = time.Now()
			a.in <- packet(i, 100)
			time.Sleep(10 * time.Millisecond)
			for len(b.out) > 0 {
				pkt := <-b.out
				n := binary.BigEndian.Uint32(pkt)
				if n != last+1 {
					t.Fatalf("packet %d after %d: jitter reordered packets", n, last)
				}
				last = n
				d := time.Since(sent[n])
				spread[0], spread[1] = min(spread[0], d), max(spread[1], d)
			}
		}
		if spread[0] < 60*time.Millisecond || spread[1] > 100*time.Millisecond {
			t.Errorf("one-way delays spread %v..%v, want within 80ms ± 20ms", spread[0], spread[1])
		}
		if spread[1]-spread[0] < 30*time.Millisecond {
			t.Errorf("one-way delays spread only %v..%v: no jitter", spread[0], spread[1])
		}
	})
}

// TestRate: a burst drains at the set rate: n bytes take n×8/rate, and a
// queue that overflows drops at its tail, not what it holds.
func TestRate(t *testing.T) {
	p := Profile{Name: "t", Rate: 256_000, Queue: 32 << 10, MTU: 1500}
	run(t, p, func(l *Link, a, b *port) {
		start := time.Now()
		for i := range 20 { // 20 × 1000 bytes, within the queue
			a.in <- packet(i, 1000)
		}
		for range 20 {
			<-b.out
		}
		want := p.Serialise(20 * 1000) // 625 ms
		if got := time.Since(start); got < want-time.Millisecond || got > want+time.Millisecond {
			t.Errorf("20,000 bytes at 256 kbit/s took %v, want %v", got, want)
		}
	})
	run(t, p, func(l *Link, a, b *port) {
		for i := range 100 { // 100,000 bytes at once into a 32 KiB queue
			a.in <- packet(i, 1000)
		}
		time.Sleep(10 * time.Second)
		ab, _ := l.Stats()
		// The queue holds 32 (32,768 bytes, the one being sent counted
		// until it is; a partial packet does not fit).
		if ab.Packets != 32 || ab.QueueDrops != 68 {
			t.Errorf("delivered %d, dropped %d; want 32 and 68", ab.Packets, ab.QueueDrops)
		}
		for i := range 32 {
			if n := binary.BigEndian.Uint32(<-b.out); n != uint32(i) {
				t.Fatalf("packet %d delivered as number %d: the queue dropped from its head", n, i)
			}
		}
	})
}

// TestLoss: independent losses and bursts both lose the share set; bursts
// lose packets in runs of about the length set.
func TestLoss(t *testing.T) {
	for _, c := range []struct {
		loss, burst float64
	}{{0.05, 1}, {0.01, 4}, {0.2, 10}} {
		p := Profile{Name: "t", Loss: c.loss, Burst: c.burst, MTU: 1500}
		run(t, p, func(l *Link, a, b *port) {
			const n = 100_000
			got := make([]bool, n)
			for i := range n {
				a.in <- packet(i, 40)
				if i%1000 == 999 {
					time.Sleep(time.Millisecond)
					for len(b.out) > 0 {
						got[binary.BigEndian.Uint32(<-b.out)] = true
					}
				}
			}
			time.Sleep(time.Millisecond)
			for len(b.out) > 0 {
				got[binary.BigEndian.Uint32(<-b.out)] = true
			}
			lost, runs := 0, 0
			for i, ok := range got {
				if !ok {
					lost++
					if i == 0 || got[i-1] {
						runs++
					}
				}
			}
			share := float64(lost) / n
			// Three standard deviations of the share, widened by the
			// burst length (losses in runs vary more).
			sd := math.Sqrt(c.loss*(1-c.loss)/n) * math.Sqrt(2*c.burst)
			if math.Abs(share-c.loss) > 3*sd {
				t.Errorf("loss %g burst %g: lost %.4f of packets", c.loss, c.burst, share)
			}
			mean := float64(lost) / float64(runs)
			if mean < c.burst*0.8 || mean > c.burst*1.25 {
				t.Errorf("loss %g burst %g: runs of lost packets average %.2f", c.loss, c.burst, mean)
			}
			if ab, _ := l.Stats(); ab.Lost != uint64(lost) || ab.Packets != uint64(n-lost) {
				t.Errorf("counters say %d lost and %d delivered, the receiver %d and %d", ab.Lost, ab.Packets, lost, n-lost)
			}
		})
	}
}

// TestOutageAndSet: a cut link drops everything, also what was on its
// way, and a healed one carries again; a profile set mid-run applies to
// the packets after it.
func TestOutageAndSet(t *testing.T) {
	p := Profile{Name: "t", RTT: 100 * time.Millisecond, MTU: 1500}
	run(t, p, func(l *Link, a, b *port) {
		a.in <- packet(1, 100)
		time.Sleep(10 * time.Millisecond)
		l.Cut()
		a.in <- packet(2, 100)
		time.Sleep(time.Second)
		if len(b.out) != 0 {
			t.Fatal("a cut link delivered a packet")
		}
		if ab, _ := l.Stats(); ab.OutageDrops != 2 {
			t.Errorf("outage drops %d, want 2 (one on its way, one sent while down)", ab.OutageDrops)
		}
		l.Heal()
		if err := l.Set(Profile{Name: "u", RTT: 600 * time.Millisecond, MTU: 576}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		a.in <- packet(3, 500)
		<-b.out
		if got := time.Since(start); got != 300*time.Millisecond {
			t.Errorf("after Set, A→B took %v, want 300ms", got)
		}
		a.in <- packet(4, 577)
		time.Sleep(time.Second)
		if ab, _ := l.Stats(); ab.OversizeDrop != 1 || len(b.out) != 0 {
			t.Errorf("a packet over the new MTU was not dropped (%d oversize drops)", ab.OversizeDrop)
		}
	})
}

// TestProfiles: the named profiles are valid and carry the figures the
// docs give; bad names and bad profiles are refused, naming the fault.
func TestProfiles(t *testing.T) {
	want := map[string][4]float64{ // RTT ms, jitter ms, loss, rate
		"lan":          {0, 0, 0, 0},
		"transpacific": {160, 5, 0.001, 50e6},
		"satcom":       {600, 20, 0.01, 256e3},
		"narrowband":   {400, 0, 0.05, 9600},
	}
	for _, name := range Names() {
		p, err := Named(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Validate(); err != nil {
			t.Error(err)
		}
		w, ok := want[name]
		if !ok || p.RTTms() != w[0] || p.JitterMs() != w[1] || p.Loss != w[2] || float64(p.Rate) != w[3] {
			t.Errorf("profile %s = %+v, want %v", name, p, w)
		}
	}
	if s, _ := Named("satcom"); s.Burst <= 1 {
		t.Error("satcom's losses are not in bursts")
	}
	if _, err := Named("dialup"); err == nil || !strings.Contains(err.Error(), "narrowband") {
		t.Errorf("an unknown profile: %v", err)
	}
	for _, bad := range []Profile{
		{Name: "x", Loss: 1, MTU: 1500},
		{Name: "x", RTT: 10 * time.Millisecond, Jitter: 6 * time.Millisecond, MTU: 1500},
		{Name: "x", Rate: 1000, Queue: 100, MTU: 1500},
		{Name: "x", MTU: 100},
	} {
		if _, err := New(newPort(), newPort(), bad, 1); err == nil {
			t.Errorf("profile %+v accepted", bad)
		}
	}
}
