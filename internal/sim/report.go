package sim

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Summary is one line about a run.
func (r *Report) Summary() string {
	status := "ok"
	if !r.OK() {
		status = fmt.Sprintf("%d VIOLATION(S)", len(r.Violations))
	}
	return fmt.Sprintf("seed %d, %d stations: %s simulated (%d steps, %s wall), %d faults, %d entries delivered (%d messages), %d/%d requests completed, settled %s after the faults: %s",
		r.Config.Seed, r.Config.Stations, r.Simulated.Round(time.Second), r.Steps, r.Wall.Round(time.Millisecond), sum(r.Faults),
		r.DeliveredTotal(), r.messages, r.Completed, r.Submitted, r.Settled.Round(time.Millisecond), status)
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// Totals adds up runs.
type Totals struct {
	Runs       int
	Stations   map[int]int // runs by network size
	Simulated  time.Duration
	Steps      int64
	Faults     map[string]int
	Delivered  map[string]int
	Messages   int
	Completed  int
	Submitted  int
	Refused    map[string]int
	Bundles    struct{ Imported, Refused, Entries int }
	Settled    time.Duration // the longest
	Violations []string      // with the command that replays each
	Wall       time.Duration
}

// Total adds up reports.
func Total(rs []*Report) *Totals {
	t := &Totals{Stations: map[int]int{}, Faults: map[string]int{}, Delivered: map[string]int{}, Refused: map[string]int{}}
	for _, r := range rs {
		if r == nil {
			continue
		}
		t.Runs++
		t.Stations[r.Config.Stations]++
		t.Simulated += r.Simulated
		t.Steps += r.Steps
		t.Messages += r.messages
		t.Completed += r.Completed
		t.Submitted += r.Submitted
		t.Settled = max(t.Settled, r.Settled)
		t.Bundles.Imported += r.Bundles.Imported
		t.Bundles.Refused += r.Bundles.Refused
		t.Bundles.Entries += r.Bundles.Entries
		t.Wall += r.Wall
		for k, v := range r.Faults {
			t.Faults[k] += v
		}
		for k, v := range r.Delivered {
			t.Delivered[k] += v
		}
		for k, v := range r.CoreRefused {
			t.Refused[k] += v
		}
		for _, v := range r.Violations {
			t.Violations = append(t.Violations, fmt.Sprintf("seed %d (%d stations): %s\n    replay: %s\n    or: hotline sim %s",
				r.Config.Seed, r.Config.Stations, v, r.Config.Replay(), r.Config.Args()))
		}
	}
	return t
}

func (t *Totals) String() string {
	var b strings.Builder
	var sizes []string
	for _, n := range sortedInts(t.Stations) {
		sizes = append(sizes, fmt.Sprintf("%d of %d stations", t.Stations[n], n))
	}
	fmt.Fprintf(&b, "%d runs (%s): %.1f simulated hours, %d core steps, %s wall\n", t.Runs, strings.Join(sizes, ", "),
		t.Simulated.Hours(), t.Steps, t.Wall.Round(time.Second))
	fmt.Fprintf(&b, "faults injected: %d (%s)\n", sum(t.Faults), kv(t.Faults))
	fmt.Fprintf(&b, "entries delivered: %d (%s); operator requests completed: %d of %d\n", sum(t.Delivered), kv(t.Delivered), t.Completed, t.Submitted)
	fmt.Fprintf(&b, "offline bundles carried by hand: %d imported (%d new entries), %d refused whole (damaged on the way)\n",
		t.Bundles.Imported, t.Bundles.Entries, t.Bundles.Refused)
	fmt.Fprintf(&b, "frames the cores refused: %d (%s)\n", sum(t.Refused), kv(t.Refused))
	fmt.Fprintf(&b, "longest time to deliver everything after the faults stopped: %s\n", t.Settled.Round(time.Millisecond))
	fmt.Fprintf(&b, "violations: %d\n", len(t.Violations))
	for _, v := range t.Violations {
		fmt.Fprintf(&b, "  %s\n", v)
	}
	return b.String()
}

func kv(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func sortedInts(m map[int]int) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

// Details is a few lines about a run: faults, deliveries and refusals by kind.
func (r *Report) Details() string {
	return fmt.Sprintf("faults: %s\ndelivered: %s\nrequests refused: %s\ncores refused: %s, duplicates %d\n"+
		"sent ahead: %d frames, %d taken on their durable frame, %d durable frames that found none, %d dropped as conflicting with what the receiver held",
		kv(r.Faults), kv(r.Delivered), kv(r.Refused), kv(r.CoreRefused), r.Duplicates,
		r.SentAhead, r.TakenAhead, r.MissedAhead, r.ConflictAhead)
}
