package channel_test

import (
	"bytes"
	"errors"
	"maps"
	"testing"

	"hotline/internal/channel"
	"hotline/internal/envelope"
	"hotline/internal/identity"
)

// FuzzParseCharter checks that ParseUnverified never panics, that its
// errors are ErrCharter, and that what it accepts is a complete, valid
// charter whose canonical body parses back to the same charter.
func FuzzParseCharter(f *testing.F) {
	alpha, bravo := newStation(f, "alpha"), newStation(f, "bravo")
	proposed, agreed := propose(f, alpha, bravo)
	f.Add(proposed.Text)
	f.Add(agreed.Text)
	f.Add([]byte(agreed.Body() + "\n"))
	f.Add([]byte("hotline channel charter v1\n\n"))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := channel.ParseUnverified(data)
		if err != nil {
			if !errors.Is(err, channel.ErrCharter) {
				t.Fatalf("error %v is not ErrCharter", err)
			}
			return
		}
		if !bytes.Equal(c.Text, data) {
			t.Fatal("Text differs from the input")
		}
		if err := identity.CheckName("channel id", c.ID); err != nil {
			t.Fatalf("accepted channel id: %v", err)
		}
		if _, err := channel.ParseLevel(string(c.Level)); err != nil {
			t.Fatalf("accepted level: %v", err)
		}
		if c.Proposer == "" || c.Acceptor == "" {
			t.Fatalf("accepted empty station names %q, %q", c.Proposer, c.Acceptor)
		}
		for _, p := range envelope.Precedences {
			if c.Deadlines[p] <= 0 {
				t.Fatalf("accepted deadline %v for %s", c.Deadlines[p], p)
			}
		}
		if len(c.Deadlines) != len(envelope.Precedences) {
			t.Fatalf("accepted %d deadlines", len(c.Deadlines))
		}
		again, err := channel.ParseUnverified([]byte(c.Body() + "\n"))
		if err != nil {
			t.Fatalf("canonical body of an accepted charter does not parse: %v\n%s", err, c.Body())
		}
		if again.ID != c.ID || again.Level != c.Level || again.Proposer != c.Proposer ||
			again.Acceptor != c.Acceptor || !maps.Equal(again.Deadlines, c.Deadlines) {
			t.Fatalf("canonical body parses to %+v, want %+v", again, c)
		}
		// Signatures are checked by Parse: under the keys made for this
		// run, only the text both parties signed verifies.
		if _, err := channel.Parse(data, alpha.v, bravo.v); err == nil && !bytes.Equal(noteBody(data), noteBody(agreed.Text)) {
			t.Fatalf("Parse accepted a charter both parties never signed:\n%s", data)
		}
	})
}
