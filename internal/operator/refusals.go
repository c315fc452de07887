package operator

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"hotline/internal/store"
)

// Requests refused before anyone logged in (a failed login, a cross-origin
// request, a wrong Host header) cost an attacker nothing, so they must not
// cost the audit trail a record each. They are aggregated: per kind and
// address, the first refusal in a quiet interval has a record of its own
// and the others are counted, then written as one record with their count
// when the interval ends. All of them together write at most
// MaxRefusalRows records an interval; counts beyond that are folded into
// one record per kind. Nothing is dropped: every refusal is in a count.
const (
	RefusalInterval = time.Minute // one record per kind and address per interval
	MaxRefusalRows  = 20          // records all refusals together may write per interval
	maxRefusalKeys  = 1024        // kinds and addresses kept apart; past it they are counted by kind
	maxTargets      = 4           // distinct targets named in an aggregate record
)

// Kinds of refusal, the audit trail's action for them.
const (
	RefuseLogin       = "login"        // a failed login, whatever failed
	RefuseCrossOrigin = "cross-origin" // a state-changing request from another site
	RefuseHost        = "host"         // a Host header that is not one of the station's names
)

// Refusal is a request refused before anyone logged in.
type Refusal struct {
	Kind     string // the audit action: RefuseLogin, RefuseCrossOrigin, RefuseHost
	Addr     string // the remote address
	Operator string // the operator the request named, when it names one
	Target   string // what it asked for: a path, a name
	Detail   string // why it was refused
}

type refusalKey struct{ kind, addr string }

// tally is what is held of one kind and address, or of one kind in the
// fold.
type tally struct {
	n       int       // refusals not in a record yet
	since   time.Time // the first of them
	targets []string  // distinct targets among them, the first maxTargets
	more    bool      // there were more distinct targets
	detail  string    // the latest one's detail
	addrs   int       // in a fold: how many addresses it holds (at least)
	hot     bool      // refusals came in the last interval: the next is counted, not written at once
}

func (t *tally) add(f Refusal, now time.Time) {
	if t.n == 0 {
		t.since, t.targets, t.more = now, nil, false
	}
	t.n++
	t.detail = f.Detail
	if f.Target != "" && !slices.Contains(t.targets, f.Target) {
		if len(t.targets) < maxTargets {
			t.targets = append(t.targets, f.Target)
		} else {
			t.more = true
		}
	}
}

// fold adds the refusals of one address to a kind's fold.
func (t *tally) fold(o *tally) {
	if t.n == 0 || o.since.Before(t.since) {
		t.since = o.since
	}
	t.n += o.n
	t.addrs++
	t.detail = o.detail
	t.more = t.more || o.more
	for _, x := range o.targets {
		switch {
		case slices.Contains(t.targets, x):
		case len(t.targets) < maxTargets:
			t.targets = append(t.targets, x)
		default:
			t.more = true
		}
	}
}

// refusals aggregates refusals into audit records.
type refusals struct {
	wmu     sync.Mutex // held while records are written: a flush returns once those under way are in the trail
	mu      sync.Mutex
	period  time.Time // the start of the current interval
	written int       // records written in it
	keys    map[refusalKey]*tally
	folded  map[string]*tally // by kind: refusals counted without a record of their own address
	counts  map[string]uint64 // by kind: every refusal
	rows    uint64            // records written
}

// RefusalCounts are the refusals counted since the process started.
type RefusalCounts struct {
	Refused map[string]uint64 // by kind, each refusal, in a record of its own or counted in one
	Records uint64            // audit records written for them
}

// Refuse records a refusal in the audit trail, aggregated with others of
// its kind and address. It returns an error only when a record that was
// due could not be written.
func (r *Registry) Refuse(ctx context.Context, f Refusal) error {
	f.Target, f.Detail, f.Operator = clip(f.Target), clip(f.Detail), clip(f.Operator)
	now := r.now()
	a := &r.refusals
	a.mu.Lock()
	recs := a.roll(now, false)
	if a.counts == nil {
		a.counts = map[string]uint64{}
	}
	a.counts[f.Kind]++
	k := refusalKey{f.Kind, AddrKey(f.Addr)}
	t := a.keys[k]
	switch {
	case t == nil && len(a.keys) >= maxRefusalKeys:
		// No room to keep this address apart: counted with its kind.
		a.fold(f.Kind).add(f, now)
	case (t == nil || !t.hot && t.n == 0) && a.written < MaxRefusalRows:
		// The first refusal of a quiet kind and address: a record of its
		// own, as it came.
		a.written++
		recs = append(recs, store.AuditRecord{At: now, Operator: f.Operator, Action: f.Kind, Target: f.Target, Outcome: "refused", Detail: f.Detail, Addr: f.Addr})
		if t == nil {
			a.keys[k] = &tally{hot: true}
		} else {
			t.hot = true
		}
	default:
		if t == nil {
			t = &tally{}
			a.keys[k] = t
		}
		t.hot = true
		t.add(f, now)
	}
	a.mu.Unlock()
	if len(recs) == 0 {
		return nil
	}
	a.wmu.Lock()
	defer a.wmu.Unlock()
	return r.writeRefusals(ctx, recs)
}

