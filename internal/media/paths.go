package media

// The media's paths to each peer station (docs/CALLS.md, "Paths"). The
// engine's one UDP socket sits under pion's ICE mux behind pathConn,
// which knows, from the signed descriptions, which addresses are whose.
// To a peer with a live trunk it sends a small probe over the direct path
// every ProbeEvery, saying whether it hears that peer directly. The
// direct path is good while both hear each other directly (each has
// heard a packet from the other within Stale, and the other's last probe
// says it hears this station). When it is not, and a relay of the peer's
// card carries media (relay/media.go), every packet to that peer goes
// through the relay instead, and packets that come through the relay are
// handed to ICE as if they came from the peer's direct address: ICE,
// DTLS and SRTP go on as they were, the call does not notice but for the
// packets lost in the gap. Back on the direct path once it has been good
// for Recover.

import (
	"crypto/ed25519"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"hotline/internal/mediawire"
)

// Timings of the paths.
const (
	ProbeEvery = 100 * time.Millisecond // a probe to each peer with a live trunk, on the direct path
	Stale      = 350 * time.Millisecond // nothing heard directly for this long: the direct path is down
	Recover    = time.Second            // the direct path good again for this long: back to it
	// KeepaliveEvery is how often a station with a live trunk renews
	// its address at its own relays.
	KeepaliveEvery = time.Second
)

// Paths: what a call's media goes over.
const (
	PathDirect = "direct"
	PathRelay  = "relay"
)

// Route is a relay that carries media: its UDP address and this
// station's token there.
type Route struct {
	Relay string // its name, for the views
	Addr  netip.AddrPort
	Token [mediawire.TokenSize]byte
}

// Relays is what the engine needs of the station's relays. The station
// keeps it current as relays connect and grant tokens.
type Relays interface {
	// To returns the peer's key as pinned and the relays of its card
	// that carry media for this station now, in the card's order.
	To(peer string) (ed25519.PublicKey, []Route)
	// Own returns the relays of this station's card that carry media
	// for it now: it keeps its address registered there while a trunk
	// is live, and takes relayed packets only from them.
	Own() []Route
	// Peer names the pinned peer whose key this is.
	Peer(key ed25519.PublicKey) (string, bool)
}

// peerPath is the paths to one peer station.
type peerPath struct {
	name   string
	addrs  map[netip.AddrPort]int // its direct addresses, from the signed descriptions, counted by trunk
	target netip.AddrPort         // the address ICE last sent to: relayed packets are handed up from it
	trunks int

	active      time.Time        // since when a trunk is live
	heardDirect time.Time        // last genuine probe from it on the direct path
	heardMe     time.Time        // last genuine probe from it saying it hears this station
	keys        map[[32]byte]int // the probes' keys of its live trunks, counted by trunk
	sendKey     [32]byte         // the key of its newest trunk, for the probes sent
	lastCounter uint64           // of the last genuine probe from it
	goodSince   time.Time        // the direct path good since (zero: not good now)
	relayed     bool             // packets to it go through a relay
	relayName   string
	failovers   uint64
}

// pathConn is the engine's socket as ICE sees it.
type pathConn struct {
	*net.UDPConn
	relays  atomic.Pointer[Relays]
	counter atomic.Uint64 // the probes' numbers, from the clock at the start so that they grow across restarts

	mu     sync.Mutex
	peers  map[string]*peerPath
	byAddr map[netip.AddrPort]*peerPath
	own    map[netip.AddrPort]string // own relays' media addresses → their names
	stop   chan struct{}
}

func newPathConn(c *net.UDPConn) *pathConn {
	p := &pathConn{UDPConn: c, peers: map[string]*peerPath{}, byAddr: map[netip.AddrPort]*peerPath{},
		own: map[netip.AddrPort]string{}, stop: make(chan struct{})}
	p.counter.Store(uint64(time.Now().UnixNano()))
	go p.tick()
	return p
}

func (p *pathConn) Close() error {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	return p.UDPConn.Close()
}

func unmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// ReadFromAddrPort hands ICE the next packet for it: from the direct
// path as it came, from a relay as if from the peer's direct address.
// Probes and the relays' keepalive echoes stop here.
func (p *pathConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	for {
		n, src, err := p.UDPConn.ReadFromUDPAddrPort(b)
		if err != nil {
			return n, src, err
		}
		src = unmap(src)
		now := time.Now()
		if mediawire.IsRelay(b[:n]) {
			if m, from, ok := p.fromRelay(b[:n], src, now); ok {
				return m, from, nil
			}
			continue
		}
		if mediawire.IsProbe(b[:n]) {
			// Only a genuine probe, newer than the last, says the direct
			// path works: anyone can send a packet from a forged address.
			p.mu.Lock()
			if pp := p.byAddr[src]; pp != nil {
				keys := make([][32]byte, 0, len(pp.keys))
				for k := range pp.keys {
					keys = append(keys, k)
				}
				if hearsMe, counter, ok := mediawire.ParseProbe(b[:n], keys...); ok && counter > pp.lastCounter {
					pp.lastCounter, pp.heardDirect = counter, now
					if hearsMe {
						pp.heardMe = now
					}
				}
			}
			p.mu.Unlock()
			continue
		}
		return n, src, nil
	}
}

func (p *pathConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, src, err := p.ReadFromAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(src), nil
}

// fromRelay takes a packet from one of this station's relays: its
// payload, moved to the front of b, and the peer's direct address.
func (p *pathConn) fromRelay(b []byte, src netip.AddrPort, now time.Time) (int, netip.AddrPort, bool) {
	p.mu.Lock()
	_, ours := p.own[src]
	p.mu.Unlock()
	if !ours {
		return 0, src, false
	}
	key, payload, err := mediawire.ParseFrom(b)
	if err != nil || key == nil {
		return 0, src, false // a bad packet, or a keepalive's echo
	}
	rs := p.relays.Load()
	if rs == nil {
		return 0, src, false
	}
	name, ok := (*rs).Peer(key)
	if !ok {
		return 0, src, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pp := p.peers[name]
	if pp == nil || pp.trunks == 0 || !pp.target.IsValid() {
		return 0, src, false
	}
	return copy(b, payload), pp.target, true
}

// WriteToAddrPort sends a packet of ICE's: through a relay when the
// packet is for a peer whose direct path is down, else directly.
func (p *pathConn) WriteToAddrPort(b []byte, dst netip.AddrPort) (int, error) {
	dst = unmap(dst)
	p.mu.Lock()
	pp := p.byAddr[dst]
	relayed := false
	if pp != nil {
		pp.target = dst
		relayed = pp.relayed
	}
	p.mu.Unlock()
	if relayed {
		if p.sendRelayed(pp, b) {
			return len(b), nil
		}
	}
	return p.UDPConn.WriteToUDPAddrPort(b, dst)
}

func (p *pathConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return p.UDPConn.WriteTo(b, addr)
	}
	return p.WriteToAddrPort(b, ua.AddrPort())
}

// sendRelayed sends b to the peer through the first relay of its card
// that carries media; false if none does.
func (p *pathConn) sendRelayed(pp *peerPath, b []byte) bool {
	rs := p.relays.Load()
	if rs == nil {
		return false
	}
	key, routes := (*rs).To(pp.name)
	if len(routes) == 0 || key == nil {
		return false
	}
	r := routes[0]
	pkt := mediawire.AppendTo(make([]byte, 0, 64+len(b)), r.Token, key, b)
	_, err := p.UDPConn.WriteToUDPAddrPort(pkt, r.Addr)
	if err != nil {
		return false
	}
	p.mu.Lock()
	pp.relayName = r.Relay
	p.mu.Unlock()
	return true
}

// add registers a live trunk to peer, whose signed description lists
// the addresses in sdp; local is this station's description for it.
func (p *pathConn) add(peer, local, sdp string) {
	addrs := candidates(sdp)
	key := mediawire.ProbeKey(icePwd(local), icePwd(sdp))
	p.mu.Lock()
	defer p.mu.Unlock()
	pp := p.peers[peer]
	if pp == nil {
		pp = &peerPath{name: peer, addrs: map[netip.AddrPort]int{}, keys: map[[32]byte]int{}}
		p.peers[peer] = pp
	}
	pp.keys[key]++
	pp.sendKey = key
	if pp.trunks == 0 {
		pp.active = time.Now()
		pp.relayed, pp.goodSince = false, time.Time{}
	}
	pp.trunks++
	for _, a := range addrs {
		pp.addrs[a]++
		p.byAddr[a] = pp
		if !pp.target.IsValid() {
			pp.target = a
		}
	}
}

