package netfault

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Wire is a UDP path between two hosts, A and B, that the test can cut:
// A sends to the wire's B side (BAddr) as if it were B, and B to its A
// side (AAddr) as if it were A. A packet from A reaches B from the A side,
// and one from B reaches A from the B side, so that each host sees the
// other at one address, as over a network with a NAT at each end. The
// hosts are told to advertise those addresses (media_advertise).
type Wire struct {
	mu     sync.Mutex
	a, b   netip.AddrPort // the hosts' real addresses, once Join gave them
	sideA  *net.UDPConn   // where B sends, to reach A
	sideB  *net.UDPConn   // where A sends, to reach B
	down   atomic.Bool
	passed atomic.Uint64
	lost   atomic.Uint64
	wg     sync.WaitGroup
	// seen: the last packets from each host (A's first), for a test
	// that replays one.
	seen [2][][]byte
}

// keepSeen is how many packets from each host Last can find.
const keepSeen = 256

// Last returns the newest packet from host A (or B) that match accepts,
// nil if none of the last 256.
func (w *Wire) Last(fromA bool, match func([]byte) bool) []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	i := 1
	if fromA {
		i = 0
	}
	for j := len(w.seen[i]) - 1; j >= 0; j-- {
		if match(w.seen[i][j]) {
			return append([]byte(nil), w.seen[i][j]...)
		}
	}
	return nil
}

// Inject sends p to host B as if host A sent it over the wire (or to A
// as if from B), cut or not: an attacker who can forge the other host's
// address.
func (w *Wire) Inject(fromA bool, p []byte) error {
	w.mu.Lock()
	to, out := w.a, w.sideB
	if fromA {
		to, out = w.b, w.sideA
	}
	w.mu.Unlock()
	_, err := out.WriteToUDPAddrPort(p, to)
	return err
}

// NewWire makes a wire on loopback; Join gives it its hosts.
func NewWire() (*Wire, error) {
	w := &Wire{}
	var err error
	if w.sideA, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
		return nil, err
	}
	if w.sideB, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
		w.sideA.Close()
		return nil, err
	}
	w.wg.Add(2)
	go w.pass(w.sideB, w.sideA, true)  // from A, at the B side, out of the A side to B
	go w.pass(w.sideA, w.sideB, false) // from B, at the A side, out of the B side to A
	return w, nil
}

// Join gives the wire the hosts' real addresses (IP:port).
func (w *Wire) Join(a, b string) error {
	pa, err := netip.ParseAddrPort(a)
	if err != nil {
		return err
	}
	pb, err := netip.ParseAddrPort(b)
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.a, w.b = unmap(pa), unmap(pb)
	w.mu.Unlock()
	return nil
}

func unmap(a netip.AddrPort) netip.AddrPort { return netip.AddrPortFrom(a.Addr().Unmap(), a.Port()) }

// AAddr is where B reaches A; BAddr where A reaches B.
func (w *Wire) AAddr() string { return w.sideA.LocalAddr().String() }
func (w *Wire) BAddr() string { return w.sideB.LocalAddr().String() }

// Cut drops every packet until Heal.
func (w *Wire) Cut() { w.down.Store(true) }

// Heal passes packets again.
func (w *Wire) Heal() { w.down.Store(false) }

// Counts returns the packets passed and dropped.
func (w *Wire) Counts() (passed, lost uint64) { return w.passed.Load(), w.lost.Load() }

// Close stops the wire.
func (w *Wire) Close() error {
	w.sideA.Close()
	w.sideB.Close()
	w.wg.Wait()
	return nil
}

// pass reads packets at in; those from one host (A if fromA) go out of
// out to the other.
func (w *Wire) pass(in, out *net.UDPConn, fromA bool) {
	defer w.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		n, src, err := in.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		w.mu.Lock()
		from, to := w.b, w.a
		i := 1
		if fromA {
			from, to, i = w.a, w.b, 0
		}
		if unmap(src) == from {
			w.seen[i] = append(w.seen[i], append([]byte(nil), buf[:n]...))
			if len(w.seen[i]) > keepSeen {
				w.seen[i] = w.seen[i][1:]
			}
		}
		w.mu.Unlock()
		if unmap(src) != from || !to.IsValid() {
			continue
		}
		if w.down.Load() {
			w.lost.Add(1)
			continue
		}
		if _, err := out.WriteToUDPAddrPort(buf[:n], to); err == nil {
			w.passed.Add(1)
		}
	}
}
