package protocol

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"hotline/internal/envelope"
)

// beginsOf reports, for each entry of a node's stored copy of a log,
// whether it begins a key epoch, and checks that every stored body is the
// one its entry opens to.
func beginsOf(t *testing.T, n *simNode, log string) []bool {
	t.Helper()
	var out []bool
	for _, e := range n.disk.entries[log] {
		env, err := envelope.Parse(e.Raw)
		if err != nil {
			t.Fatalf("%s: %v", e.ID(), err)
		}
		if env.Version != 3 {
			t.Fatalf("%s is version %d", e.ID(), env.Version)
		}
		out = append(out, env.BeginsEpoch())
	}
	return out
}

func sendTexts(s *sim, from *simNode, first, n int) {
	for i := first; i < first+n; i++ {
		s.request(from, func(id uint64) Event {
			return Submit{ID: id, Channel: "ops", Kind: envelope.Text, Precedence: envelope.Flash, Body: textBody(i)}
		})
	}
	s.settle(10000)
}

// TestKeyEpochs: one encapsulation serves a run of entries (docs/PROTOCOL.md,
// "Envelope"). The receiver opens the run after a restart, from the entry
// that began it; the sender begins a new epoch when it restarts and when
// either party's keys change.
func TestKeyEpochs(t *testing.T) {
	s := newSim(t, 7)
	a, b := s.nodes[0], s.nodes[1]
	sendTexts(s, a, 0, 5)
	got := beginsOf(t, b, "ops/ALPHA")
	if want := []bool{true, false, false, false, false, false}; !slices.Equal(got, want) {
		t.Fatalf("epochs begun in ops/ALPHA = %v, want %v (the agreement begins one, the texts continue it)", got, want)
	}
	raws := b.disk.entries["ops/ALPHA"]
	if d := len(raws[1].Raw) - len(raws[2].Raw); d != 0 {
		t.Errorf("two continuing texts differ in size by %d", d)
	}

	// The receiver restarts from its disk: the next entries continue the
	// sender's epoch and open with the one it stored.
	if got := b.disk.logs["ops/ALPHA"].EpochFrom; got != 1 {
		t.Fatalf("the receiver stored the epoch of ops/ALPHA as begun at %d, want 1", got)
	}
	s.crash(b)
	sendTexts(s, a, 5, 3)
	got = beginsOf(t, b, "ops/ALPHA")
	if len(got) != 9 || got[6] || got[7] || got[8] {
		t.Fatalf("after the receiver's restart: %v, want 9 entries, the last 3 continuing the epoch", got)
	}

	// The sender restarts: its next entry begins a new epoch.
	s.crash(a)
	sendTexts(s, a, 8, 2)
	got = beginsOf(t, b, "ops/ALPHA")
	if len(got) != 11 || !got[9] || got[10] {
		t.Fatalf("after the sender's restart: %v, want entry 10 to begin an epoch and 11 to continue it", got)
	}

	// The receiver's key changes: the sender begins an epoch to the new key.
	if d := s.rotate(b, "rotate"); d.Err != nil {
		t.Fatalf("rotate: %v", d.Err)
	}
	sendTexts(s, a, 10, 2)
	got = beginsOf(t, b, "ops/ALPHA")
	n := len(got)
	if !got[n-2] || got[n-1] {
		t.Fatalf("after the receiver's rotation: %v, want the first text after it to begin an epoch", got)
	}
	env, _ := envelope.Parse(b.disk.entries["ops/ALPHA"][n-2].Raw)
	if _, err := env.Open(b.keys.KEM); err != nil {
		t.Errorf("the epoch after the rotation is not sealed to the new key: %v", err)
	}

	// The sender's own keys change: it begins an epoch, so that no key
	// made before the change seals what follows it.
	if d := s.rotate(a, "rotate"); d.Err != nil {
		t.Fatalf("rotate: %v", d.Err)
	}
	sendTexts(s, a, 12, 2)
	got = beginsOf(t, b, "ops/ALPHA")
	n = len(got)
	if !got[n-2] || got[n-1] {
		t.Fatalf("after the sender's rotation: %v, want the first text after it to begin an epoch", got)
	}

	// Every text arrived with its body.
	texts := 0
	for _, e := range b.disk.entries["ops/ALPHA"] {
		if e.Kind == envelope.Text {
			var tb TextBody
			if err := json.Unmarshal(e.Body, &tb); err != nil {
				t.Fatalf("%s: body %q", e.ID(), e.Body)
			}
			texts++
		}
	}
	if texts != 14 {
		t.Errorf("%d texts received, want 14", texts)
	}
	checkInvariants(t, s)
}

