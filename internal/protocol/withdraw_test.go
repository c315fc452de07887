package protocol

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"hotline/internal/channel"
	"hotline/internal/envelope"
	"hotline/internal/identity"
	"hotline/internal/record"
	"hotline/internal/transcript"
)

// Withdrawing a proposal (docs/PROTOCOL.md, "Channels", "Withdraw"): the
// proposer's withdraw entry, the peer following it, the refusals, a
// withdrawal crossing an acceptance, and crossing proposals resolved.

// newPairSim is two pinned cores with no channel.
func newPairSim(t *testing.T, seed uint64) *sim {
	t.Helper()
	s := &sim{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), now: time.Unix(1_800_000_000, 0),
		conns: map[ConnID][2]*simNode{}, counts: map[string]int{}, lastAt: map[ConnID]time.Time{}}
	a, b := newSimNode(t, "ALPHA"), newSimNode(t, "BRAVO")
	s.nodes = []*simNode{a, b}
	s.request(a, func(id uint64) Event { return AddPeer{ID: id, Card: b.card} })
	s.request(b, func(id uint64) Event { return AddPeer{ID: id, Card: a.card} })
	s.settle(100)
	return s
}

func (s *sim) do(n *simNode, ev func(id uint64) Event) error {
	s.t.Helper()
	id := s.request(n, ev)
	s.settle(2000)
	d, ok := n.done[id]
	if !ok {
		s.t.Fatalf("%s: request %d never completed", n.name, id)
	}
	return d.Err
}

