package relay_test

import (
	"context"
	"crypto/ed25519"
	"log"
	"time"

	"hotline/internal/identity"
	"hotline/internal/link"
	"hotline/internal/relay"
)

// A station uses a relay: it dials it with its own certificate, pinned to
// the relay's card, deposits a frame for a peer, and hands on its own
// mail, deleting it once handled. (Not run: it needs a relay.)
func ExampleDialCard() {
	ctx := context.Background()
	var (
		keys      *identity.Keys    // this station's keys
		relayCard *identity.Card    // pinned after its fingerprint was read aloud
		peerKey   ed25519.PublicKey // the peer's sign-key, from its card
		frame     []byte            // a protocol frame, its entries sealed and signed
	)
	cert, err := link.Certificate(keys.Name, keys.Sign)
	if err != nil {
		log.Fatal(err)
	}
	c, err := relay.DialCard(ctx, relayCard, cert)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	// Deposit returns once the relay holds the frame durably. That is not
	// delivery: only the peer's cosigned receipt is.
	if err := c.Deposit(ctx, peerKey, frame); err != nil {
		log.Fatal(err)
	}

	// Mail arrives at once, oldest first; the same mail may come again
	// on a later connection, so the receiver dedupes.
	handled := make(chan uint64, 1)
	go func() {
		for id := range handled {
			if err := c.Delete(ctx, id); err != nil {
				return
			}
		}
	}()
	for m := range c.Mail() {
		log.Printf("mail %d from %x deposited %s: %d bytes", m.ID, []byte(m.From)[:4], m.DepositedAt.Format(time.RFC3339), len(m.Payload))
		// ... hand m.Payload to the station as a frame from m.From; once
		// that is durable:
		select {
		case handled <- m.ID:
		default:
		}
	}
	log.Printf("relay connection ended: %v", c.Err())
}
