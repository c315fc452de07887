package station_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"hotline/internal/home"
	"hotline/internal/identity"
	"hotline/internal/link"
	"hotline/internal/ops"
	"hotline/internal/station"
	"hotline/internal/stationdir"
	"hotline/internal/transcript"
)

// keyPair opens two stations on loopback with real SQLite stores, pins
// them to each other, runs them and agrees channel ops. It returns their
// directories and a function to stop one (for restarting it).
type keyPair struct {
	t        *testing.T
	dirs     map[string]string
	st       map[string]*station.Station
	cancel   map[string]context.CancelFunc
	finished map[string]chan error
}

func newKeyPair(t *testing.T) *keyPair {
	t.Helper()
	p := &keyPair{t: t, dirs: map[string]string{}, st: map[string]*station.Station{}, cancel: map[string]context.CancelFunc{}, finished: map[string]chan error{}}
	cards := map[string]*identity.Card{}
	for _, n := range []string{"USA", "CHN"} {
		p.dirs[n], cards[n] = initStation(t, n, freeAddr(t))
	}
	for _, n := range []string{"USA", "CHN"} {
		p.start(n)
	}
	ctx := t.Context()
	for a, b := range map[string]string{"USA": "CHN", "CHN": "USA"} {
		if _, err := p.st[a].AddPeer(ctx, cards[b].Text, cards[b].Fingerprint()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.st["USA"].Propose(ctx, ops.ProposeRequest{Peer: "CHN", Channel: "ops", Level: "staff"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, p.st["CHN"], "the proposal", func() bool { return p.channel("CHN").Agreement == "incoming" })
	if _, err := p.st["CHN"].Accept(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, p.st["USA"], "the agreement", func() bool { return p.channel("USA").Agreement == "active" })
	return p
}

func (p *keyPair) start(n string) {
	st, err := station.Open(context.Background(), p.dirs[n], quiet())
	if err != nil {
		p.t.Fatalf("open %s: %v", n, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx) }()
	p.st[n], p.cancel[n], p.finished[n] = st, cancel, done
	p.t.Cleanup(func() { p.stop(n) })
}

func (p *keyPair) stop(n string) {
	if p.st[n] == nil {
		return
	}
	p.cancel[n]()
	<-p.finished[n]
	p.st[n].Close()
	p.st[n] = nil
}

func (p *keyPair) channel(n string) ops.ChannelView {
	chs, err := p.st[n].Channels(context.Background())
	if err != nil {
		p.t.Fatal(err)
	}
	for _, c := range chs {
		if c.ID == "ops" {
			return c
		}
	}
	return ops.ChannelView{}
}

// send sends a text and waits until the peer has receipted everything.
func (p *keyPair) send(from, text string) {
	p.t.Helper()
	if _, err := p.st[from].Send(context.Background(), ops.SendRequest{Channel: "ops", Precedence: "ROUTINE", Text: text}); err != nil {
		p.t.Fatalf("%s sends %q: %v", from, text, err)
	}
	waitUntil(p.t, p.st[from], "delivery of "+text, func() bool { c := p.channel(from); return c.Delivered == c.Written })
}

// inbox lists the texts a station received on ops.
func (p *keyPair) inbox(n string) []string {
	ms, err := p.st[n].Inbox(context.Background(), "ops")
	if err != nil {
		p.t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		if m.Text != "" {
			out = append(out, m.Text)
		}
	}
	return out
}

func (p *keyPair) verify(n string) *transcript.Report {
	p.t.Helper()
	b, err := p.st[n].Export(context.Background(), "ops")
	if err != nil {
		p.t.Fatal(err)
	}
	rep, err := transcript.Verify(b)
	if err != nil {
		p.t.Fatalf("%s's transcript: %v", n, err)
	}
	return rep
}

// TestKeyRotationTwoStations: two stations over real TLS with real
// SQLite. USA rotates its keys mid-conversation; CHN follows, and messages
// before and after go both ways. Then USA rotates again while CHN is
// stopped: CHN, restarted with the previous key pinned, dials USA, follows
// the statements USA's certificate carries, and takes the key entry.
// Both transcripts verify across both changes; the old keys are kept in
// keys/retired with mode 0600.
func TestKeyRotationTwoStations(t *testing.T) {
	p := newKeyPair(t)
	ctx := t.Context()
	p.send("USA", "before")
	p.send("CHN", "reply before")
	old, _ := p.st["USA"].Card(ctx)
	rot, err := p.st["USA"].RotateKeys(ctx, ops.KeyRequest{Reason: identity.ReasonRotate, By: "signal officer"})
	if err != nil {
		t.Fatal(err)
	}
	oldCard, _ := identity.ParseCard(old)
	if rot.OldFingerprint != oldCard.Fingerprint() || rot.Fingerprint == rot.OldFingerprint || rot.Channels != 1 || len(rot.Keys) != 2 {
		t.Fatalf("rotation view %+v", rot)
	}
	waitUntil(t, p.st["CHN"], "CHN's operators to be told", func() bool {
		return len(alertsContaining(t, p.st["CHN"], "USA rotated its keys", rot.Fingerprint)) == 1
	})
	if ks, err := p.st["CHN"].KeyHistory(ctx, "USA"); err != nil || len(ks) != 2 || ks[1].Fingerprint != rot.Fingerprint || !ks[1].Current {
		t.Errorf("CHN's key history of USA: %+v, %v", ks, err)
	}
	p.send("USA", "after")
	p.send("CHN", "reply after")
	if got := p.inbox("CHN"); !slices.Equal(got, []string{"before", "after"}) {
		t.Errorf("CHN's inbox %q", got)
	}
	if got := p.inbox("USA"); !slices.Equal(got, []string{"reply before", "reply after"}) {
		t.Errorf("USA's inbox %q", got)
	}
	// Second rotation, CHN away.
	p.stop("CHN")
	rot2, err := p.st["USA"].RotateKeys(ctx, ops.KeyRequest{Reason: identity.ReasonRotate, By: "signal officer", Note: "scheduled"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.st["USA"].Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "FLASH", Text: "while you were away"}); err != nil {
		t.Fatal(err)
	}
	p.start("CHN")
	defer func() {
		if t.Failed() {
			for _, n := range []string{"USA", "CHN"} {
				if p.st[n] != nil {
					t.Logf("%s alerts: %+v", n, alertsContaining(t, p.st[n]))
				}
			}
		}
	}()
	waitUntil(t, p.st["USA"], "catch-up after the second rotation", func() bool { c := p.channel("USA"); return c.Delivered == c.Written })
	ks, err := p.st["CHN"].KeyHistory(ctx, "USA")
	if err != nil || len(ks) != 3 || ks[2].Fingerprint != rot2.Fingerprint {
		t.Fatalf("CHN's key history of USA: %+v, %v", ks, err)
	}
	p.send("CHN", "welcome back")
	if got := p.inbox("USA"); !slices.Equal(got, []string{"reply before", "reply after", "welcome back"}) {
		t.Errorf("USA's inbox %q", got)
	}
	for _, n := range []string{"USA", "CHN"} {
		rep := p.verify(n)
		for _, l := range rep.Logs {
			if l.Author == "USA" && (l.Keys != 3 || l.Fingerprints[0] != oldCard.Fingerprint() || l.Fingerprints[2] != rot2.Fingerprint) {
				t.Errorf("%s's transcript shows USA's keys %v", n, l.Fingerprints)
			}
		}
	}
	// A restart of USA finds its keys where the store says.
	p.stop("USA")
	for _, seq := range []string{"0", "1"} {
		for _, f := range []string{"signing.key", "kem.key"} {
			fi, err := os.Stat(filepath.Join(p.dirs["USA"], "keys", "retired", seq, f))
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("retired key %s/%s: %v %v", seq, f, fi, err)
			}
		}
	}
	// A backup carries the retired keys, and a restore brings them back.
	bk := filepath.Join(t.TempDir(), "usa.tar")
	if err := stationdir.Backup(ctx, p.dirs["USA"], bk); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(bk)
	if err != nil {
		t.Fatal(err)
	}
	restored := filepath.Join(t.TempDir(), "usa")
	if err := stationdir.Restore(ctx, restored, f); err != nil {
		t.Fatalf("restore: %v", err)
	}
	f.Close()
	for _, seq := range []string{"0", "1"} {
		if _, err := home.LoadKeys(filepath.Join(restored, "keys", "retired", seq)); err != nil {
			t.Errorf("restored retired key %s: %v", seq, err)
		}
	}
	p.start("USA")
	p.send("USA", "after restart")
	if got := p.inbox("CHN"); got[len(got)-1] != "after restart" {
		t.Errorf("CHN's inbox ends %q", got)
	}
}

// TestKeyRotationOverRelay: two stations whose only path is a relay.
// USA rotates: it reconnects to the relay with its new key (the relay
// follows the statement in its certificate), CHN takes USA's entries
// deposited under the new key by their author (the key entry among them)
// and follows; messages before and after go both ways, and both
// transcripts verify.
func TestKeyRotationOverRelay(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	usa, chn := relayOnlyPair(t, ctx)
	delivered := func(st *station.Station, text string) {
		t.Helper()
		if _, err := st.Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "PRIORITY", Text: text}); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, st, "delivery of "+text+" over the relay", func() bool {
			cs, _ := st.Channels(ctx)
			return len(cs) == 1 && cs[0].Agreement == "active" && cs[0].Delivered == cs[0].Written
		})
	}
	delivered(usa, "before")
	delivered(chn, "reply before")
	rot, err := usa.RotateKeys(ctx, ops.KeyRequest{Reason: identity.ReasonRotate, By: "signal officer"})
	if err != nil {
		t.Fatal(err)
	}
	delivered(usa, "after")
	delivered(chn, "reply after")
	ks, err := chn.KeyHistory(ctx, "USA")
	if err != nil || len(ks) != 2 || ks[1].Fingerprint != rot.Fingerprint {
		t.Fatalf("CHN's key history of USA: %+v %v", ks, err)
	}
	for _, st := range []*station.Station{usa, chn} {
		b, err := st.Export(ctx, "ops")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := transcript.Verify(b); err != nil {
			t.Errorf("%s's transcript: %v", st.Cfg.Name, err)
		}
	}
}

