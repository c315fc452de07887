package transcript

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"hotline/internal/channel"
	"hotline/internal/envelope"
	"hotline/internal/identity"
	"hotline/internal/strictjson"
)

// Bundle formats, see docs/TRANSCRIPT.md. Format v2 adds the exporter's
// signed export statement; v1 bundles still verify, and their report says
// that their exporter and export time are not signed.
const (
	BundleFormat   = "hotline-transcript/v2"
	BundleFormatV1 = "hotline-transcript/v1"
)

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
	// Export is the exporter's signed statement of the fields above and
	// of each log's size and root (format v2; see Export).
	Export string `json:"export,omitempty"`
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
	// Checkpoint is the latest checkpoint of this log signed by the author
	// and cosigned by the other party (the receipt), or empty if none.
	Checkpoint string `json:"checkpoint,omitempty"`
	// Keys are the rotation statements the log's key entries carry (their
	// bodies are sealed to the other party, so they are shown here), by
	// index: from the entry after each, the author signs with the
	// statement's new card. See docs/TRANSCRIPT.md.
	Keys []BundleKey `json:"keys,omitempty"`
	// Entries are the exact envelope bytes, in order from index 1.
	Entries [][]byte `json:"entries"`
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
	Author  string `json:"author"`
	Entries int    `json:"entries"`
	// Receipted is how many entries the other party's cosignature
	// covers: for the exporter's log, the latest receipt its peer gave;
	// for the peer's log, the exporter's cosignature of the peer's
	// latest checkpoint.
	Receipted uint64 `json:"receipted"`
	// ReceiptTime is when the other party cosigned, by its clock and
	// under its signature (cosignature/v1): for the exporter's log, when
	// the peer's station held those entries; for the peer's log, when
	// the exporter cosigned at export. Zero for a receipt made before
	// receipts carried a time.
	ReceiptTime time.Time `json:"receipt_time,omitzero"`
	// HeldByOther is how many entries of this log the other party's own
	// checkpoint in the bundle says it held, if it says (the held line).
	HeldByOther uint64 `json:"held_by_other,omitempty"`
	Root        []byte `json:"root"` // root over all entries
	// Keys counts the author's keys the log is signed with: 1, plus one
	// for each key entry.
	Keys         int      `json:"keys"`
	Fingerprints []string `json:"fingerprints"` // of those keys, in order
	// Pinned is the key (1-based) whose fingerprint matched the pin
	// given for the author, 0 if none was given.
	Pinned int `json:"pinned,omitempty"`
	// Limits says what this log's part of the bundle does not prove,
	// one sentence each; empty when every entry it lists is proven.
	Limits []string `json:"limits,omitempty"`
}

// Report is the result of a successful Verify.
type Report struct {
	Format     string    `json:"format"`
	Channel    string    `json:"channel"`
	Parties    []string  `json:"parties"`
	ExportedBy string    `json:"exported_by"`
	ExportedAt time.Time `json:"exported_at"`
	// ExportSigned says the exporter signed exported_by, exported_at and
	// each log's size and root (format v2).
	ExportSigned bool        `json:"export_signed"`
	Logs         []LogReport `json:"logs"`
	// Limits says what the bundle as a whole does not prove.
	Limits []string `json:"limits,omitempty"`
	// Verdict is "verified" when nothing is limited, else "verified with
	// limits": read Limits, here and per log.
	Verdict string `json:"verdict"`
}

// Verdicts of a Report.
const (
	Verified        = "verified"
	VerifiedLimited = "verified with limits"
)

// Limited reports whether anything in the bundle is not fully proven.
func (r *Report) Limited() bool {
	if len(r.Limits) > 0 {
		return true
	}
	for _, l := range r.Logs {
		if len(l.Limits) > 0 {
			return true
		}
	}
	return false
}

// Options are what an auditor knows beyond the bundle.
type Options struct {
	// Pins are fingerprints known out of band, by station name. Each
	// party pinned must have a key of that fingerprint in the bundle.
	Pins map[string]string
}