// TestKeyEpochRolls: an epoch seals at most EpochEntries entries.
func TestKeyEpochRolls(t *testing.T) {
	s := newSim(t, 8)
	a, b := s.nodes[0], s.nodes[1]
	a.core.channels["ops"].mine.epochLeft = 2
	sendTexts(s, a, 0, 4)
	got := beginsOf(t, b, "ops/ALPHA")
	if want := []bool{true, false, false, true, false}; !slices.Equal(got, want) {
		t.Fatalf("epochs begun = %v, want %v", got, want)
	}
	if a.core.channels["ops"].mine.epochLeft != EpochEntries-2 {
		t.Errorf("epochLeft = %d, want %d", a.core.channels["ops"].mine.epochLeft, EpochEntries-2)
	}
}

// TestKeyEpochMissing: a receiver that lacks the epoch an entry continues
// (a peer that never began one) refuses the frame, naming it, and takes
// nothing.
func TestKeyEpochMissing(t *testing.T) {
	s := newSim(t, 9)
	a, b := s.nodes[0], s.nodes[1]
	sendTexts(s, a, 0, 1)
	b.core.channels["ops"].theirs.epoch = nil
	before := len(b.disk.entries["ops/ALPHA"])
	s.request(a, func(id uint64) Event {
		return Submit{ID: id, Channel: "ops", Kind: envelope.Text, Precedence: envelope.Flash, Body: textBody(1)}
	})
	for range 200 {
		for _, n := range s.nodes {
			s.dial(n)
			s.sync(n)
		}
		s.deliver()
	}
	if got := len(b.disk.entries["ops/ALPHA"]); got != before {
		t.Errorf("the receiver took %d entries it cannot open", got-before)
	}
	if b.core.Stats.Refused["bad body"] == 0 {
		t.Fatalf("no refusal counted: %v", b.core.Stats.Refused)
	}
	found := false
	for _, al := range b.alerts {
		found = found || strings.Contains(al.Text, "key epoch")
	}
	if !found {
		t.Errorf("no alert names the missing key epoch: %v", b.alerts)
	}
}

