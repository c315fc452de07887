package demo

import (
	"crypto/hpke"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"hotline/internal/envelope"
	"hotline/internal/home"
	"hotline/internal/identity"
	"hotline/internal/protocol"
	"hotline/internal/record"
	"hotline/internal/stationdir"
	"hotline/internal/store"
	"hotline/internal/store/postgres"
	"hotline/internal/store/sqlite"
	"hotline/internal/transcript"
)

var backupEntries = flag.Int("backup.entries", 1_000_000, "entries the backup benchmark fills the station's store with")

// BenchmarkBackup fills a real station's store with -backup.entries
// entries (half 256-byte texts from USA, half CHN's acknowledgements of
// them, sealed and signed with the stations' own keys, with checkpoints,
// receipts and acknowledgement records, as a station that had exchanged
// them would hold), through the store interface in batches of 10,000,
// then times `hotline backup` and `hotline restore` (real processes) and
// reports the backup's size. The same records go into a PostgreSQL
// database (a throwaway server on loopback), which is backed up with
// pg_dump and restored with pg_restore, the path docs/OPERATIONS.md gives
// for PostgreSQL. Baseline in the same run: the same commands on the
// station before the fill (two agreement entries).
//
//	go test ./internal/demo -run '^$' -bench Backup -benchtime 1x -timeout 60m -v
func BenchmarkBackup(b *testing.B) {
	srv := postgresServer(b)
	for b.Loop() {
		ctx := b.Context()
		root := b.TempDir()
		p, err := NewPair(ctx, root, binary, map[string]string{"ops": "staff"})
		if err != nil {
			b.Fatal(err)
		}
		p.Stop()
		empty := backupRestore(b, p.A.Dir, filepath.Join(root, "empty"))

		usa, err := sqlite.Open(ctx, filepath.Join(p.A.Dir, "hotline.db"))
		if err != nil {
			b.Fatal(err)
		}
		dsn := srv.FreshDB(b)
		pg, err := postgres.Open(ctx, dsn)
		if err != nil {
			b.Fatal(err)
		}
		f := newFiller(b, p)
		f.copyState(usa, pg)
		start := time.Now()
		f.fill(*backupEntries, usa, pg)
		b.Logf("filled both stores with %d entries in %s", *backupEntries, time.Since(start).Round(time.Second))
		if err := usa.Close(); err != nil {
			b.Fatal(err)
		}
		if err := pg.Close(); err != nil {
			b.Fatal(err)
		}
		dbSize := fileSize(b, filepath.Join(p.A.Dir, "hotline.db")) + fileSize(b, filepath.Join(p.A.Dir, "hotline.db-wal"))
		full := backupRestore(b, p.A.Dir, filepath.Join(root, "full"))
		dump := pgDumpRestore(b, dsn, srv.FreshDB(b), filepath.Join(root, "pg.dump"))

		mb := func(n int64) float64 { return float64(n) / (1 << 20) }
		b.ReportMetric(full.backup.Seconds(), "sqlite-backup-s")
		b.ReportMetric(mb(full.size), "sqlite-backup-MiB")
		b.ReportMetric(full.restore.Seconds(), "sqlite-restore-s")
		b.ReportMetric(dump.backup.Seconds(), "pg_dump-s")
		b.ReportMetric(mb(dump.size), "pg_dump-MiB")
		b.ReportMetric(dump.restore.Seconds(), "pg_restore-s")
		b.Logf("\n%-38s %10s %10s %12s\n%-38s %10.2f %10.1f %12.2f\n%-38s %10.2f %10.1f %12.2f\n%-38s %10.2f %10.1f %12.2f\n(SQLite file before the backup: %.1f MiB)",
			"", "backup s", "size MiB", "restore s",
			"station before the fill (baseline)", empty.backup.Seconds(), mb(empty.size), empty.restore.Seconds(),
			fmt.Sprintf("SQLite, %d entries", *backupEntries), full.backup.Seconds(), mb(full.size), full.restore.Seconds(),
			fmt.Sprintf("PostgreSQL pg_dump -Fc, %d entries", *backupEntries), dump.backup.Seconds(), mb(dump.size), dump.restore.Seconds(),
			mb(dbSize))
	}
}

type backupTimes struct {
	backup, restore time.Duration
	size            int64
}

func fileSize(b *testing.B, path string) int64 {
	fi, err := os.Stat(path)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		b.Fatal(err)
	}
	return fi.Size()
}

