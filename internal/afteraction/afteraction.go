// Package afteraction writes the after-action report of an incident: one
// self-contained HTML document (its styles inline, the map inline as SVG,
// no script, nothing fetched) with the incident's lifecycle, the timeline
// of every entry linked to it, the map of its geometry, and, for every
// entry, the proof that it is in the channel's transcript: its exact
// bytes, its leaf hash and the RFC 6962 inclusion proof against a
// checkpoint signed by its author and cosigned by the other party, with
// the instructions to check them offline.
//
// The report is gathered through ops.Ops (the station itself, or the
// local API), so hotline incident report and the console make the same
// document.
package afteraction

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"hotline/internal/badrequest"
	"hotline/internal/ops"
	"hotline/internal/transcript"
)

// Format names the report's data, embedded in the document as JSON.
const Format = "hotline after-action report v1"

// ErrNoIncident marks an incident the station does not hold.
var ErrNoIncident = errors.New("no such incident")

// Report is everything the document shows.
type Report struct {
	Format   string           `json:"format"`
	Station  string           `json:"station"` // who made it
	MadeAt   time.Time        `json:"made_at"`
	Incident ops.IncidentView `json:"incident"`
	Entries  []Entry          `json:"entries"`
	// Logs are the two logs' checkpoints the proofs are against; Cards
	// the two station cards whose keys signed them; Charter the
	// channel's charter signed by both.
	Logs    []Log    `json:"logs"`
	Cards   []string `json:"cards"`
	Charter string   `json:"charter"`
	// Broadcasts are the sets this station's entries of the incident
	// belong to: each sent to several parties in one act, each party's
	// copy on its own channel (not proven here: each is in its own
	// channel's transcript, hotline export --broadcast).
	Broadcasts []ops.BroadcastView `json:"broadcasts,omitempty"`
}

// Log is one author's log on the channel: its checkpoint, signed by the
// author and cosigned by the other party.
type Log struct {
	Author     string `json:"author"`
	Entries    uint64 `json:"entries"`              // held here
	Checkpoint string `json:"checkpoint,omitempty"` // the signed note
	Size       uint64 `json:"size,omitempty"`       // of the checkpoint
	Root       []byte `json:"root,omitempty"`
	// ReceiptTime is when the other party cosigned the checkpoint, by
	// its clock, under its signature; zero if the receipt has no time.
	ReceiptTime time.Time `json:"receipt_time,omitzero"`
}

// Entry is one entry of the incident and its proof of inclusion.
type Entry struct {
	ID     string `json:"id"`
	Author string `json:"author"`
	Index  uint64 `json:"index"` // 1-based, in the author's log
	// Step is the incident step the entry is (an incident entry), or ""
	// for an entry the incident links (a report, a message, a notice).
	Step    *ops.IncidentStepView `json:"step,omitempty"`
	Message *ops.MessageView      `json:"message,omitempty"`
	// Envelope is the entry's exact bytes, as signed and logged.
	Envelope []byte `json:"envelope"`
	// LeafIndex is Index-1; LeafHash is SHA-256(0x00 || Envelope).
	LeafIndex uint64 `json:"leaf_index"`
	LeafHash  []byte `json:"leaf_hash"`
	// Proof is the RFC 6962 inclusion proof of the leaf in the tree of
	// TreeSize leaves, whose root is the author's log's checkpoint's.
	TreeSize uint64   `json:"tree_size,omitempty"`
	Proof    [][]byte `json:"proof,omitempty"`
	// Unproven says why there is no proof: no checkpoint cosigned by the
	// other party covers the entry yet.
	Unproven string `json:"unproven,omitempty"`
}

// Proven counts the entries with a proof.
func (r *Report) Proven() int {
	n := 0
	for _, e := range r.Entries {
		if e.Proof != nil || e.TreeSize > 0 {
			n++
		}
	}
	return n
}

// FileName is a file name for the report of an incident.
func FileName(id string) string {
	return "incident-" + strings.NewReplacer("/", "-", "\\", "-", `"`, "", " ", "_").Replace(id) + ".html"
}