// TestLostKeyTwoStations: USA loses its key (hotline key revoke --lost).
// CHN refuses USA's new key on every connection, loudly, until CHN's
// signal officer re-pins USA by the new fingerprint; then USA's key
// entries are taken, messages flow both ways, and both transcripts
// verify, CHN's log recording the replacement.
func TestLostKeyTwoStations(t *testing.T) {
	p := newKeyPair(t)
	ctx := t.Context()
	p.send("USA", "before")
	rot, err := p.st["USA"].RotateKeys(ctx, ops.KeyRequest{Reason: identity.ReasonLost, By: "signal officer", Note: "safe opened"})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, p.st["CHN"], "CHN to refuse USA's new key", func() bool {
		return len(alertsContaining(t, p.st["CHN"], "not pinned")) > 0 || len(alertsContaining(t, p.st["CHN"], "rotation statement")) > 0
	})
	if _, err := p.st["CHN"].ReplacePeer(ctx, []byte("not a card"), rot.Fingerprint, "signal officer"); err == nil {
		t.Fatal("a replacement with a bad card was taken")
	}
	newCard, _ := p.st["USA"].Card(ctx)
	if _, err := p.st["CHN"].ReplacePeer(ctx, newCard, rot.OldFingerprint, "signal officer"); err == nil || !strings.Contains(err.Error(), "do not pin it") ||
		strings.Contains(err.Error(), rot.Fingerprint) {
		t.Fatalf("a replacement with the wrong fingerprint: %v (refused, without the right one)", err)
	}
	pv, err := p.st["CHN"].ReplacePeer(ctx, newCard, rot.Fingerprint, "signal officer")
	if err != nil {
		t.Fatal(err)
	}
	if len(pv.Keys) != 2 || !pv.Keys[0].Revoked || pv.Keys[1].Reason != "replace" {
		t.Errorf("CHN's key history of USA after the replacement: %+v", pv.Keys)
	}
	p.send("USA", "after")
	p.send("CHN", "reply after")
	if got := p.inbox("CHN"); !slices.Equal(got, []string{"before", "after"}) {
		t.Errorf("CHN's inbox %q", got)
	}
	if len(alertsContaining(t, p.st["USA"], "CHN re-pinned this station")) != 1 {
		t.Errorf("USA's operators were not told of the re-pinning: %+v", alertsContaining(t, p.st["USA"]))
	}
	for _, n := range []string{"USA", "CHN"} {
		rep := p.verify(n)
		for _, l := range rep.Logs {
			if l.Author == "USA" && (l.Keys != 2 || l.Fingerprints[1] != rot.Fingerprint) {
				t.Errorf("%s's transcript: USA's keys %v", n, l.Fingerprints)
			}
		}
	}
}

