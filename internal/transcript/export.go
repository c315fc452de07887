package transcript

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"hotline/internal/identity"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

const exportHeader = "hotline transcript export v1"

// Export is what an exporter signs in a bundle of format v2: who wrote
// the bundle, when, and the size and root of each log it holds. Signed by
// a key of the exporter's that the bundle shows, it makes exported_by and
// exported_at the exporter's own signed word, and binds the logs to them.
type Export struct {
	Channel string
	By      string
	At      time.Time
	Logs    []LogHead
}

// LogHead is a log's size and root.
type LogHead struct {
	Author string
	Size   uint64
	Root   []byte
}

// Text is the statement's body, one field a line:
//
//	hotline transcript export v1
//	channel <channel>
//	exported-by <station>
//	exported-at <RFC 3339 UTC, nanoseconds>
//	log <author> <size> <root, base64>   (one line per log, in the bundle's order)
func (e Export) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\nchannel %s\nexported-by %s\nexported-at %s\n", exportHeader, e.Channel, e.By, e.At.UTC().Format(time.RFC3339Nano))
	for _, l := range e.Logs {
		fmt.Fprintf(&b, "log %s %d %s\n", l.Author, l.Size, base64.StdEncoding.EncodeToString(l.Root))
	}
	return b.String()
}

// SignExport signs the statement as the exporter.
func SignExport(e Export, s note.Signer) (string, error) {
	signed, err := note.Sign(&note.Note{Text: e.Text()}, s)
	return string(signed), err
}

// Seal completes a bundle as format v2: it signs the export statement of
// its channel, exporter, time and logs with the exporter's current key.
func (b *Bundle) Seal(s note.Signer) error {
	e := Export{Channel: b.Channel, By: b.ExportedBy, At: b.ExportedAt}
	for _, l := range b.Logs {
		t := NewTree()
		for _, raw := range l.Entries {
			t.Append(raw)
		}
		e.Logs = append(e.Logs, LogHead{Author: l.Author, Size: t.Size(), Root: t.Root()})
	}
	signed, err := SignExport(e, s)
	if err != nil {
		return err
	}
	b.Format, b.Export = BundleFormat, signed
	return nil
}

// parseExport parses the body of a signed export statement.
func parseExport(text string) (Export, error) {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 4 || lines[0] != exportHeader {
		return Export{}, fmt.Errorf("not a %q statement", exportHeader)
	}
	var e Export
	fields := []struct {
		key string
		set func(string) error
	}{
		{"channel", func(v string) error { e.Channel = v; return nil }},
		{"exported-by", func(v string) error { e.By = v; return nil }},
		{"exported-at", func(v string) (err error) { e.At, err = time.Parse(time.RFC3339Nano, v); return err }},
	}
	for i, f := range fields {
		v, ok := strings.CutPrefix(lines[i+1], f.key+" ")
		if !ok {
			return Export{}, fmt.Errorf("line %d is not %q", i+2, f.key)
		}
		if err := f.set(v); err != nil {
			return Export{}, fmt.Errorf("%s: %v", f.key, err)
		}
	}
	for _, l := range lines[4:] {
		var h LogHead
		var size, root string
		parts := strings.Split(l, " ")
		if len(parts) != 4 || parts[0] != "log" {
			return Export{}, fmt.Errorf("line %q is not \"log AUTHOR SIZE ROOT\"", l)
		}
		h.Author, size, root = parts[1], parts[2], parts[3]
		var err error
		if h.Size, err = parseSize(size); err != nil {
			return Export{}, err
		}
		if h.Root, err = parseRoot(root); err != nil {
			return Export{}, err
		}
		e.Logs = append(e.Logs, h)
	}
	return e, nil
}

// checkExport checks a v2 bundle's export statement: signed by a key of
// the exporter's chain in good standing, and saying what the bundle
// holds.
func (v *verifier) checkExport(export string, heads []LogHead) error {
	if v.h.Format != BundleFormat {
		if export != "" {
			return bad("a bundle of format %s has no export statement", v.h.Format)
		}
		return nil
	}
	if export == "" {
		return bad("no export statement: a bundle of format %s is signed by its exporter", BundleFormat)
	}
	by := v.h.ExportedBy
	var signed bool
	var n *note.Note
	for i, c := range v.walked[by].cards {
		cv, err := c.Verifier()
		if err != nil {
			return bad("%v", err)
		}
		if n, err = note.Open([]byte(export), note.VerifierList(cv)); err == nil {
			if end := v.walked[by].ended[i]; end.reason == revoked || end.reason == lost {
				return bad("the export statement is signed by %s's key %d (%s), which its log shows as %s at %s/%s/%d", by, i+1, c.Fingerprint(), end.reason, v.h.Channel, by, end.at)
			}
			signed = true
			break
		}
	}
	if !signed {
		return bad("the export statement is not signed by %s, the exporter, with any key the bundle shows", by)
	}
	e, err := parseExport(n.Text)
	if err != nil {
		return bad("export statement: %v", err)
	}
	if e.Channel != v.h.Channel || e.By != by || !e.At.Equal(v.h.ExportedAt) {
		return bad("the export statement says channel %s, exported by %s at %s; the bundle says %s, %s, %s",
			e.Channel, e.By, e.At.Format(time.RFC3339Nano), v.h.Channel, by, v.h.ExportedAt.Format(time.RFC3339Nano))
	}
	if len(e.Logs) != len(heads) {
		return bad("the export statement lists %d logs; the bundle holds %d", len(e.Logs), len(heads))
	}
	for i, h := range heads {
		s := e.Logs[i]
		if s.Author != h.Author || s.Size != h.Size || !bytes.Equal(s.Root, h.Root) {
			return bad("the export statement says %s's log holds %d entries (root %x); the bundle's holds %d (root %x)", s.Author, s.Size, s.Root, h.Size, h.Root)
		}
	}
	return nil
}

// DropRevokedReceipt removes the receipt of the exporter's log (the
// first) if the peer cosigned it with a key that the peer's log (the
// second) shows as revoked or lost. Whoever holds such a key may have
// made that signature, so it proves nothing and Verify refuses it; the
// log is then shown as not receipted, which is the truth until the peer
// receipts it with its new key.
func (b *Bundle) DropRevokedReceipt() {
	if len(b.Logs) != 2 || b.Logs[0].Checkpoint == "" {
		return
	}
	peer := b.Logs[1]
	for _, k := range peer.Keys {
		r, err := identity.ParseRotation([]byte(k.Statement))
		if err != nil || r.Reason != identity.ReasonRevoke && r.Reason != identity.ReasonLost {
			continue
		}
		n, err := note.Open([]byte(b.Logs[0].Checkpoint), note.VerifierList(ReceiptVerifiers(peer.Author, r.OldKey)...))
		if err == nil && len(n.Sigs) > 0 {
			b.Logs[0].Checkpoint = ""
			return
		}
	}
}
