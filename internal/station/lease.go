package station

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"hotline/internal/store"
)

// Several machines for one station (docs/OPERATIONS.md, "Several
// machines"): each runs hotline run on its own copy of the station
// directory, all pointing at one PostgreSQL database. The store's lease
// (store.Leaser) decides which process is active; the others stand by.
//
// Timing: the active process renews every LeaseRenew for LeaseTTL, so it
// survives two failed renewals in a row; a standby tries every
// StandbyPoll. When the active one dies, its lease runs out at most
// LeaseTTL after its last renewal and a standby holds it StandbyPoll
// later at most: a takeover within LeaseTTL + StandbyPoll (3.25 s), plus
// loading the snapshot.
const (
	LeaseTTL    = 3 * time.Second
	LeaseRenew  = 1 * time.Second
	StandbyPoll = 250 * time.Millisecond
)

// AheadUnder is how long after it last confirmed its lease (sent the
// renewal the store accepted, by its monotonic clock) the active process
// still sends entries ahead of their write (docs/PROTOCOL.md, "Sent
// ahead"): a second less than the lease lasts, so that a process paused
// (SIGSTOP, a frozen machine) past it, whose successor may be writing at
// the same indexes, sends nothing ahead until a renewal succeeds, which
// it will not if another took over. Renewals come every LeaseRenew.
const AheadUnder = LeaseTTL - LeaseRenew

// ErrStandby is returned by Open for a station whose lease another
// process holds: it is active on another machine (or another directory).
var ErrStandby = errors.New("station is active in another process (it holds the station's lease)")

// ErrLeaseLost means the active process could not renew its lease in
// time, so a standby may take over: it stops rather than risk being
// fenced in the middle of its work.
var ErrLeaseLost = errors.New("lost the station's lease")

// holderID names this process in the lease: host, process id and a
// random part (a restarted process is a new holder).
func holderID() string {
	host, _ := os.Hostname()
	r := make([]byte, 4)
	rand.Read(r)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(r))
}

// acquire takes the store's lease: once, or, with wait, as a standby
// until it is free (or ctx is done). It returns when the successful
// request was sent, by the monotonic clock.
func acquire(ctx context.Context, l store.Leaser, wait bool, log *slog.Logger) (time.Time, error) {
	holder := holderID()
	var last string
	for {
		sent := time.Now()
		lease, err := l.Acquire(ctx, holder, LeaseTTL)
		if err == nil {
			log.Info("lease acquired: this process is the station's active one", "holder", holder, "token", lease.Token)
			return sent, nil
		}
		if !errors.Is(err, store.ErrLeaseHeld) {
			return time.Time{}, fmt.Errorf("acquiring the station's lease: %w", err)
		}
		if !wait {
			return time.Time{}, fmt.Errorf("%w: %v", ErrStandby, err)
		}
		if lease.Holder != last {
			last = lease.Holder
			log.Info("standby: another process holds the station's lease; waiting to take over", "active", lease.Holder, "token", lease.Token)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(StandbyPoll):
		}
	}
}

// keepLease renews the lease until the station stops, and stops it at
// once if the lease is taken (fenced) or cannot be renewed before it
// would run out. renewed is when the acquisition was sent, by this
// process's monotonic clock: the database's expiry is later than
// renewed + LeaseTTL, so the process gives up before anyone can take
// over.
func (s *Station) keepLease(l store.Leaser, renewed time.Time) {
	s.confirmed(renewed)
	t := time.NewTicker(LeaseRenew)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		sent := time.Now()
		// Wait for the answer until the lease would run out; a process
		// that was paused past that (SIGSTOP, a frozen machine) still asks
		// once, briefly: the database says whether another took over.
		deadline := renewed.Add(LeaseTTL)
		if late := sent.Add(LeaseRenew); deadline.Before(late) {
			deadline = late
		}
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		_, err := l.Renew(ctx, LeaseTTL)
		cancel()
		switch {
		case err == nil:
			renewed = sent
			s.confirmed(sent)
		case errors.Is(err, store.ErrFenced):
			s.fail(err)
			return
		case time.Since(renewed) >= LeaseTTL:
			s.fail(fmt.Errorf("%w: not renewed for %s (last error: %v)", ErrLeaseLost, LeaseTTL, err))
			return
		default:
			s.Log.Warn("renewing the station's lease failed; retrying", "err", err)
		}
	}
}

// fail stops the station's loop with err.
func (s *Station) fail(err error) {
	select {
	case s.failc <- err:
	default:
	}
}

// confirmed records that the lease was confirmed by a request sent at t.
func (s *Station) confirmed(t time.Time) {
	s.leaseAt.Store(t.UnixNano())
	s.leaseMono.Store(&t)
}

// aheadLease is until when this process may send entries ahead
// (protocol.Writing.Lease): AheadUnder after it last confirmed its lease,
// by its monotonic clock. Zero for a station with no lease (one process),
// which sends ahead with no limit; a time long past if the lease was
// never confirmed.
func (s *Station) aheadLease() time.Time {
	if s.leaser == nil {
		return time.Time{}
	}
	t := s.leaseMono.Load()
	if t == nil {
		return time.Unix(1, 0)
	}
	return t.Add(AheadUnder)
}
