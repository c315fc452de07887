package station

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"hotline/internal/badrequest"
	"hotline/internal/ops"
	"hotline/internal/stationdir"
	"hotline/internal/transcript"
)

// openPinned opens two stations in this process, pinned to each other,
// not yet running (no path between them).
func openPinned(t *testing.T) (usa, chn *Station) {
	t.Helper()
	ctx := t.Context()
	root := t.TempDir()
	open := func(name string) *Station {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		dir := filepath.Join(root, name)
		if _, err := stationdir.Init(ctx, stationdir.InitOptions{Dir: dir, Name: name, Party: name, PeerListen: addr, APIListen: "127.0.0.1:0"}); err != nil {
			t.Fatal(err)
		}
		st, err := Open(ctx, dir, quietLog())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	usa, chn = open("USA"), open("CHN")
	for _, pin := range [][2]*Station{{usa, chn}, {chn, usa}} {
		if _, err := pin[0].AddPeer(ctx, pin[1].OwnCard.Text, pin[1].OwnCard.Fingerprint()); err != nil {
			t.Fatal(err)
		}
	}
	return usa, chn
}

func agreementOf(t *testing.T, st *Station, id string) string {
	t.Helper()
	cs, err := st.Channels(context.Background())
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

// TestWithdrawBetweenStations: two real stations over real TLS. USA
// proposes "solo" and both propose "x" before either hears from the other
// (crossing proposals, each refused by the other). USA withdraws "solo":
// CHN follows, and refuses to accept it, with the reason. CHN withdraws
// its "x": USA's proposal then waits at CHN, is accepted, and the channel
// carries a message; both transcripts verify across the withdrawal.
func TestWithdrawBetweenStations(t *testing.T) {
	ctx := t.Context()
	usa, chn := openPinned(t)
	for _, p := range []struct {
		st       *Station
		peer, ch string
	}{{usa, "CHN", "solo"}, {usa, "CHN", "x"}, {chn, "USA", "x"}} {
		if _, err := p.st.Propose(ctx, ops.ProposeRequest{Peer: p.peer, Channel: p.ch, Level: "staff"}); err != nil {
			t.Fatal(err)
		}
	}
	go usa.Run(ctx)
	go chn.Run(ctx)
	eventually(t, "solo proposed at CHN", func() bool { return agreementOf(t, chn, "solo") == "incoming" })
	eventually(t, "the crossing refused on both sides", func() bool {
		return refusedOf(t, usa, "crossing proposals") > 0 && refusedOf(t, chn, "crossing proposals") > 0
	})

	// Bad requests change nothing.
	for _, c := range []struct {
		st   *Station
		r    ops.WithdrawRequest
		want string
	}{
		{usa, ops.WithdrawRequest{Channel: "nope", By: "Maj. Lee"}, "unknown channel"},
		{chn, ops.WithdrawRequest{Channel: "solo", By: "Maj. Lee"}, "proposed by USA, not by this station"},
		{usa, ops.WithdrawRequest{Channel: "solo"}, "say who withdraws it"},
	} {
		_, err := c.st.Withdraw(ctx, c.r)
		if err == nil || !errors.Is(err, badrequest.Err) || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("withdraw %+v: %v, want a bad request saying %q", c.r, err, c.want)
		}
	}
	if got := agreementOf(t, usa, "solo"); got != "proposed" {
		t.Fatalf("solo at USA is %s after refused withdrawals", got)
	}

	if _, err := usa.Withdraw(ctx, ops.WithdrawRequest{Channel: "solo", By: "Maj. Lee", Reason: "wrong level"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "CHN follows the withdrawal", func() bool { return agreementOf(t, chn, "solo") == "withdrawn" })
	if _, err := chn.Accept(ctx, "solo"); err == nil || !errors.Is(err, badrequest.Err) || !strings.Contains(err.Error(), "USA withdrew its proposal of channel solo") {
		t.Fatalf("accepting a withdrawn proposal: %v", err)
	}

	if _, err := chn.Withdraw(ctx, ops.WithdrawRequest{Channel: "x", By: "Col. Wang", Reason: "crossed USA's"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "USA's proposal of x waiting at CHN", func() bool { return agreementOf(t, chn, "x") == "incoming" })
	// CHN restarts: the channel it withdrew and now holds from USA is
	// read back as USA's proposal.
	chn.Close()
	chn, err := Open(ctx, chn.Dir, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { chn.Close() })
	go chn.Run(ctx)
	if got := agreementOf(t, chn, "x"); got != "incoming" {
		t.Fatalf("x at CHN after a restart is %s", got)
	}
	if got := agreementOf(t, usa, "x"); got != "proposed" {
		t.Fatalf("x at USA is %s", got)
	}
	if _, err := chn.Accept(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "x active at USA", func() bool { return agreementOf(t, usa, "x") == "active" })
	if _, err := usa.Withdraw(ctx, ops.WithdrawRequest{Channel: "x", By: "Maj. Lee"}); err == nil || !strings.Contains(err.Error(), "accepted by CHN already") {
		t.Fatalf("withdrawing an accepted channel: %v", err)
	}
	if _, err := usa.Send(ctx, ops.SendRequest{Channel: "x", Precedence: "FLASH", Text: "agreed at last"}); err != nil {
		t.Fatal(err)
	}
	if _, err := chn.Send(ctx, ops.SendRequest{Channel: "x", Precedence: "FLASH", Text: "agreed"}); err != nil {
		t.Fatal(err)
	}
	for _, st := range []*Station{usa, chn} {
		eventually(t, "messages delivered", func() bool {
			out, err := st.Outbox(ctx, "x")
			return err == nil && len(out) == 1 && out[0].Status != "queued"
		})
	}
	for _, st := range []*Station{usa, chn} {
		b, err := st.Export(ctx, "x")
		if err != nil {
			t.Fatal(err)
		}
		rep, err := transcript.Verify(b)
		if err != nil {
			t.Fatalf("transcript of x: %v", err)
		}
		for _, l := range rep.Limits {
			if strings.Contains(l, "charter") {
				t.Errorf("limit: %s", l)
			}
		}
	}
}
