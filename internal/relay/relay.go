// Package relay is the store-and-forward mailbox that stations may use as a
// path when they cannot reach each other directly, and that any third party
// can operate: the server, its storage, the client a station dials it with,
// and the relay directory's setup (init, allow, list).
//
// A relay holds opaque payloads. Stations deposit protocol frames whose
// entries are sealed to the recipient and signed by their author; the relay
// never opens, parses or re-encodes them, and it imports nothing that could
// (it has its own keys only to prove who it is). What a relay promises:
//
//   - only stations whose keys were allowed (after checking a fingerprint
//     read aloud) can connect, and a station receives only its own mail;
//   - a deposit is answered Stored only once it is durable (SQLite, WAL,
//     synchronous=FULL), so a relay killed at any moment keeps it;
//   - mail is streamed to its recipient in ID order as soon as it is
//     deposited, and sent again on each new connection until the recipient
//     deletes it (at least once; receivers dedupe);
//   - pending mail is bounded per station, as recipient and as sender, and
//     expires after a configured age.
//
// A relay that lies (drops, replays, alters, reorders) cannot make a station
// accept anything wrong: every entry is signed and checked by the station.
// At worst it delays. The wire format is in docs/PROTOCOL.md, "Relay".
//
// The relay directory holds:
//
//	config.json   name, party, listen address, endpoints, expiry, quotas
//	card          the relay's signed card (party RELAY by default)
//	keys/         signing.key, kem.key (mode 0600)
//	relay.db      allowed stations, pending mail, counters (SQLite)
//	lock          held by the process that runs the relay
package relay

import (
	"context"
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
)

// Duration is a time.Duration written as "168h0m0s" in config.json.
type Duration time.Duration

// MarshalJSON writes the duration in Go's form.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration in Go's form, e.g. "72h" or "30s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"168h\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Quota bounds the mail pending (deposited, not yet deleted or expired)
// for one station in one role.
type Quota struct {
	Messages int64 `json:"messages"`
	Bytes    int64 `json:"bytes"`
}

// Config is a relay's config.json. Zero fields take the defaults.
type Config struct {
	Kind      string   `json:"kind"` // always "relay": tells it from a station's config
	Name      string   `json:"name"`
	Party     string   `json:"party"`
	Listen    string   `json:"listen"`
	Endpoints []string `json:"endpoints"` // in the card; default: listen
	// Expiry is how long mail is kept if nobody deletes it.
	Expiry Duration `json:"expiry"`
	// PruneEvery is how often expired mail is deleted.
	PruneEvery Duration `json:"prune_every"`
	// MaxPayload refuses larger deposits (at most MaxPayload).
	MaxPayload int `json:"max_payload"`
	// Recipient bounds the mail waiting for each station; Sender bounds
	// the pending mail each station has deposited, for all recipients.
	Recipient Quota `json:"recipient_quota"`
	Sender    Quota `json:"sender_quota"`
	// MediaListen is the UDP address of the media relay (media.go):
	// empty for UDP on listen's address and port, "off" for none.
	MediaListen string `json:"media_listen,omitempty"`
}

// MediaOff in media_listen switches the media relay off.
const MediaOff = "off"

// Defaults for a new relay.
const (
	DefaultExpiry     = 7 * 24 * time.Hour
	DefaultPruneEvery = time.Minute
	DefaultMessages   = 100_000
	DefaultBytes      = 2 << 30
)

const kind = "relay"

func (c *Config) fill() {
	if c.Party == "" {
		c.Party = "RELAY"
	}
	if len(c.Endpoints) == 0 && c.Listen != "" {
		c.Endpoints = []string{c.Listen}
	}
	if c.Expiry == 0 {
		c.Expiry = Duration(DefaultExpiry)
	}
	if c.PruneEvery == 0 {
		c.PruneEvery = Duration(DefaultPruneEvery)
	}
	if c.MaxPayload == 0 {
		c.MaxPayload = MaxPayload
	}
	for _, q := range []*Quota{&c.Recipient, &c.Sender} {
		if q.Messages == 0 {
			q.Messages = DefaultMessages
		}
		if q.Bytes == 0 {
			q.Bytes = DefaultBytes
		}
	}
}

