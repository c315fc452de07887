package storetest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"hotline/internal/envelope"
	"hotline/internal/record"
	"hotline/internal/store"
	"hotline/internal/store/sqlstore"
)

// Engine is what the upgrade suite needs of a storage engine.
type Engine struct {
	// Dialect is the engine's, with its embedded migrations.
	Dialect sqlstore.Dialect
	// Create makes a new, empty database and says where it is (a file
	// path, a URL).
	Create func(t *testing.T) string
	// Raw opens the database without migrating it. The suite closes it.
	Raw func(t *testing.T, where string) *sql.DB
	// Open opens the database with the current code, which migrates it
	// forward.
	Open func(ctx context.Context, where string) (store.Store, error)
	// Schema describes the database's schema (tables, columns, indexes,
	// constraints), normalised so that two databases with the same
	// schema give the same text.
	Schema func(t *testing.T, db *sql.DB) string
}

// RunUpgrade runs the upgrade suite: for each version k of the engine's
// migrations, a database at version k (only migrations up to k applied)
// holding the records that version had, written with that version's SQL,
// opened with the current code. Every record must read back through the
// store interface exactly as from a fresh database that was given the
// same records through the interface; the schema must be a fresh
// database's; and the store must take writes after. A database from a
// newer binary, and a migration that fails part way, must change nothing.
func RunUpgrade(t *testing.T, e Engine) {
	w := newWorld(t)
	versions := migrationVersions(t, e.Dialect.Migrations)
	latest := versions[len(versions)-1]
	for _, v := range versions {
		t.Run(fmt.Sprintf("From%03d", v), func(t *testing.T) { testUpgradeFrom(t, e, w, v) })
	}
	t.Run("NewerRefused", func(t *testing.T) { testNewerRefused(t, e, w, latest) })
	t.Run("FailedMigrationRolledBack", func(t *testing.T) { testFailedMigration(t, e, w, latest) })
}

