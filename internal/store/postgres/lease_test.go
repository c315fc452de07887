package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"hotline/internal/record"
	"hotline/internal/store"
)

func alertBatch(text string) *record.Batch {
	return &record.Batch{Alerts: []record.Alert{{At: time.Unix(1, 0), Level: "warning", Text: text}}}
}

func alertTexts(t *testing.T, s store.Store) []string {
	t.Helper()
	as, err := s.Alerts(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range as {
		out = append(out, a.Text)
	}
	return out
}

// waitAcquire retries Acquire until the lease is free. It never asserts
// on how long that took: the machine may be busy.
func waitAcquire(t *testing.T, l store.Leaser, holder string, ttl time.Duration) store.Lease {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := l.Acquire(t.Context(), holder, ttl)
		if err == nil {
			return got
		}
		if !errors.Is(err, store.ErrLeaseHeld) || time.Now().After(deadline) {
			t.Fatalf("%s acquiring: %v", holder, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLease: acquire, renew, expiry, takeover with a greater token, and
// the former holder fenced: its renewal and its write fail with
// ErrFenced and change nothing.
func TestLease(t *testing.T) {
	dsn := freshDB(t)
	ctx := t.Context()
	a, b := open(t, dsn), open(t, dsn)
	defer a.Close()
	defer b.Close()

	la, err := a.Acquire(ctx, "a", 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if la.Holder != "a" || la.Token != 1 {
		t.Errorf("first lease = %+v, want holder a, token 1", la)
	}
	if _, err := b.Acquire(ctx, "b", time.Minute); !errors.Is(err, store.ErrLeaseHeld) {
		t.Errorf("acquiring a held lease: %v, want ErrLeaseHeld", err)
	}
	if err := a.Apply(ctx, alertBatch("a1")); err != nil {
		t.Fatalf("the holder's write: %v", err)
	}
	// A store that never acquired may not write under a live lease.
	if err := b.Apply(ctx, alertBatch("b-unleased")); !errors.Is(err, store.ErrFenced) {
		t.Errorf("write without the lease while it is held: %v, want ErrFenced", err)
	}
	if _, err := a.Renew(ctx, 500*time.Millisecond); err != nil {
		t.Fatalf("renew: %v", err)
	}

	// a stops renewing: its lease expires and b takes over.
	lb := waitAcquire(t, b, "b", time.Minute)
	if lb.Holder != "b" || lb.Token <= la.Token {
		t.Errorf("takeover lease = %+v, want holder b and a token greater than %d", lb, la.Token)
	}
	if _, err := a.Renew(ctx, time.Minute); !errors.Is(err, store.ErrFenced) {
		t.Errorf("the former holder's renewal: %v, want ErrFenced", err)
	}
	if err := a.Apply(ctx, alertBatch("a-late")); !errors.Is(err, store.ErrFenced) {
		t.Errorf("the former holder's write: %v, want ErrFenced", err)
	}
	// Its other writes too: the console's sessions and audit trail, the
	// station's plans and codebooks.
	ops, opsA := b, a
	if err := ops.AddOperator(ctx, store.Operator{Name: "dora", Role: "duty", PasswordHash: "x", Lang: "en", CreatedAt: time.Now()}); err != nil {
		t.Fatalf("the new holder's console write: %v", err)
	}
	for what, err := range map[string]error{
		"session": opsA.AddSession(ctx, store.Session{ID: "s1", Operator: "dora", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}),
		"audit": func() error {
			_, err := opsA.AppendAudit(ctx, store.AuditRecord{At: time.Now(), Operator: "dora", Action: "login"})
			return err
		}(),
		"plan": func() error {
			_, err := opsA.AddPlan(ctx, store.Plan{AddedAt: time.Now(), Body: []byte("{}")})
			return err
		}(),
		"codebook": func() error {
			_, err := opsA.AddCodebook(ctx, store.CodebookFile{Ref: "r", File: []byte("{}")})
			return err
		}(),
		"operator": opsA.RemoveOperator(ctx, "dora"),
	} {
		if !errors.Is(err, store.ErrFenced) {
			t.Errorf("the former holder's %s write: %v, want ErrFenced", what, err)
		}
	}
	if s, err := ops.Session(ctx, "s1"); err == nil || s != nil {
		t.Errorf("a fenced session was stored: %+v, %v", s, err)
	}
	if o, err := ops.Operator(ctx, "dora"); err != nil || o == nil {
		t.Errorf("a fenced removal removed the operator: %+v, %v", o, err)
	}
	if err := b.Apply(ctx, alertBatch("b1")); err != nil {
		t.Fatalf("the new holder's write: %v", err)
	}
	if got, want := fmt.Sprint(alertTexts(t, b)), "[a1 b1]"; got != want {
		t.Errorf("alerts = %s, want %s (nothing from the fenced writer)", got, want)
	}
	cur, err := a.Lease(ctx)
	if err != nil || cur.Holder != "b" || cur.Token != lb.Token {
		t.Errorf("stored lease = %+v, %v; want b's", cur, err)
	}

	// Release hands over at once, with a new token again.
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	c := open(t, dsn)
	defer c.Close()
	lc, err := c.Acquire(ctx, "c", time.Minute)
	if err != nil || lc.Token <= lb.Token {
		t.Errorf("after release: %+v, %v; want a lease with a token greater than %d", lc, err, lb.Token)
	}
	if err := b.Apply(ctx, alertBatch("b-late")); !errors.Is(err, store.ErrFenced) {
		t.Errorf("write after release and takeover: %v, want ErrFenced", err)
	}
}

// TestLeaseRace: many processes race for a free lease; exactly one wins.
func TestLeaseRace(t *testing.T) {
	dsn := freshDB(t)
	const n = 8
	stores := make([]store.Store, n)
	for i := range stores {
		stores[i] = open(t, dsn)
		defer stores[i].Close()
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = s.(store.Leaser).Acquire(t.Context(), fmt.Sprintf("p%d", i), time.Minute)
		}()
	}
	close(start)
	wg.Wait()
	winners := 0
	for i, err := range errs {
		switch {
		case err == nil:
			winners++
		case !errors.Is(err, store.ErrLeaseHeld):
			t.Errorf("p%d: %v, want ErrLeaseHeld", i, err)
		}
	}
	if winners != 1 {
		t.Errorf("%d winners, want 1", winners)
	}
}

// TestLeaseStuckWriter: a holder paused inside a write transaction (its
// session idle, the lease row locked in share mode) does not hold up a
// takeover for long: the server ends its session, and its write is lost
// rather than committed after the takeover.
func TestLeaseStuckWriter(t *testing.T) {
	dsn := freshDB(t)
	ctx := t.Context()
	a, b := open(t, dsn), open(t, dsn)
	defer a.Close()
	defer b.Close()
	if _, err := a.Acquire(ctx, "a", 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// What a's Apply does first, then nothing: as if a were SIGSTOPped.
	tx, err := a.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `SELECT token FROM lease WHERE id = 1 FOR SHARE`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO alerts (at, level, channel, peer, text) VALUES (1, 'warning', '', '', 'stuck')`); err != nil {
		t.Fatal(err)
	}
	actx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		_, err := b.Acquire(actx, "b", time.Minute)
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrLeaseHeld) {
			t.Fatalf("takeover behind a stuck writer: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := tx.Commit(); err == nil {
		t.Error("the stuck writer's transaction committed after the takeover")
	}
	if got := alertTexts(t, b); len(got) != 0 {
		t.Errorf("alerts = %v, want none", got)
	}
}