// Gather builds the report of the incident opened by entry id, from what
// the station holds: the incident, its entries and linked entries as
// messages, and the channel's transcript (Ops.Export), which it verifies
// (transcript.Verify) before making a proof from it.
func Gather(ctx context.Context, o ops.Ops, id string, now time.Time) (*Report, error) {
	ch, _, _, err := ops.ParseID(id)
	if err != nil {
		return nil, err
	}
	incs, err := o.Incidents(ctx, ch)
	if err != nil {
		return nil, err
	}
	var inc *ops.IncidentView
	for i := range incs {
		if incs[i].ID == id {
			inc = &incs[i]
		}
	}
	if inc == nil {
		return nil, fmt.Errorf("%w: %w: %s on channel %s", badrequest.Err, ErrNoIncident, id, ch)
	}
	msgs := map[string]*ops.MessageView{}
	for _, f := range []func(context.Context, string) ([]ops.MessageView, error){o.Inbox, o.Outbox} {
		ms, err := f(ctx, ch)
		if err != nil {
			return nil, err
		}
		for i := range ms {
			msgs[ms[i].ID] = &ms[i]
		}
	}
	b, err := o.Export(ctx, ch)
	if err != nil {
		return nil, err
	}
	rep, err := transcript.Verify(b)
	if err != nil {
		return nil, fmt.Errorf("the transcript of %s does not verify: %w", ch, err)
	}
	r := &Report{Format: Format, Station: b.ExportedBy, MadeAt: now.UTC(), Incident: *inc, Cards: b.Cards, Charter: b.Charter}
	logs := map[string]*transcript.BundleLog{}
	for i, l := range b.Logs {
		logs[l.Author] = &b.Logs[i]
		lg := Log{Author: l.Author, Entries: uint64(len(l.Entries)), Checkpoint: l.Checkpoint}
		if l.Checkpoint != "" {
			// Verify checked its signatures, by whichever keys of the
			// two chains made them, and its root.
			cp, err := transcript.PeekCheckpoint([]byte(l.Checkpoint))
			if err != nil {
				return nil, fmt.Errorf("checkpoint of %s's log: %w", l.Author, err)
			}
			lg.Size, lg.Root, lg.ReceiptTime = cp.Size, cp.Root, rep.Logs[i].ReceiptTime
		}
		r.Logs = append(r.Logs, lg)
	}
	seen := map[string]bool{}
	add := func(eid string, step *ops.IncidentStepView) error {
		if seen[eid] {
			return nil
		}
		seen[eid] = true
		ech, author, idx, err := ops.ParseID(eid)
		if err != nil {
			return err
		}
		if ech != ch {
			return fmt.Errorf("entry %s is on channel %s, not the incident's %s", eid, ech, ch)
		}
		l := logs[author]
		if l == nil || idx > uint64(len(l.Entries)) {
			return fmt.Errorf("entry %s is not in the transcript held here", eid)
		}
		e := Entry{ID: eid, Author: author, Index: idx, Step: step, Message: msgs[eid], Envelope: l.Entries[idx-1], LeafIndex: idx - 1}
		e.LeafHash = transcript.LeafHash(e.Envelope)
		var lg *Log
		for i := range r.Logs {
			if r.Logs[i].Author == author {
				lg = &r.Logs[i]
			}
		}
		switch {
		case lg.Checkpoint == "":
			e.Unproven = fmt.Sprintf("no checkpoint of %s's log cosigned by the other party is held here yet", author)
		case idx > lg.Size:
			e.Unproven = fmt.Sprintf("the latest checkpoint of %s's log cosigned by the other party covers entries 1-%d; this entry is not receipted yet", author, lg.Size)
		default:
			p, err := transcript.InclusionProof(l.Entries, e.LeafIndex, lg.Size)
			if err != nil {
				return fmt.Errorf("entry %s: %w", eid, err)
			}
			if err := transcript.VerifyInclusion(e.LeafHash, e.LeafIndex, lg.Size, p, lg.Root); err != nil {
				return fmt.Errorf("entry %s: its inclusion proof does not verify: %w", eid, err)
			}
			e.TreeSize, e.Proof = lg.Size, p
			if e.Proof == nil {
				e.Proof = [][]byte{}
			}
		}
		r.Entries = append(r.Entries, e)
		return nil
	}
	for i := range inc.Timeline {
		if err := add(inc.Timeline[i].Entry, &inc.Timeline[i]); err != nil {
			return nil, err
		}
	}
	for _, l := range inc.Links {
		if _, _, _, err := ops.ParseID(l); err == nil && strings.HasPrefix(l, ch+"/") {
			if err := add(l, nil); err != nil {
				return nil, err
			}
		}
	}
	slices.SortStableFunc(r.Entries, func(a, b Entry) int { return a.at().Compare(b.at()) })
	// An entry of this station's that went to several parties: the whole
	// set, as the station records it (a copy received has only the id).
	for _, e := range r.Entries {
		if m := e.Message; m != nil && m.Broadcast != "" && e.Author == r.Station &&
			!slices.ContainsFunc(r.Broadcasts, func(b ops.BroadcastView) bool { return b.ID == m.Broadcast }) {
			b, err := o.BroadcastShow(ctx, m.Broadcast)
			if err != nil {
				return nil, fmt.Errorf("broadcast %s of entry %s: %w", m.Broadcast, e.ID, err)
			}
			r.Broadcasts = append(r.Broadcasts, *b)
		}
	}
	return r, nil
}

// at is when the entry's author wrote it.
func (e Entry) at() time.Time {
	switch {
	case e.Message != nil:
		return e.Message.SentAt
	case e.Step != nil:
		return e.Step.At
	}
	return time.Time{}
}

// Data is the report as JSON, for the document's machine-readable part.
func (r *Report) Data() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(true) // no "<" in the document's script element
	enc.SetIndent("", " ")
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Parse reads the report's data back from a document HTML wrote.
func Parse(doc []byte) (*Report, error) {
	const open = `<script type="application/json" id="hotline-report">`
	i := bytes.Index(doc, []byte(open))
	if i < 0 {
		return nil, errors.New("after-action report: no report data in the document")
	}
	rest := doc[i+len(open):]
	j := bytes.Index(rest, []byte("</script>"))
	if j < 0 {
		return nil, errors.New("after-action report: report data not closed")
	}
	var r Report
	if err := json.Unmarshal(rest[:j], &r); err != nil {
		return nil, fmt.Errorf("after-action report: %w", err)
	}
	if r.Format != Format {
		return nil, fmt.Errorf("after-action report: format %q is not %q", r.Format, Format)
	}
	return &r, nil
}
