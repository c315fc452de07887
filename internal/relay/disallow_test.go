package relay_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"hotline/internal/relay"
)

// TestDisallow: a station taken off the allowed list while the relay
// runs. Its connection is closed within seconds, it cannot connect again,
// deposits for it are refused, the mail that waited for it is deleted and
// counted; the mail it deposited for another station stays, and is
// delivered. A name not allowed is refused with the list of those that
// are, changing nothing.
func TestDisallow(t *testing.T) {
	r := newRelay(t, nil)
	usa, chn := newStation(t, "USA"), newStation(t, "CHN")
	r.allow(usa, chn)
	r.Start()
	a, b := r.dial(usa), r.dial(chn)
	ctx := t.Context()
	for i := range 3 {
		if err := b.Deposit(ctx, usa.key(), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	receive(t, a, 3, 10*time.Second) // received, not deleted: still waiting
	if err := a.Deposit(ctx, chn.key(), []byte("for CHN")); err != nil {
		t.Fatal(err)
	}

	if _, err := relay.Disallow(ctx, r.dir, "NOPE"); !errors.Is(err, relay.ErrNotAllowedHere) || !strings.Contains(err.Error(), "allowed: CHN, USA") {
		t.Fatalf("disallowing a station not allowed: %v", err)
	}
	d, err := relay.Disallow(ctx, r.dir, "USA")
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "USA" || d.Fingerprint != usa.card.Fingerprint() || d.MailDeleted != 3 {
		t.Fatalf("disallowed %+v, want USA with its 3 waiting messages", d)
	}
	// The running relay closes USA's connection.
	deadline := time.After(10 * time.Second)
	for open := true; open; {
		select {
		case _, ok := <-a.Mail():
			open = ok
		case <-deadline:
			t.Fatal("USA's connection is still open")
		}
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if c, err := relay.Dial(dctx, r.addr, r.card.SignKey, usa.cert); !errors.Is(err, relay.ErrNotAllowed) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("USA connecting again: %v", err)
	}
	if err := b.Deposit(ctx, usa.key(), []byte("late")); !errors.Is(err, relay.ErrUnknownRecipient) {
		t.Fatalf("a deposit for USA: %v", err)
	}
	if m := receive(t, b, 1, 10*time.Second); string(m[0].Payload) != "for CHN" {
		t.Fatalf("CHN received %q", m[0].Payload)
	}
	l, err := relay.List(ctx, r.dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Stations) != 1 || l.Stations[0].Name != "CHN" {
		t.Fatalf("listed %+v", l.Stations)
	}
	// Allowed again, it connects and finds nothing of before.
	r.allow(usa)
	a = r.dial(usa)
	quietFor(t, a, 300*time.Millisecond)
}
