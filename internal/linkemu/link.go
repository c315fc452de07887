package linkemu

import (
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"time"
)

// A Link forwards packets between two ports, A and B, under a Profile.
// Each Read of a port returns one packet and each Write takes one, as a
// TUN device does.
type Link struct {
	mu      sync.Mutex
	profile Profile
	down    bool
	dirs    [2]*direction
	wg      sync.WaitGroup
	closed  chan struct{}
}

// Stats are one direction's counters.
type Stats struct {
	Packets      uint64 `json:"packets"` // delivered
	Bytes        uint64 `json:"bytes"`   // delivered, IP packets whole
	Lost         uint64 `json:"lost"`    // lost by the profile's loss, after it took its time on the link
	LostBytes    uint64 `json:"lost_bytes"`
	QueueDrops   uint64 `json:"queue_drops"`   // dropped by a full queue
	OutageDrops  uint64 `json:"outage_drops"`  // dropped while the link was down
	OversizeDrop uint64 `json:"oversize_drop"` // larger than the MTU
}

// Wire is the bytes that went onto the link: delivered or lost on it.
func (s Stats) Wire() uint64 { return s.Bytes + s.LostBytes }

// direction is one way of a link: packets read from src go to dst.
type direction struct {
	l        *Link
	src, dst io.ReadWriter
	rng      *rand.Rand
	bad      bool      // the Gilbert–Elliott channel's state
	busy     time.Time // when the link finishes sending what it holds
	last     time.Time // when the packet before is delivered
	mu       sync.Mutex
	cond     *sync.Cond
	queue    []timed
	stats    Stats
}

type timed struct {
	at   time.Time
	data []byte
	lose bool // sent over the link, then lost
}

// New starts a link between a and b under p. seed makes its losses and
// jitter the same run after run. Close stops it; closing the ports too
// ends its readers.
func New(a, b io.ReadWriter, p Profile, seed uint64) (*Link, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	l := &Link{profile: p, closed: make(chan struct{})}
	for i, ports := range [2][2]io.ReadWriter{{a, b}, {b, a}} {
		d := &direction{l: l, src: ports[0], dst: ports[1], rng: rand.New(rand.NewPCG(seed, uint64(i)))}
		d.cond = sync.NewCond(&d.mu)
		l.dirs[i] = d
		l.wg.Add(2)
		go d.read()
		go d.deliver()
	}
	return l, nil
}

// Profile returns the link's profile now.
func (l *Link) Profile() Profile {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.profile
}

// Set changes the link's profile from now on: packets already on their
// way keep the times they were given.
func (l *Link) Set(p Profile) error {
	if err := p.Validate(); err != nil {
		return err
	}
	l.mu.Lock()
	l.profile = p
	l.mu.Unlock()
	return nil
}

// Cut takes the link down: every packet is dropped, those on their way
// too, until Heal.
func (l *Link) Cut() {
	l.mu.Lock()
	l.down = true
	l.mu.Unlock()
}

// Heal brings the link back up.
func (l *Link) Heal() {
	l.mu.Lock()
	l.down = false
	l.mu.Unlock()
}

// Stats returns the counters of A→B and of B→A.
func (l *Link) Stats() (ab, ba Stats) {
	return l.dirs[0].snapshot(), l.dirs[1].snapshot()
}

func (d *direction) snapshot() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// Close stops forwarding. Readers blocked on a port end when the port is
// closed; Close waits for the deliverers only.
func (l *Link) Close() {
	select {
	case <-l.closed:
		return
	default:
	}
	close(l.closed)
	for _, d := range l.dirs {
		d.mu.Lock()
		d.cond.Broadcast()
		d.mu.Unlock()
	}
}

// Wait waits until both directions' readers and deliverers ended (after
// Close and the ports' closing).
func (l *Link) Wait() { l.wg.Wait() }

func (l *Link) isClosed() bool {
	select {
	case <-l.closed:
		return true
	default:
		return false
	}
}

