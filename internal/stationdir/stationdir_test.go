package stationdir_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hotline/internal/badrequest"
	"hotline/internal/home"
	"hotline/internal/identity"
	"hotline/internal/stationdir"
)

func initDir(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if _, err := stationdir.Init(context.Background(), stationdir.InitOptions{Dir: dir, Name: name, Party: "P" + name,
		PeerListen: "127.0.0.1:0", APIListen: "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestInitWritesAStation(t *testing.T) {
	dir := initDir(t, "USA")
	cfg, err := stationdir.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Name != "USA" || cfg.Store != "sqlite:hotline.db" || len(cfg.Endpoints) != 1 {
		t.Fatalf("config %+v", cfg)
	}
	card, err := stationdir.ReadCard(dir)
	if err != nil || card.Name != "USA" {
		t.Fatalf("card %v, %v", card, err)
	}
	for _, f := range []string{"api-token", "config.json", "keys/signing.key", "keys/kem.key", "hotline.db"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	if tok, err := stationdir.ReadToken(dir); err != nil || len(tok) != 64 {
		t.Fatalf("token %q, %v", tok, err)
	}
	if _, err := stationdir.Init(context.Background(), stationdir.InitOptions{Dir: dir, Name: "USA", Party: "PUSA",
		PeerListen: "127.0.0.1:0", APIListen: "127.0.0.1:0"}); err == nil || !strings.Contains(err.Error(), "already holds a station") {
		t.Fatalf("init over a station: %v", err)
	}
}

// A refused init leaves nothing behind: not the directory it would have
// made, nor any file in one that was there.
func TestInitRefusedLeavesNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    stationdir.InitOptions
		want string
	}{
		{"bad name", stationdir.InitOptions{Name: "U S A", Party: "P", PeerListen: "127.0.0.1:0", APIListen: "127.0.0.1:0"}, "station name"},
		{"bad listen", stationdir.InitOptions{Name: "USA", Party: "P", PeerListen: "nowhere", APIListen: "127.0.0.1:0"}, "--peer-listen"},
		{"bad endpoint", stationdir.InitOptions{Name: "USA", Party: "P", PeerListen: "127.0.0.1:0", APIListen: "127.0.0.1:0", Endpoints: []string{"x"}}, "endpoint"},
		{"api off loopback", stationdir.InitOptions{Name: "USA", Party: "P", PeerListen: "127.0.0.1:0", APIListen: "0.0.0.0:8080"}, "loopback"},
		{"bad store", stationdir.InitOptions{Name: "USA", Party: "P", PeerListen: "127.0.0.1:0", APIListen: "127.0.0.1:0", Store: "mysql:x"}, "unknown engine"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			tc.o.Dir = filepath.Join(parent, "new")
			if _, err := stationdir.Init(context.Background(), tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("init: %v, want an error naming %q", err, tc.want)
			}
			if _, err := os.Stat(tc.o.Dir); !os.IsNotExist(err) {
				t.Fatalf("refused init left %s behind: %v", tc.o.Dir, err)
			}
			// Into a directory that exists, with a file of the operator's.
			os.Mkdir(tc.o.Dir, 0o700)
			os.WriteFile(filepath.Join(tc.o.Dir, "mine"), []byte("x"), 0o600)
			stationdir.Init(context.Background(), tc.o)
			des, _ := os.ReadDir(tc.o.Dir)
			if len(des) != 1 || des[0].Name() != "mine" {
				t.Fatalf("refused init changed an existing directory: %v", des)
			}
		})
	}
}

