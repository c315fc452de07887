package operator_test

import (
	"errors"
	"path/filepath"
	"strings"
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
		"supervisor": {operator.Read, operator.Send, operator.Ack, operator.Suspend, operator.Escalate, operator.AuditTrail, operator.Transcript, operator.Report},
		"admin":      {operator.Read, operator.Channels, operator.Peers, operator.Operators, operator.AuditTrail, operator.Transcript},
		"auditor":    {operator.Read, operator.AuditTrail, operator.Transcript, operator.Report},
	}
	all := []operator.Permission{operator.Read, operator.Send, operator.Ack, operator.Suspend, operator.Escalate, operator.Channels, operator.Peers, operator.Operators, operator.AuditTrail, operator.Transcript, operator.Report}
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

func TestLoginAndLockout(t *testing.T) {
	r, now := newRegistry(t)
	ctx := t.Context()
	if _, err := r.Add(ctx, operator.Local, operator.AddRequest{Name: "ann", Role: "duty", Password: goodPassword}); err != nil {
		t.Fatal(err)
	}
	if o, err := r.Login(ctx, "ann", goodPassword, "127.0.0.1:1"); err != nil || o.Name != "ann" || o.Role != "duty" {
		t.Fatalf("Login(right password) = %+v, %v", o, err)
	}
	if _, err := r.Login(ctx, "ann", "wrong password!", "127.0.0.1:1"); !errors.Is(err, operator.ErrBadLogin) {
		t.Errorf("Login(wrong password) = %v, want ErrBadLogin", err)
	}
	if _, err := r.Login(ctx, "nobody", goodPassword, "127.0.0.1:1"); !errors.Is(err, operator.ErrBadLogin) {
		t.Errorf("Login(unknown name) = %v, want ErrBadLogin", err)
	}
	// A right password resets the count.
	if _, err := r.Login(ctx, "ann", goodPassword, "127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < operator.LockAfter; i++ {
		if _, err := r.Login(ctx, "ann", "wrong password!", "10.0.0.1:2"); !errors.Is(err, operator.ErrBadLogin) {
			t.Fatalf("failure %d: %v, want ErrBadLogin", i, err)
		}
	}
	if _, err := r.Login(ctx, "ann", "wrong password!", "10.0.0.1:2"); !errors.Is(err, operator.ErrLocked) {
		t.Fatalf("failure %d: %v, want ErrLocked", operator.LockAfter, err)
	}
	// Locked: the right password is refused too.
	if _, err := r.Login(ctx, "ann", goodPassword, "127.0.0.1:1"); !errors.Is(err, operator.ErrLocked) {
		t.Errorf("right password while locked: %v, want ErrLocked", err)
	}
	// The lock ends by itself.
	*now = now.Add(operator.LockFor + time.Second)
	if _, err := r.Login(ctx, "ann", goodPassword, "127.0.0.1:1"); err != nil {
		t.Errorf("right password after the lock: %v", err)
	}
	// Or an admin lifts it.
	for range operator.LockAfter {
		r.Login(ctx, "ann", "wrong password!", "10.0.0.1:2")
	}
	if _, err := r.Login(ctx, "ann", goodPassword, "127.0.0.1:1"); !errors.Is(err, operator.ErrLocked) {
		t.Fatalf("locked again: %v", err)
	}
	if err := r.Unlock(ctx, operator.Actor{Name: "root", Addr: "127.0.0.1:9"}, "ann"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Login(ctx, "ann", goodPassword, "127.0.0.1:1"); err != nil {
		t.Errorf("after unlock: %v", err)
	}
	recs, _ := r.Store.Audit(ctx, store.AuditQuery{})
	var logins, refused int
	for _, rec := range recs {
		if rec.Action == "login" {
			logins++
			if rec.Outcome == "refused" {
				refused++
			}
		}
	}
	if logins != 18 || refused != 14 {
		t.Errorf("audit trail: %d logins, %d refused; want 18 and 14", logins, refused)
	}
	// An unknown name is recorded as the target, not as an operator.
	found := false
	for _, rec := range recs {
		if rec.Action == "login" && rec.Target == "nobody" {
			found = rec.Operator == "" && rec.Outcome == "refused" && rec.Addr == "127.0.0.1:1"
		}
	}
	if !found {
		t.Error("the failed login as nobody is not in the audit trail as expected")
	}
}