// TestRotationBeforeAnyChannel: USA rotates while it has no channel with
// CHN, so no key entry can carry the statement. CHN follows it from the
// statements in USA's certificate when they next connect, and takes the
// channel USA then proposes, signed by the new key.
func TestRotationBeforeAnyChannel(t *testing.T) {
	ctx := t.Context()
	dirs := map[string]string{}
	cards := map[string]*identity.Card{}
	for _, n := range []string{"USA", "CHN"} {
		dirs[n], cards[n] = initStation(t, n, freeAddr(t))
	}
	usa, chn := openStation(t, dirs["USA"]), openStation(t, dirs["CHN"])
	if _, err := usa.AddPeer(ctx, cards["CHN"].Text, cards["CHN"].Fingerprint()); err != nil {
		t.Fatal(err)
	}
	if _, err := chn.AddPeer(ctx, cards["USA"].Text, cards["USA"].Fingerprint()); err != nil {
		t.Fatal(err)
	}
	rot, err := usa.RotateKeys(ctx, ops.KeyRequest{Reason: identity.ReasonRotate, By: "signal officer"})
	if err != nil {
		t.Fatal(err)
	}
	if rot.Channels != 0 {
		t.Fatalf("key entries on %d channels, want none", rot.Channels)
	}
	run(t, usa)
	run(t, chn)
	waitUntil(t, chn, "CHN to follow USA's certificate", func() bool {
		ks, err := chn.KeyHistory(ctx, "USA")
		return err == nil && len(ks) == 2 && ks[1].Fingerprint == rot.Fingerprint
	})
	if _, err := usa.Propose(ctx, ops.ProposeRequest{Peer: "CHN", Channel: "ops", Level: "staff"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, chn, "the proposal signed by the new key", func() bool {
		cs, _ := chn.Channels(ctx)
		return len(cs) == 1 && cs[0].Agreement == "incoming"
	})
	if _, err := chn.Accept(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	if _, err := usa.Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "FLASH", Text: "hello"}); err != nil {
		waitUntil(t, usa, "the agreement", func() bool { cs, _ := usa.Channels(ctx); return cs[0].Agreement == "active" })
		if _, err := usa.Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "FLASH", Text: "hello"}); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, usa, "delivery", func() bool { cs, _ := usa.Channels(ctx); return cs[0].Delivered == cs[0].Written })
	b, err := chn.Export(ctx, "ops")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := transcript.Verify(b); err != nil {
		t.Errorf("CHN's transcript: %v", err)
	}
}

