package sim

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"hotline/internal/envelope"
	"hotline/internal/protocol"
	"hotline/internal/record"
	"hotline/internal/transcript"
)

// The invariants. Cheap ones run after every step of a core and every
// write that lands on a disk; the full ones once everything is delivered
// at the end. Each names the rule of docs/PROTOCOL.md or docs/DESIGN.md it
// holds the code to.

// forbidden are refusals that no fault of the simulation can cause: the
// network and the relay can damage, drop and replay frames, but not forge
// signatures, so these would be the core accusing an honest peer.
var forbidden = []string{"root mismatch", "misaddressed entry", "bad ack", "wrong peer", "unknown channel", "not active", "bad agreement"}

// promise is an entry whose request completed: it must be delivered.
type promise struct {
	key entryKey
	sum [32]byte
}

// checkStep checks what one step of a core produced.
func (w *World) checkStep(s *Station, acts []protocol.Action) {
	for _, a := range acts {
		switch a := a.(type) {
		case protocol.Send:
			if len(a.Data) == 0 {
				w.violate("frames", "%s sent an empty frame", s.Name)
				return
			}
			switch protocol.FrameType(a.Data[0]) {
			case protocol.FrameEntries:
				w.checkEntriesSent(s, a.Data)
			case protocol.FrameDurable:
				w.checkDurableSent(s, a.Data)
			case protocol.FrameAhead:
				w.checkAheadSent(s, a.Data)
			case protocol.FrameReceipt:
				w.checkReceiptSent(s, a.Data)
			case protocol.FrameStatus:
				w.checkStatusSent(s, a.Data)
			}
		case protocol.Notify:
			if a.What == "delivered" {
				peer := s.peerOf(a.Channel)
				if peer != nil && s.core.Delivered(a.Channel) > uint64(len(peer.disk.log(a.Channel, s.Name))) {
					w.violate("receipts only for durable entries", "%s holds a receipt of %s/%s at %d; %s has %d entries on its disk",
						s.Name, a.Channel, s.Name, s.core.Delivered(a.Channel), peer.Name, len(peer.disk.log(a.Channel, s.Name)))
				}
			}
		case protocol.Persist:
			for _, al := range a.Batch.Alerts {
				if strings.Contains(al.Text, "tamper alarm") || strings.Contains(al.Text, "sending stopped") {
					w.violate("no false alarm", "%s: %s", s.Name, al.Text)
				}
				// What restores brought back (restore.go).
				switch {
				case strings.HasPrefix(al.Format, "recovered %d entries of this station's log"):
					w.fault("own entries fetched back")
				case strings.HasPrefix(al.Format, "%s lost entries %d to %d of %s that it had receipted"):
					w.fault("peer's entries sent again")
				}
			}
		}
		if w.stop {
			return
		}
	}
	for _, reason := range forbidden {
		if n := s.core.Stats.Refused[reason]; n > 0 {
			w.violate("no refusal without a fault", "%s refused %d frame(s) as %q", s.Name, n, reason)
			return
		}
	}
}

// peerOf is the peer of a channel the station has on its disk.
func (s *Station) peerOf(ch string) *Station {
	if c, ok := s.disk.channels[ch]; ok {
		return s.w.byName[c.Peer]
	}
	for _, c := range s.channels {
		if c.id == ch {
			return c.peer
		}
	}
	return nil
}

// checkEntriesSent: an entry is sent only once durable on its author's
// disk, with the bytes it has there, under a checkpoint over them
// ("Delivery rules": an author never signs two entries at one index).
func (w *World) checkEntriesSent(s *Station, data []byte) {
	f, err := protocol.DecodeFrame(data)
	if err != nil {
		w.violate("frames", "%s sent an entries frame that does not decode: %v", s.Name, err)
		return
	}
	if f.Author != s.Name {
		// A peer's own entries sent back to it after its restore
		// (protocol.Fetch): what this station holds of its log.
		held := s.disk.log(f.Channel, f.Author)
		for _, raw := range f.Entries {
			e, err := envelope.Parse(raw)
			if err != nil || e.Index == 0 || e.Index > uint64(len(held)) || !bytes.Equal(held[e.Index-1].Raw, raw) {
				w.violate("sent only once durable", "%s sent back an entry of %s/%s that is not on its disk with those bytes: %v", s.Name, f.Channel, f.Author, err)
				return
			}
		}
		return
	}
	held := s.disk.log(f.Channel, s.Name)
	for _, raw := range f.Entries {
		e, err := envelope.Parse(raw)
		if err != nil {
			w.violate("frames", "%s sent an entry that does not parse: %v", s.Name, err)
			return
		}
		if e.Index > uint64(len(held)) || !bytes.Equal(held[e.Index-1].Raw, raw) {
			w.violate("sent only once durable", "%s sent %s, which is not on its disk with those bytes (it holds %d)", s.Name, e.ID(), len(held))
			return
		}
	}
	cp, err := transcript.ParseCheckpointText(noteText(f.Checkpoint))
	if err != nil || cp.Size == 0 || cp.Size > uint64(len(held)) || !bytes.Equal(cp.Root, held[cp.Size-1].Root) {
		w.violate("checkpoints", "%s sent a checkpoint of %s that its disk does not match: %v", s.Name, f.Channel, err)
	}
}