func chanOf(t *testing.T, n *simNode, id string) ChannelInfo {
	t.Helper()
	for _, c := range n.core.Channels() {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("%s has no channel %s", n.name, id)
	return ChannelInfo{}
}

func wantAgreement(t *testing.T, n *simNode, id, want string) {
	t.Helper()
	if got := chanOf(t, n, id).Agreement; got != want {
		t.Fatalf("%s: channel %s is %s, want %s", n.name, id, got, want)
	}
}

// sameLogs: after settling, each station holds the other's log of the
// channel byte for byte, receipted.
func sameLogs(t *testing.T, s *sim, ch string) {
	t.Helper()
	for _, n := range s.nodes {
		k := ch + "/" + n.name
		mine, theirs := n.disk.entries[k], s.peerOf(n).disk.entries[k]
		if len(mine) != len(theirs) {
			t.Fatalf("log %s: author holds %d entries, receiver %d", k, len(mine), len(theirs))
		}
		for i := range mine {
			if !bytes.Equal(mine[i].Raw, theirs[i].Raw) {
				t.Fatalf("log %s differs at %d", k, i+1)
			}
		}
		if l := n.disk.logs[k]; len(mine) > 0 && (l == nil || l.ReceiptSize != uint64(len(mine))) {
			t.Fatalf("log %s: %d entries, receipt %+v", k, len(mine), l)
		}
	}
}

func logKinds(n *simNode, k string) []envelope.Kind {
	var out []envelope.Kind
	for _, e := range n.disk.entries[k] {
		out = append(out, e.Kind)
	}
	return out
}

func hasAlert(n *simNode, sub string) bool {
	for _, a := range n.alerts {
		if strings.Contains(a.Text, sub) {
			return true
		}
	}
	return false
}

func propose(ch, peer string) func(uint64) Event {
	return func(id uint64) Event { return Propose{ID: id, Channel: ch, Peer: peer, Level: channel.Staff} }
}

func withdraw(ch string) func(uint64) Event {
	return func(id uint64) Event { return Withdraw{ID: id, Channel: ch, By: "Maj. Lee", Reason: "wrong level"} }
}

func accept(ch string) func(uint64) Event {
	return func(id uint64) Event { return Accept{ID: id, Channel: ch} }
}

func TestWithdrawProposal(t *testing.T) {
	s := newPairSim(t, 1)
	a, b := s.nodes[0], s.nodes[1]
	if err := s.do(a, propose("x", "BRAVO")); err != nil {
		t.Fatal(err)
	}
	wantAgreement(t, b, "x", record.ProposedIn)
	if err := s.do(a, propose("y", "BRAVO")); err != nil {
		t.Fatal(err)
	}
	if err := s.do(b, accept("y")); err != nil {
		t.Fatal(err)
	}

	// Refusals that change nothing.
	for _, c := range []struct {
		n    *simNode
		ev   func(uint64) Event
		want string
	}{
		{a, withdraw("nope"), "unknown channel"},
		{a, withdraw("y"), "accepted by BRAVO already"},
		{b, withdraw("x"), "proposed by ALPHA, not by this station"},
		{a, func(id uint64) Event { return Withdraw{ID: id, Channel: "x", By: ""} }, "needs who did it"},
		{a, func(id uint64) Event { return Withdraw{ID: id, Channel: "x", By: "a\u202eb"} }, "invisible"},
		{a, accept("x"), "this station's own proposal"},
	} {
		before := len(c.n.disk.entries["x/"+c.n.name]) + len(c.n.disk.entries["y/"+c.n.name])
		err := s.do(c.n, c.ev)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s: got %v, want %q", c.n.name, err, c.want)
		}
		if after := len(c.n.disk.entries["x/"+c.n.name]) + len(c.n.disk.entries["y/"+c.n.name]); after != before {
			t.Fatalf("a refused request wrote %d entries", after-before)
		}
	}
	wantAgreement(t, a, "x", record.ProposedOut)
	wantAgreement(t, b, "x", record.ProposedIn)

	if err := s.do(a, withdraw("x")); err != nil {
		t.Fatal(err)
	}
	wantAgreement(t, a, "x", record.Withdrawn)
	wantAgreement(t, b, "x", record.Withdrawn)
	if got := logKinds(b, "x/ALPHA"); len(got) != 2 || got[1] != envelope.Withdraw {
		t.Fatalf("BRAVO holds ALPHA's log x as %v", got)
	}
	sameLogs(t, s, "x")
	if !hasAlert(b, "ALPHA withdrew its proposal of channel x (by Maj. Lee) wrong level") {
		t.Fatalf("BRAVO was not told: %v", b.alerts)
	}
	err := s.do(b, accept("x"))
	if !errors.Is(err, ErrWithdrawn) || !strings.Contains(err.Error(), "ALPHA withdrew its proposal of channel x") {
		t.Fatalf("accept of a withdrawn proposal: %v", err)
	}
	if err := s.do(a, withdraw("x")); !errors.Is(err, ErrWithdrawn) {
		t.Fatalf("second withdrawal: %v", err)
	}
	if err := s.do(a, propose("x", "BRAVO")); err == nil || !strings.Contains(err.Error(), "withdrawn") {
		t.Fatalf("a withdrawn id proposed again: %v", err)
	}
	// A withdrawn channel takes no operator's entry.
	err = s.do(a, func(id uint64) Event {
		return Submit{ID: id, Channel: "x", Kind: envelope.Text, Precedence: envelope.Routine, Body: textBody(1)}
	})
	if !errors.Is(err, ErrNotActive) {
		t.Fatalf("text on a withdrawn channel: %v", err)
	}

	// Both restart from their disks: still withdrawn, and the channel
	// agreed beside it still carries messages.
	s.crash(a)
	s.crash(b)
	s.settle(2000)
	wantAgreement(t, a, "x", record.Withdrawn)
	wantAgreement(t, b, "x", record.Withdrawn)
	if err := s.do(b, accept("x")); !errors.Is(err, ErrWithdrawn) {
		t.Fatalf("accept after a restart: %v", err)
	}
	if err := s.do(a, func(id uint64) Event {
		return Submit{ID: id, Channel: "y", Kind: envelope.Text, Precedence: envelope.Routine, Body: textBody(2)}
	}); err != nil {
		t.Fatal(err)
	}
	sameLogs(t, s, "x")
	sameLogs(t, s, "y")
}

