package station_test

import (
	"context"
	"net"
	"path/filepath"
	"testing"

	"hotline/internal/identity"
	"hotline/internal/ops"
	"hotline/internal/relay"
	"hotline/internal/station"
	"hotline/internal/stationdir"
)

// relayOnlyPair runs a relay and two stations, USA and CHN, whose only
// path to each other is that relay (their cards' direct endpoints are
// dead), pinned to each other, with the channel "ops" proposed by USA
// and accepted by CHN.
func relayOnlyPair(t *testing.T, ctx context.Context) (usa, chn *station.Station) {
	t.Helper()
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
	t.Cleanup(func() { rs.Close() })
	ln, err := net.Listen("tcp", relayAddr)
	if err != nil {
		t.Fatal(err)
	}
	go rs.Serve(ctx, ln)
	var dirs []string
	var cards []*identity.Card
	for _, name := range []string{"USA", "CHN"} {
		dir, _ := initStation(t, name, "127.0.0.1:0", deadEndpoint(t))
		card, err := stationdir.AddRelay(ctx, dir, rcard.Text, rcard.Fingerprint())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := relay.Allow(ctx, rdir, card.Text, card.Fingerprint()); err != nil {
			t.Fatal(err)
		}
		dirs, cards = append(dirs, dir), append(cards, card)
	}
	usa, chn = openStation(t, dirs[0]), openStation(t, dirs[1])
	for i, st := range []*station.Station{usa, chn} {
		other := cards[1-i]
		if _, err := st.AddPeer(ctx, other.Text, other.Fingerprint()); err != nil {
			t.Fatal(err)
		}
		run(t, st)
	}
	if _, err := usa.Propose(ctx, ops.ProposeRequest{Peer: "CHN", Channel: "ops", Level: "staff"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, chn, "the proposal over the relay", func() bool { cs, _ := chn.Channels(ctx); return len(cs) == 1 })
	if _, err := chn.Accept(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, usa, "the agreement over the relay", func() bool {
		cs, _ := usa.Channels(ctx)
		return len(cs) == 1 && cs[0].Agreement == "active"
	})
	return usa, chn
}