// checkDurableSent: a durable frame names only entries on the author's
// disk ("Sent ahead"), under a checkpoint over them as its disk holds
// them; the entries sent ahead themselves are not yet.
func (w *World) checkDurableSent(s *Station, data []byte) {
	f, err := protocol.DecodeFrame(data)
	if err != nil {
		w.violate("frames", "%s sent a durable frame that does not decode: %v", s.Name, err)
		return
	}
	held := s.disk.log(f.Channel, s.Name)
	if f.Author != s.Name || f.From == 0 || f.From > uint64(len(held)) {
		w.violate("sent only once durable", "%s said %s/%s is durable to %d; its disk holds %d", s.Name, f.Channel, f.Author, f.From, len(held))
		return
	}
	cp, err := transcript.ParseCheckpointText(noteText(f.Checkpoint))
	if err != nil || cp.Size != f.From || !bytes.Equal(cp.Root, held[cp.Size-1].Root) {
		w.violate("checkpoints", "%s sent a durable frame of %s to %d under a checkpoint its disk does not match: %v", s.Name, f.Channel, f.From, err)
	}
}

// checkAheadSent: entries sent ahead of their write come under no
// checkpoint: nothing the author signs over a log binds it before the
// entries are durable ("Sent ahead"), so a process that dies or loses
// its station before they are has signed no second version of its log.
func (w *World) checkAheadSent(s *Station, data []byte) {
	f, err := protocol.DecodeFrame(data)
	if err != nil {
		w.violate("no checkpoint ahead", "%s sent an ahead frame that does not decode: %v", s.Name, err)
		return
	}
	if len(f.Checkpoint) > 0 || f.Author != s.Name {
		w.violate("no checkpoint ahead", "%s sent entries of %s/%s ahead with a checkpoint", s.Name, f.Channel, f.Author)
	}
}

// checkArrival: whatever reaches a station under its author's checkpoint
// (an entries or a durable frame whose checkpoint verifies: what binds
// the author, and what the receiver would show a third party) is the one
// version of the author's log, the one on the author's disk, entry for
// entry and root for root. Whatever process of the station's sent it, a
// former leader continued after its successor wrote, or one that crashed
// after sending ahead, and however late it arrives, the peer is never
// handed two signed versions of an index that bind.
func (w *World) checkArrival(from, to *Station, data []byte) {
	if len(data) == 0 {
		return
	}
	if t := protocol.FrameType(data[0]); t != protocol.FrameEntries && t != protocol.FrameDurable {
		return
	}
	f, err := protocol.DecodeFrame(data)
	if err != nil {
		return // damaged on its way: refused as such, binds nobody
	}
	cp, ok := w.binding[string(f.Checkpoint)]
	if !ok {
		cp, _, err = transcript.OpenCheckpoint(f.Checkpoint, from.verifier)
		if err != nil {
			return // not the author's signature (damaged): binds nobody
		}
		if len(w.binding) > 1<<16 {
			clear(w.binding)
		}
		w.binding[string(f.Checkpoint)] = cp
	}
	// The log is the one the signed checkpoint names, whatever the
	// frame's own fields say (the relay may have damaged them).
	ch, ok := strings.CutPrefix(cp.Origin, "hotline/")
	if ch, ok = strings.CutSuffix(ch, "/"+from.Name); !ok || transcript.Origin(ch, from.Name) != cp.Origin {
		return // not a log of this author's
	}
	held := from.disk.log(ch, from.Name)
	if cp.Size == 0 || cp.Size > uint64(len(held)) || !bytes.Equal(cp.Root, held[cp.Size-1].Root) {
		w.violate("one binding version", "%s received %s's checkpoint of %s at size %d, which is not the log on %s's disk (%d entries)",
			to.Name, from.Name, ch, cp.Size, from.Name, len(held))
		return
	}
	for _, raw := range f.Entries {
		e, err := envelope.Parse(raw)
		if err != nil || e.Channel != ch || e.Author != from.Name || e.Index == 0 || e.Index > cp.Size {
			continue // not covered by the checkpoint: binds nobody
		}
		if !bytes.Equal(raw, held[e.Index-1].Raw) && e.Verify(from.keys.SignPublic()) == nil {
			// (One that does not verify was damaged on its way.)
			w.violate("one binding version", "%s received %s under %s's checkpoint at size %d, another version than the one on its disk",
				to.Name, e.ID(), from.Name, cp.Size)
			return
		}
	}
}

