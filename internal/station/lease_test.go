package station

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"hotline/internal/store"
)

// stuckLeaser renews while ok is set; otherwise its Renew waits for its
// deadline (a database that does not answer), or says fenced.
type stuckLeaser struct {
	ok, fenced atomic.Bool
	renewals   atomic.Int32
}

func (l *stuckLeaser) Acquire(context.Context, string, time.Duration) (store.Lease, error) {
	return store.Lease{}, nil
}

func (l *stuckLeaser) Renew(ctx context.Context, _ time.Duration) (store.Lease, error) {
	switch {
	case l.ok.Load():
		l.renewals.Add(1)
		return store.Lease{}, nil
	case l.fenced.Load():
		return store.Lease{}, store.ErrFenced
	}
	<-ctx.Done()
	return store.Lease{}, ctx.Err()
}

func (l *stuckLeaser) Release(context.Context) error              { return nil }
func (l *stuckLeaser) Lease(context.Context) (store.Lease, error) { return store.Lease{}, nil }

// TestAheadLease: a process sends entries ahead only AheadUnder after it
// last confirmed its lease. Renewed every second, it always may; when
// renewals stop getting through (the database does not answer, or the
// process was paused), the bound stays where the last one put it and
// passes, so nothing goes ahead, a second before the lease could run
// out; a fenced renewal stops the station. With no lease (SQLite), no
// bound.
func TestAheadLease(t *testing.T) {
	if !(&Station{}).aheadLease().IsZero() {
		t.Fatal("a station with no lease has a bound on sending ahead")
	}
	synctest.Test(t, func(t *testing.T) {
		l := &stuckLeaser{}
		l.ok.Store(true)
		s := &Station{leaser: l, done: make(chan struct{}), failc: make(chan error, 1), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		if until := s.aheadLease(); !until.Before(time.Now()) {
			t.Fatalf("before any lease is confirmed, ahead until %v, not in the past", until)
		}
		start := time.Now()
		s.confirmed(start)
		go s.keepLease(l, start)
		for range 5 {
			time.Sleep(LeaseRenew)
			synctest.Wait()
			if until := s.aheadLease(); !until.Equal(time.Now().Add(AheadUnder)) {
				t.Fatalf("renewed every %s: ahead until %v, want %s from now", LeaseRenew, until, AheadUnder)
			}
		}
		// The database stops answering: the bound stays.
		l.ok.Store(false)
		last := time.Now()
		time.Sleep(AheadUnder)
		synctest.Wait()
		if until := s.aheadLease(); !until.Equal(last.Add(AheadUnder)) || time.Now().Before(until) {
			t.Fatalf("no renewal for %s: ahead until %v (now %v), want %v, passed", AheadUnder, until, time.Now(), last.Add(AheadUnder))
		}
		// Another process took over.
		l.fenced.Store(true)
		time.Sleep(LeaseTTL)
		synctest.Wait()
		select {
		case err := <-s.failc:
			if !errors.Is(err, store.ErrFenced) && !errors.Is(err, ErrLeaseLost) {
				t.Fatalf("stopped with %v", err)
			}
		default:
			t.Fatal("the station goes on with its lease lost")
		}
		close(s.done)
	})
}
