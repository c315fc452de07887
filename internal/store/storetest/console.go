package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"hotline/internal/record"
	"hotline/internal/store"
)

// The console's records: operators, sessions and the audit trail.

func diffOperator(got, want store.Operator) string {
	var d []string
	if got.Name != want.Name || got.Role != want.Role || got.PasswordHash != want.PasswordHash || got.Lang != want.Lang || got.FailedLogins != want.FailedLogins || got.RecordName != want.RecordName {
		d = append(d, fmt.Sprintf("got %+v, want %+v", got, want))
	}
	if !sameTime(got.CreatedAt, want.CreatedAt) {
		d = append(d, fmt.Sprintf("CreatedAt %s, want %s", showTime(got.CreatedAt), showTime(want.CreatedAt)))
	}
	if !sameTime(got.LockedUntil, want.LockedUntil) {
		d = append(d, fmt.Sprintf("LockedUntil %s, want %s", showTime(got.LockedUntil), showTime(want.LockedUntil)))
	}
	if len(d) == 0 {
		return ""
	}
	return fmt.Sprint(d)
}

func testOperators(t *testing.T, w *world, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	if os, err := s.Operators(ctx); err != nil || len(os) != 0 {
		t.Fatalf("Operators of an empty store = %v, %v", os, err)
	}
	if _, err := s.Operator(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Operator(nobody) = %v, want ErrNotFound", err)
	}
	wang := store.Operator{Name: "王伟", Role: store.RoleDuty, PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", Lang: "zh", CreatedAt: at(1), RecordName: "王上尉"}
	ann := store.Operator{Name: "ann", Role: store.RoleAdmin, PasswordHash: "$argon2id$x", Lang: "en", CreatedAt: at(2)}
	for _, o := range []store.Operator{wang, ann} {
		if err := s.AddOperator(ctx, o); err != nil {
			t.Fatalf("AddOperator(%s): %v", o.Name, err)
		}
	}
	// A second operator of the same name is refused and changes nothing.
	dup := ann
	dup.Role, dup.PasswordHash = store.RoleAuditor, "other"
	if err := s.AddOperator(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Errorf("AddOperator(ann again) = %v, want ErrConflict", err)
	}
	got, err := s.Operators(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "ann" || got[1].Name != "王伟" {
		t.Fatalf("Operators = %+v, want ann then 王伟", got)
	}
	if d := diffOperator(got[0], ann); d != "" {
		t.Errorf("Operators[0]: %s", d)
	}
	if d := diffOperator(got[1], wang); d != "" {
		t.Errorf("Operators[1]: %s", d)
	}

	// Update changes everything but the name and creation time.
	upd := wang
	upd.Role, upd.PasswordHash, upd.Lang, upd.FailedLogins, upd.LockedUntil, upd.RecordName = store.RoleSupervisor, "new", "en", 3, at(9), "Maj. Wang"
	upd.CreatedAt = at(99)
	if err := s.UpdateOperator(ctx, upd); err != nil {
		t.Fatal(err)
	}
	one, err := s.Operator(ctx, "王伟")
	if err != nil {
		t.Fatal(err)
	}
	want := upd
	want.CreatedAt = wang.CreatedAt
	if d := diffOperator(*one, want); d != "" {
		t.Errorf("after UpdateOperator: %s", d)
	}
	// Clearing the lock stores a zero time.
	upd.LockedUntil, upd.FailedLogins = time.Time{}, 0
	if err := s.UpdateOperator(ctx, upd); err != nil {
		t.Fatal(err)
	}
	if one, err := s.Operator(ctx, "王伟"); err != nil || !one.LockedUntil.IsZero() || one.FailedLogins != 0 {
		t.Errorf("after clearing the lock: %+v, %v", one, err)
	}
	if err := s.UpdateOperator(ctx, store.Operator{Name: "nobody", Role: store.RoleDuty}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateOperator(nobody) = %v, want ErrNotFound", err)
	}

	if err := s.RemoveOperator(ctx, "ann"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveOperator(ctx, "ann"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RemoveOperator(ann) twice = %v, want ErrNotFound", err)
	}
	if got, err := s.Operators(ctx); err != nil || len(got) != 1 || got[0].Name != "王伟" {
		t.Errorf("Operators after removal = %+v, %v", got, err)
	}
	// The name can be used again.
	if err := s.AddOperator(ctx, ann); err != nil {
		t.Errorf("AddOperator(ann) after removal: %v", err)
	}
}

func testSessions(t *testing.T, w *world, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	for _, name := range []string{"ann", "bob"} {
		if err := s.AddOperator(ctx, store.Operator{Name: name, Role: store.RoleDuty, PasswordHash: "h", Lang: "en", CreatedAt: at(0)}); err != nil {
			t.Fatal(err)
		}
	}
	sessions := []store.Session{
		{ID: "s1", Operator: "ann", CreatedAt: at(1), ExpiresAt: at(10), Addr: "127.0.0.1:5000"},
		{ID: "s2", Operator: "ann", CreatedAt: at(2), ExpiresAt: at(20), Addr: "[::1]:5001"},
		{ID: "s3", Operator: "bob", CreatedAt: at(3), ExpiresAt: at(30), Addr: "10.0.0.9:1"},
	}
	for _, se := range sessions {
		if err := s.AddSession(ctx, se); err != nil {
			t.Fatalf("AddSession(%s): %v", se.ID, err)
		}
	}
	if err := s.AddSession(ctx, store.Session{ID: "s1", Operator: "bob", CreatedAt: at(4), ExpiresAt: at(40)}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("AddSession(s1 again) = %v, want ErrConflict", err)
	}
	if err := s.AddSession(ctx, store.Session{ID: "s9", Operator: "nobody", CreatedAt: at(4), ExpiresAt: at(40)}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AddSession(for nobody) = %v, want ErrNotFound", err)
	}
	if _, err := s.Session(ctx, "s9"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Session(s9) = %v, want ErrNotFound", err)
	}
	for _, want := range sessions {
		got, err := s.Session(ctx, want.ID)
		if err != nil {
			t.Fatalf("Session(%s): %v", want.ID, err)
		}
		if got.ID != want.ID || got.Operator != want.Operator || got.Addr != want.Addr || !sameTime(got.CreatedAt, want.CreatedAt) || !sameTime(got.ExpiresAt, want.ExpiresAt) {
			t.Errorf("Session(%s) = %+v, want %+v", want.ID, got, want)
		}
	}
	// Expiry: at(10) removes s1 (expires exactly then), not s2.
	n, err := s.RemoveExpiredSessions(ctx, at(10))
	if err != nil || n != 1 {
		t.Errorf("RemoveExpiredSessions(at 10) = %d, %v; want 1", n, err)
	}
	if _, err := s.Session(ctx, "s1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired session s1 still there: %v", err)
	}
	if _, err := s.Session(ctx, "s2"); err != nil {
		t.Errorf("session s2 gone too early: %v", err)
	}
	if err := s.RemoveSession(ctx, "s2"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveSession(ctx, "s2"); err != nil {
		t.Errorf("RemoveSession of a missing session = %v, want nil", err)
	}
	if _, err := s.Session(ctx, "s2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("removed session s2 still there: %v", err)
	}
	// Removing an operator ends their sessions.
	if err := s.RemoveOperator(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, "s3"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session of a removed operator still there: %v", err)
	}
}

func testAudit(t *testing.T, w *world, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	if rs, err := s.Audit(ctx, store.AuditQuery{}); err != nil || len(rs) != 0 {
		t.Fatalf("Audit of an empty store = %v, %v", rs, err)
	}
	recs := []store.AuditRecord{
		{ID: 77, At: at(1), Operator: "ann", Action: "login", Outcome: "ok", Addr: "127.0.0.1:1"},
		{At: at(2), Operator: "bob", Action: "send", Target: "ops", Outcome: "ok", Detail: "FLASH ops/alpha/1", Addr: "127.0.0.1:2"},
		{At: at(3), Operator: "ann", Action: "suspend", Target: "ops", Outcome: "refused", Detail: "role duty may not suspend\n\"quoted\" ✓", Addr: "[::1]:3"},
		{At: at(4), Operator: "", Action: "login", Target: "mallory", Outcome: "refused", Detail: "unknown operator", Addr: "10.1.1.1:4"},
	}
	var ids []int64
	for _, r := range recs {
		id, err := s.AppendAudit(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) > 0 && id <= ids[len(ids)-1] {
			t.Errorf("AppendAudit returned %d after %d", id, ids[len(ids)-1])
		}
		ids = append(ids, id)
	}
	check := func(q store.AuditQuery, want ...int) {
		t.Helper()
		got, err := s.Audit(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Errorf("Audit(%+v) = %d records, want %d", q, len(got), len(want))
			return
		}
		for i, k := range want {
			g, w := got[i], recs[k]
			if g.ID != ids[k] || g.Operator != w.Operator || g.Action != w.Action || g.Target != w.Target || g.Outcome != w.Outcome || g.Detail != w.Detail || g.Addr != w.Addr || !sameTime(g.At, w.At) {
				t.Errorf("Audit(%+v)[%d] = %+v, want %+v with ID %d", q, i, g, w, ids[k])
			}
		}
	}
	check(store.AuditQuery{}, 3, 2, 1, 0)
	check(store.AuditQuery{Limit: 2}, 3, 2)
	check(store.AuditQuery{Before: ids[2]}, 1, 0)
	check(store.AuditQuery{Before: ids[2], Limit: 1}, 1)
	check(store.AuditQuery{Operator: "ann"}, 2, 0)
	check(store.AuditQuery{Operator: "ann", Before: ids[2]}, 0)
	check(store.AuditQuery{Operator: "nobody"})

	// Concurrent appends each get their own ID.
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[int64]bool{}
	for i := range 8 {
		wg.Go(func() {
			for j := range 5 {
				id, err := s.AppendAudit(ctx, store.AuditRecord{At: at(10 + i), Operator: "ann", Action: "ack", Target: fmt.Sprint(i, j), Outcome: "ok"})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[id] {
					t.Errorf("ID %d given twice", id)
				}
				seen[id] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if rs, err := s.Audit(ctx, store.AuditQuery{}); err != nil || len(rs) != len(recs)+40 {
		t.Errorf("Audit after concurrent appends: %d records, %v; want %d", len(rs), err, len(recs)+40)
	}
}

func diffConsoleAlert(got, want store.ConsoleAlert) string {
	var d []string
	if got.ID != want.ID || got.Alert != want.Alert || got.Kind != want.Kind || got.Channel != want.Channel || got.Text != want.Text || got.AckBy != want.AckBy {
		d = append(d, fmt.Sprintf("got %+v, want %+v", got, want))
	}
	for _, f := range []struct {
		name      string
		got, want time.Time
	}{{"RaisedAt", got.RaisedAt, want.RaisedAt}, {"ClearedAt", got.ClearedAt, want.ClearedAt}, {"AckAt", got.AckAt, want.AckAt}} {
		if !sameTime(f.got, f.want) {
			d = append(d, fmt.Sprintf("%s %s, want %s", f.name, showTime(f.got), showTime(f.want)))
		}
	}
	if len(d) == 0 {
		return ""
	}
	return fmt.Sprint(d)
}

func testConsoleAlerts(t *testing.T, w *world, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	list := func(q store.ConsoleAlertQuery) []store.ConsoleAlert {
		t.Helper()
		as, err := s.ConsoleAlerts(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return as
	}
	check := func(q store.ConsoleAlertQuery, want ...store.ConsoleAlert) {
		t.Helper()
		got := list(q)
		if len(got) != len(want) {
			t.Errorf("ConsoleAlerts(%+v) = %d records, want %d: %+v", q, len(got), len(want), got)
			return
		}
		for i := range want {
			if d := diffConsoleAlert(got[i], want[i]); d != "" {
				t.Errorf("ConsoleAlerts(%+v)[%d]: %s", q, i, d)
			}
		}
	}
	check(store.ConsoleAlertQuery{})

	// The console's own alerts.
	raise := func(a store.ConsoleAlert) store.ConsoleAlert {
		t.Helper()
		got, err := s.AddConsoleAlert(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID <= 0 {
			t.Fatalf("AddConsoleAlert returned ID %d", got.ID)
		}
		a.ID = got.ID
		if d := diffConsoleAlert(*got, a); d != "" {
			t.Errorf("AddConsoleAlert: %s", d)
		}
		return a
	}
	ops := raise(store.ConsoleAlert{ID: 77, Kind: store.ConsoleAlertDown, Channel: "ops", Text: "ops: no path to bravo is up", RaisedAt: at(1)})
	patrol := raise(store.ConsoleAlert{Kind: store.ConsoleAlertDown, Channel: "patrol", Text: "patrol: \"down\" ✓\nsince", RaisedAt: at(2)})
	if patrol.ID <= ops.ID {
		t.Errorf("IDs not increasing: %d after %d", patrol.ID, ops.ID)
	}
	check(store.ConsoleAlertQuery{}, patrol, ops)
	check(store.ConsoleAlertQuery{Open: true}, patrol, ops)
	check(store.ConsoleAlertQuery{Kind: store.ConsoleAlertStation})
	check(store.ConsoleAlertQuery{Limit: 1}, patrol)

	// The first acknowledgement stands.
	a, err := s.AckConsoleAlert(ctx, ops.ID, "王伟", at(5))
	if err != nil {
		t.Fatal(err)
	}
	ops.AckBy, ops.AckAt = "王伟", at(5)
	if d := diffConsoleAlert(*a, ops); d != "" {
		t.Errorf("AckConsoleAlert: %s", d)
	}
	if a, err := s.AckConsoleAlert(ctx, ops.ID, "bob", at(6)); err != nil || diffConsoleAlert(*a, ops) != "" {
		t.Errorf("AckConsoleAlert a second time = %+v, %v; want the first acknowledgement", a, err)
	}
	if _, err := s.AckConsoleAlert(ctx, patrol.ID+100, "bob", at(6)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AckConsoleAlert of no alert = %v, want ErrNotFound", err)
	}
	// Acknowledged but still down: open until it clears.
	check(store.ConsoleAlertQuery{Open: true}, patrol, ops)
	if n, err := s.ClearConsoleAlerts(ctx, store.ConsoleAlertDown, "ops", at(7)); err != nil || n != 1 {
		t.Errorf("ClearConsoleAlerts(ops) = %d, %v; want 1", n, err)
	}
	if n, err := s.ClearConsoleAlerts(ctx, store.ConsoleAlertDown, "ops", at(8)); err != nil || n != 0 {
		t.Errorf("ClearConsoleAlerts(ops) again = %d, %v; want 0", n, err)
	}
	ops.ClearedAt = at(7)
	check(store.ConsoleAlertQuery{Open: true}, patrol)
	// Cleared but not acknowledged: still open.
	if _, err := s.ClearConsoleAlerts(ctx, store.ConsoleAlertDown, "patrol", at(9)); err != nil {
		t.Fatal(err)
	}
	patrol.ClearedAt = at(9)
	check(store.ConsoleAlertQuery{Open: true}, patrol)
	check(store.ConsoleAlertQuery{}, patrol, ops)

	// Acknowledgements of station alerts: kind, channel, text and time
	// are the station alert's.
	apply(t, s, &record.Batch{Alerts: []record.Alert{
		{At: at(10), Level: "alarm", Channel: "ops", Peer: "bravo", Text: "tamper alarm: root mismatch"},
		{At: at(11), Level: "supervisor", Channel: "patrol", Peer: "bravo", Text: "FLASH patrol/alpha/3 is still not acknowledged"},
	}})
	alerts, err := s.Alerts(ctx, 0)
	if err != nil || len(alerts) != 2 {
		t.Fatalf("Alerts = %+v, %v", alerts, err)
	}
	ack, err := s.AddConsoleAlert(ctx, store.ConsoleAlert{Alert: alerts[1].ID, Kind: "forged", Channel: "x", Text: "not the alert's", AckBy: "ann", AckAt: at(12)})
	if err != nil {
		t.Fatal(err)
	}
	second := store.ConsoleAlert{ID: ack.ID, Alert: alerts[1].ID, Kind: store.ConsoleAlertStation, Channel: "patrol", Text: alerts[1].Text, RaisedAt: at(11), AckBy: "ann", AckAt: at(12)}
	if d := diffConsoleAlert(*ack, second); d != "" {
		t.Errorf("AddConsoleAlert of a station alert: %s", d)
	}
	if again, err := s.AddConsoleAlert(ctx, store.ConsoleAlert{Alert: alerts[1].ID, AckBy: "bob", AckAt: at(13)}); err != nil || diffConsoleAlert(*again, second) != "" {
		t.Errorf("a second acknowledgement of a station alert = %+v, %v; want the first", again, err)
	}
	if _, err := s.AddConsoleAlert(ctx, store.ConsoleAlert{Alert: alerts[1].ID + 100, AckBy: "bob", AckAt: at(13)}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("acknowledging no station alert = %v, want ErrNotFound", err)
	}
	first, err := s.AddConsoleAlert(ctx, store.ConsoleAlert{Alert: alerts[0].ID, AckBy: "ann", AckAt: at(14)})
	if err != nil {
		t.Fatal(err)
	}
	// Only the console's own alerts are acknowledged or cleared by ID.
	if _, err := s.AckConsoleAlert(ctx, first.ID, "bob", at(15)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AckConsoleAlert of a station alert's record = %v, want ErrNotFound", err)
	}
	if n, err := s.ClearConsoleAlerts(ctx, store.ConsoleAlertStation, "ops", at(15)); err != nil || n != 0 {
		t.Errorf("ClearConsoleAlerts of station alerts = %d, %v; want 0", n, err)
	}
	check(store.ConsoleAlertQuery{Kind: store.ConsoleAlertStation}, *first, second)
	check(store.ConsoleAlertQuery{Kind: store.ConsoleAlertStation, AlertAfter: alerts[0].ID}, second)
	check(store.ConsoleAlertQuery{Open: true}, patrol)
	check(store.ConsoleAlertQuery{Limit: 2}, *first, second)
}

// testConsoleAlertAckOnce: operators acknowledging the same station alert
// at once make one record, and all of them are told whose acknowledgement
// stands.
func testConsoleAlertAckOnce(t *testing.T, w *world, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	apply(t, s, &record.Batch{Alerts: []record.Alert{{At: at(1), Level: "alarm", Channel: "ops", Peer: "bravo", Text: "ops is dormant"}}})
	alerts, err := s.Alerts(ctx, 0)
	if err != nil || len(alerts) != 1 {
		t.Fatalf("Alerts = %+v, %v", alerts, err)
	}
	down, err := s.AddConsoleAlert(ctx, store.ConsoleAlert{Kind: store.ConsoleAlertDown, Channel: "ops", Text: "down", RaisedAt: at(1)})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	by, downBy := map[string]bool{}, map[string]bool{}
	for i := range 8 {
		wg.Go(func() {
			name := fmt.Sprint("op", i)
			a, err := s.AddConsoleAlert(ctx, store.ConsoleAlert{Alert: alerts[0].ID, AckBy: name, AckAt: at(2 + i)})
			if err != nil {
				t.Error(err)
				return
			}
			d, err := s.AckConsoleAlert(ctx, down.ID, name, at(2+i))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			by[a.AckBy], downBy[d.AckBy] = true, true
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(by) != 1 || len(downBy) != 1 {
		t.Errorf("concurrent acknowledgements stood for %v and %v; want one each", by, downBy)
	}
	if rs, err := s.ConsoleAlerts(ctx, store.ConsoleAlertQuery{Kind: store.ConsoleAlertStation}); err != nil || len(rs) != 1 {
		t.Errorf("records of the station alert: %+v, %v; want one", rs, err)
	}
}
