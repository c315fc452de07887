package transcript

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"hotline/internal/channel"
	"hotline/internal/envelope"
	"hotline/internal/identity"
)

// BundleFormat names the audit bundle format, see docs/TRANSCRIPT.md.
const BundleFormat = "hotline-transcript/v1"

// MaxBundle bounds the size of a bundle that Verify reads.
const MaxBundle = 1 << 30

// ErrBundle marks a bundle that does not verify.
var ErrBundle = errors.New("transcript bundle does not verify")

// Bundle is an exported channel transcript: everything needed to check it
// offline, with no access to either station.
type Bundle struct {
	Format     string    `json:"format"`
	Channel    string    `json:"channel"`
	ExportedBy string    `json:"exported_by"`
	ExportedAt time.Time `json:"exported_at"`
	// Cards are both station cards, signed notes: each the card its
	// station's log on the channel began with. A log's key entries (Keys)
	// lead from it to later cards.
	Cards   []string    `json:"cards"`
	Charter string      `json:"charter"` // signed by both parties
	Logs    []BundleLog `json:"logs"`
}

// BundleLog is one author's log.
type BundleLog struct {
	Author string `json:"author"`
	// Entries are the exact envelope bytes, in order from index 1.
	Entries [][]byte `json:"entries"`
	// Checkpoint is the latest checkpoint of this log signed by the author
	// and cosigned by the other party (the receipt), or empty if none.
	Checkpoint string `json:"checkpoint,omitempty"`
	// Keys are the rotation statements the log's key entries carry (their
	// bodies are sealed to the other party, so they are shown here), by
	// index: from the entry after each, the author signs with the
	// statement's new card. See docs/TRANSCRIPT.md.
	Keys []BundleKey `json:"keys,omitempty"`
}

// BundleKey is what a key entry carries: the author's rotation
// statement, or the record that the author re-pinned the other party by
// fingerprint after it lost its key.
type BundleKey struct {
	Index     uint64       `json:"index"`
	Statement string       `json:"statement,omitempty"`
	Replaced  *Replacement `json:"replaced,omitempty"`
}

// Replacement records that a station's signal officer re-pinned its peer
// under a new card, by a fingerprint read aloud, because the peer lost
// its key (docs/PROTOCOL.md, "Lost keys").
type Replacement struct {
	Station string `json:"station"` // the peer re-pinned
	Old     string `json:"old"`     // fingerprint of the key it lost
	Card    string `json:"card"`    // its new card
	By      string `json:"by"`      // who re-pinned it
}

// LogReport says what Verify found in one log.
type LogReport struct {
	Author    string `json:"author"`
	Entries   int    `json:"entries"`
	Receipted uint64 `json:"receipted"` // entries covered by the cosigned checkpoint
	Root      []byte `json:"root"`      // root over all entries
	// Keys counts the author's keys the log is signed with: 1, plus one
	// for each key entry.
	Keys         int      `json:"keys"`
	Fingerprints []string `json:"fingerprints"` // of those keys, in order
}

// Report is the result of a successful Verify.
type Report struct {
	Channel string      `json:"channel"`
	Parties []string    `json:"parties"`
	Logs    []LogReport `json:"logs"`
}

// ReadBundle decodes a bundle.
func ReadBundle(r io.Reader) (*Bundle, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxBundle+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxBundle {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrBundle, MaxBundle)
	}
	var b Bundle
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBundle, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the bundle's JSON object", ErrBundle)
	}
	if b.Format != BundleFormat {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrBundle, b.Format, BundleFormat)
	}
	return &b, nil
}

