// Package channel holds channel charters: what two parties agreed a channel
// is (its id, level, parties and acknowledgement deadlines per precedence).
//
// A charter is a signed note. The proposer signs it; the acceptor adds its
// signature to the same text. Both signatures make the channel; the charter
// travels as entry 1 of each party's log for the channel, so the agreement
// is part of the transcript.
package channel

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"hotline/internal/envelope"
	"hotline/internal/identity"
)

// ErrCharter marks a charter that does not parse or verify.
var ErrCharter = errors.New("channel charter is not valid")

// Level is the rank of the people a channel connects.
type Level string

// Levels, highest first.
const (
	Leader   Level = "leader"
	Minister Level = "minister"
	Staff    Level = "staff"
	Theatre  Level = "theatre"
	Unit     Level = "unit"
)

// Levels lists every level, highest first.
var Levels = []Level{Leader, Minister, Staff, Theatre, Unit}

// ParseLevel checks a level name.
func ParseLevel(s string) (Level, error) {
	for _, l := range Levels {
		if string(l) == strings.ToLower(s) {
			return l, nil
		}
	}
	return "", fmt.Errorf("level %q is not one of leader, minister, staff, theatre, unit", s)
}

// DefaultDeadlines are the acknowledgement deadlines a charter gets unless
// the proposer sets others.
var DefaultDeadlines = map[envelope.Precedence]time.Duration{
	envelope.Flash:     10 * time.Minute,
	envelope.Immediate: 30 * time.Minute,
	envelope.Priority:  3 * time.Hour,
	envelope.Routine:   24 * time.Hour,
}

// Charter is the agreed definition of a channel.
type Charter struct {
	ID        string
	Level     Level
	Proposer  string // station name
	Acceptor  string // station name
	Deadlines map[envelope.Precedence]time.Duration

	// Text is the signed note: one signature when proposed, two when agreed.
	Text []byte
}

const header = "hotline channel charter v1"

// Body is the text both parties sign.
func (c *Charter) Body() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\nchannel %s\nlevel %s\nproposer %s\nacceptor %s\n", header, c.ID, c.Level, c.Proposer, c.Acceptor)
	for _, p := range envelope.Precedences {
		fmt.Fprintf(&b, "deadline %s %s\n", p, c.Deadlines[p])
	}
	return b.String()
}

// Propose builds a charter signed by the proposer.
func Propose(c *Charter, proposer note.Signer) error {
	if err := identity.CheckName("channel id", c.ID); err != nil {
		return err
	}
	if _, err := ParseLevel(string(c.Level)); err != nil {
		return err
	}
	if c.Proposer == c.Acceptor {
		return fmt.Errorf("a channel needs two stations; both are %q", c.Proposer)
	}
	if c.Deadlines == nil {
		c.Deadlines = maps.Clone(DefaultDeadlines)
	}
	for _, p := range envelope.Precedences {
		if c.Deadlines[p] <= 0 {
			return fmt.Errorf("deadline for %s must be positive", p)
		}
	}
	text, err := note.Sign(&note.Note{Text: c.Body()}, proposer)
	if err != nil {
		return err
	}
	c.Text = text
	return nil
}

// Accept adds the acceptor's signature to a proposed charter.
func Accept(c *Charter, proposer note.Verifier, acceptor note.Signer) error {
	n, err := note.Open(c.Text, note.VerifierList(proposer))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCharter, err)
	}
	n.UnverifiedSigs = nil
	text, err := note.Sign(n, acceptor)
	if err != nil {
		return err
	}
	c.Text = text
	return nil
}

// Parse opens a charter and checks the signatures of the verifiers given
// (the proposer's alone for a proposal, both for an agreement).
func Parse(text []byte, verifiers ...note.Verifier) (*Charter, error) {
	bad := func(format string, args ...any) (*Charter, error) {
		return nil, fmt.Errorf("%w: %s", ErrCharter, fmt.Sprintf(format, args...))
	}
	if len(text) > 8<<10 {
		return bad("%d bytes", len(text))
	}
	n, err := note.Open(text, note.VerifierList(verifiers...))
	if err != nil {
		return bad("%v", err)
	}
	if err := identity.CheckCanonical(text); err != nil {
		return bad("%v", err)
	}
	for _, v := range verifiers {
		ok := false
		for _, s := range n.Sigs {
			ok = ok || (s.Name == v.Name() && s.Hash == v.KeyHash())
		}
		if !ok {
			return bad("not signed by %s", v.Name())
		}
	}
	c, err := parseBody(n.Text)
	if err != nil {
		return nil, err
	}
	c.Text = bytes.Clone(text)
	return c, nil
}

// ParseUnverified reads a charter without checking its signatures. Use it
// only for a charter this station verified before it stored it.
func ParseUnverified(text []byte) (*Charter, error) {
	body, _, ok := bytes.Cut(text, []byte("\n\n"))
	if !ok {
		return nil, fmt.Errorf("%w: no signature block", ErrCharter)
	}
	c, err := parseBody(string(body) + "\n")
	if err != nil {
		return nil, err
	}
	c.Text = bytes.Clone(text)
	return c, nil
}

func parseBody(text string) (*Charter, error) {
	bad := func(format string, args ...any) (*Charter, error) {
		return nil, fmt.Errorf("%w: %s", ErrCharter, fmt.Sprintf(format, args...))
	}
	var err error
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if lines[0] != header {
		return bad("first line %q", lines[0])
	}
	c := &Charter{Deadlines: map[envelope.Precedence]time.Duration{}}
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "channel":
			c.ID = f[1]
		case len(f) == 2 && f[0] == "level":
			if c.Level, err = ParseLevel(f[1]); err != nil {
				return bad("%v", err)
			}
		case len(f) == 2 && f[0] == "proposer":
			c.Proposer = f[1]
		case len(f) == 2 && f[0] == "acceptor":
			c.Acceptor = f[1]
		case len(f) == 3 && f[0] == "deadline":
			p, err := envelope.ParsePrecedence(f[1])
			if err != nil {
				return bad("%v", err)
			}
			d, err := time.ParseDuration(f[2])
			if err != nil || d <= 0 {
				return bad("deadline %q", f[2])
			}
			c.Deadlines[p] = d
		default:
			return bad("unknown line %q", line)
		}
	}
	if err := identity.CheckName("channel id", c.ID); err != nil {
		return bad("%v", err)
	}
	if c.Level == "" || c.Proposer == "" || c.Acceptor == "" || len(c.Deadlines) != len(envelope.Precedences) {
		return bad("missing level, proposer, acceptor or a deadline")
	}
	for _, n := range []string{c.Proposer, c.Acceptor} {
		if err := identity.CheckName("station name", n); err != nil {
			return bad("%v", err)
		}
	}
	return c, nil
}
