// Package stationdir is a station's directory: what hotline init writes,
// what a running station and every offline command read, and what backup,
// restore and doctor work on. It never runs a station (package station
// does); it holds the files and the rules for them.
//
// The directory holds:
//
//	config.json   name, party, listen addresses, store, the API's certificate
//	card          this station's signed card
//	keys/         signing.key, kem.key (mode 0600); next/ during a key change, retired/N after
//	api-token     bearer token for the local API (mode 0600)
//	hotline.db    the SQLite store (by default)
//	lock          held by the process that owns the station
//	restored      present after a restore until every channel is clear
package stationdir

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"hotline/internal/home"
	"hotline/internal/identity"
	"hotline/internal/store"
	"hotline/internal/store/postgres"
	"hotline/internal/store/sqlite"
)

// Config is a station's config.json.
type Config struct {
	Name       string   `json:"name"`
	Party      string   `json:"party"`
	PeerListen string   `json:"peer_listen"`
	APIListen  string   `json:"api_listen"`
	Endpoints  []string `json:"endpoints"` // advertised in the card; default: peer_listen
	Store      string   `json:"store"`     // "sqlite:FILE" (relative to the station dir)
	// StorePasswordFile names a file (mode 0600, relative to the station
	// directory or absolute) holding the PostgreSQL password, so that
	// neither config.json nor a command line holds it. Without it, a
	// password comes from the URL or from PGPASSFILE / ~/.pgpass.
	StorePasswordFile string `json:"store_password_file,omitempty"`
	// APITLSCert and APITLSKey are PEM files: when set, the API and the
	// console are served over HTTPS (see CheckAPIListen).
	APITLSCert string `json:"api_tls_cert,omitempty"`
	APITLSKey  string `json:"api_tls_key,omitempty"`
	// ConsoleDownAfter is how long a channel may have no path up before
	// the console's "channel down" alert takes over the screen ("5s" if
	// empty): between MinDownAfter and MaxDownAfter.
	ConsoleDownAfter string `json:"console_down_after,omitempty"`
	// ConsoleHosts are more names the console answers to in a request's
	// Host header (besides loopback, the listen address and the names in
	// the certificate): host names or IP addresses, without a port.
	ConsoleHosts []string `json:"console_hosts,omitempty"`
	// MediaListen is the UDP address of the station's call media
	// (host:port), for the other station and the console's browsers
	// alike: its host candidates. Empty: the host of peer_listen, any
	// port.
	MediaListen string `json:"media_listen,omitempty"`
	// MediaAdvertise is the address (IP:port) the other station's media
	// reaches this one at, when that is not media_listen's: a static NAT
	// or a forwarded port. The signed call entries name it; the console's
	// browsers still use media_listen's.
	MediaAdvertise string `json:"media_advertise,omitempty"`
}

// MediaAddr is where the station's call media listens: media_listen, or
// the host of peer_listen with any port.
func (c *Config) MediaAddr() string {
	if c.MediaListen != "" {
		return c.MediaListen
	}
	host, _, err := net.SplitHostPort(c.PeerListen)
	if err != nil {
		host = ""
	}
	return net.JoinHostPort(host, "0")
}

// The bounds of console_down_after: a shorter grace would take over the
// screen at every reconnect, a longer one would hide an outage.
const (
	MinDownAfter = time.Second
	MaxDownAfter = 10 * time.Minute
)

// DownAfter is console_down_after as a duration, zero when it is not set.
func (c *Config) DownAfter() (time.Duration, error) {
	if c.ConsoleDownAfter == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(c.ConsoleDownAfter)
	if err != nil {
		return 0, fmt.Errorf("console_down_after %q is not a duration such as 5s or 1m", c.ConsoleDownAfter)
	}
	if d < MinDownAfter || d > MaxDownAfter {
		return 0, fmt.Errorf("console_down_after %s is out of range: from %s to %s", d, MinDownAfter, MaxDownAfter)
	}
	return d, nil
}

// ErrLocked means another process owns the station directory.
var ErrLocked = errors.New("station is in use by another process")

// InitOptions are the arguments of hotline init.
type InitOptions struct {
	Dir, Name, Party, PeerListen, APIListen string
	Endpoints                               []string
	// Store is "sqlite:FILE" (the default, FILE relative to Dir) or a
	// postgres:// URL of a database that holds this station alone.
	Store string
	// StorePasswordFile is a file of mode 0600 holding the PostgreSQL
	// password (relative to the working directory: config.json records
	// it absolute).
	StorePasswordFile string
	// APITLSCert and APITLSKey serve the API over HTTPS; without them
	// APIListen must be a loopback address.
	APITLSCert, APITLSKey string
}

