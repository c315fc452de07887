package relay

// The media relay (docs/CALLS.md, "Over the relay"; PROTOCOL.md, "Relay
// media"). When the direct path between two stations in a call is down,
// each sends its call's packets (ICE, DTLS and SRTP, already encrypted
// end to end between the stations) to a relay in the other station's
// card, over UDP, and the relay passes them on to that station. The relay
// learns which stations exchange packets, their sizes and their timing;
// it holds no key of the call, and a packet it altered, dropped or
// invented is refused by the stations' DTLS and SRTP.
//
// A station asks for a token on its authenticated relay connection
// (TypeMediaOpen); the relay answers with a random token and its UDP port
// (TypeMediaGrant). The token is good while that connection lasts. A
// packet is forwarded only if it carries a current token, and only to a
// station that has registered its address (by sending a packet with its
// own token) in the last MediaExpiry. Each token may send at most
// MediaRate packets a second (burst MediaBurst), and MediaKeepaliveRate
// keepalives; the rest are dropped and counted.
//
// Layouts, on UDP:
//
//	station → relay: 0x0E 'H' 'R' | token (16 bytes) | to (32-byte key) | payload
//	relay → station: 0x0E 'H' 'R' | from (32-byte key) | payload
//
// A packet to the all-zero key only registers the sender's address, and
// the relay echoes it (from the all-zero key, no payload): that is a
// station's keepalive, and its proof that the relay hears it. The first
// byte, 14, is outside the ranges of STUN (0–3), DTLS (20–63), TURN
// channels (64–79) and RTP/RTCP (128–191), so a station's one media
// socket tells the relay's packets from WebRTC's (RFC 7983).

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"hotline/internal/mediawire"
)

// MediaToken is the length of a media token.
const MediaToken = mediawire.TokenSize

// Bounds on the media relay.
const (
	MediaMaxPayload = mediawire.MaxPayload // bytes of one packet's payload
	MediaRate       = 2000                 // packets a second per token
	MediaBurst      = 4000                 // packets
	MediaExpiry     = 30 * time.Second     // a registration not renewed for this long is forgotten
	// MediaKeepaliveRate bounds a token's keepalives a second (burst
	// twice that), apart from its packets.
	MediaKeepaliveRate = 10
)

// ErrNoMedia means the relay carries no media (relay protocol version 1,
// or media switched off in its config).
var ErrNoMedia = errors.New("the relay carries no media")

// MediaStats counts what the media relay did.
type MediaStats struct {
	Addr       string `json:"addr"`       // the UDP address it listens on
	Forwarded  uint64 `json:"forwarded"`  // packets passed on
	Bytes      uint64 `json:"bytes"`      // their payloads
	Keepalives uint64 `json:"keepalives"` // registrations renewed
	// Dropped: over a token's rate, oversized or malformed, with an
	// unknown token, or for a station not registered here.
	Dropped uint64 `json:"dropped"`
	Tokens  int    `json:"tokens"` // current grants
}

// mediaRelay is the relay's UDP forwarder. A nil *mediaRelay carries no
// media.
type mediaRelay struct {
	s    *Server
	conn *net.UDPConn

	forwarded, bytes, keepalives, dropped atomic.Uint64

	mu      sync.Mutex
	byToken map[[MediaToken]byte]*mediaReg
	byConn  map[*serverConn]*mediaReg
	byKey   map[string]*mediaReg // the registration with an address most recently renewed, by the station's key
}

type mediaReg struct {
	key   ed25519.PublicKey
	token [MediaToken]byte
	addr  netip.AddrPort // zero until its first packet
	seen  time.Time
	lim   *rate.Limiter // its packets
	kaLim *rate.Limiter // its keepalives, apart so that a flood does not starve them
}

// listenMedia opens the media relay on addr (UDP).
func (s *Server) listenMedia(addr string) error {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return fmt.Errorf("media_listen %q: %w", addr, err)
	}
	conn, err := net.ListenUDP("udp", ua)
	if err != nil {
		return fmt.Errorf("media relay: %w", err)
	}
	m := &mediaRelay{s: s, conn: conn, byToken: map[[MediaToken]byte]*mediaReg{},
		byConn: map[*serverConn]*mediaReg{}, byKey: map[string]*mediaReg{}}
	s.mu.Lock()
	s.media = m
	s.mu.Unlock()
	s.Log.Info("media relay listening", "addr", conn.LocalAddr().String())
	go m.run()
	return nil
}

