package media

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"fmt"
	"math"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hotline/internal/identity"
	"hotline/internal/link"
	"hotline/internal/media/mediatest"
	"hotline/internal/mediawire"
	"hotline/internal/netfault"
	"hotline/internal/relay"
)

// testRelay is a real relay server on loopback, and each station's token
// at it.
type testRelay struct {
	srv    *relay.Server
	routes map[string]Route             // by station name
	keys   map[string]ed25519.PublicKey // by station name
}

func startRelay(t testing.TB, names ...string) *testRelay {
	t.Helper()
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "relay")
	rcard, err := relay.Init(ctx, relay.InitOptions{Dir: dir, Name: "NEUTRAL", Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	tr := &testRelay{routes: map[string]Route{}, keys: map[string]ed25519.PublicKey{}}
	certs := map[string]tls.Certificate{}
	for _, n := range names {
		keys, err := identity.NewKeys(n)
		if err != nil {
			t.Fatal(err)
		}
		card, err := identity.NewCard(keys, n, []string{"127.0.0.1:7443"}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := relay.Allow(ctx, dir, card.Text, card.Fingerprint()); err != nil {
			t.Fatal(err)
		}
		cert, err := link.Certificate(n, keys.Sign)
		if err != nil {
			t.Fatal(err)
		}
		certs[n] = cert
		tr.keys[n] = keys.SignPublic()
	}
	srv, err := relay.Open(ctx, dir, relay.Options{Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(sctx, ln); close(done) }()
	t.Cleanup(func() { stop(); <-done; srv.Close() })
	tr.srv = srv
	for _, n := range names {
		c, err := relay.Dial(ctx, ln.Addr().String(), rcard.SignKey, certs[n])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		token, port, err := c.MediaGrant(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tr.routes[n] = Route{Relay: "NEUTRAL", Addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port), Token: token}
	}
	return tr
}

// as is one station's view of the relay: both stations' cards list it.
func (tr *testRelay) as(self string) Relays { return stationRelays{tr, self} }

type stationRelays struct {
	tr   *testRelay
	self string
}

func (s stationRelays) To(peer string) (ed25519.PublicKey, []Route) {
	k, ok := s.tr.keys[peer]
	if !ok {
		return nil, nil
	}
	return k, []Route{s.tr.routes[s.self]}
}

func (s stationRelays) Own() []Route { return []Route{s.tr.routes[s.self]} }

func (s stationRelays) Peer(key ed25519.PublicKey) (string, bool) {
	for n, k := range s.tr.keys {
		if k.Equal(key) && n != s.self {
			return n, true
		}
	}
	return "", false
}

// talkUntil has both browsers speak every 20 ms, with prefix, until each
// has heard n of the other's such packets.
func talkUntil(t testing.TB, a, b *mediatest.Browser, prefix string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		a.Speak(fmt.Sprintf("usa-%s-%d", prefix, i))
		b.Speak(fmt.Sprintf("chn-%s-%d", prefix, i))
		if a.Heard("chn-"+prefix+"-") >= n && b.Heard("usa-"+prefix+"-") >= n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: after 20s USA's browser heard %d, CHN's %d packets (want %d each)", prefix,
		a.Heard("chn-"+prefix+"-"), b.Heard("usa-"+prefix+"-"), n)
}

// TestFailoverToRelay: two engines whose direct path is a wire the test
// cuts mid-call, both registered at a real relay. Audio flows directly;
// once the wire is cut it flows through the relay, the same call, the
// same DTLS and SRTP; once healed it comes back to the direct path.
func TestFailoverToRelay(t *testing.T) {
	tr := startRelay(t, "USA", "CHN")
	wire, err := netfault.NewWire()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wire.Close() })
	usa, err := Listen("127.0.0.1:0", Options{Log: quietLog(), Advertise: wire.AAddr(), Relays: tr.as("USA")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { usa.Close() })
	chn, err := Listen("127.0.0.1:0", Options{Log: quietLog(), Advertise: wire.BAddr(), Relays: tr.as("CHN")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { chn.Close() })
	if err := wire.Join(usa.Addr().String(), chn.Addr().String()); err != nil {
		t.Fatal(err)
	}
	const id = "usa-chn/USA/3"
	offer, answer := trunk(t, usa, chn, id)
	if got := candidates(offer); len(got) != 1 || got[0].String() != wire.AAddr() {
		t.Fatalf("the signed offer names %v, want only the advertised %s", got, wire.AAddr())
	}
	if got := candidates(answer); len(got) != 1 || got[0].String() != wire.BAddr() {
		t.Fatalf("the signed answer names %v, want only the advertised %s", got, wire.BAddr())
	}
	ub, cb := attach(t, usa, id), attach(t, chn, id)
	talkUntil(t, ub, cb, "direct", 10)
	for _, e := range []*Engine{usa, chn} {
		if v, _ := e.View(id); v.State != Connected || v.Path != PathDirect || v.Failovers != 0 {
			t.Fatalf("before the cut: %+v", v)
		}
	}
	if passed, _ := wire.Counts(); passed == 0 {
		t.Fatal("nothing crossed the direct path")
	}
	before, _ := tr.srv.MediaStats()

	wire.Cut()
	talkUntil(t, ub, cb, "relayed", 25)
	for _, e := range []*Engine{usa, chn} {
		v, _ := e.View(id)
		if v.State != Connected || v.Path != PathRelay || v.Via != "NEUTRAL" || v.Failovers != 1 {
			t.Fatalf("after the cut: %+v", v)
		}
		t.Logf("longest gap in the audio from the other station: %s", v.MaxGap)
	}
	after, _ := tr.srv.MediaStats()
	if after.Forwarded <= before.Forwarded+50 {
		t.Fatalf("the relay forwarded %d packets during the cut", after.Forwarded-before.Forwarded)
	}
	if _, lost := wire.Counts(); lost == 0 {
		t.Fatal("the cut wire dropped nothing: the media never tried the direct path")
	}

	// An attacker who can forge USA's address on the direct path replays
	// USA's last probe and sends made-up ones ("I hear you"): CHN takes
	// none of them, and the call stays on the relay.
	genuine := wire.Last(true, mediawire.IsProbe)
	if genuine == nil {
		t.Fatal("no probe of USA's crossed the wire")
	}
	forged := mediawire.Probe(true, math.MaxUint64, mediawire.ProbeKey("guess", "guess"))
	for range 30 {
		wire.Inject(true, genuine)
		wire.Inject(true, forged)
		time.Sleep(50 * time.Millisecond)
	}
	if v, _ := chn.View(id); v.Path != PathRelay || v.Failovers != 1 {
		t.Fatalf("forged probes moved CHN's media: %+v", v)
	}
	talkUntil(t, ub, cb, "still-relayed", 10)

	wire.Heal()
	for _, e := range []*Engine{usa, chn} {
		waitView(t, e, id, "the path back to direct", func(v View) bool { return v.Path == PathDirect })
	}
	mid, _ := tr.srv.MediaStats()
	talkUntil(t, ub, cb, "healed", 25)
	end, _ := tr.srv.MediaStats()
	if end.Forwarded > mid.Forwarded+10 {
		t.Errorf("the relay forwarded %d packets after the direct path came back", end.Forwarded-mid.Forwarded)
	}
	usa.End(id, "")
	waitView(t, chn, id, "the end", func(v View) bool { return v.State == Closed })
}

// TestAdvertiseRefused: an advertise address that is not IP:PORT with a
// port and a specific IP stops Listen with the reason.
func TestAdvertiseRefused(t *testing.T) {
	for _, a := range []string{"relay.example:5000", "127.0.0.1", "0.0.0.0:5000", "127.0.0.1:0"} {
		if e, err := Listen("127.0.0.1:0", Options{Log: quietLog(), Advertise: a}); err == nil || !strings.Contains(err.Error(), "is not IP:PORT") {
			if e != nil {
				e.Close()
			}
			t.Errorf("advertise %q: %v", a, err)
		}
	}
}
