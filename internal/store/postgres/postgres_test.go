package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hotline/internal/identity"
	"hotline/internal/ops"
	"hotline/internal/protocol"
	"hotline/internal/record"
	"hotline/internal/station"
	"hotline/internal/stationdir"
	"hotline/internal/store"
	"hotline/internal/store/postgres"
	"hotline/internal/store/postgres/pgtest"
	"hotline/internal/store/storetest"
)

// server is a real PostgreSQL server started for these tests, or why
// there is none.
var server struct {
	*pgtest.Server
	skip string
}

// TestMain starts a throwaway PostgreSQL server (see pgtest). Without the
// server binaries the tests fail under CI and are skipped, loudly,
// elsewhere.
func TestMain(m *testing.M) {
	server.Server, server.skip = pgtest.Main()
	code := m.Run()
	if server.Server != nil {
		server.Stop()
	}
	os.Exit(code)
}

// freshDB creates an empty database and returns its connection string.
func freshDB(t *testing.T) string {
	t.Helper()
	if server.skip != "" {
		t.Skip(server.skip)
	}
	return server.FreshDB(t)
}

func open(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestConformance runs the suite every store engine must pass.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, freshDB(t)) })
}

// TestMigrations: a new database gets every migration once; reopening
// does not run them again and keeps the data; a database newer than the
// binary is refused.
func TestMigrations(t *testing.T) {
	dsn := freshDB(t)
	s := open(t, dsn)
	ctx := t.Context()
	if err := s.Apply(ctx, &record.Batch{Alerts: []record.Alert{{At: time.Unix(1, 0), Level: "warning", Text: "kept"}}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, dsn)
	var n, max int
	if err := s.DB().QueryRowContext(ctx, `SELECT COUNT(*), MAX(version) FROM schema_version`).Scan(&n, &max); err != nil {
		t.Fatal(err)
	}
	if n != len(postgres.Versions()) || max != postgres.SchemaVersion() {
		t.Errorf("schema_version has %d rows up to %d, want %v", n, max, postgres.Versions())
	}
	as, err := s.Alerts(ctx, 0)
	if err != nil || len(as) != 1 || as[0].Text != "kept" {
		t.Errorf("after reopening: alerts %v, %v", as, err)
	}
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, postgres.SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := postgres.Open(ctx, dsn); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("opening a newer database: %v, want a refusal naming it newer", err)
	}
}

// TestOpenRefusesBadServer: a wrong address is a clear error, not a hang.
func TestOpenRefusesBadServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = postgres.Open(ctx, "postgres://hotline@"+addr+"/x?sslmode=disable&connect_timeout=5")
	if err == nil || !strings.Contains(err.Error(), "connecting to PostgreSQL") {
		t.Errorf("Open with nothing listening = %v", err)
	}
}

