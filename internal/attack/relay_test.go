package attack_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"hotline/internal/deposit"
	"hotline/internal/identity"
	"hotline/internal/ops"
	"hotline/internal/protocol"
	"hotline/internal/record"
	"hotline/internal/relay"
	"hotline/internal/station"
	"hotline/internal/stationdir"
	"hotline/internal/store"
)

// swapper is a relay's lie: it hands a station, beside its own mail, the
// latest mail it carried for another channel (for another station), as
// it was deposited, labelled with its real sender. A relay knows each
// mail's recipient but not its channel; the test, which holds every
// station's keys, opens the mail to find the channel, so that what is
// swapped is another station's traffic.
type swapper struct {
	mu      sync.Mutex
	n       int                   // mail carried
	keys    [][]*identity.Keys    // every station's keys, once they exist
	latest  map[string]relay.Mail // channel → latest mail carried for it
	swapped map[string]int        // channel the mail was for → times handed to the wrong station
}

// frameChannel is the channel of the frame a mail holds, opened with the
// keys of whichever station it is for, or "".
func (s *swapper) frameChannel(m relay.Mail) string {
	for _, ks := range s.keys {
		o, err := deposit.Open(m.Payload, m.From, ks)
		if err != nil {
			continue
		}
		f, err := protocol.DecodeFrame(o.Frame)
		if err != nil {
			return ""
		}
		return f.Channel
	}
	return ""
}

func (s *swapper) lie(m relay.Mail) []relay.Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Mail ids on one connection must grow (a station cuts off a relay
	// whose ids do not): every mail handed out gets an id of its own
	// above the real one's, below the next's.
	real := m
	real.ID = m.ID << 8
	out := []relay.Mail{real}
	ch := s.frameChannel(m)
	if ch == "" {
		return out
	}
	// One mail in three: a relay can always stop a path (it can drop
	// everything); what is tested is that nothing it swaps is taken, and
	// that the stations get through around it.
	s.n++
	for other, x := range s.latest {
		if other != ch && s.n%3 == 0 {
			x.ID = m.ID<<8 + 1
			out = append(out, x)
			s.swapped[other]++
			break
		}
	}
	s.latest[ch] = m
	return out
}