// remove ends a trunk that add registered.
func (p *pathConn) remove(peer, local, sdp string) {
	addrs := candidates(sdp)
	key := mediawire.ProbeKey(icePwd(local), icePwd(sdp))
	p.mu.Lock()
	defer p.mu.Unlock()
	pp := p.peers[peer]
	if pp == nil {
		return
	}
	if pp.keys[key]--; pp.keys[key] <= 0 {
		delete(pp.keys, key)
		if pp.sendKey == key {
			for k := range pp.keys {
				pp.sendKey = k
			}
		}
	}
	pp.trunks--
	for _, a := range addrs {
		if pp.addrs[a]--; pp.addrs[a] <= 0 {
			delete(pp.addrs, a)
			if p.byAddr[a] == pp {
				delete(p.byAddr, a)
			}
		}
	}
	if pp.trunks <= 0 {
		delete(p.peers, peer)
	}
}

// path says which path a peer's media goes over now, and how often it
// failed over.
func (p *pathConn) path(peer string) (path, via string, failovers uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pp := p.peers[peer]
	if pp == nil {
		return "", "", 0
	}
	if pp.relayed {
		return PathRelay, pp.relayName, pp.failovers
	}
	return PathDirect, "", pp.failovers
}

// tick probes, decides the paths and keeps this station registered at
// its relays, until the socket closes.
func (p *pathConn) tick() {
	t := time.NewTicker(ProbeEvery)
	defer t.Stop()
	var lastKeepalive time.Time
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			type send struct {
				to netip.AddrPort
				b  []byte
			}
			var out []send
			p.mu.Lock()
			live := len(p.peers) > 0
			for _, pp := range p.peers {
				hear := now.Sub(pp.heardDirect) <= Stale
				good := hear && now.Sub(pp.heardMe) <= Stale
				switch {
				case !good:
					pp.goodSince = time.Time{}
				case pp.goodSince.IsZero():
					pp.goodSince = now
				}
				warm := now.Sub(pp.active) > Stale // a new trunk gets its first probes through first
				switch {
				case !pp.relayed && !good && warm && p.canRelay(pp.name):
					pp.relayed = true
					pp.failovers++
				case pp.relayed && good && now.Sub(pp.goodSince) >= Recover:
					pp.relayed = false
				}
				probe := mediawire.Probe(hear, p.counter.Add(1), pp.sendKey)
				if pp.target.IsValid() {
					out = append(out, send{pp.target, probe})
				}
				for a := range pp.addrs {
					if a != pp.target && !pp.relayed {
						out = append(out, send{a, probe})
					}
				}
			}
			p.mu.Unlock()
			for _, s := range out {
				p.UDPConn.WriteToUDPAddrPort(s.b, s.to)
			}
			rs := p.relays.Load()
			if rs == nil || !live {
				continue // nothing to register for, nor to take from a relay
			}
			own := (*rs).Own()
			p.mu.Lock()
			clear(p.own)
			for _, r := range own {
				p.own[r.Addr] = r.Relay
			}
			p.mu.Unlock()
			if now.Sub(lastKeepalive) >= KeepaliveEvery {
				lastKeepalive = now
				for _, r := range own {
					p.UDPConn.WriteToUDPAddrPort(mediawire.AppendTo(nil, r.Token, nil, nil), r.Addr)
				}
			}
		}
	}
}

// canRelay says whether a relay of the peer's card carries media for
// this station now; p.mu is held.
func (p *pathConn) canRelay(peer string) bool {
	rs := p.relays.Load()
	if rs == nil {
		return false
	}
	key, routes := (*rs).To(peer)
	return key != nil && len(routes) > 0
}

// candidates lists the addresses of a description's host candidates.
func candidates(sdp string) []netip.AddrPort {
	var out []netip.AddrPort
	for _, l := range strings.Split(sdp, "\r\n") {
		c, ok := strings.CutPrefix(l, "a=candidate:")
		if !ok {
			continue
		}
		f := strings.Fields(c)
		if len(f) < 8 || !strings.EqualFold(f[2], "udp") {
			continue
		}
		ip, err := netip.ParseAddr(f[4])
		if err != nil {
			continue
		}
		port, err := strconv.ParseUint(f[5], 10, 16)
		if err != nil {
			continue
		}
		out = append(out, netip.AddrPortFrom(ip.Unmap(), uint16(port)))
	}
	return out
}

// icePwd is a description's ICE password (its first), "" if none.
func icePwd(sdp string) string {
	for _, l := range strings.Split(sdp, "\r\n") {
		if v, ok := strings.CutPrefix(l, "a=ice-pwd:"); ok {
			return v
		}
	}
	return ""
}