// TestStationOnPostgres: a station created with a postgres:// store keeps
// what it did there across a restart, and a bad URL at init leaves nothing
// behind.
func TestStationOnPostgres(t *testing.T) {
	dsn := freshDB(t)
	ctx := t.Context()
	root := t.TempDir()
	create := func(name, dir, storeURL string) (*identity.Card, error) {
		return stationdir.Init(ctx, stationdir.InitOptions{Dir: dir, Name: name, Party: name, PeerListen: "127.0.0.1:1", APIListen: "127.0.0.1:0", Store: storeURL})
	}
	usaDir := filepath.Join(root, "usa")
	if _, err := create("USA", usaDir, dsn); err != nil {
		t.Fatal(err)
	}
	chn, err := create("CHN", filepath.Join(root, "chn"), "")
	if err != nil {
		t.Fatal(err)
	}
	st, err := station.Open(ctx, usaDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddPeer(ctx, chn.Text, chn.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Propose(ctx, ops.ProposeRequest{Peer: "CHN", Channel: "ops", Level: "staff"}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	// The stopped process could not release its lease: it expires.
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err = station.Open(ctx, usaDir, nil)
		if err == nil {
			break
		}
		if !errors.Is(err, station.ErrStandby) || time.Now().After(deadline) {
			t.Fatalf("reopening once the database is back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	defer st.Close()
	chs, err := st.Channels(ctx)
	if err != nil || len(chs) != 1 || chs[0].ID != "ops" || chs[0].State != "proposed" || chs[0].Written != 1 {
		t.Fatalf("after restart: channels %+v, %v", chs, err)
	}
	// The rows are in PostgreSQL, not in a file beside the station.
	if _, err := os.Stat(filepath.Join(usaDir, "hotline.db")); !os.IsNotExist(err) {
		t.Errorf("a SQLite file exists beside a PostgreSQL station: %v", err)
	}

	bad := filepath.Join(root, "bad")
	if _, err := create("BAD", bad, "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=3"); err == nil {
		t.Fatal("init with an unreachable PostgreSQL succeeded")
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Errorf("a failed init left %s behind", bad)
	}
}

// TestUpgrade: a database at every earlier schema version, holding what
// that version held, is migrated forward on open and reads back as a
// fresh one; a newer database and a migration failing part way change
// nothing (see storetest.RunUpgrade).
func TestUpgrade(t *testing.T) {
	if server.skip != "" {
		t.Skip(server.skip)
	}
	storetest.RunUpgrade(t, storetest.Engine{
		Dialect: postgres.Dialect,
		Create:  func(t *testing.T) string { return server.FreshDB(t) },
		Raw: func(t *testing.T, dsn string) *sql.DB {
			db, err := sql.Open("pgx", dsn)
			if err != nil {
				t.Fatal(err)
			}
			return db
		},
		Open:   func(ctx context.Context, dsn string) (store.Store, error) { return postgres.Open(ctx, dsn) },
		Schema: schema,
	})
}

// schema describes the public schema from the catalog: columns, identity
// sequences, constraints and indexes, one per line, in a fixed order.
func schema(t *testing.T, db *sql.DB) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT 'column ' || table_name || '.' || column_name || ' #' || ordinal_position || ' ' || data_type ||
			' null=' || is_nullable || ' default=' || COALESCE(column_default, '-') || ' identity=' || is_identity ||
			' ' || COALESCE(identity_generation, '-')
		FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`,
		`SELECT 'sequence ' || sequence_name || ' ' || data_type || ' start=' || start_value || ' increment=' || increment
		FROM information_schema.sequences WHERE sequence_schema = 'public' ORDER BY sequence_name`,
		`SELECT 'constraint ' || c.conrelid::regclass::text || ' ' || c.conname || ': ' || pg_get_constraintdef(c.oid)
		FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public'
		ORDER BY c.conrelid::regclass::text, c.conname`,
		`SELECT 'index ' || tablename || ' ' || indexname || ': ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
		ORDER BY tablename, indexname`,
	} {
		rows, err := db.QueryContext(t.Context(), q)
		if err != nil {
			t.Fatalf("reading the schema: %v", err)
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			b.WriteString(line + "\n")
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// TestReadOnlyRefused: a database that does not take writes (set
// read-only, as a standby is) is refused at open with an error that says
// so, not at the station's first write, and nothing in it changes.
func TestReadOnlyRefused(t *testing.T) {
	dsn := freshDB(t)
	ctx := t.Context()
	s := open(t, dsn)
	if err := s.Apply(ctx, &record.Batch{Alerts: []record.Alert{{At: time.Unix(1, 0), Level: "warning", Text: "kept"}}}); err != nil {
		t.Fatal(err)
	}
	name := s.DB()
	var db string
	if err := name.QueryRowContext(ctx, `SELECT current_database()`).Scan(&db); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `ALTER DATABASE `+db+` SET default_transaction_read_only = on`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	before := schema(t, rawDB(t, dsn))
	if s, err := postgres.Open(ctx, dsn); err == nil {
		s.Close()
		t.Fatal("opening a read-only database succeeded, want a refusal")
	} else if !strings.Contains(err.Error(), "does not take writes") || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("refusal %q does not say the database does not take writes", err)
	}
	raw := rawDB(t, dsn)
	if got := schema(t, raw); got != before {
		t.Errorf("the refused open changed the schema")
	}
	if _, err := raw.ExecContext(ctx, `SET default_transaction_read_only = off`); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx, `ALTER DATABASE `+db+` SET default_transaction_read_only = off`); err != nil {
		t.Fatal(err)
	}
	s = open(t, dsn)
	defer s.Close()
	if as, err := s.Alerts(ctx, 0); err != nil || len(as) != 1 || as[0].Text != "kept" {
		t.Errorf("after the refusal: alerts %v, %v", as, err)
	}
}

func rawDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// TestStationDatabaseGone: the database of a running station goes away
// (its sessions ended, no new ones allowed). The next write fails with a
// storage error, the station stops rather than go on without its disk,
// and once the database is back the station reopens with what it had:
// nothing of the failed write, nothing half-written.
func TestStationDatabaseGone(t *testing.T) {
	dsn := freshDB(t)
	ctx := t.Context()
	root := t.TempDir()
	usaDir := filepath.Join(root, "usa")
	if _, err := stationdir.Init(ctx, stationdir.InitOptions{Dir: usaDir, Name: "USA", Party: "USA", PeerListen: "127.0.0.1:0", APIListen: "127.0.0.1:0", Store: dsn}); err != nil {
		t.Fatal(err)
	}
	chn, err := stationdir.Init(ctx, stationdir.InitOptions{Dir: filepath.Join(root, "chn"), Name: "CHN", Party: "CHN", PeerListen: "127.0.0.1:1", APIListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := station.Open(ctx, usaDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddPeer(ctx, chn.Text, chn.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Propose(ctx, ops.ProposeRequest{Peer: "CHN", Channel: "ops", Level: "staff"}); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- st.Run(runCtx) }()

	admin := rawDB(t, server.DSN("postgres"))
	var name string
	if err := rawDB(t, dsn).QueryRowContext(ctx, `SELECT current_database()`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`ALTER DATABASE ` + name + ` ALLOW_CONNECTIONS false`,
		`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '` + name + `'`,
	} {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	_, err = st.Propose(ctx, ops.ProposeRequest{Peer: "CHN", Channel: "gone", Level: "staff"})
	if !errors.Is(err, protocol.ErrStorage) {
		t.Errorf("a write with the database gone: %v, want a storage error", err)
	} else if !strings.Contains(err.Error(), name) && !strings.Contains(err.Error(), "terminat") && !strings.Contains(err.Error(), "connect") {
		t.Errorf("the storage error %q does not say what happened to the database", err)
	}
	select {
	case <-st.Done():
		if err := st.Err(); err == nil || !strings.Contains(err.Error(), "terminating connection") {
			t.Errorf("the station stopped with %v, want the store's error", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the station went on running without its database")
	}
	if err := <-done; err == nil {
		t.Error("Run returned nil after the station stopped on a failed write")
	}
	st.Close()

	if _, err := admin.ExecContext(ctx, `ALTER DATABASE `+name+` ALLOW_CONNECTIONS true`); err != nil {
		t.Fatal(err)
	}
	// The stopped process could not release its lease: it expires.
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err = station.Open(ctx, usaDir, nil)
		if err == nil {
			break
		}
		if !errors.Is(err, station.ErrStandby) || time.Now().After(deadline) {
			t.Fatalf("reopening once the database is back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	defer st.Close()
	chs, err := st.Channels(ctx)
	if err != nil || len(chs) != 1 || chs[0].ID != "ops" || chs[0].Written != 1 {
		t.Errorf("after the database came back: channels %+v, %v; want ops alone, as before", chs, err)
	}
}
