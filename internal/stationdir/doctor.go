package stationdir

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"hotline/internal/home"
	"hotline/internal/identity"
	"hotline/internal/link"
	"hotline/internal/record"
	"hotline/internal/relay"
	"hotline/internal/store/postgres"
)

// Diagnosis is one check of hotline doctor: ok, warn or fail, what was
// found, and what to do about it.
type Diagnosis struct {
	Check  string `json:"check"`
	Status string `json:"status"` // "ok", "warn" or "fail"
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// DoctorOptions tune hotline doctor.
type DoctorOptions struct {
	Timeout  time.Duration // per endpoint dialed; default 5s
	WarnFree uint64        // free bytes on the store's filesystem under which to warn; default 1 GiB
	FailFree uint64        // and under which to fail; default MinFree (peers' entries wait under it)
}

// Doctor checks a station directory without changing it: permissions,
// keys against the card, the clock, free disk space, the store, and
// every pinned peer's endpoints and every relay (TCP and a TLS handshake
// pinned to the key in the card). It works beside a running station.
func Doctor(ctx context.Context, dir string, o DoctorOptions) []Diagnosis {
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	if o.WarnFree == 0 {
		o.WarnFree = 1 << 30
	}
	if o.FailFree == 0 {
		o.FailFree = MinFree
	}
	d := &doctor{dir: dir, o: o}
	cfg, ok := d.config()
	if !ok {
		return d.out
	}
	d.permissions()
	keys, card := d.keys()
	d.out = append(d.out, clockCheck())
	d.disk(cfg)
	d.storePassword(cfg)
	peers, ok := d.store(ctx, cfg)
	if !ok || keys == nil {
		return d.out
	}
	d.reach(ctx, keys, card, peers, d.statements)
	return d.out
}

// doctor gathers the diagnoses of one directory, a check at a time.
type doctor struct {
	dir string
	o   DoctorOptions
	out []Diagnosis
	// statements are this station's rotation statements, from its store:
	// its certificate carries them, as the running station's does.
	statements [][]byte
}

func (d *doctor) add(check, status, detail, fix string) {
	d.out = append(d.out, Diagnosis{Check: check, Status: status, Detail: detail, Fix: fix})
}

// config reads config.json; without it nothing else can be checked.
func (d *doctor) config() (*Config, bool) {
	cfg, err := LoadConfig(d.dir)
	if err != nil {
		fix := "give --dir the station directory made by hotline init"
		if _, statErr := os.Stat(filepath.Join(d.dir, "config.json")); statErr == nil {
			fix = "correct " + filepath.Join(d.dir, "config.json") + " (docs/OPERATIONS.md, \"Station config file\", lists every setting)"
		}
		d.add("config", "fail", err.Error(), fix)
		return nil, false
	}
	d.add("config", "ok", filepath.Join(d.dir, "config.json")+" reads", "")
	return cfg, true
}

// permissions: the directory closed to others, the key files and the API
// token owner-only.
func (d *doctor) permissions() {
	dir := d.dir
	if fi, err := os.Stat(dir); err != nil {
		d.add("directory", "fail", err.Error(), "")
	} else if fi.Mode().Perm()&0o077 != 0 {
		d.add("directory", "warn", fmt.Sprintf("%s has mode %04o: others may list or enter it", dir, fi.Mode().Perm()), "chmod 700 "+dir)
	} else {
		d.add("directory", "ok", fmt.Sprintf("%s has mode %04o", dir, fi.Mode().Perm()), "")
	}
	private := []string{filepath.Join(dir, "keys", home.SignKeyFile), filepath.Join(dir, "keys", home.KEMKeyFile), filepath.Join(dir, "api-token"), filepath.Join(dir, "config.json")}
	optional := []string{filepath.Join(dir, KEKFile)}
	if cfg, err := LoadConfig(dir); err == nil {
		if f, ok := SQLiteFile(dir, cfg.Store); ok {
			private = append(private, f)
			optional = append(optional, f+"-wal", f+"-shm")
		}
	}
	for _, p := range optional {
		if _, err := os.Stat(p); err == nil {
			private = append(private, p)
		}
	}
	for _, p := range private {
		fi, err := os.Stat(p)
		switch {
		case err != nil:
			d.add("permissions", "fail", err.Error(), "restore the station's files from a backup")
		case fi.Mode().Perm()&0o077 != 0:
			d.add("permissions", "fail", fmt.Sprintf("%s has mode %04o: readable by group or others", p, fi.Mode().Perm()), "chmod 600 "+p)
		default:
			d.add("permissions", "ok", fmt.Sprintf("%s has mode %04o", p, fi.Mode().Perm()), "")
		}
	}
}

// storePassword: a PostgreSQL station's password is not in config.json,
// and the file that holds it is its owner's alone.
func (d *doctor) storePassword(cfg *Config) {
	if !isPostgres(cfg.Store) {
		return
	}
	cj := filepath.Join(d.dir, "config.json")
	if postgres.HasPassword(cfg.Store) {
		d.add("store password", "warn", "the store URL in "+cj+" holds the database password: every copy and backup of config.json carries it",
			"take it out of the URL and write it in a file of mode 0600 named by store_password_file, or in ~/.pgpass (docs/OPERATIONS.md, \"PostgreSQL\")")
		return
	}
	if _, err := storePassword(d.dir, cfg.Store, cfg.StorePasswordFile); err != nil {
		d.add("store password", "fail", err.Error(), "see docs/OPERATIONS.md, \"PostgreSQL\"")
		return
	}
	if cfg.StorePasswordFile != "" {
		p := StorePasswordPath(d.dir, cfg.StorePasswordFile)
		d.add("store password", "ok", p+" holds it, readable by its owner alone", "")
		return
	}
	d.add("store password", "ok", "not in config.json (from PGPASSFILE or ~/.pgpass, if the database asks for one)", "")
}

// keys: the keys load and the card is theirs. It returns the keys (nil
// if they do not load) and the card (nil if it does not read).
func (d *doctor) keys() (*identity.Keys, *identity.Card) {
	dir := d.dir
	keys, kerr := home.LoadKeys(filepath.Join(dir, "keys"))
	card, cerr := ReadCard(dir)
	switch {
	case kerr != nil:
		d.add("keys", "fail", kerr.Error(), "")
	case cerr != nil:
		d.add("keys", "fail", "reading own card: "+cerr.Error(), "")
	case !card.SignKey.Equal(keys.SignPublic()) || card.Name != keys.Name:
		d.add("keys", "fail", fmt.Sprintf("%s/card does not match the keys in %s/keys", dir, dir), "restore the card and keys together from one backup")
	default:
		d.add("keys", "ok", "the card matches the keys; fingerprint "+card.Fingerprint(), "")
	}
	if kerr != nil {
		keys = nil
	}
	if cerr != nil {
		card = nil
	}
	return keys, card
}

// disk: free space where an SQLite store writes.
func (d *doctor) disk(cfg *Config) {
	storeDir := d.dir
	if f, ok := SQLiteFile(d.dir, cfg.Store); ok {
		storeDir = filepath.Dir(f)
	}
	if !isSQLite(cfg.Store) {
		d.add("disk", "ok", "the store is a PostgreSQL database: watch its server's disk", "")
		return
	}
	free, err := Free(storeDir)
	if err != nil {
		d.add("disk", "warn", "cannot tell free space: "+err.Error(), "")
		return
	}
	detail := fmt.Sprintf("%s free on the filesystem of %s", BytesText(free), storeDir)
	switch {
	case free < d.o.FailFree && free < OwnFloor():
		d.add("disk", "fail", detail, fmt.Sprintf("free space: under %s a running station refuses its own sends and lets peers' entries wait (under %s), and it stops when a write fails",
			BytesText(OwnFloor()), BytesText(MinFree)))
	case free < d.o.FailFree:
		d.add("disk", "fail", detail, fmt.Sprintf("free space: under %s a running station lets peers' entries wait, its own sends go on from the reserve down to %s, and it stops when a write fails",
			BytesText(MinFree), BytesText(OwnFloor())))
	case free < d.o.WarnFree:
		d.add("disk", "warn", detail, "free space before it runs out: a station stops when a write fails")
	default:
		d.add("disk", "ok", detail, "")
	}
}

// store: the store opens and answers (an SQLite store's directory takes
// writes), and whether a process runs the station. It returns the pinned
// peers, and false if the store cannot be read.
func (d *doctor) store(ctx context.Context, cfg *Config) ([]record.Peer, bool) {
	dir := d.dir
	running := false
	if l, err := home.Lock(dir, ErrLocked); errors.Is(err, ErrLocked) {
		running = true
	} else if err == nil {
		l.Close()
	}
	st, err := OpenConfigStore(ctx, dir, cfg)
	if err != nil {
		d.add("store", "fail", err.Error(), "check the store setting in config.json and that the database is there")
		return nil, false
	}
	defer st.Close()
	peers, err := st.Peers(ctx)
	if err != nil {
		d.add("store", "fail", "reading peers: "+err.Error(), "")
		return nil, false
	}
	if keys, err := st.Keys(ctx, cfg.Name); err == nil {
		for _, k := range keys {
			if len(k.Statement) > 0 {
				d.statements = append(d.statements, k.Statement)
			}
		}
	}
	if f, ok := SQLiteFile(dir, cfg.Store); ok {
		if t, err := os.CreateTemp(filepath.Dir(f), ".doctor-*"); err != nil {
			d.add("store", "fail", fmt.Sprintf("%s is not writable: %v", filepath.Dir(f), err), "give the station's user write access to "+filepath.Dir(f))
		} else {
			t.Close()
			os.Remove(t.Name())
			d.add("store", "ok", fmt.Sprintf("%s opens and its directory is writable", f), "")
		}
	} else {
		d.add("store", "ok", "the database opens and answers", "")
	}
	if running {
		d.add("process", "ok", "hotline run owns the station; GET /readyz for its own view", "")
	} else {
		d.add("process", "warn", "no hotline run owns the station", "start it: hotline run --dir "+dir)
	}
	return peers, true
}

// reach dials every relay in the station's own card (if it reads) and
// every pinned peer's endpoints and relays, each pinned to its key.
func (d *doctor) reach(ctx context.Context, keys *identity.Keys, card *identity.Card, peers []record.Peer, stmts [][]byte) {
	cert, err := link.CertificateWith(keys.Name, keys.Sign, stmts)
	if err != nil {
		d.add("reach", "fail", err.Error(), "")
		return
	}
	dial := func(what, addr, name string, key ed25519.PublicKey) {
		dctx, cancel := context.WithTimeout(ctx, d.o.Timeout)
		defer cancel()
		c, err := link.Dial(dctx, addr, link.ClientConfig(cert, name, key))
		if err != nil {
			d.add("reach", "fail", fmt.Sprintf("%s at %s: %v", what, addr, err), "check the address, the firewall, and that it runs with the card you pinned")
			return
		}
		c.Close()
		d.add("reach", "ok", fmt.Sprintf("%s at %s answers with the pinned key", what, addr), "")
	}
	relaysSeen := map[string]bool{}
	relaysOf := func(c *identity.Card, whose string) {
		for _, r := range c.Relays {
			if relaysSeen[string(r.Key)+r.Addr] {
				continue
			}
			relaysSeen[string(r.Key)+r.Addr] = true
			d.relay(ctx, fmt.Sprintf("relay %s (%s)", r.Name, whose), r, cert, keys, card)
		}
	}
	if card != nil {
		relaysOf(card, "own")
	}
	if len(peers) == 0 {
		d.add("reach", "ok", "no peers pinned yet", "")
	}
	for _, p := range peers {
		pc, err := identity.ParseCard(p.Card)
		if err != nil {
			d.add("reach", "fail", fmt.Sprintf("peer %s: stored card: %v", p.Name, err), "pin the peer again")
			continue
		}
		for _, e := range pc.Endpoints {
			dial("peer "+pc.Name, e, pc.Name, pc.SignKey)
		}
		relaysOf(pc, pc.Name+"'s")
	}
}

// relay connects to a relay as the station does, through the relay
// protocol's hello: a TLS handshake alone does not show whether the relay
// allows this station, since a relay refuses a key after the client's
// side of the handshake.
func (d *doctor) relay(ctx context.Context, what string, r identity.RelayRef, cert tls.Certificate, keys *identity.Keys, card *identity.Card) {
	dctx, cancel := context.WithTimeout(ctx, d.o.Timeout)
	defer cancel()
	c, err := relay.Dial(dctx, r.Addr, r.Key, cert)
	switch {
	case errors.Is(err, relay.ErrNotAllowed):
		fp := ""
		if card != nil {
			fp = card.Fingerprint()
		}
		d.add("reach", "fail", fmt.Sprintf("%s at %s refuses this station (%s): %v", what, r.Addr, keys.Name, err),
			fmt.Sprintf("read this station's fingerprint (%s) to the relay's operator and have them run hotline relay allow --card CARD --fingerprint FP (with --replace after a lost key); hotline status shows the channels it degrades", fp))
	case err != nil:
		d.add("reach", "fail", fmt.Sprintf("%s at %s: %v", what, r.Addr, err), "check the address, the firewall, and that it runs with the card you pinned")
	default:
		c.Close()
		d.add("reach", "ok", fmt.Sprintf("%s at %s answers with the pinned key and allows this station", what, r.Addr), "")
	}
}

func isSQLite(spec string) bool { _, ok := SQLiteFile("", spec); return ok }

// clockCheck asks the kernel whether the system clock is synchronized
// (adjtimex: the state NTP daemons such as chrony and systemd-timesyncd
// set). Order never depends on it (DESIGN.md, Principle 6), but the times
// shown to people and the skew measured against the peer do.
func clockCheck() Diagnosis {
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	if err != nil {
		return Diagnosis{Check: "clock", Status: "warn", Detail: "cannot tell whether the clock is synchronized: " + err.Error()}
	}
	if state == unix.TIME_ERROR || tx.Status&unix.STA_UNSYNC != 0 {
		return Diagnosis{Check: "clock", Status: "warn", Detail: "the system clock is not synchronized (adjtimex)",
			Fix: "run an NTP client against your own time source (chrony, systemd-timesyncd); timedatectl shows the state"}
	}
	return Diagnosis{Check: "clock", Status: "ok", Detail: fmt.Sprintf("synchronized (estimated error %dµs)", tx.Esterror)}
}

// BytesText is n bytes as people read them: GiB, MiB or bytes.
func BytesText(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}
