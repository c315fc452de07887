package operator

import (
	"net"
	"sync"
	"time"
)

// Failed logins slow down the next attempts, for the name tried and for
// the address they come from. Nobody is locked out: the wait doubles with
// each failure up to BackoffCap, and a right password after the wait logs
// in. The name's state does not depend on whether an operator has that
// name, so the waits say nothing about which names exist.
const (
	NameFreeTries = 3                // failures of one name before the next attempt waits
	AddrFreeTries = 10               // failures from one address before the next attempt waits
	BackoffBase   = time.Second      // the first wait
	BackoffCap    = time.Minute      // the longest wait
	BackoffForget = 15 * time.Minute // failures are forgotten this long after the last wait ended
	maxGateKeys   = 4096             // names, and addresses, kept apart; past it new ones share one state
)

// Keys that no name or address can take: CheckName refuses control
// characters, and no address starts with one.
const (
	keyOverlong = "\x00overlong" // every name longer than MaxName
	keyShared   = "\x00shared"   // every new key once a table is full
)

// tries is what the gate knows of one name or address.
type tries struct {
	charged int       // attempts counted against it: failures, and attempts under way
	next    time.Time // no attempt is checked before this
}

// gate holds the backoff of names and addresses. An attempt takes its
// slot before the password is hashed: it is charged as a failure at
// once, and the charge is lifted when the password was right. So
// concurrent attempts cannot pass more often than the backoff allows.
type gate struct {
	mu    sync.Mutex
	names map[string]*tries
	addrs map[string]*tries
}

// backoff is the wait after charged attempts of which free pass at once.
func backoff(charged, free int) time.Duration {
	if charged < free {
		return 0
	}
	d := BackoffBase
	for i := free; i < charged && d < BackoffCap; i++ {
		d *= 2
	}
	return min(d, BackoffCap)
}

// AddrKey is the part of a remote address that the backoff and the audit
// trail's aggregates keep apart: an IPv4 address, the /64 network of an
// IPv6 address (one machine commonly holds a whole /64), or the address
// as given when it is not an IP address.
func AddrKey(addr string) string {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	ip := net.ParseIP(host)
	switch {
	case ip == nil:
		return host
	case ip.To4() != nil:
		return ip.To4().String()
	default:
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
}

func nameKey(name string) string {
	if len(name) > MaxName {
		return keyOverlong
	}
	return name
}

// entry returns the state of key in table m, making room for it.
func entry(m map[string]*tries, key string, now time.Time) *tries {
	if t, ok := m[key]; ok {
		return t
	}
	if len(m) >= maxGateKeys {
		for k, t := range m {
			if forgotten(t, now) {
				delete(m, k)
			}
		}
	}
	if len(m) >= maxGateKeys {
		key = keyShared
		if t, ok := m[key]; ok {
			return t
		}
	}
	t := &tries{}
	m[key] = t
	return t
}

func forgotten(t *tries, now time.Time) bool {
	return !now.Before(t.next.Add(BackoffForget))
}

// take asks for a slot to check a password for name from addr. It returns
// the time the refused attempt would have had to wait for, or the zero
// time when the slot is taken. A refused attempt is not charged: however
// many come, the wait stays what the failures made it.
func (g *gate) take(name, addr string, now time.Time) (until time.Time, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.names == nil {
		g.names, g.addrs = map[string]*tries{}, map[string]*tries{}
	}
	n, a := entry(g.names, nameKey(name), now), entry(g.addrs, AddrKey(addr), now)
	for _, t := range []*tries{n, a} {
		if t.charged > 0 && forgotten(t, now) {
			*t = tries{}
		}
	}
	if now.Before(n.next) || now.Before(a.next) {
		return later(n.next, a.next), false
	}
	n.charged++
	n.next = now.Add(backoff(n.charged, NameFreeTries))
	a.charged++
	a.next = now.Add(backoff(a.charged, AddrFreeTries))
	return time.Time{}, true
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// succeeded lifts the charges of name and addr: the right password was
// given from there.
func (g *gate) succeeded(name, addr string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.names, nameKey(name))
	delete(g.addrs, AddrKey(addr))
}

// clear forgets the failures of name.
func (g *gate) clear(name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.names, nameKey(name))
}

// state returns the failures charged to name and the time before which
// its next attempt waits (zero when it need not).
func (g *gate) state(name string, now time.Time) (int, time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	t, ok := g.names[nameKey(name)]
	if !ok || forgotten(t, now) {
		return 0, time.Time{}
	}
	if !now.Before(t.next) {
		return t.charged, time.Time{}
	}
	return t.charged, t.next
}