// TestKeyEpochRestored: the key of an epoch is never stored; a restarted
// receiver derives it again from the entry that began it, and refuses to
// start on a log whose stored epoch entry begins none.
func TestKeyEpochRestored(t *testing.T) {
	s := newSim(t, 11)
	a, b := s.nodes[0], s.nodes[1]
	sendTexts(s, a, 0, 3)
	snap := b.disk.snapshot(b.name)
	if len(snap.EpochEntries) != 2 {
		t.Fatalf("%d epoch entries in the snapshot, want 2 (ops and leaders)", len(snap.EpochEntries))
	}
	core, err := New(testConfig(Config{MaxBatch: 8, MaxBatchBytes: 64 << 10, Window: 32}), b.keys, snap)
	if err != nil {
		t.Fatal(err)
	}
	// The restarted core opens the last text (which continues the
	// epoch) with the epoch it derived.
	last := b.disk.entries["ops/ALPHA"][3]
	env, err := envelope.Parse(last.Raw)
	if err != nil || env.BeginsEpoch() {
		t.Fatalf("test bug: ops/ALPHA/4: %v, begins an epoch %v", err, env.BeginsEpoch())
	}
	if body, err := env.OpenIn(core.channels["ops"].theirs.epoch); err != nil || string(body) != string(last.Body) {
		t.Fatalf("the restarted core's epoch does not open ops/ALPHA/4: %v", err)
	}
	// A store that lacks the entry: the same, with a tamper alarm.
	lost := snap.EpochEntries[0].ID()
	snap.EpochEntries = snap.EpochEntries[1:]
	kept := snap.EpochEntries[0].Channel // the other channel keeps its own
	core, err = New(testConfig(Config{MaxBatch: 8, MaxBatchBytes: 64 << 10, Window: 32}), b.keys, snap)
	if err != nil {
		t.Fatalf("a core does not start without a stored epoch entry: %v", err)
	}
	var alerts []string
	for _, act := range core.Step(s.now, Tick{}) {
		if p, ok := act.(Persist); ok {
			for _, al := range p.Batch.Alerts {
				alerts = append(alerts, al.Text)
			}
		}
	}
	if len(alerts) != 1 || !strings.Contains(alerts[0], "stored entry "+lost+", which") || !strings.Contains(alerts[0], "(it is not stored)") ||
		core.channels[kept].theirs.epoch == nil {
		t.Errorf("alerts at start without a stored epoch entry: %q", alerts)
	}
	// A stored epoch entry that does not open (tampered on disk) does not
	// keep the station down: it starts, raises a tamper alarm naming the
	// entry, and refuses that log's entries under the epoch.
	b.disk.entries["ops/ALPHA"][0].Raw = tamperSealed(t, b.disk.entries["ops/ALPHA"][0].Raw, a)
	s.crash(b)
	s.request(b, func(id uint64) Event { return Tick{} })
	found := false
	for _, al := range b.alerts {
		found = found || strings.Contains(al.Text, "tamper alarm: stored entry ops/ALPHA/1")
	}
	if !found {
		t.Fatalf("no tamper alarm names the stored epoch entry: %v", b.alerts)
	}
	if b.core.channels["ops"].theirs.epoch != nil || b.core.channels["leaders"].theirs.epoch == nil {
		t.Error("the tampered log has an epoch, or the other log lost its own")
	}
}

// tamperSealed flips a byte of an entry's ciphertext and signs it again
// with its author's key, so that only the body's opening can tell.
func tamperSealed(t *testing.T, raw []byte, author *simNode) []byte {
	t.Helper()
	e, err := envelope.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	b := slices.Clone(raw[:len(raw)-64])
	b[len(b)-len(e.Sealed)+30] ^= 1
	return append(b, ed25519.Sign(author.keys.Sign, append([]byte("hotline envelope v1\x00"), b...))...)
}

