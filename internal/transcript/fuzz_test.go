package transcript_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"hotline/internal/transcript"
)

// FuzzReadBundle checks that ReadBundle and Verify never panic, that their
// errors are ErrBundle, and that a report Verify gives is consistent with
// the bundle.
func FuzzReadBundle(f *testing.F) {
	fx := mustBundleFixture(f)
	valid, err := json.Marshal(fx.Bundle)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	small := cloneBundle(fx.Bundle)
	small.Logs = small.Logs[:1]
	small.Logs[0].Entries = small.Logs[0].Entries[:1]
	small.Logs[0].Checkpoint = ""
	js, err := json.Marshal(small)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(js)
	f.Add([]byte(`{"format":"hotline-transcript/v1"}`))
	f.Add([]byte(`{"format":"hotline-transcript/v1","cards":["",""],"logs":[{"author":"a","entries":["SExFMQ=="]}]}`))
	f.Add([]byte(`{}`))

	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := transcript.ReadBundle(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, transcript.ErrBundle) {
				t.Fatalf("ReadBundle error %v is not ErrBundle", err)
			}
			return
		}
		if b.Format != transcript.BundleFormat && b.Format != transcript.BundleFormatV1 {
			t.Fatalf("ReadBundle accepted format %q", b.Format)
		}
		rep, err := transcript.Verify(b)
		if err != nil {
			if !errors.Is(err, transcript.ErrBundle) {
				t.Fatalf("Verify error %v is not ErrBundle", err)
			}
			return
		}
		if rep.Channel != b.Channel || len(rep.Parties) != 2 || len(rep.Logs) != len(b.Logs) {
			t.Fatalf("report %+v does not match the bundle", rep)
		}
		for i, l := range rep.Logs {
			bl := b.Logs[i]
			if l.Author != bl.Author || l.Entries != len(bl.Entries) || l.Receipted > uint64(l.Entries) {
				t.Fatalf("log report %+v does not match the log", l)
			}
			if (bl.Checkpoint == "") != (l.Receipted == 0) || bl.Checkpoint == "" && l.Author != b.ExportedBy {
				t.Fatalf("log %s: checkpoint %q but %d receipted", l.Author, bl.Checkpoint, l.Receipted)
			}
			if !bytes.Equal(l.Root, rootOf(bl.Entries)) {
				t.Fatalf("log %s: reported root is not the root of its entries", l.Author)
			}
		}
	})
}
