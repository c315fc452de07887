package station_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"hotline/internal/identity"
	"hotline/internal/ops"
	"hotline/internal/relay"
	"hotline/internal/station"
	"hotline/internal/stationdir"
	"hotline/internal/transcript"
)

// liar is a relay's lying policy: seeded, it drops, replays, alters,
// holds back (reorders), misdelivers (another station's mail, or mail
// labelled as from another sender) and invents mail.
type liar struct {
	mu     sync.Mutex
	rng    *rand.Rand
	seen   []relay.Mail // every payload it has carried, for every station
	held   []relay.Mail
	counts map[string]int
	on     bool
}

func (l *liar) lie(m relay.Mail) []relay.Mail {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.on {
		return []relay.Mail{m}
	}
	l.seen = append(l.seen, m)
	// Mail ids on one connection must grow (the client cuts off a relay
	// whose ids do not); lies get fresh ones above the real id.
	id := func(k uint64) uint64 { return m.ID<<8 + k }
	out := []relay.Mail{}
	if len(l.held) > 0 && l.rng.IntN(3) == 0 {
		for i, h := range l.held {
			h.ID = id(uint64(1 + i))
			out = append(out, h)
		}
		l.counts["reorder"] += len(l.held)
		l.held = nil
	}
	next := uint64(100)
	add := func(x relay.Mail) {
		x.ID = id(next)
		next++
		out = append(out, x)
	}
	switch r := l.rng.IntN(100); {
	case r < 10:
		l.counts["drop"]++
	case r < 20:
		l.counts["hold"]++
		l.held = append(l.held, m)
	case r < 30:
		l.counts["alter"]++
		p := bytes.Clone(m.Payload)
		p[l.rng.IntN(len(p))] ^= byte(1 + l.rng.IntN(255))
		add(relay.Mail{From: m.From, DepositedAt: m.DepositedAt, Payload: p})
	case r < 38:
		l.counts["replay"]++
		add(m)
		old := l.seen[l.rng.IntN(len(l.seen))]
		add(relay.Mail{From: m.From, DepositedAt: old.DepositedAt, Payload: old.Payload})
	case r < 43:
		// Someone else's mail: a payload carried for another station, or
		// this one's, labelled as coming from this mail's sender.
		l.counts["misdeliver"]++
		add(m)
		old := l.seen[l.rng.IntN(len(l.seen))]
		add(relay.Mail{From: m.From, DepositedAt: old.DepositedAt, Payload: old.Payload})
		add(relay.Mail{From: old.From, DepositedAt: old.DepositedAt, Payload: old.Payload})
	case r < 46:
		l.counts["garbage"]++
		add(m)
		junk := make([]byte, 1+l.rng.IntN(200))
		for i := range junk {
			junk[i] = byte(l.rng.Uint32())
		}
		add(relay.Mail{From: m.From, DepositedAt: m.DepositedAt, Payload: junk})
	default:
		add(m)
	}
	return out
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestLyingRelay: two stations whose only path is a relay that drops,
// replays, alters, reorders, misdelivers and invents mail. Nothing wrong
// is accepted: every message arrives exactly once and in order, both
// transcripts verify, and what the relay did is refused and counted. At
// worst, the lies delay.
func TestLyingRelay(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	root := t.TempDir()
	relayAddr := freeAddr(t)
	rdir := filepath.Join(root, "relay")
	rcard, err := relay.Init(ctx, relay.InitOptions{Dir: rdir, Name: "NEUTRAL", Party: "RELAY", Listen: relayAddr})
	if err != nil {
		t.Fatal(err)
	}
	l := &liar{rng: rand.New(rand.NewPCG(7, 11)), counts: map[string]int{}}
	rs, err := relay.Open(ctx, rdir, relay.Options{Log: quiet(), Lie: l.lie})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	ln, err := net.Listen("tcp", relayAddr)
	if err != nil {
		t.Fatal(err)
	}
	go rs.Serve(ctx, ln)

	// Two stations whose direct endpoints lead nowhere.
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
	usa, chn := openStation(t, dirs[0]), openStation(t, dirs[1])
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
	waitUntil(t, chn, "the proposal over the relay", func() bool {
		cs, _ := chn.Channels(ctx)
		return len(cs) == 1
	})
	if _, err := chn.Accept(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, usa, "the agreement over the relay", func() bool {
		cs, _ := usa.Channels(ctx)
		return len(cs) == 1 && cs[0].Agreement == "active"
	})

	// From now on the relay lies.
	l.mu.Lock()
	l.on = true
	l.mu.Unlock()
	const n = 60
	var sent [2][]string
	for i := range n {
		for j, st := range []*station.Station{usa, chn} {
			m, err := st.Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "PRIORITY", Text: fmt.Sprintf("report %d from %d", i, j)})
			if err != nil {
				t.Fatal(err)
			}
			sent[j] = append(sent[j], m.ID)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for j, st := range []*station.Station{usa, chn} {
		waitUntil(t, st, "every message delivered through the lying relay", func() bool {
			out, err := st.Outbox(ctx, "ops")
			return err == nil && len(out) == n && !slices.ContainsFunc(out, func(m ops.MessageView) bool { return m.Status != "delivered" })
		})
		other := []*station.Station{chn, usa}[j]
		in, err := other.Inbox(ctx, "ops")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range in {
			got = append(got, m.ID)
		}
		if !slices.Equal(got, sent[j]) {
			t.Fatalf("%s holds %v\nwant %v", other.Cfg.Name, got, sent[j])
		}
	}
	l.mu.Lock()
	counts := copyCounts(l.counts)
	l.mu.Unlock()
	refused := 0
	for _, st := range []*station.Station{usa, chn} {
		v, err := st.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"relay deposit", "malformed frame", "bad entry", "bad checkpoint", "wrong author", "unknown peer", "relay mail", "bad cosignature", "bad status", "root mismatch", "misaddressed entry", "bad body", "bad link test", "gap"} {
			refused += v.Refused[k]
		}
		t.Logf("%s: refused %v, duplicates %d", st.Cfg.Name, v.Refused, v.Duplicates)
		b, err := st.Export(ctx, "ops")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := transcript.Verify(b); err != nil {
			t.Errorf("%s transcript: %v", st.Cfg.Name, err)
		}
	}
	t.Logf("the relay lied: %v", counts)
	if counts["alter"] == 0 || counts["replay"] == 0 || counts["drop"] == 0 || refused == 0 {
		t.Fatalf("the relay did not lie enough to test anything: lies %v, refusals %d", counts, refused)
	}
}

func copyCounts(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = v
	}
	return out
}
