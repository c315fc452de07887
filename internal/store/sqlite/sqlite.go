// Package sqlite is the embedded store: one SQLite file per station
// (modernc.org/sqlite, no cgo), in WAL mode with full sync so that a batch
// that Apply returned for survives power loss. Tables, statements and
// semantics are shared with the other engines in store/sqlstore;
// migrations are embedded and run forward on open.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"hotline/internal/record"
	"hotline/internal/store"
	"hotline/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var embedded embed.FS

var migrations, _ = fs.Sub(embedded, "migrations")

// Store is a store.Store on SQLite.
//
// Checkpoints (copying the WAL back into the database file, with two
// syncs) are not left to SQLite, which runs one inside the commit that
// fills the WAL to 1,000 pages: that commit, and the message waiting on
// it, would take a checkpoint's time. A goroutine runs them instead,
// beside the writes, CheckpointEvery after a write.
type Store struct {
	*sqlstore.Store
	writes      atomic.Uint64 // Applies so far
	checkpoints atomic.Uint64 // checkpoints run
	restarts    atomic.Uint64 // WAL restarts
	stop, done  chan struct{}
	closeOnce   sync.Once
}

var _ store.Store = (*Store)(nil)

// CheckpointEvery is how often the checkpointer looks for writes to copy
// back; the WAL holds at most about this long's writes beyond what
// readers still need.
const CheckpointEvery = 250 * time.Millisecond

// Open opens (creating if needed) the database at path and migrates it.
func Open(ctx context.Context, path string) (*Store, error) {
	// The database holds message bodies in clear and password hashes: it
	// is created for its owner alone, and SQLite gives its -wal and -shm
	// files the database file's mode.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	} else if !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)&_pragma=wal_autocheckpoint(0)&_txlock=immediate"
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
	st := &Store{Store: s, stop: make(chan struct{}), done: make(chan struct{})}
	go st.checkpointer()
	return st, nil
}

// Apply applies a batch (see store.Store) and lets the checkpointer know.
func (s *Store) Apply(ctx context.Context, b *record.Batch) error {
	err := s.Store.Apply(ctx, b)
	s.writes.Add(1)
	return err
}

// Restarts is how many times the checkpointer has restarted the WAL.
func (s *Store) Restarts() uint64 { return s.restarts.Load() }

// Checkpoints is how many checkpoints the checkpointer has run.
func (s *Store) Checkpoints() uint64 { return s.checkpoints.Load() }

func (s *Store) checkpointer() {
	defer close(s.done)
	t := time.NewTicker(CheckpointEvery)
	defer t.Stop()
	var seen uint64
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if w := s.writes.Load(); w != seen {
			seen = w
			// PASSIVE never waits for readers or writers: it copies what
			// no reader needs, and the next one copies the rest. An error
			// (the disk full, say) is the next write's to report.
			var busy, logFrames, copied int
			if err := s.DB().QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &copied); err == nil {
				s.checkpoints.Add(1)
				if busy == 0 && copied == logFrames {
					// No reader holds an older snapshot (a backup's, say):
					// a restart has only the frames written since to copy.
					s.restart()
				}
			}
		}
	}
}

// restartWait bounds how long a restart of the WAL waits for the writer
// and for readers; meanwhile new writes wait too. One that cannot finish
// in time gives up and is tried again at the next checkpoint.
const restartWait = 5 * time.Millisecond

// restart copies back the few frames written since the PASSIVE checkpoint
// and has the next commit write the WAL from its beginning again. Without
// it the WAL never restarts while writes keep coming (a PASSIVE checkpoint
// is always overtaken by them): it grows without bound, and every commit
// extends the file, whose sync then costs about twice as much as one that
// overwrites blocks already allocated. RESTART, not TRUNCATE: the file
// keeps its size, so that the next commits overwrite it.
func (s *Store) restart() {
	ctx := context.Background()
	c, err := s.DB().Conn(ctx)
	if err != nil {
		return
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, fmt.Sprintf(`PRAGMA busy_timeout = %d`, restartWait.Milliseconds())); err != nil {
		c.Raw(func(any) error { return driver.ErrBadConn }) // do not give it back with the short timeout
		return
	}
	var busy, logFrames, done int
	if err := c.QueryRowContext(ctx, `PRAGMA wal_checkpoint(RESTART)`).Scan(&busy, &logFrames, &done); err == nil && busy == 0 {
		s.restarts.Add(1)
	}
	if _, err := c.ExecContext(ctx, `PRAGMA busy_timeout = 10000`); err != nil {
		c.Raw(func(any) error { return driver.ErrBadConn })
	}
}

// Close stops the checkpointer, copies the WAL back and closes the
// database.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
		s.DB().Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	})
	return s.Store.Close()
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
