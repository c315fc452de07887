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
// the path carries in two round trips, from the kernel's own measures
// (TCP_INFO): its delivery rate and its least round trip. On a fast path
// that is more than the writer ever has waiting, and it never waits; on
// a satellite or a radio path it keeps seconds of backlog out of the
// socket's buffer, where nothing could pass it.
type pacer struct {
	raw syscall.RawConn
	mu  sync.Mutex
	// best is the highest delivery rate measured (bytes a second) in the
	// last rateWindow, or since, if no sample not limited by the sender
	// came; bestAt when it was measured.
	best   float64
	bestAt time.Time
	// full is the highest rate measured while the path was full (not
	// limited by the sender) in the last rateWindow, or the last one:
	// what the path carries, where best may only be what it was given.
	full   float64
	fullAt time.Time
	minRTT time.Duration
	mss    int
	read   time.Time // when TCP_INFO was last read
}

const (
	// rateWindow: a rate measured while the path was full stands this
	// long, unless a higher one comes (a path that slowed down is
	// followed within it).
	rateWindow = 10 * time.Second
	// paceGain: the bytes in the kernel may be this many times the
	// path's rate times its least round trip (as a BBR sender's are),
	// so that the path is kept full while its measure grows.
	paceGain = 2
	// initialCap: before any measure, as much as the kernel may hold.
	initialCap = 16 << 10
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
	if rate > 0 && !appLimited && (rate >= p.full || now.Sub(p.fullAt) > rateWindow) {
		p.full, p.fullAt = rate, now
	}
	switch {
	case rate <= 0:
	case rate >= p.best:
		p.best, p.bestAt = rate, now
	case !appLimited && now.Sub(p.bestAt) > rateWindow:
		// The path was full and carried less than the old measure
		// for a whole window: it slowed down.
		p.best, p.bestAt = rate, now
	}
}

// estimate returns the rate measured while the path was full (0 if it
// never was) and the least round trip measured.
func (p *pacer) estimate() (float64, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.full, p.minRTT
}

// limit is how many bytes the kernel may hold unacknowledged or unsent.
func (p *pacer) limit() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.best <= 0 || p.minRTT <= 0 {
		return initialCap
	}
	return max(2*max(p.mss, 536), int(paceGain*p.best*p.minRTT.Seconds()))
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
	return p.best > fastRate
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
		rate := p.best
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