// relayNode is a station whose only path is the relay in its card.
func relayNode(t *testing.T, name string, rl *testRelay) *node {
	t.Helper()
	ctx := context.Background()
	listen := freeAddr(t)
	dir := filepath.Join(t.TempDir(), strings.ToLower(name))
	// The card's direct endpoint refuses every connection.
	if _, err := stationdir.Init(ctx, stationdir.InitOptions{Dir: dir, Name: name, Party: name,
		PeerListen: listen, APIListen: "127.0.0.1:0", Endpoints: []string{freeAddr(t)}}); err != nil {
		t.Fatal(err)
	}
	card, err := stationdir.AddRelay(ctx, dir, rl.card.Text, rl.card.Fingerprint())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := relay.Allow(ctx, rl.dir, card.Text, card.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	st, err := station.Open(ctx, dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &node{name: name, dir: dir, listen: listen, st: st}
}

// agree has a propose channel id to b over whatever path there is.
func agree(t *testing.T, a, b *node, id string) {
	t.Helper()
	ctx := context.Background()
	if _, err := a.st.Propose(ctx, ops.ProposeRequest{Peer: b.name, Channel: id, Level: "staff", CheckEvery: "24h"}); err != nil {
		t.Fatal(err)
	}
	state := func(n *node) string {
		cs, err := n.st.Channels(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if c.ID == id {
				return c.Agreement
			}
		}
		return ""
	}
	waitFor(t, id+" proposed at "+b.name, func() bool { return state(b) == record.ProposedIn })
	if _, err := b.st.Accept(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, id+" agreed at "+a.name, func() bool { return state(a) == record.Active })
}

// TestRelaySwapsRecipients: USA and RUS each have a channel with CHN,
// and the relay is every station's only path. With one mail in three the
// relay also hands USA mail CHN deposited for RUS, RUS mail for USA, and
// CHN each one's mail for the other channel, as deposited. Each station
// refuses what was not for it (a deposit sealed to another station does
// not open; one for CHN from another sender is not bound to the sender
// the relay names), counts it and raises alarms; every message still
// arrives exactly once, in order, at the station it was for, and no
// station holds anything of a channel that is not its own.
func TestRelaySwapsRecipients(t *testing.T) {
	ctx := context.Background()
	sw := &swapper{latest: map[string]relay.Mail{}, swapped: map[string]int{}}
	rl := newRelayServer(t, sw.lie)
	usa, chn, rus := relayNode(t, "USA", rl), relayNode(t, "CHN", rl), relayNode(t, "RUS", rl)
	sw.mu.Lock()
	sw.keys = [][]*identity.Keys{{usa.st.Keys}, {chn.st.Keys}, {rus.st.Keys}}
	sw.mu.Unlock()
	for _, p := range [][2]*node{{usa, chn}, {chn, usa}, {rus, chn}, {chn, rus}} {
		pin(t, p[0], p[1])
	}
	for _, n := range []*node{usa, chn, rus} {
		n.run(t)
	}
	const rusStaff = "rus-chn-staff"
	agree(t, usa, chn, staff)
	agree(t, rus, chn, rusStaff)

	// Traffic on both channels, both ways, through the swapping relay.
	type sent struct {
		from *node
		ch   string
		ids  []string
	}
	flows := []*sent{{from: usa, ch: staff}, {from: chn, ch: staff}, {from: rus, ch: rusStaff}, {from: chn, ch: rusStaff}}
	for i := range 20 {
		for _, f := range flows {
			m, err := f.from.st.Send(ctx, ops.SendRequest{Channel: f.ch, Precedence: "PRIORITY", Text: fmt.Sprintf("%s on %s %d", f.from.name, f.ch, i)})
			if err != nil {
				t.Fatal(err)
			}
			f.ids = append(f.ids, m.ID)
		}
	}
	for _, f := range flows {
		waitFor(t, "every message on "+f.ch+" from "+f.from.name+" delivered", func() bool {
			out, err := f.from.st.Outbox(ctx, f.ch)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range out {
				if m.Status == "queued" {
					return false
				}
			}
			return true
		})
	}
	sw.mu.Lock()
	swapped := fmt.Sprint(sw.swapped)
	n := sw.swapped[staff] + sw.swapped[rusStaff]
	sw.mu.Unlock()
	if n == 0 {
		t.Fatal("the relay swapped nothing: the test proved nothing")
	}

	// Exactly once, in order, at the station each message was for.
	for _, f := range flows {
		to := map[string]*node{"USA": chn, "RUS": chn}[f.from.name]
		if f.from == chn {
			to = map[string]*node{staff: usa, rusStaff: rus}[f.ch]
		}
		in, err := to.st.Inbox(ctx, f.ch)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range in {
			if m.Kind == "text" && m.From == f.from.name {
				got = append(got, m.ID)
			}
		}
		if strings.Join(got, " ") != strings.Join(f.ids, " ") {
			t.Errorf("%s sent on %s %v\n%s holds %v", f.from.name, f.ch, f.ids, to.name, got)
		}
	}
	// Nothing of another channel was taken anywhere.
	for _, c := range []struct {
		n     *node
		other string
	}{{usa, rusStaff}, {rus, staff}} {
		ms, err := c.n.st.Store.Messages(ctx, store.Query{Channel: c.other})
		if err != nil {
			t.Fatal(err)
		}
		cs, err := c.n.st.Store.Channels(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != 0 || len(cs) != 1 {
			t.Errorf("%s holds %d entries of %s and %d channels; want none of it, and its own channel only", c.n.name, len(ms), c.other, len(cs))
		}
	}
	// What was not for them was refused, counted and told.
	total := 0
	for _, n := range []*node{usa, rus, chn} {
		r := refused(t, n)
		t.Logf("%s refused %v", n.name, r)
		for _, reason := range []string{"relay deposit", "misaddressed entry", "bad receipt", "bad resend", "unknown channel", "wrong peer", "wrong author", "bad checkpoint"} {
			total += r[reason]
		}
	}
	if total == 0 {
		t.Errorf("the relay swapped %s, and no station refused anything", swapped)
	}
	if len(alerts(t, usa, "alarm", "relay deposit"))+len(alerts(t, rus, "alarm", "relay deposit"))+
		len(alerts(t, usa, "alarm"))+len(alerts(t, rus, "alarm")) == 0 {
		t.Error("no alarm told operators what the relay did")
	}
	t.Logf("the relay swapped %s", swapped)
}
