package relay_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"hotline/internal/mediawire"
	"hotline/internal/relay"
)

// mediaPeer is a station's UDP socket for relayed media, with its token.
type mediaPeer struct {
	t     *testing.T
	conn  *net.UDPConn
	relay *net.UDPAddr
	token [relay.MediaToken]byte
}

func newMediaPeer(t *testing.T, r *testRelay, c *relay.Client) *mediaPeer {
	t.Helper()
	token, port, err := c.MediaGrant(t.Context())
	if err != nil {
		t.Fatalf("media grant: %v", err)
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	host, _, _ := net.SplitHostPort(r.addr)
	return &mediaPeer{t: t, conn: conn, relay: &net.UDPAddr{IP: net.ParseIP(host), Port: int(port)}, token: token}
}

func (p *mediaPeer) send(to ed25519.PublicKey, payload []byte) {
	p.t.Helper()
	if _, err := p.conn.WriteToUDP(mediawire.AppendTo(nil, p.token, to, payload), p.relay); err != nil {
		p.t.Fatal(err)
	}
}

// recv reads the next packet from the relay, or reports none within d.
func (p *mediaPeer) recv(d time.Duration) (from ed25519.PublicKey, payload []byte, ok bool) {
	p.t.Helper()
	buf := make([]byte, 4096)
	p.conn.SetReadDeadline(time.Now().Add(d))
	n, src, err := p.conn.ReadFromUDP(buf)
	if err != nil {
		return nil, nil, false
	}
	if src.Port != p.relay.Port {
		p.t.Fatalf("a packet from %s, not the relay", src)
	}
	from, payload, err = mediawire.ParseFrom(buf[:n])
	if err != nil {
		p.t.Fatalf("relay sent a bad media packet: %v", err)
	}
	return from, payload, true
}

// register sends a keepalive and waits for its echo.
func (p *mediaPeer) register() {
	p.t.Helper()
	p.send(nil, nil)
	from, payload, ok := p.recv(5 * time.Second)
	if !ok || from != nil || len(payload) != 0 {
		p.t.Fatalf("keepalive: echo %v from %x (%d bytes)", ok, from, len(payload))
	}
}

// TestMediaRelay: two stations get tokens on their relay connections,
// register their UDP addresses, and exchange packets through the relay,
// which names the sender. Packets with an unknown token, for a station
// not registered, oversized, or malformed are dropped and counted; a
// flood is cut at the token's burst; a token ends with its connection.
func TestMediaRelay(t *testing.T) {
	r := newRelay(t, nil)
	usa, chn, rus := newStation(t, "USA"), newStation(t, "CHN"), newStation(t, "RUS")
	r.allow(usa, chn, rus)
	r.Start()
	cu, cc := r.dial(usa), r.dial(chn)
	if cu.Version() != relay.Version {
		t.Fatalf("agreed version %d, want %d", cu.Version(), relay.Version)
	}
	pu, pc := newMediaPeer(t, r, cu), newMediaPeer(t, r, cc)
	pu.register()
	pc.register()

	pu.send(chn.key(), []byte("from usa"))
	from, payload, ok := pc.recv(5 * time.Second)
	if !ok || !from.Equal(usa.key()) || string(payload) != "from usa" {
		t.Fatalf("CHN got %v %x %q", ok, from, payload)
	}
	pc.send(usa.key(), []byte("from chn"))
	from, payload, ok = pu.recv(5 * time.Second)
	if !ok || !from.Equal(chn.key()) || string(payload) != "from chn" {
		t.Fatalf("USA got %v %x %q", ok, from, payload)
	}
	st, ok := r.srv.MediaStats()
	if !ok || st.Forwarded != 2 || st.Keepalives != 2 || st.Dropped != 0 || st.Tokens != 2 {
		t.Fatalf("stats %+v %v", st, ok)
	}

	// Dropped: RUS is allowed but not registered; a forged token; a
	// payload over the bound; a truncated packet; not a media packet.
	pu.send(rus.key(), []byte("to rus"))
	forged := *pu
	forged.token[0] ^= 1
	forged.send(chn.key(), []byte("forged"))
	pu.send(chn.key(), bytes.Repeat([]byte{1}, relay.MediaMaxPayload+1))
	pu.conn.WriteToUDP([]byte{0x0E, 'H', 'R', 1, 2}, pu.relay)
	pu.conn.WriteToUDP([]byte("GET / HTTP/1.1\r\n\r\n"), pu.relay)
	if _, _, ok := pc.recv(300 * time.Millisecond); ok {
		t.Fatal("CHN received a packet that should have been dropped")
	}
	st, _ = r.srv.MediaStats()
	if st.Dropped != 5 || st.Forwarded != 2 {
		t.Fatalf("after bad packets: %+v", st)
	}

	// A flood: the relay passes at most the burst (and what the rate
	// refills meanwhile), drops the rest, and goes on forwarding.
	const flood = relay.MediaBurst * 2
	before, _ := r.srv.MediaStats()
	began := time.Now()
	for i := range flood {
		pu.send(chn.key(), []byte{byte(i)})
		if i%100 == 99 {
			time.Sleep(time.Millisecond) // not faster than the relay reads
		}
	}
	// Every packet sent has reached the relay once its marker comes
	// back: the relay reads one socket in order.
	pu.send(nil, nil)
	if from, _, ok := pu.recv(5 * time.Second); !ok || from != nil {
		t.Fatal("no echo after the flood")
	}
	refill := time.Since(began).Seconds() * relay.MediaRate
	st, _ = r.srv.MediaStats()
	passed, dropped := st.Forwarded-before.Forwarded, st.Dropped-before.Dropped
	if passed+dropped > flood || dropped == 0 || float64(passed) > relay.MediaBurst+refill+1 || passed == 0 {
		t.Fatalf("flood of %d: %d passed, %d dropped (burst %d, refill %.0f)", flood, passed, dropped, relay.MediaBurst, refill)
	}
	for {
		if _, _, ok := pc.recv(200 * time.Millisecond); !ok {
			break
		}
	}
	time.Sleep(50 * time.Millisecond) // the token's rate refills
	pu.send(chn.key(), []byte("after the flood"))
	if _, p, ok := pc.recv(5 * time.Second); !ok || string(p) != "after the flood" {
		t.Fatalf("after the flood: %v %q", ok, p)
	}

	// A token ends with its connection: the relay forgets USA.
	cu.Close()
	waitFor(t, func() bool { s, _ := r.srv.MediaStats(); return s.Tokens == 1 }, "the token to end")
	pu.send(chn.key(), []byte("after close"))
	if _, _, ok := pc.recv(300 * time.Millisecond); ok {
		t.Fatal("a closed connection's token still forwards")
	}
}

// TestMediaRelayOff: a relay with media_listen "off" grants no token.
func TestMediaRelayOff(t *testing.T) {
	r := newRelay(t, nil)
	editConfig(t, r.dir, func(m map[string]any) { m["media_listen"] = relay.MediaOff })
	usa := newStation(t, "USA")
	r.allow(usa)
	r.Start()
	c := r.dial(usa)
	if _, _, err := c.MediaGrant(t.Context()); !errors.Is(err, relay.ErrNoMedia) {
		t.Fatalf("grant from a relay without media: %v", err)
	}
	if _, ok := r.srv.MediaStats(); ok {
		t.Fatal("media stats from a relay without media")
	}
}

// TestMediaOpenVersion1: a station of relay protocol version 1 is
// answered in version 1, and its media-open is refused as out of its
// version.
func TestMediaOpenVersion1(t *testing.T) {
	r := newRelay(t, nil)
	usa := newStation(t, "USA")
	r.allow(usa)
	r.Start()
	c := rawConn(t, r, usa)
	c.send(&relay.Message{Type: relay.TypeHello, Version: 1})
	if m, err := c.read(); err != nil || m.Type != relay.TypeHello || m.Version != 1 {
		t.Fatalf("hello answered with %+v, %v; want version 1", m, err)
	}
	c.send(&relay.Message{Type: relay.TypeMediaOpen})
	m, err := c.read()
	if err != nil || m.Type != relay.TypeError || !strings.Contains(m.Text, "media-open needs relay protocol version 2") {
		t.Fatalf("media-open on version 1: %+v, %v", m, err)
	}
}

// TestMediaListenRefused: a relay's media_listen that is not HOST:PORT is
// refused when the relay opens, naming the field and the way to switch
// media off; one that cannot open stops Serve with the reason.
func TestMediaListenRefused(t *testing.T) {
	r := newRelay(t, nil)
	editConfig(t, r.dir, func(m map[string]any) { m["media_listen"] = "nowhere" })
	if _, err := relay.Open(t.Context(), r.dir, relay.Options{Log: quiet()}); err == nil || !strings.Contains(err.Error(), `media_listen "nowhere" is not HOST:PORT (or "off"`) {
		t.Fatalf("media_listen nowhere: %v", err)
	}
	taken, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	editConfig(t, r.dir, func(m map[string]any) { m["media_listen"] = taken.LocalAddr().String() })
	srv, err := relay.Open(t.Context(), r.dir, relay.Options{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(t.Context(), ln); err == nil || !strings.Contains(err.Error(), "media relay") {
		t.Fatalf("Serve with media_listen taken: %v", err)
	}
}