// checkReceiptSent: a receipt is a valid cosignature and covers only
// entries on the receiver's disk ("Receipts").
func (w *World) checkReceiptSent(s *Station, data []byte) {
	f, err := protocol.DecodeFrame(data)
	if err != nil {
		w.violate("frames", "%s sent a receipt frame that does not decode: %v", s.Name, err)
		return
	}
	w.checkReceipt(s, f.Channel, f.Author, f.Checkpoint)
}

func (w *World) checkReceipt(s *Station, ch, author string, receipt []byte) {
	a := w.byName[author]
	if a == nil {
		w.violate("receipts", "%s sent a receipt of %s/%s: no such station", s.Name, ch, author)
		return
	}
	// A receipt is sent again and again (in every status, for every
	// duplicate): its signatures are checked once.
	cp, ok := w.receipts[string(receipt)]
	if !ok {
		r, err := transcript.OpenReceipt(receipt, a.verifier, transcript.NewCosignVerifier(s.Name, s.keys.SignPublic()))
		if err != nil || r.Origin != transcript.Origin(ch, author) {
			w.violate("cosignatures", "%s sent a receipt of %s/%s that does not verify: %v", s.Name, ch, author, err)
			return
		}
		// It carries the time it was signed, by the receiver's clock.
		if r.Time.Before(s.clockLo.Truncate(time.Second)) || r.Time.After(s.clockHi) {
			w.violate("receipt times", "%s's receipt of %s/%s says %v; its clock has read from %v to %v", s.Name, ch, author, r.Time, s.clockLo, s.clockHi)
			return
		}
		cp = r.Checkpoint
		if len(w.receipts) > 1<<16 {
			clear(w.receipts)
		}
		w.receipts[string(receipt)] = cp
	}
	held := s.disk.log(ch, author)
	if cp.Size > uint64(len(held)) {
		w.violate("receipts only for durable entries", "%s receipted %s/%s up to %d with %d entries on its disk", s.Name, ch, author, cp.Size, len(held))
		return
	}
	if cp.Size > 0 && !bytes.Equal(cp.Root, held[cp.Size-1].Root) {
		w.violate("cosignatures", "%s receipted %s/%s at %d with a root its disk does not have", s.Name, ch, author, cp.Size)
	}
	w.checkHeld(a, s, ch, cp.Held)
}

// checkHeld: what a checkpoint by author says it holds of other's log is
// other's log as other wrote it. Either station's disk may have lost the
// entries since (a restore); the claim is checked where they remain.
func (w *World) checkHeld(author, other *Station, ch string, h *transcript.Held) {
	if h == nil {
		return
	}
	for _, d := range []*Station{other, author} {
		if es := d.disk.log(ch, other.Name); uint64(len(es)) >= h.Size && h.Size > 0 {
			if !bytes.Equal(es[h.Size-1].Root, h.Root) {
				w.violate("held logs", "%s's checkpoint of %s says it held %s's log at %d with a root %s's disk does not have", author.Name, ch, other.Name, h.Size, d.Name)
			}
			return
		}
	}
}

// checkStatusSent: a status tells only what is durable.
func (w *World) checkStatusSent(s *Station, data []byte) {
	f, err := protocol.DecodeFrame(data)
	if err != nil {
		w.violate("frames", "%s sent a status frame that does not decode: %v", s.Name, err)
		return
	}
	for _, l := range f.Logs {
		if held := uint64(len(s.disk.log(l.Channel, l.Author))); l.Size > held {
			w.violate("status only for durable entries", "%s told it holds %d of %s/%s with %d on its disk", s.Name, l.Size, l.Channel, l.Author, held)
			return
		}
		if len(l.Receipt) > 0 {
			w.checkReceipt(s, l.Channel, l.Author, l.Receipt)
		}
	}
}

