package transcript

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"hotline/internal/channel"
	"hotline/internal/envelope"
	"hotline/internal/identity"
)

// The verifier takes a bundle as a stream: its head (format, channel,
// exporter, cards, charter), then each log (author, checkpoint, key
// statements) followed by its entries one at a time, then the export
// statement. It keeps a few dozen bytes per entry (the tlog hashes), not
// the entries, so that a bundle of a million entries verifies in bounded
// memory (VerifyStream). Verify and VerifyWith feed it a Bundle held in
// memory. Entry signatures are checked on every core at once.

// VerifyWith checks every card, the charter, every entry's signature and
// place, each log's root and each cosigned checkpoint, that the logs are
// as long as each party's checkpoint says it held of the other, the
// export statement, and the pins. It uses golang.org/x/mod/sumdb/tlog as
// a second, independent RFC 6962 implementation for every root it
// checks. What it cannot prove it lists in the report's limits.
func VerifyWith(b *Bundle, opts Options) (*Report, error) {
	vd, err := Check(b, opts)
	if err != nil {
		return nil, err
	}
	return vd.Report, nil
}

// Checked is a bundle that verified: its report, and what Compare needs
// of it (each log's hashes, not its entries).
type Checked struct {
	Report  *Report
	charter string
	logs    map[string]*tlogHashes
}

// Check is VerifyWith, keeping what Compare needs.
func Check(b *Bundle, opts Options) (*Checked, error) {
	if len(b.Logs) != 2 {
		return nil, bad("%d logs, want one for each party", len(b.Logs))
	}
	v, err := newVerifier(head{Format: b.Format, Channel: b.Channel, ExportedBy: b.ExportedBy, ExportedAt: b.ExportedAt, Cards: b.Cards, Charter: b.Charter})
	if err != nil {
		return nil, err
	}
	defer v.stop()
	for _, l := range b.Logs {
		if err := v.beginLog(l.Author, l.Checkpoint, l.Keys, l.Disclosed); err != nil {
			return nil, err
		}
		for _, raw := range l.Entries {
			if err := v.entry(raw); err != nil {
				return nil, err
			}
		}
		if err := v.endLog(); err != nil {
			return nil, err
		}
	}
	return v.finish(b.Export, opts)
}

// head is what a bundle says before its logs.
type head struct {
	Format, Channel, ExportedBy string
	ExportedAt                  time.Time
	Cards                       []string
	Charter                     string
}

// bad is a reason why a bundle does not verify. Each %v of format becomes
// %w, so that the cause among args stays testable with errors.Is.
func bad(format string, args ...any) error {
	return fmt.Errorf("%w: %w", ErrBundle, fmt.Errorf(strings.ReplaceAll(format, "%v", "%w"), args...))
}

// verifier is what Verify has learnt of a bundle so far.
type verifier struct {
	h     head
	cards map[string]*identity.Card // each party's first card, by name
	names []string                  // the parties: the exporter, then its peer
	other map[string]string         // each party's counterpart
	// replaced holds the replacement records of the logs begun so far,
	// by the station they re-pinned.
	replaced map[string][]replacement
	// walked holds each log's keys, from when the log is checked. A
	// cosignature may be by any key of the cosigner's chain in the
	// bundle that the chain does not show as revoked or lost. A receipt
	// is cumulative, and may be older than a rotation that the other log
	// shows.
	walked map[string]*logKeys
	// checkpoints holds each log's checkpoint, parsed; hashes each log's
	// tlog hashes, from which its root at any size is computed.
	checkpoints map[string]*Checkpoint
	hashes      map[string]*tlogHashes
	reports     []LogReport
	checks      []pendingCheck
	// vouches are lost-key entries whose other party's record of
	// re-pinning is looked for once every log's records are known.
	vouches []vouch
	// receiptTimes holds when the other party cosigned each log's
	// checkpoint, by its author: zero for a receipt without a time.
	receiptTimes map[string]time.Time

	// charterShown: a disclosed entry 1 carries the bundle's charter.
	charterShown bool
	// charterLater is the acceptor whose signature of the charter is not
	// by the key its log began with: checked at the end of its log.
	charterLater string

	log  *logState // the log being read
	sigs *sigPool
}