func (c *Config) check() error {
	if c.Kind != kind {
		return fmt.Errorf("kind is %q, not %q", c.Kind, kind)
	}
	if err := identity.CheckName("relay name", c.Name); err != nil {
		return err
	}
	if err := identity.CheckName("party", c.Party); err != nil {
		return err
	}
	if err := checkAddr("listen", c.Listen); err != nil {
		return err
	}
	for _, e := range c.Endpoints {
		if err := checkAddr("endpoint", e); err != nil {
			return err
		}
	}
	if c.MediaListen != "" && c.MediaListen != MediaOff {
		if err := checkAddr("media_listen", c.MediaListen); err != nil {
			return fmt.Errorf("%v (or %q for no media relay)", err, MediaOff)
		}
	}
	switch {
	case c.Expiry <= 0:
		return fmt.Errorf("expiry %s is not positive", time.Duration(c.Expiry))
	case c.PruneEvery <= 0:
		return fmt.Errorf("prune_every %s is not positive", time.Duration(c.PruneEvery))
	case c.MaxPayload < 1 || c.MaxPayload > MaxPayload:
		return fmt.Errorf("max_payload %d is not within 1..%d", c.MaxPayload, MaxPayload)
	}
	for _, q := range []struct {
		name string
		q    Quota
	}{{"recipient_quota", c.Recipient}, {"sender_quota", c.Sender}} {
		if q.q.Messages < 1 || q.q.Bytes < 1 {
			return fmt.Errorf("%s must allow at least one message and one byte", q.name)
		}
	}
	return nil
}

func checkAddr(what, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" || strings.ContainsAny(addr, " \n") {
		return fmt.Errorf("%s %q is not HOST:PORT", what, addr)
	}
	return nil
}

// LoadConfig reads a relay's config.json, with defaults for missing fields.
func LoadConfig(dir string) (*Config, error) {
	if dir == "" {
		return nil, errors.New("no relay directory: use --dir")
	}
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s is not a relay directory (no config.json); run hotline relay init", dir)
	}
	if err != nil {
		return nil, err
	}
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%s: %v", filepath.Join(dir, "config.json"), err)
	}
	if c.Kind != kind {
		return nil, fmt.Errorf("%s is not a relay directory (its config.json is not a relay's; a station's?)", dir)
	}
	c.fill()
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("%s: %v", filepath.Join(dir, "config.json"), err)
	}
	return &c, nil
}

// ReadCard reads the relay's own card.
func ReadCard(dir string) (*identity.Card, error) {
	data, err := os.ReadFile(filepath.Join(dir, "card"))
	if err != nil {
		return nil, err
	}
	return identity.ParseCard(data)
}

// InitOptions are the arguments of hotline relay init.
type InitOptions struct {
	Dir, Name, Party, Listen string
	Endpoints                []string
	Expiry                   time.Duration // 0: DefaultExpiry
}

// Init creates a relay directory: keys, card, config and an empty
// database. It refuses a directory that already holds a relay or a
// station, and leaves nothing behind when it fails.
func Init(ctx context.Context, o InitOptions) (*identity.Card, error) {
	if o.Dir == "" {
		return nil, errors.New("no relay directory: use --dir")
	}
	cfg := Config{Kind: kind, Name: o.Name, Party: o.Party, Listen: o.Listen, Endpoints: o.Endpoints, Expiry: Duration(o.Expiry)}
	cfg.fill()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(o.Dir, "config.json")); err == nil {
		return nil, fmt.Errorf("%s already holds a relay or a station", o.Dir)
	}
	mk, err := home.Make(o.Dir)
	if err != nil {
		return nil, err
	}
	// Nothing half-written stays behind: on any error, what init wrote goes.
	defer mk.Undo()
	dbPath := filepath.Join(o.Dir, dbFile)
	mk.Wrote(dbPath, dbPath+"-wal", dbPath+"-shm")
	st, err := openStore(ctx, dbPath)
	if err != nil {
		return nil, err
	}
	defer st.close()
	keys, err := mk.Keys(o.Name)
	if err != nil {
		return nil, err
	}
	card, err := identity.NewCard(keys, cfg.Party, cfg.Endpoints, time.Now())
	if err != nil {
		return nil, err
	}
	cj, _ := json.MarshalIndent(cfg, "", "  ")
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{"card", card.Text, 0o644},
		{"config.json", append(cj, '\n'), 0o600}, // last: its presence marks a complete relay
	} {
		if err := mk.Write(f.name, f.data, f.mode); err != nil {
			return nil, err
		}
	}
	mk.Keep()
	return card, nil
}

const dbFile = "relay.db"

// ErrLocked means another process runs the relay in that directory.
var ErrLocked = errors.New("relay is in use by another process")

// loadDir reads and checks a relay directory: config, keys, card.
func loadDir(dir string) (*Config, *identity.Keys, *identity.Card, error) {
	cfg, err := LoadConfig(dir)
	if err != nil {
		return nil, nil, nil, err
	}
	keys, err := home.LoadKeys(filepath.Join(dir, "keys"))
	if err != nil {
		return nil, nil, nil, err
	}
	card, err := ReadCard(dir)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("reading the relay's card: %w", err)
	}
	if !card.SignKey.Equal(keys.SignPublic()) || card.Name != keys.Name {
		return nil, nil, nil, fmt.Errorf("%s/card does not match the keys in %s/keys", dir, dir)
	}
	return cfg, keys, card, nil
}

