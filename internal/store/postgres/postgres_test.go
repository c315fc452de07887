package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"hotline/internal/identity"
	"hotline/internal/station"
	"hotline/internal/store"
	"hotline/internal/store/postgres"
	"hotline/internal/store/storetest"
)

// server is a real PostgreSQL server started for these tests.
var server struct {
	dsn  func(db string) string
	skip string
}

// TestMain starts a throwaway PostgreSQL server (initdb + pg_ctl from the
// Debian postgresql package) in a temporary directory. Without the server
// binaries the tests fail under CI and are skipped, loudly, elsewhere.
func TestMain(m *testing.M) {
	stop, err := startServer()
	if err != nil {
		if os.Getenv("CI") != "" {
			fmt.Fprintln(os.Stderr, "postgres tests:", err)
			os.Exit(1)
		}
		server.skip = err.Error() + " (install Debian's postgresql package to run these tests)"
	}
	code := m.Run()
	if stop != nil {
		stop()
	}
	os.Exit(code)
}

func binDir() (string, error) {
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dir := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		return "", fmt.Errorf("no PostgreSQL server binaries (initdb) found")
	}
	return filepath.Dir(matches[len(matches)-1]), nil
}

func startServer() (func(), error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "hotline-pg-")
	if err != nil {
		return nil, err
	}
	// PostgreSQL refuses to run as root: run it as the postgres user then.
	var run func(name string, args ...string) *exec.Cmd
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and there is no postgres user: %w", err)
		}
		if out, err := exec.Command("chown", "-R", u.Uid+":"+u.Gid, dir).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("chown: %v: %s", err, out)
		}
		os.Chmod(dir, 0o755)
		run = func(name string, args ...string) *exec.Cmd {
			return exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(bin, name)}, args...)...)
		}
	} else {
		run = func(name string, args ...string) *exec.Cmd { return exec.Command(filepath.Join(bin, name), args...) }
	}
	data := filepath.Join(dir, "data")
	if out, err := run("initdb", "-D", data, "-U", "hotline", "--auth=trust", "-E", "UTF8", "--no-locale").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=on", port, dir)
	if out, err := run("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		return nil, fmt.Errorf("pg_ctl start: %v: %s %s", err, out, log)
	}
	server.dsn = func(db string) string {
		return fmt.Sprintf("postgres://hotline@127.0.0.1:%d/%s?sslmode=disable", port, db)
	}
	return func() {
		run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop").Run()
		os.RemoveAll(dir)
	}, nil
}

var dbSeq atomic.Int64

// freshDB creates an empty database and returns its connection string.
func freshDB(t *testing.T) string {
	t.Helper()
	if server.skip != "" {
		t.Skip(server.skip)
	}
	admin, err := sql.Open("pgx", server.dsn("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbSeq.Add(1))
	if _, err := admin.ExecContext(t.Context(), "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	return server.dsn(name)
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
	if err := s.Apply(ctx, &store.Batch{Alerts: []store.Alert{{At: time.Unix(1, 0), Level: "warning", Text: "kept"}}}); err != nil {
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
		return station.Init(ctx, station.InitOptions{Dir: dir, Name: name, Party: name, PeerListen: "127.0.0.1:1", APIListen: "127.0.0.1:0", Store: storeURL})
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
	if _, err := st.Propose(ctx, station.ProposeRequest{Peer: "CHN", Channel: "ops", Level: "staff"}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, err = station.Open(ctx, usaDir, nil)
	if err != nil {
		t.Fatal(err)
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