// MediaStats returns the media relay's counters; ok is false when it
// carries no media.
func (s *Server) MediaStats() (st MediaStats, ok bool) {
	s.mu.Lock()
	m := s.media
	s.mu.Unlock()
	if m == nil {
		return st, false
	}
	m.mu.Lock()
	st.Tokens = len(m.byToken)
	m.mu.Unlock()
	st.Addr = m.conn.LocalAddr().String()
	st.Forwarded, st.Bytes = m.forwarded.Load(), m.bytes.Load()
	st.Keepalives, st.Dropped = m.keepalives.Load(), m.dropped.Load()
	return st, true
}

func (m *mediaRelay) close() {
	if m != nil {
		m.conn.Close()
	}
}

// grant gives connection c a token, replacing any it had; a relay with no
// media grants none (port 0).
func (m *mediaRelay) grant(c *serverConn) (token [MediaToken]byte, port uint16) {
	if m == nil {
		return token, 0
	}
	rand.Read(token[:])
	r := &mediaReg{key: c.key, token: token, lim: rate.NewLimiter(MediaRate, MediaBurst),
		kaLim: rate.NewLimiter(MediaKeepaliveRate, 2*MediaKeepaliveRate)}
	m.mu.Lock()
	if old := m.byConn[c]; old != nil {
		m.forget(old)
	}
	m.byToken[token] = r
	m.byConn[c] = r
	m.mu.Unlock()
	return token, uint16(m.conn.LocalAddr().(*net.UDPAddr).Port)
}

// revoke ends connection c's token, when it closes.
func (m *mediaRelay) revoke(c *serverConn) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := m.byConn[c]; r != nil {
		m.forget(r)
		delete(m.byConn, c)
	}
}

func (m *mediaRelay) forget(r *mediaReg) {
	delete(m.byToken, r.token)
	if m.byKey[string(r.key)] == r {
		delete(m.byKey, string(r.key))
	}
}

// run forwards packets until the socket closes.
func (m *mediaRelay) run() {
	buf := make([]byte, 64<<10)
	out := make([]byte, 0, 64+MediaMaxPayload)
	for {
		n, src, err := m.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		dst, p, ok := m.route(buf[:n], src)
		if !ok {
			m.dropped.Add(1)
			continue
		}
		if p == nil {
			out = mediawire.AppendFrom(out[:0], nil, nil)
		} else {
			out = mediawire.AppendFrom(out[:0], p.from, p.payload)
		}
		if _, err := m.conn.WriteToUDPAddrPort(out, dst); err != nil {
			m.dropped.Add(1)
			continue
		}
		if p == nil {
			m.keepalives.Add(1)
		} else {
			m.forwarded.Add(1)
			m.bytes.Add(uint64(len(p.payload)))
		}
	}
}

type forward struct {
	from    ed25519.PublicKey
	payload []byte
}

// route decides where a packet from src goes: back to src for a
// keepalive (p nil), to the registered address of the station it names,
// or nowhere (ok false).
func (m *mediaRelay) route(pkt []byte, src netip.AddrPort) (dst netip.AddrPort, p *forward, ok bool) {
	token, to, payload, err := mediawire.ParseTo(pkt)
	if err != nil {
		return dst, nil, false
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.byToken[token]
	if r == nil {
		return dst, nil, false
	}
	if to == nil {
		if !r.kaLim.AllowN(now, 1) {
			return dst, nil, false
		}
		r.addr, r.seen = src, now
		m.byKey[string(r.key)] = r
		return src, nil, true
	}
	if !r.lim.AllowN(now, 1) {
		return dst, nil, false
	}
	r.addr, r.seen = src, now
	if cur, ok := m.s.aliasOf(to); ok {
		to = cur
	}
	d := m.byKey[string(to)]
	if d == nil || !d.addr.IsValid() || now.Sub(d.seen) > MediaExpiry {
		return dst, nil, false
	}
	return d.addr, &forward{from: r.key, payload: payload}, true
}

// startMedia opens the media relay as the config says: media_listen, or
// by default UDP on the mail listener's address and port ("off": none).
// The default is given up with a warning if that port is taken; an
// address the config names must open.
func (s *Server) startMedia(ln net.Addr) error {
	switch addr := s.Cfg.MediaListen; addr {
	case MediaOff:
		return nil
	case "":
		if err := s.listenMedia(ln.String()); err != nil {
			s.Log.Warn("no media relay: the default address (UDP on the listener's) would not open; set media_listen", "err", err)
		}
		return nil
	default:
		return s.listenMedia(addr)
	}
}
