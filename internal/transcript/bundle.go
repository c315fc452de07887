package transcript

import (
	"errors"
	"fmt"
	"io"
	"time"

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
	// Disclosed are the entries of this log the exporter chose to
	// reveal: each with its own key (envelope version 3), which opens it
	// and no other, and the body that key opens.
	Disclosed []Disclosure `json:"disclosed,omitempty"`
	// Entries are the exact envelope bytes, in order from index 1.
	Entries [][]byte `json:"entries"`
}

// Disclosure reveals one entry: its own key, and the body (JSON) that
// the key opens, for a reader's convenience: Verify opens the entry with
// the key and refuses a body that differs.
type Disclosure struct {
	Index uint64 `json:"index"`
	Key   []byte `json:"key"`
	Body  string `json:"body"`
}

// Disclosed is an entry a bundle discloses, as Verify opened it.
type Disclosed struct {
	ID         string    `json:"id"`
	Author     string    `json:"author"`
	Index      uint64    `json:"index"`
	Kind       string    `json:"kind"`
	Precedence string    `json:"precedence"`
	Time       time.Time `json:"time"` // the author's clock, in the signed header
	Body       string    `json:"body"`
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
	// Disclosed are the entries of this log the bundle discloses, each
	// opened with its own key.
	Disclosed []Disclosed `json:"disclosed,omitempty"`
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