// logState is the log being read.
type logState struct {
	author     string
	lk         *logKeys
	statements map[uint64]BundleKey
	checkpoint string
	cp         *Checkpoint
	tree       *Tree
	th         *tlogHashes
	n          uint64
	cpRoot     []byte // the compact range's root at the checkpoint's size
	// disclosures are the log's disclosed entries, by index; disclosed
	// those opened, in order.
	disclosures map[uint64]Disclosure
	disclosed   []Disclosed
	// withdrawAt is the author's withdrawal of its proposal (entry 1),
	// agreedAt the acceptance of the other party's proposal that may
	// follow it (crossing proposals), otherCharter that a disclosed entry
	// 1 carries a charter other than the bundle's: the proposal withdrawn.
	withdrawAt, agreedAt uint64
	otherCharter         string
}

// replacement is a re-pinning record and the entry of the log it is in.
type replacement struct {
	*Replacement
	log   string
	index uint64
}

// vouch is a lost-key entry waiting for the other party's record.
type vouch struct {
	author string
	index  uint64
	key    int // the key the entry switched to
	card   *identity.Card
	old    *identity.Card
	sigErr error
}

// logKeys are the author's keys that sign a log, entry by entry.
type logKeys struct {
	cards []*identity.Card
	// atSize is the key (an index in cards) that signed the entry at
	// each change: from[k] is the first entry key k signs.
	from []uint64
	// ended says, for each key, how the log left it: by a rotation
	// (rotate or revoke), or lost.
	ended []keyEnd
	// vouched says, for each key reached by a lost-key statement, the
	// re-pinning record that makes it count.
	vouched []*replacement
}

// How a log leaves a key (or by a plain rotation, identity.ReasonRotate).
const (
	revoked = identity.ReasonRevoke
	lost    = identity.ReasonLost
)

type keyEnd struct {
	reason string // "" while the key is current
	at     uint64 // the key entry that ends it
}

// current is the key that signs the log's next entry.
func (lk *logKeys) current() *identity.Card { return lk.cards[len(lk.cards)-1] }

// keyAt is the key that signed entry i.
func (lk *logKeys) keyAt(i uint64) *identity.Card {
	k := 0
	for j, f := range lk.from {
		if f <= i {
			k = j
		}
	}
	return lk.cards[k]
}

// add makes card the log's key from entry from on, ended the current
// one for reason at key entry at.
func (lk *logKeys) add(card *identity.Card, from, at uint64, reason string) {
	lk.ended[len(lk.ended)-1] = keyEnd{reason: reason, at: at}
	lk.cards = append(lk.cards, card)
	lk.ended = append(lk.ended, keyEnd{})
	lk.vouched = append(lk.vouched, nil)
	lk.from = append(lk.from, from)
}

// newVerifier checks the bundle's format, its two cards and its charter.
func newVerifier(h head) (*verifier, error) {
	if h.Format != BundleFormat && h.Format != BundleFormatV1 {
		return nil, bad("format %q", h.Format)
	}
	if len(h.Cards) != 2 {
		return nil, bad("%d station cards, want 2", len(h.Cards))
	}
	v := &verifier{h: h, cards: map[string]*identity.Card{}, walked: map[string]*logKeys{}, replaced: map[string][]replacement{},
		checkpoints: map[string]*Checkpoint{}, hashes: map[string]*tlogHashes{}, receiptTimes: map[string]time.Time{}}
	verifiers, err := v.parseCards()
	if err != nil {
		return nil, err
	}
	if h.ExportedBy != v.names[0] {
		return nil, bad("exported_by is %q, but the first card, and the first log, are %s's: the exporter's come first", h.ExportedBy, v.names[0])
	}
	if err := v.checkCharter(verifiers); err != nil {
		return nil, err
	}
	v.other = map[string]string{v.names[0]: v.names[1], v.names[1]: v.names[0]}
	v.sigs = newSigPool()
	return v, nil
}

