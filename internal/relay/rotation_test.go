package relay_test

import (
	"context"
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
