// Package postgres is the store on PostgreSQL (github.com/jackc/pgx), for a
// party that runs its station's database on a server of its own. Tables,
// statements and semantics are shared with SQLite in store/sqlstore, and
// it passes the same conformance suite; commits are durable with
// PostgreSQL's default synchronous_commit.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"hotline/internal/store"
	"hotline/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var embedded embed.FS

var migrations, _ = fs.Sub(embedded, "migrations")

// Store is a store.Store on PostgreSQL.
type Store struct {
	*sqlstore.Store

	lmu   sync.Mutex
	lease store.Lease // acquired by this store; zero if never
}

// IdleInTransaction is how long the server keeps a session that went
// silent inside a transaction. A paused process (SIGSTOP, a frozen
// machine) stuck in an Apply holds the lease row in share mode; the
// server ends its session after this, so that the takeover is not held
// up behind it.
const IdleInTransaction = 2 * time.Second

var _ store.Store = (*Store)(nil)

// Open connects to the database named by a postgres:// URL (or key=value
// connection string) and migrates it. Without a password in the URL, pgx
// looks in the password file libpq does (PGPASSFILE, or ~/.pgpass).
func Open(ctx context.Context, dsn string) (*Store, error) {
	return OpenPassword(ctx, dsn, "")
}

// OpenPassword is Open with the password given apart from the URL (read
// from a file by the caller): it is refused with a URL that holds one.
func OpenPassword(ctx context.Context, dsn, password string) (*Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL URL: %w", err)
	}
	if password != "" {
		if HasPassword(dsn) {
			return nil, errors.New("the PostgreSQL URL holds a password and a password file is given too: keep the password in one place")
		}
		cfg.Password = password
	}
	if _, ok := cfg.RuntimeParams["idle_in_transaction_session_timeout"]; !ok {
		cfg.RuntimeParams["idle_in_transaction_session_timeout"] = fmt.Sprint(IdleInTransaction.Milliseconds())
	}
	db := stdlib.OpenDB(*cfg)
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
	ps := &Store{Store: s}
	s.SetFence(ps.fence)
	return ps, nil
}

// SchemaVersion is the number of the newest embedded migration.
func SchemaVersion() int { return sqlstore.SchemaVersion(migrations) }

// Versions lists the numbers of the embedded migrations, in order.
func Versions() []int { return sqlstore.Versions(migrations) }

// HasPassword tells whether a connection string (a postgres:// URL or
// key=value pairs) holds a password itself.
func HasPassword(dsn string) bool {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return false
		}
		if _, ok := u.User.Password(); ok {
			return true
		}
		return u.Query().Has("password")
	}
	for _, f := range strings.Fields(dsn) {
		if k, _, ok := strings.Cut(f, "="); ok && strings.TrimSpace(k) == "password" {
			return true
		}
	}
	return false
}

// PassfilePath is the password file pgx and libpq read when the URL holds
// no password: the URL's passfile parameter, PGPASSFILE, or ~/.pgpass.
func PassfilePath(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if u, err := url.Parse(dsn); err == nil && u.Query().Get("passfile") != "" {
			return u.Query().Get("passfile")
		}
	} else {
		for _, f := range strings.Fields(dsn) {
			if k, v, ok := strings.Cut(f, "="); ok && k == "passfile" {
				return v
			}
		}
	}
	if p := os.Getenv("PGPASSFILE"); p != "" {
		return p
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".pgpass")
	}
	return ""
}