// FlushRefusals writes the counts of refusals whose interval has ended.
// The console calls it every few seconds, and before the audit trail is
// read, so that a flood that stopped is in the trail within an interval.
func (r *Registry) FlushRefusals(ctx context.Context) error { return r.flush(ctx, false) }

// FlushAllRefusals writes every count held, its interval ended or not,
// within the bound: for a station that stops.
func (r *Registry) FlushAllRefusals(ctx context.Context) error { return r.flush(ctx, true) }

// flush writes what roll returns. It returns once the records that other
// calls were writing are written too.
func (r *Registry) flush(ctx context.Context, all bool) error {
	a := &r.refusals
	a.wmu.Lock()
	defer a.wmu.Unlock()
	a.mu.Lock()
	recs := a.roll(r.now(), all)
	a.mu.Unlock()
	return r.writeRefusals(ctx, recs)
}

// RefusalCounts returns the refusals counted so far.
func (r *Registry) RefusalCounts() RefusalCounts {
	a := &r.refusals
	a.mu.Lock()
	defer a.mu.Unlock()
	c := RefusalCounts{Refused: map[string]uint64{}, Records: a.rows}
	for k, n := range a.counts {
		c.Refused[k] = n
	}
	return c
}

func (r *Registry) writeRefusals(ctx context.Context, recs []store.AuditRecord) error {
	var errs []error
	for _, rec := range recs {
		if _, err := r.Store.AppendAudit(context.WithoutCancel(ctx), rec); err != nil {
			errs = append(errs, err)
		}
	}
	r.refusals.mu.Lock()
	r.refusals.rows += uint64(len(recs) - len(errs))
	r.refusals.mu.Unlock()
	return errors.Join(errs...)
}

func (a *refusals) fold(kind string) *tally {
	if a.folded == nil {
		a.folded = map[string]*tally{}
	}
	t := a.folded[kind]
	if t == nil {
		t = &tally{}
		a.folded[kind] = t
	}
	return t
}

// roll starts a new interval when now is past the current one (or, with
// all, in any case) and returns the records of the counts held: one per
// kind and address, oldest first, and one per kind for what the bound
// leaves over. It keeps the bound: the records it returns and those
// written since the interval began are at most MaxRefusalRows.
func (a *refusals) roll(now time.Time, all bool) []store.AuditRecord {
	if a.keys == nil {
		a.keys = map[refusalKey]*tally{}
	}
	start := now.Truncate(RefusalInterval)
	fresh := start.After(a.period)
	if !fresh && !all {
		return nil
	}
	if fresh {
		a.period, a.written = start, 0
	}
	var due []refusalKey
	for k, t := range a.keys {
		switch {
		case t.n > 0:
			due = append(due, k)
		case t.hot && fresh:
			t.hot = false // a quiet interval: the next refusal has a record of its own
		case fresh:
			delete(a.keys, k)
		}
	}
	slices.SortFunc(due, func(x, y refusalKey) int {
		return cmp.Or(a.keys[x].since.Compare(a.keys[y].since), cmp.Compare(x.kind, y.kind), cmp.Compare(x.addr, y.addr))
	})
	// Fold the newest until every record fits: those of their own
	// address, and one for each kind with a fold.
	room := MaxRefusalRows - a.written
	own := len(due)
	kinds := map[string]bool{}
	for kind, t := range a.folded {
		if t.n > 0 {
			kinds[kind] = true
		}
	}
	for own > 0 && own+len(kinds) > room {
		own--
		kinds[due[own].kind] = true
	}
	var recs []store.AuditRecord
	for i, k := range due {
		t := a.keys[k]
		if i >= own {
			a.fold(k.kind).fold(t)
		} else {
			recs = append(recs, t.record(now, k.kind, k.addr))
		}
		t.n, t.hot = 0, true
	}
	for _, kind := range slices.Sorted(maps.Keys(kinds)) {
		if len(recs) >= room {
			break // no room even for the folds: they wait for the next interval
		}
		t := a.folded[kind]
		recs = append(recs, t.record(now, kind, ""))
		*t = tally{}
	}
	a.written += len(recs)
	return recs
}

// record is the audit record of a count: from one address, or, with addr
// empty, folded from many.
func (t *tally) record(now time.Time, kind, addr string) store.AuditRecord {
	var b strings.Builder
	span := fmt.Sprintf("%s to %s UTC", t.since.UTC().Format(time.TimeOnly), now.UTC().Format(time.TimeOnly))
	if addr != "" {
		fmt.Fprintf(&b, "%d refused from %s, %s", t.n, addr, span)
	} else {
		fmt.Fprintf(&b, "%d refused from %d or more addresses, %s, beyond the bound of %d records a minute", t.n, max(t.addrs, 1), span, MaxRefusalRows)
	}
	if t.detail != "" {
		fmt.Fprintf(&b, "; the last: %s", t.detail)
	}
	target := strings.Join(t.targets, ", ")
	if t.more {
		target += " …"
	}
	if addr == "" {
		addr = "many"
	}
	return store.AuditRecord{At: now, Action: kind, Target: clip(target), Outcome: "refused", Detail: clip(b.String()), Addr: addr}
}
