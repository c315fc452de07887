package attack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hotline/internal/badrequest"
	"hotline/internal/envelope"
	"hotline/internal/identity"
	"hotline/internal/link"
	"hotline/internal/ops"
	"hotline/internal/protocol"
	"hotline/internal/station"
	"hotline/internal/transcript"
)

// as dials n's peer port with keys (a peer's genuine keys: what a peer
// gone bad, or whoever stole its key, holds).
func as(t *testing.T, keys *identity.Keys, n *node) *link.Conn {
	t.Helper()
	cert, err := link.Certificate(keys.Name, keys.Sign)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tc, err := link.Dial(ctx, n.listen, link.ClientConfig(cert, n.name, n.st.Keys.SignPublic()))
	if err != nil {
		t.Fatal(err)
	}
	c := link.NewConn(tc)
	t.Cleanup(func() { c.Close() })
	return c
}

// readUntil reads frames from c until one of type want arrives, or the
// connection closes (nil).
func readUntil(t *testing.T, c *link.Conn, want protocol.FrameType) *protocol.Frame {
	t.Helper()
	for {
		data, err := c.Read()
		if err != nil {
			return nil
		}
		f, err := protocol.DecodeFrame(data)
		if err != nil {
			t.Fatalf("undecodable frame: %v", err)
		}
		if f.Type == want {
			return f
		}
	}
}

// offline takes CHN off the network (its card's address refuses) while f
// runs, and returns what CHN's bundle for USA holds then.
func isolate(toCHN, toUSA *proxy) func() {
	closer := func(c net.Conn) { c.Close() }
	toCHN.intercept(closer)
	toUSA.intercept(closer)
	return func() {
		toCHN.intercept(nil)
		toUSA.intercept(nil)
	}
}