// ReadBundle decodes a bundle strictly (internal/strictjson): unknown
// fields, names in another case, repeated names, null and missing
// required fields, invalid UTF-8 and data after the object are refused.
func ReadBundle(r io.Reader) (*Bundle, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxBundle+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxBundle {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrBundle, MaxBundle)
	}
	var b Bundle
	if err := strictjson.Decode(data, &b, MaxBundle); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBundle, err)
	}
	if b.Format != BundleFormat && b.Format != BundleFormatV1 {
		return nil, fmt.Errorf("%w: format %q, want %q (or %q)", ErrBundle, b.Format, BundleFormat, BundleFormatV1)
	}
	return &b, nil
}

// Verify checks a bundle with nothing known beyond it: VerifyWith and no
// Options.
func Verify(b *Bundle) (*Report, error) { return VerifyWith(b, Options{}) }

// VerifyWith checks every card, the charter, every entry's signature and
// place, each log's root and each cosigned checkpoint, that the logs are
// as long as each party's checkpoint says it held of the other, the
// export statement, and the pins. It uses golang.org/x/mod/sumdb/tlog as
// a second, independent RFC 6962 implementation for every root it
// checks. What it cannot prove it lists in the report's limits.
func VerifyWith(b *Bundle, opts Options) (*Report, error) {
	v, err := newVerifier(b)
	if err != nil {
		return nil, err
	}
	rep := &Report{Format: b.Format, Channel: b.Channel, Parties: v.names, ExportedBy: b.ExportedBy, ExportedAt: b.ExportedAt}
	if len(b.Logs) != 2 {
		return nil, bad("%d logs, want one for each party", len(b.Logs))
	}
	var heads []LogHead
	for i, l := range b.Logs {
		if l.Author != v.names[i] {
			return nil, bad("log %d is %q's; the exporter's log comes first, then the peer's, as the cards do", i+1, l.Author)
		}
		lr, err := v.checkLog(l)
		if err != nil {
			return nil, err
		}
		rep.Logs = append(rep.Logs, lr)
		heads = append(heads, LogHead{Author: l.Author, Size: uint64(lr.Entries), Root: lr.Root})
	}
	for _, step := range []func() error{v.checkReceipts, v.checkHeld, func() error { return v.checkExport(heads) }} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	if err := v.checkPins(rep, opts.Pins); err != nil {
		return nil, err
	}
	v.limits(rep)
	rep.ExportSigned = b.Format == BundleFormat
	rep.Verdict = Verified
	if rep.Limited() {
		rep.Verdict = VerifiedLimited
	}
	return rep, nil
}

// bad is a reason why a bundle does not verify. Each %v of format becomes
// %w, so that the cause among args stays testable with errors.Is.
func bad(format string, args ...any) error {
	return fmt.Errorf("%w: %w", ErrBundle, fmt.Errorf(strings.ReplaceAll(format, "%v", "%w"), args...))
}

// verifier is what Verify has learnt of a bundle so far.
type verifier struct {
	b     *Bundle
	cards map[string]*identity.Card // each party's first card, by name
	names []string                  // the parties: the exporter, then its peer
	other map[string]string         // each party's counterpart
	// replaced holds the replacement records, by the station they
	// re-pinned.
	replaced map[string][]replacement
	// walked holds each log's keys, from when the log is checked. A
	// cosignature may be by any key of the cosigner's chain in the
	// bundle that the chain does not show as revoked or lost. A receipt
	// is cumulative, and may be older than a rotation that the other log
	// shows.
	walked map[string]*logKeys
	// checkpoints holds each log's checkpoint, parsed, once checked
	// against the log's roots; roots each log's root at every size.
	checkpoints map[string]*Checkpoint
	roots       map[string][][]byte
	checks      []pendingCheck
	// receiptTimes holds when the other party cosigned each log's
	// checkpoint, by its author: zero for a receipt without a time.
	receiptTimes map[string]time.Time
}

