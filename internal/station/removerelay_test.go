package station_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"hotline/internal/badrequest"
	"hotline/internal/identity"
	"hotline/internal/ops"
	"hotline/internal/relay"
	"hotline/internal/station"
	"hotline/internal/stationdir"
)

// startRelay runs an in-process relay until the test ends.
func startRelay(t *testing.T, name string) (dir string, srv *relay.Server, card *identity.Card) {
	t.Helper()
	ctx := t.Context()
	addr := freeAddr(t)
	dir = filepath.Join(t.TempDir(), strings.ToLower(name))
	card, err := relay.Init(ctx, relay.InitOptions{Dir: dir, Name: name, Party: "RELAY", Listen: addr})
	if err != nil {
		t.Fatal(err)
	}
	srv, err = relay.Open(ctx, dir, relay.Options{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ctx, ln)
	return dir, srv, card
}

// running is a station run in this process that the test can stop.
type running struct {
	st     *station.Station
	cancel context.CancelFunc
	done   chan error
}

func runStation(t *testing.T, dir string) *running {
	t.Helper()
	st, err := station.Open(context.Background(), dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{st: st, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- st.Run(ctx) }()
	t.Cleanup(r.stop)
	return r
}

func (r *running) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	<-r.done
	r.st.Close()
	r.cancel = nil
}

func inboxHas(t *testing.T, st *station.Station, ch, text string) bool {
	t.Helper()
	ms, err := st.Inbox(context.Background(), ch)
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(ms, func(m ops.MessageView) bool { return m.Text == text })
}

// TestRemoveRelay: USA's card lists two relays, NEUTRAL then SPARE; CHN's
// lists SPARE; their direct endpoints are dead. CHN deposits for USA at
// NEUTRAL, the first of USA's card. NEUTRAL's operator takes USA off its
// allowed list while it runs: USA's connection is closed and refused from
// then on, the mail waiting for USA there is gone, and messages go on
// through SPARE. USA's officer takes NEUTRAL off USA's card (a relay not
// in the card is refused, changing nothing); CHN pins the new card, and
// deposits for USA no longer go to NEUTRAL while messages flow.
func TestRemoveRelay(t *testing.T) {
	ctx := t.Context()
	ndir, neutral, ncard := startRelay(t, "NEUTRAL")
	sdir, _, scard := startRelay(t, "SPARE")
	udir, _ := initStation(t, "USA", "127.0.0.1:0", deadEndpoint(t))
	cdir, _ := initStation(t, "CHN", "127.0.0.1:0", deadEndpoint(t))
	var ucard, ccard *identity.Card
	var err error
	for _, rc := range []*identity.Card{ncard, scard} {
		if ucard, err = stationdir.AddRelay(ctx, udir, rc.Text, rc.Fingerprint()); err != nil {
			t.Fatal(err)
		}
	}
	if ccard, err = stationdir.AddRelay(ctx, cdir, scard.Text, scard.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	for _, rdir := range []string{ndir, sdir} {
		for _, c := range []*identity.Card{ucard, ccard} {
			if _, err := relay.Allow(ctx, rdir, c.Text, c.Fingerprint()); err != nil {
				t.Fatal(err)
			}
		}
	}
	usa, chn := runStation(t, udir), runStation(t, cdir)
	for _, p := range [][2]any{{usa.st, ccard}, {chn.st, ucard}} {
		c := p[1].(*identity.Card)
		if _, err := p[0].(*station.Station).AddPeer(ctx, c.Text, c.Fingerprint()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := usa.st.Propose(ctx, ops.ProposeRequest{Peer: "CHN", Channel: "ops", Level: "staff"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, chn.st, "the proposal over a relay", func() bool { cs, _ := chn.st.Channels(ctx); return len(cs) == 1 })
	if _, err := chn.st.Accept(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, usa.st, "the agreement over a relay", func() bool {
		cs, _ := usa.st.Channels(ctx)
		return len(cs) == 1 && cs[0].Agreement == "active"
	})
	send := func(text string) {
		t.Helper()
		if _, err := chn.st.Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "FLASH", Text: text}); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, usa.st, "CHN's "+text+" at USA", func() bool { return inboxHas(t, usa.st, "ops", text) })
	}
	// CHN deposits for USA at NEUTRAL once both are connected to it.
	for i := 0; neutral.Stats().Deposits == 0; i++ {
		if i == 50 {
			t.Fatal("CHN never deposited at NEUTRAL, the first relay of USA's card")
		}
		send(fmt.Sprintf("before %d", i))
	}

	// The relay's side: USA disallowed while NEUTRAL runs.
	if _, err := relay.Disallow(ctx, ndir, "NOPE"); !errors.Is(err, relay.ErrNotAllowedHere) || !strings.Contains(err.Error(), "allowed: CHN, USA") {
		t.Fatalf("disallowing a station not allowed: %v", err)
	}
	d, err := relay.Disallow(ctx, ndir, "USA")
	if err != nil || d.Name != "USA" || d.Fingerprint != ucard.Fingerprint() {
		t.Fatalf("disallow: %+v, %v", d, err)
	}
	if l, err := relay.List(ctx, ndir); err != nil || slices.ContainsFunc(l.Stations, func(v relay.StationView) bool { return v.Name == "USA" }) {
		t.Fatalf("NEUTRAL still lists USA: %+v, %v", l, err)
	}
	if _, err := relay.Disallow(ctx, ndir, "USA"); !errors.Is(err, relay.ErrNotAllowedHere) {
		t.Fatalf("disallowing USA twice: %v", err)
	}
	waitUntil(t, usa.st, "NEUTRAL refusing USA", func() bool {
		v, err := usa.st.Status(ctx)
		return err == nil && slices.ContainsFunc(v.RelaysRefusing, func(r ops.RelayRefusalView) bool { return r.Relay == "NEUTRAL" && r.Own })
	})
	send("after the relay disallowed USA")

	// The station's side: NEUTRAL off USA's card, with USA stopped.
	usa.stop()
	before, err := os.ReadFile(filepath.Join(udir, "card"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stationdir.RemoveRelay(ctx, udir, "NOPE"); !errors.Is(err, badrequest.Err) || !strings.Contains(err.Error(), "it lists NEUTRAL, SPARE") {
		t.Fatalf("removing a relay not in the card: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(udir, "card")); string(after) != string(before) {
		t.Fatal("a refused remove-relay changed the card")
	}
	nc, err := stationdir.RemoveRelay(ctx, udir, "NEUTRAL")
	if err != nil {
		t.Fatal(err)
	}
	if len(nc.Relays) != 1 || nc.Relays[0].Name != "SPARE" || !nc.Issued.After(ucard.Issued) || nc.Fingerprint() != ucard.Fingerprint() {
		t.Fatalf("new card: relays %+v, issued %v (was %v)", nc.Relays, nc.Issued, ucard.Issued)
	}
	usa = runStation(t, udir)
	if _, err := chn.st.AddPeer(ctx, nc.Text, nc.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	deposits := neutral.Stats().Deposits
	refused := neutral.Stats().Refused["unknown recipient"]
	for i := range 5 {
		send(fmt.Sprintf("after %d", i))
	}
	time.Sleep(500 * time.Millisecond) // anything still on its way to NEUTRAL
	if got := neutral.Stats().Deposits; got != deposits {
		t.Errorf("CHN deposited %d more times at NEUTRAL after pinning USA's card without it", got-deposits)
	}
	if got := neutral.Stats().Refused["unknown recipient"]; got != refused {
		t.Errorf("CHN tried NEUTRAL for USA %d more times after pinning USA's card without it", got-refused)
	}
	v, err := usa.st.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(v.RelaysRefusing, func(r ops.RelayRefusalView) bool { return r.Relay == "NEUTRAL" }) {
		t.Errorf("USA still reports NEUTRAL, no longer in its card: %+v", v.RelaysRefusing)
	}
}
