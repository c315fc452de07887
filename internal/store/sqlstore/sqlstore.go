// Package sqlstore is the store.Store on database/sql that the SQL engines
// share: the same tables, statements and semantics, with a dialect for
// what differs (placeholders, migrations). Each engine package (sqlite,
// postgres) opens its driver and hands the *sql.DB here; both run the same
// conformance suite (store/storetest).
package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"hotline/internal/envelope"
	"hotline/internal/migrate"
	"hotline/internal/record"
	"hotline/internal/store"
)

// Dialect is what differs between engines.
type Dialect struct {
	Name string
	// Migrations holds NNN_name.sql files, applied in order; statements
	// are separated by a line holding only ";".
	Migrations fs.FS
	// Dollar placeholders ($1, $2, …) instead of ?.
	Dollar bool
}

// Store is a store.Store on database/sql.
type Store struct {
	db *sql.DB
	d  Dialect
	// Writes are serialized here rather than in SQLite's busy handler, and
	// use statements prepared once (parsing SQL was a tenth of a station's
	// CPU under load).
	wmu   sync.Mutex
	stmts map[string]*sql.Stmt
	// fence, if set, runs first in every Apply transaction; an error
	// from it rolls the batch back (see store.Leaser).
	fence func(ctx context.Context, tx *sql.Tx) error
}

// SetFence makes every later Apply run f first in its transaction and
// write nothing if f fails: an engine's fencing-token check.
func (s *Store) SetFence(f func(ctx context.Context, tx *sql.Tx) error) {
	s.wmu.Lock()
	s.fence = f
	s.wmu.Unlock()
}