// replacement is a re-pinning record and the entry of the log it is in.
type replacement struct {
	*Replacement
	log   string
	index uint64
}

// logKeys are the author's keys that sign a log, entry by entry.
type logKeys struct {
	cards []*identity.Card
	at    []int // at[i]: the key that signed entry i+1
	// ended says, for each key, how the log left it: by a rotation
	// (rotate or revoke), or lost.
	ended []keyEnd
	// vouched says, for each key reached by a lost-key statement, the
	// re-pinning record that makes it count.
	vouched []*replacement
	from    []uint64 // from[i]: the first entry key i signs
}

// How a log leaves a key.
const (
	rotated = identity.ReasonRotate
	revoked = identity.ReasonRevoke
	lost    = identity.ReasonLost
)

type keyEnd struct {
	reason string // "" while the key is current
	at     uint64 // the key entry that ends it
}

// current is the key that signs the log's next entry.
func (lk *logKeys) current() *identity.Card { return lk.cards[len(lk.cards)-1] }

// add makes card the log's key from entry from on, ended the current
// one for reason at key entry at.
func (lk *logKeys) add(card *identity.Card, from, at uint64, reason string, vouched *replacement) {
	lk.ended[len(lk.ended)-1] = keyEnd{reason: reason, at: at}
	lk.cards = append(lk.cards, card)
	lk.ended = append(lk.ended, keyEnd{})
	lk.vouched = append(lk.vouched, vouched)
	lk.from = append(lk.from, from)
}

// newVerifier checks the bundle's format, its two cards and its charter.
func newVerifier(b *Bundle) (*verifier, error) {
	if b.Format != BundleFormat && b.Format != BundleFormatV1 {
		return nil, bad("format %q", b.Format)
	}
	if len(b.Cards) != 2 {
		return nil, bad("%d station cards, want 2", len(b.Cards))
	}
	v := &verifier{b: b, cards: map[string]*identity.Card{}, walked: map[string]*logKeys{},
		checkpoints: map[string]*Checkpoint{}, roots: map[string][][]byte{}, receiptTimes: map[string]time.Time{}}
	verifiers, err := v.parseCards()
	if err != nil {
		return nil, err
	}
	if b.ExportedBy != v.names[0] {
		return nil, bad("exported_by is %q, but the first card, and the first log, are %s's: the exporter's come first", b.ExportedBy, v.names[0])
	}
	if err := v.checkCharter(verifiers); err != nil {
		return nil, err
	}
	v.other = map[string]string{v.names[0]: v.names[1], v.names[1]: v.names[0]}
	v.replaced = v.replacements()
	return v, nil
}

// parseCards reads the parties' cards and returns the verifier of each
// party's key.
func (v *verifier) parseCards() (map[string]note.Verifier, error) {
	verifiers := map[string]note.Verifier{}
	for i, text := range v.b.Cards {
		c, err := identity.ParseCard([]byte(text))
		if err != nil {
			return nil, bad("card %d: %v", i+1, err)
		}
		if v.cards[c.Name] != nil {
			return nil, bad("two cards for %s", c.Name)
		}
		cv, err := c.Verifier()
		if err != nil {
			return nil, bad("card %s: %v", c.Name, err)
		}
		v.cards[c.Name], verifiers[c.Name] = c, cv
		v.names = append(v.names, c.Name)
	}
	return verifiers, nil
}

// checkCharter checks that both parties signed the charter, and that it
// is the bundle's channel between them.
func (v *verifier) checkCharter(verifiers map[string]note.Verifier) error {
	ch, err := channel.Parse([]byte(v.b.Charter), verifiers[v.names[0]], verifiers[v.names[1]])
	if err != nil {
		return bad("charter: %v", err)
	}
	if ch.ID != v.b.Channel || v.cards[ch.Proposer] == nil || v.cards[ch.Acceptor] == nil || ch.Proposer == ch.Acceptor {
		return bad("charter is for %s between %s and %s, bundle for %s", ch.ID, ch.Proposer, ch.Acceptor, v.b.Channel)
	}
	return nil
}

