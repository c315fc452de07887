package sim

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"

	"hotline/internal/envelope"
	"hotline/internal/record"
)

// Disk is a station's store in memory, with the semantics of
// internal/store/sqlstore (the upserts, ON CONFLICT rules and the
// snapshot a restart loads). It holds only what was synced: a batch the
// station has not finished writing is not here, so a crash loses it.
// Each apply is one transaction: it lands whole or not at all, which is
// what SQLite's journal makes of a torn write.
type Disk struct {
	peers    map[string]record.Peer
	channels map[string]record.Channel
	logs     map[logKey]*record.Log
	entries  map[logKey][]record.Entry // index i at [i-1]
	acks     map[entryKey]record.Ack
	escal    map[escKey]record.Escalation
	alerts   map[string]int // by level
}

type logKey struct{ ch, author string }

type entryKey struct {
	ch, author string
	index      uint64
}

type escKey struct {
	entryKey
	step int
}

func newDisk() *Disk {
	return &Disk{peers: map[string]record.Peer{}, channels: map[string]record.Channel{}, logs: map[logKey]*record.Log{},
		entries: map[logKey][]record.Entry{}, acks: map[entryKey]record.Ack{}, escal: map[escKey]record.Escalation{},
		alerts: map[string]int{}}
}

// log returns the entries of one log.
func (d *Disk) log(ch, author string) []record.Entry { return d.entries[logKey{ch, author}] }

// apply writes one batch. It returns what a real store would refuse
// (ErrConflict), and what no real store checks but the core must never
// ask for (a gap in a log, a ladder step written twice): both are
// violations.
func (d *Disk) apply(b *record.Batch) []string {
	var bad []string
	for _, p := range b.Peers {
		if old, ok := d.peers[p.Name]; ok {
			p.AddedAt = old.AddedAt
		}
		d.peers[p.Name] = p
	}
	for _, c := range b.Channels {
		if old, ok := d.channels[c.ID]; ok {
			// The proposer and level change once, when this station
			// withdrew its proposal of a channel that crossed the peer's
			// and takes the peer's (docs/PROTOCOL.md, "Crossing
			// proposals").
			c.Peer, c.CreatedAt = old.Peer, old.CreatedAt
		}
		c.Suspensions = slices.Clone(c.Suspensions)
		d.channels[c.ID] = c
	}
	for _, e := range b.Entries {
		k := logKey{e.Channel, e.Author}
		es := d.entries[k]
		switch {
		case e.Index == uint64(len(es))+1:
			d.entries[k] = append(es, e)
		case e.Index >= 1 && e.Index <= uint64(len(es)):
			if !bytes.Equal(es[e.Index-1].Raw, e.Raw) {
				bad = append(bad, fmt.Sprintf("store conflict: %s written again with other bytes", e.ID()))
			}
		default:
			bad = append(bad, fmt.Sprintf("store gap: %s written after %d entries", e.ID(), len(es)))
		}
	}
	for _, l := range b.Logs {
		k := logKey{l.Channel, l.Author}
		nl := l
		nl.Hashes = slices.Clone(l.Hashes)
		if old := d.logs[k]; old != nil {
			nl.Receipt, nl.ReceiptSize = old.Receipt, old.ReceiptSize
			if l.Checkpoint == nil {
				nl.Checkpoint = old.Checkpoint
			}
			if l.EpochFrom == 0 {
				nl.EpochFrom = old.EpochFrom
			}
		}
		d.logs[k] = &nl
	}
	for _, r := range b.Receipts {
		k := logKey{r.Channel, r.Author}
		l := d.logs[k]
		if l == nil {
			l = &record.Log{Channel: r.Channel, Author: r.Author}
			d.logs[k] = l
		}
		if r.Size >= l.ReceiptSize || r.Rewind {
			l.Receipt, l.ReceiptSize = r.Note, r.Size
		}
	}
	for _, a := range b.Acks {
		k := entryKey{a.Channel, a.Author, a.Index}
		if _, ok := d.acks[k]; !ok {
			d.acks[k] = a
		}
	}
	for _, x := range b.Escalations {
		k := escKey{entryKey{x.Channel, x.Author, x.Index}, x.Step}
		if old, ok := d.escal[k]; ok {
			bad = append(bad, fmt.Sprintf("ladder step %d of %s/%s/%d taken twice (%q, then %q)", x.Step, x.Channel, x.Author, x.Index, old.Detail, x.Detail))
			continue
		}
		d.escal[k] = x
	}
	for _, a := range b.Alerts {
		d.alerts[a.Level]++
	}
	return bad
}

// snapshot is what sqlstore's Load returns, in the same order.
func (d *Disk) snapshot(self string) *record.Snapshot {
	s := &record.Snapshot{}
	for _, name := range sortedKeys(d.peers) {
		s.Peers = append(s.Peers, d.peers[name])
	}
	for _, id := range sortedKeys(d.channels) {
		c := d.channels[id]
		c.Suspensions = slices.Clone(c.Suspensions)
		s.Channels = append(s.Channels, c)
	}
	keys := make([]logKey, 0, len(d.logs))
	for k := range d.logs {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b logKey) int { return cmp.Or(cmp.Compare(a.ch, b.ch), cmp.Compare(a.author, b.author)) })
	for _, k := range keys {
		l := *d.logs[k]
		s.Logs = append(s.Logs, l)
		if l.Author == self && l.Size > l.ReceiptSize {
			s.Undelivered = append(s.Undelivered, d.entries[k][l.ReceiptSize:l.Size]...)
		}
		if l.EpochFrom > 0 && l.EpochFrom <= uint64(len(d.entries[k])) {
			s.EpochEntries = append(s.EpochEntries, d.entries[k][l.EpochFrom-1])
		}
	}
	s.Outstanding, s.Escalations = d.outstanding(self, keys)
	return s
}

// outstanding selects what sqlstore's outstanding query does: entries
// waiting for a person's acknowledgement whose ladder is not finished, and
// the steps already taken for them.
func (d *Disk) outstanding(self string, keys []logKey) ([]record.Waiting, []record.Escalation) {
	var out []record.Waiting
	var xs []record.Escalation
	for _, k := range keys {
		for _, e := range d.entries[k] {
			if !e.Kind.NeedsAck() {
				continue
			}
			ek := entryKey{e.Channel, e.Author, e.Index}
			if _, acked := d.acks[ek]; acked {
				continue
			}
			final := record.StepOverdue
			if e.Author == self {
				final = record.StepForwarded
			}
			if _, done := d.escal[escKey{ek, final}]; done {
				continue
			}
			if e.Kind == envelope.Check && e.Author == self && e.Index != d.channels[e.Channel].LastCheck {
				continue
			}
			w := e.Waiting()
			if !record.WaitingBody(e.Kind, e.Author, self) {
				w.Body = nil
			}
			out = append(out, w)
			for step := record.StepUndelivered; step <= record.StepForwarded; step++ {
				if x, ok := d.escal[escKey{ek, step}]; ok {
					xs = append(xs, x)
				}
			}
		}
	}
	slices.SortStableFunc(out, func(a, b record.Waiting) int {
		return cmp.Or(cmp.Compare(a.Channel, b.Channel), cmp.Compare(a.Author, b.Author), cmp.Compare(a.Index, b.Index))
	})
	slices.SortStableFunc(xs, func(a, b record.Escalation) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Channel, b.Channel), cmp.Compare(a.Author, b.Author), cmp.Compare(a.Index, b.Index), cmp.Compare(a.Step, b.Step))
	})
	return out, xs
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
