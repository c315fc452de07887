package station

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	rtmetrics "runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"hotline/internal/badrequest"
	"hotline/internal/ops"
	"hotline/internal/protocol"
	"hotline/internal/stationdir"
	"hotline/internal/transcript"
)

const offlineChannel = "usa-chn-staff"

// offlinePair opens USA and CHN in this process without links, pinned to
// each other, and agrees a channel between them by bundles alone: USA
// proposes, a bundle takes the proposal to CHN, CHN accepts, and a bundle
// brings the acceptance back.
func offlinePair(t *testing.T) (usa, chn *Station) {
	t.Helper()
	ctx := t.Context()
	root := t.TempDir()
	open := func(name string) *Station {
		dir := filepath.Join(root, name)
		if _, err := stationdir.Init(ctx, stationdir.InitOptions{Dir: dir, Name: name, Party: name, PeerListen: "127.0.0.1:1", APIListen: "127.0.0.1:0"}); err != nil {
			t.Fatal(err)
		}
		st, err := Open(ctx, dir, quietLog())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	usa, chn = open("USA"), open("CHN")
	for _, pin := range [][2]*Station{{usa, chn}, {chn, usa}} {
		if _, err := pin[0].AddPeer(ctx, pin[1].OwnCard.Text, pin[1].OwnCard.Fingerprint()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := usa.Propose(ctx, ops.ProposeRequest{Peer: "CHN", Channel: offlineChannel, Level: "staff"}); err != nil {
		t.Fatal(err)
	}
	carry(t, usa, chn)
	if _, err := chn.Accept(ctx, offlineChannel); err != nil {
		t.Fatal(err)
	}
	carry(t, chn, usa)
	if c := channelOf(t, usa, offlineChannel); c.Agreement != "active" {
		t.Fatalf("channel at USA after the bundles: %+v", c)
	}
	return usa, chn
}

// exportBundle is from's bundle for to, as the file hotline bundle export
// writes.
func exportBundle(t *testing.T, from, to *Station) []byte {
	t.Helper()
	b, err := from.BundleExport(t.Context(), to.Cfg.Name)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// carry exports from's bundle for to and imports it at to.
func carry(t *testing.T, from, to *Station) *ops.ImportView {
	t.Helper()
	v, err := to.BundleImport(t.Context(), bytes.NewReader(exportBundle(t, from, to)))
	if err != nil {
		t.Fatalf("%s importing %s's bundle: %v", to.Cfg.Name, from.Cfg.Name, err)
	}
	return v
}

// importWhole imports a bundle the way BundleImport did before it read
// bundles as a stream: all of it in memory, prepared, and handed to the
// core as one Import.
func importWhole(t *testing.T, s *Station, data []byte) *protocol.Imported {
	t.Helper()
	ctx := t.Context()
	b, err := ops.ParseOffline(data)
	if err != nil {
		t.Fatal(err)
	}
	key, ok := s.peerKey(b.From)
	if !ok {
		t.Fatalf("%s is not pinned", b.From)
	}
	keys, _ := s.Identity()
	pres := make([]*protocol.Prepared, len(b.Frames))
	for i, f := range b.Frames {
		pres[i] = protocol.Prepare(f, key, keys)
	}
	res, err := s.Call(ctx, func(id uint64) protocol.Event { return protocol.Import{ID: id, Peer: b.From, Frames: pres} })
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported.Entries > 0 {
		if _, err := s.Detect(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return res.Imported
}

// offlineState is what importing a bundle may change at s: messages both
// ways, channels, and the logs with their receipts.
func offlineState(t *testing.T, s *Station) string {
	t.Helper()
	ctx := t.Context()
	var st struct {
		Inbox, Outbox []ops.MessageView
		Channels      []ops.ChannelView
		Logs          any
	}
	var err error
	if st.Inbox, err = s.Inbox(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if st.Outbox, err = s.Outbox(ctx, ""); err != nil {
		t.Fatal(err)
	}
	// The times this station's clock gives are the import's, which two
	// imports do not share.
	for i := range st.Inbox {
		st.Inbox[i].ReceivedAt, st.Inbox[i].AckDue = time.Time{}, time.Time{}
	}
	if st.Channels, err = s.Channels(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := s.Export(ctx, offlineChannel)
	if err != nil {
		t.Fatal(err)
	}
	// The exporter cosigns the peer's checkpoint as it exports, with the
	// time of the export: the state is the checkpoint's text and size.
	for i := range b.Logs {
		if b.Logs[i].Author != s.Cfg.Name && b.Logs[i].Checkpoint != "" {
			cp, err := transcript.PeekCheckpoint([]byte(b.Logs[i].Checkpoint))
			if err != nil {
				t.Fatal(err)
			}
			b.Logs[i].Checkpoint = cp.Text()
		}
	}
	st.Logs = b.Logs
	out, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// firstDiff shows where two states first differ, with what is around.
func firstDiff(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	around := func(s string) string {
		return s[max(0, i-150):min(len(s), i+150)]
	}
	return fmt.Sprintf("at byte %d of %d and %d:\n%s\n%s", i, len(a), len(b), around(a), around(b))
}

// badBundles is how many bundles s refused as "bad bundle".
func badBundles(t *testing.T, s *Station) int {
	t.Helper()
	status, err := s.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return status.Refused["bad bundle"]
}

// reopen closes s and opens its directory again.
func reopen(t *testing.T, s *Station) *Station {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := Open(t.Context(), s.Dir, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// copyStation closes s and opens a copy of its directory beside it, and s
// again: two stations holding the same, to import a bundle two ways.
func copyStation(t *testing.T, s *Station) (again, copied *Station) {
	t.Helper()
	dir := s.Dir
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	to := dir + "-copy"
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), info.Mode().Perm())
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
	var out [2]*Station
	for i, d := range []string{dir, to} {
		st, err := Open(t.Context(), d, quietLog())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		out[i] = st
	}
	return out[0], out[1]
}

// noSpool fails the test if a spool file is left in s's directory.
func noSpool(t *testing.T, s *Station) {
	t.Helper()
	if left, _ := filepath.Glob(filepath.Join(s.Dir, ".bundle-*")); len(left) > 0 {
		t.Errorf("spool files left in the station directory: %v", left)
	}
}

// TestBundleImportInParts: a bundle larger than a part (several entries
// frames of up to 1 MiB) imports exactly as the whole bundle in one Import
// did before; a damage in its last entries frame refuses it whole, named
// by the frame's number in the bundle, though the parts before it check;
// a second import changes nothing; and the receipts go back by bundle.
// (internal/protocol's TestKeyEpochsOfflineInParts checks that the check
// of a part goes on from the key epochs the parts before it left.)
func TestBundleImportInParts(t *testing.T) {
	ctx := t.Context()
	usa, chn := offlinePair(t)
	usa = reopen(t, usa) // the bundle's first entry begins a key epoch
	const n = 80
	var texts []string
	for i := range n {
		text := fmt.Sprintf("message %02d ", i) + strings.Repeat(string(rune('a'+i%26)), 30000)
		texts = append(texts, text)
		if _, err := usa.Send(ctx, ops.SendRequest{Channel: offlineChannel, Precedence: "ROUTINE", Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	data := exportBundle(t, usa, chn)
	b, err := ops.ParseOffline(data)
	if err != nil {
		t.Fatal(err)
	}
	size := 0
	for _, f := range b.Frames {
		size += len(f)
	}
	if size < 2*importPartBytes {
		t.Fatalf("the bundle's frames hold %d bytes, want more than two parts", size)
	}
	t.Logf("%d frames, %d bytes", len(b.Frames), size)

	// The last entries frame damaged: every part before it checks, and
	// still nothing is taken.
	last := len(b.Frames) - 1
	for f, _ := protocol.DecodeFrame(b.Frames[last]); f.Type != protocol.FrameEntries; f, _ = protocol.DecodeFrame(b.Frames[last]) {
		last--
	}
	damaged := *b
	damaged.Frames = append([][]byte(nil), b.Frames...)
	damaged.Frames[last] = bytes.Clone(b.Frames[last])
	damaged.Frames[last][len(damaged.Frames[last])-10] ^= 0x01 // in the last entry's signature
	bad, _ := json.Marshal(damaged)
	before, refused := offlineState(t, chn), badBundles(t, chn)
	_, err = chn.BundleImport(ctx, bytes.NewReader(bad))
	if want := fmt.Sprintf("frame %d of the bundle", last+1); err == nil || !badrequest.Is(err) || !strings.Contains(err.Error(), want) {
		t.Fatalf("damaged bundle: %v; want a refusal naming %q", err, want)
	}
	if after := offlineState(t, chn); after != before {
		t.Fatalf("a refused bundle changed CHN: %s", firstDiff(before, after))
	}
	if got := badBundles(t, chn); got != refused+1 {
		t.Errorf("bad bundle counted %d, want %d", got, refused+1)
	}
	noSpool(t, chn)

	// The same station twice: one imports as now, in parts; the other the
	// whole bundle in one Import, as before.
	chn, old := copyStation(t, chn)
	v, err := chn.BundleImport(ctx, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	was := importWhole(t, old, data)
	if v.From != "USA" || v.Frames != len(b.Frames) || v.Entries != n || v.Entries != was.Entries || v.Refused != was.Refused {
		t.Errorf("imported %+v; the whole bundle at once took %+v; want %d frames, %d entries", v, was, len(b.Frames), n)
	}
	if now, then := offlineState(t, chn), offlineState(t, old); now != then {
		t.Errorf("importing in parts and the whole bundle at once differ: %s", firstDiff(now, then))
	}
	in, err := chn.Inbox(ctx, offlineChannel)
	if err != nil || len(in) != n {
		t.Fatalf("CHN inbox: %d messages, %v; want %d", len(in), err, n)
	}
	seen := map[string]bool{}
	for _, m := range in {
		seen[m.Text] = true
	}
	for i, text := range texts {
		if !seen[text] {
			t.Errorf("message %d is not in CHN's inbox", i)
		}
	}
	noSpool(t, chn)

	// Again: nothing changes.
	held := offlineState(t, chn)
	v, err = chn.BundleImport(ctx, bytes.NewReader(data))
	if err != nil || v.Entries != 0 || v.Refused != 0 || v.Frames != len(b.Frames) {
		t.Errorf("second import: %+v, %v; want the same frames and 0 new entries", v, err)
	}
	if again := offlineState(t, chn); again != held {
		t.Errorf("a second import changed the station: %s", firstDiff(held, again))
	}

	// The receipts go back by bundle.
	carry(t, chn, usa)
	out, err := usa.Outbox(ctx, offlineChannel)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range out {
		if m.Status != "delivered" {
			t.Errorf("%s is %s at USA after the receipts' bundle, want delivered", m.ID, m.Status)
		}
	}
}

// tinyFrames writes, to a file, a bundle from USA to CHN of n tiny frames,
// each a receipt frame that decodes, as a peer wanting to exhaust the
// station's memory would: about 35 bytes a frame. It never holds the
// bundle.
func tinyFrames(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tiny.bundle")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	frame := (&protocol.Frame{Type: protocol.FrameReceipt, Channel: offlineChannel, Author: "CHN"}).Encode()
	if _, err := protocol.DecodeFrame(frame); err != nil {
		t.Fatal(err)
	}
	quoted := `"` + base64.StdEncoding.EncodeToString(frame) + `"`
	fmt.Fprintf(w, `{"format":%q,"from":"USA","to":"CHN","created_at":"2026-11-25T10:00:00Z","frames":[`, ops.OfflineFormat)
	for i := range n {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(quoted)
	}
	w.WriteString("]}\n")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// heapPeak samples the heap in use (the objects' bytes, live or not yet
// collected, as runtime.MemStats.HeapAlloc) every millisecond until stop
// is called, which returns the highest sample.
func heapPeak() (stop func() uint64) {
	sample := []rtmetrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 {
		rtmetrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			peak = max(peak, read())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return max(peak, read())
	}
}

// importHeapBound bounds the heap an import may add, measured by
// heapPeak over the heap before it: the bundle's frames are read one at a
// time, whatever their number.
const importHeapBound = 16 << 20

// TestBundleOfTinyFramesRefused: a bundle of a million tiny frames (35 MB)
// is refused at frame 65,537 with the limit named, and the heap the import
// adds stays under importHeapBound. Before bundles were read as a stream,
// such a bundle took the station's heap to hundreds of megabytes.
func TestBundleOfTinyFramesRefused(t *testing.T) {
	ctx := t.Context()
	_, chn := offlinePair(t)
	path := tinyFrames(t, 1_000_000)
	before := offlineState(t, chn)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	base := m.HeapAlloc
	stop := heapPeak()
	_, err = chn.BundleImport(ctx, f)
	peak := stop()
	want := fmt.Sprintf("more than %d frames, the limit (refused at frame %d)", ops.MaxOfflineFrames, ops.MaxOfflineFrames+1)
	if err == nil || !badrequest.Is(err) || !strings.Contains(err.Error(), want) {
		t.Errorf("a million tiny frames: %v; want a refusal naming %q", err, want)
	}
	t.Logf("heap before the import %.1f MiB, peak during it %.1f MiB: %.1f MiB added", mib(base), mib(peak), mib(peak-min(peak, base)))
	if peak > base+importHeapBound {
		t.Errorf("the import took the heap from %.1f MiB to %.1f MiB; want at most %.0f MiB more", mib(base), mib(peak), mib(importHeapBound))
	}
	if after := offlineState(t, chn); after != before {
		t.Errorf("the refused bundle changed CHN: %s", firstDiff(before, after))
	}
	noSpool(t, chn)
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }
