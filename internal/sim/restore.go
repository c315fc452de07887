package sim

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"hotline/internal/protocol"
	"hotline/internal/record"
)

// Restores (Config.Restores). Every station is backed up now and then
// (hotline backup: a consistent copy of what its disk holds), the first
// time right after setup; the fault "restore" loses a station's disk and
// restores it from one of its backups (the oldest a quarter of the time,
// the newest a quarter, else any): the station is killed, its disk
// replaced, and it starts again as hotline restore leaves it (the
// restored marker: protocol.Config.Restored), until its core no longer
// holds any channel (the station removes the marker then).
//
// What a restore loses, and what the run checks instead: entries the
// station completed after the backup that its peer does not hold are
// lost with the disk (the peer never saw them; Report.LostWithDisk); the
// rest, and everything the peer had from the station, must come back.
// The station's own entries come back sealed to the peer, so its own
// acknowledgements among them are recorded only by the peer, and a
// suspension among them shows protocol.RecoveredReason at the station.
//
// A restored station starts no sooner than a minute after the loss, and
// only once the relay has held none of its mail for 30 s: an entry the
// lost disk had deposited, picked up after the restored station wrote
// other entries at its index, would be a second version (PROTOCOL.md,
// "Not yet"); for the same reason no bundle exported before the loss is
// imported after it. Only a station with a direct path to every peer is
// restored: a restored station ends its hold only on a status over a
// direct connection (one over the relay may be stale). One restore at a time: none while another station
// is restored and still holding. A restore makes the station's earlier
// backups stale (they may hold entries the restore abandoned, which the
// station signs again): they are dropped, and a new one is taken once
// the restore is done (OPERATIONS.md, "Back up and restore"). Restore runs propose no channels during
// the run (a channel agreed after the backup is not brought back by a
// restore).

// backup is a copy of a station's disk and when it was taken.
type backup struct {
	at   time.Time
	disk *Disk
}

// maxBackups is how many backups a station keeps; the first, taken
// after setup, always stays.
const maxBackups = 8

// clone copies a disk: what a backup holds, or what a restore writes.
func (d *Disk) clone() *Disk {
	c := newDisk()
	maps.Copy(c.peers, d.peers)
	for id, ch := range d.channels {
		ch.Suspensions = slices.Clone(ch.Suspensions)
		c.channels[id] = ch
	}
	for k, l := range d.logs {
		nl := *l
		nl.Hashes = slices.Clone(l.Hashes)
		c.logs[k] = &nl
	}
	for k, es := range d.entries {
		c.entries[k] = slices.Clip(slices.Clone(es))
	}
	maps.Copy(c.acks, d.acks)
	maps.Copy(c.escal, d.escal)
	maps.Copy(c.alerts, d.alerts)
	return c
}

// startBackups takes a backup of every station now, and then each at
// random times while the faults last.
func (w *World) startBackups() {
	if !w.cfg.Restores {
		return
	}
	for _, s := range w.stations {
		s.backups = []backup{{w.now, s.disk.clone()}}
		var next func()
		next = func() {
			if w.phase != phaseFaults {
				return
			}
			s.backups = append(s.backups, backup{w.now, s.disk.clone()})
			if len(s.backups) > maxBackups {
				i := 1 + w.rng.IntN(len(s.backups)-1)
				s.backups = slices.Delete(s.backups, i, i+1)
			}
			w.after(w.expo(5*time.Minute), next)
		}
		w.after(w.expo(5*time.Minute), next)
	}
}

// restoring reports whether a restore is under way anywhere.
func (w *World) restoring() bool {
	for _, s := range w.stations {
		if s.restore != nil || s.restored {
			return true
		}
	}
	return false
}

