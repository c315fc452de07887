package api_test

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hotline/internal/api"
	"hotline/internal/ops"
	"hotline/internal/protocol"
)

// writeBundleFile writes a bundle file of a head, n copies of a frame and a
// tail, without holding it.
func writeBundleFile(t *testing.T, head string, n int, frame []byte, tail string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bundle")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	w.WriteString(head)
	q := `"` + base64.StdEncoding.EncodeToString(frame) + `"`
	for i := range n {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(q)
	}
	w.WriteString(tail)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// importFile imports the bundle file at path through n's API client, which
// sends the file as it reads it.
func importFile(t *testing.T, n *node, path string) (*ops.ImportView, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return n.c.BundleImport(t.Context(), f)
}

// TestBundleThroughAPI: a bundle goes to the API as a stream, the client
// sending the file as it reads it and the station reading the body as it
// comes. A genuine bundle is taken, and again changes nothing. A bundle of
// a million tiny frames is refused at frame 65,537 with a 400 naming the
// limit, which the client gets though the station stopped reading the
// body there, and the station is unchanged.
func TestBundleThroughAPI(t *testing.T) {
	ctx := t.Context()
	usa, chn := newNode(t, "USA", "127.0.0.1:1"), newNode(t, "CHN", "127.0.0.1:1")
	for _, p := range []struct{ self, other *node }{{usa, chn}, {chn, usa}} {
		if _, err := p.self.c.AddPeer(ctx, p.other.card.Text, p.other.card.Fingerprint()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := usa.c.Propose(ctx, ops.ProposeRequest{Peer: "CHN", Channel: staff, Level: "staff"}); err != nil {
		t.Fatal(err)
	}
	b, err := usa.c.BundleExport(ctx, "CHN")
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	genuine := filepath.Join(t.TempDir(), "usa-to-chn.bundle")
	if err := os.WriteFile(genuine, data, 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := importFile(t, chn, genuine)
	if err != nil || v.From != "USA" || v.Frames != len(b.Frames) || v.Entries != 1 {
		t.Fatalf("genuine bundle: %+v, %v; want %d frames and the proposal", v, err, len(b.Frames))
	}
	if c, err := channelOf(ctx, chn, staff); err != nil || c == nil || c.State != "incoming" {
		t.Fatalf("channel at CHN after the bundle: %+v, %v", c, err)
	}
	before := stateOf(t, chn)
	if v, err := importFile(t, chn, genuine); err != nil || v.Entries != 0 {
		t.Errorf("genuine bundle again: %+v, %v; want 0 new entries", v, err)
	}
	assertUnchanged(t, chn, before, "a bundle imported twice")

	frame := (&protocol.Frame{Type: protocol.FrameReceipt, Channel: staff, Author: "CHN"}).Encode()
	head := fmt.Sprintf(`{"format":%q,"from":"USA","to":"CHN","created_at":"2026-11-25T10:00:00Z","frames":[`, ops.OfflineFormat)
	tiny := writeBundleFile(t, head, 1_000_000, frame, "]}")
	_, err = importFile(t, chn, tiny)
	var ae *api.Error
	want := "more than 65536 frames, the limit (refused at frame 65537)"
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || !strings.Contains(ae.Message, want) {
		t.Errorf("a million tiny frames: %v; want a 400 naming %q", err, want)
	}
	assertUnchanged(t, chn, before, "a bundle of a million tiny frames")
}
