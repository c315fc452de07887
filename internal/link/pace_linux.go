package link

import (
	"crypto/tls"
	"net"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// pacer keeps what a connection's writer hands the kernel to about what
// the path carries in a round trip, from the kernel's own measures
// (TCP_INFO): its delivery rate and its least round trip. On a fast path
// that is more than the writer ever has waiting, and it never waits; on
// a satellite or a radio path it keeps seconds of backlog out of the
// socket's buffer, where nothing could pass it.
type pacer struct {
	raw syscall.RawConn
	mu  sync.Mutex
	// any: the delivery rates measured (bytes a second); full: those
	// measured while the sender was not the limit, what the path
	// carries. Each is the highest of its recent samples.
	any, full maxFilter
	minRTT    time.Duration
	mss       int
	read      time.Time // when TCP_INFO was last read
}

// maxFilter is the highest sample of the last rateWindow to
// 1.5×rateWindow (two halves, the older dropped as a new one begins), or
// the last sample if none came since.
type maxFilter struct {
	cur, prev float64
	since     time.Time
}

func (m *maxFilter) add(v float64, now time.Time) {
	if now.Sub(m.since) > rateWindow/2 {
		if m.cur > 0 {
			m.prev = m.cur
		}
		m.cur, m.since = 0, now
	}
	m.cur = max(m.cur, v)
}

func (m *maxFilter) value() float64 { return max(m.cur, m.prev) }

const (
	// rateWindow: a path that slowed down is followed within it.
	rateWindow = 10 * time.Second
	// The bytes in the kernel may be this many times the path's rate
	// times its least round trip: twice on a wide path (as a BBR
	// sender's, so that it stays full while its measure grows and
	// acknowledgements come in bursts), a quarter more on a narrow one,
	// where each byte waiting there is time an urgent frame waits.
	wideGain, narrowGain = 2, 1.25
	// wideBDP: a path whose rate times round trip is this much or more
	// is wide.
	wideBDP = 64 << 10
	// minSegments: the kernel may always hold this many segments, and
	// before any measure no more: with fewer in flight a lost segment
	// cannot be found by three duplicate acknowledgements and waits for
	// TCP's retransmission timeout (seconds on a radio path, doubled at
	// each loss; seen with two).
	minSegments = 4
	// readEvery: TCP_INFO is read at most this often while writing.
	readEvery = 20 * time.Millisecond
	// fastRate: a path measured faster than this (80 Mbit/s) is not
	// paced: the writer never has seconds of it waiting.
	fastRate = 10e6
)

// newPacer returns a pacer for c, or nil if c is not a TCP connection
// (plain or under TLS) whose socket can be read.
func newPacer(c net.Conn) *pacer {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	tcp, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	raw, err := tcp.SyscallConn()
	if err != nil {
		return nil
	}
	p := &pacer{raw: raw}
	p.sample(time.Now())
	return p
}

// sample reads the socket's TCP_INFO into the measures.
func (p *pacer) sample(now time.Time) {
	var info *unix.TCPInfo
	p.raw.Control(func(fd uintptr) {
		info, _ = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	})
	if info == nil {
		return
	}
	// tcpi_delivery_rate_app_limited is the low bit of the byte after
	// tcpi_options, which x/sys/unix's TCPInfo leaves as padding.
	appLimited := (*[8]byte)(unsafe.Pointer(info))[7]&1 != 0
	rate := float64(info.Delivery_rate)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.read = now
	if info.Min_rtt > 0 {
		p.minRTT = time.Duration(info.Min_rtt) * time.Microsecond
	}
	if info.Snd_mss > 0 {
		p.mss = int(info.Snd_mss)
	}
	if rate > 0 {
		p.any.add(rate, now)
		if !appLimited {
			p.full.add(rate, now)
		}
	}
}

// estimate returns the rate measured while the path was full (0 if it
// never was) and the least round trip measured.
func (p *pacer) estimate() (float64, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.full.value(), p.minRTT
}

// rate is the rate pacing goes by: what the path carried when full, or,
// before it ever was, the highest it was measured to carry.
func (p *pacer) rate() float64 {
	if f := p.full.value(); f > 0 {
		return f
	}
	return p.any.value()
}

// limit is how many bytes the kernel may hold unacknowledged or unsent.
func (p *pacer) limit() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	seg := max(p.mss, 536)
	rate := p.rate()
	if rate <= 0 || p.minRTT <= 0 {
		return minSegments * seg
	}
	bdp := rate * p.minRTT.Seconds()
	gain := float64(narrowGain)
	if bdp >= wideBDP {
		gain = wideGain
	}
	return max(minSegments*seg, int(gain*bdp))
}

// inKernel is how many bytes the socket holds unacknowledged or unsent.
func (p *pacer) inKernel() int {
	n := 0
	p.raw.Control(func(fd uintptr) { n, _ = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) })
	return n
}

// fast says whether the path was measured too fast to pace.
func (p *pacer) fast(now time.Time) bool {
	p.mu.Lock()
	stale := now.Sub(p.read) >= readEvery
	p.mu.Unlock()
	if stale {
		p.sample(now)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rate() > fastRate
}

// wait waits, unless the path is fast, until the kernel holds less than
// the limit besides the buffered bytes the writer has yet to hand it
// (flush hands them over, before any wait). It says whether the writer
// should hand the kernel each frame at once (the path is paced), and
// false for ok if closed closed meanwhile or flush failed.
func (p *pacer) wait(closed <-chan struct{}, buffered int, flush func() error) (paced, ok bool) {
	if p.fast(time.Now()) {
		return false, true
	}
	for {
		held, lim := p.inKernel(), p.limit()
		if held+buffered < lim {
			return true, true
		}
		if buffered > 0 {
			if flush() != nil {
				return true, false
			}
			buffered = 0
			continue
		}
		p.sample(time.Now())
		p.mu.Lock()
		rate := p.rate()
		p.mu.Unlock()
		d := 5 * time.Millisecond
		if rate > 0 {
			d = min(max(time.Duration(float64(held-lim+1)/rate*float64(time.Second)), time.Millisecond), 100*time.Millisecond)
		}
		select {
		case <-closed:
			return true, false
		case <-time.After(d):
		}
	}
}