func bundleFrom(t *testing.T, n *node, peer string) *ops.OfflineBundle {
	t.Helper()
	b, err := n.st.BundleExport(context.Background(), peer)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func encode(t *testing.T, b *ops.OfflineBundle) []byte {
	t.Helper()
	data, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestReplayOldFrames: frames CHN's core made for USA (the entries frame
// with its signed checkpoint, and its receipt of USA's log: what a
// connection carries and a bundle holds) are played to USA again after
// they were delivered, on a new connection authenticated with CHN's own
// key. USA takes them as the duplicates they are: counted, answered with
// the receipt it already gave, nothing changed, no alarm.
func TestReplayOldFrames(t *testing.T) {
	toUSA, toCHN := newProxy(t, ""), newProxy(t, "")
	usa, chn := pairVia(t, toUSA, toCHN)
	heal := isolate(toCHN, toUSA)
	mine := send(t, usa, "to be receipted")
	id := send(t, chn, "to be replayed")
	old := bundleFrom(t, chn, "USA")
	if len(old.Frames) < 2 {
		t.Fatalf("CHN's bundle holds %d frames, want entries and a receipt", len(old.Frames))
	}
	heal()
	waitFor(t, "both messages delivered", func() bool { return delivered(t, chn, id) && delivered(t, usa, mine) })
	before := settled(t, usa)
	dups, was := duplicates(t, usa), refused(t, usa)

	c := as(t, chn.st.Keys, usa)
	for _, f := range old.Frames {
		c.Send(f, false)
	}
	if r := readUntil(t, c, protocol.FrameReceipt); r == nil || r.Channel != staff || r.Author != "CHN" {
		t.Fatalf("USA answered the replay with %+v, want its receipt of CHN's log", r)
	}
	waitFor(t, "USA to count the duplicates", func() bool { return duplicates(t, usa) > dups })
	for reason, n := range refused(t, usa) {
		if n != was[reason] {
			t.Errorf("USA counted %d more refusals for %q; a replay of what it holds is a duplicate", n-was[reason], reason)
		}
	}
	unchanged(t, usa, before)
	if as := alerts(t, usa, "alarm"); len(as) != 0 {
		t.Errorf("USA raised alarms for a replay: %+v", as)
	}
}

// TestReplayOldBundle: an offline bundle imported a second time, after
// what it brought was delivered, takes nothing and changes nothing; the
// same bundle carried to the wrong station (the one that made it, or one
// that has not pinned its author) is refused naming why, counted as "bad
// bundle", and raises a warning.
func TestReplayOldBundle(t *testing.T) {
	toUSA, toCHN := newProxy(t, ""), newProxy(t, "")
	usa, chn := pairVia(t, toUSA, toCHN)
	ctx := context.Background()
	heal := isolate(toCHN, toUSA)
	id := send(t, chn, "carried by hand")
	data := encode(t, bundleFrom(t, chn, "USA"))
	v, err := usa.st.BundleImport(ctx, bytes.NewReader(data))
	if err != nil || v.Entries != 1 {
		t.Fatalf("first import: %+v, %v; want one new entry", v, err)
	}
	heal()
	waitFor(t, "the message receipted", func() bool { return delivered(t, chn, id) })
	before := settled(t, usa)
	dups := duplicates(t, usa)
	v, err = usa.st.BundleImport(ctx, bytes.NewReader(data))
	if err != nil || v.Entries != 0 {
		t.Errorf("second import: %+v, %v; want nothing taken", v, err)
	}
	if duplicates(t, usa) <= dups {
		t.Error("the second import was not counted as duplicates")
	}
	unchanged(t, usa, before)

	// The wrong station: CHN itself, and a station that never pinned CHN.
	rus := newNode(t, "RUS", nil)
	for _, n := range []*node{chn, rus} {
		before := settled(t, n)
		was := refused(t, n)["bad bundle"]
		_, err := n.st.BundleImport(ctx, bytes.NewReader(data))
		if !errors.Is(err, badrequest.Err) || !strings.Contains(err.Error(), "offline bundle is for USA") {
			t.Errorf("%s imported USA's bundle: %v; want it refused as for USA", n.name, err)
		}
		waitFor(t, n.name+" to count the bundle and warn", func() bool {
			return refused(t, n)["bad bundle"] == was+1 && len(alerts(t, n, "warning", "offline bundle is for USA")) > 0
		})
		unchanged(t, n, before)
	}
}

// forgedReceipt returns a receipt of USA's log at the size of its latest
// checkpoint in b (USA's bundle for CHN), cosigned by signer.
func forgedReceipt(t *testing.T, usa *node, b *ops.OfflineBundle, signer *identity.Keys) []byte {
	t.Helper()
	var signed []byte
	for _, data := range b.Frames {
		f, err := protocol.DecodeFrame(data)
		if err != nil {
			t.Fatal(err)
		}
		if f.Type == protocol.FrameEntries && f.Author == "USA" {
			signed = f.Checkpoint
		}
	}
	if signed == nil {
		t.Fatal("USA's bundle holds no entries")
	}
	v, err := usa.st.OwnCard.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	cosigned, err := transcript.Cosign(signed, v, signer.Signer())
	if err != nil {
		t.Fatal(err)
	}
	return (&protocol.Frame{Type: protocol.FrameReceipt, Channel: staff, Author: "USA", Checkpoint: cosigned}).Encode()
}

// TestForgedCosignature: a receipt for USA's undelivered message, cosigned
// by a key calling itself CHN that is not CHN's, comes on a connection
// authenticated as CHN, and in a bundle "from CHN". Both are refused ("bad
// cosignature" with an alarm naming it; "bad bundle" for the bundle), the
// message stays undelivered, nothing changes; it is delivered when the
// real CHN returns.
func TestForgedCosignature(t *testing.T) {
	toUSA, toCHN := newProxy(t, ""), newProxy(t, "")
	usa, chn := pairVia(t, toUSA, toCHN)
	heal := isolate(toCHN, toUSA)
	id := send(t, usa, "not yet delivered")
	forger, err := identity.NewKeys("CHN")
	if err != nil {
		t.Fatal(err)
	}
	receipt := forgedReceipt(t, usa, bundleFrom(t, usa, "CHN"), forger)
	before := settled(t, usa)
	was := refused(t, usa)

	// A cosignature by a key that is not CHN's could be CHN's next key,
	// whose key entry has not arrived (two stations rotating at once): it
	// is not taken, counted and warned about, and the connection stays
	// open for the key entry; no key entry ever makes the forger's key
	// CHN's, so the message stays undelivered.
	c := as(t, chn.st.Keys, usa)
	c.Send(receipt, false)
	waitFor(t, "USA to count the forged cosignature and warn of it", func() bool {
		return refused(t, usa)["receipt by unknown key"] == was["receipt by unknown key"]+1 &&
			len(alerts(t, usa, "warning", "receipt from CHN")) > 0
	})

	bundle := encode(t, &ops.OfflineBundle{Format: ops.OfflineFormat, From: "CHN", To: "USA", CreatedAt: time.Now().UTC(), Frames: [][]byte{receipt}})
	_, err = usa.st.BundleImport(context.Background(), bytes.NewReader(bundle))
	if !errors.Is(err, badrequest.Err) || !strings.Contains(err.Error(), "receipt of") {
		t.Errorf("forged bundle: %v; want it refused naming the receipt", err)
	}
	waitFor(t, "USA to count the forged bundle", func() bool { return refused(t, usa)["bad bundle"] == was["bad bundle"]+1 })
	if delivered(t, usa, id) {
		t.Fatal("a forged cosignature marked the message delivered")
	}
	unchanged(t, usa, before)
	heal()
	waitFor(t, "the message delivered by the real CHN", func() bool { return delivered(t, usa, id) })
}

// equivocal returns an entries frame of CHN's log in which entry index is
// a different text from the one CHN sent, under a checkpoint CHN signs
// over the entries before it (held) and that one.
func equivocal(t *testing.T, chn, usa *node, index uint64) (frame, shown []byte) {
	t.Helper()
	ctx := context.Background()
	held, err := chn.st.Store.Entries(ctx, staff, "CHN", 1, index-1)
	if err != nil || len(held) != int(index-1) {
		t.Fatalf("CHN's entries: %d, %v", len(held), err)
	}
	kem, err := usa.st.OwnCard.HPKEKey()
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(protocol.TextBody{Text: "the other version"})
	shown, err = envelope.Seal(envelope.Header{Channel: staff, Author: "CHN", Recipient: "USA", Index: index,
		Precedence: envelope.Routine, Kind: envelope.Text, Time: time.Now().UTC()}, body, kem, chn.st.Keys.Sign)
	if err != nil {
		t.Fatal(err)
	}
	tree := transcript.NewTree()
	for _, e := range held {
		tree.Append(e.Raw)
	}
	tree.Append(shown)
	cp, err := transcript.SignCheckpoint(transcript.Checkpoint{Origin: transcript.Origin(staff, "CHN"), Size: index, Root: tree.Root()}, chn.st.Keys.Signer())
	if err != nil {
		t.Fatal(err)
	}
	return (&protocol.Frame{Type: protocol.FrameEntries, Channel: staff, Author: "CHN", Entries: [][]byte{shown}, Checkpoint: cp}).Encode(), shown
}

// TestEquivocatingPeer: CHN, after USA holds its entry 2, signs a
// different entry 2 and a checkpoint over it, and shows them to USA on a
// connection and in a bundle. USA refuses both ("equivocation"), raises a
// tamper alarm, and keeps both versions, each signed by CHN, in a file of
// its directory that proves it to a third party; its store is unchanged.
func TestEquivocatingPeer(t *testing.T) {
	usa, chn := pair(t)
	id := send(t, chn, "the version USA holds")
	waitFor(t, "CHN's message delivered", func() bool { return delivered(t, chn, id) })
	index := uint64(2)
	if !strings.HasSuffix(id, "/2") {
		t.Fatalf("CHN's message is %s, want index 2", id)
	}
	frame, shown := equivocal(t, chn, usa, index)
	before := settled(t, usa)
	was := refused(t, usa)["equivocation"]

	c := as(t, chn.st.Keys, usa)
	c.Send(frame, false)
	if f := readUntil(t, c, protocol.FrameReceipt); f != nil {
		t.Errorf("USA answered the other version with a receipt: %+v", f)
	}
	waitFor(t, "a tamper alarm for the equivocation", func() bool {
		return refused(t, usa)["equivocation"] == was+1 && len(alerts(t, usa, "alarm", "tamper alarm", "CHN signed two different versions")) > 0
	})
	a := alerts(t, usa, "alarm", "tamper alarm")[0]
	if a.Channel != staff || a.Peer != "CHN" || !strings.Contains(a.Text, "usa-chn-staff/CHN/2") {
		t.Errorf("alarm %+v does not name the channel, the peer and the entry", a)
	}

	path := filepath.Join(usa.dir, "evidence", "usa-chn-staff-CHN-2-entry.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("evidence not kept: %v", err)
	}
	var eq station.Equivocation
	if err := json.Unmarshal(data, &eq); err != nil {
		t.Fatal(err)
	}
	heldEntries, err := usa.st.Store.Entries(context.Background(), staff, "CHN", index, index)
	if err != nil || len(heldEntries) != 1 {
		t.Fatal(err)
	}
	if string(eq.Held) != string(heldEntries[0].Raw) || string(eq.Shown) != string(shown) {
		t.Error("the evidence does not hold the entry held and the one shown")
	}
	// Both versions are signed by CHN at the same index: proof.
	for _, raw := range [][]byte{eq.Held, eq.Shown} {
		e, err := envelope.Parse(raw)
		if err != nil || e.Verify(chn.st.Keys.SignPublic()) != nil || e.Index != index || e.Author != "CHN" {
			t.Errorf("evidence entry does not verify as CHN's entry %d: %v", index, err)
		}
	}
	if _, _, err := transcript.OpenCheckpoint(eq.ShownCheckpoint, mustVerifier(t, chn)); err != nil {
		t.Errorf("the checkpoint shown, kept, does not verify: %v", err)
	}
	if _, _, err := transcript.OpenCheckpoint(eq.HeldCheckpoint, mustVerifier(t, chn)); err != nil {
		t.Errorf("the checkpoint held, kept, does not verify: %v", err)
	}

	// The same in a bundle: refused whole, nothing taken.
	bundle := encode(t, &ops.OfflineBundle{Format: ops.OfflineFormat, From: "CHN", To: "USA", CreatedAt: time.Now().UTC(), Frames: [][]byte{frame}})
	if _, err := usa.st.BundleImport(context.Background(), bytes.NewReader(bundle)); err == nil || !strings.Contains(err.Error(), "tamper alarm") {
		t.Errorf("bundle with the other version: %v; want a tamper alarm", err)
	}
	waitFor(t, "the bundle counted", func() bool { return refused(t, usa)["equivocation"] == was+2 })
	unchanged(t, usa, before)
}

// TestEquivocatingCheckpoint: CHN shows the entry USA holds again, under
// a checkpoint of the same size with another root. Refused as an
// equivocation of the checkpoint, kept, nothing changed.
func TestEquivocatingCheckpoint(t *testing.T) {
	usa, chn := pair(t)
	id := send(t, chn, "held")
	waitFor(t, "CHN's message delivered", func() bool { return delivered(t, chn, id) })
	held, err := usa.st.Store.Entries(context.Background(), staff, "CHN", 2, 2)
	if err != nil || len(held) != 1 {
		t.Fatal(err)
	}
	root := make([]byte, 32)
	copy(root, held[0].Root)
	root[0] ^= 1
	cp, err := transcript.SignCheckpoint(transcript.Checkpoint{Origin: transcript.Origin(staff, "CHN"), Size: 2, Root: root}, chn.st.Keys.Signer())
	if err != nil {
		t.Fatal(err)
	}
	before := settled(t, usa)
	was := refused(t, usa)["equivocation"]
	c := as(t, chn.st.Keys, usa)
	c.Send((&protocol.Frame{Type: protocol.FrameEntries, Channel: staff, Author: "CHN", Entries: [][]byte{held[0].Raw}, Checkpoint: cp}).Encode(), false)
	readUntil(t, c, protocol.FrameReceipt)
	waitFor(t, "a tamper alarm for the checkpoint", func() bool {
		return refused(t, usa)["equivocation"] == was+1 && len(alerts(t, usa, "alarm", "a checkpoint of size 2")) > 0
	})
	if _, err := os.Stat(filepath.Join(usa.dir, "evidence", "usa-chn-staff-CHN-2-checkpoint.json")); err != nil {
		t.Errorf("evidence not kept: %v", err)
	}
	unchanged(t, usa, before)
}

func mustVerifier(t *testing.T, n *node) interface {
	Name() string
	KeyHash() uint32
	Verify(msg, sig []byte) bool
} {
	t.Helper()
	v, err := n.st.OwnCard.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestEquivocatingCheckpointBeyond is a checkpoint that contradicts the
// held log, sent with an entry this station does not hold yet: the
// station's quick path for frames beyond what it holds must not let it
// through.
func TestEquivocatingCheckpointBeyond(t *testing.T) {
	usa, chn := pair(t)
	id := send(t, chn, "held")
	waitFor(t, "CHN's message delivered", func() bool { return delivered(t, chn, id) })
	ctx := context.Background()
	held, err := usa.st.Store.Entries(ctx, staff, "CHN", 2, 2)
	if err != nil || len(held) != 1 {
		t.Fatal(err)
	}
	l, err := usa.st.Store.Log(ctx, staff, "CHN")
	if err != nil {
		t.Fatal(err)
	}
	to, err := usa.st.OwnCard.HPKEKey()
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(protocol.TextBody{Text: "new"})
	next, err := envelope.Seal(envelope.Header{Channel: staff, Author: "CHN", Recipient: "USA", Index: l.Size + 1,
		Precedence: envelope.Routine, Kind: envelope.Text, Time: time.Now()}, body, to, chn.st.Keys.Sign)
	if err != nil {
		t.Fatal(err)
	}
	root := bytes.Clone(held[0].Root)
	root[0] ^= 1
	cp, err := transcript.SignCheckpoint(transcript.Checkpoint{Origin: transcript.Origin(staff, "CHN"), Size: 2, Root: root}, chn.st.Keys.Signer())
	if err != nil {
		t.Fatal(err)
	}
	before := settled(t, usa)
	was := refused(t, usa)["equivocation"]
	c := as(t, chn.st.Keys, usa)
	c.Send((&protocol.Frame{Type: protocol.FrameEntries, Channel: staff, Author: "CHN", Entries: [][]byte{next}, Checkpoint: cp}).Encode(), false)
	waitFor(t, "a tamper alarm for the checkpoint", func() bool {
		return refused(t, usa)["equivocation"] == was+1 && len(alerts(t, usa, "alarm", "a checkpoint of size 2")) > 0
	})
	if _, err := os.Stat(filepath.Join(usa.dir, "evidence", "usa-chn-staff-CHN-2-checkpoint.json")); err != nil {
		t.Errorf("evidence not kept: %v", err)
	}
	unchanged(t, usa, before)
}

// TestAheadOverHeldIsNotEquivocation: a process of CHN's that lost its
// station (paused while another took over, or crashed before its write
// was durable) sends ahead, on its own connection, another entry 2 than
// the one USA holds. Entries sent ahead carry no checkpoint and bind
// nobody: USA drops the frame and counts it, raises no tamper alarm,
// keeps no evidence, refuses nothing and keeps the connection; its store
// is unchanged.
func TestAheadOverHeldIsNotEquivocation(t *testing.T) {
	usa, chn := pair(t)
	id := send(t, chn, "the version USA holds")
	waitFor(t, "CHN's message delivered", func() bool { return delivered(t, chn, id) })
	frame, _ := equivocal(t, chn, usa, 2)
	f, err := protocol.DecodeFrame(frame)
	if err != nil {
		t.Fatal(err)
	}
	f.Type, f.Checkpoint = protocol.FrameAhead, nil
	before := settled(t, usa)
	was := refused(t, usa)
	c := as(t, chn.st.Keys, usa)
	c.Send(f.Encode(), false)
	waitFor(t, "the ahead frame counted as conflicting", func() bool {
		st, err := usa.st.Status(context.Background())
		return err == nil && st.AheadConflicts == 1
	})
	if got := refused(t, usa); !maps.Equal(got, was) {
		t.Errorf("refusals %v → %v: the ahead frame was refused", was, got)
	}
	if a := alerts(t, usa, "", "CHN signed two different versions"); len(a) > 0 {
		t.Errorf("a tamper alarm for entries sent ahead: %+v", a)
	}
	if es, _ := os.ReadDir(filepath.Join(usa.dir, "evidence")); len(es) > 0 {
		t.Errorf("evidence kept for entries sent ahead: %v", es)
	}
	select {
	case <-c.Closed():
		t.Error("USA closed the connection")
	case <-time.After(300 * time.Millisecond):
	}
	unchanged(t, usa, before)
}

// TestEquivocatingDurable: the checkpoint a durable frame brings binds
// its author as an entries frame's does: one at a size USA holds, with
// another root, is an equivocation, refused with a tamper alarm and kept.
func TestEquivocatingDurable(t *testing.T) {
	usa, chn := pair(t)
	id := send(t, chn, "held")
	waitFor(t, "CHN's message delivered", func() bool { return delivered(t, chn, id) })
	held, err := usa.st.Store.Entries(context.Background(), staff, "CHN", 2, 2)
	if err != nil || len(held) != 1 {
		t.Fatal(err)
	}
	root := bytes.Clone(held[0].Root)
	root[0] ^= 1
	cp, err := transcript.SignCheckpoint(transcript.Checkpoint{Origin: transcript.Origin(staff, "CHN"), Size: 2, Root: root}, chn.st.Keys.Signer())
	if err != nil {
		t.Fatal(err)
	}
	before := settled(t, usa)
	was := refused(t, usa)["equivocation"]
	c := as(t, chn.st.Keys, usa)
	c.Send((&protocol.Frame{Type: protocol.FrameDurable, Channel: staff, Author: "CHN", From: 2, Checkpoint: cp}).Encode(), false)
	waitFor(t, "a tamper alarm for the checkpoint", func() bool {
		return refused(t, usa)["equivocation"] == was+1 && len(alerts(t, usa, "alarm", "a checkpoint of size 2")) > 0
	})
	if _, err := os.Stat(filepath.Join(usa.dir, "evidence", "usa-chn-staff-CHN-2-checkpoint.json")); err != nil {
		t.Errorf("evidence not kept: %v", err)
	}
	unchanged(t, usa, before)
}
