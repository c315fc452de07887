package console

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"time"
)

// Alarm management as control rooms practise it (ISA-18.2, EEMUA 191):
// the console shows alarms grouped by source and kind, one line each
// with a count and the first and last time, rather than a line per
// occurrence. The grouping is pure: it takes the occurrences and the
// shelves in force, and the time, and reads nothing.
//
// An occurrence stands (is on the active list) while a person still has
// something to do about it or its condition lasts:
//
//   - one of the console's own alarms (a channel down) stands while its
//     condition lasts; once it has cleared it goes to the history, with
//     its clearing time. One that cleared before anyone acknowledged it is
//     a "cleared" notice, never a takeover;
//   - a station alert is an event: the station reports no end to its
//     condition, so it stands until a person acknowledges it.
//
// A group is active while any of its occurrences stands; its line is
// "unacknowledged" while any standing occurrence is, and is drawn dimmed
// (below the unacknowledged ones) once all are. Chattering (the same
// condition three times or more within a minute) is marked on the line.

// Alarm window and benchmarks.
const (
	// alarmWindow is how far back the board looks: the day of the rate.
	// Older occurrences count only while they still stand.
	alarmWindow = 24 * time.Hour
	// chatterCount occurrences within chatterWindow make a group chatter.
	chatterCount  = 3
	chatterWindow = time.Minute
	// EEMUA 191: about one alarm per 10 minutes per operator is
	// acceptable; more than 10 in 10 minutes is a flood.
	rateSlot       = 10 * time.Minute
	rateAcceptable = 1
	rateFlood      = 10
)

// alarm is one occurrence, as the grouping needs it.
type alarm struct {
	Key       string // what acknowledges it: "a:ID" or "c:ID"
	Source    string // the channel, else the peer; "" for the station itself
	Kind      string // the station alert's format (its text when it has none), or the console's kind ("down")
	Level     string // "alarm", "supervisor", "warning", "notice", "down"
	At        time.Time
	Lasting   bool      // a condition the console follows (its own alarms): it stands until it clears
	ClearedAt time.Time // when that condition ended; zero while it lasts
	AckBy     string
	AckAt     time.Time
	line      alertLine // the occurrence as the list shows it
}

// standing reports whether the occurrence is on the active list.
func (a *alarm) standing() bool {
	if a.Lasting {
		return a.ClearedAt.IsZero()
	}
	return a.AckBy == ""
}

// isAlarm reports whether the occurrence is an alarm in the sense of the
// rate (one that takes over the screen and asks a person to act), not a
// warning or a notice.
func (a *alarm) isAlarm() bool {
	_, ok := takesOver(a.Level)
	return ok || a.Level == "down"
}

// groupID names a group of alarms: its source and kind, hashed short so
// that it can stand in a page and a request.
func groupID(source, kind string) string {
	h := sha256.Sum256([]byte(source + "\x00" + kind))
	return hex.EncodeToString(h[:6])
}

// shelf is a supervisor's shelving of an alarm group: until when, by
// whom, why.
type shelf struct {
	Group  string
	Label  string // the group's source and text when shelved, for the audit trail
	Until  time.Time
	By     string
	Reason string
	At     time.Time
}

// alarmGroup is one line of the alarm board.
type alarmGroup struct {
	ID         string
	Source     string
	Kind       string
	Level      string
	Count      int // occurrences in the window
	First      time.Time
	Last       time.Time
	Standing   int // occurrences that stand
	Unacked    int // standing occurrences nobody acknowledged
	Chattering bool
	// ClearedAt is, for a group that no longer stands, when its last
	// occurrence ended (cleared, or was acknowledged); zero otherwise.
	ClearedAt time.Time
	// NotAcked counts the occurrences that cleared before anyone
	// acknowledged them (a "cleared" notice while any does).
	NotAcked int
	AckBy    string // the latest acknowledgement
	AckAt    time.Time
	Latest   alertLine // the newest occurrence, whose text the line shows
	Keys     []string  // the keys a person may still acknowledge: standing unacknowledged ones, and cleared ones nobody acknowledged
	Shelf    *shelf
}

// Acked reports whether the line is drawn dimmed: active, every standing
// occurrence acknowledged.
func (g alarmGroup) Acked() bool { return g.Standing > 0 && g.Unacked == 0 }

// alarmBoard is the alarm board: the active lines (unacknowledged first),
// the shelved ones, the history, the cleared notices, and the rate.
type alarmBoard struct {
	Active  []alarmGroup
	Shelved []alarmGroup
	History []alarmGroup
	// Cleared are the groups of alarms (what takes over the screen) with
	// occurrences whose condition cleared before anyone acknowledged them
	// (in the active list or the history).
	Cleared []alarmGroup
	Rates   []alarmRate
}

// severity orders levels on the active list: what asks most first.
func severity(level string) int {
	switch level {
	case "alarm", "down":
		return 0
	case "supervisor":
		return 1
	case "warning":
		return 2
	}
	return 3
}

// groupAlarms folds occurrences (in any order) into the alarm board as of
// now: a line per source and kind; the shelves in force (by group ID)
// move a line to the shelved list. Pure.
func groupAlarms(occ []alarm, shelves map[string]shelf, now time.Time) alarmBoard {
	byID := map[string]*alarmGroup{}
	var order []string
	// Sorted by pointer, not by copy: the occurrences are large and many.
	sorted := make([]*alarm, len(occ))
	for i := range occ {
		sorted[i] = &occ[i]
	}
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].At.Before(sorted[j].At) })
	times := map[string][]time.Time{}
	ids := map[[2]string]string{} // groupID by source and kind, hashed once
	for _, a := range sorted {
		sk := [2]string{a.Source, a.Kind}
		id, ok := ids[sk]
		if !ok {
			id = groupID(a.Source, a.Kind)
			ids[sk] = id
		}
		g := byID[id]
		if g == nil {
			g = &alarmGroup{ID: id, Source: a.Source, Kind: a.Kind, First: a.At}
			byID[id] = g
			order = append(order, id)
		}
		g.Count++
		g.Last, g.Level, g.Latest = a.At, a.Level, a.line
		times[id] = append(times[id], a.At)
		if a.AckBy != "" && !a.AckAt.Before(g.AckAt) {
			g.AckBy, g.AckAt = a.AckBy, a.AckAt
		}
		switch {
		case a.standing():
			g.Standing++
			if a.AckBy == "" {
				g.Unacked++
				g.Keys = append(g.Keys, a.Key)
			}
		case a.Lasting:
			g.ClearedAt = later(g.ClearedAt, a.ClearedAt)
			if a.AckBy == "" {
				g.NotAcked++
				g.Keys = append(g.Keys, a.Key)
			}
		default:
			g.ClearedAt = later(g.ClearedAt, a.AckAt)
		}
	}
	var b alarmBoard
	for _, id := range order {
		g := byID[id]
		g.Chattering = chatters(times[id])
		if sh, ok := shelves[id]; ok && now.Before(sh.Until) {
			g.Shelf = &sh
		}
		if g.NotAcked > 0 && g.Shelf == nil && (&alarm{Level: g.Level}).isAlarm() {
			b.Cleared = append(b.Cleared, *g)
		}
		switch {
		case g.Shelf != nil:
			b.Shelved = append(b.Shelved, *g)
		case g.Standing > 0:
			g.ClearedAt = time.Time{}
			b.Active = append(b.Active, *g)
		default:
			b.History = append(b.History, *g)
		}
	}
	sort.SliceStable(b.Active, func(i, j int) bool {
		x, y := &b.Active[i], &b.Active[j]
		if (x.Unacked > 0) != (y.Unacked > 0) {
			return x.Unacked > 0
		}
		if sx, sy := severity(x.Level), severity(y.Level); sx != sy {
			return sx < sy
		}
		return x.Last.After(y.Last)
	})
	sort.SliceStable(b.Shelved, func(i, j int) bool { return b.Shelved[i].Shelf.Until.Before(b.Shelved[j].Shelf.Until) })
	sort.SliceStable(b.History, func(i, j int) bool { return b.History[i].ClearedAt.After(b.History[j].ClearedAt) })
	sort.SliceStable(b.Cleared, func(i, j int) bool { return b.Cleared[i].Last.After(b.Cleared[j].Last) })
	b.Rates = alarmRates(occ, now)
	return b
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// chatters reports whether chatterCount of the times (in order) fall
// within chatterWindow.
func chatters(ts []time.Time) bool {
	for i := chatterCount - 1; i < len(ts); i++ {
		if ts[i].Sub(ts[i-chatterCount+1]) < chatterWindow {
			return true
		}
	}
	return false
}

// alarmRate is the alarm rate over a period beside EEMUA 191's benchmark:
// the mean per 10 minutes, and the most in any 10 minutes of it.
type alarmRate struct {
	Period string // "hour" or "day"
	Count  int
	Per10  float64 // the mean per 10 minutes
	Peak   int     // the most in any 10 minutes
	Status string  // "ok", "high" (above one per 10 minutes), "flood" (more than 10 in 10 minutes)
}

// alarmRates are the rates over the last hour and the last day, of the
// occurrences that are alarms (warnings and notices ask no act). The
// console is one operator position: the station's rate is the operator's.
func alarmRates(occ []alarm, now time.Time) []alarmRate {
	var ts []time.Time
	for i := range occ {
		if occ[i].isAlarm() && !occ[i].At.After(now) && now.Sub(occ[i].At) < alarmWindow {
			ts = append(ts, occ[i].At)
		}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	var out []alarmRate
	for _, p := range []struct {
		name string
		d    time.Duration
	}{{"hour", time.Hour}, {"day", alarmWindow}} {
		r := alarmRate{Period: p.name}
		from := now.Add(-p.d)
		j := 0
		for i, t := range ts {
			if !t.After(from) {
				continue
			}
			r.Count++
			for !ts[j].After(from) || t.Sub(ts[j]) >= rateSlot {
				j++
			}
			r.Peak = max(r.Peak, i-j+1)
		}
		r.Per10 = float64(r.Count) / float64(p.d/rateSlot)
		switch {
		case r.Peak > rateFlood:
			r.Status = "flood"
		case r.Per10 > rateAcceptable:
			r.Status = "high"
		default:
			r.Status = "ok"
		}
		out = append(out, r)
	}
	return out
}

// The bounds of a shelf: long enough to matter, no longer than a watch.
const (
	minShelf  = 10 * time.Second
	maxShelf  = 12 * time.Hour
	maxReason = 500
)

// findGroup returns the group with this ID on the board, wherever it is.
func (b *alarmBoard) findGroup(id string) *alarmGroup {
	for _, l := range [][]alarmGroup{b.Active, b.Shelved, b.History} {
		for i := range l {
			if l[i].ID == id {
				return &l[i]
			}
		}
	}
	return nil
}
