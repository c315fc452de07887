package channel_test

import (
	"bytes"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"hotline/internal/channel"
	"hotline/internal/codebook"
	"hotline/internal/envelope"
	"hotline/internal/identity"
)

type station struct {
	keys *identity.Keys
	v    note.Verifier
}

func newStation(t testing.TB, name string) station {
	t.Helper()
	k, err := identity.NewKeys(name)
	if err != nil {
		t.Fatal(err)
	}
	c, err := identity.NewCard(k, "party-"+name, nil, time.Unix(1e9, 0))
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	return station{k, v}
}

func testCharter() *channel.Charter {
	return &channel.Charter{ID: "red-blue.1", Level: channel.Staff, Proposer: "alpha", Acceptor: "bravo", Codebook: codebook.Default().Ref()}
}

// propose returns a charter proposed by alpha and the same charter agreed
// by bravo.
func propose(t testing.TB, alpha, bravo station) (proposed, agreed *channel.Charter) {
	t.Helper()
	c := testCharter()
	if err := channel.Propose(c, alpha.keys.Signer()); err != nil {
		t.Fatalf("Propose: %v", err)
	}
	p := *c
	p.Text = bytes.Clone(c.Text)
	if err := channel.Accept(c, alpha.v, bravo.keys.Signer()); err != nil {
		t.Fatalf("Accept: %v", err)
	}
	return &p, c
}

func sameCharter(t *testing.T, got, want *channel.Charter) {
	t.Helper()
	if got.ID != want.ID || got.Level != want.Level || got.Proposer != want.Proposer || got.Acceptor != want.Acceptor {
		t.Errorf("charter = %s/%s/%s/%s, want %s/%s/%s/%s", got.ID, got.Level, got.Proposer, got.Acceptor,
			want.ID, want.Level, want.Proposer, want.Acceptor)
	}
	if !maps.Equal(got.Deadlines, want.Deadlines) {
		t.Errorf("deadlines = %v, want %v", got.Deadlines, want.Deadlines)
	}
	if got.Codebook != want.Codebook {
		t.Errorf("codebook = %s, want %s", got.Codebook, want.Codebook)
	}
	if !bytes.Equal(got.Text, want.Text) {
		t.Errorf("text = %q, want %q", got.Text, want.Text)
	}
}

// sigCount counts the signature lines of a signed note.
func sigCount(text []byte) int {
	i := bytes.LastIndex(text, []byte("\n\n"))
	return bytes.Count(text[i+2:], []byte("\n"))
}

// noteBody returns the signed text of a note.
func noteBody(text []byte) []byte {
	return text[:bytes.LastIndex(text, []byte("\n\n"))+1]
}

