package station

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/sumdb/note"

	"hotline/internal/badrequest"
	"hotline/internal/protocol"
	"hotline/internal/record"
	"hotline/internal/store"
	"hotline/internal/transcript"
)

// EvidenceFormat names the files an equivocation is kept in
// (docs/PROTOCOL.md, "Equivocation").
const EvidenceFormat = "hotline-equivocation/v1"

// evidenceDir is where they are kept, in the station directory.
const evidenceDir = "evidence"

// Equivocation is a peer shown to have signed two different versions of
// its log: two different entries at one index, or a checkpoint whose root
// at its size is not the root of the entries this station holds, which
// the peer signed too. Both versions are kept: every field is signed by
// the peer, so the file proves it to a third party.
type Equivocation struct {
	Format  string    `json:"format"`
	Channel string    `json:"channel"`
	Author  string    `json:"author"`
	Index   uint64    `json:"index"` // the entry index, or the checkpoint's size
	What    string    `json:"what"`  // "entry" or "checkpoint"
	FoundAt time.Time `json:"found_at"`
	// Held is the entry this station holds at Index (the exact bytes it
	// received and stored), HeldCheckpoint the author's latest checkpoint
	// it holds, which commits to it; HeldRoot is the root at Index.
	Held           []byte `json:"held"`
	HeldRoot       []byte `json:"held_root"`
	HeldCheckpoint []byte `json:"held_checkpoint,omitempty"`
	// Shown is the other entry at Index (for "entry"), and ShownCheckpoint
	// the checkpoint that came with it.
	Shown           []byte `json:"shown,omitempty"`
	ShownCheckpoint []byte `json:"shown_checkpoint"`
}

// equivocation compares an entries frame from peer, or the checkpoint of
// a durable frame, prepared against its key, with what this station
// holds of the peer's log. It costs one store read per entries frame, on
// the connection's goroutine. The store only holds what is final, so
// anything it finds is proof; what it cannot see (an entry being written
// while it looks) the core takes as a duplicate.
//
// Only what comes under the author's checkpoint binds it: an entries
// frame (its checkpoint covers its entries) or a durable frame. Entries
// sent ahead (FrameAhead) carry none: they are not durable at their
// author, whose process may die, or lose the station to another, before
// they are, and another process may then write other entries at those
// indexes. They are never compared here; the core drops an ahead frame
// that reaches into what it holds, and counts it (docs/PROTOCOL.md,
// "Sent ahead").
func (s *Station) equivocation(ctx context.Context, peer string, pre *protocol.Prepared) *Equivocation {
	if pre == nil || pre.Err != nil || pre.Frame.Type != protocol.FrameEntries && pre.Frame.Type != protocol.FrameDurable || pre.Frame.Author != peer {
		return nil
	}
	f := pre.Frame
	var lo, hi uint64
	shown := map[uint64][]byte{}
	for i, o := range pre.Entries {
		if o.Err != nil || o.Env.Channel != f.Channel || o.Env.Author != peer || o.Env.Recipient != s.Cfg.Name {
			return nil // refused by the core for what it is
		}
		shown[o.Env.Index] = f.Entries[i]
		if lo == 0 || o.Env.Index < lo {
			lo = o.Env.Index
		}
		hi = max(hi, o.Env.Index)
	}
	if lo > 0 && hi-lo >= uint64(len(pre.Entries)) {
		// Not contiguous: the core takes entries in order and stops at a
		// gap, so the first n indexes are all it could take.
		hi = lo + uint64(len(pre.Entries)) - 1
	}
	// The usual frame carries only entries this station does not hold yet,
	// and a checkpoint beyond them: there is nothing to compare, and no
	// store read or signature check is spent on finding that out.
	if held, ok := s.heldSize(ctx, f.Channel, peer); ok && (lo == 0 || lo > held) {
		if c, err := transcript.PeekCheckpoint(f.Checkpoint); err != nil || c.Size > held {
			return nil
		}
	}
	var cp transcript.Checkpoint
	if key, ok := s.peerKey(peer); ok {
		if v, err := note.NewEd25519VerifierKey(peer, key); err == nil {
			if nv, err := note.NewVerifier(v); err == nil {
				if c, _, err := transcript.OpenCheckpoint(f.Checkpoint, nv); err == nil && c.Origin == transcript.Origin(f.Channel, peer) {
					cp = c
				}
			}
		}
	}
	// The frame's entries, and the entry at its checkpoint's size (the
	// last of them, unless the frame is odd): at most two reads, each no
	// larger than the frame.
	var held []record.Entry
	read := func(from, to uint64) bool {
		es, err := s.Store.Entries(ctx, f.Channel, peer, from, to)
		if err != nil {
			s.Log.Warn("equivocation check: reading held entries", "channel", f.Channel, "peer", peer, "err", err)
			return false
		}
		held = append(held, es...)
		return true
	}
	if lo > 0 && !read(lo, hi) {
		return nil
	}
	if cp.Size > 0 && (lo == 0 || cp.Size < lo || cp.Size > hi) && !read(cp.Size, cp.Size) {
		return nil
	}
	eq := &Equivocation{Format: EvidenceFormat, Channel: f.Channel, Author: peer, FoundAt: time.Now().UTC(), ShownCheckpoint: f.Checkpoint}
	for _, h := range held {
		// The entry shown binds its author only under its checkpoint:
		// one that verifies and covers it.
		if raw, ok := shown[h.Index]; ok && !bytes.Equal(raw, h.Raw) && cp.Size >= h.Index {
			eq.What, eq.Index, eq.Held, eq.HeldRoot, eq.Shown = "entry", h.Index, h.Raw, h.Root, raw
			break
		}
		if cp.Size == h.Index && !bytes.Equal(cp.Root, h.Root) {
			eq.What, eq.Index, eq.Held, eq.HeldRoot = "checkpoint", h.Index, h.Raw, h.Root
		}
	}
	if eq.What == "" {
		return nil
	}
	if l, err := s.Store.Log(ctx, f.Channel, peer); err == nil && l != nil {
		eq.HeldCheckpoint = l.Checkpoint
	}
	return eq
}

