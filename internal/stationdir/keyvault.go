package stationdir

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"

	"hotline/internal/home"
)

// Keys for the station's other machines (docs/OPERATIONS.md, "Several
// machines"). A station on PostgreSQL keeps its key files in its shared
// database too, sealed (XChaCha20-Poly1305) under a key-encryption key,
// KEKFile, that each of its machines holds in its own directory and the
// database never sees: the active process seals them at its start and at
// every key change, before the change is written and after; a standby
// that takes over opens them and writes what differs into its own
// directory before it loads its keys. So a key change made on one
// machine needs nothing copied by hand to the others.

// KEKFile is the key-encryption key's file in a station directory: 32
// random bytes, base64, mode 0600. It is made at init for a station on
// PostgreSQL (or by the first start that lacks it) and copied once to
// each standby machine with keys/ (it never changes).
const KEKFile = "keys/store.kek"

// ErrNoKEK is returned by LoadKEK when the directory has no KEKFile.
var ErrNoKEK = errors.New("no key-encryption key (" + KEKFile + ")")

const sealedMagic = "hotline sealed keys v1\n"

// LoadKEK reads the station's key-encryption key.
func LoadKEK(dir string) ([]byte, error) {
	p := filepath.Join(dir, KEKFile)
	if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s", ErrNoKEK, dir)
	}
	data, err := home.ReadPrivate(p)
	if err != nil {
		return nil, err
	}
	kek, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(kek) != chacha20poly1305.KeySize {
		return nil, fmt.Errorf("%s is not a key-encryption key (32 bytes, base64)", p)
	}
	return kek, nil
}

// EnsureKEK returns the station's key-encryption key, making it first if
// the directory has none.
func EnsureKEK(dir string) (kek []byte, made bool, err error) {
	kek, err = LoadKEK(dir)
	if !errors.Is(err, ErrNoKEK) {
		return kek, false, err
	}
	kek = make([]byte, chacha20poly1305.KeySize)
	rand.Read(kek)
	if err := home.WriteFile(filepath.Join(dir, KEKFile), []byte(base64.StdEncoding.EncodeToString(kek)+"\n"), 0o600); err != nil {
		return nil, false, err
	}
	return kek, true, nil
}

// sealedFile is a file a sealed key set may hold: the card, the current
// keys, keys being changed to, earlier keys.
var sealedFile = regexp.MustCompile(`^(card|keys/(next/|retired/[0-9]{1,6}/)?(signing|kem)\.key)$`)

// SealKeys reads the card and every key file of dir (not the
// key-encryption key) and seals them under kek for station name.
func SealKeys(dir, name string, kek []byte) ([]byte, error) {
	var files []string
	err := filepath.WalkDir(filepath.Join(dir, "keys"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel = filepath.ToSlash(rel); sealedFile.MatchString(rel) {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	files = append(files, "card")
	slices.Sort(files)
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f)))
		if err != nil {
			return nil, err
		}
		if err := tw.WriteHeader(&tar.Header{Name: f, Mode: 0o600, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		tw.Write(data)
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.NewX(kek)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	return aead.Seal(append([]byte(sealedMagic), nonce...), nonce, b.Bytes(), []byte(sealedMagic+name)), nil
}

// OpenKeys opens a sealed key set: each file's path and contents.
func OpenKeys(name string, kek, sealed []byte) (map[string][]byte, error) {
	aead, err := chacha20poly1305.NewX(kek)
	if err != nil {
		return nil, err
	}
	rest, ok := bytes.CutPrefix(sealed, []byte(sealedMagic))
	if !ok || len(rest) < aead.NonceSize() {
		return nil, errors.New("the sealed keys in the store are not a sealed key set")
	}
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], []byte(sealedMagic+name))
	if err != nil {
		return nil, fmt.Errorf("the sealed keys in the store do not open with %s (another station's, or another key-encryption key): %w", KEKFile, err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(plain))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("the sealed keys: %w", err)
		}
		if !sealedFile.MatchString(h.Name) || files[h.Name] != nil {
			return nil, fmt.Errorf("the sealed keys hold %q, which is not a key file or the card", h.Name)
		}
		data, err := io.ReadAll(io.LimitReader(tr, 1<<20))
		if err != nil {
			return nil, err
		}
		files[h.Name] = data
	}
	if files["card"] == nil || files["keys/signing.key"] == nil || files["keys/kem.key"] == nil {
		return nil, errors.New("the sealed keys lack the card or the current keys")
	}
	return files, nil
}

// InstallKeys opens a sealed key set and writes into dir each file that
// differs from what dir holds: earlier keys first, then keys being
// changed to, then the current keys and the card, so that a crash leaves
// what FinishKeys completes. It returns the files written.
func InstallKeys(dir, name string, kek, sealed []byte) ([]string, error) {
	files, err := OpenKeys(name, kek, sealed)
	if err != nil {
		return nil, err
	}
	rank := func(f string) int {
		switch {
		case strings.HasPrefix(f, "keys/retired/"):
			return 0
		case strings.HasPrefix(f, "keys/next/"):
			return 1
		case f == "card":
			return 3
		}
		return 2
	}
	names := make([]string, 0, len(files))
	for f := range files {
		names = append(names, f)
	}
	slices.SortFunc(names, func(a, b string) int {
		if rank(a) != rank(b) {
			return rank(a) - rank(b)
		}
		return strings.Compare(a, b)
	})
	var wrote []string
	for _, f := range names {
		p := filepath.Join(dir, filepath.FromSlash(f))
		if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, files[f]) {
			continue
		}
		mode := os.FileMode(0o600)
		if f == "card" {
			mode = 0o644
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return wrote, err
		}
		if err := home.WriteFile(p, files[f], mode); err != nil {
			return wrote, err
		}
		wrote = append(wrote, f)
	}
	return wrote, nil
}