// Verify checks every card, the charter, every entry's signature and
// place, each log's root and each cosigned checkpoint. It uses
// golang.org/x/mod/sumdb/tlog as a second, independent RFC 6962
// implementation for every root it checks.
func Verify(b *Bundle) (*Report, error) {
	// bad keeps the cause (an error among args) testable with errors.Is.
	bad := func(format string, args ...any) (*Report, error) {
		return nil, fmt.Errorf("%w: %w", ErrBundle, fmt.Errorf(strings.ReplaceAll(format, "%v", "%w"), args...))
	}
	if b.Format != BundleFormat {
		return bad("format %q", b.Format)
	}
	if len(b.Cards) != 2 {
		return bad("%d station cards, want 2", len(b.Cards))
	}
	cards := map[string]*identity.Card{}
	verifiers := map[string]note.Verifier{}
	var names []string
	for i, text := range b.Cards {
		c, err := identity.ParseCard([]byte(text))
		if err != nil {
			return bad("card %d: %v", i+1, err)
		}
		if cards[c.Name] != nil {
			return bad("two cards for %s", c.Name)
		}
		v, err := c.Verifier()
		if err != nil {
			return bad("card %s: %v", c.Name, err)
		}
		cards[c.Name], verifiers[c.Name] = c, v
		names = append(names, c.Name)
	}
	ch, err := channel.Parse([]byte(b.Charter), verifiers[names[0]], verifiers[names[1]])
	if err != nil {
		return bad("charter: %v", err)
	}
	if ch.ID != b.Channel || cards[ch.Proposer] == nil || cards[ch.Acceptor] == nil || ch.Proposer == ch.Acceptor {
		return bad("charter is for %s between %s and %s, bundle for %s", ch.ID, ch.Proposer, ch.Acceptor, b.Channel)
	}
	other := map[string]string{names[0]: names[1], names[1]: names[0]}
	rep := &Report{Channel: b.Channel, Parties: names}
	// Each log's keys, entry by entry; and every key of each party the
	// bundle shows (a cosignature may be by any of the cosigner's keys
	// not revoked: a receipt is cumulative, and may be older than a
	// rotation that the other log shows).
	type logKeys struct {
		cards []*identity.Card
		at    []int // at[i]: the key that signed entry i+1
	}
	walked := map[string]*logKeys{}
	var checks []pendingCheck
	// Replacement records, by the station they re-pinned.
	replaced := map[string][]*Replacement{}
	for _, l := range b.Logs {
		for _, k := range l.Keys {
			if k.Replaced != nil && cards[l.Author] != nil && k.Replaced.Station != l.Author {
				replaced[k.Replaced.Station] = append(replaced[k.Replaced.Station], k.Replaced)
			}
		}
	}
	for _, l := range b.Logs {
		author := cards[l.Author]
		if author == nil || walked[l.Author] != nil {
			return bad("log of %q: not a party, or listed twice", l.Author)
		}
		lk := &logKeys{cards: []*identity.Card{author}}
		walked[l.Author] = lk
		statements := map[uint64]BundleKey{}
		for _, k := range l.Keys {
			if _, dup := statements[k.Index]; dup || k.Index == 0 || k.Index > uint64(len(l.Entries)) {
				return bad("log of %s: key statement at index %d is repeated or beyond the log", l.Author, k.Index)
			}
			statements[k.Index] = k
		}
		tree := NewTree()
		var roots [][]byte
		th := &tlogHashes{}
		for i, raw := range l.Entries {
			e, err := envelope.Parse(raw)
			if err != nil {
				return bad("%s/%s/%d: %v", b.Channel, l.Author, i+1, err)
			}
			key := lk.cards[len(lk.cards)-1]
			bk, has := statements[uint64(i+1)]
			switched := false
			if err := e.Verify(key.SignKey); err != nil {
				// A station that lost its key: its key entry, signed by
				// the new key, counts only if the other party recorded
				// that it re-pinned it by that card's fingerprint.
				card, lerr := lostKey(bk, has, key, e, replaced[l.Author])
				if lerr != nil {
					return bad("%s/%s/%d: %v (key %d of %s, fingerprint %s)", b.Channel, l.Author, i+1, err, len(lk.cards)-1, l.Author, key.Fingerprint())
				}
				lk.cards, key, switched = append(lk.cards, card), card, true
			}
			lk.at = append(lk.at, len(lk.cards)-1)
			if has != (e.Kind == envelope.Key) {
				return bad("%s: a key entry, and only a key entry, has a key statement in the bundle", e.ID())
			}
			switch {
			case !has || switched:
			case bk.Replaced != nil:
				if bk.Statement != "" || bk.Replaced.Station != other[l.Author] {
					return bad("%s: a replacement record must name %s and only it", e.ID(), other[l.Author])
				}
			default:
				r, err := identity.ParseRotation([]byte(bk.Statement))
				if err == nil {
					err = r.Check(l.Author, key.SignKey)
				}
				if err != nil {
					return bad("%s: %v", e.ID(), err)
				}
				lk.cards = append(lk.cards, r.Card)
			}
			if e.Channel != b.Channel || e.Author != l.Author || e.Recipient != other[l.Author] || e.Index != uint64(i+1) {
				return bad("entry %d of %s's log is %s to %s", i+1, l.Author, e.ID(), e.Recipient)
			}
			if (e.Index == 1) != (e.Kind == envelope.Agreement) {
				return bad("%s: entry 1, and only entry 1, is the channel agreement", e.ID())
			}
			tree.Append(raw)
			roots = append(roots, tree.Root())
			if err := th.add(int64(i), raw); err != nil {
				return bad("log of %s: %v", l.Author, err)
			}
		}
		lr := LogReport{Author: l.Author, Entries: len(l.Entries), Root: tree.Root(), Keys: len(lk.cards)}
		for _, c := range lk.cards {
			lr.Fingerprints = append(lr.Fingerprints, c.Fingerprint())
		}
		if err := th.check(int64(len(l.Entries)), lr.Root); err != nil {
			return bad("log of %s: %v", l.Author, err)
		}
		if l.Checkpoint != "" {
			cp, err := ParseCheckpointText(noteText([]byte(l.Checkpoint)))
			if err != nil {
				return bad("checkpoint of %s's log: %v", l.Author, err)
			}
			if cp.Size == 0 || cp.Size > uint64(len(l.Entries)) {
				return bad("checkpoint of %s's log covers %d entries; the bundle holds %d", l.Author, cp.Size, len(l.Entries))
			}
			checks = append(checks, pendingCheck{author: l.Author, other: other[l.Author], signed: []byte(l.Checkpoint), keyAt: lk.cards[lk.at[cp.Size-1]]})
			if cp.Origin != Origin(b.Channel, l.Author) {
				return bad("checkpoint of %s's log names %q", l.Author, cp.Origin)
			}
			if !bytes.Equal(roots[cp.Size-1], cp.Root) {
				return bad("%v: checkpoint of %s's log at size %d", ErrRoot, l.Author, cp.Size)
			}
			if err := th.check(int64(cp.Size), cp.Root); err != nil {
				return bad("checkpoint of %s's log: %v", l.Author, err)
			}
			lr.Receipted = cp.Size
		}
		rep.Logs = append(rep.Logs, lr)
	}
	if len(rep.Logs) != 2 {
		return bad("%d logs, want one for each party", len(rep.Logs))
	}
	// Receipts: the author's signature by the key of the checkpoint's last
	// entry, the other party's by any key of its chain in the bundle.
	for _, pc := range checks {
		av, err := pc.keyAt.Verifier()
		if err != nil {
			return bad("%v", err)
		}
		var last error
		ok := false
		for _, c := range walked[pc.other].cards {
			cv, err := c.Verifier()
			if err != nil {
				return bad("%v", err)
			}
			if _, _, last = OpenCheckpoint(pc.signed, av, cv); last == nil {
				ok = true
				break
			}
		}
		if !ok {
			return bad("checkpoint of %s's log: %v", pc.author, last)
		}
	}
	return rep, nil
}