// heldSize is how much of a log the store holds; false if it cannot say.
func (s *Station) heldSize(ctx context.Context, ch, author string) (uint64, bool) {
	k := ch + "/" + author
	s.heldMu.Lock()
	n, ok := s.heldSizes[k]
	s.heldMu.Unlock()
	if ok {
		return n, true
	}
	l, err := s.Store.Log(ctx, ch, author)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && l == nil):
		// Not remembered: a peer could name any number of logs that do
		// not exist. The first write of the log sets it.
		return 0, true
	case err != nil:
		return 0, false
	}
	return s.setHeld(ch, author, l.Size), true
}

// setHeld records that the store holds, or is about to hold, n entries
// of a log, and returns the largest size known. Logs only grow while a
// station runs; a write that fails leaves the figure too high, which is
// safe.
func (s *Station) setHeld(ch, author string, n uint64) uint64 {
	k := ch + "/" + author
	s.heldMu.Lock()
	defer s.heldMu.Unlock()
	if s.heldSizes == nil {
		s.heldSizes = map[string]uint64{}
	}
	n = max(n, s.heldSizes[k])
	s.heldSizes[k] = n
	return n
}

// refuseEquivocation keeps the evidence and raises the tamper alarm.
func (s *Station) refuseEquivocation(peer string, eq *Equivocation) error {
	path, err := s.keepEvidence(eq)
	where := "kept in " + path
	if err != nil {
		where = "NOT kept: " + err.Error()
		s.Log.Error("equivocation: evidence not written", "channel", eq.Channel, "peer", peer, "err", err)
	}
	text := fmt.Sprintf("tamper alarm: %s signed two different versions of its log %s: ", peer, eq.Channel)
	if eq.What == "entry" {
		text += fmt.Sprintf("two different entries %s/%s/%d", eq.Channel, eq.Author, eq.Index)
	} else {
		text += fmt.Sprintf("a checkpoint of size %d whose root is not that of the entries held", eq.Index)
	}
	text += "; both versions are " + where
	s.event(protocol.LinkRefused{Peer: peer, Channel: eq.Channel, Reason: "equivocation", Text: text})
	return fmt.Errorf("%w: %s", badrequest.Err, text)
}

// keepEvidence writes eq to the station directory once; a second showing
// of the same equivocation keeps the first file.
func (s *Station) keepEvidence(eq *Equivocation) (string, error) {
	dir := filepath.Join(s.Dir, evidenceDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	rel := filepath.Join(evidenceDir, fmt.Sprintf("%s-%s-%d-%s.json", eq.Channel, eq.Author, eq.Index, eq.What))
	data, err := json.MarshalIndent(eq, "", "  ")
	if err != nil {
		return "", err
	}
	f, err := os.OpenFile(filepath.Join(s.Dir, rel), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return rel, nil
	}
	if err != nil {
		return "", err
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", err
	}
	return rel, f.Close()
}
