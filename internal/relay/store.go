package relay

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"hotline/internal/identity"
	"hotline/internal/migrate"
)

//go:embed migrations/*.sql
var embedded embed.FS

var migrations, _ = fs.Sub(embedded, "migrations")

// store is relay.db: allowed stations, pending mail and counters. The
// running relay is its only writer of mail (it holds the directory's
// lock); hotline relay allow and list open it beside it, which SQLite's
// WAL mode allows.
type store struct {
	db *sql.DB
}

func openStore(ctx context.Context, path string) (*store, error) {
	// Created for the relay's owner alone; SQLite gives its -wal and -shm
	// files the same mode.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	} else if !errors.Is(err, os.ErrExist) {
		return nil, err
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(8)
	st := &store{db: db}
	// The stations' stores run their migrations with the same runner.
	if err := migrate.Up(ctx, db, migrations, nil); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	return st, nil
}

func (st *store) close() error { return st.db.Close() }

func nanos(t time.Time) int64 { return t.UnixNano() }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// stationRow is an allowed station.
type stationRow struct {
	Key         ed25519.PublicKey
	Name, Party string
	Card        []byte
	Fingerprint string
	AddedAt     time.Time
	LastSeen    time.Time // zero: never connected
}

// allow inserts or updates an allowed station. A name already allowed
// with another key is refused: names are how operators tell stations
// apart in hotline relay list.
func (st *store) allow(ctx context.Context, r stationRow, replace bool) error {
	tx, err := st.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var key []byte
	var fp string
	err = tx.QueryRowContext(ctx, `SELECT key, fingerprint FROM stations WHERE name = ?`, r.Name).Scan(&key, &fp)
	switch {
	case err == nil && !ed25519.PublicKey(key).Equal(r.Key) && !replace:
		return fmt.Errorf("a station named %s is already allowed with other keys (fingerprint %s); if it lost its key and its officer read you the new fingerprint, allow it with --replace", r.Name, fp)
	case err == nil && !ed25519.PublicKey(key).Equal(r.Key):
		// A station that lost its key: the old key may no longer connect,
		// and the mail waiting for it, sealed to keys nobody holds, goes.
		for _, q := range []string{`DELETE FROM mail WHERE recipient = ?`, `DELETE FROM stations WHERE key = ?`} {
			if _, err := tx.ExecContext(ctx, q, key); err != nil {
				return err
			}
		}
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO stations (key, name, party, card, fingerprint, added_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT(key) DO UPDATE SET name = excluded.name, party = excluded.party, card = excluded.card`,
		[]byte(r.Key), r.Name, r.Party, r.Card, r.Fingerprint, nanos(r.AddedAt)); err != nil {
		return err
	}
	return tx.Commit()
}

// disallow removes the station allowed under name, the mail waiting for
// it and the keys it rotated from, in one transaction. It returns the
// station's row as it was and how many messages waited for it. Mail the
// station deposited for others stays theirs.
func (st *store) disallow(ctx context.Context, name string) (stationRow, int64, error) {
	tx, err := st.db.BeginTx(ctx, nil)
	if err != nil {
		return stationRow{}, 0, err
	}
	defer tx.Rollback()
	var r stationRow
	var key []byte
	err = tx.QueryRowContext(ctx, `SELECT key, name, party, fingerprint FROM stations WHERE name = ?`, name).Scan(&key, &r.Name, &r.Party, &r.Fingerprint)
	if errors.Is(err, sql.ErrNoRows) {
		var names []string
		rows, qerr := tx.QueryContext(ctx, `SELECT name FROM stations ORDER BY name`)
		if qerr != nil {
			return stationRow{}, 0, qerr
		}
		defer rows.Close()
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				return stationRow{}, 0, err
			}
			names = append(names, n)
		}
		if len(names) == 0 {
			return stationRow{}, 0, fmt.Errorf("%w: no station named %s is allowed here (none is)", ErrNotAllowedHere, name)
		}
		return stationRow{}, 0, fmt.Errorf("%w: no station named %s is allowed here (allowed: %s)", ErrNotAllowedHere, name, strings.Join(names, ", "))
	}
	if err != nil {
		return stationRow{}, 0, err
	}
	r.Key = key
	res, err := tx.ExecContext(ctx, `DELETE FROM mail WHERE recipient = ?`, key)
	if err != nil {
		return stationRow{}, 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return stationRow{}, 0, err
	}
	for _, q := range []string{`DELETE FROM rotated WHERE new_key = ? OR name = ?`, `DELETE FROM stations WHERE key = ?`} {
		args := []any{key}
		if strings.Count(q, "?") == 2 {
			args = append(args, r.Name)
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return stationRow{}, 0, err
		}
	}
	return r, n, tx.Commit()
}

// aliases reads the keys of stations that rotated, each to its station's
// current key, and for each current key the statements that lead to it,
// oldest first.
func (st *store) aliases(ctx context.Context) (map[string]ed25519.PublicKey, map[string][][]byte, error) {
	rows, err := st.db.QueryContext(ctx, `SELECT old_key, new_key, statement FROM rotated ORDER BY at, rowid`)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	out := map[string]ed25519.PublicKey{}
	chains := map[string][][]byte{}
	for rows.Next() {
		var o, n, stmt []byte
		if err := rows.Scan(&o, &n, &stmt); err != nil {
			return nil, nil, err
		}
		out[string(o)] = n
		if len(stmt) > 0 {
			chains[string(n)] = append(chains[string(n)], stmt)
		}
	}
	for k, c := range chains {
		chains[k] = lastStatements(c)
	}
	return out, chains, rows.Err()
}

// stations reads every allowed station.
func (st *store) stations(ctx context.Context) ([]stationRow, error) {
	rows, err := st.db.QueryContext(ctx, `SELECT key, name, party, card, fingerprint, added_at, last_seen FROM stations ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []stationRow
	for rows.Next() {
		var r stationRow
		var key []byte
		var added, seen int64
		if err := rows.Scan(&key, &r.Name, &r.Party, &r.Card, &r.Fingerprint, &added, &seen); err != nil {
			return nil, err
		}
		if len(key) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("station %s has a stored key of %d bytes", r.Name, len(key))
		}
		r.Key, r.AddedAt = key, fromNanos(added)
		if seen != 0 {
			r.LastSeen = fromNanos(seen)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// load is pending mail: a number of messages and their payload bytes.
type load struct{ n, bytes int64 }

// loads sums pending mail by recipient and by sender.
func (st *store) loads(ctx context.Context) (byRecipient, bySender map[string]load, err error) {
	byRecipient, bySender = map[string]load{}, map[string]load{}
	for _, q := range []struct {
		col string
		out map[string]load
	}{{"recipient", byRecipient}, {"sender", bySender}} {
		rows, err := st.db.QueryContext(ctx, `SELECT `+q.col+`, COUNT(*), COALESCE(SUM(size), 0) FROM mail GROUP BY `+q.col)
		if err != nil {
			return nil, nil, err
		}
		for rows.Next() {
			var key []byte
			var l load
			if err := rows.Scan(&key, &l.n, &l.bytes); err != nil {
				rows.Close()
				return nil, nil, err
			}
			q.out[string(key)] = l
		}
		if err := rows.Close(); err != nil {
			return nil, nil, err
		}
	}
	return byRecipient, bySender, nil
}

// Counters are what a relay has done since it was created. They are kept
// in relay.db, written with every batch of writes and every few seconds.
type Counters struct {
	Deposits       int64            `json:"deposits"`        // answered Stored
	DepositedBytes int64            `json:"deposited_bytes"` // their payloads
	PickedUp       int64            `json:"picked_up"`       // deleted by their recipient
	Expired        int64            `json:"expired"`         // deleted by expiry, never picked up
	Connections    int64            `json:"connections"`     // from allowed stations, hello accepted
	Refused        map[string]int64 `json:"refused"`         // by reason: deposits, connections, messages
}

func (c *Counters) rows() map[string]int64 {
	m := map[string]int64{
		"deposits": c.Deposits, "deposited_bytes": c.DepositedBytes, "picked_up": c.PickedUp,
		"expired": c.Expired, "connections": c.Connections,
	}
	for k, v := range c.Refused {
		m["refused/"+k] = v
	}
	return m
}

func (c *Counters) clone() Counters {
	out := *c
	out.Refused = make(map[string]int64, len(c.Refused))
	for k, v := range c.Refused {
		out.Refused[k] = v
	}
	return out
}

func (st *store) counters(ctx context.Context) (Counters, error) {
	c := Counters{Refused: map[string]int64{}}
	rows, err := st.db.QueryContext(ctx, `SELECT name, value FROM counters`)
	if err != nil {
		return c, err
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var v int64
		if err := rows.Scan(&name, &v); err != nil {
			return c, err
		}
		switch name {
		case "deposits":
			c.Deposits = v
		case "deposited_bytes":
			c.DepositedBytes = v
		case "picked_up":
			c.PickedUp = v
		case "expired":
			c.Expired = v
		case "connections":
			c.Connections = v
		default:
			if r, ok := strings.CutPrefix(name, "refused/"); ok {
				c.Refused[r] = v
			}
		}
	}
	return c, rows.Err()
}

func writeCounters(ctx context.Context, tx *sql.Tx, c Counters) error {
	for name, v := range c.rows() {
		if _, err := tx.ExecContext(ctx, `INSERT INTO counters (name, value) VALUES (?, ?)
			ON CONFLICT(name) DO UPDATE SET value = excluded.value`, name, v); err != nil {
			return err
		}
	}
	return nil
}

// Mail is one deposited payload, as its recipient receives it.
type Mail struct {
	ID          uint64            // the relay's mailbox ID: increasing, never reused
	From        ed25519.PublicKey // the depositing station's key, as it authenticated
	DepositedAt time.Time         // the relay's clock, to the millisecond
	Payload     []byte            // exactly the bytes deposited
	// Statements are the rotation statements the relay sent on this
	// connection for From, if its depositor changed its keys: they lead to
	// From from an earlier key of the depositor's, each signed by the key
	// before, and prove that only once followed from a key the recipient
	// holds (identity.Follow). Never stored.
	Statements [][]byte
}

// mailAfter reads a recipient's mail with IDs above after, in ID order:
// at most limit messages, and it stops after the one that reaches
// maxBytes.
func (st *store) mailAfter(ctx context.Context, recipient ed25519.PublicKey, after uint64, limit, maxBytes int) ([]Mail, error) {
	rows, err := st.db.QueryContext(ctx, `SELECT id, sender, deposited_at, payload FROM mail
		WHERE recipient = ? AND id > ? ORDER BY id LIMIT ?`, []byte(recipient), int64(after), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Mail
	size := 0
	for size < maxBytes && rows.Next() {
		var m Mail
		var id, at int64
		var from []byte
		if err := rows.Scan(&id, &from, &at, &m.Payload); err != nil {
			return nil, err
		}
		m.ID, m.From, m.DepositedAt = uint64(id), from, fromNanos(at).Truncate(time.Millisecond)
		size += len(m.Payload)
		out = append(out, m)
	}
	return out, rows.Err()
}

// status reads what hotline relay list shows.
func (st *store) status(ctx context.Context, cfg *Config, card *identity.Card) (*Status, error) {
	rows, err := st.stations(ctx)
	if err != nil {
		return nil, err
	}
	byRecipient, bySender, err := st.loads(ctx)
	if err != nil {
		return nil, err
	}
	counters, err := st.counters(ctx)
	if err != nil {
		return nil, err
	}
	s := &Status{Name: cfg.Name, Party: cfg.Party, Fingerprint: card.Fingerprint(), Listen: cfg.Listen,
		Expiry: time.Duration(cfg.Expiry).String(), Stations: []StationView{}, Counters: counters}
	for _, r := range rows {
		v := StationView{Name: r.Name, Party: r.Party, Fingerprint: r.Fingerprint, Key: r.Key, AddedAt: r.AddedAt}
		if !r.LastSeen.IsZero() {
			seen := r.LastSeen
			v.LastSeen = &seen
		}
		p, d := byRecipient[string(r.Key)], bySender[string(r.Key)]
		v.Pending = Usage{Messages: p.n, Bytes: p.bytes, QuotaMessages: cfg.Recipient.Messages, QuotaBytes: cfg.Recipient.Bytes}
		v.Deposited = Usage{Messages: d.n, Bytes: d.bytes, QuotaMessages: cfg.Sender.Messages, QuotaBytes: cfg.Sender.Bytes}
		s.Stations = append(s.Stations, v)
	}
	return s, nil
}
