package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hotline/internal/station"
	"hotline/internal/stationdir"
	"hotline/internal/store/postgres"
	"hotline/internal/store/postgres/pgtest"
)

// TestStorePassword: a server that asks for a password, and the places
// docs/OPERATIONS.md ("PostgreSQL") gives for it: a store_password_file of
// mode 0600, PGPASSFILE (or ~/.pgpass), or the URL, which doctor warns
// about. A missing or readable password file is refused, changing nothing.
func TestStorePassword(t *testing.T) {
	if server.Server == nil {
		t.Skip(server.skip)
	}
	const pw = "s3cret-Pw"
	srv, err := pgtest.StartPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	ctx := context.Background()
	root := t.TempDir()
	// No ~/.pgpass of this machine's takes part.
	t.Setenv("PGPASSFILE", filepath.Join(root, "no-pgpass"))
	n := 0
	init := func(dsn, pwFile string) (string, error) {
		n++
		dir := filepath.Join(root, fmt.Sprintf("st%d", n))
		_, err := stationdir.Init(ctx, stationdir.InitOptions{Dir: dir, Name: "USA", Party: "USA", PeerListen: "127.0.0.1:7443",
			APIListen: "127.0.0.1:0", Store: dsn, StorePasswordFile: pwFile})
		return dir, err
	}
	refused := func(dir string, err error, want ...string) {
		t.Helper()
		if err == nil {
			t.Fatalf("init was not refused")
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not say %q", err, w)
			}
		}
		if _, statErr := os.Stat(dir); !os.IsNotExist(statErr) {
			t.Errorf("a refused init left %s behind", dir)
		}
	}
	writePW := func(name string, mode os.FileMode) string {
		p := filepath.Join(root, name)
		if err := os.WriteFile(p, []byte(pw+"\n"), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return p
	}
	doctorSays := func(dir, status, detail string) {
		t.Helper()
		for _, d := range stationdir.Doctor(ctx, dir, stationdir.DoctorOptions{}) {
			if d.Check == "store password" {
				if d.Status != status || !strings.Contains(d.Detail, detail) {
					t.Errorf("doctor: %+v, want %s %q", d, status, detail)
				}
				return
			}
		}
		t.Errorf("doctor has no store password check")
	}

	// Without a password the server refuses, and init leaves nothing.
	dir, err := init(srv.FreshDB(t), "")
	refused(dir, err, "connecting to PostgreSQL")

	// A password file that is missing, readable by others, or given with
	// a URL that holds a password is refused before anything is written.
	dir, err = init(srv.FreshDB(t), filepath.Join(root, "missing"))
	refused(dir, err, "does not exist", filepath.Join(root, "missing"))
	loose := writePW("loose", 0o644)
	dir, err = init(srv.FreshDB(t), loose)
	refused(dir, err, "mode 0644", "chmod 600 "+loose)
	good := writePW("pw", 0o600)
	withPW := strings.Replace(srv.FreshDB(t), "hotline@", "hotline:"+pw+"@", 1)
	dir, err = init(withPW, good)
	refused(dir, err, "keep the password in the file alone")
	dir, err = init("sqlite:hotline.db", good)
	refused(dir, err, "for a PostgreSQL store")

	// The password file: config.json names it and holds no password.
	dsn := srv.FreshDB(t)
	dir, err = init(dsn, good)
	if err != nil {
		t.Fatal(err)
	}
	cj, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if strings.Contains(string(cj), pw) {
		t.Errorf("config.json holds the password:\n%s", cj)
	}
	cfg, err := stationdir.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StorePasswordFile != good || cfg.Store != dsn {
		t.Errorf("config: store %q, store_password_file %q", cfg.Store, cfg.StorePasswordFile)
	}
	st, err := stationdir.OpenConfigStore(ctx, dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	doctorSays(dir, "ok", good)
	// A relative name is the station directory's.
	if err := os.Rename(good, filepath.Join(dir, "store-password")); err != nil {
		t.Fatal(err)
	}
	cfg.StorePasswordFile = "store-password"
	if st, err = stationdir.OpenConfigStore(ctx, dir, cfg); err != nil {
		t.Fatal(err)
	}
	st.Close()
	// Readable by others, the file is refused where the station opens
	// its store, and doctor fails it.
	os.Chmod(filepath.Join(dir, "store-password"), 0o640)
	if _, err := stationdir.OpenConfigStore(ctx, dir, cfg); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a readable password file: %v", err)
	}
	os.Chmod(filepath.Join(dir, "store-password"), 0o600)
	data, _ := json.Marshal(cfg)
	os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600)
	doctorSays(dir, "ok", filepath.Join(dir, "store-password"))
	os.Chmod(filepath.Join(dir, "store-password"), 0o604)
	doctorSays(dir, "fail", "mode 0604")
	// The station itself: refused with a readable file, runs on the
	// password in its file.
	if st, err := station.Open(ctx, dir, nil); err == nil {
		st.Close()
		t.Error("the station opened with a password file readable by others")
	} else if !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("station with a readable password file: %v", err)
	}
	os.Chmod(filepath.Join(dir, "store-password"), 0o600)
	ps, err := station.Open(ctx, dir, nil)
	if err != nil {
		t.Fatalf("station with its password file: %v", err)
	}
	ps.Close()

	// PGPASSFILE, as libpq reads it; refused when others may read it.
	pgpass := filepath.Join(root, "pgpass")
	line := fmt.Sprintf("127.0.0.1:*:*:hotline:%s\n", pw)
	os.WriteFile(pgpass, []byte(line), 0o600)
	t.Setenv("PGPASSFILE", pgpass)
	dir, err = init(srv.FreshDB(t), "")
	if err != nil {
		t.Fatalf("init with PGPASSFILE: %v", err)
	}
	doctorSays(dir, "ok", "PGPASSFILE")
	os.Chmod(pgpass, 0o644)
	dir, err = init(srv.FreshDB(t), "")
	refused(dir, err, "mode 0644", "chmod 600 "+pgpass)
	t.Setenv("PGPASSFILE", filepath.Join(root, "no-pgpass"))

	// The password file in the station directory, written before init
	// (docs/OPERATIONS.md, "Several machines"): a refused init leaves it
	// there, alone.
	pre := filepath.Join(root, "pre")
	os.Mkdir(pre, 0o700)
	inDir := filepath.Join(pre, "store-password")
	os.WriteFile(inDir, []byte("wrong\n"), 0o600)
	_, err = stationdir.Init(ctx, stationdir.InitOptions{Dir: pre, Name: "USA", Party: "USA", PeerListen: "127.0.0.1:7443",
		APIListen: "127.0.0.1:0", Store: srv.FreshDB(t), StorePasswordFile: inDir})
	if err == nil || !strings.Contains(err.Error(), "connecting to PostgreSQL") {
		t.Errorf("init with a wrong password: %v", err)
	}
	if ents, _ := os.ReadDir(pre); len(ents) != 1 || ents[0].Name() != "store-password" {
		t.Errorf("a refused init left %v in %s", ents, pre)
	}
	os.WriteFile(inDir, []byte(pw+"\n"), 0o600)
	if _, err = stationdir.Init(ctx, stationdir.InitOptions{Dir: pre, Name: "USA", Party: "USA", PeerListen: "127.0.0.1:7443",
		APIListen: "127.0.0.1:0", Store: srv.FreshDB(t), StorePasswordFile: inDir}); err != nil {
		t.Fatal(err)
	}
	doctorSays(pre, "ok", inDir)

	// The password in the URL still works; doctor warns that config.json
	// holds it.
	dir, err = init(strings.Replace(srv.FreshDB(t), "hotline@", "hotline:"+pw+"@", 1), "")
	if err != nil {
		t.Fatal(err)
	}
	doctorSays(dir, "warn", "holds the database password")
}

func TestHasPassword(t *testing.T) {
	for dsn, want := range map[string]bool{
		"postgres://hotline@db/x":                      false,
		"postgres://hotline:pw@db/x":                   true,
		"postgresql://hotline:@db/x":                   true,
		"postgres://hotline@db/x?password=pw":          true,
		"postgres://hotline@db/x?passfile=/etc/pgpass": false,
		"host=db user=hotline dbname=x":                false,
		"host=db user=hotline password=pw dbname=x":    true,
	} {
		if got := postgres.HasPassword(dsn); got != want {
			t.Errorf("HasPassword(%q) = %v", dsn, got)
		}
	}
}