// read takes packets from the source port and gives each its time of
// delivery, or drops it.
func (d *direction) read() {
	defer d.l.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, err := d.src.Read(buf)
		if err != nil {
			if errors.Is(err, io.EOF) || d.l.isClosed() || isClosedErr(err) {
				return
			}
			continue
		}
		if d.l.isClosed() {
			return
		}
		d.take(buf[:n], time.Now())
	}
}

// take decides what becomes of one packet read at now.
func (d *direction) take(pkt []byte, now time.Time) {
	d.l.mu.Lock()
	p, down := d.l.profile, d.l.down
	d.l.mu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case down:
		d.stats.OutageDrops++
		return
	case len(pkt) > p.MTU:
		d.stats.OversizeDrop++
		return
	}
	// The queue: the packet starts on the link once what is before it
	// has been sent, and takes its size at the rate.
	start := now
	if p.Rate > 0 {
		if d.busy.After(now) {
			held := int64(float64(d.busy.Sub(now)) * float64(p.Rate) / 8 / float64(time.Second))
			if held+int64(len(pkt)) > int64(p.Queue) {
				d.stats.QueueDrops++
				return
			}
			start = d.busy
		}
		d.busy = start.Add(p.Serialise(len(pkt)))
		start = d.busy
	}
	at := start.Add(p.RTT / 2)
	if p.Jitter > 0 {
		at = at.Add(time.Duration(d.rng.Int64N(int64(2*p.Jitter)+1)) - p.Jitter)
	}
	if at.Before(d.last) {
		at = d.last
	}
	d.last = at
	d.queue = append(d.queue, timed{at: at, data: append([]byte(nil), pkt...), lose: d.lost(p)})
	d.cond.Signal()
}

// lost draws whether the next packet is lost: independently with the
// profile's Loss, or from a two-state Gilbert–Elliott channel whose bad
// state loses every packet, lasts Burst packets on average, and is
// entered so that the share of packets lost is Loss.
func (d *direction) lost(p Profile) bool {
	if p.Loss <= 0 {
		d.bad = false
		return false
	}
	if p.Burst <= 1 {
		return d.rng.Float64() < p.Loss
	}
	leave := 1 / p.Burst                   // P(bad → good)
	enter := p.Loss * leave / (1 - p.Loss) // P(good → bad)
	if d.bad {
		d.bad = d.rng.Float64() >= leave
	} else {
		d.bad = d.rng.Float64() < enter
	}
	return d.bad
}

// deliver writes each packet to the destination port at its time.
func (d *direction) deliver() {
	defer d.l.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		d.mu.Lock()
		for len(d.queue) == 0 && !d.l.isClosed() {
			d.cond.Wait()
		}
		if d.l.isClosed() {
			d.mu.Unlock()
			return
		}
		next := d.queue[0]
		d.mu.Unlock()
		if wait := time.Until(next.at); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-d.l.closed:
				return
			}
		}
		d.mu.Lock()
		d.queue[0] = timed{}
		d.queue = d.queue[1:]
		d.mu.Unlock()
		d.l.mu.Lock()
		down := d.l.down
		d.l.mu.Unlock()
		d.mu.Lock()
		switch {
		case down:
			d.stats.OutageDrops++
			next.data = nil
		case next.lose:
			d.stats.Lost++
			d.stats.LostBytes += uint64(len(next.data))
			next.data = nil
		}
		d.mu.Unlock()
		if next.data == nil {
			continue
		}
		// Counted before it is written, so that a reader who has the
		// packet finds it counted.
		d.mu.Lock()
		d.stats.Packets++
		d.stats.Bytes += uint64(len(next.data))
		d.mu.Unlock()
		if _, err := d.dst.Write(next.data); err != nil {
			d.mu.Lock()
			d.stats.Packets--
			d.stats.Bytes -= uint64(len(next.data))
			d.mu.Unlock()
			if d.l.isClosed() || isClosedErr(err) {
				return
			}
		}
	}
}

// isClosedErr says whether err is a port's closing.
func isClosedErr(err error) bool {
	return errors.Is(err, os.ErrClosed) || errors.Is(err, io.ErrClosedPipe)
}
