package station_test

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hotline/internal/home"
	"hotline/internal/identity"
	"hotline/internal/netfault"
	"hotline/internal/ops"
	"hotline/internal/relay"
	"hotline/internal/station"
	"hotline/internal/stationdir"
	"hotline/internal/transcript"
)

// relayNet is USA and CHN, in this process over real TLS on loopback,
// with a real relay between them: USA reaches the relay through a proxy
// (so that its link alone can be cut), CHN directly. With direct set,
// each station's card endpoint is a proxy to its peer listener (cut to
// leave the relay as the only path); without, the endpoints lead nowhere.
// Each station logs to a buffer that lasts across its restarts.
type relayNet struct {
	t        *testing.T
	rs       *relay.Server
	rdir     string
	usaRelay *netfault.Proxy
	direct   map[string]*netfault.Proxy
	dirs     map[string]string
	cards    map[string]*identity.Card
	st       map[string]*station.Station
	logs     map[string]*lockedBuffer
	stop     map[string]func()
}

func newRelayNet(t *testing.T, direct bool) *relayNet {
	t.Helper()
	ctx := t.Context()
	n := &relayNet{t: t, direct: map[string]*netfault.Proxy{}, dirs: map[string]string{}, cards: map[string]*identity.Card{},
		st: map[string]*station.Station{}, logs: map[string]*lockedBuffer{}, stop: map[string]func(){}}
	relayAddr := freeAddr(t)
	n.rdir = filepath.Join(t.TempDir(), "relay")
	rcard, err := relay.Init(ctx, relay.InitOptions{Dir: n.rdir, Name: "NEUTRAL", Party: "RELAY", Listen: relayAddr})
	if err != nil {
		t.Fatal(err)
	}
	if n.rs, err = relay.Open(ctx, n.rdir, relay.Options{Log: quiet()}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.rs.Close() })
	ln, err := net.Listen("tcp", relayAddr)
	if err != nil {
		t.Fatal(err)
	}
	go n.rs.Serve(ctx, ln)
	if n.usaRelay, err = netfault.Listen(relayAddr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.usaRelay.Close() })
	// The same relay, signed by its own keys, at the proxy's address: the
	// relay line of USA's card.
	rkeys, err := home.LoadKeys(filepath.Join(n.rdir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	viaProxy, err := identity.NewCard(rkeys, "RELAY", []string{n.usaRelay.Addr()}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"USA", "CHN"} {
		listen, endpoint := "127.0.0.1:0", deadEndpoint(t)
		if direct {
			listen = freeAddr(t)
			p, err := netfault.Listen(listen)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			n.direct[name], endpoint = p, p.Addr()
		}
		dir, _ := initStation(t, name, listen, endpoint)
		rc := rcard
		if name == "USA" {
			rc = viaProxy
		}
		card, err := stationdir.AddRelay(ctx, dir, rc.Text, rc.Fingerprint())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := relay.Allow(ctx, n.rdir, card.Text, card.Fingerprint()); err != nil {
			t.Fatal(err)
		}
		n.dirs[name], n.cards[name], n.logs[name] = dir, card, &lockedBuffer{}
	}
	t.Cleanup(func() {
		if t.Failed() {
			for name, b := range n.logs {
				t.Logf("%s's log:\n%s", name, b.String())
			}
		}
	})
	for _, name := range []string{"USA", "CHN"} {
		n.start(name)
	}
	for a, b := range map[string]string{"USA": "CHN", "CHN": "USA"} {
		if _, err := n.st[a].AddPeer(ctx, n.cards[b].Text, n.cards[b].Fingerprint()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := n.st["USA"].Propose(ctx, ops.ProposeRequest{Peer: "CHN", Channel: "ops", Level: "staff"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, n.st["CHN"], "the proposal", func() bool { return n.channel("CHN").Agreement == "incoming" })
	if _, err := n.st["CHN"].Accept(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, n.st["USA"], "the agreement", func() bool { return n.channel("USA").Agreement == "active" })
	return n
}

func (n *relayNet) start(name string) {
	n.t.Helper()
	st, err := station.Open(context.Background(), n.dirs[name], slog.New(slog.NewTextHandler(n.logs[name], nil)))
	if err != nil {
		n.t.Fatalf("open %s: %v", name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx) }()
	stopped := false
	n.st[name] = st
	n.stop[name] = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
			st.Close()
		}
	}
	n.t.Cleanup(n.stop[name])
}

func (n *relayNet) restart(name string) {
	n.stop[name]()
	n.start(name)
}

func (n *relayNet) channel(name string) ops.ChannelView {
	chs, err := n.st[name].Channels(context.Background())
	if err != nil {
		n.t.Fatal(err)
	}
	for _, c := range chs {
		if c.ID == "ops" {
			return c
		}
	}
	return ops.ChannelView{}
}

// deliver sends a text from one station and waits until the peer has
// receipted everything and holds the text.
func (n *relayNet) deliver(from, to, text string) {
	n.t.Helper()
	if _, err := n.st[from].Send(context.Background(), ops.SendRequest{Channel: "ops", Precedence: "PRIORITY", Text: text}); err != nil {
		n.t.Fatalf("%s sends %q: %v", from, text, err)
	}
	n.delivered(from, to, text)
}

func (n *relayNet) delivered(from, to, text string) {
	n.t.Helper()
	waitUntil(n.t, n.st[from], "delivery of "+text, func() bool { c := n.channel(from); return c.Delivered == c.Written })
	ms, err := n.st[to].Inbox(context.Background(), "ops")
	if err != nil {
		n.t.Fatal(err)
	}
	for _, m := range ms {
		if m.Text == text {
			return
		}
	}
	n.t.Fatalf("%s does not hold %q", to, text)
}

// pathOf reports whether a station's path of that name is up and active.
func (n *relayNet) pathOf(name, path string) (up, active bool) {
	for _, p := range n.channel(name).Paths {
		if p.Name == path {
			return p.Up, p.Active
		}
	}
	return false, false
}

// listed is the fingerprint the relay lists for a station.
func (n *relayNet) listed(name string) string {
	l, err := relay.List(context.Background(), n.rdir)
	if err != nil {
		n.t.Fatal(err)
	}
	for _, s := range l.Stations {
		if s.Name == name {
			return s.Fingerprint
		}
	}
	return ""
}

// storm is what a retry storm would show: the relay's refusals (every
// reason) and the stations' "relay path down" log lines so far.
func (n *relayNet) storm() (refusals int64, downs int) {
	for _, v := range n.rs.Stats().Refused {
		refusals += v
	}
	for _, b := range n.logs {
		downs += strings.Count(b.String(), `msg="relay path down"`)
	}
	return refusals, downs
}

// calm watches for a retry storm over d: at most maxRefusals refusals at
// the relay and maxDowns "relay path down" lines, counted from before.
func (n *relayNet) calm(what string, before [2]int64, maxRefusals int64, maxDowns int) {
	n.t.Helper()
	r, d := n.storm()
	if r-before[0] > maxRefusals || int64(d)-before[1] > int64(maxDowns) {
		n.t.Errorf("%s: %d refusals at the relay and %d \"relay path down\" lines (bounds %d and %d): a retry storm",
			what, r-before[0], int64(d)-before[1], maxRefusals, maxDowns)
	}
}

func (n *relayNet) mark() [2]int64 {
	r, d := n.storm()
	return [2]int64{r, int64(d)}
}

func (n *relayNet) verify() {
	n.t.Helper()
	for name, st := range n.st {
		b, err := st.Export(context.Background(), "ops")
		if err != nil {
			n.t.Fatal(err)
		}
		if _, err := transcript.Verify(b); err != nil {
			n.t.Errorf("%s's transcript: %v", name, err)
		}
	}
}

// quietPeriod is how long a test watches for a retry storm after each
// change. The bounds below are what a backoff allows in it, with room: a
// storm (as in issue 20) makes thousands in this time.
const quietPeriod = 10 * time.Second

// TestRelayKeyRotationConnected: the relay is the only path and USA
// rotates its keys while connected to it. The relay lists USA's new
// fingerprint at once (USA connects again under the new key), messages
// cross the relay both ways, and after CHN restarts (knowing only the new
// key) they still do. Neither change sets off a retry storm: the relay
// refuses next to nothing and the relay path goes down only a few times.
func TestRelayKeyRotationConnected(t *testing.T) {
	n := newRelayNet(t, false)
	ctx := t.Context()
	n.deliver("USA", "CHN", "before")
	n.deliver("CHN", "USA", "reply before")
	before := n.mark()
	rot, err := n.st["USA"].RotateKeys(ctx, ops.KeyRequest{Reason: identity.ReasonRotate, By: "signal officer"})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, n.st["USA"], "the relay listing USA's new fingerprint", func() bool { return n.listed("USA") == rot.Fingerprint })
	n.deliver("USA", "CHN", "after")
	n.deliver("CHN", "USA", "reply after")
	ks, err := n.st["CHN"].KeyHistory(ctx, "USA")
	if err != nil || len(ks) != 2 || ks[1].Fingerprint != rot.Fingerprint {
		t.Fatalf("CHN's key history of USA: %+v %v", ks, err)
	}
	n.restart("CHN")
	n.deliver("USA", "CHN", "after CHN's restart")
	n.deliver("CHN", "USA", "reply after CHN's restart")
	time.Sleep(quietPeriod)
	n.calm("rotation while connected, then a restart", before, 3, 12)
	if up, _ := n.pathOf("USA", "relay"); !up {
		t.Error("USA's relay path is not up after the quiet period")
	}
	n.verify()
}

// TestRelayKeyRotationDisconnected: the relay is the only path; USA's
// link to it is down when USA revokes its key, and USA writes a message
// meanwhile. When the link is back, USA connects under its new key and
// the relay follows it; CHN, which never saw the new key, gets USA's mail
// with the statements that lead to it from the key CHN pinned, follows
// them (the old key now revoked), and the message and a reply cross the
// relay. No retry storm, before or after the link is back.
func TestRelayKeyRotationDisconnected(t *testing.T) {
	n := newRelayNet(t, false)
	ctx := t.Context()
	n.deliver("USA", "CHN", "before")
	n.deliver("CHN", "USA", "reply before")
	n.usaRelay.Cut()
	waitUntil(t, n.st["USA"], "USA's relay path to go down", func() bool { up, _ := n.pathOf("USA", "relay"); return !up })
	before := n.mark()
	rot, err := n.st["USA"].RotateKeys(ctx, ops.KeyRequest{Reason: identity.ReasonRevoke, By: "signal officer", Note: "suspected"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.st["USA"].Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "PRIORITY", Text: "while away"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(quietPeriod)
	n.calm("the relay link down after a revocation", before, 3, 8)
	before = n.mark()
	n.usaRelay.Heal()
	n.delivered("USA", "CHN", "while away")
	ks, err := n.st["CHN"].KeyHistory(ctx, "USA")
	if err != nil || len(ks) != 2 || ks[1].Fingerprint != rot.Fingerprint || !ks[0].Revoked {
		t.Fatalf("CHN's key history of USA: %+v %v", ks, err)
	}
	if got := n.listed("USA"); got != rot.Fingerprint {
		t.Errorf("the relay lists USA as %s, want %s", got, rot.Fingerprint)
	}
	n.deliver("CHN", "USA", "reply")
	n.deliver("USA", "CHN", "and again")
	time.Sleep(quietPeriod)
	n.calm("the relay link back after a revocation", before, 3, 12)
	n.verify()
}

// TestRelayFollowsPeerPresentedKeys: USA and CHN have a direct path and
// the relay. USA's relay link is down when it rotates: CHN follows over
// the direct path, and then the direct path is cut too. CHN's relay path
// to USA now deposits for USA's new key at a relay that has never seen
// it: CHN presents USA's statements first, so the relay follows them
// (listing USA's new fingerprint while USA is still away) and takes the
// deposits; nothing is refused as an unknown recipient, and the relay
// path is not brought down and up in a loop. When USA's link is back,
// traffic crosses the relay both ways.
func TestRelayFollowsPeerPresentedKeys(t *testing.T) {
	n := newRelayNet(t, true)
	ctx := t.Context()
	n.deliver("USA", "CHN", "before")
	n.usaRelay.Cut()
	waitUntil(t, n.st["USA"], "USA's relay path to go down", func() bool { up, _ := n.pathOf("USA", "relay"); return !up })
	rot, err := n.st["USA"].RotateKeys(ctx, ops.KeyRequest{Reason: identity.ReasonRotate, By: "signal officer"})
	if err != nil {
		t.Fatal(err)
	}
	n.deliver("USA", "CHN", "over the direct path")
	waitUntil(t, n.st["CHN"], "CHN to follow USA's new key", func() bool {
		ks, err := n.st["CHN"].KeyHistory(ctx, "USA")
		return err == nil && len(ks) == 2 && ks[1].Fingerprint == rot.Fingerprint
	})
	before := n.mark()
	n.direct["USA"].Cut()
	n.direct["CHN"].Cut()
	waitUntil(t, n.st["CHN"], "the relay listing USA's new fingerprint, presented by CHN", func() bool { return n.listed("USA") == rot.Fingerprint })
	time.Sleep(quietPeriod)
	if got := n.rs.Stats().Refused["unknown recipient"]; got != 0 {
		t.Errorf("the relay refused %d deposits for an unknown recipient", got)
	}
	n.calm("USA away from the relay, CHN depositing for its new key", before, 0, 8)
	n.usaRelay.Heal()
	n.deliver("CHN", "USA", "over the relay")
	n.deliver("USA", "CHN", "reply over the relay")
	if up, active := n.pathOf("USA", "relay"); !up || !active {
		t.Errorf("USA's relay path: up %v, active %v", up, active)
	}
	n.verify()
}
