package station_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"hotline/internal/home"
	"hotline/internal/identity"
	"hotline/internal/ops"
	"hotline/internal/stationdir"
)

// member is one file of a backup.
type member struct {
	name string
	data []byte
	off  int64 // offset of its header in the backup
}

func members(t *testing.T, backup []byte) []member {
	t.Helper()
	var out []member
	tr := tar.NewReader(bytes.NewReader(backup))
	var off int64
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Format != tar.FormatUSTAR && hdr.Format != tar.FormatUnknown {
			t.Fatalf("backup member %s is in format %v; the offsets below assume plain USTAR", hdr.Name, hdr.Format)
		}
		out = append(out, member{hdr.Name, data, off})
		off += 512 + (int64(len(data))+511)/512*512
	}
}

func pack(t *testing.T, ms []member) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, m := range ms {
		if err := tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o600, Size: int64(len(m.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(m.data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// backedUp makes a station with a peer and a proposed channel and returns
// its directory and a backup of it.
func backedUp(t *testing.T, name string) (string, []byte) {
	t.Helper()
	ctx := context.Background()
	dir, _ := initStation(t, name, "127.0.0.1:0")
	_, peer := initStation(t, name+"-PEER", "127.0.0.1:0")
	st := openStation(t, dir)
	wrong := strings.Repeat("0", len(peer.Fingerprint()))
	if _, err := st.AddPeer(ctx, peer.Text, wrong); err == nil || strings.Contains(err.Error(), peer.Fingerprint()) {
		t.Fatalf("pinning with the wrong fingerprint: %v (refused, without the right one)", err)
	}
	if _, err := st.AddPeer(ctx, peer.Text, peer.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Propose(ctx, ops.ProposeRequest{Peer: peer.Name, Channel: "ops", Level: "staff"}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	file := filepath.Join(t.TempDir(), "backup")
	if err := stationdir.Backup(ctx, dir, file); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return dir, data
}

// refused restores data into a new directory and checks that it is
// refused with an error saying want, and that nothing is left behind.
func refused(t *testing.T, what string, data []byte, want string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "restored")
	err := stationdir.Restore(context.Background(), dir, bytes.NewReader(data))
	if err == nil {
		t.Fatalf("%s: restored, want a refusal", what)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("%s: refusal %q does not say %q", what, err, want)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s: the refused restore left %s behind", what, dir)
	}
}

// TestRestoreRefusesFlippedByte flips one byte at sample offsets of every
// file of a backup (start, end and evenly between, 16 a file) and in its
// tar header: each damaged backup is refused and leaves nothing behind.
// (The zero padding between tar blocks carries nothing; a flip there
// changes no file.)
func TestRestoreRefusesFlippedByte(t *testing.T) {
	_, good := backedUp(t, "USA")
	ms := members(t, good)
	if got := ms[len(ms)-1].name; got != stationdir.ManifestFile {
		t.Fatalf("the backup's last file is %q, want the manifest", got)
	}
	for _, m := range ms {
		for i := range int64(16) {
			at := m.off + 512 + i*int64(len(m.data)-1)/15
			damaged := bytes.Clone(good)
			damaged[at] ^= 0x20
			want := "does not match its SHA-256"
			if m.name == stationdir.ManifestFile {
				want = "manifest"
			}
			refused(t, fmt.Sprintf("byte %d of %s flipped", at-m.off-512, m.name), damaged, want)
		}
		// The header: the name, the size, the checksum.
		for _, at := range []int64{m.off + 2, m.off + 130, m.off + 150} {
			damaged := bytes.Clone(good)
			damaged[at] ^= 0x01
			refused(t, fmt.Sprintf("byte %d of the header of %s flipped", at-m.off, m.name), damaged, "backup")
		}
	}
	// The undamaged backup restores.
	if err := stationdir.Restore(context.Background(), filepath.Join(t.TempDir(), "restored"), bytes.NewReader(good)); err != nil {
		t.Fatalf("restoring the undamaged backup: %v", err)
	}
}

// TestRestoreRefusesAnotherStation: backups mixed from two stations of
// the same name (another station's store, card and keys, or manifest), a
// manifest for one station's files signed by the other, and a backup
// without a manifest are refused, and leave nothing behind.
func TestRestoreRefusesAnotherStation(t *testing.T) {
	_, a := backedUp(t, "USA")
	otherDir, b := backedUp(t, "USA")
	am, bm := members(t, a), members(t, b)
	mix := func(from []member, names ...string) []member {
		out := make([]member, len(am))
		copy(out, am)
		for i := range out {
			for _, n := range names {
				if out[i].name == n {
					for _, f := range from {
						if f.name == n {
							out[i].data = f.data
						}
					}
				}
			}
		}
		return out
	}
	refused(t, "the other station's store", pack(t, mix(bm, "hotline.db")), "hotline.db does not match its SHA-256")
	refused(t, "the other station's card and keys", pack(t, mix(bm, "card", "keys/signing.key", "keys/kem.key")), "does not match its SHA-256")
	refused(t, "the other station's manifest", pack(t, mix(bm, stationdir.ManifestFile)), "does not match its SHA-256")

	// Every file of the other station's backup, with a manifest of them
	// signed by this station's key (which the backup also holds).
	keys, err := home.LoadKeys(filepath.Join(otherDir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	signedBy := func(ms []member, k *identity.Keys) []member {
		out := make([]member, len(ms))
		copy(out, ms)
		last := out[len(out)-1].data
		text := last[:bytes.LastIndex(last, []byte("\n\n"))+1]
		n, err := note.Sign(&note.Note{Text: string(text)}, k.Signer())
		if err != nil {
			t.Fatal(err)
		}
		out[len(out)-1].data = n
		return out
	}
	aKeys := filepath.Join(t.TempDir(), "a")
	if err := stationdir.Restore(context.Background(), aKeys, bytes.NewReader(a)); err != nil {
		t.Fatal(err)
	}
	ka, err := home.LoadKeys(filepath.Join(aKeys, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	refused(t, "a manifest signed by another station", pack(t, signedBy(bm, ka)), "not signed by the station in the backup")
	if err := stationdir.Restore(context.Background(), filepath.Join(t.TempDir(), "b"), bytes.NewReader(pack(t, signedBy(bm, keys)))); err != nil {
		t.Errorf("the manifest signed again by its own station: %v", err)
	}
	refused(t, "no manifest", pack(t, am[:len(am)-1]), "lacks its manifest")
}