func TestProposeAcceptParse(t *testing.T) {
	alpha, bravo, charlie := newStation(t, "alpha"), newStation(t, "bravo"), newStation(t, "charlie")
	proposed, agreed := propose(t, alpha, bravo)
	if !maps.Equal(proposed.Deadlines, channel.DefaultDeadlines) {
		t.Errorf("Propose deadlines = %v, want the defaults", proposed.Deadlines)
	}
	if !bytes.Equal(noteBody(proposed.Text), noteBody(agreed.Text)) || string(noteBody(agreed.Text)) != agreed.Body() {
		t.Error("Accept changed the charter text")
	}
	if n := sigCount(proposed.Text); n != 1 {
		t.Errorf("proposal has %d signatures, want 1", n)
	}
	if n := sigCount(agreed.Text); n != 2 {
		t.Errorf("agreement has %d signatures, want 2", n)
	}

	tests := []struct {
		name      string
		text      []byte
		verifiers []note.Verifier
		ok        bool
	}{
		{"proposal, proposer", proposed.Text, []note.Verifier{alpha.v}, true},
		{"proposal, both", proposed.Text, []note.Verifier{alpha.v, bravo.v}, false},
		{"proposal, both reversed", proposed.Text, []note.Verifier{bravo.v, alpha.v}, false},
		{"proposal, acceptor", proposed.Text, []note.Verifier{bravo.v}, false},
		{"proposal, third party", proposed.Text, []note.Verifier{charlie.v}, false},
		{"proposal, no verifiers", proposed.Text, nil, false},
		{"agreement, both", agreed.Text, []note.Verifier{alpha.v, bravo.v}, true},
		{"agreement, both reversed", agreed.Text, []note.Verifier{bravo.v, alpha.v}, true},
		{"agreement, proposer", agreed.Text, []note.Verifier{alpha.v}, true},
		{"agreement, acceptor", agreed.Text, []note.Verifier{bravo.v}, true},
		{"agreement, proposer and third party", agreed.Text, []note.Verifier{alpha.v, charlie.v}, false},
		{"agreement, third party", agreed.Text, []note.Verifier{charlie.v}, false},
		{"agreement, no verifiers", agreed.Text, nil, false},
		{"agreement, impostor named bravo", agreed.Text, []note.Verifier{alpha.v, newStation(t, "bravo").v}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := channel.Parse(tt.text, tt.verifiers...)
			if !tt.ok {
				if !errors.Is(err, channel.ErrCharter) {
					t.Fatalf("Parse = %v, %v; want ErrCharter", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := *agreed
			want.Text = tt.text
			sameCharter(t, got, &want)
		})
	}
}

func TestProposeCustomDeadlines(t *testing.T) {
	alpha, bravo := newStation(t, "alpha"), newStation(t, "bravo")
	for _, level := range channel.Levels {
		t.Run(string(level), func(t *testing.T) {
			c := testCharter()
			c.Level = level
			c.Deadlines = map[envelope.Precedence]time.Duration{
				envelope.Flash:     90 * time.Second,
				envelope.Immediate: 7*time.Minute + 500*time.Millisecond,
				envelope.Priority:  2 * time.Hour,
				envelope.Routine:   72 * time.Hour,
			}
			if err := channel.Propose(c, alpha.keys.Signer()); err != nil {
				t.Fatal(err)
			}
			if err := channel.Accept(c, alpha.v, bravo.keys.Signer()); err != nil {
				t.Fatal(err)
			}
			got, err := channel.Parse(c.Text, alpha.v, bravo.v)
			if err != nil {
				t.Fatal(err)
			}
			sameCharter(t, got, c)
			un, err := channel.ParseUnverified(c.Text)
			if err != nil {
				t.Fatal(err)
			}
			sameCharter(t, un, c)
		})
	}
}

func TestProposeRejects(t *testing.T) {
	alpha := newStation(t, "alpha")
	tests := []struct {
		name string
		edit func(*channel.Charter)
	}{
		{"empty id", func(c *channel.Charter) { c.ID = "" }},
		{"id with space", func(c *channel.Charter) { c.ID = "red blue" }},
		{"id with newline", func(c *channel.Charter) { c.ID = "red\nlevel leader" }},
		{"empty level", func(c *channel.Charter) { c.Level = "" }},
		{"unknown level", func(c *channel.Charter) { c.Level = "general" }},
		{"same stations", func(c *channel.Charter) { c.Acceptor = c.Proposer }},
		{"zero deadline", func(c *channel.Charter) {
			c.Deadlines = maps.Clone(channel.DefaultDeadlines)
			c.Deadlines[envelope.Flash] = 0
		}},
		{"negative deadline", func(c *channel.Charter) {
			c.Deadlines = maps.Clone(channel.DefaultDeadlines)
			c.Deadlines[envelope.Routine] = -time.Hour
		}},
		{"missing deadline", func(c *channel.Charter) {
			c.Deadlines = maps.Clone(channel.DefaultDeadlines)
			delete(c.Deadlines, envelope.Priority)
		}},
		{"empty deadlines", func(c *channel.Charter) { c.Deadlines = map[envelope.Precedence]time.Duration{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testCharter()
			tt.edit(c)
			if err := channel.Propose(c, alpha.keys.Signer()); err == nil {
				t.Fatalf("Propose succeeded: %q", c.Text)
			}
			if c.Text != nil {
				t.Errorf("failed Propose set Text to %q", c.Text)
			}
		})
	}
}

func TestAcceptRejects(t *testing.T) {
	alpha, bravo, charlie := newStation(t, "alpha"), newStation(t, "bravo"), newStation(t, "charlie")
	proposed, _ := propose(t, alpha, bravo)
	tests := []struct {
		name     string
		text     []byte
		proposer note.Verifier
	}{
		{"wrong proposer verifier", proposed.Text, charlie.v},
		{"impostor proposer", proposed.Text, newStation(t, "alpha").v},
		{"tampered", bytes.Replace(proposed.Text, []byte("level staff"), []byte("level unit"), 1), alpha.v},
		{"not a note", []byte("hello"), alpha.v},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := *proposed
			c.Text = tt.text
			if err := channel.Accept(&c, tt.proposer, bravo.keys.Signer()); !errors.Is(err, channel.ErrCharter) {
				t.Fatalf("Accept = %v, want ErrCharter", err)
			}
		})
	}
}

func TestParseTampered(t *testing.T) {
	alpha, bravo := newStation(t, "alpha"), newStation(t, "bravo")
	_, agreed := propose(t, alpha, bravo)
	body := agreed.Body()
	if !bytes.HasPrefix(agreed.Text, []byte(body+"\n")) {
		t.Fatalf("charter text does not start with its body:\n%s", agreed.Text)
	}
	replace := func(old, new string) []byte {
		if !bytes.Contains(agreed.Text, []byte(old)) {
			t.Fatalf("charter has no %q", old)
		}
		return bytes.Replace(agreed.Text, []byte(old), []byte(new), 1)
	}
	resigned := func(text string) []byte {
		// A body both parties never signed, signed by the proposer alone.
		out, err := note.Sign(&note.Note{Text: text}, alpha.keys.Signer())
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	tests := []struct {
		name string
		text []byte
	}{
		{"level raised", replace("level staff", "level leader")},
		{"acceptor swapped", replace("acceptor bravo", "acceptor charlie")},
		{"channel renamed", replace("channel red-blue.1", "channel red-blue.2")},
		{"deadline changed", replace("deadline FLASH 10m0s", "deadline FLASH 10h0m0s")},
		{"line added", replace("deadline ROUTINE 6h0m0s\n", "deadline ROUTINE 6h0m0s\nnote x\n")},
		{"signatures dropped", []byte(body + "\n")},
		{"one signature dropped", agreed.Text[:bytes.LastIndex(agreed.Text[:len(agreed.Text)-1], []byte("\n"))+1]},
		{"re-signed by proposer only", resigned(strings.Replace(body, "level staff", "level leader", 1))},
		{"too large", append(bytes.Repeat([]byte("#"), 8<<10), agreed.Text...)},
		{"empty", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := channel.Parse(tt.text, alpha.v, bravo.v); !errors.Is(err, channel.ErrCharter) {
				t.Fatalf("Parse = %v, %v; want ErrCharter", got, err)
			}
		})
	}

	t.Run("every byte of the body", func(t *testing.T) {
		for i := range len(body) + 1 {
			for _, mask := range []byte{0x01, 0x20} {
				b := bytes.Clone(agreed.Text)
				b[i] ^= mask
				if got, err := channel.Parse(b, alpha.v, bravo.v); !errors.Is(err, channel.ErrCharter) {
					t.Fatalf("flip %#02x at %d: Parse = %v, %v; want ErrCharter", mask, i, got, err)
				}
			}
		}
	})
}

func TestParseUnverified(t *testing.T) {
	alpha, bravo := newStation(t, "alpha"), newStation(t, "bravo")
	proposed, agreed := propose(t, alpha, bravo)
	for name, c := range map[string]*channel.Charter{"proposal": proposed, "agreement": agreed} {
		t.Run(name, func(t *testing.T) {
			got, err := channel.ParseUnverified(c.Text)
			if err != nil {
				t.Fatal(err)
			}
			sameCharter(t, got, c)
		})
	}
	t.Run("does not check signatures", func(t *testing.T) {
		text := []byte(agreed.Body() + "\n— nobody AAAA\n")
		got, err := channel.ParseUnverified(text)
		if err != nil {
			t.Fatal(err)
		}
		want := *agreed
		want.Text = text
		sameCharter(t, got, &want)
	})

	body := agreed.Body()
	edit := func(old, new string) []byte {
		if !strings.Contains(body, old) {
			t.Fatalf("body has no %q", old)
		}
		return []byte(strings.Replace(body, old, new, 1) + "\n— alpha AAAA\n")
	}
	tests := []struct {
		name string
		text []byte
	}{
		{"empty", nil},
		{"no signature block", []byte(body)},
		{"wrong header", edit("charter v1", "charter v2")},
		{"unknown line", edit("level staff\n", "level staff\nrank general\n")},
		{"blank line inside", edit("level staff\n", "level staff\n \n")},
		{"extra field", edit("level staff", "level staff now")},
		{"bad level", edit("level staff", "level general")},
		{"missing level", edit("level staff\n", "")},
		{"missing proposer", edit("proposer alpha\n", "")},
		{"missing acceptor", edit("acceptor bravo\n", "")},
		{"missing channel", edit("channel red-blue.1\n", "")},
		{"bad channel id", edit("channel red-blue.1", "channel -red")},
		{"missing deadline", edit("deadline ROUTINE 6h0m0s\n", "")},
		{"duplicate deadline instead of one", edit("deadline ROUTINE 6h0m0s", "deadline FLASH 6h0m0s")},
		{"zero deadline", edit("deadline ROUTINE 6h0m0s", "deadline ROUTINE 0s")},
		{"negative deadline", edit("deadline ROUTINE 6h0m0s", "deadline ROUTINE -1h")},
		{"bad duration", edit("deadline ROUTINE 6h0m0s", "deadline ROUTINE tomorrow")},
		{"unknown precedence", edit("deadline ROUTINE 6h0m0s", "deadline DEFERRED 6h0m0s")},
		{"missing delivery", edit("delivery FLASH 1m0s\n", "")},
		{"zero delivery", edit("delivery FLASH 1m0s", "delivery FLASH 0s")},
		{"deadline spelled differently", edit("deadline FLASH 10m0s", "deadline FLASH 10m")},
		{"lines out of order", edit("level staff\nproposer alpha\n", "proposer alpha\nlevel staff\n")},
		{"flash-exempt maybe", edit("flash-exempt no", "flash-exempt maybe")},
		{"link test too often", edit("link-test 10s", "link-test 10ms")},
		{"missing link test", edit("link-test 10s\n", "")},
		{"check window over interval", edit("operator-check 1h0m0s 10m0s", "operator-check 1h0m0s 2h0m0s")},
		{"check window missing", edit("operator-check 1h0m0s 10m0s", "operator-check 1h0m0s")},
		{"escalates to itself", edit("flash-exempt", "escalate-to red-blue.1\nflash-exempt")},
		{"escalation channel bad", edit("flash-exempt", "escalate-to -x\nflash-exempt")},
		{"missing codebook", edit("codebook hotline-cues/1 sha256:494d9deb02893f0263a509553303314a0559ba0ae882da49132f89d4729907b7\n", "")},
		{"codebook without hash", edit("codebook hotline-cues/1 sha256:494d9deb02893f0263a509553303314a0559ba0ae882da49132f89d4729907b7", "codebook hotline-cues/1")},
		{"codebook hash not hex", edit("sha256:494d9deb", "sha256:494D9DEB")},
		{"codebook version not a version", edit("codebook hotline-cues/1", "codebook hotline-cues")},
		{"codebook before the check schedule", edit("operator-check 1h0m0s 10m0s\ncodebook hotline-cues/1 sha256:494d9deb02893f0263a509553303314a0559ba0ae882da49132f89d4729907b7",
			"codebook hotline-cues/1 sha256:494d9deb02893f0263a509553303314a0559ba0ae882da49132f89d4729907b7\noperator-check 1h0m0s 10m0s")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := channel.ParseUnverified(tt.text); !errors.Is(err, channel.ErrCharter) {
				t.Fatalf("ParseUnverified = %+v, %v; want ErrCharter", got, err)
			}
		})
	}
}

