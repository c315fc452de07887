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
	"strconv"
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

func (l Level) rank() int {
	for i, x := range Levels {
		if x == l {
			return i
		}
	}
	return len(Levels)
}

// Above reports whether l ranks above m (leader above minister, and so on).
func (l Level) Above(m Level) bool { return l.rank() < m.rank() }

// DefaultDeadlines are the acknowledgement deadlines a charter gets unless
// the proposer sets others.
var DefaultDeadlines = map[envelope.Precedence]time.Duration{
	envelope.Flash:     10 * time.Minute,
	envelope.Immediate: 30 * time.Minute,
	envelope.Priority:  3 * time.Hour,
	envelope.Routine:   6 * time.Hour,
}

// DefaultDelivery are the delivery deadlines (send to the peer's cosigned
// receipt) a charter gets unless the proposer sets others.
var DefaultDelivery = map[envelope.Precedence]time.Duration{
	envelope.Flash:     time.Minute,
	envelope.Immediate: 5 * time.Minute,
	envelope.Priority:  30 * time.Minute,
	envelope.Routine:   time.Hour,
}

// Default communication check schedule.
const (
	DefaultLinkTest    = 10 * time.Second // machine-answered link tests
	DefaultCheckEvery  = time.Hour        // operator checks
	DefaultCheckWindow = 10 * time.Minute // time a person has to answer one
)

// Charter is the agreed definition of a channel.
type Charter struct {
	ID       string
	Level    Level
	Proposer string // station name
	Acceptor string // station name
	// Deadlines are for a person's acknowledgement, Delivery for the
	// peer's receipt, per precedence, counted from the entry's sending.
	Deadlines map[envelope.Precedence]time.Duration
	Delivery  map[envelope.Precedence]time.Duration
	// EscalateTo is the channel (of a higher level, with the same peer)
	// that messages climb to when their acknowledgement deadline passes
	// twice over; "" for none.
	EscalateTo string
	// FlashExempt lets FLASH traffic through a suspension.
	FlashExempt bool
	// CallRecording has each station keep an encrypted recording of the
	// audio its side sends in the channel's calls, named by hash in its
	// signed entries (docs/CALLS.md, "Recording").
	CallRecording bool
	// CallNoVideo forbids video in the channel's calls; CallBitrate caps
	// each stream of a call, in kbit/s (0: no cap), for narrow links.
	CallNoVideo bool
	CallBitrate int
	// LinkTest is the interval of machine-answered link tests.
	LinkTest time.Duration
	// CheckEvery is the interval of operator checks, CheckWindow the time
	// a person has to acknowledge one before the channel is dormant.
	CheckEvery, CheckWindow time.Duration
	// Codebook names the standard-phrase codebook both parties use on the
	// channel (version and content hash): coded messages and the phrases
	// in encounter reports are checked against it.
	Codebook BookRef

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
	for _, p := range envelope.Precedences {
		fmt.Fprintf(&b, "delivery %s %s\n", p, c.Delivery[p])
	}
	if c.EscalateTo != "" {
		fmt.Fprintf(&b, "escalate-to %s\n", c.EscalateTo)
	}
	exempt := "no"
	if c.FlashExempt {
		exempt = "yes"
	}
	fmt.Fprintf(&b, "flash-exempt %s\nlink-test %s\noperator-check %s %s\n", exempt, c.LinkTest, c.CheckEvery, c.CheckWindow)
	if c.CallRecording {
		b.WriteString("call-recording yes\n")
	}
	if c.CallNoVideo {
		b.WriteString("call-video no\n")
	}
	if c.CallBitrate > 0 {
		fmt.Fprintf(&b, "call-bitrate %d\n", c.CallBitrate)
	}
	fmt.Fprintf(&b, "codebook %s\n", c.Codebook)
	return b.String()
}

// SetDefaults fills what the proposer left unset (nil, zero) with the
// defaults.
func (c *Charter) SetDefaults() {
	if c.Deadlines == nil {
		c.Deadlines = maps.Clone(DefaultDeadlines)
	}
	if c.Delivery == nil {
		c.Delivery = maps.Clone(DefaultDelivery)
	}
	if c.LinkTest == 0 {
		c.LinkTest = DefaultLinkTest
	}
	if c.CheckEvery == 0 {
		c.CheckEvery = DefaultCheckEvery
	}
	if c.CheckWindow == 0 {
		c.CheckWindow = DefaultCheckWindow
	}
}

// The bounds of a charter's call-bitrate, kbit/s a stream: Opus speech
// needs about 6; 10 Mbit/s is more than any picture of a call.
const (
	MinCallBitrate = 6
	MaxCallBitrate = 10000
)

