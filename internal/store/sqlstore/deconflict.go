package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"hotline/internal/store"
)

// The station's own planning: planned activities and the findings of its
// checks (migration 005).

// AddPlan stores a planned activity.
func (s *Store) AddPlan(ctx context.Context, p store.Plan) (int64, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var id int64
	err = tx.QueryRowContext(ctx, s.q(`INSERT INTO plans (added_at, body, notice) VALUES (?, ?, ?) RETURNING id`),
		nanos(p.AddedAt), p.Body, p.Notice).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("plan: %w", err)
	}
	return id, tx.Commit()
}

// Plans lists planned activities by ID.
func (s *Store) Plans(ctx context.Context) ([]store.Plan, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, added_at, body, notice FROM plans ORDER BY id`))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Plan
	for rows.Next() {
		var p store.Plan
		var added int64
		if err := rows.Scan(&p.ID, &added, &p.Body, &p.Notice); err != nil {
			return nil, err
		}
		p.AddedAt = fromNanos(added)
		out = append(out, p)
	}
	return out, rows.Err()
}

// SetPlanNotice records the entry a plan was notified as.
func (s *Store) SetPlanNotice(ctx context.Context, id int64, entry string) error {
	res, err := s.exec(ctx, `UPDATE plans SET notice = ? WHERE id = ? AND notice = ''`, entry, id)
	if err != nil {
		return fmt.Errorf("plan %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	var notice string
	err = s.db.QueryRowContext(ctx, s.q(`SELECT notice FROM plans WHERE id = ?`), id).Scan(&notice)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("plan %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("plan %d was notified as %s: %w", id, notice, store.ErrConflict)
}

// AddFinding stores a finding unless one with its key is stored.
func (s *Store) AddFinding(ctx context.Context, f store.Finding) (int64, bool, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	// Look first: an insert that conflicts would still use up a number
	// of the sequence, and findings are numbered for people.
	var id int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id FROM findings WHERE key = ?`), f.Key).Scan(&id)
	if err == nil {
		return id, false, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, false, fmt.Errorf("finding %s: %w", f.Key, err)
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return 0, false, err
	}
	defer tx.Rollback()
	err = tx.QueryRowContext(ctx, s.q(`INSERT INTO findings (key, rule, found_at, channel, peer, body) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (key) DO NOTHING RETURNING id`), f.Key, f.Rule, nanos(f.FoundAt), f.Channel, f.Peer, f.Body).Scan(&id)
	if err == nil {
		return id, true, tx.Commit()
	}
	tx.Rollback()
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, false, fmt.Errorf("finding %s: %w", f.Key, err)
	}
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT id FROM findings WHERE key = ?`), f.Key).Scan(&id); err != nil {
		return 0, false, fmt.Errorf("finding %s: %w", f.Key, err)
	}
	return id, false, nil
}

// Findings lists findings by ID.
func (s *Store) Findings(ctx context.Context) ([]store.Finding, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, key, rule, found_at, channel, peer, body FROM findings ORDER BY id`))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Finding
	for rows.Next() {
		var f store.Finding
		var found int64
		if err := rows.Scan(&f.ID, &f.Key, &f.Rule, &found, &f.Channel, &f.Peer, &f.Body); err != nil {
			return nil, err
		}
		f.FoundAt = fromNanos(found)
		out = append(out, f)
	}
	return out, rows.Err()
}

// AddCodebook stores a codebook extension file (migration 009).
func (s *Store) AddCodebook(ctx context.Context, c store.CodebookFile) (bool, error) {
	res, err := s.exec(ctx, `INSERT INTO codebooks (ref, file, added_at) VALUES (?, ?, ?) ON CONFLICT (ref) DO NOTHING`,
		c.Ref, c.File, nanos(c.AddedAt))
	if err != nil {
		return false, fmt.Errorf("codebook %s: %w", c.Ref, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Codebooks lists the stored codebook extension files in the order added.
func (s *Store) Codebooks(ctx context.Context) ([]store.CodebookFile, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT ref, file, added_at FROM codebooks ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.CodebookFile
	for rows.Next() {
		var c store.CodebookFile
		var added int64
		if err := rows.Scan(&c.Ref, &c.File, &added); err != nil {
			return nil, err
		}
		c.AddedAt = fromNanos(added)
		out = append(out, c)
	}
	return out, rows.Err()
}
