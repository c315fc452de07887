package storetest

import (
	"errors"
	"fmt"
	"testing"

	"hotline/internal/store"
)

// Groups of peers and broadcasts: what a station keeps of its acts
// addressed to several parties.

func testGroups(t *testing.T, w *world, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	if gs, err := s.Groups(ctx); err != nil || len(gs) != 0 {
		t.Fatalf("Groups of an empty store = %v, %v", gs, err)
	}
	scs := store.Group{Name: "SCS navies", Peers: []string{"MYS", "PHL", "VNM"}, UpdatedAt: at(1)}
	if err := s.SetGroup(ctx, scs); err != nil {
		t.Fatal(err)
	}
	if err := s.SetGroup(ctx, store.Group{Name: "东盟", Peers: []string{"IDN"}, UpdatedAt: at(2)}); err != nil {
		t.Fatal(err)
	}
	// Setting a group again replaces its peers.
	scs.Peers, scs.UpdatedAt = []string{"MYS", "VNM"}, at(3)
	if err := s.SetGroup(ctx, scs); err != nil {
		t.Fatal(err)
	}
	gs, err := s.Groups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(len(gs))
	for _, g := range gs {
		got += fmt.Sprintf(" %s=%q@%s", g.Name, g.Peers, showTime(g.UpdatedAt))
	}
	want := fmt.Sprintf("2 SCS navies=[\"MYS\" \"VNM\"]@%s 东盟=[\"IDN\"]@%s", showTime(at(3).UTC()), showTime(at(2).UTC()))
	if got != want {
		t.Errorf("Groups = %s\nwant %s", got, want)
	}
	if err := s.RemoveGroup(ctx, "SCS navies"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveGroup(ctx, "SCS navies"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RemoveGroup of a removed group = %v, want ErrNotFound", err)
	}
	if gs, err := s.Groups(ctx); err != nil || len(gs) != 1 || gs[0].Name != "东盟" {
		t.Errorf("Groups after removal = %+v, %v", gs, err)
	}
}

func showBroadcast(b store.Broadcast) string {
	s := fmt.Sprintf("%s %s %s %s to=%q %q:", b.ID, b.Kind, b.Precedence, showTime(b.At), b.To, b.Summary)
	for _, p := range b.Parties {
		s += fmt.Sprintf(" {%s %s %s %q}", p.Peer, p.Channel, p.Entry, p.Refused)
	}
	return s
}

func testBroadcasts(t *testing.T, w *world, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	if bs, err := s.Broadcasts(ctx, 0); err != nil || len(bs) != 0 {
		t.Fatalf("Broadcasts of an empty store = %v, %v", bs, err)
	}
	first := store.Broadcast{ID: "b-0000000000000001", Kind: "notice", Precedence: "PRIORITY", At: at(1), To: "all",
		Summary: "实弹射击", Parties: []store.BroadcastParty{
			{Peer: "VNM", Channel: "vnm-staff"},
			{Peer: "PHL", Channel: "phl-staff"},
			{Peer: "MYS", Refused: "channel mys-staff is suspended"},
		}}
	second := store.Broadcast{ID: "b-0000000000000002", Kind: "text", Precedence: "FLASH", At: at(2), To: "SCS navies,IDN",
		Summary: "hold position", Parties: []store.BroadcastParty{{Peer: "IDN", Channel: "idn-staff"}}}
	for _, b := range []store.Broadcast{first, second} {
		if err := s.AddBroadcast(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	// Times come back in UTC.
	first.At, second.At = first.At.UTC(), second.At.UTC()
	// An ID is stored once: the second add changes nothing.
	again := second
	again.Summary = "other"
	if err := s.AddBroadcast(ctx, again); !errors.Is(err, store.ErrConflict) {
		t.Errorf("AddBroadcast with a taken ID = %v, want ErrConflict", err)
	}
	if err := s.SetBroadcastParty(ctx, first.ID, store.BroadcastParty{Peer: "PHL", Channel: "phl-staff", Entry: "phl-staff/USA/4"}); err != nil {
		t.Fatal(err)
	}
	first.Parties[1].Entry = "phl-staff/USA/4"
	if err := s.SetBroadcastParty(ctx, first.ID, store.BroadcastParty{Peer: "CHN", Entry: "x/USA/1"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetBroadcastParty of a party not listed = %v, want ErrNotFound", err)
	}
	if err := s.SetBroadcastParty(ctx, "b-00000000000000ff", store.BroadcastParty{Peer: "PHL"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetBroadcastParty of no broadcast = %v, want ErrNotFound", err)
	}
	b, err := s.Broadcast(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := showBroadcast(*b), showBroadcast(first); got != want {
		t.Errorf("Broadcast = %s\nwant %s", got, want)
	}
	if _, err := s.Broadcast(ctx, "b-00000000000000ff"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Broadcast of none = %v, want ErrNotFound", err)
	}
	bs, err := s.Broadcasts(ctx, 0)
	if err != nil || len(bs) != 2 {
		t.Fatalf("Broadcasts = %d, %v; want 2", len(bs), err)
	}
	if got, want := showBroadcast(bs[0])+"\n"+showBroadcast(bs[1]), showBroadcast(second)+"\n"+showBroadcast(first); got != want {
		t.Errorf("Broadcasts, newest first =\n%s\nwant\n%s", got, want)
	}
	if bs, err := s.Broadcasts(ctx, 1); err != nil || len(bs) != 1 || bs[0].ID != second.ID {
		t.Errorf("Broadcasts(1) = %+v, %v; want the newest", bs, err)
	}
}

func testIntroductions(t *testing.T, w *world, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	if ins, err := s.Introductions(ctx); err != nil || len(ins) != 0 {
		t.Fatalf("Introductions of an empty store = %v, %v", ins, err)
	}
	show := func(ins []store.Introduction) string {
		var out string
		for _, in := range ins {
			out += fmt.Sprintf("{%s by %s %q confirmed %s at %s}", in.Peer, in.Introducer, in.Statement, in.ConfirmedBy, showTime(in.At))
		}
		return out
	}
	vnm := store.Introduction{Peer: "VNM", Introducer: "JPN", Statement: []byte("hotline introduction v1\n…\n\n— JPN x\n"), ConfirmedBy: "吴中校", At: at(1)}
	chn := store.Introduction{Peer: "CHN", Introducer: "JPN", Statement: []byte{0, 1}, ConfirmedBy: "duty", At: at(2)}
	for _, in := range []store.Introduction{vnm, chn} {
		if err := s.AddIntroduction(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	// A peer re-pinned on another introduction keeps the latest.
	vnm.Introducer, vnm.At = "PHL", at(3)
	if err := s.AddIntroduction(ctx, vnm); err != nil {
		t.Fatal(err)
	}
	ins, err := s.Introductions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	vnm.At, chn.At = vnm.At.UTC(), chn.At.UTC()
	if got, want := show(ins), show([]store.Introduction{chn, vnm}); got != want {
		t.Errorf("Introductions = %s\nwant %s", got, want)
	}
}
