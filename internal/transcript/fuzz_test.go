package transcript_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

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
		// The streaming reader accepts exactly what the in-memory one
		// accepts, in the order it streams.
		_, serr := transcript.CheckStream(bytes.NewReader(data), transcript.Options{})
		if serr != nil && !errors.Is(serr, transcript.ErrBundle) && !errors.Is(serr, transcript.ErrOrder) {
			t.Fatalf("CheckStream error %v is neither ErrBundle nor ErrOrder", serr)
		}
		defer func() {
			if t.Failed() || errors.Is(serr, transcript.ErrOrder) {
				return
			}
			b, err := transcript.ReadBundle(bytes.NewReader(data))
			if err == nil {
				_, err = transcript.Verify(b)
			}
			if (err == nil) != (serr == nil) && utf8.Valid(data) {
				t.Fatalf("in memory: %v; streaming: %v", err, serr)
			}
		}()
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

// FuzzCompare checks that Verify and Compare of two bundles never panic,
// that their errors are ErrBundle, and that a comparison they give is
// consistent with the bundles. The seeds are the fixture's two exports.
func FuzzCompare(f *testing.F) {
	fx := mustBundleFixture(f)
	a, err := json.Marshal(fx.Bundle)
	if err != nil {
		f.Fatal(err)
	}
	b, err := json.Marshal(bravoExport(f, fx))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(a, b)
	f.Add(b, a)
	f.Add(a, a)
	f.Fuzz(func(t *testing.T, da, db []byte) {
		var cs []*transcript.Checked
		for _, d := range [][]byte{da, db} {
			bu, err := transcript.ReadBundle(bytes.NewReader(d))
			if err != nil {
				return
			}
			c, err := transcript.Check(bu, transcript.Options{})
			if err != nil {
				return
			}
			cs = append(cs, c)
		}
		c, err := transcript.Compare(cs[0], cs[1])
		if err != nil {
			if !errors.Is(err, transcript.ErrBundle) {
				t.Fatalf("Compare error %v is not ErrBundle", err)
			}
			return
		}
		if c.Channel != cs[0].Report.Channel || len(c.Logs) != 2 {
			t.Fatalf("comparison %+v does not match the bundles", c)
		}
		for _, l := range c.Logs {
			if l.By != abs(l.Copies[0]-l.Copies[1]) || (l.Longer == "") != (l.By == 0) {
				t.Fatalf("log comparison %+v is inconsistent", l)
			}
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