func timed(b *testing.B, name string, args ...string) time.Duration {
	b.Helper()
	start := time.Now()
	out, err := exec.Command(name, args...).CombinedOutput()
	d := time.Since(start)
	if err != nil {
		b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return d
}

// backupRestore runs hotline backup on dir and hotline restore of the
// file into a new directory, and checks that the restored store holds
// the same logs.
func backupRestore(b *testing.B, dir, work string) backupTimes {
	b.Helper()
	if err := os.MkdirAll(work, 0o700); err != nil {
		b.Fatal(err)
	}
	file := filepath.Join(work, "usa.backup")
	var t backupTimes
	t.backup = timed(b, binary, "backup", "--dir", dir, "--out", file)
	t.size = fileSize(b, file)
	restored := filepath.Join(work, "restored")
	t.restore = timed(b, binary, "restore", "--dir", restored, file)
	sameLogs(b, filepath.Join(dir, "hotline.db"), filepath.Join(restored, "hotline.db"))
	os.Remove(file)
	os.RemoveAll(restored)
	return t
}

func sameLogs(b *testing.B, a, c string) {
	b.Helper()
	logs := func(path string) string {
		s, err := sqlite.Open(b.Context(), path)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		snap, err := s.Load(b.Context(), "USA")
		if err != nil {
			b.Fatal(err)
		}
		var out []string
		for _, l := range snap.Logs {
			out = append(out, fmt.Sprintf("%s/%s %d %d", l.Channel, l.Author, l.Size, l.ReceiptSize))
		}
		return strings.Join(out, ", ")
	}
	if x, y := logs(a), logs(c); x != y {
		b.Fatalf("restored logs %s, want %s", y, x)
	}
}

// pgDumpRestore backs the database at dsn up with pg_dump (custom
// format) and restores it into the empty database at into.
func pgDumpRestore(b *testing.B, dsn, into, file string) backupTimes {
	b.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump")
	if len(bins) == 0 {
		b.Fatal("no pg_dump")
	}
	bin := filepath.Dir(bins[len(bins)-1])
	var t backupTimes
	t.backup = timed(b, filepath.Join(bin, "pg_dump"), "--format=custom", "--file", file, "--dbname", dsn)
	t.size = fileSize(b, file)
	t.restore = timed(b, filepath.Join(bin, "pg_restore"), "--no-owner", "--exit-on-error", "--dbname", into, file)
	s, err := postgres.Open(b.Context(), into)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	l, err := s.Log(b.Context(), "ops", "USA")
	if err != nil || l.Size < uint64(*backupEntries/2) {
		b.Fatalf("restored PostgreSQL log ops/USA: %+v, %v", l, err)
	}
	return t
}

// filler writes entries as the two stations would have: USA's texts
// sealed to CHN, CHN's acknowledgements sealed to USA.
type filler struct {
	b          *testing.B
	usa, chn   *identity.Keys
	toUSA      hpke.PublicKey
	toCHN      hpke.PublicKey
	usaV, chnV note.Verifier
	uTree      *transcript.Tree
	cTree      *transcript.Tree
	rng        *rand.Rand
	clock      time.Time
}

func newFiller(b *testing.B, p *Pair) *filler {
	b.Helper()
	f := &filler{b: b, rng: rand.New(rand.NewPCG(1, 2)), clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var err error
	if f.usa, err = home.LoadKeys(filepath.Join(p.A.Dir, "keys")); err != nil {
		b.Fatal(err)
	}
	if f.chn, err = home.LoadKeys(filepath.Join(p.B.Dir, "keys")); err != nil {
		b.Fatal(err)
	}
	for _, x := range []struct {
		dir string
		k   *hpke.PublicKey
		v   *note.Verifier
	}{{p.A.Dir, &f.toUSA, &f.usaV}, {p.B.Dir, &f.toCHN, &f.chnV}} {
		card, err := stationdir.ReadCard(x.dir)
		if err != nil {
			b.Fatal(err)
		}
		if *x.k, err = card.HPKEKey(); err != nil {
			b.Fatal(err)
		}
		if *x.v, err = card.Verifier(); err != nil {
			b.Fatal(err)
		}
	}
	return f
}

// copyState gives pg what USA's SQLite store holds after the pairing
// (peer, channel, both agreement entries and logs), and sets the trees.
func (f *filler) copyState(from, to store.Store) {
	b, ctx := f.b, f.b.Context()
	snap, err := from.Load(ctx, "USA")
	if err != nil {
		b.Fatal(err)
	}
	batch := &record.Batch{Peers: snap.Peers, Channels: snap.Channels, Logs: snap.Logs}
	for _, l := range snap.Logs {
		es, err := from.Entries(ctx, l.Channel, l.Author, 1, l.Size)
		if err != nil {
			b.Fatal(err)
		}
		batch.Entries = append(batch.Entries, es...)
		tree, err := transcript.TreeFromHashes(l.Size, l.Hashes)
		if err != nil {
			b.Fatal(err)
		}
		if l.Channel == "ops" && l.Author == "USA" {
			f.uTree = tree
		}
		if l.Channel == "ops" && l.Author == "CHN" {
			f.cTree = tree
		}
		if l.ReceiptSize > 0 {
			batch.Receipts = append(batch.Receipts, record.Receipt{Channel: l.Channel, Author: l.Author, Size: l.ReceiptSize, Note: l.Receipt})
		}
	}
	if f.uTree == nil || f.cTree == nil {
		b.Fatalf("the paired station has no logs on ops: %+v", snap.Logs)
	}
	if err := to.Apply(ctx, batch); err != nil {
		b.Fatal(err)
	}
}

var words = strings.Fields("contact vessel bearing course speed range request confirm position intentions " +
	"maintain distance exercise area notice aircraft altitude heading report acknowledge north south east west")

func (f *filler) text() string {
	var sb strings.Builder
	for sb.Len() < 250 {
		sb.WriteString(words[f.rng.IntN(len(words))])
		sb.WriteByte(' ')
	}
	return sb.String()[:256-6] + " over."
}

// fill writes n entries (n/2 texts and n/2 acknowledgements) to every
// store, in batches of 10,000.
func (f *filler) fill(n int, stores ...store.Store) {
	b, ctx := f.b, f.b.Context()
	const pairs = 5000
	workers := runtime.NumCPU()
	for done := 0; done < n/2; done += pairs {
		k := min(pairs, n/2-done)
		type job struct {
			h    envelope.Header
			body []byte
			to   hpke.PublicKey
			key  *identity.Keys
			raw  []byte
		}
		jobs := make([]job, 0, 2*k)
		u0, c0 := f.uTree.Size(), f.cTree.Size()
		for i := range k {
			f.clock = f.clock.Add(7 * time.Second)
			tb, _ := json.Marshal(protocol.TextBody{Text: f.text(), Lang: "en"})
			jobs = append(jobs, job{h: envelope.Header{Channel: "ops", Author: "USA", Recipient: "CHN", Index: u0 + uint64(i) + 1,
				Precedence: envelope.Routine, Kind: envelope.Text, Time: f.clock}, body: tb, to: f.toCHN, key: f.usa})
			ab, _ := json.Marshal(protocol.AckBody{Of: u0 + uint64(i) + 1, By: "chn-duty"})
			jobs = append(jobs, job{h: envelope.Header{Channel: "ops", Author: "CHN", Recipient: "USA", Index: c0 + uint64(i) + 1,
				Precedence: envelope.Routine, Kind: envelope.Ack, Time: f.clock.Add(40 * time.Second)}, body: ab, to: f.toUSA, key: f.chn})
		}
		var wg sync.WaitGroup
		var errs = make([]error, workers)
		for w := range workers {
			wg.Go(func() {
				for j := w; j < len(jobs); j += workers {
					jobs[j].raw, errs[w] = envelope.Seal(jobs[j].h, jobs[j].body, jobs[j].to, jobs[j].key.Sign)
					if errs[w] != nil {
						return
					}
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
		batch := &record.Batch{}
		for _, j := range jobs {
			tree := f.uTree
			if j.h.Author == "CHN" {
				tree = f.cTree
			}
			tree.Append(j.raw)
			stored := j.h.Time.Add(300 * time.Millisecond)
			batch.Entries = append(batch.Entries, record.Entry{Channel: "ops", Author: j.h.Author, Index: j.h.Index, Kind: j.h.Kind,
				Precedence: j.h.Precedence, SenderTime: j.h.Time, StoredAt: stored, Raw: j.raw, Body: j.body, Root: tree.Root()})
			if j.h.Kind == envelope.Ack {
				var ab protocol.AckBody
				json.Unmarshal(j.body, &ab)
				batch.Acks = append(batch.Acks, record.Ack{Channel: "ops", Author: "USA", Index: ab.Of, AckAuthor: "CHN", AckIndex: j.h.Index, By: ab.By, At: stored})
			}
		}
		ucp := f.checkpoint("USA", f.uTree, f.usa)
		rc, err := transcript.Cosign(ucp, f.usaV, f.chn.Signer())
		if err != nil {
			b.Fatal(err)
		}
		batch.Logs = []record.Log{
			{Channel: "ops", Author: "USA", Size: f.uTree.Size(), Hashes: f.uTree.Hashes(), Checkpoint: ucp},
			{Channel: "ops", Author: "CHN", Size: f.cTree.Size(), Hashes: f.cTree.Hashes(), Checkpoint: f.checkpoint("CHN", f.cTree, f.chn)},
		}
		batch.Receipts = []record.Receipt{{Channel: "ops", Author: "USA", Size: f.uTree.Size(), Note: rc}}
		// The engines write at once, on their own disks' time.
		applied := make([]error, len(stores))
		for i, s := range stores {
			wg.Go(func() { applied[i] = s.Apply(ctx, batch) })
		}
		wg.Wait()
		for _, err := range applied {
			if err != nil {
				b.Fatalf("applying entries %d..: %v", done, err)
			}
		}
		if (done+k)%100_000 == 0 {
			b.Logf("%s: %d entries in each store", time.Now().Format("15:04:05"), 2*(done+k))
		}
	}
}

func (f *filler) checkpoint(author string, tree *transcript.Tree, k *identity.Keys) []byte {
	cp, err := transcript.SignCheckpoint(transcript.Checkpoint{Origin: transcript.Origin("ops", author), Size: tree.Size(), Root: tree.Root()}, k.Signer())
	if err != nil {
		f.b.Fatal(err)
	}
	return cp
}
