package stationdir

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"hotline/internal/home"
	"hotline/internal/identity"
	"hotline/internal/record"
	"hotline/internal/store/sqlite"
)

// backupFiles are the station directory's files a backup carries, besides
// the store; keys are added from keys/.
var backupFiles = []string{"config.json", "card", "api-token"}

// Backup writes a consistent copy of a station to out, a tar file (mode
// 0600: it holds the private keys). It works while hotline run owns the
// station: the SQLite store is copied with VACUUM INTO, which reads one
// consistent snapshot. A PostgreSQL station's database is backed up with
// PostgreSQL's own tools; Backup refuses it.
func Backup(ctx context.Context, dir, out string) error {
	cfg, err := LoadConfig(dir)
	if err != nil {
		return err
	}
	engine, file, _ := strings.Cut(cfg.Store, ":")
	if engine != "sqlite" {
		return fmt.Errorf("the store of %s is %s: back it up with pg_dump or pg_basebackup, and this directory with it", dir, engine)
	}
	if !filepath.IsAbs(file) {
		file = filepath.Join(dir, file)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), ".hotline-backup-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	snapshot := filepath.Join(tmp, "hotline.db")
	if err := sqlite.Snapshot(ctx, file, snapshot); err != nil {
		return fmt.Errorf("copying the store: %w", err)
	}
	f, err := os.OpenFile(out+".tmp", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(out + ".tmp")
	tw := tar.NewWriter(f)
	var sums []fileSum
	put := func(name string, data []byte) error {
		hdr := &tar.Header{Name: name, Mode: 0o600, Size: int64(len(data)), ModTime: time.Now().UTC(), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	}
	add := func(name, path string) error {
		file, err := os.Open(path)
		if err != nil {
			return err
		}
		defer file.Close()
		fi, err := file.Stat()
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: name, Mode: 0o600, Size: fi.Size(), ModTime: time.Now().UTC(), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		h := sha256.New()
		if _, err := io.Copy(io.MultiWriter(tw, h), file); err != nil {
			return err
		}
		sums = append(sums, fileSum{name, h.Sum(nil)})
		return nil
	}
	for _, name := range backupFiles {
		if err := add(name, filepath.Join(dir, name)); err != nil {
			f.Close()
			return err
		}
	}
	for _, name := range []string{"signing.key", "kem.key"} {
		if err := add("keys/"+name, filepath.Join(dir, "keys", name)); err != nil {
			f.Close()
			return err
		}
	}
	// Earlier keys after a rotation (see keys.go): bodies in flight were
	// sealed to them, and entries signed with them may await a receipt.
	retired, err := os.ReadDir(filepath.Join(dir, "keys", "retired"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		f.Close()
		return err
	}
	for _, d := range retired {
		if !retiredRE.MatchString("keys/retired/" + d.Name() + "/kem.key") {
			continue
		}
		for _, name := range []string{"signing.key", "kem.key"} {
			if err := add("keys/retired/"+d.Name()+"/"+name, filepath.Join(dir, "keys", "retired", d.Name(), name)); err != nil {
				f.Close()
				return err
			}
		}
	}
	// Call recordings (encrypted; a signed entry names each one's hash).
	recs, err := os.ReadDir(filepath.Join(dir, "recordings"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		f.Close()
		return err
	}
	for _, d := range recs {
		if name := "recordings/" + d.Name(); d.Type().IsRegular() && recordingRE.MatchString(name) {
			if err := add(name, filepath.Join(dir, "recordings", d.Name())); err != nil {
				f.Close()
				return err
			}
		}
	}
	if err := add("hotline.db", snapshot); err != nil {
		f.Close()
		return err
	}
	keys, err := home.LoadKeys(filepath.Join(dir, "keys"))
	if err != nil {
		f.Close()
		return err
	}
	card, err := ReadCard(dir)
	if err != nil {
		f.Close()
		return err
	}
	m, err := signManifest(cfg.Name, card.Fingerprint(), sums, keys)
	if err != nil {
		f.Close()
		return err
	}
	if err := put(ManifestFile, m); err != nil {
		f.Close()
		return err
	}
	if err := tw.Close(); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(out+".tmp", out)
}

// retiredRE names a retired key file in a backup.
var retiredRE = regexp.MustCompile(`^keys/retired/[0-9]{1,6}/(signing|kem)\.key$`)

// recordingRE names a call's recording (station/recording.go).
var recordingRE = regexp.MustCompile(`^recordings/[A-Za-z0-9_.-]{1,250}\.ogg\.age$`)

// MaxBackup bounds what Restore reads from one file of a backup.
const MaxBackup = 64 << 30

// Restore creates a station directory from a backup written by Backup. dir
// must not exist or be empty. Everything is checked (the files are the
// expected ones, the card matches the keys, the store opens) before the
// station is usable; on any error nothing is left behind.
//
// A restored station resumes from the moment of the backup, and appends
// nothing on a channel until the channel's peer has said what it holds of
// the station's log there; entries the peer holds that the backup lacks
// (they carry the station's own signature) are fetched back first. So a
// restore never signs a second entry at an index already used. The marker
// file RestoredFile holds the station to this until every channel is clear.
func Restore(ctx context.Context, dir string, r io.Reader) (err error) {
	return restore(ctx, dir, r)
}

// RestoredFile marks a station restored from a backup: until every
// channel's peer has said what it holds of the station's logs, nothing is
// appended (see protocol.Config.Restored). Restore writes it; the station
// removes it. After restoring a PostgreSQL station by other means, create
// it by hand.
const RestoredFile = "restored"

func restore(ctx context.Context, dir string, r io.Reader) (err error) {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s is not empty: restore into a new directory", dir)
	}
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	want := map[string]bool{"hotline.db": false, "keys/signing.key": false, "keys/kem.key": false, ManifestFile: false}
	for _, n := range backupFiles {
		want[n] = false
	}
	sums := map[string][]byte{}
	var manifest []byte
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading backup: %w", err)
		}
		seen, ok := want[hdr.Name]
		if !ok && (retiredRE.MatchString(hdr.Name) || recordingRE.MatchString(hdr.Name)) {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, filepath.FromSlash(hdr.Name))), 0o700); err != nil {
				return err
			}
			ok, want[hdr.Name] = true, false
		}
		switch {
		case !ok:
			return fmt.Errorf("backup holds %q, which is not part of a station", hdr.Name)
		case seen:
			return fmt.Errorf("backup holds %q twice", hdr.Name)
		case hdr.Typeflag != tar.TypeReg || hdr.Size < 0 || hdr.Size > MaxBackup:
			return fmt.Errorf("backup entry %q is not a regular file of a sane size", hdr.Name)
		}
		want[hdr.Name] = true
		if hdr.Name == ManifestFile {
			if hdr.Size > maxManifest {
				return fmt.Errorf("backup's manifest is %d bytes, more than %d", hdr.Size, maxManifest)
			}
			if manifest, err = io.ReadAll(io.LimitReader(tr, hdr.Size)); err != nil {
				return fmt.Errorf("reading backup: %s: %w", hdr.Name, err)
			}
			continue
		}
		f, err := os.OpenFile(filepath.Join(dir, filepath.FromSlash(hdr.Name)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		h := sha256.New()
		_, err = io.Copy(io.MultiWriter(f, h), io.LimitReader(tr, hdr.Size))
		sums[hdr.Name] = h.Sum(nil)
		if err != nil {
			err = fmt.Errorf("reading backup: %s: %w", hdr.Name, err)
		}
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	for name, seen := range want {
		if !seen && name == ManifestFile {
			return fmt.Errorf("backup lacks its manifest (%q): it was not written by hotline backup, or by one older than the manifest; it cannot be checked", name)
		}
		if !seen {
			return fmt.Errorf("backup lacks %q", name)
		}
	}
	if err := checkSums(manifest, sums); err != nil {
		return err
	}
	cfg, err := LoadConfig(dir)
	if err != nil {
		return err
	}
	keys, err := home.LoadKeys(filepath.Join(dir, "keys"))
	if err != nil {
		return err
	}
	card, err := ReadCard(dir)
	if err != nil {
		return fmt.Errorf("card: %w", err)
	}
	if !card.SignKey.Equal(keys.SignPublic()) || card.Name != cfg.Name {
		return fmt.Errorf("backup's card does not match its keys")
	}
	if err := checkManifest(manifest, card); err != nil {
		return err
	}
	// The snapshot is the store now, whatever the file was called before.
	if cfg.Store != "sqlite:hotline.db" {
		cfg.Store = "sqlite:hotline.db"
		cj, _ := json.MarshalIndent(cfg, "", "  ")
		if err := home.WriteFile(filepath.Join(dir, "config.json"), append(cj, '\n'), 0o600); err != nil {
			return err
		}
	}
	st, err := OpenStore(ctx, dir, cfg.Store)
	if err != nil {
		return err
	}
	snap, err := st.Load(ctx, cfg.Name)
	if err == nil && snap.EachOutstanding != nil {
		err = snap.EachOutstanding(func(*record.Waiting) {})
	}
	if err != nil {
		st.Close()
		return fmt.Errorf("restored store: %w", err)
	}
	if err := st.Close(); err != nil {
		return err
	}
	return home.WriteFile(filepath.Join(dir, RestoredFile), []byte("restored from a backup: held until each channel's peer has said what it holds\n"), 0o600)
}

// ManifestFile is the last file of a backup: a note signed by the
// station's key naming the station (name and fingerprint) and the
// SHA-256 of every other file. Restore refuses a backup whose files do
// not match it (a damaged file, a file from another station's backup) or
// whose signature is not the card's.
const ManifestFile = "manifest"

const (
	maxManifest    = 64 << 10
	manifestHeader = "hotline backup manifest v1"
)

type fileSum struct {
	name string
	sum  []byte
}

func signManifest(name, fingerprint string, sums []fileSum, keys *identity.Keys) ([]byte, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\nstation %s\nfingerprint %s\n", manifestHeader, name, fingerprint)
	for _, s := range sums {
		fmt.Fprintf(&b, "sha256 %x %s\n", s.sum, s.name)
	}
	return note.Sign(&note.Note{Text: b.String()}, keys.Signer())
}

// manifestLines returns the lines of the manifest's text, unverified.
func manifestLines(manifest []byte) ([]string, error) {
	i := bytes.LastIndex(manifest, []byte("\n\n"))
	if i < 0 {
		return nil, fmt.Errorf("backup's manifest is not a signed note")
	}
	lines := strings.Split(string(manifest[:i]), "\n")
	if len(lines) < 3 || lines[0] != manifestHeader {
		return nil, fmt.Errorf("backup's manifest is not a %q", manifestHeader)
	}
	return lines, nil
}

// checkSums checks the files read against the manifest's SHA-256 of each:
// none damaged, none more, none less. The signature is checked later,
// against the card, by checkManifest.
func checkSums(manifest []byte, sums map[string][]byte) error {
	lines, err := manifestLines(manifest)
	if err != nil {
		return err
	}
	listed := map[string]bool{}
	for _, l := range lines[3:] {
		f := strings.Fields(l)
		if len(f) != 3 || f[0] != "sha256" {
			return fmt.Errorf("backup's manifest has a malformed line %q", l)
		}
		want, err := hex.DecodeString(f[1])
		if err != nil || len(want) != sha256.Size {
			return fmt.Errorf("backup's manifest has a malformed checksum for %s", f[2])
		}
		got, ok := sums[f[2]]
		if !ok {
			return fmt.Errorf("backup's manifest lists %q, which the backup lacks", f[2])
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("backup is damaged or mixed: %s does not match its SHA-256 in the manifest", f[2])
		}
		listed[f[2]] = true
	}
	for name := range sums {
		if !listed[name] {
			return fmt.Errorf("backup holds %q, which its manifest does not list", name)
		}
	}
	return nil
}

// checkManifest checks that the manifest is signed by the station of the
// backup's card and names it.
func checkManifest(manifest []byte, card *identity.Card) error {
	v, err := card.Verifier()
	if err != nil {
		return err
	}
	if _, err := note.Open(manifest, note.VerifierList(v)); err != nil {
		return fmt.Errorf("backup's manifest is not signed by the station in the backup (%s, %s): %w", card.Name, card.Fingerprint(), err)
	}
	lines, err := manifestLines(manifest)
	if err != nil {
		return err
	}
	if lines[1] != "station "+card.Name || lines[2] != "fingerprint "+card.Fingerprint() {
		return fmt.Errorf("backup's manifest is for %q, %q, not for the station in the backup (%s, %s)",
			strings.TrimPrefix(lines[1], "station "), strings.TrimPrefix(lines[2], "fingerprint "), card.Name, card.Fingerprint())
	}
	return nil
}