// check tells what is wrong with a charter's values.
func (c *Charter) check() error {
	if c.CallBitrate != 0 && (c.CallBitrate < MinCallBitrate || c.CallBitrate > MaxCallBitrate) {
		return fmt.Errorf("call bitrate %d kbit/s is not within %d to %d", c.CallBitrate, MinCallBitrate, MaxCallBitrate)
	}
	if c.Codebook == (BookRef{}) {
		return fmt.Errorf("%w: the charter names no codebook of standard phrases", ErrBook)
	}
	for _, p := range envelope.Precedences {
		if c.Deadlines[p] <= 0 || c.Delivery[p] <= 0 {
			return fmt.Errorf("deadlines for %s must be positive", p)
		}
	}
	if c.EscalateTo != "" {
		if err := identity.CheckName("escalation channel", c.EscalateTo); err != nil {
			return err
		}
		if c.EscalateTo == c.ID {
			return fmt.Errorf("channel %s cannot escalate to itself", c.ID)
		}
	}
	switch {
	case c.LinkTest < time.Second:
		return fmt.Errorf("link test interval %s is under 1s", c.LinkTest)
	case c.CheckEvery < time.Minute:
		return fmt.Errorf("operator check interval %s is under 1m", c.CheckEvery)
	case c.CheckWindow <= 0 || c.CheckWindow > c.CheckEvery:
		return fmt.Errorf("operator check window %s must be positive and at most the interval %s", c.CheckWindow, c.CheckEvery)
	}
	return nil
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
	c.SetDefaults()
	if err := c.check(); err != nil {
		return err
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
	c := &Charter{Deadlines: map[envelope.Precedence]time.Duration{}, Delivery: map[envelope.Precedence]time.Duration{}}
	duration := func(s string) (time.Duration, bool) {
		d, err := time.ParseDuration(s)
		return d, err == nil && d > 0
	}
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
		case len(f) == 3 && (f[0] == "deadline" || f[0] == "delivery"):
			p, err := envelope.ParsePrecedence(f[1])
			if err != nil {
				return bad("%v", err)
			}
			d, ok := duration(f[2])
			if !ok {
				return bad("%s %q", f[0], f[2])
			}
			if f[0] == "deadline" {
				c.Deadlines[p] = d
			} else {
				c.Delivery[p] = d
			}
		case len(f) == 2 && f[0] == "escalate-to":
			c.EscalateTo = f[1]
		case len(f) == 2 && f[0] == "flash-exempt" && (f[1] == "yes" || f[1] == "no"):
			c.FlashExempt = f[1] == "yes"
		case len(f) == 2 && f[0] == "link-test":
			var ok bool
			if c.LinkTest, ok = duration(f[1]); !ok {
				return bad("link-test %q", f[1])
			}
		case len(f) == 3 && f[0] == "operator-check":
			var ok1, ok2 bool
			c.CheckEvery, ok1 = duration(f[1])
			c.CheckWindow, ok2 = duration(f[2])
			if !ok1 || !ok2 {
				return bad("operator-check %q %q", f[1], f[2])
			}
		case len(f) == 2 && f[0] == "call-recording" && f[1] == "yes":
			c.CallRecording = true
		case len(f) == 2 && f[0] == "call-video" && f[1] == "no":
			c.CallNoVideo = true
		case len(f) == 2 && f[0] == "call-bitrate":
			n, err := strconv.Atoi(f[1])
			if err != nil || n < MinCallBitrate || n > MaxCallBitrate || strconv.Itoa(n) != f[1] {
				return bad("call-bitrate %q is not kbit/s from %d to %d", f[1], MinCallBitrate, MaxCallBitrate)
			}
			c.CallBitrate = n
		case len(f) == 3 && f[0] == "codebook":
			if c.Codebook, err = ParseBookRef(f[1] + " " + f[2]); err != nil {
				return bad("%v", err)
			}
		default:
			return bad("unknown line %q", line)
		}
	}
	if err := identity.CheckName("channel id", c.ID); err != nil {
		return bad("%v", err)
	}
	if c.Level == "" || c.Proposer == "" || c.Acceptor == "" || len(c.Deadlines) != len(envelope.Precedences) ||
		len(c.Delivery) != len(envelope.Precedences) || c.LinkTest == 0 || c.CheckEvery == 0 || c.Codebook == (BookRef{}) {
		return bad("missing level, proposer, acceptor, a deadline, the check schedule or the codebook")
	}
	if err := c.check(); err != nil {
		return bad("%v", err)
	}
	if c.Body() != text {
		return bad("not in its one canonical form (line order, spelling of durations)")
	}
	for _, n := range []string{c.Proposer, c.Acceptor} {
		if err := identity.CheckName("station name", n); err != nil {
			return bad("%v", err)
		}
	}
	return c, nil
}