// TestKeyEpochsOffline: a bundle of entries continuing an epoch the
// receiver holds, and one beginning a new epoch part way, is taken whole;
// one whose first new entry continues an epoch the receiver lacks is
// refused before anything changes.
func TestKeyEpochsOffline(t *testing.T) {
	s := newSim(t, 10)
	a, b := s.nodes[0], s.nodes[1]
	sendTexts(s, a, 0, 1)
	s.noDial = true
	for _, id := range []ConnID{a.out, b.out} {
		s.cut(id)
	}
	s.net = nil
	for i := 1; i <= 3; i++ {
		s.request(a, func(id uint64) Event {
			return Submit{ID: id, Channel: "ops", Kind: envelope.Text, Precedence: envelope.Flash, Body: textBody(i)}
		})
		s.sync(a)
	}
	a.core.channels["ops"].mine.epochLeft = 0 // the next entry begins an epoch
	for i := 4; i <= 5; i++ {
		s.request(a, func(id uint64) Event {
			return Submit{ID: id, Channel: "ops", Kind: envelope.Text, Precedence: envelope.Flash, Body: textBody(i)}
		})
		s.sync(a)
	}
	frames, err := a.core.Export("BRAVO", s.now)
	if err != nil {
		t.Fatal(err)
	}
	prepare := func() []*Prepared {
		var pre []*Prepared
		for _, f := range frames {
			pre = append(pre, Prepare(f, a.keys.SignPublic(), b.keys))
		}
		return pre
	}

	// Without the epoch, refused whole.
	saved := b.core.channels["ops"].theirs.epoch
	b.core.channels["ops"].theirs.epoch = nil
	req := s.request(b, func(id uint64) Event { return Import{ID: id, Peer: "ALPHA", Frames: prepare()} })
	if d := b.done[req]; !errors.Is(d.Err, ErrRefused) || !strings.Contains(d.Err.Error(), "key epoch") {
		t.Fatalf("import without the epoch: %v, want a refusal naming the key epoch", d.Err)
	}
	if len(b.unsynced) != 0 || b.core.channels["ops"].theirs.size != 2 {
		t.Fatalf("a refused bundle changed something: %d writes, log size %d", len(b.unsynced), b.core.channels["ops"].theirs.size)
	}

	// With it, taken whole.
	b.core.channels["ops"].theirs.epoch = saved
	req = s.request(b, func(id uint64) Event { return Import{ID: id, Peer: "ALPHA", Frames: prepare()} })
	for len(b.unsynced) > 0 {
		s.sync(b)
	}
	if d := b.done[req]; d.Err != nil || d.Result.Imported.Entries != 5 {
		t.Fatalf("import: %+v, %v; want 5 entries", d.Result.Imported, d.Err)
	}
	got := beginsOf(t, b, "ops/ALPHA")
	if want := []bool{true, false, false, false, false, true, false}; !slices.Equal(got, want) {
		t.Errorf("epochs begun = %v, want %v", got, want)
	}
}

// TestKeyEpochsOfflineInParts: a bundle checked part by part (CheckImport,
// one frame a part) carries the key epoch its first part begins into the
// check of the parts after it. A body that does not open in the last part
// is refused there, named by its frame's number in the bundle, before
// anything changes; checked afresh, that part would look like entries
// past a gap and pass. The bundle as made is checked and then taken in
// parts (Import, Checked), as the whole bundle at once would be.
func TestKeyEpochsOfflineInParts(t *testing.T) {
	s := newSim(t, 11)
	a, b := s.nodes[0], s.nodes[1]
	sendTexts(s, a, 0, 1)
	s.noDial = true
	for _, id := range []ConnID{a.out, b.out} {
		s.cut(id)
	}
	s.net = nil
	a.core.channels["ops"].mine.epochLeft = 0 // the next entry begins an epoch
	for i := 1; i <= 20; i++ {
		s.request(a, func(id uint64) Event {
			return Submit{ID: id, Channel: "ops", Kind: envelope.Text, Precedence: envelope.Flash, Body: textBody(i)}
		})
		s.sync(a)
	}
	frames, err := a.core.Export("BRAVO", s.now)
	if err != nil {
		t.Fatal(err)
	}
	var entries []int
	for _, raw := range frames {
		f, err := DecodeFrame(raw)
		if err != nil {
			t.Fatal(err)
		}
		if f.Type == FrameEntries {
			entries = append(entries, len(f.Entries))
		}
	}
	if len(entries) < 3 {
		t.Fatalf("entries frames of %v entries; want three or more", entries)
	}
	check := func(frames [][]byte) error {
		t.Helper()
		ck := NewImportCheck("ALPHA")
		for _, f := range frames {
			part := []*Prepared{Prepare(f, a.keys.SignPublic(), b.keys)}
			req := s.request(b, func(id uint64) Event { return CheckImport{ID: id, Check: ck, Frames: part} })
			if err := b.done[req].Err; err != nil {
				return err
			}
		}
		return nil
	}
	size := b.core.channels["ops"].theirs.size

	// The last entries frame with a body that does not open.
	last := len(entries) - 1
	f, _ := DecodeFrame(frames[last])
	f.Entries[len(f.Entries)-1] = tamperSealed(t, f.Entries[len(f.Entries)-1], a)
	bad := slices.Clone(frames)
	bad[last] = f.Encode()
	err = check(bad)
	if want := fmt.Sprintf("frame %d of the bundle", last+1); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "does not open") {
		t.Fatalf("check in parts: %v; want a refusal naming %q and the body", err, want)
	}
	if len(b.unsynced) != 0 || b.core.channels["ops"].theirs.size != size {
		t.Fatalf("a check changed something: %d writes, log size %d", len(b.unsynced), b.core.channels["ops"].theirs.size)
	}

	// As made: checked, then taken part by part.
	if err := check(frames); err != nil {
		t.Fatal(err)
	}
	taken := 0
	for _, f := range frames {
		part := []*Prepared{Prepare(f, a.keys.SignPublic(), b.keys)}
		req := s.request(b, func(id uint64) Event { return Import{ID: id, Peer: "ALPHA", Frames: part, Checked: true} })
		for len(b.unsynced) > 0 {
			s.sync(b)
		}
		d := b.done[req]
		if d.Err != nil || d.Result.Imported.Refused != 0 {
			t.Fatalf("taking a part: %+v, %v", d.Result.Imported, d.Err)
		}
		taken += d.Result.Imported.Entries
	}
	if taken != 20 || b.core.channels["ops"].theirs.size != size+20 {
		t.Fatalf("took %d entries, log size %d; want 20 and %d", taken, b.core.channels["ops"].theirs.size, size+20)
	}
	got := beginsOf(t, b, "ops/ALPHA")
	if !got[size] || slices.Contains(got[size+1:], true) {
		t.Errorf("epochs begun = %v, want one at entry %d only among the bundle's", got, size+1)
	}
}

