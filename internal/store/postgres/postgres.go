// Package postgres is the store on PostgreSQL (github.com/jackc/pgx), for a
// party that runs its station's database on a server of its own. Tables,
// statements and semantics are shared with SQLite in store/sqlstore, and
// it passes the same conformance suite; commits are durable with
// PostgreSQL's default synchronous_commit.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"hotline/internal/store"
	"hotline/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var embedded embed.FS

var migrations, _ = fs.Sub(embedded, "migrations")

// Store is a store.Store on PostgreSQL.
type Store struct {
	*sqlstore.Store
}

var _ store.Store = (*Store)(nil)

// Open connects to the database named by a postgres:// URL (or key=value
// connection string) and migrates it.
func Open(ctx context.Context, dsn string) (*Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(8)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	// One migration at a time, across every process sharing the database:
	// a session lock, held on one connection while the migrations run.
	lock, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	if _, err := lock.ExecContext(ctx, `SELECT pg_advisory_lock(7461796)`); err != nil {
		lock.Close()
		db.Close()
		return nil, err
	}
	s, err := sqlstore.New(ctx, db, sqlstore.Dialect{Name: "postgres", Migrations: migrations, Dollar: true})
	lock.ExecContext(ctx, `SELECT pg_advisory_unlock(7461796)`)
	lock.Close()
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("opening PostgreSQL store: %w", err)
	}
	return &Store{s}, nil
}

// SchemaVersion is the number of the newest embedded migration.
func SchemaVersion() int { return sqlstore.SchemaVersion(migrations) }

// Versions lists the numbers of the embedded migrations, in order.
func Versions() []int { return sqlstore.Versions(migrations) }
