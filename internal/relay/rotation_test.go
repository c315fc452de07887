package relay_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"hotline/internal/identity"
	"hotline/internal/link"
	"hotline/internal/relay"
)

// TestRotatedStation: a station allowed on the relay changes its keys and
// connects with the new key, its certificate carrying the rotation
// statement signed by the allowed key. The relay takes it in place of the
// old key: mail waiting for the old key is delivered to it, deposits still
// addressed to the old key reach it, the list shows the new fingerprint,
// and all of it survives a restart of the relay. A key whose statement is
// signed by another key is refused.
func TestRotatedStation(t *testing.T) {
	r := newRelay(t, nil)
	alpha, bravo := newStation(t, "alpha"), newStation(t, "bravo")
	r.allow(alpha, bravo)
	r.Start()
	ctx := t.Context()
	b := r.dial(bravo)
	if err := b.Deposit(ctx, alpha.key(), []byte("waiting for alpha")); err != nil {
		t.Fatal(err)
	}
	nk, _ := identity.NewKeys("alpha")
	card, _ := identity.NewCard(nk, "alpha", []string{"127.0.0.1:7443"}, time.Now())
	stmt, err := identity.NewRotation(alpha.keys, card, identity.ReasonRotate, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := link.CertificateWith("alpha", nk.Sign, [][]byte{stmt.Text})
	if err != nil {
		t.Fatal(err)
	}
	// A statement signed by another key leads nowhere.
	impostor, _ := identity.NewKeys("alpha")
	forged, _ := identity.NewRotation(impostor, card, identity.ReasonRotate, time.Now())
	fcert, _ := link.CertificateWith("alpha", nk.Sign, [][]byte{forged.Text})
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	if c, err := relay.Dial(dctx, r.addr, r.card.SignKey, fcert); err == nil {
		c.Close()
		t.Fatal("a key with a forged statement was let in")
	}
	cancel()
	rotated := station{keys: nk, card: card, cert: cert}
	a := r.dial(rotated)
	if got := receive(t, a, 1, 10*time.Second); string(got[0].Payload) != "waiting for alpha" {
		t.Fatalf("the rotated station got %q", got[0].Payload)
	}
	if err := b.Deposit(ctx, alpha.key(), []byte("to the old key")); err != nil {
		t.Fatalf("a deposit to the old key: %v", err)
	}
	if got := receive(t, a, 1, 10*time.Second); string(got[0].Payload) != "to the old key" {
		t.Fatalf("the rotated station got %q", got[0].Payload)
	}
	list, err := relay.List(ctx, r.dir)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, st := range list.Stations {
		if st.Name == "alpha" {
			found = st.Fingerprint == card.Fingerprint()
		}
	}
	if !found {
		t.Errorf("relay list does not show alpha's new fingerprint: %+v", list.Stations)
	}
	r.Stop()
	r.Start()
	b2 := r.dial(bravo)
	if err := b2.Deposit(ctx, alpha.key(), []byte("after the restart")); err != nil && !strings.Contains(err.Error(), "closed") {
		t.Fatalf("a deposit to the old key after a restart: %v", err)
	}
	a2 := r.dial(rotated)
	// Mail not deleted comes again; all three are there, in order.
	got := receive(t, a2, 3, 10*time.Second)
	if string(got[0].Payload) != "waiting for alpha" || string(got[2].Payload) != "after the restart" {
		t.Fatalf("after the restart the rotated station got %q, %q, %q", got[0].Payload, got[1].Payload, got[2].Payload)
	}
}

// TestKeysPresentedByAPeer: alpha changes its keys twice while away from
// the relay. Bravo, which learned the change elsewhere, presents alpha's
// statements (a keys message) and deposits for alpha's newest key: the
// relay follows them at once, takes the deposit, and lists alpha's new
// fingerprint before alpha ever connects with it. Statements signed by
// another key change nothing, and a deposit for the key they name is
// refused. Alpha then connects without any statement in its certificate
// and gets its mail; when alpha deposits for bravo, bravo's mail from
// alpha's new key comes with the statements that lead to it from the key
// bravo allowed, also after the relay restarts. A connection alpha still
// had under its first key is closed once the relay follows the change.
func TestKeysPresentedByAPeer(t *testing.T) {
	r := newRelay(t, nil)
	alpha, bravo := newStation(t, "alpha"), newStation(t, "bravo")
	r.allow(alpha, bravo)
	r.Start()
	ctx := t.Context()
	k1, _ := identity.NewKeys("alpha")
	c1, _ := identity.NewCard(k1, "alpha", []string{"127.0.0.1:7443"}, time.Now())
	s1, _ := identity.NewRotation(alpha.keys, c1, identity.ReasonRotate, time.Now())
	k2, _ := identity.NewKeys("alpha")
	c2, _ := identity.NewCard(k2, "alpha", []string{"127.0.0.1:7443"}, time.Now().Add(time.Second))
	s2, _ := identity.NewRotation(k1, c2, identity.ReasonRevoke, time.Now().Add(time.Second))
	chain := [][]byte{s2.Text, s1.Text} // in any order

	b := r.dial(bravo)
	impostor, _ := identity.NewKeys("alpha")
	x, _ := identity.NewKeys("alpha")
	xc, _ := identity.NewCard(x, "alpha", []string{"127.0.0.1:7443"}, time.Now())
	forged, err := identity.NewRotation(impostor, xc, identity.ReasonRotate, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Present(x.SignPublic(), [][]byte{forged.Text}); err != nil {
		t.Fatal(err)
	}
	if err := b.Deposit(ctx, x.SignPublic(), []byte("to the impostor")); !errors.Is(err, relay.ErrUnknownRecipient) {
		t.Fatalf("a deposit for a key a forged statement names: %v, want unknown recipient", err)
	}
	oldConn := r.dial(alpha) // alpha, still connected under its first key
	if err := b.Present(k2.SignPublic(), chain); err != nil {
		t.Fatal(err)
	}
	if err := b.Deposit(ctx, k2.SignPublic(), []byte("to the newest key")); err != nil {
		t.Fatalf("a deposit for alpha's newest key after its statements: %v", err)
	}
	list, err := relay.List(ctx, r.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range list.Stations {
		if st.Name == "alpha" && st.Fingerprint != c2.Fingerprint() {
			t.Errorf("relay list shows alpha as %s, want the new %s", st.Fingerprint, c2.Fingerprint())
		}
	}
	// The connection under the key followed away from gets no more mail:
	// the relay closes it, so that its station connects again.
	select {
	case <-oldConn.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("alpha's connection under its first key stays open after the relay followed its change")
	}
	cert, _ := link.Certificate("alpha", k2.Sign)
	a := r.dial(station{keys: k2, card: c2, cert: cert})
	if got := receive(t, a, 1, 10*time.Second); string(got[0].Payload) != "to the newest key" {
		t.Fatalf("alpha got %q", got[0].Payload)
	}
	if err := a.Deposit(ctx, bravo.key(), []byte("from the newest key")); err != nil {
		t.Fatal(err)
	}
	check := func(b *relay.Client, want string) {
		t.Helper()
		m := receive(t, b, 1, 10*time.Second)[0]
		if string(m.Payload) != want || !m.From.Equal(k2.SignPublic()) {
			t.Fatalf("bravo got %q from %x", m.Payload, m.From)
		}
		got, path := identity.Follow("alpha", alpha.key(), m.Statements, nil)
		if !got.Equal(k2.SignPublic()) || len(path) != 2 {
			t.Fatalf("the statements with alpha's mail lead to %x in %d steps, want alpha's newest key in 2", got, len(path))
		}
	}
	check(b, "from the newest key")
	// The old keys may no longer connect.
	for _, k := range []*identity.Keys{alpha.keys, k1} {
		oc, _ := link.Certificate("alpha", k.Sign)
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if c, err := relay.Dial(dctx, r.addr, r.card.SignKey, oc); err == nil {
			c.Close()
			t.Fatal("an earlier key of alpha's was let in")
		}
		cancel()
	}
	r.Stop()
	r.Start()
	check(r.dial(bravo), "from the newest key")
}

// TestConcurrentFollow: the same key change reaches the relay from
// several sides at once (the station's handshake under its new key,
// carrying the statement, and keys messages from peers that took the
// change), so that the relay follows it in one batch or in several at
// the same moment. It follows it once: the relay keeps running, lists the
// new fingerprint, and takes deposits for the new key and the old.
func TestConcurrentFollow(t *testing.T) {
	for round := range 5 {
		r := newRelay(t, nil)
		alpha, bravo := newStation(t, "alpha"), newStation(t, "bravo")
		r.allow(alpha, bravo)
		r.Start()
		ctx := t.Context()
		nk, _ := identity.NewKeys("alpha")
		card, _ := identity.NewCard(nk, "alpha", []string{"127.0.0.1:7443"}, time.Now())
		stmt, _ := identity.NewRotation(alpha.keys, card, identity.ReasonRotate, time.Now())
		cert, _ := link.CertificateWith("alpha", nk.Sign, [][]byte{stmt.Text})
		var bs []*relay.Client
		for range 4 {
			bs = append(bs, r.dial(bravo))
		}
		errs := make(chan error, len(bs)+1)
		for _, b := range bs {
			go func() {
				if err := b.Present(nk.SignPublic(), [][]byte{stmt.Text}); err != nil {
					errs <- err
					return
				}
				errs <- b.Deposit(ctx, nk.SignPublic(), []byte("to the new key"))
			}()
		}
		go func() {
			dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			c, err := relay.Dial(dctx, r.addr, r.card.SignKey, cert)
			if err == nil {
				c.Close()
			}
			errs <- err
		}()
		for range len(bs) + 1 {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if err := r.srv.Err(); err != nil {
			t.Fatalf("round %d: the relay stopped: %v", round, err)
		}
		if err := bs[0].Deposit(ctx, alpha.key(), []byte("to the old key")); err != nil {
			t.Fatalf("round %d: a deposit to the old key: %v", round, err)
		}
		list, err := relay.List(ctx, r.dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range list.Stations {
			if st.Name == "alpha" && (st.Fingerprint != card.Fingerprint() || st.Pending.Messages != int64(len(bs))+1) {
				t.Errorf("round %d: relay list shows alpha as %s with %d pending", round, st.Fingerprint, st.Pending.Messages)
			}
		}
		r.Stop()
	}
}
