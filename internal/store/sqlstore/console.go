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

const operatorCols = `name, role, password_hash, lang, created_at, failed_logins, locked_until, record_name`

func scanOperator(r scanner) (*store.Operator, error) {
	var (
		o               store.Operator
		created, locked int64
	)
	if err := r.Scan(&o.Name, &o.Role, &o.PasswordHash, &o.Lang, &created, &o.FailedLogins, &locked, &o.RecordName); err != nil {
		return nil, err
	}
	o.CreatedAt, o.LockedUntil = fromNanos(created), fromNanos(locked)
	return &o, nil
}

// exec runs one write under the write lock.
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	return res, tx.Commit()
}

// AddOperator adds an operator.
func (s *Store) AddOperator(ctx context.Context, o store.Operator) error {
	res, err := s.exec(ctx, `INSERT INTO operators (`+operatorCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		o.Name, o.Role, o.PasswordHash, o.Lang, nanos(o.CreatedAt), o.FailedLogins, nanos(o.LockedUntil), o.RecordName)
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
	res, err := s.exec(ctx, `UPDATE operators SET role = ?, password_hash = ?, lang = ?, failed_logins = ?, locked_until = ?, record_name = ? WHERE name = ?`,
		o.Role, o.PasswordHash, o.Lang, o.FailedLogins, nanos(o.LockedUntil), o.RecordName, o.Name)
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
	tx, err := s.begin(ctx)
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
	tx, err := s.begin(ctx)
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
	tx, err := s.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var id int64
	err = tx.QueryRowContext(ctx, s.q(`INSERT INTO audit (at, operator, action, target, outcome, detail, addr) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		nanos(r.At), r.Operator, r.Action, r.Target, r.Outcome, r.Detail, r.Addr).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("audit record: %w", err)
	}
	return id, tx.Commit()
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

// The console's alerts: those it raised itself and its acknowledgements
// of station alerts.

const consoleAlertCols = `id, alert, kind, channel, text, raised_at, cleared_at, ack_by, ack_at`

func scanConsoleAlert(r scanner) (*store.ConsoleAlert, error) {
	var (
		a                    store.ConsoleAlert
		raised, cleared, ack int64
	)
	if err := r.Scan(&a.ID, &a.Alert, &a.Kind, &a.Channel, &a.Text, &raised, &cleared, &a.AckBy, &ack); err != nil {
		return nil, err
	}
	a.RaisedAt, a.ClearedAt, a.AckAt = fromNanos(raised), fromNanos(cleared), fromNanos(ack)
	return &a, nil
}

// AddConsoleAlert stores a console alert or the acknowledgement of a
// station alert.
func (s *Store) AddConsoleAlert(ctx context.Context, a store.ConsoleAlert) (*store.ConsoleAlert, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var row *sql.Row
	if a.Alert != 0 {
		// The station alert's own kind, channel, text and time; the
		// first acknowledgement stands.
		res, err := tx.ExecContext(ctx, s.q(`INSERT INTO console_alerts (alert, kind, channel, text, raised_at, ack_by, ack_at)
			SELECT id, ?, channel, text, at, ?, ? FROM alerts WHERE id = ? ON CONFLICT DO NOTHING`),
			store.ConsoleAlertStation, a.AckBy, nanos(a.AckAt), a.Alert)
		if err != nil {
			return nil, fmt.Errorf("acknowledging alert %d: %w", a.Alert, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var have int
			if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM alerts WHERE id = ?`), a.Alert).Scan(&have); err != nil {
				return nil, err
			}
			if have == 0 {
				return nil, fmt.Errorf("alert %d: %w", a.Alert, store.ErrNotFound)
			}
		}
		row = tx.QueryRowContext(ctx, s.q(`SELECT `+consoleAlertCols+` FROM console_alerts WHERE alert = ?`), a.Alert)
	} else {
		var id int64
		err := tx.QueryRowContext(ctx, s.q(`INSERT INTO console_alerts (alert, kind, channel, text, raised_at, cleared_at, ack_by, ack_at)
			VALUES (0, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			a.Kind, a.Channel, a.Text, nanos(a.RaisedAt), nanos(a.ClearedAt), a.AckBy, nanos(a.AckAt)).Scan(&id)
		if err != nil {
			return nil, fmt.Errorf("console alert: %w", err)
		}
		row = tx.QueryRowContext(ctx, s.q(`SELECT `+consoleAlertCols+` FROM console_alerts WHERE id = ?`), id)
	}
	out, err := scanConsoleAlert(row)
	if err != nil {
		return nil, err
	}
	return out, tx.Commit()
}

// AckConsoleAlert acknowledges one of the console's own alerts.
func (s *Store) AckConsoleAlert(ctx context.Context, id int64, by string, at time.Time) (*store.ConsoleAlert, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE console_alerts SET ack_by = ?, ack_at = ? WHERE id = ? AND alert = 0 AND ack_by = ''`),
		by, nanos(at), id); err != nil {
		return nil, err
	}
	a, err := scanConsoleAlert(tx.QueryRowContext(ctx, s.q(`SELECT `+consoleAlertCols+` FROM console_alerts WHERE id = ? AND alert = 0`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("console alert %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return a, tx.Commit()
}

// ClearConsoleAlerts ends the console's alerts of a kind on a channel.
func (s *Store) ClearConsoleAlerts(ctx context.Context, kind, channel string, at time.Time) (int, error) {
	res, err := s.exec(ctx, `UPDATE console_alerts SET cleared_at = ? WHERE alert = 0 AND kind = ? AND channel = ? AND cleared_at = 0`,
		nanos(at), kind, channel)
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// ConsoleAlerts returns console alerts matching q, newest first.
func (s *Store) ConsoleAlerts(ctx context.Context, q store.ConsoleAlertQuery) ([]store.ConsoleAlert, error) {
	var where []string
	var args []any
	if q.Kind != "" {
		where = append(where, "kind = ?")
		args = append(args, q.Kind)
	}
	if q.Open {
		where = append(where, "(ack_by = '' OR cleared_at = 0 AND alert = 0)")
	}
	if q.AlertAfter > 0 {
		where = append(where, "alert > ?")
		args = append(args, q.AlertAfter)
	}
	query := `SELECT ` + consoleAlertCols + ` FROM console_alerts`
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
	var out []store.ConsoleAlert
	for rows.Next() {
		a, err := scanConsoleAlert(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *a)
	}
	return out, rows.Err()
}