// lostKey checks a key entry that its log's key does not verify: a
// station's statement that its key was lost, signed by the new key, which
// signs the entry, and a record in the other party's log that it re-pinned
// the station by that card, replacing the key the log was signed with.
func lostKey(bk BundleKey, has bool, current *identity.Card, e *envelope.Envelope, records []*Replacement) (*identity.Card, error) {
	if !has || bk.Statement == "" || e.Kind != envelope.Key {
		return nil, errors.New("not a key entry with a statement")
	}
	r, err := identity.ParseRotation([]byte(bk.Statement))
	if err != nil {
		return nil, err
	}
	if r.Reason != identity.ReasonLost || !r.OldKey.Equal(current.SignKey) || e.Verify(r.Card.SignKey) != nil {
		return nil, errors.New("not a lost-key statement for this key, signed by its new key")
	}
	for _, x := range records {
		c, err := identity.ParseCard([]byte(x.Card))
		if err == nil && c.SignKey.Equal(r.Card.SignKey) && bytes.Equal(c.KEMKey, r.Card.KEMKey) && identity.SameFingerprint(x.Old, current.Fingerprint()) {
			return r.Card, nil
		}
	}
	return nil, errors.New("the other party's log has no record of re-pinning it by the new card")
}

// pendingCheck is a receipt whose signatures are checked once both logs'
// keys are known.
type pendingCheck struct {
	author, other string
	signed        []byte
	keyAt         *identity.Card
}

func noteText(signed []byte) string {
	body, _, _ := bytes.Cut(signed, []byte("\n\n"))
	return string(body) + "\n"
}

// tlogHashes computes roots with golang.org/x/mod/sumdb/tlog.
type tlogHashes struct{ stored []tlog.Hash }

func (t *tlogHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(t.stored)) {
			return nil, fmt.Errorf("tlog: hash %d not stored", x)
		}
		out[i] = t.stored[x]
	}
	return out, nil
}

func (t *tlogHashes) add(n int64, data []byte) error {
	hs, err := tlog.StoredHashes(n, data, t)
	if err != nil {
		return err
	}
	t.stored = append(t.stored, hs...)
	return nil
}

func (t *tlogHashes) check(n int64, root []byte) error {
	if n == 0 {
		return nil
	}
	h, err := tlog.TreeHash(n, t)
	if err != nil {
		return err
	}
	if !bytes.Equal(h[:], root) {
		return fmt.Errorf("%w (independent check with sumdb/tlog at size %d)", ErrRoot, n)
	}
	return nil
}
