package migrate_test

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"hotline/internal/migrate"
)

// open opens a new SQLite database in a file of its own.
func open(t *testing.T) *sql.DB {
	t.Helper()
	return openPath(t, filepath.Join(t.TempDir(), "test.db"), "")
}

func openPath(t *testing.T, path, params string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)"+params)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// file is a migration of the given statements.
func file(stmts ...string) *fstest.MapFile {
	return &fstest.MapFile{Data: []byte(strings.Join(stmts, "\n;\n") + "\n")}
}

// versions is what schema_version records, in order.
func versions(t *testing.T, db *sql.DB) []int {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), `SELECT version FROM schema_version ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// dump describes every table and index and every row of every table.
func dump(t *testing.T, db *sql.DB) string {
	t.Helper()
	ctx := t.Context()
	rows, err := db.QueryContext(ctx, `SELECT type, name, COALESCE(sql, '') FROM sqlite_master ORDER BY type, name`)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	var tables []string
	for rows.Next() {
		var typ, name, text string
		if err := rows.Scan(&typ, &name, &text); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %s: %s\n", typ, name, text)
		if typ == "table" {
			tables = append(tables, name)
		}
	}
	rows.Close()
	for _, table := range tables {
		rows, err := db.QueryContext(ctx, `SELECT * FROM `+table+` ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		cols, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s row %v\n", table, vals)
		}
		rows.Close()
	}
	return b.String()
}

// has reports whether the database has a table of that name.
func has(t *testing.T, db *sql.DB, table string) bool {
	t.Helper()
	var n int
	if err := db.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// TestInOrder: migrations run in order of their numbers, not of their
// names (10 after 9), each recorded once.
func TestInOrder(t *testing.T) {
	ctx := t.Context()
	db := open(t)
	fsys := fstest.MapFS{
		"9_init.sql":  file("CREATE TABLE things (name TEXT NOT NULL)", "INSERT INTO things (name) VALUES ('first')"),
		"10_more.sql": file("ALTER TABLE things ADD COLUMN size INTEGER NOT NULL DEFAULT 0", "UPDATE things SET size = 7"),
		"11_idx.sql":  file("CREATE INDEX things_size ON things (size)"),
	}
	if got, err := migrate.Versions(fsys); err != nil || !slices.Equal(got, []int{9, 10, 11}) {
		t.Fatalf("Versions = %v, %v; want [9 10 11]", got, err)
	}
	if got := migrate.Latest(fsys); got != 11 {
		t.Errorf("Latest = %d, want 11", got)
	}
	if err := migrate.Up(ctx, db, fsys, nil); err != nil {
		t.Fatal(err)
	}
	if got := versions(t, db); !slices.Equal(got, []int{9, 10, 11}) {
		t.Errorf("schema_version = %v, want [9 10 11]", got)
	}
	var name string
	var size int
	if err := db.QueryRowContext(ctx, `SELECT name, size FROM things`).Scan(&name, &size); err != nil || name != "first" || size != 7 {
		t.Errorf("things = %q %d (%v), want first 7", name, size, err)
	}
}

// TestGapsAllowed: numbers may skip, and a migration numbered below one
// already applied (written on another branch, landed later) still runs.
func TestGapsAllowed(t *testing.T) {
	ctx := t.Context()
	db := open(t)
	first := fstest.MapFS{
		"001_a.sql": file("CREATE TABLE a (x INTEGER)"),
		"003_c.sql": file("CREATE TABLE c (x INTEGER)"),
	}
	if err := migrate.Up(ctx, db, first, nil); err != nil {
		t.Fatalf("001 and 003: %v", err)
	}
	if got := versions(t, db); !slices.Equal(got, []int{1, 3}) {
		t.Errorf("schema_version = %v, want [1 3]", got)
	}
	later := fstest.MapFS{
		"001_a.sql": first["001_a.sql"],
		"002_b.sql": file("CREATE TABLE b (x INTEGER)"),
		"003_c.sql": first["003_c.sql"],
	}
	if err := migrate.Up(ctx, db, later, nil); err != nil {
		t.Fatalf("002 landing after 003: %v", err)
	}
	if got := versions(t, db); !slices.Equal(got, []int{1, 2, 3}) {
		t.Errorf("schema_version = %v, want [1 2 3]", got)
	}
	if !has(t, db, "b") {
		t.Error("002 was recorded but its table is missing")
	}
}

// TestDuplicateRefused: two files with the same number are refused
// before either runs.
func TestDuplicateRefused(t *testing.T) {
	db := open(t)
	fsys := fstest.MapFS{
		"001_a.sql": file("CREATE TABLE a (x INTEGER)"),
		"001_b.sql": file("CREATE TABLE b (x INTEGER)"),
	}
	want := "migrations 001_a.sql and 001_b.sql have the same number"
	if _, err := migrate.Versions(fsys); err == nil || err.Error() != want {
		t.Errorf("Versions: %v, want %q", err, want)
	}
	if got := migrate.Latest(fsys); got != 0 {
		t.Errorf("Latest = %d, want 0", got)
	}
	if err := migrate.Up(t.Context(), db, fsys, nil); err == nil || err.Error() != want {
		t.Errorf("Up: %v, want %q", err, want)
	}
	if has(t, db, "a") || has(t, db, "b") || len(versions(t, db)) != 0 {
		t.Errorf("a refused set of migrations ran:\n%s", dump(t, db))
	}
}

// TestBadNamesRefused: a name that does not start with a positive
// number is refused before anything runs.
func TestBadNamesRefused(t *testing.T) {
	for _, name := range []string{"init.sql", "000_zero.sql", "-1_minus.sql", "x001_a.sql", "1a_b.sql", "_a.sql"} {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			fsys := fstest.MapFS{
				"002_good.sql": file("CREATE TABLE good (x INTEGER)"),
				name:           file("CREATE TABLE bad (x INTEGER)"),
			}
			want := "migration " + name + ": name must start with a positive number, like 003_"
			if _, err := migrate.Versions(fsys); err == nil || err.Error() != want {
				t.Errorf("Versions: %v, want %q", err, want)
			}
			if err := migrate.Up(t.Context(), db, fsys, nil); err == nil || err.Error() != want {
				t.Errorf("Up: %v, want %q", err, want)
			}
			if has(t, db, "good") || has(t, db, "bad") || len(versions(t, db)) != 0 {
				t.Errorf("a refused set of migrations ran:\n%s", dump(t, db))
			}
		})
	}
	// Files that are not .sql are not migrations.
	fsys := fstest.MapFS{"001_a.sql": file("SELECT 1"), "README": {Data: []byte("notes")}, "002_b.sql.orig": {Data: []byte("x")}}
	if got, err := migrate.Versions(fsys); err != nil || !slices.Equal(got, []int{1}) {
		t.Errorf("Versions = %v, %v; want [1]", got, err)
	}
}

