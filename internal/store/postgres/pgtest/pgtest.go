// Package pgtest starts a throwaway PostgreSQL server (initdb and pg_ctl
// from Debian's postgresql package) for tests that need a real one: the
// store's own tests and the real-process tests of a station on several
// machines.
package pgtest

import (
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

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// Server is a running PostgreSQL server in a temporary directory.
type Server struct {
	port int
	// password is the hotline role's, when the server asks for one
	// (StartPassword); DSN leaves it out, admin connections use it.
	password string
	stop     func()
	seq      atomic.Int64
}

// DSN is the connection string of database db on the server.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("postgres://hotline@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

func (s *Server) adminDSN() string {
	if s.password == "" {
		return s.DSN("postgres")
	}
	return fmt.Sprintf("postgres://hotline:%s@127.0.0.1:%d/postgres?sslmode=disable", s.password, s.port)
}

// Stop stops the server at once and removes its files.
func (s *Server) Stop() { s.stop() }

// FreshDB creates an empty database and returns its connection string.
func (s *Server) FreshDB(t testing.TB) string {
	t.Helper()
	admin, err := sql.Open("pgx", s.adminDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	name := fmt.Sprintf("t%d_%d", os.Getpid(), s.seq.Add(1))
	if _, err := admin.ExecContext(t.Context(), "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	return s.DSN(name)
}

// Main is for a TestMain: it starts a server and returns it, or, without
// the server binaries, returns the reason to skip (and exits under CI,
// where the binaries must be there).
func Main() (srv *Server, skip string) {
	srv, err := Start()
	if err != nil {
		if os.Getenv("CI") != "" {
			fmt.Fprintln(os.Stderr, "postgres tests:", err)
			os.Exit(1)
		}
		return nil, err.Error() + " (install Debian's postgresql package to run these tests)"
	}
	return srv, ""
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

// Start starts a server listening on a free loopback port, trusting every
// connection.
func Start() (*Server, error) { return start("") }

// StartPassword starts a server that asks for the hotline role's password
// (scram-sha-256): DSN leaves it out, so a connection needs it given
// apart, in a password file or PGPASSFILE.
func StartPassword(password string) (*Server, error) { return start(password) }

func start(password string) (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "hotline-pg-")
	if err != nil {
		return nil, err
	}
	auth := []string{"--auth=trust"}
	if password != "" {
		pw := filepath.Join(dir, "pw")
		if err := os.WriteFile(pw, []byte(password+"\n"), 0o600); err != nil {
			return nil, err
		}
		auth = []string{"--auth=scram-sha-256", "--pwfile=" + pw}
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
	if out, err := run("initdb", append([]string{"-D", data, "-U", "hotline", "-E", "UTF8", "--no-locale"}, auth...)...).CombinedOutput(); err != nil {
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
	return &Server{port: port, password: password, stop: func() {
		run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop").Run()
		os.RemoveAll(dir)
	}}, nil
}