// TestCrossingProposalsResolved: both stations propose the same channel id to
// each other. Each refuses the other's proposal, with the reason and the
// fix; once one withdraws, the other's proposal waits there and is
// accepted, and the channel carries messages both ways, across restarts.
func TestCrossingProposalsResolved(t *testing.T) {
	for _, who := range []int{0, 1} {
		s := newPairSim(t, 2)
		a, b := s.nodes[0], s.nodes[1]
		s.request(a, propose("x", "BRAVO"))
		s.request(b, propose("x", "ALPHA"))
		s.settle(2000)
		wantAgreement(t, a, "x", record.ProposedOut)
		wantAgreement(t, b, "x", record.ProposedOut)
		if !hasAlert(a, "BRAVO and this station both proposed channel x") || !hasAlert(b, "ALPHA and this station both proposed channel x") {
			t.Fatalf("crossing not told: %v / %v", a.alerts, b.alerts)
		}
		w, o := s.nodes[who], s.nodes[1-who]
		if err := s.do(w, withdraw("x")); err != nil {
			t.Fatal(err)
		}
		// The withdrawing station now holds the other's proposal; the
		// other's own stands.
		wantAgreement(t, w, "x", record.ProposedIn)
		wantAgreement(t, o, "x", record.ProposedOut)
		if p := chanOf(t, w, "x"); p.Peer != o.name {
			t.Fatalf("channel x at %s is with %s", w.name, p.Peer)
		}
		if !hasAlert(o, w.name+" withdrew its proposal of channel x, which crossed this station's") {
			t.Fatalf("%s not told: %v", o.name, o.alerts)
		}
		if err := s.do(o, accept("x")); err == nil || !strings.Contains(err.Error(), "own proposal") {
			t.Fatalf("the proposer accepting its own: %v", err)
		}
		if err := s.do(w, accept("x")); err != nil {
			t.Fatal(err)
		}
		wantAgreement(t, w, "x", record.Active)
		wantAgreement(t, o, "x", record.Active)
		// The withdrawing station's log: its proposal, its withdrawal,
		// then its acceptance of the other's charter.
		if got := logKinds(o, "x/"+w.name); len(got) != 3 || got[0] != envelope.Agreement || got[1] != envelope.Withdraw || got[2] != envelope.Agreement {
			t.Fatalf("%s holds %s's log as %v", o.name, w.name, got)
		}
		for i, n := range s.nodes {
			if err := s.do(n, func(id uint64) Event {
				return Submit{ID: id, Channel: "x", Kind: envelope.Text, Precedence: envelope.Flash, Body: textBody(i)}
			}); err != nil {
				t.Fatal(err)
			}
		}
		s.crash(a)
		s.crash(b)
		s.settle(2000)
		wantAgreement(t, a, "x", record.Active)
		wantAgreement(t, b, "x", record.Active)
		for i, n := range s.nodes {
			if err := s.do(n, func(id uint64) Event {
				return Submit{ID: id, Channel: "x", Kind: envelope.Text, Precedence: envelope.Routine, Body: textBody(10 + i)}
			}); err != nil {
				t.Fatal(err)
			}
		}
		sameLogs(t, s, "x")
		if got := len(a.disk.entries["x/BRAVO"]) + len(b.disk.entries["x/ALPHA"]); got != 1+3+4 {
			t.Fatalf("%d entries in both logs", got)
		}
	}
}

// TestCrossingBothWithdraw: both withdraw their crossing proposals: the
// channel is withdrawn on both sides, nothing waits.
func TestCrossingBothWithdraw(t *testing.T) {
	s := newPairSim(t, 3)
	a, b := s.nodes[0], s.nodes[1]
	s.request(a, propose("x", "BRAVO"))
	s.request(b, propose("x", "ALPHA"))
	s.request(a, withdraw("x"))
	s.request(b, withdraw("x"))
	s.settle(2000)
	wantAgreement(t, a, "x", record.Withdrawn)
	wantAgreement(t, b, "x", record.Withdrawn)
	sameLogs(t, s, "x")
	for _, n := range s.nodes {
		if err := s.do(n, accept("x")); !errors.Is(err, ErrWithdrawn) {
			t.Fatalf("%s: accept: %v", n.name, err)
		}
	}
}

