package relay

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"hotline/internal/migrate"
)

// TestStoreMigrations: relay.db records every embedded migration when it
// is made, opening it again changes nothing, and a relay.db from a newer
// binary is refused, naming the file and both versions.
func TestStoreMigrations(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), dbFile)
	all, err := migrate.Versions(migrations)
	if err != nil || len(all) == 0 || all[0] != 1 {
		t.Fatalf("the embedded migrations: %v, %v", all, err)
	}
	recorded := func() []int {
		t.Helper()
		st, err := openStore(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer st.close()
		rows, err := st.db.QueryContext(ctx, `SELECT version FROM schema_version ORDER BY version`)
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
		return out
	}
	if got := recorded(); !slices.Equal(got, all) {
		t.Fatalf("a new relay.db records %v, want %v", got, all)
	}
	if got := recorded(); !slices.Equal(got, all) {
		t.Fatalf("reopened, relay.db records %v, want %v", got, all)
	}

	st, err := openStore(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	newer := migrate.Latest(migrations) + 1
	if _, err := st.db.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, newer); err != nil {
		t.Fatal(err)
	}
	st.close()
	_, err = openStore(ctx, path)
	if err == nil {
		t.Fatal("a relay.db from a newer binary was opened")
	}
	want := fmt.Sprintf("opening %s: database schema version %d is newer than this binary knows (%d); run a newer hotline",
		path, newer, migrate.Latest(migrations))
	if err.Error() != want {
		t.Errorf("refusal %q, want %q", err, want)
	}
}

// relay.db names the stations allowed and holds their pending mail: it
// and its WAL files are the relay owner's alone.
func TestStorePrivate(t *testing.T) {
	dir := t.TempDir()
	st, err := openStore(t.Context(), filepath.Join(dir, dbFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	for _, f := range []string{dbFile, dbFile + "-wal", dbFile + "-shm"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
}