func migrationVersions(t *testing.T, fsys fs.FS) []int {
	t.Helper()
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("no migrations: %v", err)
	}
	var out []int
	for _, n := range names {
		v, err := strconv.Atoi(strings.SplitN(n, "_", 2)[0])
		if err != nil {
			t.Fatalf("migration %s: %v", n, err)
		}
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// upTo returns the migrations numbered up to v, plus extra files.
func upTo(t *testing.T, fsys fs.FS, v int, extra fstest.MapFS) fstest.MapFS {
	t.Helper()
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	out := fstest.MapFS{}
	for _, n := range names {
		if k, _ := strconv.Atoi(strings.SplitN(n, "_", 2)[0]); k > v {
			continue
		}
		data, err := fs.ReadFile(fsys, n)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = &fstest.MapFile{Data: data}
	}
	for n, f := range extra {
		out[n] = f
	}
	return out
}

// atVersion creates a database with only the migrations up to v applied.
func atVersion(t *testing.T, e Engine, v int) string {
	t.Helper()
	where := e.Create(t)
	db := e.Raw(t, where)
	defer db.Close()
	d := e.Dialect
	d.Migrations = upTo(t, d.Migrations, v, nil)
	if err := sqlstore.Migrate(t.Context(), db, d); err != nil {
		t.Fatalf("migrating a new database to version %d: %v", v, err)
	}
	return where
}

func openStore(t *testing.T, e Engine, where string) store.Store {
	t.Helper()
	s, err := e.Open(t.Context(), where)
	if err != nil {
		t.Fatalf("opening %s with the current code: %v", where, err)
	}
	return s
}

func schemaOf(t *testing.T, e Engine, where string) string {
	t.Helper()
	db := e.Raw(t, where)
	defer db.Close()
	return e.Schema(t, db)
}

func schemaVersions(t *testing.T, e Engine, where string) []int {
	t.Helper()
	db := e.Raw(t, where)
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), `SELECT version FROM schema_version ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// oldRecords is what a station of one schema version held, both as that
// version's SQL wrote it and as the current interface writes it.
type oldRecords struct {
	rows  []oldRow
	batch record.Batch
	// The console's and deconfliction records, in the order written.
	operators []store.Operator
	sessions  []store.Session
	audit     []store.AuditRecord
	ownAlerts []store.ConsoleAlert // the console's own (Alert zero)
	acked     []store.ConsoleAlert // acknowledgements of station alerts
	plans     []store.Plan
	findings  []store.Finding
	codebooks []store.CodebookFile
}

// oldRow is one INSERT of an earlier version's SQL.
type oldRow struct {
	table string
	cols  string
	args  []any
}

func ns(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// records builds what a station at schema version v held: alpha with
// peers bravo and charlie, channel ops with both logs (sealed envelopes,
// checkpoints, a receipt, an acknowledgement, a FLASH awaiting one), and
// whatever else version v had a table or column for.
func records(t *testing.T, w *world, v int) *oldRecords {
	t.Helper()
	r := &oldRecords{}
	add := func(table, cols string, args ...any) { r.rows = append(r.rows, oldRow{table, cols, args}) }

	peers := []record.Peer{w.bravo.peer(at(0)), w.charlie.peer(at(1))}
	for _, p := range peers {
		add("peers", "name, party, card, fingerprint, added_at", p.Name, p.Party, p.Card, p.Fingerprint, ns(p.AddedAt))
	}
	ops := w.channel(t, "ops", w.alpha, w.bravo, record.Active, at(2), at(3))
	side := w.channel(t, "side", w.charlie, w.charlie, record.ProposedIn, at(4), at(4))
	if v >= 2 { // 002_deadlines: suspensions and the last operator check
		ops.Suspensions = []record.Suspension{{By: "bravo", Index: 3, Reason: "exercise paused", At: at(20)}}
		ops.LastCheck, ops.LastCheckAt = 3, at(12)
	}
	for _, c := range []record.Channel{ops, side} {
		if v < 2 {
			add("channels", "id, peer, level, state, proposer, charter, created_at, updated_at",
				c.ID, c.Peer, c.Level, c.State, c.Proposer, c.Charter, ns(c.CreatedAt), ns(c.UpdatedAt))
			continue
		}
		susp := ""
		if len(c.Suspensions) > 0 {
			j, err := json.Marshal(c.Suspensions)
			if err != nil {
				t.Fatal(err)
			}
			susp = string(j)
		}
		add("channels", "id, peer, level, state, proposer, charter, created_at, updated_at, suspensions, last_check, last_check_at",
			c.ID, c.Peer, c.Level, c.State, c.Proposer, c.Charter, ns(c.CreatedAt), ns(c.UpdatedAt), susp, int64(c.LastCheck), ns(c.LastCheckAt))
	}

	mine, theirs := newLog(t, "ops", w.alpha, w.bravo), newLog(t, "ops", w.bravo, w.alpha)
	es := []record.Entry{
		mine.text(at(10)),
		mine.add(envelope.Text, envelope.Flash, at(11), "FLASH: contact at 0412Z, awaiting acknowledgement"),
		mine.add(envelope.Check, envelope.Immediate, at(12), "communication check"),
		theirs.text(at(13)),
		theirs.add(envelope.Ack, envelope.Routine, at(14), "acknowledged ops/alpha/1"),
	}
	for _, e := range es {
		add("entries", "channel, author, idx, kind, precedence, sender_time, stored_at, raw, body, root",
			e.Channel, e.Author, int64(e.Index), int(e.Kind), int(e.Precedence), ns(e.SenderTime), ns(e.StoredAt), e.Raw, e.Body, e.Root)
	}
	rc := mine.receipt(2)
	logs := []record.Log{mine.record(3, mine.checkpoint(3)), theirs.record(2, theirs.checkpoint(2))}
	for _, l := range logs {
		note, size := []byte(nil), int64(0)
		if l.Author == "alpha" {
			note, size = rc.Note, int64(rc.Size)
		}
		add("logs", "channel, author, size, hashes, checkpoint, receipt, receipt_size",
			l.Channel, l.Author, int64(l.Size), bytes.Join(l.Hashes, nil), l.Checkpoint, note, size)
	}
	ack := record.Ack{Channel: "ops", Author: "alpha", Index: 1, AckAuthor: "bravo", AckIndex: 2, By: "bravo-duty", At: at(14)}
	add("acks", "channel, author, idx, ack_author, ack_idx, by_name, at",
		ack.Channel, ack.Author, int64(ack.Index), ack.AckAuthor, int64(ack.AckIndex), ack.By, ns(ack.At))
	alerts := []record.Alert{
		{At: at(16), Level: "alarm", Channel: "ops", Peer: "bravo", Text: "checkpoint of ops/bravo does not match the entries held"},
		{At: at(17), Level: "warning", Channel: "", Peer: "charlie", Text: "charlie refused: unknown key"},
	}
	if v >= 8 { // 008_alert_args: the format and arguments an alert was written from
		alerts = append(alerts, record.Alert{At: at(18), Level: "alarm", Channel: "ops", Peer: "bravo",
			Text:   "FLASH ops/alpha/2 is not delivered: no receipt from bravo within 30s",
			Format: "%s %s is not delivered: no receipt from %s within %s", Args: []string{"FLASH", "ops/alpha/2", "bravo", "30s"}})
	}
	for _, a := range alerts {
		if v < 8 {
			add("alerts", "at, level, channel, peer, text", ns(a.At), a.Level, a.Channel, a.Peer, a.Text)
			continue
		}
		args, err := json.Marshal(a.Args)
		if err != nil {
			t.Fatal(err)
		}
		if a.Args == nil {
			args = []byte("[]")
		}
		add("alerts", "at, level, channel, peer, text, format, args", ns(a.At), a.Level, a.Channel, a.Peer, a.Text, a.Format, string(args))
	}
	r.batch = record.Batch{Peers: peers, Channels: []record.Channel{ops, side}, Entries: es, Logs: logs,
		Receipts: []record.Receipt{rc}, Acks: []record.Ack{ack}, Alerts: alerts}

	if v >= 2 { // 002_deadlines: escalations and link tests
		x := record.Escalation{Channel: "ops", Author: "alpha", Index: 2, Step: record.StepUndelivered, At: at(18), Detail: "no receipt within 30s"}
		add("escalations", "channel, author, idx, step, at, detail", x.Channel, x.Author, int64(x.Index), x.Step, ns(x.At), x.Detail)
		p := record.ProbeStat{Channel: "ops", Hour: base.Truncate(time.Hour), Sent: 360, Answered: 357, RTT: 357 * 4 * time.Millisecond}
		add("probes", "channel, hour, sent, answered, rtt", p.Channel, ns(p.Hour), p.Sent, p.Answered, int64(p.RTT))
		r.batch.Escalations = []record.Escalation{x}
		r.batch.Probes = []record.ProbeStat{p}
	}
	if v >= 3 { // 003_console: operators, sessions, the audit trail
		hash := "$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHRzYWx0c2FsdA$0i4E1m3Y3VQ0bJtG3x1c0p2Yx8b6mYwZq3Jj8r4w1dE"
		r.operators = []store.Operator{
			{Name: "ann", Role: store.RoleAdmin, PasswordHash: hash, Lang: "en", CreatedAt: at(5)},
			{Name: "wei", Role: store.RoleDuty, PasswordHash: hash, Lang: "zh", CreatedAt: at(6), FailedLogins: 5, LockedUntil: at(40)},
		}
		for _, o := range r.operators {
			add("operators", "name, role, password_hash, lang, created_at, failed_logins, locked_until",
				o.Name, o.Role, o.PasswordHash, o.Lang, ns(o.CreatedAt), o.FailedLogins, ns(o.LockedUntil))
		}
		r.sessions = []store.Session{{ID: "5f2b8c0e6a7d4e1f9b3c2a1d0e9f8a7b", Operator: "ann", CreatedAt: at(7), ExpiresAt: at(7 + 8*3600), Addr: "10.0.0.7:51234"}}
		for _, s := range r.sessions {
			add("sessions", "id, operator, created_at, expires_at, addr", s.ID, s.Operator, ns(s.CreatedAt), ns(s.ExpiresAt), s.Addr)
		}
		r.audit = []store.AuditRecord{
			{At: at(7), Operator: "ann", Action: "login", Outcome: "ok", Addr: "10.0.0.7:51234"},
			{At: at(11), Operator: "ann", Action: "send", Target: "ops", Outcome: "ok", Detail: "FLASH", Addr: "10.0.0.7:51234"},
			{At: at(19), Operator: "wei", Action: "login", Outcome: "refused", Detail: "locked", Addr: "10.0.0.8:40000"},
		}
		for _, a := range r.audit {
			add("audit", "at, operator, action, target, outcome, detail, addr", ns(a.At), a.Operator, a.Action, a.Target, a.Outcome, a.Detail, a.Addr)
		}
	}
	if v >= 4 { // 004_console_alerts
		r.ownAlerts = []store.ConsoleAlert{{Kind: store.ConsoleAlertDown, Channel: "ops", Text: "no path to bravo for 60s", RaisedAt: at(21), ClearedAt: at(25), AckBy: "ann", AckAt: at(22)}}
		for _, a := range r.ownAlerts {
			add("console_alerts", "alert, kind, channel, text, raised_at, cleared_at, ack_by, ack_at",
				int64(0), a.Kind, a.Channel, a.Text, ns(a.RaisedAt), ns(a.ClearedAt), a.AckBy, ns(a.AckAt))
		}
		// An operator's acknowledgement of station alert 1, as the
		// console wrote it: the station alert's kind, channel, text, time.
		r.acked = []store.ConsoleAlert{{Alert: 1, AckBy: "wei", AckAt: at(23)}}
		a := alerts[0]
		add("console_alerts", "alert, kind, channel, text, raised_at, ack_by, ack_at",
			int64(1), store.ConsoleAlertStation, a.Channel, a.Text, ns(a.At), "wei", ns(at(23)))
	}
	if v >= 5 { // 005_deconflict
		r.plans = []store.Plan{
			{AddedAt: at(8), Body: []byte(`{"activity":"live-fire","area":[[18.2,112.1],[18.4,112.1],[18.4,112.5]],"from":"2031-03-15T00:00:00Z","to":"2031-03-15T06:00:00Z"}`), Notice: "ops/alpha/3"},
			{AddedAt: at(9), Body: []byte(`{"activity":"transit","area":[[17.9,111.8],[18.1,111.8],[18.1,112.0]],"from":"2031-03-16T00:00:00Z","to":"2031-03-16T12:00:00Z"}`)},
		}
		for _, p := range r.plans {
			add("plans", "added_at, body, notice", ns(p.AddedAt), p.Body, p.Notice)
		}
		r.findings = []store.Finding{{Key: "overlap:plan/1:ops/bravo/2", Rule: "overlap", FoundAt: at(24), Channel: "ops", Peer: "bravo",
			Body: []byte(`{"distance_m":0,"window":["2031-03-15T02:00:00Z","2031-03-15T06:00:00Z"]}`)}}
		for _, f := range r.findings {
			add("findings", "key, rule, found_at, channel, peer, body", f.Key, f.Rule, ns(f.FoundAt), f.Channel, f.Peer, f.Body)
		}
	}
	if v >= 9 { // 009_codebooks: codebook extensions loaded
		r.codebooks = []store.CodebookFile{{Ref: "hotline-cues/1+alpha-bravo/1 sha256:" + strings.Repeat("ab", 32),
			File: []byte(`{"format":"hotline codebook extension v1","name":"alpha-bravo","version":1}`), AddedAt: at(26)}}
		for _, c := range r.codebooks {
			add("codebooks", "ref, file, added_at", c.Ref, c.File, ns(c.AddedAt))
		}
	}
	return r
}

// insert writes the records with the SQL of their version, as that
// version's binary did, straight into the database.
func (r *oldRecords) insert(t *testing.T, e Engine, where string) {
	t.Helper()
	db := e.Raw(t, where)
	defer db.Close()
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for _, row := range r.rows {
		marks := make([]string, len(row.args))
		for i := range marks {
			marks[i] = "?"
			if e.Dialect.Dollar {
				marks[i] = "$" + strconv.Itoa(i+1)
			}
		}
		q := "INSERT INTO " + row.table + " (" + row.cols + ") VALUES (" + strings.Join(marks, ", ") + ")"
		if _, err := tx.ExecContext(t.Context(), q, row.args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// write gives the same records to a store through the interface.
func (r *oldRecords) write(t *testing.T, s store.Store) {
	t.Helper()
	ctx := t.Context()
	b := r.batch
	apply(t, s, &b)
	for _, o := range r.operators {
		if err := s.AddOperator(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	for _, se := range r.sessions {
		if err := s.AddSession(ctx, se); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range r.audit {
		if _, err := s.AppendAudit(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range append(slices.Clone(r.ownAlerts), r.acked...) {
		if _, err := s.AddConsoleAlert(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range r.plans {
		id, err := s.AddPlan(ctx, store.Plan{AddedAt: p.AddedAt, Body: p.Body})
		if err != nil {
			t.Fatal(err)
		}
		if p.Notice != "" {
			if err := s.SetPlanNotice(ctx, id, p.Notice); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, f := range r.findings {
		if _, _, err := s.AddFinding(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range r.codebooks {
		if _, err := s.AddCodebook(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
}

// dumpAll is dump and the console's and deconfliction records.
func dumpAll(t *testing.T, s store.Store, sessions []string) string {
	t.Helper()
	ctx := t.Context()
	var b strings.Builder
	b.WriteString(dump(t, s, "alpha"))
	ops, err := s.Operators(ctx)
	if err != nil {
		t.Fatalf("Operators: %v", err)
	}
	for _, o := range ops {
		fmt.Fprintf(&b, "operator %s role=%s hash=%s lang=%s created=%s failed=%d locked=%s\n",
			o.Name, o.Role, o.PasswordHash, o.Lang, showTime(o.CreatedAt), o.FailedLogins, showTime(o.LockedUntil))
	}
	for _, id := range sessions {
		se, err := s.Session(ctx, id)
		if err != nil {
			fmt.Fprintf(&b, "session %s: %v\n", id, err)
			continue
		}
		fmt.Fprintf(&b, "session %s operator=%s created=%s expires=%s addr=%s\n",
			se.ID, se.Operator, showTime(se.CreatedAt), showTime(se.ExpiresAt), se.Addr)
	}
	audit, err := s.Audit(ctx, store.AuditQuery{})
	if err != nil {
		t.Fatalf("Audit: %v", err)
	}
	for _, a := range audit {
		fmt.Fprintf(&b, "audit %d at=%s %s %s %q %s %q %s\n", a.ID, showTime(a.At), a.Operator, a.Action, a.Target, a.Outcome, a.Detail, a.Addr)
	}
	cas, err := s.ConsoleAlerts(ctx, store.ConsoleAlertQuery{})
	if err != nil {
		t.Fatalf("ConsoleAlerts: %v", err)
	}
	for _, a := range cas {
		fmt.Fprintf(&b, "console alert %d alert=%d kind=%s channel=%s text=%q raised=%s cleared=%s ack=%s/%s\n",
			a.ID, a.Alert, a.Kind, a.Channel, a.Text, showTime(a.RaisedAt), showTime(a.ClearedAt), a.AckBy, showTime(a.AckAt))
	}
	plans, err := s.Plans(ctx)
	if err != nil {
		t.Fatalf("Plans: %v", err)
	}
	for _, p := range plans {
		fmt.Fprintf(&b, "plan %d added=%s body=%s notice=%s\n", p.ID, showTime(p.AddedAt), p.Body, p.Notice)
	}
	fs, err := s.Findings(ctx)
	if err != nil {
		t.Fatalf("Findings: %v", err)
	}
	for _, f := range fs {
		fmt.Fprintf(&b, "finding %d key=%s rule=%s found=%s channel=%s peer=%s body=%s\n",
			f.ID, f.Key, f.Rule, showTime(f.FoundAt), f.Channel, f.Peer, f.Body)
	}
	cbs, err := s.Codebooks(ctx)
	if err != nil {
		t.Fatalf("Codebooks: %v", err)
	}
	for _, c := range cbs {
		fmt.Fprintf(&b, "codebook %s added=%s file=%s\n", c.Ref, showTime(c.AddedAt), c.File)
	}
	return b.String()
}

func sessionIDs(r *oldRecords) []string {
	var out []string
	for _, s := range r.sessions {
		out = append(out, s.ID)
	}
	return out
}

// afterUpgrade returns a short round of writes of every kind on top of
// the records (the same bytes each time it is called): the store must
// take them once upgraded.
func afterUpgrade(t *testing.T, w *world) func(t *testing.T, s store.Store) {
	t.Helper()
	l := newLog(t, "later", w.alpha, w.charlie)
	ch := w.channel(t, "later", w.alpha, w.charlie, record.Active, at(50), at(51))
	ch.Suspensions = []record.Suspension{{By: "alpha", Index: 2, Reason: "maintenance", At: at(52)}}
	ch.LastCheck, ch.LastCheckAt = 1, at(53)
	e1 := l.add(envelope.Check, envelope.Priority, at(53), "check after the upgrade")
	e2 := l.text(at(54))
	b := &record.Batch{
		Channels:    []record.Channel{ch},
		Entries:     []record.Entry{e1, e2},
		Logs:        []record.Log{l.record(2, l.checkpoint(2))},
		Receipts:    []record.Receipt{l.receipt(1)},
		Alerts:      []record.Alert{{At: at(55), Level: "warning", Channel: "later", Peer: "charlie", Text: "after the upgrade"}},
		Escalations: []record.Escalation{{Channel: "later", Author: "alpha", Index: 2, Step: record.StepUndelivered, At: at(56), Detail: "after the upgrade"}},
		Probes:      []record.ProbeStat{{Channel: "later", Hour: base.Truncate(time.Hour), Sent: 3, Answered: 3, RTT: 9 * time.Millisecond}},
	}
	return func(t *testing.T, s store.Store) {
		t.Helper()
		writeLater(t, s, b)
	}
}

func writeLater(t *testing.T, s store.Store, b *record.Batch) {
	t.Helper()
	ctx := t.Context()
	apply(t, s, b)
	if err := s.AddOperator(ctx, store.Operator{Name: "zoe", Role: store.RoleAuditor, PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$x$y", Lang: "en", CreatedAt: at(57)}); err != nil {
		t.Fatalf("AddOperator after the upgrade: %v", err)
	}
	if _, err := s.AppendAudit(ctx, store.AuditRecord{At: at(57), Operator: "zoe", Action: "operator.add", Target: "zoe", Outcome: "ok", Addr: "local"}); err != nil {
		t.Fatalf("AppendAudit after the upgrade: %v", err)
	}
	if _, err := s.AddConsoleAlert(ctx, store.ConsoleAlert{Kind: store.ConsoleAlertDown, Channel: "later", Text: "no path", RaisedAt: at(58)}); err != nil {
		t.Fatalf("AddConsoleAlert after the upgrade: %v", err)
	}
	if _, err := s.AddPlan(ctx, store.Plan{AddedAt: at(59), Body: []byte(`{"activity":"exercise"}`)}); err != nil {
		t.Fatalf("AddPlan after the upgrade: %v", err)
	}
	if _, _, err := s.AddFinding(ctx, store.Finding{Key: "approach:later/charlie/1", Rule: "approach", FoundAt: at(59), Channel: "later", Peer: "charlie", Body: []byte(`{}`)}); err != nil {
		t.Fatalf("AddFinding after the upgrade: %v", err)
	}
	if got := getLog(t, s, "later", "alpha"); got.Size != 2 || got.ReceiptSize != 1 {
		t.Errorf("after the upgrade, log later/alpha = size %d receipt %d, want 2 and 1", got.Size, got.ReceiptSize)
	}
}

// expected is a fresh database at the current version given the records
// through the interface.
func expected(t *testing.T, e Engine, r *oldRecords) (store.Store, string) {
	t.Helper()
	where := e.Create(t)
	s := openStore(t, e, where)
	t.Cleanup(func() { s.Close() })
	r.write(t, s)
	return s, where
}

func testUpgradeFrom(t *testing.T, e Engine, w *world, v int) {
	r := records(t, w, v)
	old := atVersion(t, e, v)
	r.insert(t, e, old)
	if got := schemaVersions(t, e, old); got[len(got)-1] != v {
		t.Fatalf("the old database is at version %v, want %d", got, v)
	}

	s := openStore(t, e, old)
	defer s.Close()
	fresh, freshWhere := expected(t, e, r)
	ids := sessionIDs(r)
	sameDump(t, fmt.Sprintf("upgraded from version %d, against a fresh database with the same records", v), dumpAll(t, s, ids), dumpAll(t, fresh, ids))
	if got, want := schemaVersions(t, e, old), schemaVersions(t, e, freshWhere); !slices.Equal(got, want) {
		t.Errorf("schema_version after the upgrade = %v, want %v", got, want)
	}
	if got, want := schemaOf(t, e, old), schemaOf(t, e, freshWhere); !strings.Contains(want, "schema_version") || !strings.Contains(want, "findings") {
		t.Errorf("the schema description of a fresh database does not name its tables:\n%s", want)
	} else if got != want {
		t.Errorf("schema after upgrading from version %d differs from a fresh database's:\n%s", v, lineDiff(got, want))
	}

	later := afterUpgrade(t, w)
	later(t, s)
	later(t, fresh)
	sameDump(t, "after writing on the upgraded store", dumpAll(t, s, ids), dumpAll(t, fresh, ids))

	// Reopening migrates nothing more and keeps everything.
	before := dumpAll(t, s, ids)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, e, old)
	sameDump(t, "reopened after the upgrade", dumpAll(t, s, ids), before)
}

// latestWithRecords is a database at the current version holding every
// kind of record, and its dump.
func latestWithRecords(t *testing.T, e Engine, w *world, latest int) (where, dumped string, ids []string) {
	t.Helper()
	r := records(t, w, latest)
	where = atVersion(t, e, latest)
	r.insert(t, e, where)
	s := openStore(t, e, where)
	ids = sessionIDs(r)
	dumped = dumpAll(t, s, ids)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return where, dumped, ids
}

func testNewerRefused(t *testing.T, e Engine, w *world, latest int) {
	ctx := t.Context()
	where, want, ids := latestWithRecords(t, e, w, latest)
	newer := latest + 1
	db := e.Raw(t, where)
	q := `INSERT INTO schema_version (version) VALUES (?)`
	if e.Dialect.Dollar {
		q = `INSERT INTO schema_version (version) VALUES ($1)`
	}
	for _, stmt := range []string{`CREATE TABLE from_the_future (x INTEGER NOT NULL)`, q} {
		var err error
		if stmt == q {
			_, err = db.ExecContext(ctx, stmt, newer)
		} else {
			_, err = db.ExecContext(ctx, stmt)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	schema, versions := schemaOf(t, e, where), schemaVersions(t, e, where)

	s, err := e.Open(ctx, where)
	if err == nil {
		s.Close()
		t.Fatal("opening a database from a newer binary succeeded, want a refusal")
	}
	for _, want := range []string{"newer", strconv.Itoa(newer), strconv.Itoa(latest)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not name %q", err, want)
		}
	}
	if got := schemaOf(t, e, where); got != schema {
		t.Errorf("the refused open changed the schema:\n%s", lineDiff(got, schema))
	}
	if got := schemaVersions(t, e, where); !slices.Equal(got, versions) {
		t.Errorf("the refused open changed schema_version: %v, was %v", got, versions)
	}
	// Take the future away again: what was there is there, unchanged.
	db = e.Raw(t, where)
	for _, stmt := range []string{`DROP TABLE from_the_future`, `DELETE FROM schema_version WHERE version = ` + strconv.Itoa(newer)} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s = openStore(t, e, where)
	defer s.Close()
	sameDump(t, "after the refused open", dumpAll(t, s, ids), want)
}

func testFailedMigration(t *testing.T, e Engine, w *world, latest int) {
	ctx := t.Context()
	where, want, ids := latestWithRecords(t, e, w, latest)
	schema, versions := schemaOf(t, e, where), schemaVersions(t, e, where)
	name := fmt.Sprintf("%03d_half_done.sql", latest+1)
	// Each statement but the last succeeds: a new table with a row, a new
	// column, rows changed, then an error.
	broken := strings.Join([]string{
		"CREATE TABLE half_done (x INTEGER NOT NULL)",
		"INSERT INTO half_done (x) VALUES (1)",
		"ALTER TABLE channels ADD COLUMN half_done TEXT NOT NULL DEFAULT ''",
		"UPDATE peers SET party = 'changed'",
		"DELETE FROM alerts",
		"SELECT no_such_column FROM peers",
	}, "\n;\n")
	d := e.Dialect
	d.Migrations = upTo(t, d.Migrations, latest, fstest.MapFS{name: {Data: []byte(broken)}})
	db := e.Raw(t, where)
	err := sqlstore.Migrate(ctx, db, d)
	db.Close()
	if err == nil || !strings.Contains(err.Error(), name) {
		t.Fatalf("a migration failing part way: %v, want an error naming %s", err, name)
	}
	if got := schemaOf(t, e, where); got != schema {
		t.Errorf("the failed migration left schema changes behind:\n%s", lineDiff(got, schema))
	}
	if got := schemaVersions(t, e, where); !slices.Equal(got, versions) {
		t.Errorf("schema_version after the failed migration = %v, want %v", got, versions)
	}
	s := openStore(t, e, where)
	defer s.Close()
	sameDump(t, "after the failed migration", dumpAll(t, s, ids), want)
}

// lineDiff shows the lines only in got (+) and only in want (-).
func lineDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	var d []string
	for _, l := range g {
		if !slices.Contains(w, l) {
			d = append(d, "+ "+l)
		}
	}
	for _, l := range w {
		if !slices.Contains(g, l) {
			d = append(d, "- "+l)
		}
	}
	return strings.Join(d, "\n")
}
