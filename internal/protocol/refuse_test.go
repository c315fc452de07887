package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"testing/cryptotest"

	"hotline/internal/envelope"
	"hotline/internal/identity"
	"hotline/internal/transcript"
)

// TestCoreRefuses feeds a core frames that a faulty or hostile peer could
// send on an authenticated connection. Each must be refused, counted under
// its reason, recorded as an alert, and change nothing else. A frame that
// could have been damaged on its way also closes the connection (with an
// error frame) so that both sides resync; one that would only be refused
// again does not.
func TestCoreRefuses(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 7)
	s := newSim(t, 7)
	a, b := s.nodes[0], s.nodes[1]
	// Some traffic first, so that there is a history to replay.
	for i := range 3 {
		s.request(a, func(id uint64) Event {
			return Submit{ID: id, Channel: "ops", Kind: envelope.Text, Precedence: envelope.Flash, Body: textBody(i)}
		})
	}
	s.settle(10000)
	impostor, err := identity.NewKeys("ALPHA")
	if err != nil {
		t.Fatal(err)
	}
	impostorB, err := identity.NewKeys("BRAVO")
	if err != nil {
		t.Fatal(err)
	}

	// entry seals a text entry from ALPHA to BRAVO at an index with a key.
	entryText := func(ch string, idx uint64, key *identity.Keys, text string) []byte {
		body, _ := json.Marshal(TextBody{Text: text})
		raw, err := envelope.Seal(envelope.Header{Channel: ch, Author: "ALPHA", Recipient: "BRAVO", Index: idx,
			Precedence: envelope.Flash, Kind: envelope.Text, Time: s.now}, body, b.keys.KEM.PublicKey(), key.Sign)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	entry := func(ch string, idx uint64, key *identity.Keys) []byte { return entryText(ch, idx, key, "crafted") }
	// frame wraps entries in an entries frame with ALPHA's checkpoint over
	// ALPHA's stored log for ch followed by them.
	frame := func(ch string, signer *identity.Keys, entries ...[]byte) []byte {
		tree := transcript.NewTree()
		for _, e := range a.disk.entries[ch+"/ALPHA"] {
			tree.Append(e.Raw)
		}
		for _, e := range entries {
			tree.Append(e)
		}
		cp, err := transcript.SignCheckpoint(transcript.Checkpoint{Origin: transcript.Origin(ch, "ALPHA"), Size: tree.Size(), Root: tree.Root()}, signer.Signer())
		if err != nil {
			t.Fatal(err)
		}
		return (&Frame{Type: FrameEntries, Channel: ch, Author: "ALPHA", Checkpoint: cp, Entries: entries}).Encode()
	}
	// falseHeld is a frame whose checkpoint says ALPHA held BRAVO's log
	// at its size with a root that is not its root.
	falseHeld := func() []byte {
		tree := transcript.NewTree()
		for _, e := range a.disk.entries["ops/ALPHA"] {
			tree.Append(e.Raw)
		}
		e := entry("ops", uint64(len(a.disk.entries["ops/ALPHA"])+1), a.keys)
		tree.Append(e)
		heldSize := uint64(len(b.disk.entries["ops/BRAVO"]))
		cp, err := transcript.SignCheckpoint(transcript.Checkpoint{Origin: transcript.Origin("ops", "ALPHA"), Size: tree.Size(), Root: tree.Root(),
			Held: &transcript.Held{Size: heldSize, Root: bytes.Repeat([]byte{7}, 32)}}, a.keys.Signer())
		if err != nil {
			t.Fatal(err)
		}
		return (&Frame{Type: FrameEntries, Channel: "ops", Author: "ALPHA", Checkpoint: cp, Entries: [][]byte{e}}).Encode()
	}()
	next := uint64(len(a.disk.entries["ops/ALPHA"]) + 1)
	stored := a.disk.entries["ops/ALPHA"]
	old := frame("ops", a.keys, stored[len(stored)-1].Raw)
	wrongRoot := func() []byte {
		f, _ := DecodeFrame(frame("ops", a.keys, entry("ops", next, a.keys)))
		other, _ := DecodeFrame(frame("ops", a.keys, entry("ops", next, a.keys)))
		f.Checkpoint = other.Checkpoint // a checkpoint over a different entry at the same index
		return f.Encode()
	}()
	forgedReceipt := func() []byte {
		l := b.disk.logs["ops/ALPHA"]
		r, err := transcript.Cosign(l.Checkpoint, a.core.verifier, impostorB.Signer())
		if err != nil {
			t.Fatal(err)
		}
		return (&Frame{Type: FrameReceipt, Channel: "ops", Author: "ALPHA", Checkpoint: r}).Encode()
	}()
	// Cosigned under another name: not even a key BRAVO may have changed to.
	otherName, _ := identity.NewKeys("CHARLIE")
	foreignReceipt := func() []byte {
		l := b.disk.logs["ops/ALPHA"]
		r, err := transcript.Cosign(l.Checkpoint, a.core.verifier, otherName.Signer())
		if err != nil {
			t.Fatal(err)
		}
		return (&Frame{Type: FrameReceipt, Channel: "ops", Author: "ALPHA", Checkpoint: r}).Encode()
	}()

	tests := []struct {
		name   string
		to     *simNode
		data   []byte
		reason string
		pre    *identity.Keys // prepare the frame against this author's key
	}{
		{"malformed frame", b, []byte{byte(FrameEntries), 3, 'o'}, "malformed frame", nil},
		{"unknown frame type", b, []byte{99}, "malformed frame", nil},
		{"entry signed by another key", b, frame("ops", a.keys, entry("ops", next, impostor)), "bad entry", nil},
		{"checkpoint signed by another key", b, frame("ops", impostor, entry("ops", next, a.keys)), "bad checkpoint", nil},
		{"checkpoint root does not match", b, wrongRoot, "root mismatch", nil},
		// A peer that signs a false held line would make this station's
		// own export fail to verify (issue 18): refused on receipt.
		{"checkpoint holding a false root of the receiver's log", b, falseHeld, "false held line", nil},
		{"entries for an unknown channel", b, frame("nowhere", a.keys, entry("nowhere", 1, a.keys)), "unknown channel", nil},
		{"entries of another author's log", b, (&Frame{Type: FrameEntries, Channel: "ops", Author: "BRAVO", Checkpoint: []byte("x"), Entries: [][]byte{entry("ops", next, a.keys)}}).Encode(), "wrong author", nil},
		// A text that shows other than it reads: U+202E shows "CPA 0.5 NM"
		// as "CPA 5.0 NM" (security review item 9).
		{"text with a right-to-left override", b, frame("ops", a.keys, entryText("ops", next, a.keys, "CPA \u202e5.0\u202c NM")), "bad body", nil},
		{"oversized entry", b, (&Frame{Type: FrameEntries, Channel: "ops", Author: "ALPHA", Checkpoint: []byte("x"), Entries: [][]byte{make([]byte, envelope.MaxSize+1)}}).Encode(), "malformed frame", nil},
		// A receipt cosigned by a key under BRAVO's name that ALPHA does
		// not know may be BRAVO's after a key change whose key entry has
		// not arrived: not taken, warned about, the connection kept so
		// that the key entry can come (PROTOCOL.md, "Key rotation").
		{"receipt cosigned by another key", a, forgedReceipt, "receipt by unknown key", nil},
		{"receipt cosigned under another name", a, foreignReceipt, "bad cosignature", nil},
		{"hello with another protocol version", b, (&Frame{Type: FrameHello, Version: Version + 1}).Encode(), "protocol version", nil},
		{"hello with the protocol version before", b, (&Frame{Type: FrameHello, Version: Version - 1}).Encode(), "protocol version", nil},
		{"entry signed by another key, prepared against that key", b, frame("ops", a.keys, entry("ops", next, impostor)), "bad entry", impostor},
		{"entry signed by another key, prepared", b, frame("ops", a.keys, entry("ops", next, impostor)), "bad entry", a.keys},
		// The connection's goroutine checks the checkpoint too; the core
		// takes that check only if it was made with the key that must
		// have signed it.
		{"checkpoint signed by another key, prepared against that key", b, frame("ops", impostor, entry("ops", next, a.keys)), "bad checkpoint", impostor},
		{"checkpoint signed by another key, prepared", b, frame("ops", impostor, entry("ops", next, a.keys)), "bad checkpoint", a.keys},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshotDisk(tt.to)
			refused := tt.to.core.Stats.Refused[tt.reason]
			// ALPHA's outbound connection carries its entries to BRAVO and
			// BRAVO's receipts back.
			s.dial(a)
			conn := a.out
			s.net = nil
			ev := FrameIn{Peer: s.peerOf(tt.to).name, Conn: conn, Data: tt.data}
			if tt.pre != nil {
				ev.Pre = Prepare(tt.data, tt.pre.SignPublic(), tt.to.keys)
			}
			s.step(tt.to, ev)
			// The error frame is on its way and the connection closed after it.
			var sawError bool
			for _, p := range s.net {
				if f, err := DecodeFrame(p.data); err == nil && f.Type == FrameError && p.from == tt.to {
					sawError = true
				}
			}
			_, alive := s.conns[conn]
			if keep := tt.reason == "unknown channel" || tt.reason == "receipt by unknown key"; keep {
				if sawError || !alive {
					t.Error("a refusal that would repeat closed the connection")
				}
			} else {
				if !sawError {
					t.Error("no error frame sent to the peer")
				}
				if alive {
					t.Error("the connection is still open")
				}
			}
			if got := tt.to.core.Stats.Refused[tt.reason]; got != refused+1 {
				t.Errorf("refused[%q] = %d, want %d (all: %v)", tt.reason, got, refused+1, tt.to.core.Stats.Refused)
			}
			for _, p := range tt.to.unsynced {
				if len(p.Batch.Entries)+len(p.Batch.Channels)+len(p.Batch.Logs)+len(p.Batch.Receipts)+len(p.Batch.Acks) > 0 {
					t.Errorf("a refused frame led to a write: %+v", p.Batch)
				}
			}
			s.settle(10000)
			if after := snapshotDisk(tt.to); !bytes.Equal(before, after) {
				t.Error("the refused frame changed what is stored")
			}
		})
	}

	// Entries sent ahead of their author's write are held, not taken,
	// until their durable frame; then they are checked, under the
	// checkpoint it brings, as an entries frame is, and a bad one refused
	// as one is.
	checkpoints := map[uint64][]byte{}
	ahead := func(data []byte) []byte {
		f, err := DecodeFrame(data)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := transcript.ParseCheckpointText(noteText(f.Checkpoint))
		if err != nil {
			t.Fatal(err)
		}
		checkpoints[cp.Size] = f.Checkpoint
		f.Type, f.Checkpoint = FrameAhead, nil
		return f.Encode()
	}
	durable := func(last uint64) []byte {
		return (&Frame{Type: FrameDurable, Channel: "ops", Author: "ALPHA", From: last, Checkpoint: checkpoints[last]}).Encode()
	}
	noWrite := func(t *testing.T, what string) {
		t.Helper()
		for _, p := range b.unsynced {
			if len(p.Batch.Entries)+len(p.Batch.Logs)+len(p.Batch.Receipts) > 0 {
				t.Errorf("%s led to a write: %+v", what, p.Batch)
			}
		}
	}
	t.Run("bad entry sent ahead", func(t *testing.T) {
		s.dial(a)
		conn := a.out
		s.net = nil
		before := snapshotDisk(b)
		refused := b.core.Stats.Refused["bad entry"]
		bad := frame("ops", a.keys, entry("ops", next, impostor))
		s.step(b, FrameIn{Peer: "ALPHA", Conn: conn, Data: ahead(bad), Pre: Prepare(ahead(bad), a.keys.SignPublic(), b.keys)})
		if len(s.net) != 0 || b.core.Stats.Refused["bad entry"] != refused {
			t.Fatalf("held entries sent ahead were answered (%d frames) or refused before their durable frame", len(s.net))
		}
		noWrite(t, "entries held ahead")
		s.step(b, FrameIn{Peer: "ALPHA", Conn: conn, Data: durable(next)})
		if b.core.Stats.Refused["bad entry"] != refused+1 {
			t.Errorf("refused[bad entry] = %d on the durable frame, want %d", b.core.Stats.Refused["bad entry"], refused+1)
		}
		if _, alive := s.conns[conn]; alive {
			t.Error("the connection is still open")
		}
		noWrite(t, "a bad entry sent ahead")
		s.settle(10000)
		if !bytes.Equal(before, snapshotDisk(b)) {
			t.Error("a bad entry sent ahead changed what is stored")
		}
	})
	t.Run("durable with nothing held", func(t *testing.T) {
		s.dial(a)
		conn := a.out
		s.net = nil
		before := snapshotDisk(b)
		missed := b.core.Stats.MissedAhead
		// Held on a connection that then closed: gone with it.
		good := frame("ops", a.keys, entry("ops", next, a.keys))
		s.step(b, FrameIn{Peer: "ALPHA", Conn: conn, Data: ahead(good)})
		s.cut(conn)
		s.dial(a)
		s.net = nil
		for _, last := range []uint64{next, next + 5} {
			s.step(b, FrameIn{Peer: "ALPHA", Conn: a.out, Data: durable(last)})
		}
		if b.core.Stats.MissedAhead != missed+2 {
			t.Errorf("MissedAhead = %d, want %d", b.core.Stats.MissedAhead, missed+2)
		}
		if _, alive := s.conns[a.out]; !alive {
			t.Error("a durable frame with nothing held closed the connection")
		}
		noWrite(t, "a durable frame with nothing held")
		s.settle(10000)
		if !bytes.Equal(before, snapshotDisk(b)) {
			t.Error("a durable frame with nothing held changed what is stored")
		}
	})
	for _, c := range []struct {
		name, reason string
		data         []byte
	}{
		{"entries of another author's log sent ahead", "wrong author",
			(&Frame{Type: FrameAhead, Channel: "ops", Author: "BRAVO", Entries: [][]byte{entry("ops", next, a.keys)}}).Encode()},
		{"another author's log said durable", "wrong author",
			(&Frame{Type: FrameDurable, Channel: "ops", Author: "BRAVO", From: 1}).Encode()},
	} {
		t.Run(c.name, func(t *testing.T) {
			s.dial(a)
			before := snapshotDisk(b)
			refused := b.core.Stats.Refused[c.reason]
			s.step(b, FrameIn{Peer: "ALPHA", Conn: a.out, Data: c.data})
			if b.core.Stats.Refused[c.reason] != refused+1 {
				t.Errorf("refused[%s] = %d, want %d", c.reason, b.core.Stats.Refused[c.reason], refused+1)
			}
			if len(b.core.peers["ALPHA"].ahead[a.out]) != 0 {
				t.Error("a refused frame is held")
			}
			s.settle(10000)
			if !bytes.Equal(before, snapshotDisk(b)) {
				t.Error("a refused frame changed what is stored")
			}
		})
	}

	t.Run("held ahead within the limit", func(t *testing.T) {
		s.dial(a)
		junk := bytes.Repeat([]byte{'x'}, 60000)
		for i := range 8 {
			ch := fmt.Sprintf("big-%d", i)
			f := &Frame{Type: FrameAhead, Channel: ch, Author: "ALPHA"}
			for range 60 {
				f.Entries = append(f.Entries, junk)
			}
			s.step(b, FrameIn{Peer: "ALPHA", Conn: a.out, Data: f.Encode()})
		}
		held, total := b.core.peers["ALPHA"].ahead[a.out], 0
		for _, h := range held {
			total += h.size
		}
		if total > MaxHeldAhead || len(held) == 0 || len(held) == 8 {
			t.Errorf("holding %d frames of %d bytes; want some, within %d bytes", len(held), total, MaxHeldAhead)
		}
		s.cut(a.out)
		if len(b.core.peers["ALPHA"].ahead) != 0 {
			t.Error("what was held on a connection outlived it")
		}
		s.settle(10000)
	})

	// A replayed frame is not refused: its entries are duplicates, ignored,
	// and the receipt held for them is sent again.
	t.Run("replayed frame", func(t *testing.T) {
		s.dial(a)
		s.settle(10000)
		before := snapshotDisk(b)
		dups := b.core.Stats.Duplicates
		s.net = nil
		s.step(b, FrameIn{Peer: "ALPHA", Conn: a.out, Data: old})
		if b.core.Stats.Duplicates != dups+1 {
			t.Errorf("duplicates = %d, want %d", b.core.Stats.Duplicates, dups+1)
		}
		var receipt bool
		for _, p := range s.net {
			if f, err := DecodeFrame(p.data); err == nil && f.Type == FrameReceipt {
				receipt = true
			}
		}
		if !receipt {
			t.Error("the duplicate was not acknowledged again")
		}
		s.settle(10000)
		if after := snapshotDisk(b); !bytes.Equal(before, after) {
			t.Error("a replay changed what is stored")
		}
	})
	checkInvariants(t, s)
}