// applied is a batch landing on a station's disk.
func (w *World) applied(s *Station, b *record.Batch) {
	for _, bad := range s.disk.apply(b) {
		w.violate("store", "%s: %s", s.Name, bad)
	}
	for _, e := range b.Entries {
		if e.Author == s.Name {
			continue
		}
		a := w.byName[e.Author]
		held := a.disk.log(e.Channel, e.Author)
		if e.Index > uint64(len(held)) || !bytes.Equal(held[e.Index-1].Raw, e.Raw) {
			w.violate("identical logs", "%s stored %s, which %s does not hold with those bytes on its disk", s.Name, e.ID(), e.Author)
			return
		}
	}
}

// promised records an entry whose request completed: it must be on the
// disk now, and be delivered in the end.
func (w *World) promised(s *Station, r protocol.Result, operator bool) {
	if r.Entry == "" {
		return
	}
	ch, author, idx, ok := splitID(r.Entry)
	held := s.disk.log(ch, author)
	if !ok || author != s.Name || idx > uint64(len(held)) {
		w.violate("durable before done", "%s completed %s, which is not on its disk (%d entries)", s.Name, r.Entry, len(held))
		return
	}
	if operator {
		w.report.Completed++
	}
	w.promises = append(w.promises, promise{entryKey{ch, author, idx}, sha256.Sum256(held[idx-1].Raw)})
}

// finalCheck runs once everything is delivered.
func (w *World) finalCheck() {
	for _, s := range w.stations {
		if !s.up || s.paused {
			w.violate("liveness", "%s is not running at the end", s.Name)
			return
		}
	}
	// Every completed request: delivered once, at its index, with its bytes.
	for _, p := range w.promises {
		a := w.byName[p.key.author]
		peer := a.peerOf(p.key.ch)
		for _, s := range []*Station{a, peer} {
			held := s.disk.log(p.key.ch, p.key.author)
			if p.key.index > uint64(len(held)) || sha256.Sum256(held[p.key.index-1].Raw) != p.sum {
				w.violate("exactly-once in-order delivery", "%s/%s/%d completed but %s does not hold it at its index", p.key.ch, p.key.author, p.key.index, s.Name)
				return
			}
		}
	}
	infos := map[string]map[string]protocol.ChannelInfo{}
	for _, s := range w.stations {
		infos[s.Name] = map[string]protocol.ChannelInfo{}
		for _, ci := range s.core.Channels() {
			infos[s.Name][ci.ID] = ci
			if ci.Blocked != "" {
				w.violate("no false alarm", "%s: sending on %s stopped: %s", s.Name, ci.ID, ci.Blocked)
				return
			}
			if ci.Dormant {
				if _, ok := s.disk.acks[entryKey{ci.ID, s.Name, ci.LastCheck}]; ok {
					w.violate("dormancy", "%s shows %s dormant, but its latest check %d is acknowledged", s.Name, ci.ID, ci.LastCheck)
					return
				}
			}
		}
	}
	for _, s := range w.stations {
		for _, id := range sortedKeys(s.disk.channels) {
			peer := s.peerOf(id)
			if s.index > peer.index {
				continue // each channel once
			}
			if !w.checkChannel(id, s, peer, infos) {
				return
			}
		}
	}
	for _, s := range w.stations {
		for reason, n := range s.core.Stats.Refused {
			w.report.CoreRefused[reason] += n
		}
		w.report.Duplicates += s.core.Stats.Duplicates
		w.countAhead(s.core)
	}
	if w.cfg.Faults < 0 && len(w.report.CoreRefused) > 0 {
		w.violate("no refusal without a fault", "with no fault injected, the cores refused %v", w.report.CoreRefused)
	}
}

// countAhead adds what core did ahead of its writes to the report: at the
// end, and when its station crashes, so that the counts cover every life.
func (w *World) countAhead(core *protocol.Core) {
	w.report.SignedAhead += core.Stats.SignedAhead
	w.report.SentAhead += core.Stats.SentAhead
	w.report.TakenAhead += core.Stats.TakenAhead
	w.report.MissedAhead += core.Stats.MissedAhead
	w.report.ConflictAhead += core.Stats.ConflictAhead
	w.report.LeaseAhead += core.Stats.LeaseAhead
}

