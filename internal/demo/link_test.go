package demo

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"hotline/internal/linkemu"
	"hotline/internal/ops"
)

// linkPair starts USA and CHN as processes in two network namespaces
// joined by an emulated link under p, with channel ch agreed over it.
func linkPair(t *testing.T, ctx context.Context, tag string, p linkemu.Profile, ch string) (*Pair, *linkemu.Testbed) {
	t.Helper()
	if err := linkemu.Available(); err != nil {
		t.Skip(err)
	}
	tb, err := linkemu.NewTestbed(fmt.Sprintf("hl%d%s", os.Getpid(), tag), p, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tb.Close() })
	pair, err := PairOver(ctx, tb, t.TempDir(), binary, PairOptions{Proposals: []ops.ProposeRequest{{Channel: ch, Level: "staff"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pair.Stop)
	return pair, tb
}

// exchange sends k messages each way, at once, of mixed precedence, and
// returns the ids each station sent, in the order its station took them.
func exchange(t *testing.T, ctx context.Context, p *Pair, ch, phase string, k int) map[string][]string {
	t.Helper()
	precs := []string{"ROUTINE", "PRIORITY", "IMMEDIATE", "FLASH"}
	ids := make([][]string, 2)
	errc := make(chan error, 2)
	for j, n := range []*Node{p.A, p.B} {
		go func() {
			for i := range k {
				m, err := n.Client().Send(ctx, ops.SendRequest{Channel: ch, Precedence: precs[i%len(precs)],
					Text: fmt.Sprintf("%s %s %d %s", n.Name, phase, i, strings.Repeat("x", 200))})
				if err != nil {
					errc <- fmt.Errorf("%s send: %w", n.Name, err)
					return
				}
				ids[j] = append(ids[j], m.ID)
			}
			errc <- nil
		}()
	}
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	return map[string][]string{p.A.Name: ids[0], p.B.Name: ids[1]}
}

// checkBothWays waits until nothing of either station's outbox on ch is
// queued, then checks that each holds what the other sent exactly once,
// in order.
func checkBothWays(t *testing.T, ctx context.Context, p *Pair, ch string, sent map[string][]string, wait time.Duration) {
	t.Helper()
	for _, n := range []*Node{p.A, p.B} {
		if err := WaitFor(ctx, n.Client(), wait, func() (bool, error) {
			ms, err := n.Client().Outbox(ctx, ch)
			for _, m := range ms {
				if m.Status == "queued" {
					return false, err
				}
			}
			return len(ms) > 0, err
		}); err != nil {
			t.Fatalf("%s's messages not all delivered: %v\n%s", n.Name, err, n.LastLog())
		}
	}
	for _, pair := range [][2]*Node{{p.A, p.B}, {p.B, p.A}} {
		from, to := pair[0], pair[1]
		in, err := to.Client().Inbox(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range in {
			if m.Kind == "text" && m.From == from.Name {
				got = append(got, m.ID)
			}
		}
		if !slices.Equal(got, sent[from.Name]) {
			t.Errorf("%s sent %v\n%s holds %v", from.Name, sent[from.Name], to.Name, got)
		}
	}
}

// TestLinkProfiles: through each named link profile, two stations as
// real processes agree a channel, and messages sent both ways at once
// arrive exactly once and in order, over real TCP and TLS meeting the
// profile's delay, loss and rate.
func TestLinkProfiles(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes in network namespaces")
	}
	for i, name := range linkemu.Names() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, err := linkemu.Named(name)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
			defer cancel()
			const ch = "ops"
			pair, tb := linkPair(t, ctx, fmt.Sprint("p", i), p, ch)
			k := 12
			if p.Rate > 0 && p.Rate < 64_000 {
				k = 6
			}
			sent := exchange(t, ctx, pair, ch, name, k)
			checkBothWays(t, ctx, pair, ch, sent, 5*time.Minute)
			ab, ba := tb.Link.Stats()
			if ab.Packets == 0 || ba.Packets == 0 {
				t.Fatalf("the link carried nothing (%d, %d packets): the stations did not talk through it", ab.Packets, ba.Packets)
			}
			t.Logf("%s: USA→CHN %d packets (%d lost), CHN→USA %d packets (%d lost)", name, ab.Packets, ab.Lost, ba.Packets, ba.Lost)
		})
	}
}

// TestLinkProfileChange: a link that turns from a satellite channel into
// a narrowband radio mid-run (lower rate, smaller MTU, more loss), with
// an outage between, loses, duplicates and misorders nothing.
func TestLinkProfileChange(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes in network namespaces")
	}
	sat, _ := linkemu.Named("satcom")
	radio, _ := linkemu.Named("narrowband")
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	const ch = "ops"
	pair, tb := linkPair(t, ctx, "chg", sat, ch)
	sent := exchange(t, ctx, pair, ch, "satellite", 8)
	// The change while those are on their way: a short outage, then the
	// radio.
	tb.Link.Cut()
	time.Sleep(2 * time.Second)
	if err := tb.Set(radio); err != nil {
		t.Fatal(err)
	}
	tb.Link.Heal()
	more := exchange(t, ctx, pair, ch, "radio", 4)
	for n, ids := range more {
		sent[n] = append(sent[n], ids...)
	}
	checkBothWays(t, ctx, pair, ch, sent, 6*time.Minute)
	if ab, _ := tb.Link.Stats(); ab.OutageDrops == 0 {
		t.Error("the outage dropped nothing: the change happened with nothing on the link")
	}
}