// snapshotDisk encodes what a node stored, apart from alerts.
func snapshotDisk(n *simNode) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, k := range []string{"ops/ALPHA", "ops/BRAVO", "leaders/ALPHA", "leaders/BRAVO"} {
		enc.Encode(n.disk.entries[k])
		enc.Encode(n.disk.logs[k])
	}
	enc.Encode(n.disk.channels)
	enc.Encode(n.disk.acks)
	return buf.Bytes()
}

// TestCrossingProposals: both sides propose the same channel id at once.
// Each refuses the other's proposal and says so, without dropping the
// connection in a loop, and the other channels go on delivering.
func TestCrossingProposals(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 11)
	s := newSim(t, 11)
	a, b := s.nodes[0], s.nodes[1]
	cuts := s.counts["cut"]
	s.request(a, func(id uint64) Event { return Propose{ID: id, Channel: "x", Peer: "BRAVO", Level: "staff"} })
	s.request(b, func(id uint64) Event { return Propose{ID: id, Channel: "x", Peer: "ALPHA", Level: "staff"} })
	s.settle(10000)
	s.request(a, func(id uint64) Event {
		return Submit{ID: id, Channel: "ops", Kind: envelope.Text, Precedence: envelope.Flash, Body: textBody(1)}
	})
	s.settle(10000)
	for _, n := range s.nodes {
		if n.core.Stats.Refused["crossing proposals"] == 0 {
			t.Errorf("%s did not refuse the crossing proposal", n.name)
		}
	}
	if got := s.counts["cut"] - cuts; got != 0 {
		t.Errorf("%d connections cut over a refusal that can only repeat", got)
	}
	if l := a.disk.logs["ops/ALPHA"]; l == nil || l.ReceiptSize != uint64(len(a.disk.entries["ops/ALPHA"])) {
		t.Errorf("ops stopped delivering: %+v", l)
	}
}
