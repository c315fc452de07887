package operator_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"hotline/internal/badrequest"
	"hotline/internal/operator"
	"hotline/internal/store"
	"hotline/internal/store/sqlite"
)

func newRegistry(t *testing.T) (*operator.Registry, *time.Time) {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	now := time.Date(2031, 5, 1, 3, 0, 0, 0, time.UTC)
	return &operator.Registry{Store: s, Now: func() time.Time { return now }}, &now
}

const goodPassword = "correct horse battery"

func TestHashVerify(t *testing.T) {
	h, err := operator.Hash(goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q is not an argon2id PHC string with the expected parameters", h)
	}
	h2, _ := operator.Hash(goodPassword)
	if h == h2 {
		t.Error("two hashes of one password are equal: no salt")
	}
	for _, tc := range []struct {
		name, hash, pw string
		want           bool
	}{
		{"right", h, goodPassword, true},
		{"wrong", h, goodPassword + "!", false},
		{"empty", h, "", false},
		{"malformed hash", "$argon2id$v=19$garbage", goodPassword, false},
		{"other algorithm", strings.Replace(h, "argon2id", "argon2i", 1), goodPassword, false},
		{"absurd memory", strings.Replace(h, "m=19456", "m=999999999", 1), goodPassword, false},
	} {
		if got := operator.Verify(tc.hash, tc.pw); got != tc.want {
			t.Errorf("%s: Verify = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestRoles(t *testing.T) {
	// The table in docs/CONSOLE.md.
	want := map[string][]operator.Permission{
		"duty":       {operator.Read, operator.Send, operator.Ack},
		"supervisor": {operator.Read, operator.Send, operator.Ack, operator.Suspend, operator.Escalate, operator.Shelve, operator.AuditTrail, operator.Transcript, operator.Report},
		"admin":      {operator.Read, operator.Channels, operator.Peers, operator.Operators, operator.AuditTrail, operator.Transcript},
		"auditor":    {operator.Read, operator.AuditTrail, operator.Transcript, operator.Report},
	}
	all := []operator.Permission{operator.Read, operator.Send, operator.Ack, operator.Suspend, operator.Escalate, operator.Channels, operator.Peers, operator.Operators, operator.AuditTrail, operator.Transcript, operator.Report, operator.Shelve}
	for role, perms := range want {
		has := map[operator.Permission]bool{}
		for _, p := range perms {
			has[p] = true
		}
		for _, p := range all {
			if got := operator.Allowed(role, p); got != has[p] {
				t.Errorf("Allowed(%s, %s) = %v, want %v", role, p, got, has[p])
			}
		}
	}
	for _, p := range all {
		if operator.Allowed("root", p) || operator.Allowed("", p) {
			t.Errorf("an unknown role may %s", p)
		}
	}
}

func TestAddRefusesBadInput(t *testing.T) {
	r, _ := newRegistry(t)
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		req  operator.AddRequest
		want string
	}{
		{"unknown role", operator.AddRequest{Name: "ann", Role: "root", Password: goodPassword}, `role "root" is not one of duty, supervisor, admin, auditor`},
		{"empty name", operator.AddRequest{Name: "", Role: "duty", Password: goodPassword}, "operator name is empty"},
		{"overlong name", operator.AddRequest{Name: strings.Repeat("x", 65), Role: "duty", Password: goodPassword}, "more than 64"},
		{"control character", operator.AddRequest{Name: "ann\x1b[2J", Role: "duty", Password: goodPassword}, "control"},
		{"slash", operator.AddRequest{Name: "a/b", Role: "duty", Password: goodPassword}, "contains /"},
		{"short password", operator.AddRequest{Name: "ann", Role: "duty", Password: "short"}, "at least 12"},
		{"overlong password", operator.AddRequest{Name: "ann", Role: "duty", Password: strings.Repeat("p", 1025)}, "more than 1024"},
		{"unknown language", operator.AddRequest{Name: "ann", Role: "duty", Password: goodPassword, Lang: "fr"}, `language "fr"`},
	} {
		_, err := r.Add(ctx, operator.Local, tc.req)
		if !errors.Is(err, badrequest.Err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Add = %v, want a bad request saying %q", tc.name, err, tc.want)
		}
	}
	if os, err := r.List(ctx); err != nil || len(os) != 0 {
		t.Errorf("after refused adds: %v, %v; want no operators", os, err)
	}
	if _, err := r.Add(ctx, operator.Local, operator.AddRequest{Name: "王伟", Role: "duty", Password: goodPassword, Lang: "zh"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Add(ctx, operator.Local, operator.AddRequest{Name: "王伟", Role: "admin", Password: goodPassword}); !errors.Is(err, badrequest.Err) || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("adding 王伟 twice: %v", err)
	}
	os, _ := r.List(ctx)
	if len(os) != 1 || os[0].Role != "duty" || os[0].Lang != "zh" {
		t.Errorf("operators = %+v", os)
	}
	// Every attempt is in the audit trail.
	recs, err := r.Store.Audit(ctx, store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 10 {
		t.Fatalf("audit trail has %d records, want 10", len(recs))
	}
	if recs[0].Action != "operator.add" || recs[0].Outcome != "refused" || recs[1].Outcome != "ok" || recs[1].Target != "王伟" || recs[1].Addr != "local" {
		t.Errorf("latest audit records: %+v, %+v", recs[0], recs[1])
	}
}

// TestLoginBackoff: failures make the next attempts wait, doubling up to
// the cap; nobody is locked out, and the right password logs in once the
// wait has passed, however many failures came before.
func TestLoginBackoff(t *testing.T) {
	r, now := newRegistry(t)
	ctx := t.Context()
	if _, err := r.Add(ctx, operator.Local, operator.AddRequest{Name: "ann", Role: "duty", Password: goodPassword}); err != nil {
		t.Fatal(err)
	}
	if o, err := r.Login(ctx, "ann", goodPassword, "127.0.0.1:1"); err != nil || o.Name != "ann" || o.Role != "duty" {
		t.Fatalf("Login(right password) = %+v, %v", o, err)
	}
	for _, c := range []struct{ name, pw string }{{"ann", "wrong password!"}, {"nobody", goodPassword}, {"ann", strings.Repeat("p", 2000)}} {
		if _, err := r.Login(ctx, c.name, c.pw, "10.0.0.9:1"); err != operator.ErrBadLogin {
			t.Errorf("Login(%s, %.20q) = %v, want exactly ErrBadLogin", c.name, c.pw, err)
		}
	}
	// Many failures from many addresses: each attempt the backoff lets
	// through is checked, those before it are refused unchecked.
	checks := r.PasswordChecks()
	allowed := 0
	for i := range 40 {
		before := r.PasswordChecks()
		_, err := r.Login(ctx, "ann", "wrong password!", fmt.Sprintf("10.0.1.%d:2", i))
		if err != operator.ErrBadLogin {
			t.Fatalf("failure %d: %v", i, err)
		}
		if r.PasswordChecks() > before {
			allowed++
		}
		*now = now.Add(5 * time.Second)
	}
	// 200 s: the first failure of this run is the name's third (after
	// the two above), a free try; then the waits are 1, 2, 4, 8, 16, 32
	// and 60 s, each rounded up to the next 5 s: checks at 0, 5, 10, 15,
	// 25, 45, 80 and 140 s.
	if got := r.PasswordChecks() - checks; got != int64(allowed) || allowed != 8 {
		t.Errorf("%d attempts checked in 200 s of a failure every 5 s (%d checks), want 8", allowed, got)
	}
	// One more failure once the wait is over: the name waits the longest.
	*now = now.Add(operator.BackoffCap)
	if _, err := r.Login(ctx, "ann", "wrong password!", "10.0.2.1:1"); err != operator.ErrBadLogin {
		t.Fatal(err)
	}
	v, err := r.List(ctx)
	if err != nil || len(v) != 1 || v[0].FailedLogins != allowed+3 || !v[0].LockedUntil.Equal(now.Add(operator.BackoffCap)) {
		t.Errorf("List while backing off: %+v %v", v, err)
	}
	// Waiting: even the right password is refused, unchecked.
	before := r.PasswordChecks()
	if _, err := r.Login(ctx, "ann", goodPassword, "127.0.0.1:1"); err != operator.ErrBadLogin || r.PasswordChecks() != before {
		t.Errorf("right password during the wait: %v, %d checks", err, r.PasswordChecks()-before)
	}
	// Once the wait has passed, the right password logs in, and the
	// failures are forgotten.
	*now = now.Add(operator.BackoffCap)
	if _, err := r.Login(ctx, "ann", goodPassword, "127.0.0.1:1"); err != nil {
		t.Fatalf("right password after the wait: %v", err)
	}
	for i := range operator.NameFreeTries {
		if _, err := r.Login(ctx, "ann", "wrong password!", "127.0.0.1:1"); err != operator.ErrBadLogin {
			t.Fatalf("failure %d after a login: %v", i, err)
		}
	}
	if _, err := r.Login(ctx, "ann", goodPassword, "127.0.0.1:1"); err != operator.ErrBadLogin {
		t.Errorf("right password at once after %d failures: %v, want a wait", operator.NameFreeTries, err)
	}
	// An admin's unlock lifts the name's wait.
	if err := r.Unlock(ctx, operator.Actor{Name: "root", Addr: "127.0.0.1:9"}, "ann"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Login(ctx, "ann", goodPassword, "127.0.0.1:1"); err != nil {
		t.Errorf("after unlock: %v", err)
	}
}

// TestBackoffSchedule: the waits between checked attempts of one name
// are none for the free tries, then double from BackoffBase to BackoffCap;
// a name nobody has waits the same, so the waits say nothing about names.
func TestBackoffSchedule(t *testing.T) {
	r, now := newRegistry(t)
	ctx := t.Context()
	if _, err := r.Add(ctx, operator.Local, operator.AddRequest{Name: "ann", Role: "duty", Password: goodPassword}); err != nil {
		t.Fatal(err)
	}
	s := time.Second
	at := []time.Duration{0, 0, 0, s, 3 * s, 7 * s, 15 * s, 31 * s, 63 * s, 123 * s, 183 * s, 243 * s}
	for k, name := range []string{"ann", "nobody-at-all"} {
		start := now.Add(time.Hour)
		for i, d := range at {
			addr := fmt.Sprintf("10.%d.%d.1:1", k, i) // a new address each time: only the name's backoff counts
			if i > 0 && d > at[i-1] {
				*now = start.Add(d - time.Millisecond)
				before := r.PasswordChecks()
				if r.Login(ctx, name, "wrong password!", addr); r.PasswordChecks() != before {
					t.Errorf("%s: attempt %d checked at %v, before its wait ended", name, i+1, d-time.Millisecond)
				}
			}
			*now = start.Add(d)
			before := r.PasswordChecks()
			if r.Login(ctx, name, "wrong password!", addr); r.PasswordChecks() != before+1 {
				t.Errorf("%s: attempt %d not checked at %v", name, i+1, d)
			}
		}
	}
}

// TestConcurrentGuesses: attempts that come together take their slots
// before any password is hashed, so no more are checked than the backoff
// allows: NameFreeTries for one name, AddrFreeTries from one address.
func TestConcurrentGuesses(t *testing.T) {
	r, _ := newRegistry(t)
	ctx := t.Context()
	if _, err := r.Add(ctx, operator.Local, operator.AddRequest{Name: "ann", Role: "duty", Password: goodPassword}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what string
		name func(i int) string
		addr func(i int) string
		want int64
	}{
		{"one name from many addresses", func(int) string { return "ann" }, func(i int) string { return fmt.Sprintf("10.1.0.%d:1", i) }, operator.NameFreeTries},
		{"many names from one address", func(i int) string { return fmt.Sprintf("guess%d", i) }, func(int) string { return "10.2.0.1:1" }, operator.AddrFreeTries},
	} {
		before := r.PasswordChecks()
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				if _, err := r.Login(ctx, c.name(i), "wrong password!", c.addr(i)); err != operator.ErrBadLogin {
					t.Errorf("%s: %v", c.what, err)
				}
			})
		}
		wg.Wait()
		if got := r.PasswordChecks() - before; got != c.want {
			t.Errorf("%s: 50 guesses at once, %d checked, want %d", c.what, got, c.want)
		}
	}
}

// TestRefusalsAggregated: refusals that need no login write one record
// per kind and address per interval, and at most MaxRefusalRows records
// an interval in all; every refusal is in a count.
func TestRefusalsAggregated(t *testing.T) {
	r, now := newRegistry(t)
	ctx := t.Context()
	*now = now.Truncate(operator.RefusalInterval)
	refuse := func(kind, addr string, n int) {
		for i := range n {
			if err := r.Refuse(ctx, operator.Refusal{Kind: kind, Addr: addr, Target: fmt.Sprintf("/t%d", i%7), Detail: "refused"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	records := func() []store.AuditRecord {
		rs, err := r.Store.Audit(ctx, store.AuditQuery{})
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	// One address: its first refusal at once, the rest counted.
	refuse(operator.RefuseCrossOrigin, "10.0.0.1:5", 500)
	if rs := records(); len(rs) != 1 || rs[0].Addr != "10.0.0.1:5" || rs[0].Target != "/t0" || rs[0].Detail != "refused" {
		t.Fatalf("after 500 refusals from one address: %+v", rs)
	}
	// Many addresses: the bound holds within the interval.
	for i := range 300 {
		refuse(operator.RefuseHost, fmt.Sprintf("10.9.%d.%d:1", i/250, i%250), 3)
	}
	if n := len(records()); n != operator.MaxRefusalRows {
		t.Errorf("records in the first interval: %d, want the bound %d", n, operator.MaxRefusalRows)
	}
	// The interval ends: the counts are written, still within the bound.
	*now = now.Add(operator.RefusalInterval)
	if err := r.FlushRefusals(ctx); err != nil {
		t.Fatal(err)
	}
	rs := records()
	if n := len(rs) - operator.MaxRefusalRows; n != operator.MaxRefusalRows {
		t.Errorf("records at the end of the interval: %d, want %d", n, operator.MaxRefusalRows)
	}
	// Every refusal is counted: in a record of its own (1) or in a count.
	total := map[string]int{}
	for _, rec := range rs {
		n := 1
		if rec.Addr == "many" || !strings.Contains(rec.Addr, ":") {
			if _, err := fmt.Sscanf(rec.Detail, "%d refused", &n); err != nil {
				t.Errorf("aggregate record without a count: %+v", rec)
			}
		}
		total[rec.Action] += n
	}
	if total[operator.RefuseCrossOrigin] != 500 || total[operator.RefuseHost] != 900 {
		t.Errorf("refusals counted in the trail: %v, want 500 cross-origin and 900 host", total)
	}
	if c := r.RefusalCounts(); c.Refused[operator.RefuseCrossOrigin] != 500 || c.Refused[operator.RefuseHost] != 900 || c.Records != uint64(len(rs)) {
		t.Errorf("RefusalCounts = %+v, want 500, 900 and %d records", c, len(rs))
	}
	// A flood that goes on writes one record per interval for its address.
	for range 3 {
		*now = now.Add(operator.RefusalInterval)
		refuse(operator.RefuseCrossOrigin, "10.0.0.1:5", 100)
	}
	*now = now.Add(operator.RefusalInterval)
	if err := r.FlushRefusals(ctx); err != nil {
		t.Fatal(err)
	}
	// The interval before was quiet: the first refusal has a record of
	// its own, then each interval's count has one.
	if n := len(records()) - len(rs); n != 4 {
		t.Errorf("3 more intervals of a flood from one address wrote %d records, want 4", n)
	}
}

// TestRecordName: what an operator's acts carry to the other party is the
// name chosen for the record, or the role's title; never the login, and
// never text that shows other than it reads (security review item 7).
func TestRecordName(t *testing.T) {
	for _, tc := range []struct {
		o    store.Operator
		want string
	}{
		{store.Operator{Name: "duty1", Role: store.RoleDuty}, "duty officer"},
		{store.Operator{Name: "sup", Role: store.RoleSupervisor}, "supervisor"},
		{store.Operator{Name: "duty1", Role: store.RoleDuty, RecordName: "Lt. Chen"}, "Lt. Chen"},
	} {
		if got := operator.RecordName(&tc.o); got != tc.want {
			t.Errorf("RecordName(%+v) = %q, want %q", tc.o, got, tc.want)
		}
	}
	for _, bad := range []struct{ login, as, want string }{
		{"duty1", "duty1", "must not be the login name"},
		{"duty1", "Lt.\u202eChen", "invisible character U+202E"},
		{"duty1", " Lt. Chen", "without leading or trailing spaces"},
		{"duty1", strings.Repeat("x", 65), "1 to 64 bytes"},
	} {
		if err := operator.CheckRecordName(bad.login, bad.as); !errors.Is(err, badrequest.Err) || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("CheckRecordName(%q, %q) = %v, want a bad request naming %q", bad.login, bad.as, err, bad.want)
		}
	}
	if err := operator.CheckRecordName("duty1", "值班军官 陈"); err != nil {
		t.Errorf("a Chinese name for the record refused: %v", err)
	}
}