// checkChannel checks one channel's two logs on both disks, its two
// transcripts, and that both stations agree on its suspensions.
func (w *World) checkChannel(ch string, x, y *Station, infos map[string]map[string]protocol.ChannelInfo) bool {
	for _, side := range [][2]*Station{{x, y}, {y, x}} {
		author, receiver := side[0], side[1]
		mine, theirs := author.disk.log(ch, author.Name), receiver.disk.log(ch, author.Name)
		if len(theirs) > len(mine) {
			w.violate("identical logs", "log %s/%s: %s holds %d entries, its author %d", ch, author.Name, receiver.Name, len(theirs), len(mine))
			return false
		}
		tree := transcript.NewTree()
		for i, e := range mine {
			tree.Append(e.Raw)
			if e.Index != uint64(i+1) || !bytes.Equal(e.Root, tree.Root()) {
				w.violate("checkpoints", "log %s/%s at %s: entry %d has index %d or a root that is not the log's", ch, author.Name, author.Name, i+1, e.Index)
				return false
			}
			if i < len(theirs) && (!bytes.Equal(theirs[i].Raw, e.Raw) || !bytes.Equal(theirs[i].Root, e.Root)) {
				w.violate("identical logs", "log %s/%s differs at %d between %s and %s", ch, author.Name, i+1, author.Name, receiver.Name)
				return false
			}
			if e.Kind == envelope.Text {
				w.report.messages++
			}
		}
		for _, e := range theirs {
			w.report.Delivered[e.Kind.String()]++
		}
		for _, d := range []*Station{author, receiver} {
			es := d.disk.log(ch, author.Name)
			l := d.disk.logs[logKey{ch, author.Name}]
			if len(es) == 0 {
				continue
			}
			if l == nil || l.Size != uint64(len(es)) {
				w.violate("store", "%s: log %s/%s has %d entries and a size of %v", d.Name, ch, author.Name, len(es), l)
				return false
			}
			t, err := transcript.TreeFromHashes(l.Size, l.Hashes)
			if err != nil || !bytes.Equal(t.Root(), es[len(es)-1].Root) {
				w.violate("checkpoints", "%s: the stored tree of %s/%s does not give its root: %v", d.Name, ch, author.Name, err)
				return false
			}
		}
		if l := receiver.disk.logs[logKey{ch, author.Name}]; l != nil && len(theirs) > 0 {
			cp, _, err := transcript.OpenCheckpoint(l.Checkpoint, author.verifier)
			if err != nil || cp.Size != uint64(len(theirs)) || !bytes.Equal(cp.Root, theirs[len(theirs)-1].Root) {
				w.violate("checkpoints", "%s: the stored checkpoint of %s/%s does not cover what it holds: %v", receiver.Name, ch, author.Name, err)
				return false
			}
		}
		if l := author.disk.logs[logKey{ch, author.Name}]; l != nil && l.ReceiptSize > 0 {
			r, err := transcript.OpenReceipt(l.Receipt, author.verifier, transcript.ReceiptVerifiers(receiver.Name, receiver.keys.SignPublic())...)
			cp := r.Checkpoint
			if err != nil || cp.Size != l.ReceiptSize || cp.Size > uint64(len(theirs)) || !bytes.Equal(cp.Root, mine[cp.Size-1].Root) {
				w.violate("cosignatures", "%s: the stored receipt of %s/%s does not verify or covers what %s does not hold: %v", author.Name, ch, author.Name, receiver.Name, err)
				return false
			}
		}
		if !w.checkAcks(ch, author, receiver, theirs) {
			return false
		}
	}
	if c := x.disk.channels[ch]; c.State == record.Withdrawn {
		w.report.Withdrawn++
		acceptor := x
		if c.Proposer == x.Name {
			acceptor = y
		}
		if len(acceptor.disk.log(ch, acceptor.Name)) > 0 {
			w.report.WithdrawnAccepted++
		}
	}
	for _, s := range []*Station{x, y} {
		if s.disk.channels[ch].State == record.Withdrawn {
			// Never agreed: no transcript to export (its logs were
			// checked above).
			continue
		}
		b, err := w.bundle(s, ch)
		if err == nil {
			_, err = transcript.Verify(b)
		}
		if err != nil {
			w.violate("transcripts verify", "%s's transcript of %s: %v", s.Name, ch, err)
			return false
		}
	}
	for _, s := range []*Station{x, y} {
		want := suspensions(ch, x, y, s)
		got := map[string]string{}
		for _, sp := range infos[s.Name][ch].Suspensions {
			got[sp.By] = fmt.Sprintf("%d %s", sp.Index, sp.Reason)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			w.violate("suspensions agree", "%s shows %s suspended %v; the logs say %v", s.Name, ch, got, want)
			return false
		}
	}
	return true
}