// TestKeyChangeInterrupted: a crash at any point of a key change leaves a
// station that opens with the right keys. The store recorded the change:
// the move from keys/next is finished, whether none, one or both key
// files had been moved. The store did not: keys/next is discarded.
func TestKeyChangeInterrupted(t *testing.T) {
	ctx := t.Context()
	mv := func(from, to string) {
		t.Helper()
		os.MkdirAll(filepath.Dir(to), 0o700)
		if err := os.Rename(from, to); err != nil {
			t.Fatal(err)
		}
	}
	for _, moved := range []int{0, 1, 2} {
		t.Run(fmt.Sprintf("%d files moved", moved), func(t *testing.T) {
			dir, card0 := initStation(t, "USA", freeAddr(t))
			st := openStation(t, dir)
			rot, err := st.RotateKeys(ctx, ops.KeyRequest{Reason: identity.ReasonRotate, By: "signal officer"})
			if err != nil {
				t.Fatal(err)
			}
			st.Close()
			// Put the files back as they were when the store's write
			// became durable, then redo part of the move.
			k, ret, next := filepath.Join(dir, "keys"), filepath.Join(dir, "keys", "retired", "0"), filepath.Join(dir, "keys", "next")
			for _, f := range []string{"signing.key", "kem.key"} {
				mv(filepath.Join(k, f), filepath.Join(next, f))
				mv(filepath.Join(ret, f), filepath.Join(k, f))
			}
			os.Remove(ret)
			os.WriteFile(filepath.Join(dir, "card"), card0.Text, 0o644)
			for _, f := range []string{"signing.key", "kem.key"}[:moved] {
				mv(filepath.Join(k, f), filepath.Join(ret, f))
				mv(filepath.Join(next, f), filepath.Join(k, f))
			}
			st2, err := station.Open(ctx, dir, quiet())
			if err != nil {
				t.Fatalf("open after the crash: %v", err)
			}
			defer st2.Close()
			c, _ := st2.Card(ctx)
			card, _ := identity.ParseCard(c)
			if card.Fingerprint() != rot.Fingerprint {
				t.Errorf("the station opened as %s, want the new %s", card.Fingerprint(), rot.Fingerprint)
			}
			if _, err := os.Stat(next); !os.IsNotExist(err) {
				t.Errorf("keys/next is still there: %v", err)
			}
			if old, err := home.LoadKeys(ret); err != nil || card0.Fingerprint() != identity.Fingerprint(old.SignPublic(), old.KEM.PublicKey().Bytes()) {
				t.Errorf("the old keys are not in keys/retired/0: %v", err)
			}
		})
	}
	t.Run("not recorded", func(t *testing.T) {
		dir, card0 := initStation(t, "USA", freeAddr(t))
		nk, _ := identity.NewKeys("USA")
		if err := home.SaveKeys(filepath.Join(dir, "keys", "next"), nk); err != nil {
			t.Fatal(err)
		}
		st := openStation(t, dir)
		c, _ := st.Card(ctx)
		if string(c) != string(card0.Text) {
			t.Error("a key change the store never recorded changed the card")
		}
		if _, err := os.Stat(filepath.Join(dir, "keys", "next")); !os.IsNotExist(err) {
			t.Errorf("keys/next is still there: %v", err)
		}
	})
}