// TestFailedMigrationRolledBack: a migration that fails part way leaves
// nothing of itself: no table, column or row it made or changed, and no
// schema_version row. The migrations before it stay applied, and the
// error names the file.
func TestFailedMigrationRolledBack(t *testing.T) {
	ctx := t.Context()
	db := open(t)
	good := fstest.MapFS{
		"001_init.sql": file("CREATE TABLE peers (name TEXT PRIMARY KEY, party TEXT NOT NULL)",
			"INSERT INTO peers (name, party) VALUES ('bravo', 'blue')",
			"INSERT INTO peers (name, party) VALUES ('charlie', 'red')"),
	}
	if err := migrate.Up(ctx, db, good, nil); err != nil {
		t.Fatal(err)
	}
	before := dump(t, db)
	broken := fstest.MapFS{
		"001_init.sql": good["001_init.sql"],
		"002_half_done.sql": file("CREATE TABLE half_done (x INTEGER NOT NULL)",
			"INSERT INTO half_done (x) VALUES (1)",
			"ALTER TABLE peers ADD COLUMN half_done TEXT NOT NULL DEFAULT ''",
			"UPDATE peers SET party = 'changed'",
			"DELETE FROM peers WHERE name = 'charlie'",
			"CREATE INDEX peers_party ON peers (party)",
			"SELECT no_such_column FROM peers"),
		"003_after.sql": file("CREATE TABLE after (x INTEGER)"),
	}
	err := migrate.Up(ctx, db, broken, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "migration 002_half_done.sql: ") || !strings.Contains(err.Error(), "no_such_column") {
		t.Fatalf("a migration failing part way: %v, want an error naming 002_half_done.sql and the failure", err)
	}
	if got := dump(t, db); got != before {
		t.Errorf("the failed migration left something behind:\n%s\nwas:\n%s", got, before)
	}
	if got := versions(t, db); !slices.Equal(got, []int{1}) {
		t.Errorf("schema_version = %v, want [1]", got)
	}
	// Mended, it runs, and so does the one after it.
	broken["002_half_done.sql"] = file("CREATE TABLE half_done (x INTEGER NOT NULL)")
	if err := migrate.Up(ctx, db, broken, nil); err != nil {
		t.Fatalf("the mended migration: %v", err)
	}
	if got := versions(t, db); !slices.Equal(got, []int{1, 2, 3}) || !has(t, db, "after") {
		t.Errorf("schema_version = %v, want [1 2 3] with table after", got)
	}
}

