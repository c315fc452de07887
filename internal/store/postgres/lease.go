package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"hotline/internal/store"
)

var _ store.Leaser = (*Store)(nil)

// The lease lives in one row (migration 006). Expiry is by the database
// server's clock alone, so the clocks of the machines running stations
// are never compared. Acquire and renew lock the row (FOR UPDATE); every
// Apply locks it in share mode (FOR SHARE) and compares the token in the
// same transaction, so a takeover waits for an Apply in flight and an
// Apply that starts after it sees the new token.

const leaseRow = `SELECT holder, token, expires_at, expires_at > clock_timestamp() FROM lease WHERE id = 1`

func ms(d time.Duration) int64 { return d.Milliseconds() }

func (s *Store) readLease(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, lock string) (l store.Lease, live bool, err error) {
	var tok int64
	err = q.QueryRowContext(ctx, leaseRow+lock).Scan(&l.Holder, &tok, &l.Expires, &live)
	if errors.Is(err, sql.ErrNoRows) {
		return l, false, errors.New("the lease row is missing (migration 006)")
	}
	l.Token = uint64(tok)
	return l, live && l.Holder != "", err
}

func heldBy(err error, l store.Lease) error {
	return fmt.Errorf("%w (holder %s, token %d, until %s)", err, l.Holder, l.Token, l.Expires.UTC().Format(time.RFC3339Nano))
}

// Acquire implements store.Leaser.
func (s *Store) Acquire(ctx context.Context, holder string, ttl time.Duration) (store.Lease, error) {
	if holder == "" {
		return store.Lease{}, errors.New("acquiring the lease: empty holder")
	}
	tx, err := s.DB().BeginTx(ctx, nil)
	if err != nil {
		return store.Lease{}, err
	}
	defer tx.Rollback()
	cur, live, err := s.readLease(ctx, tx, " FOR UPDATE")
	if err != nil {
		return store.Lease{}, fmt.Errorf("reading the lease: %w", err)
	}
	if live && cur.Holder != holder {
		return cur, heldBy(store.ErrLeaseHeld, cur)
	}
	var l store.Lease
	var tok int64
	if err := tx.QueryRowContext(ctx, `UPDATE lease SET holder = $1, token = token + 1,
		expires_at = clock_timestamp() + $2 * interval '1 millisecond' WHERE id = 1
		RETURNING holder, token, expires_at`, holder, ms(ttl)).Scan(&l.Holder, &tok, &l.Expires); err != nil {
		return store.Lease{}, fmt.Errorf("taking the lease: %w", err)
	}
	l.Token = uint64(tok)
	if err := tx.Commit(); err != nil {
		return store.Lease{}, fmt.Errorf("taking the lease: %w", err)
	}
	s.lmu.Lock()
	s.lease = l
	s.lmu.Unlock()
	return l, nil
}

// Renew implements store.Leaser.
func (s *Store) Renew(ctx context.Context, ttl time.Duration) (store.Lease, error) {
	mine := s.held()
	if mine.Token == 0 {
		return store.Lease{}, errors.New("renewing the lease: this store never acquired it")
	}
	var l store.Lease
	var tok int64
	err := s.DB().QueryRowContext(ctx, `UPDATE lease SET expires_at = clock_timestamp() + $1 * interval '1 millisecond'
		WHERE id = 1 AND token = $2 AND holder = $3 RETURNING holder, token, expires_at`,
		ms(ttl), int64(mine.Token), mine.Holder).Scan(&l.Holder, &tok, &l.Expires)
	if errors.Is(err, sql.ErrNoRows) {
		cur, _, rerr := s.readLease(ctx, s.DB(), "")
		if rerr != nil {
			return store.Lease{}, fmt.Errorf("%w (token %d is no longer the lease's)", store.ErrFenced, mine.Token)
		}
		return cur, heldBy(store.ErrFenced, cur)
	}
	if err != nil {
		return store.Lease{}, fmt.Errorf("renewing the lease: %w", err)
	}
	l.Token = uint64(tok)
	s.lmu.Lock()
	s.lease = l
	s.lmu.Unlock()
	return l, nil
}

// Release implements store.Leaser.
func (s *Store) Release(ctx context.Context) error {
	mine := s.held()
	if mine.Token == 0 {
		return nil
	}
	_, err := s.DB().ExecContext(ctx, `UPDATE lease SET expires_at = 'epoch' WHERE id = 1 AND token = $1 AND holder = $2`,
		int64(mine.Token), mine.Holder)
	return err
}

// Lease implements store.Leaser.
func (s *Store) Lease(ctx context.Context) (store.Lease, error) {
	l, _, err := s.readLease(ctx, s.DB(), "")
	return l, err
}

func (s *Store) held() store.Lease {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	return s.lease
}

// fence is the check every Apply runs first in its transaction: the
// stored token is still the one this store acquired; or, for a store that
// never acquired the lease, no other process holds it.
func (s *Store) fence(ctx context.Context, tx *sql.Tx) error {
	cur, live, err := s.readLease(ctx, tx, " FOR SHARE")
	if err != nil {
		return fmt.Errorf("checking the lease: %w", err)
	}
	mine := s.held()
	if mine.Token == 0 {
		if live {
			return heldBy(store.ErrFenced, cur)
		}
		return nil
	}
	if cur.Token != mine.Token {
		return heldBy(store.ErrFenced, cur)
	}
	return nil
}
