package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"hotline/internal/store"
)

// The console's records: operators, sessions, the audit trail. They are
// written one at a time, outside the protocol's batches, under the same
// write lock.

const operatorCols = `name, role, password_hash, lang, created_at, failed_logins, locked_until`

func scanOperator(r scanner) (*store.Operator, error) {
	var (
		o               store.Operator
		created, locked int64
	)
	if err := r.Scan(&o.Name, &o.Role, &o.PasswordHash, &o.Lang, &created, &o.FailedLogins, &locked); err != nil {
		return nil, err
	}
	o.CreatedAt, o.LockedUntil = fromNanos(created), fromNanos(locked)
	return &o, nil
}

// exec runs one write under the write lock.
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.db.ExecContext(ctx, s.q(query), args...)
}

// AddOperator adds an operator.
func (s *Store) AddOperator(ctx context.Context, o store.Operator) error {
	res, err := s.exec(ctx, `INSERT INTO operators (`+operatorCols+`) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		o.Name, o.Role, o.PasswordHash, o.Lang, nanos(o.CreatedAt), o.FailedLogins, nanos(o.LockedUntil))
	if err != nil {
		return fmt.Errorf("operator %s: %w", o.Name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("operator %s: %w", o.Name, store.ErrConflict)
	}
	return nil
}

// UpdateOperator replaces an operator's mutable fields.
func (s *Store) UpdateOperator(ctx context.Context, o store.Operator) error {
	res, err := s.exec(ctx, `UPDATE operators SET role = ?, password_hash = ?, lang = ?, failed_logins = ?, locked_until = ? WHERE name = ?`,
		o.Role, o.PasswordHash, o.Lang, o.FailedLogins, nanos(o.LockedUntil), o.Name)
	if err != nil {
		return fmt.Errorf("operator %s: %w", o.Name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("operator %s: %w", o.Name, store.ErrNotFound)
	}
	return nil
}

// Operator returns one operator.
func (s *Store) Operator(ctx context.Context, name string) (*store.Operator, error) {
	o, err := scanOperator(s.db.QueryRowContext(ctx, s.q(`SELECT `+operatorCols+` FROM operators WHERE name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("operator %s: %w", name, store.ErrNotFound)
	}
	return o, err
}

// Operators lists operators by name.
func (s *Store) Operators(ctx context.Context) ([]store.Operator, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+operatorCols+` FROM operators ORDER BY name`))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Operator
	for rows.Next() {
		o, err := scanOperator(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *o)
	}
	return out, rows.Err()
}

// RemoveOperator removes an operator and their sessions in one transaction.
func (s *Store) RemoveOperator(ctx context.Context, name string) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE operator = ?`), name); err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, s.q(`DELETE FROM operators WHERE name = ?`), name)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("operator %s: %w", name, store.ErrNotFound)
	}
	return tx.Commit()
}

// AddSession stores a session for an existing operator.
func (s *Store) AddSession(ctx context.Context, se store.Session) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM operators WHERE name = ?`), se.Operator).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("session for operator %s: %w", se.Operator, store.ErrNotFound)
	}
	res, err := tx.ExecContext(ctx, s.q(`INSERT INTO sessions (id, operator, created_at, expires_at, addr) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
		se.ID, se.Operator, nanos(se.CreatedAt), nanos(se.ExpiresAt), se.Addr)
	if err != nil {
		return fmt.Errorf("session for operator %s: %w", se.Operator, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("session: %w", store.ErrConflict)
	}
	return tx.Commit()
}

// Session returns one session.
func (s *Store) Session(ctx context.Context, id string) (*store.Session, error) {
	var (
		se               store.Session
		created, expires int64
	)
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id, operator, created_at, expires_at, addr FROM sessions WHERE id = ?`), id).
		Scan(&se.ID, &se.Operator, &created, &expires, &se.Addr)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("session: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	se.CreatedAt, se.ExpiresAt = fromNanos(created), fromNanos(expires)
	return &se, nil
}

// RemoveSession removes a session.
func (s *Store) RemoveSession(ctx context.Context, id string) error {
	_, err := s.exec(ctx, `DELETE FROM sessions WHERE id = ?`, id)
	return err
}

// RemoveExpiredSessions removes sessions that expired at or before now.
func (s *Store) RemoveExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	res, err := s.exec(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, nanos(now))
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// AppendAudit appends one record.
func (s *Store) AppendAudit(ctx context.Context, r store.AuditRecord) (int64, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	var id int64
	err := s.db.QueryRowContext(ctx, s.q(`INSERT INTO audit (at, operator, action, target, outcome, detail, addr) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		nanos(r.At), r.Operator, r.Action, r.Target, r.Outcome, r.Detail, r.Addr).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("audit record: %w", err)
	}
	return id, nil
}

// Audit returns records matching q, newest first.
func (s *Store) Audit(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error) {
	var where []string
	var args []any
	if q.Operator != "" {
		where = append(where, "operator = ?")
		args = append(args, q.Operator)
	}
	if q.Before > 0 {
		where = append(where, "id < ?")
		args = append(args, q.Before)
	}
	query := `SELECT id, at, operator, action, target, outcome, detail, addr FROM audit`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY id DESC"
	if q.Limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.AuditRecord
	for rows.Next() {
		var r store.AuditRecord
		var at int64
		if err := rows.Scan(&r.ID, &at, &r.Operator, &r.Action, &r.Target, &r.Outcome, &r.Detail, &r.Addr); err != nil {
			return nil, err
		}
		r.At = fromNanos(at)
		out = append(out, r)
	}
	return out, rows.Err()
}