func TestBody(t *testing.T) {
	c := testCharter()
	c.Deadlines = channel.DefaultDeadlines
	c.EscalateTo, c.FlashExempt = "red-blue.0", true
	c.SetDefaults()
	const want = "hotline channel charter v1\n" +
		"channel red-blue.1\n" +
		"level staff\n" +
		"proposer alpha\n" +
		"acceptor bravo\n" +
		"deadline FLASH 10m0s\n" +
		"deadline IMMEDIATE 30m0s\n" +
		"deadline PRIORITY 3h0m0s\n" +
		"deadline ROUTINE 6h0m0s\n" +
		"delivery FLASH 1m0s\n" +
		"delivery IMMEDIATE 5m0s\n" +
		"delivery PRIORITY 30m0s\n" +
		"delivery ROUTINE 1h0m0s\n" +
		"escalate-to red-blue.0\n" +
		"flash-exempt yes\n" +
		"link-test 10s\n" +
		"operator-check 1h0m0s 10m0s\n" +
		"codebook hotline-cues/1 sha256:494d9deb02893f0263a509553303314a0559ba0ae882da49132f89d4729907b7\n"
	if got := c.Body(); got != want {
		t.Errorf("Body =\n%s\nwant\n%s", got, want)
	}
}

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in   string
		want channel.Level
		ok   bool
	}{
		{"leader", channel.Leader, true},
		{"minister", channel.Minister, true},
		{"staff", channel.Staff, true},
		{"theatre", channel.Theatre, true},
		{"unit", channel.Unit, true},
		{"LEADER", channel.Leader, true},
		{"Unit", channel.Unit, true},
		{"", "", false},
		{"theater", "", false},
		{"general", "", false},
		{" unit", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := channel.ParseLevel(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("ParseLevel(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

// TestProposeDefaultsNotShared checks that a proposed charter does not
// share its deadline map with DefaultDeadlines: editing one charter's
// deadlines must not change the defaults of every later charter.
func TestProposeDefaultsNotShared(t *testing.T) {
	alpha := newStation(t, "alpha")
	saved := maps.Clone(channel.DefaultDeadlines)
	t.Cleanup(func() {
		clear(channel.DefaultDeadlines)
		maps.Copy(channel.DefaultDeadlines, saved)
	})
	c := testCharter()
	if err := channel.Propose(c, alpha.keys.Signer()); err != nil {
		t.Fatal(err)
	}
	c.Deadlines[envelope.Flash] = time.Second
	if got := channel.DefaultDeadlines[envelope.Flash]; got != saved[envelope.Flash] {
		t.Fatalf("Propose stored DefaultDeadlines itself in the charter: "+
			"editing the charter changed the default FLASH deadline to %v", got)
	}
}

// TestFindCodebook: a charter names its codebook by version and hash; a
// station finds it among those it has, or refuses the charter naming the
// codebook it lacks.
func TestFindCodebook(t *testing.T) {
	cb := codebook.Default()
	c := testCharter()
	c.SetDefaults()
	if got, err := codebook.Find(c, cb); err != nil || got != cb {
		t.Fatalf("Find = %v, %v; want the embedded codebook", got, err)
	}
	for _, ref := range []codebook.Ref{
		{Version: "hotline-cues/2", Hash: cb.Hash()},
		{Version: cb.Version(), Hash: "sha256:" + strings.Repeat("0", 64)},
	} {
		c.Codebook = ref
		_, err := c.FindBook(cb)
		if !errors.Is(err, codebook.ErrMismatch) || !strings.Contains(err.Error(), ref.String()) || !strings.Contains(err.Error(), "does not have") {
			t.Errorf("FindBook(%s) = %v; want ErrMismatch naming the codebook", ref, err)
		}
	}
	// A charter must name one: the core fills in its first codebook, and
	// a proposal with none is refused, naming what is missing.
	c = testCharter()
	c.Codebook = channel.BookRef{}
	if err := channel.Propose(c, newStation(t, "alpha").keys.Signer()); !errors.Is(err, channel.ErrBook) || !strings.Contains(err.Error(), "names no codebook") {
		t.Errorf("Propose without a codebook = %v; want ErrBook naming the codebook missing", err)
	}
}