// replacements gathers the replacement records in the parties' logs, by
// the station they re-pinned. A party's record about itself is left out.
func (v *verifier) replacements() map[string][]replacement {
	replaced := map[string][]replacement{}
	for _, l := range v.b.Logs {
		for _, k := range l.Keys {
			if k.Replaced != nil && v.cards[l.Author] != nil && k.Replaced.Station != l.Author {
				replaced[k.Replaced.Station] = append(replaced[k.Replaced.Station], replacement{k.Replaced, l.Author, k.Index})
			}
		}
	}
	return replaced
}

// checkLog checks each entry of a log, its root and its checkpoint, and
// reports on it.
func (v *verifier) checkLog(l BundleLog) (LogReport, error) {
	author := v.cards[l.Author]
	if author == nil || v.walked[l.Author] != nil {
		return LogReport{}, bad("log of %q: not a party, or listed twice", l.Author)
	}
	if len(l.Entries) == 0 {
		return LogReport{}, bad("%s's log has no entries: an active channel's log begins with its agreement, so entries were left out", l.Author)
	}
	lk := &logKeys{cards: []*identity.Card{author}, ended: []keyEnd{{}}, vouched: []*replacement{nil}, from: []uint64{1}}
	v.walked[l.Author] = lk
	statements, err := keyStatements(l)
	if err != nil {
		return LogReport{}, err
	}
	tree := NewTree()
	var roots [][]byte
	th := &tlogHashes{}
	for i, raw := range l.Entries {
		if err := v.checkEntry(l, lk, statements, i, raw); err != nil {
			return LogReport{}, err
		}
		tree.Append(raw)
		roots = append(roots, tree.Root())
		if err := th.add(int64(i), raw); err != nil {
			return LogReport{}, bad("log of %s: %v", l.Author, err)
		}
	}
	v.roots[l.Author] = roots
	lr := LogReport{Author: l.Author, Entries: len(l.Entries), Root: tree.Root(), Keys: len(lk.cards)}
	for _, c := range lk.cards {
		lr.Fingerprints = append(lr.Fingerprints, c.Fingerprint())
	}
	if err := th.check(int64(len(l.Entries)), lr.Root); err != nil {
		return LogReport{}, bad("log of %s: %v", l.Author, err)
	}
	if l.Checkpoint == "" {
		if l.Author != v.b.ExportedBy {
			return LogReport{}, bad("%s's log has no checkpoint: its entries reach the exporter with %s's signed checkpoint, so it was left out", l.Author, l.Author)
		}
		return lr, nil
	}
	if lr.Receipted, err = v.checkCheckpoint(l, lk, roots, th); err != nil {
		return LogReport{}, err
	}
	return lr, nil
}

// keyStatements indexes a log's key statements by the index of their
// entry. Each must be for an entry of the log, and only one for each.
func keyStatements(l BundleLog) (map[uint64]BundleKey, error) {
	statements := map[uint64]BundleKey{}
	for _, k := range l.Keys {
		if _, dup := statements[k.Index]; dup || k.Index == 0 || k.Index > uint64(len(l.Entries)) {
			return nil, bad("log of %s: key statement at index %d is repeated or beyond the log", l.Author, k.Index)
		}
		statements[k.Index] = k
	}
	return statements, nil
}

// checkEntry checks entry i+1 of a log: its signature, the key statement
// it carries if it is a key entry, and its place in the log.
func (v *verifier) checkEntry(l BundleLog, lk *logKeys, statements map[uint64]BundleKey, i int, raw []byte) error {
	e, err := envelope.Parse(raw)
	if err != nil {
		return bad("%s/%s/%d: %v", v.b.Channel, l.Author, i+1, err)
	}
	bk, has := statements[uint64(i+1)]
	key, switched, err := v.checkSignature(l.Author, lk, i, e, bk, has)
	if err != nil {
		return err
	}
	lk.at = append(lk.at, len(lk.cards)-1)
	if has != (e.Kind == envelope.Key) {
		return bad("%s: a key entry, and only a key entry, has a key statement in the bundle", e.ID())
	}
	if has && !switched {
		if err := v.followKey(l.Author, lk, e, bk, key); err != nil {
			return err
		}
	}
	if e.Channel != v.b.Channel || e.Author != l.Author || e.Recipient != v.other[l.Author] || e.Index != uint64(i+1) {
		return bad("entry %d of %s's log is %s to %s", i+1, l.Author, e.ID(), e.Recipient)
	}
	if (e.Index == 1) != (e.Kind == envelope.Agreement) {
		return bad("%s: entry 1, and only entry 1, is the channel agreement", e.ID())
	}
	return nil
}

