package sqlite_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"hotline/internal/envelope"
	"hotline/internal/record"
	"hotline/internal/store"
	"hotline/internal/store/sqlite"
	"hotline/internal/store/sqlstore"
	"hotline/internal/store/storetest"
	"hotline/internal/transcript"
)

// childEnv names the database a re-executed test binary writes to in the
// crash test.
const childEnv = "HOTLINE_STORE_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		if err := crashChild(path); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func openTemp(t *testing.T) (*sqlite.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "station.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	return s, path
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _ := openTemp(t)
		return s
	})
}

// versions reads schema_version directly.
func versions(t *testing.T, path string) []int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), `SELECT version FROM schema_version ORDER BY version`)
	if err != nil {
		t.Fatalf("reading schema_version: %v", err)
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
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func wantVersions(t *testing.T, path string) {
	t.Helper()
	want := sqlite.Versions()
	if len(want) < 1 || want[0] != 1 || want[len(want)-1] != sqlite.SchemaVersion() {
		t.Fatalf("Versions() = %v, SchemaVersion() = %d", want, sqlite.SchemaVersion())
	}
	if got := versions(t, path); !slices.Equal(got, want) {
		t.Fatalf("schema_version rows = %v, want %v once each", got, want)
	}
}

func TestMigrateEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "station.db")
	// An empty file, as left by a touch or a failed first start.
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(empty file): %v", err)
	}
	defer s.Close()
	wantVersions(t, path)
	// The schema is usable.
	if err := s.Apply(t.Context(), &record.Batch{Alerts: []record.Alert{{Level: "warning", Text: "hello"}}}); err != nil {
		t.Fatalf("Apply after migration: %v", err)
	}
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	s, path := openTemp(t)
	ctx := t.Context()
	tree := transcript.NewTree()
	raw := []byte("envelope bytes")
	tree.Append(raw)
	b := &record.Batch{
		Peers:   []record.Peer{{Name: "bravo", Party: "south", Card: []byte("card"), Fingerprint: "ABCD", AddedAt: time.Unix(1, 2).UTC()}},
		Entries: []record.Entry{{Channel: "ops", Author: "alpha", Index: 1, Kind: envelope.Text, Precedence: envelope.Flash, Raw: raw, Body: []byte("{}"), Root: tree.Root()}},
		Logs:    []record.Log{{Channel: "ops", Author: "alpha", Size: 1, Hashes: tree.Hashes(), Checkpoint: []byte("cp")}},
	}
	if err := s.Apply(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatalf("reopening: %v", err) // a second run of 001_init.sql would fail on CREATE TABLE
		}
		wantVersions(t, path)
		l, err := s.Log(ctx, "ops", "alpha")
		if err != nil || l.Size != 1 || !bytes.Equal(l.Checkpoint, []byte("cp")) || len(l.Hashes) != 1 || !bytes.Equal(l.Hashes[0], tree.Hashes()[0]) {
			t.Errorf("after reopening, Log(ops, alpha) = %+v, %v", l, err)
		}
		es, err := s.Entries(ctx, "ops", "alpha", 1, 1)
		if err != nil || len(es) != 1 || !bytes.Equal(es[0].Raw, raw) {
			t.Errorf("after reopening, Entries = %v, %v", es, err)
		}
		ps, err := s.Peers(ctx)
		if err != nil || len(ps) != 1 || ps[0].Name != "bravo" {
			t.Errorf("after reopening, Peers = %v, %v", ps, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRefuseNewerSchema(t *testing.T) {
	s, path := openTemp(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	newer := sqlite.SchemaVersion() + 1
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(t.Context(), `INSERT INTO schema_version (version) VALUES (?)`, newer); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err = sqlite.Open(t.Context(), path)
	if err == nil {
		s.Close()
		t.Fatal("Open(database from a newer binary) succeeded, want an error")
	}
	msg := err.Error()
	for _, want := range []string{"newer", strconv.Itoa(newer), strconv.Itoa(sqlite.SchemaVersion()), path} {
		if !strings.Contains(msg, want) {
			t.Errorf("Open error %q does not mention %q", msg, want)
		}
	}
	// The database is left as it was.
	if got := versions(t, path); len(got) != len(sqlite.Versions())+1 || got[len(got)-1] != newer {
		t.Errorf("schema_version after the refused open = %v", got)
	}
}

// The crash test. The child applies numbered batches, each touching every
// table, and prints "applied N" after Apply returns for batch N. The parent
// kills it with SIGKILL at a random moment and checks, on the reopened
// database, that the batches present are exactly 1..P for some P, each in
// full, and that P covers every batch reported.

const (
	crashChannel   = "crash"
	crashAuthor    = "child"
	entriesPerStep = 3
)

var crashBase = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func crashRaw(idx uint64) []byte {
	return []byte(fmt.Sprintf("envelope %s/%s/%d %s", crashChannel, crashAuthor, idx, strings.Repeat("x", int(idx%97))))
}

// crashBatch is batch n (1-based), given the tree after batch n-1.
func crashBatch(n uint64, tree *transcript.Tree) *record.Batch {
	b := &record.Batch{}
	if n == 1 {
		b.Peers = []record.Peer{{Name: "peer", Party: "p", Card: []byte("card"), Fingerprint: "fp", AddedAt: crashBase}}
	}
	b.Channels = []record.Channel{{ID: crashChannel, Peer: "peer", Level: "routine", State: record.Active, Proposer: crashAuthor,
		Charter: []byte(fmt.Sprintf("charter %d", n)), CreatedAt: crashBase, UpdatedAt: crashBase.Add(time.Duration(n))}}
	for i := range uint64(entriesPerStep) {
		idx := (n-1)*entriesPerStep + i + 1
		raw := crashRaw(idx)
		tree.Append(raw)
		b.Entries = append(b.Entries, record.Entry{Channel: crashChannel, Author: crashAuthor, Index: idx, Kind: envelope.Text,
			Precedence: envelope.Routine, StoredAt: crashBase.Add(time.Duration(idx)), Raw: raw, Body: []byte(`{"n":` + strconv.FormatUint(n, 10) + `}`), Root: tree.Root()})
	}
	size := n * entriesPerStep
	b.Logs = []record.Log{{Channel: crashChannel, Author: crashAuthor, Size: size, Hashes: tree.Hashes(), Checkpoint: []byte(fmt.Sprintf("checkpoint %d", size))}}
	b.Receipts = []record.Receipt{{Channel: crashChannel, Author: crashAuthor, Size: size - 1, Note: []byte(fmt.Sprintf("receipt %d", size-1))}}
	// The peer acknowledges the batch's first entry.
	b.Acks = []record.Ack{{Channel: crashChannel, Author: crashAuthor, Index: size - entriesPerStep + 1, AckAuthor: "peer", AckIndex: n, By: "op", At: crashBase}}
	b.Alerts = []record.Alert{{At: crashBase, Level: "warning", Channel: crashChannel, Peer: "peer", Text: fmt.Sprintf("batch %d", n)}}
	return b
}

func crashChild(path string) error {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	tree := transcript.NewTree()
	deadline := time.Now().Add(20 * time.Second) // never outlive a parent that died
	for n := uint64(1); time.Now().Before(deadline); n++ {
		if err := s.Apply(ctx, crashBatch(n, tree)); err != nil {
			return fmt.Errorf("batch %d: %w", n, err)
		}
		if _, err := fmt.Fprintf(os.Stdout, "applied %d\n", n); err != nil {
			return err
		}
	}
	return fmt.Errorf("not killed within 20s")
}

func TestCrashDuringApply(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for round := range 8 {
		t.Run(fmt.Sprintf("round%d", round), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "station.db")
			cmd := exec.Command(exe, "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"="+path)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			reported := make(chan uint64, 1<<16)
			go func() {
				sc := bufio.NewScanner(out)
				for sc.Scan() {
					if v, ok := strings.CutPrefix(sc.Text(), "applied "); ok {
						if n, err := strconv.ParseUint(v, 10, 64); err == nil {
							reported <- n
						}
					}
				}
				close(reported)
			}()

			// Kill at a random moment once the child is applying.
			var last uint64
			select {
			case n, ok := <-reported:
				if !ok {
					cmd.Wait()
					t.Fatalf("child exited before applying anything: %s", stderr.String())
				}
				last = n
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("child applied nothing in 10s: %s", stderr.String())
			}
			time.Sleep(time.Duration(rand.N(200*time.Millisecond)) + time.Millisecond)
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			for n := range reported {
				last = n
			}
			err = cmd.Wait()
			if ee, ok := err.(*exec.ExitError); !ok || ee.Exited() {
				t.Fatalf("child was not killed (wait: %v): %s", err, stderr.String())
			}
			present := crashCheck(t, path, last)
			t.Logf("killed after %d batches reported, %d present", last, present)
		})
	}
}

// crashCheck verifies the database after a kill and returns how many batches
// it holds.
func crashCheck(t *testing.T, path string, reported uint64) uint64 {
	t.Helper()
	ctx := t.Context()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("reopening after the kill: %v", err)
	}
	defer s.Close()

	// The log record says how many batches committed; everything else must
	// agree with it exactly.
	l, err := s.Log(ctx, crashChannel, crashAuthor)
	if err != nil {
		t.Fatalf("Log after the kill: %v", err)
	}
	if l.Size%entriesPerStep != 0 {
		t.Fatalf("log size %d is not a whole number of batches", l.Size)
	}
	p := l.Size / entriesPerStep
	if p == 0 {
		t.Fatalf("no batch present after %d were reported", reported)
	}
	if p < reported {
		t.Errorf("batch %d was reported applied but only %d batches are present", reported, p)
	}
	if p > reported+1 {
		t.Errorf("%d batches present, but only %d were reported (at most one may commit unreported)", p, reported)
	}

	// Rebuild what batches 1..p wrote.
	tree := transcript.NewTree()
	var want []*record.Batch
	for n := uint64(1); n <= p; n++ {
		want = append(want, crashBatch(n, tree))
	}
	lastB := want[len(want)-1]
	if !bytes.Equal(l.Checkpoint, lastB.Logs[0].Checkpoint) || l.ReceiptSize != lastB.Receipts[0].Size ||
		!bytes.Equal(l.Receipt, lastB.Receipts[0].Note) || len(l.Hashes) != len(lastB.Logs[0].Hashes) {
		t.Errorf("log after the kill = size %d checkpoint %q receipt %q/%d, want batch %d's", l.Size, l.Checkpoint, l.Receipt, l.ReceiptSize, p)
	}
	restored, err := transcript.TreeFromHashes(l.Size, l.Hashes)
	if err != nil || !bytes.Equal(restored.Root(), tree.Root()) {
		t.Errorf("stored tree does not restore the root of %d entries (%v)", l.Size, err)
	}

	es, err := s.Entries(ctx, crashChannel, crashAuthor, 1, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(es)) != l.Size {
		t.Errorf("%d entries stored, want %d", len(es), l.Size)
	}
	for i, e := range es {
		if e.Index != uint64(i+1) || !bytes.Equal(e.Raw, crashRaw(e.Index)) {
			t.Errorf("entry %d: %s with %q", i+1, e.ID(), e.Raw)
		}
	}
	if len(es) > 0 && !bytes.Equal(es[len(es)-1].Root, tree.Root()) {
		t.Errorf("last entry's root does not match the log")
	}

	ms, err := s.Messages(ctx, store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(ms)) != l.Size {
		t.Errorf("%d messages, want %d", len(ms), l.Size)
	}
	for _, m := range ms {
		if want := m.Index <= l.ReceiptSize; m.Delivered != want {
			t.Errorf("%s: delivered %v, want %v", m.ID(), m.Delivered, want)
		}
		wantAck := m.Index%entriesPerStep == 1
		if gotAck := m.Ack != nil; gotAck != wantAck || gotAck && m.Ack.AckIndex != (m.Index-1)/entriesPerStep+1 {
			t.Errorf("%s: ack %+v, want one: %v", m.ID(), m.Ack, wantAck)
		}
	}

	alerts, err := s.Alerts(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(alerts)) != p {
		t.Errorf("%d alerts stored, want %d", len(alerts), p)
	}
	for i, a := range alerts {
		if want := fmt.Sprintf("batch %d", i+1); a.Text != want {
			t.Errorf("alert %d is %q, want %q", i+1, a.Text, want)
		}
	}
	chans, err := s.Channels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(chans) != 1 || !bytes.Equal(chans[0].Charter, lastB.Channels[0].Charter) || !chans[0].UpdatedAt.Equal(lastB.Channels[0].UpdatedAt) {
		t.Errorf("channels after the kill = %+v, want batch %d's record", chans, p)
	}
	peers, err := s.Peers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(peers) != 1 {
		t.Errorf("%d peers after the kill, want 1", len(peers))
	}
	return p
}

// TestMigrationsLandInAnyOrder: migrations are numbered, not counted, so
// that two written apart (002 on one branch, 003 on another) can land in
// either order; a database holding one this binary lacks is refused.
func TestMigrationsLandInAnyOrder(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "m.db")
	// The real schema (which the store's prepared statements need) as the
	// first migration; made-up tables after it.
	var init []byte
	for _, f := range []string{"migrations/001_init.sql", "migrations/002_deadlines.sql", "migrations/007_keys.sql", "migrations/008_alert_args.sql", "migrations/010_epochs.sql", "migrations/012_epoch_keys.sql", "migrations/013_receipt_times.sql"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		init = append(append(init, b...), "\n;\n"...)
	}
	m := func(name, table string) *fstest.MapFile {
		if name == "001" {
			return &fstest.MapFile{Data: init}
		}
		return &fstest.MapFile{Data: []byte("CREATE TABLE " + table + " (x INTEGER)\n;\n")}
	}
	open := func(fsys fstest.MapFS) error {
		db, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		s, err := sqlstore.New(ctx, db, sqlstore.Dialect{Name: "sqlite", Migrations: fsys})
		if err != nil {
			db.Close()
			return err
		}
		return s.Close()
	}
	first := fstest.MapFS{"001_a.sql": m("001", "a"), "003_c.sql": m("003", "c")}
	if err := open(first); err != nil {
		t.Fatalf("001 and 003: %v", err)
	}
	if got := versions(t, path); !slices.Equal(got, []int{1, 3}) {
		t.Errorf("versions = %v, want [1 3]", got)
	}
	later := fstest.MapFS{"001_a.sql": m("001", "a"), "002_b.sql": m("002", "b"), "003_c.sql": m("003", "c")}
	if err := open(later); err != nil {
		t.Fatalf("002 landing after 003: %v", err)
	}
	if got := versions(t, path); !slices.Equal(got, []int{1, 2, 3}) {
		t.Errorf("versions = %v, want [1 2 3]", got)
	}
	if err := open(first); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("a binary without 002 opening a database with it: %v, want a refusal", err)
	}
	dup := fstest.MapFS{"001_a.sql": m("001", "a"), "001_b.sql": m("001", "b")}
	if err := open(dup); err == nil || !strings.Contains(err.Error(), "same number") {
		t.Errorf("two migrations numbered 001: %v, want a refusal", err)
	}
}