// restoreStation loses s's disk and restores it from one of its backups.
func (w *World) restoreStation(s *Station) {
	if !s.up || s.paused || s.armed != "" || len(s.backups) == 0 || w.restoring() {
		return
	}
	for _, peer := range s.peers {
		if !w.pair(s, peer).direct {
			return // its hold would never end (see above)
		}
	}
	// The oldest and the newest a quarter of the time each, so that
	// every run reaches both ends of the ages.
	i := w.rng.IntN(len(s.backups))
	switch r := w.rng.IntN(4); r {
	case 0:
		i = 0
	case 1:
		i = len(s.backups) - 1
	}
	b := s.backups[i]
	w.fault("restore")
	w.report.RestoredAges = append(w.report.RestoredAges, w.now.Sub(b.at))
	if w.cfg.Trace != nil {
		fmt.Fprintf(w.cfg.Trace, "%d +%s %s disk lost, to be restored from a backup aged %s\n", w.steps, w.elapsed(), s.Name, w.now.Sub(b.at))
	}
	s.end(true)
	s.restores++
	s.restore = &pendingRestore{disk: b.disk.clone(), notBefore: w.now.Add(w.between(time.Minute, 10*time.Minute))}
	w.at(s.restore.notBefore, s.restart)
}

// pendingRestore is a station whose disk was lost, waiting to be started
// from its backup.
type pendingRestore struct {
	disk      *Disk
	notBefore time.Time
	mailSeen  time.Time // when the relay last held mail of the station's
}

// restoreReady reports whether s, whose disk was lost, may start from its
// backup now; if not, it tries again a few seconds later.
func (w *World) restoreReady(s *Station) bool {
	r := s.restore
	for _, ms := range w.relay.mail {
		if slices.ContainsFunc(ms, func(m *mail) bool { return m.from == s && !m.gone }) {
			r.mailSeen = w.now
			break
		}
	}
	if w.now.Before(r.notBefore) || !r.mailSeen.IsZero() && w.now.Sub(r.mailSeen) < 30*time.Second {
		w.after(5*time.Second, s.restart)
		return false
	}
	return true
}

// restored puts the backup in place of the lost disk, as hotline restore
// does, and settles what the run expects of it: the station's entries
// its peers do not hold are lost; entries of its peers' it had taken
// after the backup it will be told of again.
func (w *World) restored(s *Station) {
	s.disk, s.restore, s.restored = s.restore.disk, nil, true
	// Every backup made before the loss is stale now: it may hold
	// entries the restore abandons (written after the backup restored,
	// never delivered), which the station will sign again otherwise;
	// restoring it later would sign them twice. Operators back up again
	// once the restore is done (releaseMarker).
	s.backups = nil
	if w.cfg.Trace != nil {
		fmt.Fprintf(w.cfg.Trace, "%d +%s %s restored\n", w.steps, w.elapsed(), s.Name)
	}
	kept := w.promises[:0]
	for _, p := range w.promises {
		if p.key.author == s.Name && p.key.index > uint64(len(s.disk.log(p.key.ch, s.Name))) {
			peer := s.peerOf(p.key.ch)
			if peer == nil || p.key.index > uint64(len(peer.disk.log(p.key.ch, s.Name))) {
				w.report.LostWithDisk++
				continue
			}
		}
		kept = append(kept, p)
	}
	w.promises = kept
	for id := range s.received {
		if ch, author, idx, ok := splitID(id); ok && idx > uint64(len(s.disk.log(ch, author))) {
			delete(s.received, id)
		}
	}
	for ch, c := range s.disk.channels {
		s.mine[ch] = slices.ContainsFunc(c.Suspensions, func(x record.Suspension) bool { return x.By == s.Name })
	}
}

// releaseMarker removes the restored marker once the core holds no
// channel, as internal/station does.
func (s *Station) releaseMarker() {
	if s.restored && s.core != nil && !s.core.Holding() {
		s.restored = false
		s.backups = []backup{{s.w.now, s.disk.clone()}}
	}
}

// coreConfig is the config a station's core starts with.
func (w *World) coreConfig(s *Station) protocol.Config {
	cfg := w.coreCfg
	cfg.Restored = s.restored
	return cfg
}