// checkSignature checks that the log's current key signs entry i+1, and
// returns the key that does. A station that lost its key signs its key
// entry with the new key. That entry counts only if the other party
// recorded that it re-pinned the station by that card's fingerprint. The
// new key then becomes the log's key, and switched says so.
func (v *verifier) checkSignature(author string, lk *logKeys, i int, e *envelope.Envelope, bk BundleKey, has bool) (key *identity.Card, switched bool, err error) {
	key = lk.current()
	err = e.Verify(key.SignKey)
	if err == nil {
		return key, false, nil
	}
	card, record, lerr := lostKey(bk, has, key, e, v.replaced[author])
	if lerr != nil {
		return nil, false, bad("%s/%s/%d: %v (key %d of %s, fingerprint %s)", v.b.Channel, author, i+1, err, len(lk.cards), author, key.Fingerprint())
	}
	lk.add(card, uint64(i+1), uint64(i+1), lost, record)
	return card, true, nil
}

// followKey checks what a key entry signed by key carries. A rotation
// statement adds its new card to the log's keys. A replacement record
// must be about the other party.
func (v *verifier) followKey(author string, lk *logKeys, e *envelope.Envelope, bk BundleKey, key *identity.Card) error {
	if bk.Replaced != nil {
		if bk.Statement != "" || bk.Replaced.Station != v.other[author] {
			return bad("%s: a replacement record must name %s and only it", e.ID(), v.other[author])
		}
		return nil
	}
	r, err := identity.ParseRotation([]byte(bk.Statement))
	if err == nil {
		err = r.Check(author, key.SignKey)
	}
	if err != nil {
		return bad("%s: %v", e.ID(), err)
	}
	lk.add(r.Card, e.Index+1, e.Index, r.Reason, nil)
	return nil
}

// checkCheckpoint checks a log's checkpoint against the log's roots, and
// returns how many entries it covers. Its signatures are checked later,
// by checkReceipts.
func (v *verifier) checkCheckpoint(l BundleLog, lk *logKeys, roots [][]byte, th *tlogHashes) (uint64, error) {
	cp, err := ParseCheckpointText(noteText([]byte(l.Checkpoint)))
	if err != nil {
		return 0, bad("checkpoint of %s's log: %v", l.Author, err)
	}
	if cp.Size == 0 || cp.Size > uint64(len(l.Entries)) {
		return 0, bad("checkpoint of %s's log covers %d entries; the bundle holds %d", l.Author, cp.Size, len(l.Entries))
	}
	if cp.Origin != Origin(v.b.Channel, l.Author) {
		return 0, bad("checkpoint of %s's log names %q", l.Author, cp.Origin)
	}
	if !bytes.Equal(roots[cp.Size-1], cp.Root) {
		return 0, bad("%v: checkpoint of %s's log at size %d", ErrRoot, l.Author, cp.Size)
	}
	if err := th.check(int64(cp.Size), cp.Root); err != nil {
		return 0, bad("checkpoint of %s's log: %v", l.Author, err)
	}
	v.checkpoints[l.Author] = &cp
	v.checks = append(v.checks, pendingCheck{author: l.Author, other: v.other[l.Author], signed: []byte(l.Checkpoint), keyAt: lk.cards[lk.at[cp.Size-1]]})
	return cp.Size, nil
}

