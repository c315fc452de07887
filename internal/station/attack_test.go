package station_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"hotline/internal/identity"
	"hotline/internal/link"
	"hotline/internal/ops"
	"hotline/internal/protocol"
	"hotline/internal/record"
	"hotline/internal/station"
	"hotline/internal/stationdir"
	"hotline/internal/store"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// deadEndpoint is a peer address that accepts TCP connections and closes
// them at once: a dialer gets a plain handshake failure, never a refusal,
// and no other test or process can take the port while it is held.
func deadEndpoint(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// initStation creates a station directory and returns its card.
func initStation(t *testing.T, name, peerListen string, endpoints ...string) (string, *identity.Card) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), strings.ToLower(name))
	card, err := stationdir.Init(context.Background(), stationdir.InitOptions{Dir: dir, Name: name, Party: name,
		PeerListen: peerListen, APIListen: "127.0.0.1:0", Endpoints: endpoints})
	if err != nil {
		t.Fatalf("init %s: %v", name, err)
	}
	return dir, card
}

func openStation(t *testing.T, dir string) *station.Station {
	t.Helper()
	st, err := station.Open(context.Background(), dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// run runs st's peer side until the test ends and returns its peer address.
func run(t *testing.T, st *station.Station) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	deadline := time.Now().Add(10 * time.Second)
	for st.PeerAddr() == nil {
		select {
		case err := <-done:
			t.Fatalf("Run returned at once: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("peer listener did not start")
		}
	}
	return st.PeerAddr().String()
}

// waitUntil re-checks cond on every notification of st (and on a short
// tick: a notification can come before the change it announces is
// readable, see TestNotificationFollowsCommit) until it holds.
func waitUntil(t *testing.T, st *station.Station, what string, cond func() bool) {
	t.Helper()
	ch, cancel := st.Subscribe()
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	// A bound on a hang, not a measure of speed: a lying relay's lost
	// frames wait for the 5 s resend, several times over, and a loaded
	// machine stretches that.
	deadline := time.After(2 * time.Minute)
	for !cond() {
		select {
		case <-ch:
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func alertsContaining(t *testing.T, st *station.Station, subs ...string) []ops.AlertView {
	t.Helper()
	as, err := st.Alerts(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []ops.AlertView
	for _, a := range as {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(a.Text, s)
		}
		if ok {
			out = append(out, a)
		}
	}
	return out
}

// impostor is a station with its own keys that calls itself name.
type impostor struct {
	keys *identity.Keys
	cert tls.Certificate
}

func newImpostor(t *testing.T, name string) *impostor {
	t.Helper()
	keys, err := identity.NewKeys(name)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := link.Certificate(name, keys.Sign)
	if err != nil {
		t.Fatal(err)
	}
	return &impostor{keys: keys, cert: cert}
}

// pairedUSA makes a station USA that has pinned the genuine CHN, whose card
// names chnEndpoint.
func pairedUSA(t *testing.T, chnEndpoint string) (*station.Station, *identity.Card) {
	t.Helper()
	usaDir, _ := initStation(t, "USA", "127.0.0.1:0")
	_, chn := initStation(t, "CHN", chnEndpoint)
	usa := openStation(t, usaDir)
	if _, err := usa.AddPeer(context.Background(), chn.Text, chn.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	return usa, chn
}

type snapshot struct {
	peers    []ops.PeerView
	channels []ops.ChannelView
	entries  []store.Message
}

func take(t *testing.T, st *station.Station) snapshot {
	t.Helper()
	ctx := context.Background()
	ps, err := st.Peers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := st.Channels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	es, err := st.Store.Messages(ctx, store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	return snapshot{ps, cs, es}
}

func TestImpostorDialingInIsRefused(t *testing.T) {
	ctx := context.Background()
	usa, chn := pairedUSA(t, deadEndpoint(t))
	addr := run(t, usa)
	before := take(t, usa)
	if len(before.peers) != 1 || before.peers[0].Fingerprint != chn.Fingerprint() {
		t.Fatalf("peers before the attack: %+v", before.peers)
	}

	// The impostor knows USA's public card and calls itself CHN, but it
	// holds its own key, not the one USA pinned for CHN.
	imp := newImpostor(t, "CHN")
	tc, err := link.Dial(ctx, addr, link.ClientConfig(imp.cert, "USA", usa.Keys.SignPublic()))
	if err == nil {
		// TLS 1.3 may let the client finish first; the server's refusal
		// then arrives on the first read. Nothing the impostor sends may
		// be taken in.
		c := link.NewConn(tc)
		c.Send((&protocol.Frame{Type: protocol.FrameHello, Version: protocol.Version}).Encode(), false)
		if data, err := c.Read(); err == nil {
			t.Errorf("impostor read a frame from USA: %q", data)
		}
		c.Close()
	} else if !strings.Contains(err.Error(), "certificate") && !errors.Is(err, io.EOF) {
		t.Logf("impostor dial: %v", err)
	}

	waitUntil(t, usa, "USA to record the refusal", func() bool {
		st, err := usa.Status(ctx)
		return err == nil && st.Refused["unpinned station"] == 1 && len(alertsContaining(t, usa, "refused a station")) == 1
	})
	a := alertsContaining(t, usa, "refused a station")[0]
	if !strings.Contains(a.Text, "not pinned") || a.Level != "alarm" {
		t.Errorf("alert %+v: want an alarm saying the key is not pinned", a)
	}
	st, err := usa.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for reason, n := range st.Refused {
		if reason != "unpinned station" && n > 0 {
			t.Errorf("status counts %d refusals for %q, want none", n, reason)
		}
	}
	after := take(t, usa)
	if len(after.channels) != 0 || len(after.entries) != 0 {
		t.Errorf("after the attack: %d channels, %d entries; want none", len(after.channels), len(after.entries))
	}
	if len(after.peers) != 1 || after.peers[0].Fingerprint != chn.Fingerprint() || after.peers[0].Connected {
		t.Errorf("peers after the attack: %+v; want only the genuine CHN, not connected", after.peers)
	}
}

// fakePeer answers at an address with its own certificate, accepts any
// client, and records what each connection brought.
type fakePeer struct {
	addr                     string
	mu                       sync.Mutex
	conns, handshakes, bytes int
}

func (f *fakePeer) stats() (conns, handshakes, bytes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.conns, f.handshakes, f.bytes
}

func newFakePeer(t *testing.T, cert tls.Certificate, at ...string) *fakePeer {
	t.Helper()
	addr := "127.0.0.1:0"
	if len(at) > 0 {
		addr = at[0]
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	f := &fakePeer{addr: ln.Addr().String()}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAnyClientCert, MinVersion: tls.VersionTLS12}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := tls.Server(c, cfg)
				tc.SetDeadline(time.Now().Add(5 * time.Second))
				herr := tc.Handshake()
				n := 0
				if herr == nil {
					b, _ := io.ReadAll(tc)
					n = len(b)
				}
				f.mu.Lock()
				f.conns++
				if herr == nil {
					f.handshakes++
				}
				f.bytes += n
				f.mu.Unlock()
			}()
		}
	}()
	return f
}

func TestDialingImpostorEndpointIsRefused(t *testing.T) {
	ctx := context.Background()
	imp := newImpostor(t, "CHN")
	fake := newFakePeer(t, imp.cert)
	// CHN's genuine card names the address the impostor answers at.
	usa, _ := pairedUSA(t, fake.addr)
	// Give USA something to send: the proposal of a channel to CHN.
	if _, err := usa.Propose(ctx, ops.ProposeRequest{Peer: "CHN", Channel: "usa-chn-staff", Level: "staff"}); err != nil {
		t.Fatal(err)
	}
	run(t, usa)

	waitUntil(t, usa, "USA to refuse the impostor's key", func() bool {
		st, err := usa.Status(ctx)
		conns, _, _ := fake.stats()
		return err == nil && st.Refused["wrong peer key"] >= 1 && conns >= 1 &&
			len(alertsContaining(t, usa, "CHN", "not pinned")) >= 1
	})
	for _, a := range alertsContaining(t, usa, "CHN", "not pinned") {
		if a.Peer != "CHN" || a.Level != "alarm" || !strings.Contains(a.Text, fake.addr) {
			t.Errorf("alert %+v: want an alarm about CHN at %s", a, fake.addr)
		}
	}
	conns, handshakes, n := fake.stats()
	if handshakes != 0 || n != 0 {
		t.Errorf("impostor completed %d of %d handshakes and received %d bytes; want none", handshakes, conns, n)
	}
	cs, err := usa.Channels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].State != record.ProposedOut || cs[0].Delivered != 0 || cs[0].Connected {
		t.Errorf("channels after the attack: %+v; want the proposal still undelivered", cs)
	}
	ps, err := usa.Peers(ctx)
	if err != nil || len(ps) != 1 || ps[0].Connected {
		t.Errorf("peers after the attack: %+v, %v", ps, err)
	}
}

// holdStore lets a test hold every write of a station while it looks at
// what observers are told.
type holdStore struct {
	store.Store
	mu sync.Mutex
}

func (h *holdStore) Apply(ctx context.Context, b *record.Batch) error {
	// Writes wait while the test holds mu.
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.Store.Apply(ctx, b)
}

// TestNotificationFollowsCommit checks that when a subscriber hears of an
// alert, the alert can be read. Station.exec hands Notify actions to
// subscribers as the core emits them, while the batch holding the change is
// still waiting for (or being written by) the writer goroutine.
func TestNotificationFollowsCommit(t *testing.T) {
	ctx := context.Background()
	usa, _ := pairedUSA(t, deadEndpoint(t))
	// Every use of the store by the loop or its writer follows a request
	// sent after this assignment, so the swap is not a data race.
	hold := &holdStore{Store: usa.Store}
	usa.Store = hold
	addr := run(t, usa)
	ch, cancel := usa.Subscribe()
	defer cancel()

	hold.mu.Lock()
	imp := newImpostor(t, "CHN")
	if tc, err := link.Dial(ctx, addr, link.ClientConfig(imp.cert, "USA", usa.Keys.SignPublic())); err == nil {
		tc.Read(make([]byte, 1))
		tc.Close()
	}
	// Give a notification that does not wait for its write time to arrive,
	// then let the write through.
	early := time.After(300 * time.Millisecond)
	select {
	case n := <-ch:
		t.Fatalf("notified (%+v) while the write holding the alert was still blocked", n)
	case <-early:
	}
	hold.mu.Unlock()
	select {
	case n := <-ch:
		if n.What != "alert" {
			t.Fatalf("first notification %+v, want an alert", n)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no notification of the refusal after its write")
	}
	as, err := usa.Alerts(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) == 0 {
		t.Error("notified of an alert that Alerts does not hold")
	}
}

// lockedBuffer is a log's output, safe to read while the station writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestStrangerIsAWarning: anyone who can reach the peer port may present
// a key of its own. From an address no pinned peer lists, each one is a
// counted warning that takes over no console, and a flood of them writes
// a bounded log (security review items 3 and 10). From the pinned peer's
// own address it stays an alarm (TestImpostorDialingInIsRefused).
func TestStrangerIsAWarning(t *testing.T) {
	ctx := context.Background()
	usaDir, _ := initStation(t, "USA", "127.0.0.1:0")
	_, chn := initStation(t, "CHN", deadEndpoint(t)) // CHN's card lists 127.0.0.1
	var logs lockedBuffer
	usa, err := station.Open(ctx, usaDir, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { usa.Close() })
	if _, err := usa.AddPeer(ctx, chn.Text, chn.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	addr := run(t, usa)
	stranger := newImpostor(t, "STRANGER")
	const n = 40
	for range n {
		d := &tls.Dialer{NetDialer: &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second},
			Config: link.ClientConfig(stranger.cert, "USA", usa.Keys.SignPublic())}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Read(make([]byte, 1)) // the server's refusal, with TLS 1.3
			c.Close()
		}
	}
	waitUntil(t, usa, "USA to count every stranger, and its warning stored", func() bool {
		st, err := usa.Status(ctx)
		return err == nil && st.Refused["unknown station"] == n && len(alertsContaining(t, usa, "refused a station")) > 0
	})
	as := alertsContaining(t, usa, "refused a station")
	if len(as) != 1 || as[0].Level != "warning" || !strings.Contains(as[0].Text, "127.0.0.2") {
		t.Fatalf("alerts %+v: want one warning naming the stranger's address", as)
	}
	if st, _ := usa.Status(ctx); st.Refused["unpinned station"] != 0 {
		t.Errorf("strangers counted as %d alarms", st.Refused["unpinned station"])
	}
	if got := strings.Count(logs.String(), "inbound handshake failed"); got != 1 {
		t.Errorf("%d strangers wrote %d log lines, want 1", n, got)
	}
}