// The write statements, prepared once per connection.
var writeSQL = map[string]string{
	"key": `INSERT INTO keys (station, seq, card, fingerprint, reason, statement, at, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`,
	"logKey":      `INSERT INTO log_keys (channel, author, from_idx, seq) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
	"receiptTime": `INSERT INTO receipt_times (channel, author, size, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
	"epochKey":    `INSERT INTO epoch_keys (channel, author, from_idx, key) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
	"peer": `INSERT INTO peers (name, party, card, fingerprint, added_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT(name) DO UPDATE SET party = excluded.party, card = excluded.card, fingerprint = excluded.fingerprint`,
	"channel": `INSERT INTO channels (id, peer, level, state, proposer, charter, created_at, updated_at, suspensions, last_check, last_check_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET level = excluded.level, state = excluded.state, proposer = excluded.proposer, charter = excluded.charter, updated_at = excluded.updated_at,
		suspensions = excluded.suspensions, last_check = excluded.last_check, last_check_at = excluded.last_check_at`,
	"entry": `INSERT INTO entries (channel, author, idx, kind, precedence, sender_time, stored_at, raw, body, root)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
	"entryRaw": `SELECT raw FROM entries WHERE channel = ? AND author = ? AND idx = ?`,
	"log": `INSERT INTO logs (channel, author, size, hashes, checkpoint, epoch_from) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT(channel, author) DO UPDATE SET size = excluded.size, hashes = excluded.hashes,
		checkpoint = COALESCE(excluded.checkpoint, logs.checkpoint),
		epoch_from = CASE WHEN excluded.epoch_from > 0 THEN excluded.epoch_from ELSE logs.epoch_from END`,
	"receipt": `INSERT INTO logs (channel, author, size, hashes, receipt, receipt_size) VALUES (?, ?, 0, ?, ?, ?)
		ON CONFLICT(channel, author) DO UPDATE SET receipt = excluded.receipt, receipt_size = excluded.receipt_size
		WHERE excluded.receipt_size >= logs.receipt_size`,
	// A receipt disowned (its cosigning key revoked) is replaced by a
	// smaller one, or none.
	"receipt rewind": `UPDATE logs SET receipt = ?, receipt_size = ? WHERE channel = ? AND author = ?`,
	"ack": `INSERT INTO acks (channel, author, idx, ack_author, ack_idx, by_name, at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`,
	"alert": `INSERT INTO alerts (at, level, channel, peer, text, format, args) VALUES (?, ?, ?, ?, ?, ?, ?)`,
	"escalation": `INSERT INTO escalations (channel, author, idx, step, at, detail) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`,
	"probe": `INSERT INTO probes (channel, hour, sent, answered, rtt) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT(channel, hour) DO UPDATE SET sent = probes.sent + excluded.sent,
		answered = probes.answered + excluded.answered, rtt = probes.rtt + excluded.rtt`,
}

var _ store.Store = (*Store)(nil)

// New migrates db forward and prepares the write statements. The store
// owns db from then on.
func New(ctx context.Context, db *sql.DB, d Dialect) (*Store, error) {
	s := &Store{db: db, d: d}
	if err := Migrate(ctx, db, d); err != nil {
		return nil, err
	}
	if err := s.writable(ctx); err != nil {
		return nil, err
	}
	s.stmts = map[string]*sql.Stmt{}
	for name, q := range writeSQL {
		st, err := db.PrepareContext(ctx, s.q(q))
		if err != nil {
			return nil, fmt.Errorf("preparing %s: %w", name, err)
		}
		s.stmts[name] = st
	}
	return s, nil
}

// writable checks, at open, that the database takes writes: a station
// on a read-only database (a file without write permission, a read-only
// file system, a PostgreSQL standby or a database set read-only) is
// refused now, with the reason, rather than at its first write. The
// probe is a write transaction that changes nothing.
func (s *Store) writable(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err == nil {
		_, err = tx.ExecContext(ctx, `UPDATE schema_version SET version = version WHERE version < 0`)
		if err == nil {
			err = tx.Commit()
		} else {
			tx.Rollback()
		}
	}
	if err != nil {
		return fmt.Errorf("%w: %w", migrate.ErrNoWrites, err)
	}
	return nil
}

// DB is the underlying database, for engine-specific operations.
func (s *Store) DB() *sql.DB { return s.db }

// q rewrites ? placeholders for the dialect.
func (s *Store) q(query string) string {
	if !s.d.Dollar {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// SchemaVersion is the number of the newest migration in fsys.
func SchemaVersion(fsys fs.FS) int { return migrate.Latest(fsys) }

// Versions lists the numbers of the migrations in fsys, in order. It is
// empty if their names are refused (see migrate.Versions).
func Versions(fsys fs.FS) []int {
	vs, _ := migrate.Versions(fsys)
	return vs
}

// Migrate applies to db, in order, every migration of d that
// schema_version does not record, and records each in the same
// transaction: a migration that fails part way leaves the database as it
// was before it. A database that records a migration d does not have was
// written by another (newer) binary and is refused, unchanged. New runs
// it; tests run it alone to build a database at an earlier version. The
// runner is migrate.Up, with the dialect's placeholders.
func Migrate(ctx context.Context, db *sql.DB, d Dialect) error {
	s := &Store{db: db, d: d}
	return migrate.Up(ctx, db, d.Migrations, s.q)
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// idxArg converts a log position for a query. Stored indexes fit in an
// int64; a bound beyond that (math.MaxUint64 for "to the end") is clamped
// rather than wrapped to a negative number.
func idxArg(i uint64) int64 {
	if i > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(i)
}

func joinHashes(hs [][]byte) []byte { return bytes.Join(hs, nil) }

func splitHashes(b []byte) ([][]byte, error) {
	if len(b)%32 != 0 {
		return nil, fmt.Errorf("stored tree has %d bytes, not a multiple of 32", len(b))
	}
	hs := make([][]byte, 0, len(b)/32)
	for i := 0; i < len(b); i += 32 {
		hs = append(hs, b[i:i+32:i+32])
	}
	return hs, nil
}

// begin starts a write transaction (the caller holds wmu) and runs the
// fence in it first: every write, the console's and the station's own
// records included, is refused once another process holds the lease.
func (s *Store) begin(ctx context.Context) (*sql.Tx, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	if s.fence != nil {
		if err := s.fence(ctx, tx); err != nil {
			tx.Rollback()
			return nil, err
		}
	}
	return tx, nil
}

// Apply writes b in one transaction.
func (s *Store) Apply(ctx context.Context, b *record.Batch) error {
	if b.Empty() {
		return nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	if err := s.apply(ctx, tx, b); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (s *Store) apply(ctx context.Context, tx *sql.Tx, b *record.Batch) error {
	stmt := func(name string) *sql.Stmt { return tx.StmtContext(ctx, s.stmts[name]) }
	for _, k := range b.Keys {
		if _, err := stmt("key").ExecContext(ctx,
			k.Station, k.Seq, k.Card, k.Fingerprint, k.Reason, k.Statement, nanos(k.At), k.Detail); err != nil {
			return fmt.Errorf("key %d of %s: %w", k.Seq, k.Station, err)
		}
	}
	for _, k := range b.LogKeys {
		if _, err := stmt("logKey").ExecContext(ctx, k.Channel, k.Author, idxArg(k.From), k.Seq); err != nil {
			return fmt.Errorf("key of log %s/%s at %d: %w", k.Channel, k.Author, k.From, err)
		}
	}
	for _, k := range b.EpochKeys {
		if _, err := stmt("epochKey").ExecContext(ctx, k.Channel, k.Author, idxArg(k.From), k.Key); err != nil {
			return fmt.Errorf("epoch key of log %s/%s at %d: %w", k.Channel, k.Author, k.From, err)
		}
	}
	for _, p := range b.Peers {
		if _, err := stmt("peer").ExecContext(ctx,
			p.Name, p.Party, p.Card, p.Fingerprint, nanos(p.AddedAt)); err != nil {
			return fmt.Errorf("peer %s: %w", p.Name, err)
		}
	}
	for _, c := range b.Channels {
		susp := ""
		if len(c.Suspensions) > 0 {
			j, err := json.Marshal(c.Suspensions)
			if err != nil {
				return err
			}
			susp = string(j)
		}
		if _, err := stmt("channel").ExecContext(ctx,
			c.ID, c.Peer, c.Level, c.State, c.Proposer, c.Charter, nanos(c.CreatedAt), nanos(c.UpdatedAt),
			susp, idxArg(c.LastCheck), nanos(c.LastCheckAt)); err != nil {
			return fmt.Errorf("channel %s: %w", c.ID, err)
		}
	}
	if len(b.Entries) > 0 {
		ins := stmt("entry")
		for _, e := range b.Entries {
			res, err := ins.ExecContext(ctx, e.Channel, e.Author, int64(e.Index), int(e.Kind), int(e.Precedence),
				nanos(e.SenderTime), nanos(e.StoredAt), e.Raw, e.Body, e.Root)
			if err != nil {
				return fmt.Errorf("entry %s: %w", e.ID(), err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				var raw []byte
				if err := stmt("entryRaw").QueryRowContext(ctx,
					e.Channel, e.Author, int64(e.Index)).Scan(&raw); err != nil {
					return err
				}
				if !bytes.Equal(raw, e.Raw) {
					return fmt.Errorf("entry %s: %w", e.ID(), store.ErrConflict)
				}
			}
		}
	}
	for _, l := range b.Logs {
		if _, err := stmt("log").ExecContext(ctx,
			l.Channel, l.Author, int64(l.Size), joinHashes(l.Hashes), l.Checkpoint, int64(l.EpochFrom)); err != nil {
			return fmt.Errorf("log %s/%s: %w", l.Channel, l.Author, err)
		}
	}
	for _, r := range b.Receipts {
		var err error
		if r.Rewind {
			_, err = stmt("receipt rewind").ExecContext(ctx, r.Note, int64(r.Size), r.Channel, r.Author)
		} else {
			_, err = stmt("receipt").ExecContext(ctx, r.Channel, r.Author, []byte{}, r.Note, int64(r.Size))
		}
		if err == nil && !r.Rewind && !r.At.IsZero() {
			_, err = stmt("receiptTime").ExecContext(ctx, r.Channel, r.Author, int64(r.Size), nanos(r.At))
		}
		if err != nil {
			return fmt.Errorf("receipt %s/%s: %w", r.Channel, r.Author, err)
		}
	}
	for _, a := range b.Acks {
		if _, err := stmt("ack").ExecContext(ctx,
			a.Channel, a.Author, int64(a.Index), a.AckAuthor, int64(a.AckIndex), a.By, nanos(a.At)); err != nil {
			return fmt.Errorf("ack of %s/%s/%d: %w", a.Channel, a.Author, a.Index, err)
		}
	}
	for _, a := range b.Alerts {
		args, err := json.Marshal(a.Args)
		if err != nil {
			return fmt.Errorf("alert: %w", err)
		}
		if a.Args == nil {
			args = []byte("[]")
		}
		if _, err := stmt("alert").ExecContext(ctx,
			nanos(a.At), a.Level, a.Channel, a.Peer, a.Text, a.Format, string(args)); err != nil {
			return fmt.Errorf("alert: %w", err)
		}
	}
	for _, x := range b.Escalations {
		if _, err := stmt("escalation").ExecContext(ctx,
			x.Channel, x.Author, idxArg(x.Index), x.Step, nanos(x.At), x.Detail); err != nil {
			return fmt.Errorf("escalation of %s/%s/%d: %w", x.Channel, x.Author, x.Index, err)
		}
	}
	for _, p := range b.Probes {
		if _, err := stmt("probe").ExecContext(ctx,
			p.Channel, nanos(p.Hour), p.Sent, p.Answered, int64(p.RTT)); err != nil {
			return fmt.Errorf("link tests of %s: %w", p.Channel, err)
		}
	}
	return nil
}

// outstanding selects entries that wait for a person's acknowledgement and
// whose ladder is not finished (see record.Snapshot.Outstanding). The first
// two arguments are this station's name.
var outstanding = fmt.Sprintf(`e.kind IN (%s)
		AND NOT EXISTS (SELECT 1 FROM acks a WHERE a.channel = e.channel AND a.author = e.author AND a.idx = e.idx)
		AND NOT EXISTS (SELECT 1 FROM escalations x WHERE x.channel = e.channel AND x.author = e.author AND x.idx = e.idx
			AND x.step = CASE WHEN e.author = ? THEN %d ELSE %d END)
		AND (e.kind <> %d OR e.author <> ? OR e.idx = (SELECT c.last_check FROM channels c WHERE c.id = e.channel))`,
	ackedKinds(), record.StepForwarded, record.StepOverdue, envelope.Check)

// ackedKinds lists the kinds that wait for a person's acknowledgement, for
// SQL: "1, 6, 8, ...".
func ackedKinds() string {
	var ks []string
	for _, k := range envelope.Kinds() {
		if k.NeedsAck() {
			ks = append(ks, strconv.Itoa(int(k)))
		}
	}
	return strings.Join(ks, ", ")
}

// Load returns the snapshot a station resumes from.
func (s *Store) Load(ctx context.Context, self string) (*record.Snapshot, error) {
	var snap record.Snapshot
	var err error
	if snap.Peers, err = s.Peers(ctx); err != nil {
		return nil, err
	}
	if snap.Channels, err = s.Channels(ctx); err != nil {
		return nil, err
	}
	if snap.Keys, err = s.Keys(ctx, ""); err != nil {
		return nil, err
	}
	if snap.LogKeys, err = s.logKeys(ctx); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT channel, author, size, hashes, checkpoint, receipt, receipt_size, epoch_from FROM logs ORDER BY channel, author`))
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		l, err := scanLog(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		snap.Logs = append(snap.Logs, *l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if snap.EpochEntries, err = s.epochEntries(ctx); err != nil {
		return nil, err
	}
	for _, l := range snap.Logs {
		if l.Author != self || l.Size <= l.ReceiptSize {
			continue
		}
		es, err := s.Entries(ctx, l.Channel, l.Author, l.ReceiptSize+1, l.Size)
		if err != nil {
			return nil, err
		}
		snap.Undelivered = append(snap.Undelivered, es...)
	}
	// The entries that wait are read as the core takes them, after Load.
	snap.EachOutstanding = func(f func(*record.Waiting)) error { return s.eachWaiting(ctx, self, f) }
	if snap.Escalations, err = s.escalations(ctx, `EXISTS (SELECT 1 FROM entries e WHERE e.channel = x.channel AND e.author = x.author AND e.idx = x.idx AND `+outstanding+`)`, self, self); err != nil {
		return nil, err
	}
	return &snap, nil
}

// eachWaiting reads the entries that wait for acknowledgement, one at a
// time into f, with only what their ladders need (record.Waiting): no
// entry's bytes, the body only of checks and of this station's
// escalations; in the order of the entries' key, so that nothing is
// sorted; channel and author names shared among the rows.
func (s *Store) eachWaiting(ctx context.Context, self string, f func(*record.Waiting)) error {
	rows, err := s.db.QueryContext(ctx, s.q(fmt.Sprintf(`SELECT e.channel, e.author, e.idx, e.kind, e.precedence, e.stored_at,
		CASE WHEN e.kind = %d OR e.kind = %d AND e.author = ? THEN e.body END
		FROM entries e WHERE `+outstanding+` ORDER BY e.channel, e.author, e.idx`, envelope.Check, envelope.Escalation)), self, self, self)
	if err != nil {
		return err
	}
	defer rows.Close()
	names := map[string]string{}
	name := func(b sql.RawBytes) string {
		if n, ok := names[string(b)]; ok {
			return n
		}
		n := string(b)
		names[n] = n
		return n
	}
	for rows.Next() {
		var (
			ch, author  sql.RawBytes
			idx, stored int64
			kind, prec  int
			body        []byte
		)
		if err := rows.Scan(&ch, &author, &idx, &kind, &prec, &stored, &body); err != nil {
			return err
		}
		f(&record.Waiting{Channel: name(ch), Author: name(author), Index: uint64(idx), StoredAt: fromNanos(stored),
			Body: body, Kind: envelope.Kind(kind), Precedence: envelope.Precedence(prec)})
	}
	return rows.Err()
}

// Escalations lists the ladder steps taken on a channel.
func (s *Store) Escalations(ctx context.Context, channel string) ([]record.Escalation, error) {
	if channel == "" {
		return s.escalations(ctx, "1 = 1")
	}
	return s.escalations(ctx, "x.channel = ?", channel)
}

func (s *Store) escalations(ctx context.Context, where string, args ...any) ([]record.Escalation, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT x.channel, x.author, x.idx, x.step, x.at, x.detail FROM escalations x WHERE `+where+
		` ORDER BY x.at, x.channel, x.author, x.idx, x.step`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []record.Escalation
	for rows.Next() {
		var x record.Escalation
		var idx, at int64
		if err := rows.Scan(&x.Channel, &x.Author, &idx, &x.Step, &at, &x.Detail); err != nil {
			return nil, err
		}
		x.Index, x.At = uint64(idx), fromNanos(at)
		out = append(out, x)
	}
	return out, rows.Err()
}

// CheckStats summarizes a channel's operator checks and link tests since a
// time. An operator check's answer time runs from its writing to the
// arrival of the acknowledgement, both on this station's clock.
func (s *Store) CheckStats(ctx context.Context, channel, self string, since time.Time) (*store.CheckStats, error) {
	var st store.CheckStats
	var answerNanos int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*), COUNT(ae.idx), COALESCE(SUM(ae.stored_at - e.stored_at), 0)
		FROM entries e
		LEFT JOIN acks a ON a.channel = e.channel AND a.author = e.author AND a.idx = e.idx
		LEFT JOIN entries ae ON ae.channel = a.channel AND ae.author = a.ack_author AND ae.idx = a.ack_idx
		WHERE e.channel = ? AND e.author = ? AND e.kind = ? AND e.stored_at >= ?`),
		channel, self, int(envelope.Check), nanos(since)).Scan(&st.Checks, &st.Answered, &answerNanos)
	if err != nil {
		return nil, err
	}
	st.AnswerTime = time.Duration(answerNanos)
	var rtt int64
	err = s.db.QueryRowContext(ctx, s.q(`SELECT COALESCE(SUM(sent), 0), COALESCE(SUM(answered), 0), COALESCE(SUM(rtt), 0)
		FROM probes WHERE channel = ? AND hour >= ?`),
		channel, nanos(since.Truncate(time.Hour))).Scan(&st.Probes, &st.ProbesAnswered, &rtt)
	if err != nil {
		return nil, err
	}
	st.ProbeRTT = time.Duration(rtt)
	return &st, nil
}

type scanner interface{ Scan(...any) error }

func scanLog(r scanner) (*record.Log, error) {
	var (
		l                            record.Log
		size, receiptSize, epochFrom int64
		hashes                       []byte
	)
	if err := r.Scan(&l.Channel, &l.Author, &size, &hashes, &l.Checkpoint, &l.Receipt, &receiptSize, &epochFrom); err != nil {
		return nil, err
	}
	l.Size, l.ReceiptSize, l.EpochFrom = uint64(size), uint64(receiptSize), uint64(epochFrom)
	var err error
	if l.Hashes, err = splitHashes(hashes); err != nil {
		return nil, fmt.Errorf("log %s/%s: %w", l.Channel, l.Author, err)
	}
	return &l, nil
}

// Log returns one log's state.
func (s *Store) Log(ctx context.Context, channel, author string) (*record.Log, error) {
	l, err := scanLog(s.db.QueryRowContext(ctx, s.q(`SELECT channel, author, size, hashes, checkpoint, receipt, receipt_size, epoch_from FROM logs WHERE channel = ? AND author = ?`), channel, author))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("log %s/%s: %w", channel, author, store.ErrNotFound)
	}
	return l, err
}

const entryCols = `e.channel, e.author, e.idx, e.kind, e.precedence, e.sender_time, e.stored_at, e.raw, e.body, e.root`

func scanEntry(r scanner, extra ...any) (*record.Entry, error) {
	var (
		e            record.Entry
		idx          int64
		kind, prec   int
		sent, stored int64
	)
	if err := r.Scan(append([]any{&e.Channel, &e.Author, &idx, &kind, &prec, &sent, &stored, &e.Raw, &e.Body, &e.Root}, extra...)...); err != nil {
		return nil, err
	}
	e.Index, e.Kind, e.Precedence = uint64(idx), envelope.Kind(kind), envelope.Precedence(prec)
	e.SenderTime, e.StoredAt = fromNanos(sent), fromNanos(stored)
	return &e, nil
}

// Entries returns from..to of one log.
func (s *Store) Entries(ctx context.Context, channel, author string, from, to uint64) ([]record.Entry, error) {
	return s.entries(ctx, s.q(`SELECT `+entryCols+` FROM entries e WHERE e.channel = ? AND e.author = ? AND e.idx BETWEEN ? AND ? ORDER BY e.idx`),
		channel, author, idxArg(from), idxArg(to))
}

// entries runs a query of entryCols.
func (s *Store) entries(ctx context.Context, query string, args ...any) ([]record.Entry, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []record.Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *e)
	}
	return out, rows.Err()
}

// epochEntries returns, in one query, the entry each log's EpochFrom names.
func (s *Store) epochEntries(ctx context.Context) ([]record.Entry, error) {
	return s.entries(ctx, `SELECT `+entryCols+` FROM entries e JOIN logs l
		ON l.channel = e.channel AND l.author = e.author AND l.epoch_from = e.idx ORDER BY e.channel, e.author`)
}

// Messages returns entries matching q with their delivery and ack state.
func (s *Store) Messages(ctx context.Context, q store.Query) ([]store.Message, error) {
	var where []string
	var args []any
	if q.Channel != "" {
		where = append(where, "e.channel = ?")
		args = append(args, q.Channel)
	}
	if q.Author != "" {
		where = append(where, "e.author = ?")
		args = append(args, q.Author)
	}
	if q.ExcludeAuthor != "" {
		where = append(where, "e.author <> ?")
		args = append(args, q.ExcludeAuthor)
	}
	if kinds := q.Kinds; q.Kind != 0 || len(kinds) > 0 {
		if q.Kind != 0 {
			kinds = append([]envelope.Kind{q.Kind}, kinds...)
		}
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(kinds)), ", ")
		where = append(where, "e.kind IN ("+marks+")")
		for _, k := range kinds {
			args = append(args, int(k))
		}
	}
	if q.Since != 0 {
		where = append(where, "e.idx > ?")
		args = append(args, idxArg(q.Since))
	}
	query := `SELECT ` + entryCols + `, COALESCE(l.receipt_size, 0), a.ack_author, a.ack_idx, a.by_name, a.at,
		(SELECT MIN(rt.at) FROM receipt_times rt WHERE rt.channel = e.channel AND rt.author = e.author AND rt.size >= e.idx)
		FROM entries e
		LEFT JOIN logs l ON l.channel = e.channel AND l.author = e.author
		LEFT JOIN acks a ON a.channel = e.channel AND a.author = e.author AND a.idx = e.idx`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	if q.Channel != "" && q.Author != "" {
		// One log: its own order, which Since pages by, even if the
		// station's clock stepped back between two entries.
		query += " ORDER BY e.idx"
	} else {
		query += " ORDER BY e.stored_at, e.channel, e.author, e.idx"
	}
	if q.Limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Message
	for rows.Next() {
		var (
			receiptSize int64
			ackAuthor   sql.NullString
			ackIdx      sql.NullInt64
			by          sql.NullString
			at          sql.NullInt64
			receiptAt   sql.NullInt64
		)
		e, err := scanEntry(rows, &receiptSize, &ackAuthor, &ackIdx, &by, &at, &receiptAt)
		if err != nil {
			return nil, err
		}
		m := store.Message{Entry: *e, Delivered: e.Index <= uint64(receiptSize)}
		if receiptAt.Valid && m.Delivered {
			m.ReceiptAt = fromNanos(receiptAt.Int64)
		}
		if ackAuthor.Valid {
			m.Ack = &record.Ack{Channel: e.Channel, Author: e.Author, Index: e.Index, AckAuthor: ackAuthor.String,
				AckIndex: uint64(ackIdx.Int64), By: by.String, At: fromNanos(at.Int64)}
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Peers lists pinned peers by name.
// Keys returns the key chains of one station, or of all ("").
func (s *Store) Keys(ctx context.Context, station string) ([]record.Key, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT station, seq, card, fingerprint, reason, statement, at, detail FROM keys
		WHERE ? = '' OR station = ? ORDER BY station, seq`), station, station)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []record.Key
	for rows.Next() {
		var k record.Key
		var at int64
		if err := rows.Scan(&k.Station, &k.Seq, &k.Card, &k.Fingerprint, &k.Reason, &k.Statement, &at, &k.Detail); err != nil {
			return nil, err
		}
		k.At = fromNanos(at)
		out = append(out, k)
	}
	return out, rows.Err()
}

// EpochKeys returns the keys of a log's body key epochs, by the index
// of the entry that began each.
func (s *Store) EpochKeys(ctx context.Context, channel, author string) ([]record.EpochKey, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT from_idx, key FROM epoch_keys WHERE channel = ? AND author = ? ORDER BY from_idx`), channel, author)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []record.EpochKey
	for rows.Next() {
		k := record.EpochKey{Channel: channel, Author: author}
		var from int64
		if err := rows.Scan(&from, &k.Key); err != nil {
			return nil, err
		}
		k.From = uint64(from)
		out = append(out, k)
	}
	return out, rows.Err()
}

func (s *Store) logKeys(ctx context.Context) ([]record.LogKey, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT channel, author, from_idx, seq FROM log_keys ORDER BY channel, author, from_idx`))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []record.LogKey
	for rows.Next() {
		var k record.LogKey
		var from int64
		if err := rows.Scan(&k.Channel, &k.Author, &from, &k.Seq); err != nil {
			return nil, err
		}
		k.From = uint64(from)
		out = append(out, k)
	}
	return out, rows.Err()
}

func (s *Store) Peers(ctx context.Context) ([]record.Peer, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT name, party, card, fingerprint, added_at FROM peers ORDER BY name`))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []record.Peer
	for rows.Next() {
		var p record.Peer
		var added int64
		if err := rows.Scan(&p.Name, &p.Party, &p.Card, &p.Fingerprint, &added); err != nil {
			return nil, err
		}
		p.AddedAt = fromNanos(added)
		out = append(out, p)
	}
	return out, rows.Err()
}

// Channels lists channels by id.
func (s *Store) Channels(ctx context.Context) ([]record.Channel, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, peer, level, state, proposer, charter, created_at, updated_at,
		suspensions, last_check, last_check_at FROM channels ORDER BY id`))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []record.Channel
	for rows.Next() {
		var c record.Channel
		var created, updated, lastCheck, lastCheckAt int64
		var susp string
		if err := rows.Scan(&c.ID, &c.Peer, &c.Level, &c.State, &c.Proposer, &c.Charter, &created, &updated,
			&susp, &lastCheck, &lastCheckAt); err != nil {
			return nil, err
		}
		c.CreatedAt, c.UpdatedAt = fromNanos(created), fromNanos(updated)
		c.LastCheck, c.LastCheckAt = uint64(lastCheck), fromNanos(lastCheckAt)
		if susp != "" {
			if err := json.Unmarshal([]byte(susp), &c.Suspensions); err != nil {
				return nil, fmt.Errorf("channel %s: stored suspensions: %w", c.ID, err)
			}
			// JSON keeps the writer's offset; the store returns UTC, as for every other time.
			for i := range c.Suspensions {
				c.Suspensions[i].At = c.Suspensions[i].At.UTC()
			}
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Alerts returns alerts after the given id.
func (s *Store) Alerts(ctx context.Context, after int64) ([]record.Alert, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, at, level, channel, peer, text, format, args FROM alerts WHERE id > ? ORDER BY id`), after)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []record.Alert
	for rows.Next() {
		var a record.Alert
		var at int64
		var args string
		if err := rows.Scan(&a.ID, &at, &a.Level, &a.Channel, &a.Peer, &a.Text, &a.Format, &args); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(args), &a.Args); err != nil {
			return nil, fmt.Errorf("alert %d: arguments: %w", a.ID, err)
		}
		a.At = fromNanos(at)
		out = append(out, a)
	}
	return out, rows.Err()
}
