package home_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"hotline/internal/home"
)

var errBusy = errors.New("in use")

// TestLock: a second lock on the same directory is refused with the
// caller's error, from this process or another, and a lock released (or
// its process gone) can be taken again.
func TestLock(t *testing.T) {
	dir := t.TempDir()
	l, err := home.Lock(dir, errBusy)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := home.Lock(dir, errBusy); !errors.Is(err, errBusy) {
		t.Fatalf("second Lock = %v, want the busy error", err)
	}
	// flock(1) from util-linux, if present, is another process.
	if flock, err := exec.LookPath("flock"); err == nil {
		out, err := exec.Command(flock, "-n", filepath.Join(dir, "lock"), "true").CombinedOutput()
		if err == nil {
			t.Errorf("another process took the lock while held: %s", out)
		}
	}
	l.Close()
	l, err = home.Lock(dir, errBusy)
	if err != nil {
		t.Fatalf("Lock after release = %v", err)
	}
	l.Close()
	if _, err := home.Lock(filepath.Join(dir, "missing"), errBusy); err == nil || errors.Is(err, errBusy) {
		t.Fatalf("Lock of a missing directory = %v, want the open error", err)
	}
}

// TestWriteFile: the file holds exactly the new bytes with the mode given,
// no temporary file stays, and a write that fails leaves the old file as
// it was and nothing beside it.
func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "config.json")
	if err := home.WriteFile(p, []byte("one\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := home.WriteFile(p, []byte("two\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil || string(data) != "two\n" {
		t.Fatalf("read %q, %v; want the second write", data, err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o, want 0600", fi.Mode().Perm())
	}
	// Renaming onto a directory fails: the old file is untouched.
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := home.WriteFile(sub, []byte("three\n"), 0o600); err == nil || !strings.HasPrefix(err.Error(), "writing "+sub+": ") {
		t.Fatalf("WriteFile over a directory = %v, want an error naming it", err)
	}
	missing := filepath.Join(dir, "no", "such", "out.json")
	if err := home.WriteFile(missing, nil, 0o600); !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "writing "+missing+": ") {
		t.Errorf("WriteFile into a missing folder = %v, want ErrNotExist naming the file asked for", err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("%s left behind", e.Name())
		}
	}
	if data, _ := os.ReadFile(p); string(data) != "two\n" {
		t.Errorf("the file became %q", data)
	}
}

// An init that fails leaves no trace: the directory it made goes, and in
// a directory that was there only what it wrote goes.
func TestMakingUndo(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "new")
	mk, err := home.Make(dir)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte("{}"), 0o600)
	mk.Undo()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("the directory an undone init made is still there: %v", err)
	}

	os.Mkdir(dir, 0o700)
	os.WriteFile(filepath.Join(dir, "mine"), []byte("x"), 0o600)
	mk, err = home.Make(dir)
	if err != nil {
		t.Fatal(err)
	}
	mk.Wrote(filepath.Join(dir, "card"))
	os.WriteFile(filepath.Join(dir, "card"), []byte("x"), 0o600)
	mk.Undo()
	des, _ := os.ReadDir(dir)
	if len(des) != 1 || des[0].Name() != "mine" {
		t.Fatalf("an undone init in an existing directory left %v", des)
	}

	mk, _ = home.Make(dir)
	mk.Wrote(filepath.Join(dir, "card"))
	os.WriteFile(filepath.Join(dir, "card"), []byte("x"), 0o600)
	mk.Keep()
	mk.Undo()
	if _, err := os.Stat(filepath.Join(dir, "card")); err != nil {
		t.Fatalf("a kept init lost its file: %v", err)
	}
}