// TestUpgrade: a database at every earlier schema version, holding what
// that version held, is migrated forward on open and reads back as a
// fresh one; a newer database and a migration failing part way change
// nothing (see storetest.RunUpgrade).
func TestUpgrade(t *testing.T) {
	storetest.RunUpgrade(t, storetest.Engine{
		Dialect: sqlite.Dialect,
		Create:  func(t *testing.T) string { return filepath.Join(t.TempDir(), "station.db") },
		Raw: func(t *testing.T, path string) *sql.DB {
			db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(ON)&_pragma=busy_timeout(10000)&_txlock=immediate")
			if err != nil {
				t.Fatal(err)
			}
			return db
		},
		Open: func(ctx context.Context, path string) (store.Store, error) { return sqlite.Open(ctx, path) },
		Schema: func(t *testing.T, db *sql.DB) string {
			rows, err := db.QueryContext(t.Context(), `SELECT type, name, tbl_name, COALESCE(sql, '') FROM sqlite_master ORDER BY type, name`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var b strings.Builder
			for rows.Next() {
				var typ, name, table, text string
				if err := rows.Scan(&typ, &name, &table, &text); err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&b, "%s %s on %s: %s\n", typ, name, table, strings.Join(strings.Fields(text), " "))
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			return b.String()
		},
	})
}

// readOnly makes the file read-only for this process: without write
// permission, or, for root (whom permissions do not stop), immutable
// (chattr +i). It returns the undo; it skips the test where neither is
// possible.
func readOnly(t *testing.T, path string) func() {
	t.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(path, 0o400); err != nil {
			t.Fatal(err)
		}
		return func() { os.Chmod(path, 0o600) }
	}
	if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
		t.Skipf("running as root and chattr +i fails (%v: %s): cannot make a file read-only here", err, out)
	}
	undo := func() { exec.Command("chattr", "-i", path).Run() }
	t.Cleanup(undo)
	return undo
}

// TestReadOnlyRefused: a database file that cannot be written is refused
// at open, with an error that names the file and says it does not take
// writes, rather than at the station's first write; the file is
// unchanged and opens again once writable.
func TestReadOnlyRefused(t *testing.T) {
	s, path := openTemp(t)
	ctx := t.Context()
	if err := s.Apply(ctx, &record.Batch{Alerts: []record.Alert{{Level: "warning", Text: "kept"}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	undo := readOnly(t, path)
	s, err = sqlite.Open(ctx, path)
	if err == nil {
		s.Close()
		t.Fatal("opening a read-only database succeeded, want a refusal")
	}
	for _, want := range []string{path, "does not take writes", "read-only", "readonly"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
	if after, err := os.ReadFile(path); err != nil || !bytes.Equal(after, before) {
		t.Errorf("the refused open changed the file (%v)", err)
	}
	undo()
	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("reopening once writable: %v", err)
	}
	defer s.Close()
	if as, err := s.Alerts(ctx, 0); err != nil || len(as) != 1 || as[0].Text != "kept" {
		t.Errorf("after the refusal: alerts %v, %v", as, err)
	}
}