// checkReceipts checks each checkpoint's signatures once both logs' keys
// are known. The author signs by the key of the checkpoint's last entry.
// The other party signs by a key of its chain in the bundle that the
// chain does not show as revoked or lost: whoever holds such a key may
// have signed with it.
func (v *verifier) checkReceipts() error {
	for _, pc := range v.checks {
		av, err := pc.keyAt.Verifier()
		if err != nil {
			return bad("%v", err)
		}
		var last error
		ok := false
		chain := v.walked[pc.other]
		for i, c := range chain.cards {
			var r Receipt
			if r, last = OpenReceipt(pc.signed, av, ReceiptVerifiers(c.Name, c.SignKey)...); last != nil {
				continue
			}
			v.receiptTimes[pc.author] = r.Time
			if end := chain.ended[i]; end.reason == revoked || end.reason == lost {
				return bad("the checkpoint of %s's log is cosigned by %s's key %d (%s), which %s's log shows as %s at %s/%s/%d: a signature by that key proves nothing",
					pc.author, pc.other, i+1, c.Fingerprint(), pc.other, end.reason, v.b.Channel, pc.other, end.at)
			}
			ok = true
			break
		}
		if !ok {
			return bad("checkpoint of %s's log: %v", pc.author, last)
		}
	}
	return nil
}

// checkHeld checks what each party's checkpoint says it held of the
// other's log against that log in the bundle: a log shorter than that,
// or different, was cut back or rewritten.
func (v *verifier) checkHeld() error {
	for _, author := range v.names {
		cp := v.checkpoints[author]
		if cp == nil || cp.Held == nil {
			continue
		}
		other, h := v.other[author], cp.Held
		roots := v.roots[other]
		if h.Size > uint64(len(roots)) {
			return bad("%s's checkpoint of its log at %d says %s held %d entries of %s's log; the bundle holds %d: entries of %s's log were left out, or %s's station lost them (a restore) and has not fetched them back yet",
				author, cp.Size, author, h.Size, other, len(roots), other, other)
		}
		if h.Size > 0 && !bytes.Equal(roots[h.Size-1], h.Root) {
			return bad("%s's checkpoint of its log at %d says %s held %s's log at %d with root %x; the bundle's has root %x there: %s's log was rewritten",
				author, cp.Size, author, other, h.Size, h.Root, roots[h.Size-1], other)
		}
	}
	return nil
}

// checkPins checks each pinned fingerprint against the keys of its
// party's log, and notes in the report which key it matched.
func (v *verifier) checkPins(rep *Report, pins map[string]string) error {
	for name, fp := range pins {
		lk := v.walked[name]
		if lk == nil {
			return bad("a fingerprint is pinned for %s, which is not a party of this bundle (%s)", name, strings.Join(v.names, ", "))
		}
		var lr *LogReport
		for i := range rep.Logs {
			if rep.Logs[i].Author == name {
				lr = &rep.Logs[i]
			}
		}
		for i, c := range lk.cards {
			if identity.SameFingerprint(fp, c.Fingerprint()) {
				lr.Pinned = i + 1
			}
		}
		if lr.Pinned == 0 {
			return bad("%s's keys in the bundle (%s) do not match the fingerprint pinned for it, %s", name, strings.Join(lr.Fingerprints, ", "), fp)
		}
	}
	return nil
}