// checkAcks: every acknowledgement in the receiver's copy of the author's
// log is recorded by both.
func (w *World) checkAcks(ch string, author, receiver *Station, theirs []record.Entry) bool {
	for _, e := range theirs {
		if e.Kind != envelope.Ack {
			continue
		}
		var a protocol.AckBody
		if err := json.Unmarshal(e.Body, &a); err != nil {
			w.violate("acknowledgements", "%s: %s has a body that does not decode: %v", receiver.Name, e.ID(), err)
			return false
		}
		for _, s := range []*Station{author, receiver} {
			if s == author && recovered(author, e) {
				// Fetched back after a restore, sealed to the receiver:
				// the author cannot know what it acknowledged.
				continue
			}
			if _, ok := s.disk.acks[entryKey{ch, receiver.Name, a.Of}]; !ok {
				w.violate("acknowledgements", "%s acknowledges %s/%s/%d; %s has not recorded it", e.ID(), ch, receiver.Name, a.Of, s.Name)
				return false
			}
		}
	}
	return true
}

// suspensions replays the suspend and resume entries of both logs of a
// channel: who holds a suspension, by its entry and reason, as viewer
// must show it (its own suspension fetched back after a restore shows
// protocol.RecoveredReason: the reason is sealed to the peer).
func suspensions(ch string, x, y, viewer *Station) map[string]string {
	out := map[string]string{}
	for _, s := range []*Station{x, y} {
		for _, e := range s.disk.log(ch, s.Name) {
			switch e.Kind {
			case envelope.Suspend:
				var b protocol.SuspendBody
				if recovered(s, e) {
					b.Reason = protocol.RecoveredReason
					if viewer != s {
						json.Unmarshal(viewer.disk.log(ch, s.Name)[e.Index-1].Body, &b)
					}
				} else {
					json.Unmarshal(e.Body, &b)
				}
				out[s.Name] = fmt.Sprintf("%d %s", e.Index, b.Reason)
			case envelope.Resume:
				delete(out, s.Name)
			}
		}
	}
	return out
}

// bundle builds a station's audit bundle of a channel from its disk, as
// station.Export does.
func (w *World) bundle(s *Station, ch string) (*transcript.Bundle, error) {
	c, ok := s.disk.channels[ch]
	if !ok || c.State != record.Active {
		return nil, fmt.Errorf("channel %s is not active on the disk", ch)
	}
	peer := w.byName[c.Peer]
	b := &transcript.Bundle{Format: transcript.BundleFormat, Channel: ch, ExportedBy: s.Name, ExportedAt: w.now,
		Cards: []string{string(s.card.Text), string(s.disk.peers[c.Peer].Card)}, Charter: string(c.Charter)}
	for _, author := range []string{s.Name, c.Peer} {
		bl := transcript.BundleLog{Author: author, Entries: [][]byte{}}
		for _, e := range s.disk.log(ch, author) {
			bl.Entries = append(bl.Entries, e.Raw)
		}
		l := s.disk.logs[logKey{ch, author}]
		switch {
		case l == nil:
		case author == s.Name:
			bl.Checkpoint = string(l.Receipt)
		case l.Checkpoint != nil:
			r, err := transcript.Cosign(l.Checkpoint, peer.verifier, transcript.NewCosigner(s.Name, s.keys.Sign, s.now))
			if err != nil {
				return nil, err
			}
			bl.Checkpoint = string(r)
		}
		b.Logs = append(b.Logs, bl)
	}
	return b, b.Seal(s.keys.Signer())
}

func noteText(signed []byte) string {
	body, _, _ := bytes.Cut(signed, []byte("\n\n"))
	return string(body) + "\n"
}

// recovered reports whether e, an entry of author's own log, is one the
// author fetched back from its peer after a restore: its body is sealed
// to the peer, so the author stores none.
func recovered(author *Station, e record.Entry) bool {
	es := author.disk.log(e.Channel, author.Name)
	return e.Index >= 1 && e.Index <= uint64(len(es)) && len(es[e.Index-1].Body) == 0
}
