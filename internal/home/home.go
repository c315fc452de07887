// Package home holds what a station or a relay keeps in its directory
// apart from its database, and the one way each is done: the lock that
// says which process runs the directory, the keys on disk (owner-only,
// refused when others may read them), and files written whole or not at
// all. The station and the relay use it alike.
package home

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"hotline/internal/identity"
)

// Lock takes an exclusive, non-blocking lock on dir (its file "lock"),
// returning busy if another process holds it. The kernel drops the lock
// when the process dies, however it dies; closing the file releases it.
func Lock(dir string, busy error) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, busy
		}
		return nil, err
	}
	return f, nil
}

// WriteFile writes data to path whole or not at all: to a temporary file
// beside it, synced, then renamed over path. A reader never finds the
// file half written, and a crash leaves the old file or the new one. The
// temporary file does not outlive a failure.
// Its errors name path, the file the caller asked for.
func WriteFile(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, errors.Unwrap(err))
	}
	if err := finish(f, data); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, errors.Unwrap(err))
	}
	return nil
}

// finish writes data, syncs and closes f.
func finish(f *os.File, data []byte) error {
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// The key files in a keys directory.
const (
	SignKeyFile = "signing.key"
	KEMKeyFile  = "kem.key"
)

// ErrKeyPermissions marks a key file that group or others may read.
var ErrKeyPermissions = errors.New("key file is readable by others")

// SaveKeys writes the keys into dir (made 0700 if new) with owner-only
// permissions. It refuses to overwrite existing keys.
func SaveKeys(dir string, k *identity.Keys) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	sign, kem, err := k.Files()
	if err != nil {
		return err
	}
	for _, file := range []struct {
		name string
		data []byte
	}{{SignKeyFile, sign}, {KEMKeyFile, kem}} {
		f, err := os.OpenFile(filepath.Join(dir, file.name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("writing key: %w", err)
		}
		if err := finish(f, file.data); err != nil {
			return err
		}
	}
	return nil
}

// LoadKeys reads keys saved by SaveKeys, refusing a key file that group or
// others may read.
func LoadKeys(dir string) (*identity.Keys, error) {
	sign, err := readPrivate(filepath.Join(dir, SignKeyFile))
	if err != nil {
		return nil, err
	}
	kem, err := readPrivate(filepath.Join(dir, KEMKeyFile))
	if err != nil {
		return nil, err
	}
	k, err := identity.ParseKeys(sign, kem)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return k, nil
}

// readPrivate reads a key file, refusing one that group or others can read.
func readPrivate(p string) ([]byte, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("reading key: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o; run chmod 600 %s", ErrKeyPermissions, p, perm, p)
	}
	return os.ReadFile(p)
}

// A Making is a directory being made by an init: on any error, what the
// init wrote goes again, and so does the directory if it made it. Undo
// (deferred) removes what was written unless Keep was called.
type Making struct {
	dir     string
	created bool
	written []string
	kept    bool
}

// Make makes dir (mode 0700) if it is not there, for an init to write in.
func Make(dir string) (*Making, error) {
	_, statErr := os.Stat(dir)
	m := &Making{dir: dir, created: errors.Is(statErr, os.ErrNotExist)}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return m, nil
}

// Wrote notes paths the init is about to write.
func (m *Making) Wrote(paths ...string) { m.written = append(m.written, paths...) }

// Keep says the init succeeded: Undo leaves everything.
func (m *Making) Keep() { m.kept = true }

// Undo removes what the init wrote, or the directory it made, unless
// Keep was called.
func (m *Making) Undo() {
	if m.kept {
		return
	}
	if m.created {
		os.RemoveAll(m.dir)
		return
	}
	for _, p := range m.written {
		os.RemoveAll(p)
	}
}

// Keys makes new keys for name and saves them in the keys directory of
// the directory being made.
func (m *Making) Keys(name string) (*identity.Keys, error) {
	keys, err := identity.NewKeys(name)
	if err != nil {
		return nil, err
	}
	m.Wrote(filepath.Join(m.dir, "keys"))
	if err := SaveKeys(filepath.Join(m.dir, "keys"), keys); err != nil {
		return nil, err
	}
	return keys, nil
}

// Write writes a file of the directory being made, whole (WriteFile).
func (m *Making) Write(name string, data []byte, mode os.FileMode) error {
	m.Wrote(filepath.Join(m.dir, name))
	return WriteFile(filepath.Join(m.dir, name), data, mode)
}

// ReadPrivate reads a secret file (a key), refusing one that group or
// others can read.
func ReadPrivate(p string) ([]byte, error) { return readPrivate(p) }