// TestConfigRand: the nonces of the bodies a core seals come from
// Config.Rand; when it fails, the send is refused naming the nonce and
// nothing is appended, and the next send begins a new epoch under the
// source in force, so a failed source never holds the log.
func TestConfigRand(t *testing.T) {
	s := newSim(t, 41)
	a, b := s.nodes[0], s.nodes[1]
	nonce := bytes.Repeat([]byte{0xa5}, 24)
	a.core.cfg.Rand = bytes.NewReader(nonce)
	a.core.channels["ops"].mine.epoch = nil // the next entry begins an epoch under the new source
	if d := s.send(a, "ops", envelope.Text, envelope.Routine, TextBody{Text: "one"}); d.Err != nil {
		t.Fatal(d.Err)
	}
	got := a.disk.entries["ops/ALPHA"]
	if last := got[len(got)-1]; !bytes.Contains(last.Raw, nonce) {
		t.Fatal("the entry was not sealed with a nonce from Config.Rand")
	}
	// The source is spent.
	size := len(got)
	d := s.send(a, "ops", envelope.Text, envelope.Routine, TextBody{Text: "two"})
	if d.Err == nil || !strings.Contains(d.Err.Error(), "nonce") {
		t.Fatalf("send with a spent Config.Rand = %v, want an error naming the nonce", d.Err)
	}
	if n := len(a.disk.entries["ops/ALPHA"]); n != size || a.core.channels["ops"].mine.size != uint64(size) {
		t.Fatalf("a refused send changed the log: %d entries on disk, size %d; want %d", n, a.core.channels["ops"].mine.size, size)
	}
	a.core.cfg.Rand = nil
	if d := s.send(a, "ops", envelope.Text, envelope.Routine, TextBody{Text: "three"}); d.Err != nil {
		t.Fatal(d.Err)
	}
	if got := b.disk.entries["ops/ALPHA"]; len(got) != size+1 {
		t.Fatalf("BRAVO holds %d entries of ALPHA's log, want %d", len(got), size+1)
	}
}