// TestNewerRefused: a database recording a migration the binary does not
// have was written by a newer binary. It is refused, naming both
// versions, and nothing is run on it, not even migrations it lacks.
func TestNewerRefused(t *testing.T) {
	ctx := t.Context()
	db := open(t)
	fsys := fstest.MapFS{
		"001_a.sql": file("CREATE TABLE a (x INTEGER)", "INSERT INTO a (x) VALUES (1)"),
		"002_b.sql": file("CREATE TABLE b (x INTEGER)"),
	}
	if err := migrate.Up(ctx, db, fstest.MapFS{"001_a.sql": fsys["001_a.sql"]}, nil); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{`CREATE TABLE from_the_future (x INTEGER)`, `INSERT INTO schema_version (version) VALUES (5)`, `INSERT INTO schema_version (version) VALUES (4)`} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	before := dump(t, db)
	want := "database schema version 5 is newer than this binary knows (2); run a newer hotline"
	if err := migrate.Up(ctx, db, fsys, nil); err == nil || err.Error() != want {
		t.Fatalf("opening a database from a newer binary: %v, want %q", err, want)
	}
	if got := dump(t, db); got != before {
		t.Errorf("the refusal changed the database:\n%s\nwas:\n%s", got, before)
	}
	if has(t, db, "b") {
		t.Error("002 ran on a refused database")
	}
}

// TestTwiceNoOp: running the same migrations again changes nothing.
func TestTwiceNoOp(t *testing.T) {
	ctx := t.Context()
	db := open(t)
	fsys := fstest.MapFS{
		"001_a.sql": file("CREATE TABLE a (x INTEGER)", "INSERT INTO a (x) VALUES (1)"),
		"004_d.sql": file("INSERT INTO a (x) VALUES (4)"),
	}
	if err := migrate.Up(ctx, db, fsys, nil); err != nil {
		t.Fatal(err)
	}
	before := dump(t, db)
	if err := migrate.Up(ctx, db, fsys, nil); err != nil {
		t.Fatalf("the second run: %v", err)
	}
	if got := dump(t, db); got != before {
		t.Errorf("the second run changed the database:\n%s\nwas:\n%s", got, before)
	}
	if got := versions(t, db); !slices.Equal(got, []int{1, 4}) {
		t.Errorf("schema_version = %v, want [1 4]", got)
	}
	// A binary without migrations refuses a migrated database and leaves
	// a new one with an empty schema_version.
	if err := migrate.Up(ctx, db, fstest.MapFS{}, nil); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("no migrations against a migrated database: %v, want a refusal", err)
	}
	if err := migrate.Up(ctx, open(t), fstest.MapFS{}, nil); err != nil {
		t.Errorf("no migrations against a new database: %v", err)
	}
}

// TestRebind: the runner's own statements go through rebind, the
// migrations' text does not.
func TestRebind(t *testing.T) {
	db := open(t)
	var seen []string
	rebind := func(q string) string {
		seen = append(seen, q)
		return q
	}
	stmt := "CREATE TABLE a (x TEXT DEFAULT '?')"
	if err := migrate.Up(t.Context(), db, fstest.MapFS{"001_a.sql": file(stmt)}, rebind); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(seen, stmt) {
		t.Errorf("a migration's statement went through rebind: %q", seen)
	}
	if !slices.ContainsFunc(seen, func(q string) bool { return strings.HasPrefix(q, "INSERT INTO schema_version") }) {
		t.Errorf("the schema_version insert did not go through rebind: %q", seen)
	}
}

// TestReadOnlyRefused: a database that does not take writes is refused
// with ErrNoWrites and the database's own reason.
func TestReadOnlyRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	rw := openPath(t, path, "")
	if _, err := rw.ExecContext(t.Context(), `CREATE TABLE a (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	rw.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	ro := openPath(t, path, "&mode=ro")
	err := migrate.Up(t.Context(), ro, fstest.MapFS{"001_b.sql": file("CREATE TABLE b (x INTEGER)")}, nil)
	if !errors.Is(err, migrate.ErrNoWrites) || !strings.Contains(err.Error(), "read-only") || !strings.Contains(err.Error(), "readonly") {
		t.Fatalf("a read-only database: %v, want %v with the reason", err, migrate.ErrNoWrites)
	}
	if has(t, ro, "b") || has(t, ro, "schema_version") {
		t.Error("a read-only database was changed")
	}
}