// TestWithdrawCrossesAcceptance: the peer accepts while the withdrawal is
// on its way, and writes a message: the withdrawal stands on both sides,
// both logs are taken whole, nothing waits.
func TestWithdrawCrossesAcceptance(t *testing.T) {
	s := newPairSim(t, 4)
	a, b := s.nodes[0], s.nodes[1]
	if err := s.do(a, propose("x", "BRAVO")); err != nil {
		t.Fatal(err)
	}
	s.noDial = true
	for id := range s.conns {
		s.cut(id)
	}
	s.request(b, accept("x"))
	s.request(b, func(id uint64) Event {
		return Submit{ID: id, Channel: "x", Kind: envelope.Text, Precedence: envelope.Flash, Body: textBody(1)}
	})
	s.request(a, withdraw("x"))
	s.settle(100)
	wantAgreement(t, a, "x", record.Withdrawn)
	wantAgreement(t, b, "x", record.Active)
	s.noDial = false
	s.settle(2000)
	wantAgreement(t, a, "x", record.Withdrawn)
	wantAgreement(t, b, "x", record.Withdrawn)
	sameLogs(t, s, "x")
	if !hasAlert(b, "before this station's acceptance reached it") || !hasAlert(a, "accepted channel x after this station withdrew it") {
		t.Fatalf("not told: %v / %v", a.alerts, b.alerts)
	}
	for _, n := range s.nodes {
		if ci := chanOf(t, n, "x"); ci.AwaitingHere != 0 || ci.AwaitingPeer != 0 {
			t.Fatalf("%s awaits %d entries here and %d at the peer on a withdrawn channel", n.name, ci.AwaitingHere, ci.AwaitingPeer)
		}
	}
	// Nor after a restart, and no ladder step is taken on it.
	s.crash(a)
	s.crash(b)
	s.settle(2000)
	for _, n := range s.nodes {
		if ci := chanOf(t, n, "x"); ci.AwaitingHere != 0 || ci.AwaitingPeer != 0 {
			t.Fatalf("%s awaits %d entries here and %d at the peer on a withdrawn channel after a restart", n.name, ci.AwaitingHere, ci.AwaitingPeer)
		}
	}
	before := len(b.alerts)
	for range 40 {
		s.now = s.now.Add(time.Minute)
		for _, n := range s.nodes {
			s.step(n, Tick{})
		}
		s.settle(2000)
	}
	for _, al := range b.alerts[before:] {
		if al.Channel == "x" {
			t.Errorf("BRAVO alert on the withdrawn channel: %s", al.Text)
		}
	}
	if got := logKinds(b, "x/BRAVO"); len(got) != 2 {
		t.Errorf("BRAVO's log x after 40 minutes: %v, want its agreement and its message only", got)
	}
}

// TestCrossingAcrossRotation: the station that withdraws its crossing
// proposal changes its keys between its proposal and its acceptance of
// the other's, so its acceptance is signed by a later key than its entry
// 1. Both restart from their disks with the channel active, and both
// transcripts verify.
func TestCrossingAcrossRotation(t *testing.T) {
	s := newPairSim(t, 5)
	a, b := s.nodes[0], s.nodes[1]
	card0 := b.card
	s.request(a, propose("x", "BRAVO"))
	s.request(b, propose("x", "ALPHA"))
	s.settle(2000)
	if d := s.rotate(b, identity.ReasonRotate); d.Err != nil {
		t.Fatal(d.Err)
	}
	if err := s.do(b, withdraw("x")); err != nil {
		t.Fatal(err)
	}
	wantAgreement(t, b, "x", record.ProposedIn)
	if err := s.do(b, accept("x")); err != nil {
		t.Fatal(err)
	}
	wantAgreement(t, a, "x", record.Active)
	s.crash(a)
	s.crash(b)
	s.settle(2000)
	wantAgreement(t, a, "x", record.Active)
	wantAgreement(t, b, "x", record.Active)
	if got := logKinds(a, "x/BRAVO"); !slices.Equal(got, []envelope.Kind{envelope.Agreement, envelope.Key, envelope.Withdraw, envelope.Agreement}) {
		t.Fatalf("BRAVO's log x: %v", got)
	}
	sameLogs(t, s, "x")
	for _, n := range s.nodes {
		if _, err := transcript.Verify(bundleOf(t, n, "x", a.card, card0)); err != nil {
			t.Errorf("%s's transcript of x: %v", n.name, err)
		}
	}
}
