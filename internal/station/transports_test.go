package station_test

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hotline/internal/identity"
	"hotline/internal/ops"
	"hotline/internal/relay"
	"hotline/internal/station"
	"hotline/internal/stationdir"
)

// TestTransportsBuildBothPaths: two running stations whose cards list a
// reachable endpoint and a relay, pinned to each other only once they
// run. Each transport of the list reaches the new peer: the core gets a
// direct path and a relay path to it, each under its transport's name,
// both up and measured, the direct one active (loopback makes them alike,
// so the prior keeps it). A message crosses.
func TestTransportsBuildBothPaths(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	root := t.TempDir()
	relayAddr := freeAddr(t)
	rdir := filepath.Join(root, "relay")
	rcard, err := relay.Init(ctx, relay.InitOptions{Dir: rdir, Name: "NEUTRAL", Party: "RELAY", Listen: relayAddr})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := relay.Open(ctx, rdir, relay.Options{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	ln, err := net.Listen("tcp", relayAddr)
	if err != nil {
		t.Fatal(err)
	}
	go rs.Serve(ctx, ln)
	var sts []*station.Station
	var cards []*identity.Card
	for _, name := range []string{"USA", "CHN"} {
		addr := freeAddr(t)
		dir, _ := initStation(t, name, addr, addr)
		card, err := stationdir.AddRelay(ctx, dir, rcard.Text, rcard.Fingerprint())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := relay.Allow(ctx, rdir, card.Text, card.Fingerprint()); err != nil {
			t.Fatal(err)
		}
		st := openStation(t, dir)
		run(t, st)
		sts, cards = append(sts, st), append(cards, card)
	}
	usa, chn := sts[0], sts[1]
	for i, st := range sts {
		other := cards[1-i]
		if _, err := st.AddPeer(ctx, other.Text, other.Fingerprint()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := usa.Propose(ctx, ops.ProposeRequest{Peer: "CHN", Channel: "ops", Level: "staff"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, chn, "the proposal", func() bool { cs, _ := chn.Channels(ctx); return len(cs) == 1 })
	if _, err := chn.Accept(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	for _, st := range sts {
		var last []ops.PathView
		waitUntil(t, st, "a direct and a relay path, both up and measured", func() bool {
			cs, err := st.Channels(ctx)
			if err != nil || len(cs) != 1 {
				return false
			}
			last = cs[0].Paths
			ps := map[string]ops.PathView{}
			for _, p := range last {
				ps[p.Name] = p
			}
			d, r := ps["direct"], ps["relay"]
			return len(last) == 2 && cs[0].State == "active" && d.Up && r.Up && d.Costms != nil && r.Costms != nil
		})
		for _, p := range last {
			if p.Active != (p.Name == "direct") {
				t.Errorf("%s: %+v", st.Cfg.Name, last)
			}
		}
	}
	m, err := usa.Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "FLASH", Text: "both ways up"})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, chn, "the message", func() bool {
		in, err := chn.Inbox(ctx, "ops")
		return err == nil && len(in) == 1 && in[0].ID == m.ID
	})
}

// TestRunStopsWhenATransportCannotRun: a peer listener that cannot listen
// (its address is taken) ends Run with the reason, and the other
// transports with it.
func TestRunStopsWhenATransportCannotRun(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir, _ := initStation(t, "USA", ln.Addr().String(), ln.Addr().String())
	st := openStation(t, dir)
	done := make(chan error, 1)
	go func() { done <- st.Run(t.Context()) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "peer listener") {
			t.Fatalf("Run: %v, want the peer listener's error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return")
	}
}
