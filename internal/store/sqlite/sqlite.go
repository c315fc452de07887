// Package sqlite is the embedded store: one SQLite file per station
// (modernc.org/sqlite, no cgo), in WAL mode with full sync so that a batch
// that Apply returned for survives power loss. Tables, statements and
// semantics are shared with the other engines in store/sqlstore;
// migrations are embedded and run forward on open.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"os"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"hotline/internal/store"
	"hotline/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var embedded embed.FS

var migrations, _ = fs.Sub(embedded, "migrations")

// Store is a store.Store on SQLite.
type Store struct {
	*sqlstore.Store
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database at path and migrates it.
func Open(ctx context.Context, path string) (*Store, error) {
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(4)
	s, err := sqlstore.New(ctx, db, sqlstore.Dialect{Name: "sqlite", Migrations: migrations})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	return &Store{s}, nil
}

// SchemaVersion is the number of the newest embedded migration.
func SchemaVersion() int { return sqlstore.SchemaVersion(migrations) }

// Versions lists the numbers of the embedded migrations, in order.
func Versions() []int { return sqlstore.Versions(migrations) }

// Backup writes a consistent copy of the database to path.
func (s *Store) Backup(ctx context.Context, path string) error {
	_, err := s.DB().ExecContext(ctx, `VACUUM INTO ?`, path)
	return err
}

// Snapshot writes a consistent copy of the database at src to dst (which
// must not exist), while other connections, another process's included,
// go on writing: VACUUM INTO reads one snapshot.
func Snapshot(ctx context.Context, src, dst string) error {
	if _, err := os.Stat(src); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", "file:"+src+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, `VACUUM INTO ?`, dst)
	return err
}