func checkListen(what, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return fmt.Errorf("%s %q is not HOST:PORT", what, addr)
	}
	_ = host
	return nil
}

// Init creates a new station directory: keys, card, config, empty store and
// API token. It refuses a directory that already holds a station.
func Init(ctx context.Context, o InitOptions) (*identity.Card, error) {
	if o.Dir == "" {
		return nil, errors.New("no station directory: use --dir or set HOTLINE_DIR")
	}
	if err := identity.CheckName("station name", o.Name); err != nil {
		return nil, err
	}
	if err := identity.CheckName("party", o.Party); err != nil {
		return nil, err
	}
	if err := checkListen("--peer-listen", o.PeerListen); err != nil {
		return nil, err
	}
	if err := checkListen("--api-listen", o.APIListen); err != nil {
		return nil, err
	}
	tlsCert, tlsKey, err := checkAPITLS(o.APIListen, o.APITLSCert, o.APITLSKey)
	if err != nil {
		return nil, err
	}
	if len(o.Endpoints) == 0 {
		o.Endpoints = []string{o.PeerListen}
	}
	for _, e := range o.Endpoints {
		if err := checkListen("endpoint", e); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(o.Dir, "config.json")); err == nil {
		return nil, fmt.Errorf("%s already holds a station", o.Dir)
	}
	if o.Store == "" {
		o.Store = "sqlite:hotline.db"
	}
	// The password file before anything is written: a missing or readable
	// one changes nothing.
	if o.StorePasswordFile != "" {
		if o.StorePasswordFile, err = filepath.Abs(o.StorePasswordFile); err != nil {
			return nil, err
		}
	}
	password, err := storePassword(o.Dir, o.Store, o.StorePasswordFile)
	if err != nil {
		return nil, err
	}
	mk, err := home.Make(o.Dir)
	if err != nil {
		return nil, err
	}
	// Nothing half-written stays behind: on any error, what init wrote goes.
	defer mk.Undo()
	// A station on a filesystem with less than its reserve free could not
	// even pin a peer: say so now rather than then.
	if f, ok := SQLiteFile(o.Dir, o.Store); ok {
		if free, err := Free(filepath.Dir(f)); err == nil && free < MinFree {
			return nil, fmt.Errorf("only %s free on the filesystem of %s: a station keeps %s there in reserve (under it, peers' messages wait; under %s, its own requests are refused): choose a filesystem with more room; nothing was written",
				BytesText(free), filepath.Dir(f), BytesText(MinFree), BytesText(OwnFloor()))
		}
	}
	// The store first: a store that cannot be opened is the likeliest error.
	if engine, arg, _ := strings.Cut(o.Store, ":"); engine == "sqlite" {
		mk.Wrote(filepath.Join(o.Dir, arg), filepath.Join(o.Dir, arg+"-wal"), filepath.Join(o.Dir, arg+"-shm"))
	}
	st, err := openStore(ctx, o.Dir, o.Store, password)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	keys, err := mk.Keys(o.Name)
	if err != nil {
		return nil, err
	}
	card, err := identity.NewCard(keys, o.Party, o.Endpoints, time.Now())
	if err != nil {
		return nil, err
	}
	cfg := Config{Name: o.Name, Party: o.Party, PeerListen: o.PeerListen, APIListen: o.APIListen, Endpoints: o.Endpoints, Store: o.Store,
		StorePasswordFile: o.StorePasswordFile, APITLSCert: tlsCert, APITLSKey: tlsKey}
	cj, _ := json.MarshalIndent(cfg, "", "  ")
	tok := make([]byte, 32)
	rand.Read(tok)
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{"card", card.Text, 0o644},
		{"api-token", []byte(hex.EncodeToString(tok) + "\n"), 0o600},
		{"config.json", append(cj, '\n'), 0o600}, // last: its presence marks a complete station
	}
	if _, ok := st.(interface {
		PutSealedKeys(context.Context, []byte) error
	}); ok {
		// A store the station's machines share keeps its keys, sealed
		// under this key (keyvault.go); config.json stays last.
		kek := make([]byte, 32)
		rand.Read(kek)
		files = append([]struct {
			name string
			data []byte
			mode os.FileMode
		}{{KEKFile, []byte(base64.StdEncoding.EncodeToString(kek) + "\n"), 0o600}}, files...)
	}
	for _, f := range files {
		if err := mk.Write(f.name, f.data, f.mode); err != nil {
			return nil, err
		}
	}
	mk.Keep()
	return card, nil
}

// OpenStore opens the store a spec names: "sqlite:FILE", FILE relative
// to dir, or a postgres:// URL.
func OpenStore(ctx context.Context, dir, spec string) (store.Store, error) {
	return openStore(ctx, dir, spec, "")
}