// limits lists what the bundle does not prove.
func (v *verifier) limits(rep *Report) {
	if v.b.Format == BundleFormatV1 {
		rep.Limits = append(rep.Limits, fmt.Sprintf("format %s: exported_by, exported_at and the logs' sizes are not signed by the exporter", BundleFormatV1))
	}
	for i := range rep.Logs {
		lr := &rep.Logs[i]
		author, other := lr.Author, v.other[lr.Author]
		if cp := v.checkpoints[other]; cp != nil && cp.Held != nil {
			lr.HeldByOther = cp.Held.Size
		}
		lr.ReceiptTime = v.receiptTimes[author]
		n := uint64(lr.Entries)
		switch {
		case lr.Receipted == 0:
			lr.Limits = append(lr.Limits, fmt.Sprintf("no entry is receipted by %s: every entry is signed by %s alone", other, author))
		case lr.Receipted < n && author == v.b.ExportedBy:
			lr.Limits = append(lr.Limits, fmt.Sprintf("%s signed by %s alone: %s has not receipted %s", entries(lr.Receipted+1, n), author, other, them(lr.Receipted+1, n)))
		case lr.Receipted < n:
			lr.Limits = append(lr.Limits, fmt.Sprintf("%s signed by %s one by one, but no checkpoint of %s's covers %s yet", entries(lr.Receipted+1, n), author, author, them(lr.Receipted+1, n)))
		}
		lk := v.walked[author]
		// A key reached by a lost-key statement counts because the
		// other party re-pinned it. When that party is the exporter, the
		// exporter could have made both the record and the key: only a
		// pin the auditor holds confirms it.
		for k, r := range lk.vouched {
			if r == nil || r.log != v.b.ExportedBy || lr.Pinned > k {
				continue
			}
			lr.Limits = append(lr.Limits, fmt.Sprintf("from entry %d, %s's log is signed by its key %d (%s), after it reported key %d lost; only %s, the exporter, vouches for that key, by its re-pinning record at %s/%s/%d (as the exporter shows it: the sealed entry is not checked); confirm the key with --pin %s=FINGERPRINT",
				lk.from[k], author, k+1, lk.cards[k].Fingerprint(), k, r.log, v.b.Channel, r.log, r.index, author))
		}
	}
}

// entries writes "entry N is" or "entries N–M are".
func entries(from, to uint64) string {
	if from == to {
		return fmt.Sprintf("entry %d is", from)
	}
	return fmt.Sprintf("entries %s are", span(from, to))
}

func them(from, to uint64) string {
	if from == to {
		return "it"
	}
	return "them"
}

// span writes an inclusive range of entries.
func span(from, to uint64) string {
	if from == to {
		return strconv.FormatUint(from, 10)
	}
	return fmt.Sprintf("%d–%d", from, to)
}

// lostKey checks a key entry that its log's key does not verify: a
// station's statement that its key was lost, signed by the new key, which
// signs the entry, and a record in the other party's log that it re-pinned
// the station by that card, replacing the key the log was signed with.
func lostKey(bk BundleKey, has bool, current *identity.Card, e *envelope.Envelope, records []replacement) (*identity.Card, *replacement, error) {
	if !has || bk.Statement == "" || e.Kind != envelope.Key {
		return nil, nil, errors.New("not a key entry with a statement")
	}
	r, err := identity.ParseRotation([]byte(bk.Statement))
	if err != nil {
		return nil, nil, err
	}
	if r.Reason != identity.ReasonLost || !r.OldKey.Equal(current.SignKey) || e.Verify(r.Card.SignKey) != nil {
		return nil, nil, errors.New("not a lost-key statement for this key, signed by its new key")
	}
	for i, x := range records {
		c, err := identity.ParseCard([]byte(x.Card))
		if err == nil && c.SignKey.Equal(r.Card.SignKey) && bytes.Equal(c.KEMKey, r.Card.KEMKey) && identity.SameFingerprint(x.Old, current.Fingerprint()) {
			return r.Card, &records[i], nil
		}
	}
	return nil, nil, errors.New("the other party's log has no record of re-pinning it by the new card")
}

// pendingCheck is a receipt whose signatures are checked once both logs'
// keys are known.
type pendingCheck struct {
	author, other string
	signed        []byte
	keyAt         *identity.Card
}

// noteText is the signed text of a note: everything before its last
// blank line, where C2SP signed-note says the signatures begin, and a
// final newline.
func noteText(signed []byte) string {
	return string(noteBody(signed)) + "\n"
}

// noteBody is a signed note's text without its final newline.
func noteBody(signed []byte) []byte {
	if i := bytes.LastIndex(signed, []byte("\n\n")); i >= 0 {
		return signed[:i]
	}
	return signed
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