func TestLoadConfigRefusesMistakes(t *testing.T) {
	dir := initDir(t, "USA")
	data, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	for _, tc := range []struct{ edit, want string }{
		{strings.Replace(string(data), `"store"`, `"stroe"`, 1), "unknown field"},
		{strings.Replace(string(data), `"name": "USA"`, `"name": ""`, 1), "station name"},
		{strings.Replace(string(data), "{", `{"console_down_after": "1h",`, 1), "out of range"},
		{strings.Replace(string(data), "{", `{"console_down_after": "soon",`, 1), "not a duration"},
		{"{", "config.json"},
	} {
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(tc.edit), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := stationdir.LoadConfig(dir); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("config %q: %v, want an error naming %q", tc.edit, err, tc.want)
		}
	}
	if _, err := stationdir.LoadConfig(t.TempDir()); err == nil || !strings.Contains(err.Error(), "hotline init") {
		t.Errorf("an empty directory: %v", err)
	}
}

func TestAddRelay(t *testing.T) {
	dir := initDir(t, "USA")
	relayKeys, err := identity.NewKeys("R1")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := identity.NewCard(relayKeys, "RELAY", []string{"127.0.0.1:7000"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "card"))
	if _, err := stationdir.AddRelay(context.Background(), dir, rc.Text, strings.Repeat("0", len(rc.Fingerprint()))); !badrequest.Is(err) ||
		strings.Contains(err.Error(), rc.Fingerprint()) {
		t.Fatalf("wrong fingerprint: %v (refused, without the right one)", err)
	}
	own, _ := stationdir.ReadCard(dir)
	if _, err := stationdir.AddRelay(context.Background(), dir, own.Text, own.Fingerprint()); !badrequest.Is(err) {
		t.Fatalf("own card as a relay: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "card")); string(after) != string(before) {
		t.Fatal("a refused relay changed the card")
	}
	card, err := stationdir.AddRelay(context.Background(), dir, rc.Text, rc.Fingerprint())
	if err != nil {
		t.Fatal(err)
	}
	if len(card.Relays) != 1 || card.Relays[0].Name != "R1" {
		t.Fatalf("card relays %+v", card.Relays)
	}
	if _, err := stationdir.AddRelay(context.Background(), dir, rc.Text, rc.Fingerprint()); !badrequest.Is(err) || !strings.Contains(err.Error(), "already") {
		t.Fatalf("the same relay twice: %v", err)
	}
	// A running station holds the lock: the card is not changed under it.
	lock, err := home.Lock(dir, stationdir.ErrLocked)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := stationdir.AddRelay(context.Background(), dir, rc.Text, rc.Fingerprint()); err == nil {
		t.Fatal("added a relay to a locked station")
	}
}

// The store holds message bodies and password hashes: it and its WAL
// files are the owner's alone, and doctor fails a store others may read.
func TestStorePrivate(t *testing.T) {
	dir := initDir(t, "USA")
	st, err := stationdir.OpenStore(context.Background(), dir, "sqlite:hotline.db")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Operators(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, f := range []string{"hotline.db", "hotline.db-wal", "hotline.db-shm"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	if err := os.Chmod(filepath.Join(dir, "hotline.db"), 0o644); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range stationdir.Doctor(context.Background(), dir, stationdir.DoctorOptions{}) {
		if d.Check == "permissions" && strings.Contains(d.Detail, "hotline.db ") {
			found = d.Status == "fail" && strings.Contains(d.Fix, "chmod 600")
		}
	}
	if !found {
		t.Fatal("doctor does not fail a store readable by others")
	}
}

// init on a filesystem with less than the reserve free is refused, and
// leaves nothing behind (issue 20, item 8).
func TestInitRefusesTooLittleRoom(t *testing.T) {
	parent := t.TempDir()
	free, err := stationdir.Free(parent)
	if err != nil {
		t.Fatal(err)
	}
	defer func(m uint64) { stationdir.MinFree = m }(stationdir.MinFree)
	stationdir.MinFree = free * 2
	dir := filepath.Join(parent, "usa")
	_, err = stationdir.Init(context.Background(), stationdir.InitOptions{Dir: dir, Name: "USA", Party: "USA", PeerListen: "127.0.0.1:0", APIListen: "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), "in reserve") || !strings.Contains(err.Error(), "choose a filesystem with more room") {
		t.Fatalf("init with too little room: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("the refused init left %s behind", dir)
	}
}
