// Package migrate runs a database's numbered SQL migrations forward. It
// is the one runner for every database of this module: the stations'
// stores (internal/store/sqlstore) and the relay's relay.db.
//
// Migrations are files named NNN_name.sql, applied in order of their
// numbers. Statements in a file are separated by a line holding only
// ";". The numbers a database holds are recorded in its schema_version
// table, one row each.
package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// ErrNoWrites is the refusal of a database that does not take writes.
// Up returns it, wrapped with the database's own error, when it cannot
// create schema_version.
var ErrNoWrites = errors.New("the database does not take writes (is it read-only?)")

// migration is one NNN_name.sql file.
type migration struct {
	version int
	name    string
}

// list lists the files in fsys by number. Numbers must be unique and
// positive. Gaps are allowed, so that migrations written on separate
// branches (say 002 and 003) can land in either order.
func list(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	seen := map[int]string{}
	for _, name := range names {
		prefix, _, _ := strings.Cut(name, "_")
		n, err := strconv.Atoi(prefix)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number, like 003_", name)
		}
		if other, ok := seen[n]; ok {
			return nil, fmt.Errorf("migrations %s and %s have the same number", other, name)
		}
		seen[n] = name
		out = append(out, migration{n, name})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// Versions lists the numbers of the migrations in fsys, in order. A
// name without a positive number, or two files with the same number,
// is an error.
func Versions(fsys fs.FS) ([]int, error) {
	ms, err := list(fsys)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, m := range ms {
		out = append(out, m.version)
	}
	return out, nil
}

// Latest is the number of the newest migration in fsys. It is 0 if fsys
// holds none, or if Versions refuses its names.
func Latest(fsys fs.FS) int {
	vs, _ := Versions(fsys)
	if len(vs) == 0 {
		return 0
	}
	return vs[len(vs)-1]
}

// Up applies to db, in order, every migration in fsys that schema_version
// does not record, and records each in the same transaction. A migration
// that fails part way leaves the database as it was before it. A database
// that records a migration fsys does not have was written by another
// (newer) binary, and is refused unchanged. Running Up again after it
// succeeded changes nothing.
//
// rebind turns the ? placeholders of the runner's own statements into
// the database's; nil leaves them as they are. The migrations' own text
// is run as written.
func Up(ctx context.Context, db *sql.DB, fsys fs.FS, rebind func(string) string) error {
	if rebind == nil {
		rebind = func(q string) string { return q }
	}
	if _, err := db.ExecContext(ctx, rebind(`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`)); err != nil {
		return fmt.Errorf("%w: %w", ErrNoWrites, err)
	}
	ms, err := list(fsys)
	if err != nil {
		return err
	}
	applied, err := recorded(ctx, db, rebind)
	if err != nil {
		return err
	}
	known := map[int]bool{}
	for _, m := range ms {
		known[m.version] = true
	}
	var unknown []int
	for _, v := range applied {
		if !known[v] {
			unknown = append(unknown, v)
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("database schema version %d is newer than this binary knows (%d); run a newer hotline",
			unknown[len(unknown)-1], Latest(fsys))
	}
	done := map[int]bool{}
	for _, v := range applied {
		done[v] = true
	}
	for _, m := range ms {
		if done[m.version] {
			continue
		}
		if err := apply(ctx, db, fsys, m, rebind); err != nil {
			return err
		}
	}
	return nil
}

// recorded lists the versions schema_version records, in order.
func recorded(ctx context.Context, db *sql.DB, rebind func(string) string) ([]int, error) {
	rows, err := db.QueryContext(ctx, rebind(`SELECT version FROM schema_version ORDER BY version`))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// apply runs one migration and records it, in one transaction.
func apply(ctx context.Context, db *sql.DB, fsys fs.FS, m migration, rebind func(string) string) error {
	text, err := fs.ReadFile(fsys, m.name)
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	for _, stmt := range strings.Split(string(text), "\n;\n") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, rebind(`INSERT INTO schema_version (version) VALUES (?)`), m.version); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