// stop ends the signature workers.
func (v *verifier) stop() { v.sigs.stop() }

// parseCards reads the parties' cards and returns the verifier of each
// party's key.
func (v *verifier) parseCards() (map[string]note.Verifier, error) {
	verifiers := map[string]note.Verifier{}
	for i, text := range v.h.Cards {
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
	ch, err := channel.Parse([]byte(v.h.Charter), verifiers[v.names[0]], verifiers[v.names[1]])
	if err != nil {
		// The acceptor of crossing proposals signs with the key its log
		// is at when it accepts, after its own withdrawn proposal: a key
		// change between the two makes it a later key than the one its
		// log began with, checked at the end of its log (endLog). The
		// proposer's signature is checked now.
		u, uerr := channel.ParseUnverified([]byte(v.h.Charter))
		if uerr != nil || v.cards[u.Proposer] == nil || v.cards[u.Acceptor] == nil || u.Proposer == u.Acceptor {
			return bad("charter: %v", err)
		}
		if _, perr := channel.Parse([]byte(v.h.Charter), verifiers[u.Proposer]); perr != nil {
			return bad("charter: %v", err)
		}
		ch, v.charterLater = u, u.Acceptor
	}
	if ch.ID != v.h.Channel || v.cards[ch.Proposer] == nil || v.cards[ch.Acceptor] == nil || ch.Proposer == ch.Acceptor {
		return bad("charter is for %s between %s and %s, bundle for %s", ch.ID, ch.Proposer, ch.Acceptor, v.h.Channel)
	}
	return nil
}

// beginLog starts the next log: the exporter's, then the peer's.
func (v *verifier) beginLog(author, checkpoint string, keys []BundleKey, disclosed []Disclosure) error {
	i := len(v.reports)
	if i >= 2 {
		return bad("more than 2 logs, want one for each party")
	}
	if author != v.names[i] {
		return bad("log %d is %q's; the exporter's log comes first, then the peer's, as the cards do", i+1, author)
	}
	card := v.cards[author]
	lk := &logKeys{cards: []*identity.Card{card}, ended: []keyEnd{{}}, vouched: []*replacement{nil}, from: []uint64{1}}
	v.walked[author] = lk
	statements := map[uint64]BundleKey{}
	for _, k := range keys {
		if _, dup := statements[k.Index]; dup || k.Index == 0 {
			return bad("log of %s: key statement at index %d is repeated or beyond the log", author, k.Index)
		}
		statements[k.Index] = k
		if k.Replaced != nil && k.Replaced.Station != author {
			v.replaced[k.Replaced.Station] = append(v.replaced[k.Replaced.Station], replacement{k.Replaced, author, k.Index})
		}
	}
	ls := &logState{author: author, lk: lk, statements: statements, checkpoint: checkpoint, tree: NewTree(), th: &tlogHashes{},
		disclosures: map[uint64]Disclosure{}}
	for _, d := range disclosed {
		if _, dup := ls.disclosures[d.Index]; dup || d.Index == 0 {
			return bad("log of %s: entry %d is disclosed twice, or is not an entry", author, d.Index)
		}
		ls.disclosures[d.Index] = d
	}
	if checkpoint != "" {
		cp, err := ParseCheckpointText(noteText([]byte(checkpoint)))
		if err != nil {
			return bad("checkpoint of %s's log: %v", author, err)
		}
		if cp.Origin != Origin(v.h.Channel, author) {
			return bad("checkpoint of %s's log names %q", author, cp.Origin)
		}
		if cp.Size == 0 {
			return bad("checkpoint of %s's log covers 0 entries", author)
		}
		ls.cp = &cp
	}
	v.log = ls
	return nil
}

// entry checks the log's next entry: its signature (by the pool), the
// key statement it carries if it is a key entry, and its place.
func (v *verifier) entry(raw []byte) error {
	ls := v.log
	ls.n++
	i := ls.n
	if err := v.checkEntry(ls, i, raw); err != nil {
		// A signature that fails at or before i is the first fault.
		if serr := v.sigs.wait(); serr != nil && serr.index <= i {
			return serr.err
		}
		return err
	}
	// The leaf hash is SHA-256(0x00 || entry), computed once; the two
	// implementations each build the tree above it.
	leaf := LeafHash(raw)
	ls.tree.AppendLeafHash(leaf)
	if err := ls.th.addLeaf(int64(i-1), leaf); err != nil {
		return bad("log of %s: %v", ls.author, err)
	}
	if ls.cp != nil && ls.cp.Size == i {
		ls.cpRoot = ls.tree.Root()
	}
	return nil
}

// checkEntry checks entry i of the log being read.
func (v *verifier) checkEntry(ls *logState, i uint64, raw []byte) error {
	e, err := envelope.Parse(raw)
	if err != nil {
		return bad("%s/%s/%d: %v", v.h.Channel, ls.author, i, err)
	}
	bk, has := ls.statements[i]
	if has != (e.Kind == envelope.Key) {
		if err := v.sigs.verifyNow(v, ls, i, e); err != nil {
			return err
		}
		return bad("%s: a key entry, and only a key entry, has a key statement in the bundle", e.ID())
	}
	if has {
		// A key entry changes the key the next entries are checked with:
		// it is checked here, at once.
		if err := v.keyEntry(ls, i, e, bk); err != nil {
			return err
		}
	} else {
		v.sigs.verify(v, ls, i, e)
	}
	if e.Channel != v.h.Channel || e.Author != ls.author || e.Recipient != v.other[ls.author] || e.Index != i {
		return bad("entry %d of %s's log is %s to %s", i, ls.author, e.ID(), e.Recipient)
	}
	switch {
	case e.Index == 1 && e.Kind != envelope.Agreement:
		return bad("%s: entry 1, and only entry 1, is the channel agreement", e.ID())
	case e.Index > 1 && e.Kind == envelope.Agreement:
		// After entry 1, only the acceptance of the other party's
		// proposal, once, after the author withdrew its own crossing one.
		if ls.withdrawAt == 0 || ls.agreedAt != 0 {
			return bad("%s: entry 1, and only entry 1, is the channel agreement (or the acceptance that follows the author's withdrawn proposal)", e.ID())
		}
		ls.agreedAt = i
	case e.Kind == envelope.Withdraw:
		if ls.withdrawAt != 0 {
			return bad("%s: a second withdrawal in one log", e.ID())
		}
		ls.withdrawAt = i
	}
	if d, ok := ls.disclosures[i]; ok {
		return v.disclose(ls, e, d)
	}
	return nil
}

// disclose opens a disclosed entry with the key the bundle gives for it:
// the one its author committed to in the signed entry. The body the
// bundle shows must be what it opens.
func (v *verifier) disclose(ls *logState, e *envelope.Envelope, d Disclosure) error {
	body, err := e.OpenDisclosed(d.Key)
	if err != nil {
		return bad("%s is disclosed with a key that does not open it: %v", e.ID(), err)
	}
	if string(body) != d.Body {
		return bad("%s: the body the bundle discloses is not the entry's: the disclosed text was changed", e.ID())
	}
	// A disclosed agreement shows the charter the log began with: it must
	// be the bundle's (the proposer's carries it with one signature), or
	// the author's own proposal that it withdrew.
	if e.Kind == envelope.Agreement {
		var a struct {
			Charter string `json:"charter"`
		}
		err := json.Unmarshal(body, &a)
		switch {
		case err != nil:
			return bad("%s: the charter it carries is not the bundle's charter", e.ID())
		case noteText([]byte(a.Charter)) != noteText([]byte(v.h.Charter)) && e.Index == 1:
			// The author's own proposal, which it must have withdrawn
			// (endLog).
			ls.otherCharter = e.ID()
		case noteText([]byte(a.Charter)) != noteText([]byte(v.h.Charter)):
			return bad("%s: the charter it carries is not the bundle's charter", e.ID())
		default:
			v.charterShown = true
		}
	}
	ls.disclosed = append(ls.disclosed, Disclosed{ID: e.ID(), Author: e.Author, Index: e.Index, Kind: e.Kind.String(),
		Precedence: e.Precedence.String(), Time: e.Time, Body: d.Body})
	return nil
}

// keyEntry checks key entry i. A rotation statement, signed by the log's
// key, makes its card the key from the next entry. A station that lost
// its key signs its key entry with the new key: that entry counts only
// if the other party recorded that it re-pinned the station by that card
// (looked for at the end, once every log's records are known); the new
// key signs from this entry. A replacement record must be about the
// other party.
func (v *verifier) keyEntry(ls *logState, i uint64, e *envelope.Envelope, bk BundleKey) error {
	key := ls.lk.current()
	if sigErr := e.Verify(key.SignKey); sigErr != nil {
		card, lerr := lostKey(bk, key, e)
		if lerr != nil {
			return bad("%s/%s/%d: %v (key %d of %s, fingerprint %s)", v.h.Channel, ls.author, i, sigErr, len(ls.lk.cards), ls.author, key.Fingerprint())
		}
		v.vouches = append(v.vouches, vouch{author: ls.author, index: i, key: len(ls.lk.cards), card: card, old: key, sigErr: sigErr})
		ls.lk.add(card, i, i, lost)
		return nil
	}
	if bk.Replaced != nil {
		if bk.Statement != "" || bk.Replaced.Station != v.other[ls.author] {
			return bad("%s: a replacement record must name %s and only it", e.ID(), v.other[ls.author])
		}
		return nil
	}
	r, err := identity.ParseRotation([]byte(bk.Statement))
	if err == nil {
		err = r.Check(ls.author, key.SignKey)
	}
	if err != nil {
		return bad("%s: %v", e.ID(), err)
	}
	ls.lk.add(r.Card, i+1, i, r.Reason)
	return nil
}

// endLog checks the log's signatures, roots and checkpoint, and reports
// on it.
func (v *verifier) endLog() error {
	ls := v.log
	if err := v.sigs.wait(); err != nil {
		return err.err
	}
	for idx := range ls.statements {
		if idx > ls.n {
			return bad("log of %s: key statement at index %d is repeated or beyond the log", ls.author, idx)
		}
	}
	if ls.n == 0 {
		return bad("%s's log has no entries: an active channel's log begins with its agreement, so entries were left out", ls.author)
	}
	if v.charterLater == ls.author {
		cv, err := ls.lk.keyAt(max(ls.agreedAt, 1)).Verifier()
		if err == nil {
			_, err = channel.Parse([]byte(v.h.Charter), cv)
		}
		if ls.agreedAt == 0 || err != nil {
			return bad("charter: not signed by %s, neither by the key its log began with nor by the key of an acceptance after its withdrawn proposal: %v", ls.author, err)
		}
	}
	if ls.otherCharter != "" && ls.agreedAt == 0 {
		return bad("%s: the charter it carries is not the bundle's charter, and %s's log neither withdraws it nor accepts the bundle's", ls.otherCharter, ls.author)
	}
	for idx := range ls.disclosures {
		if idx > ls.n {
			return bad("log of %s: entry %d is disclosed, but the log holds %d", ls.author, idx, ls.n)
		}
	}
	lr := LogReport{Author: ls.author, Entries: int(ls.n), Root: ls.tree.Root(), Keys: len(ls.lk.cards), Disclosed: ls.disclosed}
	for _, c := range ls.lk.cards {
		lr.Fingerprints = append(lr.Fingerprints, c.Fingerprint())
	}
	if err := ls.th.check(int64(ls.n), lr.Root); err != nil {
		return bad("log of %s: %v", ls.author, err)
	}
	v.hashes[ls.author] = ls.th
	switch {
	case ls.cp != nil:
		if err := v.endCheckpoint(ls); err != nil {
			return err
		}
		lr.Receipted = ls.cp.Size
	case ls.author != v.h.ExportedBy:
		return bad("%s's log has no checkpoint: its entries reach the exporter with %s's signed checkpoint, so it was left out", ls.author, ls.author)
	}
	v.reports = append(v.reports, lr)
	v.log = nil
	return nil
}

// endCheckpoint checks a log's checkpoint against the log's roots. Its
// signatures are checked at the end, by checkReceipts.
func (v *verifier) endCheckpoint(ls *logState) error {
	cp := ls.cp
	if cp.Size > ls.n {
		return bad("checkpoint of %s's log covers %d entries; the bundle holds %d", ls.author, cp.Size, ls.n)
	}
	if !bytes.Equal(ls.cpRoot, cp.Root) {
		return bad("%v: checkpoint of %s's log at size %d", ErrRoot, ls.author, cp.Size)
	}
	if err := ls.th.check(int64(cp.Size), cp.Root); err != nil {
		return bad("checkpoint of %s's log: %v", ls.author, err)
	}
	v.checkpoints[ls.author] = cp
	v.checks = append(v.checks, pendingCheck{author: ls.author, other: v.other[ls.author], signed: []byte(ls.checkpoint), keyAt: ls.lk.keyAt(cp.Size)})
	return nil
}

// finish checks what needs both logs: the lost-key records, the
// receipts, the held lines, the export statement and the pins.
func (v *verifier) finish(export string, opts Options) (*Checked, error) {
	if len(v.reports) != 2 {
		return nil, bad("%d logs, want one for each party", len(v.reports))
	}
	var heads []LogHead
	for _, lr := range v.reports {
		heads = append(heads, LogHead{Author: lr.Author, Size: uint64(lr.Entries), Root: lr.Root})
	}
	for _, step := range []func() error{v.checkVouches, v.checkReceipts, v.checkHeld, func() error { return v.checkExport(export, heads) }} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	rep := &Report{Format: v.h.Format, Channel: v.h.Channel, Parties: v.names, ExportedBy: v.h.ExportedBy, ExportedAt: v.h.ExportedAt, Logs: v.reports}
	if err := v.checkPins(rep, opts.Pins); err != nil {
		return nil, err
	}
	v.limits(rep)
	if !v.charterShown {
		rep.Limits = append(rep.Limits, "the charter is signed by both parties, but nothing ties it to this channel's entries: neither log's entry 1, which carries it, is disclosed (an export by a station of protocol version 4 or later discloses them)")
	}
	rep.ExportSigned = v.h.Format == BundleFormat
	rep.Verdict = Verified
	if rep.Limited() {
		rep.Verdict = VerifiedLimited
	}
	return &Checked{Report: rep, charter: v.h.Charter, logs: v.hashes}, nil
}

// checkVouches checks that each lost-key entry has its record in the
// other party's log.
func (v *verifier) checkVouches() error {
	for _, x := range v.vouches {
		r := findRecord(x.card, x.old, v.replaced[x.author])
		if r == nil {
			return bad("%s/%s/%d: %v (key %d of %s, fingerprint %s), and the other party's log has no record of re-pinning %s by the card of the key that signs it",
				v.h.Channel, x.author, x.index, x.sigErr, x.key, x.author, x.old.Fingerprint(), x.author)
		}
		v.walked[x.author].vouched[x.key] = r
	}
	return nil
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
					pc.author, pc.other, i+1, c.Fingerprint(), pc.other, end.reason, v.h.Channel, pc.other, end.at)
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
		th := v.hashes[other]
		if n := th.size(); h.Size > n {
			return bad("%s's checkpoint of its log at %d says %s held %d entries of %s's log; the bundle holds %d: entries of %s's log were left out, or %s's station lost them (a restore) and has not fetched them back yet, or %s signed a held line that is false (the two parties' exports, compared, tell which)",
				author, cp.Size, author, h.Size, other, n, other, other, author)
		}
		if h.Size == 0 {
			continue
		}
		if root, err := th.root(int64(h.Size)); err != nil || !bytes.Equal(root, h.Root) {
			return bad("%s's checkpoint of its log at %d says %s held %s's log at %d with root %x; the bundle's has root %x there: %s's log was rewritten, or %s signed a held line that is false (the two parties' exports, compared, tell which)",
				author, cp.Size, author, other, h.Size, h.Root, root, other, author)
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
	if v.h.Format == BundleFormatV1 {
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
		case lr.Receipted < n && author == v.h.ExportedBy:
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
			if r == nil || r.log != v.h.ExportedBy || lr.Pinned > k {
				continue
			}
			lr.Limits = append(lr.Limits, fmt.Sprintf("from entry %d, %s's log is signed by its key %d (%s), after it reported key %d lost; only %s, the exporter, vouches for that key, by its re-pinning record at %s/%s/%d (as the exporter shows it: the sealed entry is not checked); confirm the key with --pin %s=FINGERPRINT",
				lk.from[k], author, k+1, lk.cards[k].Fingerprint(), k, r.log, v.h.Channel, r.log, r.index, author))
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
// station's statement that its key was lost, naming the key the log was
// signed with, signed by the new key, which signs the entry. It returns
// the new card.
func lostKey(bk BundleKey, current *identity.Card, e *envelope.Envelope) (*identity.Card, error) {
	if bk.Statement == "" {
		return nil, errors.New("not a key entry with a statement")
	}
	r, err := identity.ParseRotation([]byte(bk.Statement))
	if err != nil {
		return nil, err
	}
	if r.Reason != identity.ReasonLost || !r.OldKey.Equal(current.SignKey) || e.Verify(r.Card.SignKey) != nil {
		return nil, errors.New("not a lost-key statement for this key, signed by its new key")
	}
	return r.Card, nil
}

// findRecord finds the other party's record that it re-pinned a station
// by card, replacing the key old.
func findRecord(card, old *identity.Card, records []replacement) *replacement {
	for i, x := range records {
		c, err := identity.ParseCard([]byte(x.Card))
		if err == nil && c.SignKey.Equal(card.SignKey) && bytes.Equal(c.KEMKey, card.KEMKey) && identity.SameFingerprint(x.Old, old.Fingerprint()) {
			return &records[i]
		}
	}
	return nil
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

// tlogHashes computes roots with golang.org/x/mod/sumdb/tlog: about two
// hashes (64 bytes) per entry.
type tlogHashes struct {
	stored []tlog.Hash
	n      int64
}

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

// addLeaf adds entry n (0-based) by its leaf hash.
func (t *tlogHashes) addLeaf(n int64, leaf []byte) error {
	hs, err := tlog.StoredHashesForRecordHash(n, tlog.Hash(leaf), t)
	if err != nil {
		return err
	}
	t.stored = append(t.stored, hs...)
	t.n = n + 1
	return nil
}

func (t *tlogHashes) size() uint64 { return uint64(t.n) }

// root is the root at size n.
func (t *tlogHashes) root(n int64) ([]byte, error) {
	if n == 0 {
		return EmptyRoot(), nil
	}
	h, err := tlog.TreeHash(n, t)
	if err != nil {
		return nil, err
	}
	return h[:], nil
}

func (t *tlogHashes) check(n int64, root []byte) error {
	if n == 0 {
		return nil
	}
	h, err := t.root(n)
	if err != nil {
		return err
	}
	if !bytes.Equal(h, root) {
		return fmt.Errorf("%w (independent check with sumdb/tlog at size %d)", ErrRoot, n)
	}
	return nil
}

// sigPool checks entry signatures on every core. A failure is reported
// for the lowest index that failed, with the key that should have signed.
type sigPool struct {
	jobs    chan sigJob
	workers sync.WaitGroup
	pending sync.WaitGroup
	mu      sync.Mutex
	failed  *sigFailure
}

type sigJob struct {
	e   *envelope.Envelope
	key ed25519.PublicKey
	// fail is the error to report if the signature does not verify.
	fail func(error) error
	idx  uint64
}

type sigFailure struct {
	index uint64
	err   error
}

func newSigPool() *sigPool {
	p := &sigPool{jobs: make(chan sigJob, 1024)}
	for range runtime.GOMAXPROCS(0) {
		p.workers.Add(1)
		go func() {
			defer p.workers.Done()
			batch := make([]sigJob, 0, sigBatch)
			for j := range p.jobs {
				batch = append(batch[:0], j)
			fill:
				for len(batch) < sigBatch {
					select {
					case j, ok := <-p.jobs:
						if !ok {
							break fill
						}
						batch = append(batch, j)
					default:
						break fill
					}
				}
				p.check(batch)
			}
		}()
	}
	return p
}

// batchSignatures is false only in the benchmark's baseline.
var batchSignatures = true

// sigBatch is how many signatures are checked together: a batch costs
// about a third of checking them one by one.
const sigBatch = 256

// check checks a batch of signatures at once (Ed25519 batch
// verification, batch.go); if the batch fails, one by one with
// crypto/ed25519, to name the entries that do.
func (p *sigPool) check(jobs []sigJob) {
	var bv batch
	for _, j := range jobs {
		if batchSignatures {
			bv.add(j.key, j.e.SignedMessage(), j.e.Sig)
		}
	}
	if len(jobs) == 1 || !batchSignatures || !bv.verify() {
		for _, j := range jobs {
			if err := j.e.Verify(j.key); err != nil {
				p.fail(j.idx, j.fail(err))
			}
		}
	}
	for range jobs {
		p.pending.Done()
	}
}

func (p *sigPool) fail(idx uint64, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failed == nil || idx < p.failed.index {
		p.failed = &sigFailure{idx, err}
	}
}

// verify queues entry i's signature check with the log's current key.
func (p *sigPool) verify(v *verifier, ls *logState, i uint64, e *envelope.Envelope) {
	key, k := ls.lk.current(), len(ls.lk.cards)
	p.pending.Add(1)
	p.jobs <- sigJob{e: e, key: key.SignKey, idx: i, fail: func(err error) error {
		return bad("%s/%s/%d: %v (key %d of %s, fingerprint %s)", v.h.Channel, ls.author, i, err, k, ls.author, key.Fingerprint())
	}}
}

// verifyNow checks entry i's signature with the log's current key, here.
func (p *sigPool) verifyNow(v *verifier, ls *logState, i uint64, e *envelope.Envelope) error {
	key := ls.lk.current()
	if err := e.Verify(key.SignKey); err != nil {
		return bad("%s/%s/%d: %v (key %d of %s, fingerprint %s)", v.h.Channel, ls.author, i, err, len(ls.lk.cards), ls.author, key.Fingerprint())
	}
	return nil
}

// wait waits for the checks queued and returns the first failure, if any.
func (p *sigPool) wait() *sigFailure {
	p.pending.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failed
}

func (p *sigPool) stop() {
	close(p.jobs)
	p.workers.Wait()
}