// TestRetiredKeyImpostor: CHN rotated; an attacker who kept CHN's key
// before answers at CHN's address with it. USA refuses it (only the
// current key is trusted for a connection), says so with an alarm, and
// its FLASH stays undelivered rather than shown delivered to a stranger
// (security review item 1).
func TestRetiredKeyImpostor(t *testing.T) {
	p := newKeyPair(t)
	ctx := t.Context()
	p.send("USA", "before")
	rot, err := p.st["CHN"].RotateKeys(ctx, ops.KeyRequest{Reason: identity.ReasonRotate, By: "signal officer"})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, p.st["USA"], "USA to follow CHN's rotation", func() bool {
		ks, err := p.st["USA"].KeyHistory(ctx, "CHN")
		return err == nil && len(ks) == 2 && ks[1].Fingerprint == rot.Fingerprint
	})
	retired, err := home.LoadKeys(filepath.Join(p.dirs["CHN"], "keys", "retired", "0"))
	if err != nil {
		t.Fatal(err)
	}
	card, err := stationdir.ReadCard(p.dirs["CHN"])
	if err != nil {
		t.Fatal(err)
	}
	p.stop("CHN")
	cert, err := link.Certificate("CHN", retired.Sign)
	if err != nil {
		t.Fatal(err)
	}
	imp := newFakePeer(t, cert, card.Endpoints[0])
	if _, err := p.st["USA"].Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "FLASH", Text: "for CHN only"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, p.st["USA"], "USA to refuse the retired key", func() bool {
		return len(alertsContaining(t, p.st["USA"], "presented key")) > 0
	})
	if _, handshakes, bytes := imp.stats(); handshakes > 0 && bytes > 0 {
		t.Errorf("USA sent %d bytes to the holder of CHN's retired key", bytes)
	}
	out, err := p.st["USA"].Outbox(ctx, "ops")
	if err != nil {
		t.Fatal(err)
	}
	last := out[len(out)-1]
	if last.Text != "for CHN only" || last.Status != "queued" {
		t.Errorf("the FLASH is %q %s, want queued", last.Text, last.Status)
	}
}