// StationView describes an allowed station and its mail on the relay.
type StationView struct {
	Name        string     `json:"name"`
	Party       string     `json:"party"`
	Fingerprint string     `json:"fingerprint"`
	Key         []byte     `json:"key"` // Ed25519, base64 in JSON
	AddedAt     time.Time  `json:"added_at"`
	LastSeen    *time.Time `json:"last_seen,omitempty"`
	// Pending is mail waiting for this station; Deposited is mail this
	// station deposited that its recipients have not yet deleted.
	Pending   Usage `json:"pending"`
	Deposited Usage `json:"deposited"`
}

// Usage is a station's pending mail in one role, against its quota.
type Usage struct {
	Messages      int64 `json:"messages"`
	Bytes         int64 `json:"bytes"`
	QuotaMessages int64 `json:"quota_messages"`
	QuotaBytes    int64 `json:"quota_bytes"`
}

// Status is the relay at a glance: what hotline relay list shows.
type Status struct {
	Name        string        `json:"name"`
	Party       string        `json:"party"`
	Fingerprint string        `json:"fingerprint"`
	Listen      string        `json:"listen"`
	Expiry      string        `json:"expiry"`
	Stations    []StationView `json:"stations"`
	Counters    Counters      `json:"counters"`
}

// Allow lets a station use the relay, after checking that its card has the
// fingerprint a person read aloud. A running relay picks it up at the
// station's first connection or deposit. Allowing a station again (a new
// card with the same keys) updates its card.
func Allow(ctx context.Context, dir string, cardText []byte, fingerprint string) (*StationView, error) {
	return allow(ctx, dir, cardText, fingerprint, false)
}

// AllowReplacing is Allow for a station that lost its key: its card
// replaces the one allowed under its name, whose key may no longer
// connect and whose waiting mail is deleted.
func AllowReplacing(ctx context.Context, dir string, cardText []byte, fingerprint string) (*StationView, error) {
	return allow(ctx, dir, cardText, fingerprint, true)
}

func allow(ctx context.Context, dir string, cardText []byte, fingerprint string, replace bool) (*StationView, error) {
	cfg, _, own, err := loadDir(dir)
	if err != nil {
		return nil, err
	}
	card, err := identity.ParseCard(cardText)
	if err != nil {
		return nil, err
	}
	if !identity.SameFingerprint(card.Fingerprint(), fingerprint) {
		return nil, fmt.Errorf("%w: the card of %s does not have the fingerprint given; do not allow it, and read the fingerprint again with its owner", identity.ErrFingerprint, card.Name)
	}
	if card.SignKey.Equal(own.SignKey) {
		return nil, fmt.Errorf("that is this relay's own card (%s), not a station's", own.Name)
	}
	st, err := openStore(ctx, filepath.Join(dir, dbFile))
	if err != nil {
		return nil, err
	}
	defer st.close()
	row := stationRow{Key: card.SignKey, Name: card.Name, Party: card.Party, Card: card.Text, Fingerprint: card.Fingerprint(), AddedAt: time.Now()}
	if err := st.allow(ctx, row, replace); err != nil {
		return nil, err
	}
	return &StationView{Name: card.Name, Party: card.Party, Fingerprint: card.Fingerprint(), Key: card.SignKey, AddedAt: row.AddedAt.UTC(),
		Pending:   Usage{QuotaMessages: cfg.Recipient.Messages, QuotaBytes: cfg.Recipient.Bytes},
		Deposited: Usage{QuotaMessages: cfg.Sender.Messages, QuotaBytes: cfg.Sender.Bytes}}, nil
}

// ErrNotAllowedHere: no station of that name is allowed at the relay.
var ErrNotAllowedHere = errors.New("not allowed at this relay")

// Disallowed is what Disallow removed: the station, and the mail that
// waited for it, deleted with it.
type Disallowed struct {
	Name        string `json:"name"`
	Fingerprint string `json:"fingerprint"`
	MailDeleted int64  `json:"mail_deleted"`
}

// Disallow takes a station off the relay's allowed list, by name: it may
// no longer connect, deposits for it are refused, and the mail that
// waited for it is deleted (mail it deposited for others stays theirs).
// A running relay reads the list again within seconds and closes the
// station's connections. Allowing it again (hotline relay allow) is a new
// allowance, read aloud like the first.
func Disallow(ctx context.Context, dir, name string) (*Disallowed, error) {
	if _, _, _, err := loadDir(dir); err != nil {
		return nil, err
	}
	st, err := openStore(ctx, filepath.Join(dir, dbFile))
	if err != nil {
		return nil, err
	}
	defer st.close()
	r, n, err := st.disallow(ctx, name)
	if err != nil {
		return nil, err
	}
	return &Disallowed{Name: r.Name, Fingerprint: r.Fingerprint, MailDeleted: n}, nil
}

// List reports the allowed stations with their pending mail, and the
// relay's counters as last written by the running relay. It works while
// the relay runs.
func List(ctx context.Context, dir string) (*Status, error) {
	cfg, _, card, err := loadDir(dir)
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, filepath.Join(dir, dbFile))
	if err != nil {
		return nil, err
	}
	defer st.close()
	return st.status(ctx, cfg, card)
}