// OpenConfigStore opens the store of a station's config: its store spec
// and, for PostgreSQL, the password in store_password_file.
func OpenConfigStore(ctx context.Context, dir string, cfg *Config) (store.Store, error) {
	password, err := storePassword(dir, cfg.Store, cfg.StorePasswordFile)
	if err != nil {
		return nil, err
	}
	return openStore(ctx, dir, cfg.Store, password)
}

func isPostgres(spec string) bool {
	return strings.HasPrefix(spec, "postgres://") || strings.HasPrefix(spec, "postgresql://")
}

func openStore(ctx context.Context, dir, spec, password string) (store.Store, error) {
	if isPostgres(spec) {
		return postgres.OpenPassword(ctx, spec, password)
	}
	if f, ok := SQLiteFile(dir, spec); ok {
		return sqlite.Open(ctx, f)
	}
	engine, _, _ := strings.Cut(spec, ":")
	return nil, fmt.Errorf("store %q: unknown engine %q (use sqlite:FILE or a postgres:// URL)", spec, engine)
}

// SQLiteFile is the database file of a "sqlite:FILE" store spec, FILE
// relative to the station directory.
func SQLiteFile(dir, spec string) (string, bool) {
	engine, arg, _ := strings.Cut(spec, ":")
	if engine != "sqlite" {
		return "", false
	}
	if !filepath.IsAbs(arg) {
		arg = filepath.Join(dir, arg)
	}
	return arg, true
}

// LoadConfig reads a station's config.json.
func LoadConfig(dir string) (*Config, error) {
	if dir == "" {
		return nil, errors.New("no station directory: use --dir or set HOTLINE_DIR")
	}
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s is not a station directory (no config.json); run hotline init", dir)
		}
		return nil, err
	}
	var cfg Config
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields() // a misspelt setting is an error, not a default
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("%s: %v", filepath.Join(dir, "config.json"), err)
	}
	if err := identity.CheckName("station name", cfg.Name); err != nil {
		return nil, fmt.Errorf("config.json: %v", err)
	}
	if _, err := cfg.DownAfter(); err != nil {
		return nil, fmt.Errorf("%s: %v", filepath.Join(dir, "config.json"), err)
	}
	if _, err := cfg.ConsoleHostNames(); err != nil {
		return nil, fmt.Errorf("%s: %v", filepath.Join(dir, "config.json"), err)
	}
	return &cfg, nil
}

// ReadCard reads the station's own card.
func ReadCard(dir string) (*identity.Card, error) {
	data, err := os.ReadFile(filepath.Join(dir, "card"))
	if err != nil {
		return nil, err
	}
	return identity.ParseCard(data)
}

// ReadToken reads the API token.
func ReadToken(dir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "api-token"))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(data)), nil
}

// StorePasswordPath is store_password_file made absolute (relative to the
// station directory), or "" when it is not set.
func StorePasswordPath(dir, file string) string {
	if file == "" || filepath.IsAbs(file) {
		return file
	}
	return filepath.Join(dir, file)
}

// storePassword reads the PostgreSQL password from file (relative to
// dir): a regular file that only its owner may read, holding the password
// on its first line. It refuses a file with a store that is not
// PostgreSQL's or a URL that holds a password itself. Without a file, it
// checks the password file libpq would read (PGPASSFILE or ~/.pgpass) the
// same way, when there is one and the URL holds no password.
func storePassword(dir, spec, file string) (string, error) {
	if file == "" {
		if !isPostgres(spec) || postgres.HasPassword(spec) {
			return "", nil
		}
		pf := postgres.PassfilePath(spec)
		if pf == "" {
			return "", nil
		}
		if fi, err := os.Stat(pf); err == nil && fi.Mode().Perm()&0o077 != 0 {
			return "", fmt.Errorf("PostgreSQL password file %s has mode %04o: readable by group or others (fix: chmod 600 %s)", pf, fi.Mode().Perm(), pf)
		}
		return "", nil
	}
	if !isPostgres(spec) {
		return "", fmt.Errorf("store_password_file %s is for a PostgreSQL store; the store is %q", file, spec)
	}
	if postgres.HasPassword(spec) {
		return "", errors.New("the store URL holds a password and store_password_file names a file too: keep the password in the file alone")
	}
	p := StorePasswordPath(dir, file)
	fi, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("store password file %s does not exist: write the database password in it, mode 0600", p)
		}
		return "", fmt.Errorf("store password file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("store password file %s is not a regular file", p)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("store password file %s has mode %04o: readable by group or others (fix: chmod 600 %s)", p, fi.Mode().Perm(), p)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("store password file: %w", err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", fmt.Errorf("store password file %s is empty: write the database password on its first line", p)
	}
	return line, nil
}
