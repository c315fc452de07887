// Package storetest is the conformance suite for storage engines. Every
// engine runs the same suite from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { ... })
//	}
//
// The suite stores real data: envelopes sealed and signed with fresh
// station keys, Merkle roots and compact ranges from transcript.Tree,
// signed checkpoints and cosigned receipts.
package storetest

import (
	"bytes"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"hotline/internal/envelope"
	"hotline/internal/identity"
	"hotline/internal/record"
	"hotline/internal/store"
	"hotline/internal/transcript"
)

// Run runs the conformance suite. open must return a fresh, empty store
// each time it is called; the suite closes every store it opens (and fails
// if Close fails). open may register its own clean-ups with t.Cleanup: they
// run after the suite's Close.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	w := newWorld(t)
	tests := []struct {
		name string
		fn   func(t *testing.T, w *world, open func(t *testing.T) store.Store)
	}{
		{"Empty", testEmpty},
		{"PeersAndChannels", testPeersAndChannels},
		{"AtomicOnConflict", testAtomicOnConflict},
		{"AtomicOnMissingPeer", testAtomicOnMissingPeer},
		{"EntryIdempotentAndConflict", testEntryIdempotent},
		{"LogUpsert", testLogUpsert},
		{"Receipts", testReceipts},
		{"MergedBatch", testMergedBatch},
		{"Load", testLoad},
		{"Entries", testEntries},
		{"Messages", testMessages},
		{"MessagesOneLogInIndexOrder", testMessagesIndexOrder},
		{"Alerts", testAlerts},
		{"ChannelSuspensionsAndCheck", testChannelState},
		{"Escalations", testEscalations},
		{"Keys", testKeys},
		{"Probes", testProbes},
		{"CheckStats", testCheckStats},
		{"Outstanding", testOutstanding},
		{"Times", testTimes},
		{"Concurrency", testConcurrency},
		{"Operators", testOperators},
		{"Sessions", testSessions},
		{"Audit", testAudit},
		{"Plans", testPlans},
		{"Findings", testFindings},
		{"Codebooks", testCodebooks},
		{"ConsoleAlerts", testConsoleAlerts},
		{"ConsoleAlertAckOnce", testConsoleAlertAckOnce},
		{"Groups", testGroups},
		{"Broadcasts", testBroadcasts},
		{"Introductions", testIntroductions},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, w, func(t *testing.T) store.Store {
				t.Helper()
				s := open(t)
				if s == nil {
					t.Fatal("open returned a nil store")
				}
				t.Cleanup(func() {
					if err := s.Close(); err != nil {
						t.Errorf("Close: %v", err)
					}
				})
				return s
			})
		})
	}
}

// ---------------------------------------------------------------------------
// Fixtures: stations, logs built from real envelopes.

// base is a fixed instant with a nanosecond part, in a zone that is not UTC,
// so that engines which truncate or keep the zone are caught.
var base = time.Date(2031, 3, 14, 15, 9, 26, 535897932, time.FixedZone("X+0530", 5*3600+30*60))

// at returns base plus n seconds plus n nanoseconds.
func at(n int) time.Time { return base.Add(time.Duration(n)*time.Second + time.Duration(n)) }

type station struct {
	keys     *identity.Keys
	card     *identity.Card
	hpke     hpke.PublicKey
	verifier note.Verifier
}

func (s *station) name() string { return s.keys.Name }

func (s *station) peer(added time.Time) record.Peer {
	return record.Peer{Name: s.keys.Name, Party: s.card.Party, Card: s.card.Text, Fingerprint: s.card.Fingerprint(), AddedAt: added}
}

type world struct {
	alpha, bravo, charlie *station
}

func newWorld(t *testing.T) *world {
	t.Helper()
	mk := func(name, party string) *station {
		k, err := identity.NewKeys(name)
		if err != nil {
			t.Fatal(err)
		}
		c, err := identity.NewCard(k, party, []string{name + ".example:7443"}, base)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := c.HPKEKey()
		if err != nil {
			t.Fatal(err)
		}
		v, err := c.Verifier()
		if err != nil {
			t.Fatal(err)
		}
		return &station{keys: k, card: c, hpke: pub, verifier: v}
	}
	return &world{alpha: mk("alpha", "north"), bravo: mk("bravo", "south"), charlie: mk("charlie", "east")}
}

// channel returns the record of a channel between alpha and peer, with a
// charter signed by the proposer (alpha or peer), and by the other side too
// when active.
func (w *world) channel(t *testing.T, id string, proposer, peer *station, state string, created, updated time.Time) record.Channel {
	t.Helper()
	text := fmt.Sprintf("hotline charter v1\nchannel %s\nlevel routine\nproposer %s\nstations %s %s\n", id, proposer.name(), w.alpha.name(), peer.name())
	signers := []note.Signer{proposer.keys.Signer()}
	if state == record.Active {
		other := peer
		if proposer == peer {
			other = w.alpha
		}
		signers = append(signers, other.keys.Signer())
	}
	charter, err := note.Sign(&note.Note{Text: text}, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return record.Channel{ID: id, Peer: peer.name(), Level: "routine", State: state, Proposer: proposer.name(),
		Charter: charter, CreatedAt: created, UpdatedAt: updated}
}

// logBuilder builds one author's log for one channel: sealed envelopes,
// roots, compact ranges, checkpoints and receipts.
type logBuilder struct {
	t         *testing.T
	channel   string
	author    *station
	recipient *station
	tree      *transcript.Tree
	entries   []record.Entry
	hashes    [][][]byte // hashes[n] is the compact range at size n
}

func newLog(t *testing.T, channel string, author, recipient *station) *logBuilder {
	return &logBuilder{t: t, channel: channel, author: author, recipient: recipient,
		tree: transcript.NewTree(), hashes: [][][]byte{nil}}
}

// add seals and appends the next entry, stored at the given time.
func (l *logBuilder) add(kind envelope.Kind, prec envelope.Precedence, stored time.Time, text string) record.Entry {
	l.t.Helper()
	h := envelope.Header{Channel: l.channel, Author: l.author.name(), Recipient: l.recipient.name(),
		Index: uint64(len(l.entries)) + 1, Precedence: prec, Kind: kind, Time: stored.Add(-1500 * time.Millisecond)}
	body, err := json.Marshal(map[string]string{"text": text})
	if err != nil {
		l.t.Fatal(err)
	}
	raw, err := envelope.Seal(h, body, l.recipient.hpke, l.author.keys.Sign)
	if err != nil {
		l.t.Fatal(err)
	}
	l.tree.Append(raw)
	e := record.Entry{Channel: h.Channel, Author: h.Author, Index: h.Index, Kind: kind, Precedence: prec,
		SenderTime: h.Time.Truncate(time.Millisecond), StoredAt: stored, Raw: raw, Body: body, Root: l.tree.Root()}
	l.entries = append(l.entries, e)
	l.hashes = append(l.hashes, slices.Clone(l.tree.Hashes()))
	return e
}

// text adds a routine text entry.
func (l *logBuilder) text(stored time.Time) record.Entry {
	return l.add(envelope.Text, envelope.Routine, stored, fmt.Sprintf("message %d of %s/%s", len(l.entries)+1, l.channel, l.author.name()))
}

// forged returns an entry at the same position as index with different
// bytes: the same header, another body.
func (l *logBuilder) forged(index uint64) record.Entry {
	l.t.Helper()
	e := l.entries[index-1]
	h := envelope.Header{Channel: e.Channel, Author: e.Author, Recipient: l.recipient.name(), Index: e.Index,
		Precedence: e.Precedence, Kind: e.Kind, Time: e.SenderTime}
	body := []byte(`{"text":"forged"}`)
	raw, err := envelope.Seal(h, body, l.recipient.hpke, l.author.keys.Sign)
	if err != nil {
		l.t.Fatal(err)
	}
	if bytes.Equal(raw, e.Raw) {
		l.t.Fatal("forged entry has the same bytes")
	}
	e.Raw, e.Body = raw, body
	return e
}

func (l *logBuilder) size() uint64 { return uint64(len(l.entries)) }

// root returns the root at size n.
func (l *logBuilder) root(n uint64) []byte {
	if n == 0 {
		return transcript.EmptyRoot()
	}
	return l.entries[n-1].Root
}

// record returns the log record at size n, with checkpoint cp (nil to keep).
func (l *logBuilder) record(n uint64, cp []byte) record.Log {
	return record.Log{Channel: l.channel, Author: l.author.name(), Size: n, Hashes: cloneHashes(l.hashes[n]), Checkpoint: cp}
}

// checkpoint returns the author's signed checkpoint at size n.
func (l *logBuilder) checkpoint(n uint64) []byte {
	l.t.Helper()
	cp, err := transcript.SignCheckpoint(transcript.Checkpoint{Origin: transcript.Origin(l.channel, l.author.name()), Size: n, Root: l.root(n)}, l.author.keys.Signer())
	if err != nil {
		l.t.Fatal(err)
	}
	return cp
}

// receipt returns the recipient's cosigned checkpoint at size n.
func (l *logBuilder) receipt(n uint64) record.Receipt {
	l.t.Helper()
	note, err := transcript.Cosign(l.checkpoint(n), l.author.verifier, l.recipient.keys.Signer())
	if err != nil {
		l.t.Fatal(err)
	}
	return record.Receipt{Channel: l.channel, Author: l.author.name(), Size: n, Note: note}
}

func cloneHashes(hs [][]byte) [][]byte {
	out := make([][]byte, len(hs))
	for i, h := range hs {
		out[i] = slices.Clone(h)
	}
	return out
}

// ---------------------------------------------------------------------------
// Helpers.

func apply(t *testing.T, s store.Store, b *record.Batch) {
	t.Helper()
	if err := s.Apply(t.Context(), b); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

func getLog(t *testing.T, s store.Store, channel, author string) *record.Log {
	t.Helper()
	l, err := s.Log(t.Context(), channel, author)
	if err != nil {
		t.Fatalf("Log(%s, %s): %v", channel, author, err)
	}
	return l
}

func messages(t *testing.T, s store.Store, q store.Query) []store.Message {
	t.Helper()
	ms, err := s.Messages(t.Context(), q)
	if err != nil {
		t.Fatalf("Messages(%+v): %v", q, err)
	}
	return ms
}

func entries(t *testing.T, s store.Store, channel, author string, from, to uint64) []record.Entry {
	t.Helper()
	es, err := s.Entries(t.Context(), channel, author, from, to)
	if err != nil {
		t.Fatalf("Entries(%s, %s, %d, %d): %v", channel, author, from, to, err)
	}
	return es
}

func channels(t *testing.T, s store.Store) []record.Channel {
	t.Helper()
	cs, err := s.Channels(t.Context())
	if err != nil {
		t.Fatalf("Channels: %v", err)
	}
	return cs
}

func load(t *testing.T, s store.Store, self string) *record.Snapshot {
	t.Helper()
	snap, err := s.Load(t.Context(), self)
	if err != nil {
		t.Fatalf("Load(%s): %v", self, err)
	}
	return snap
}

func escalations(t *testing.T, s store.Store, channel string) []record.Escalation {
	t.Helper()
	xs, err := s.Escalations(t.Context(), channel)
	if err != nil {
		t.Fatalf("Escalations(%q): %v", channel, err)
	}
	return xs
}

func checkStats(t *testing.T, s store.Store, channel, self string, since time.Time) store.CheckStats {
	t.Helper()
	st, err := s.CheckStats(t.Context(), channel, self, since)
	if err != nil {
		t.Fatalf("CheckStats(%s, %s, %s): %v", channel, self, showTime(since), err)
	}
	if st == nil {
		t.Fatalf("CheckStats(%s, %s, %s) = nil", channel, self, showTime(since))
	}
	return *st
}

// sameTime reports whether got is want at nanosecond precision, in UTC, or
// both are zero.
func sameTime(got, want time.Time) bool {
	if want.IsZero() {
		return got.IsZero()
	}
	return got.Equal(want) && got.Location() == time.UTC
}

func showTime(t time.Time) string {
	if t.IsZero() {
		return "zero"
	}
	return t.Format(time.RFC3339Nano) + "[" + t.Location().String() + "]"
}

func short(b []byte) string {
	if b == nil {
		return "nil"
	}
	sum := sha256.Sum256(b)
	return fmt.Sprintf("%d:%x", len(b), sum[:6])
}

// diffEntry lists the fields in which got differs from want.
func diffEntry(got, want record.Entry) string {
	var d []string
	if got.Channel != want.Channel || got.Author != want.Author || got.Index != want.Index {
		d = append(d, fmt.Sprintf("position %s, want %s", got.ID(), want.ID()))
	}
	if got.Kind != want.Kind {
		d = append(d, fmt.Sprintf("Kind %v, want %v", got.Kind, want.Kind))
	}
	if got.Precedence != want.Precedence {
		d = append(d, fmt.Sprintf("Precedence %v, want %v", got.Precedence, want.Precedence))
	}
	if !sameTime(got.SenderTime, want.SenderTime) {
		d = append(d, fmt.Sprintf("SenderTime %s, want %s", showTime(got.SenderTime), showTime(want.SenderTime)))
	}
	if !sameTime(got.StoredAt, want.StoredAt) {
		d = append(d, fmt.Sprintf("StoredAt %s, want %s", showTime(got.StoredAt), showTime(want.StoredAt)))
	}
	if !bytes.Equal(got.Raw, want.Raw) {
		d = append(d, fmt.Sprintf("Raw %s, want %s", short(got.Raw), short(want.Raw)))
	}
	if !bytes.Equal(got.Body, want.Body) {
		d = append(d, fmt.Sprintf("Body %q, want %q", got.Body, want.Body))
	}
	if !bytes.Equal(got.Root, want.Root) {
		d = append(d, fmt.Sprintf("Root %x, want %x", got.Root, want.Root))
	}
	return strings.Join(d, "; ")
}

func msgIDs(ms []store.Message) []string {
	out := make([]string, len(ms))
	for i := range ms {
		out[i] = ms[i].ID()
	}
	return out
}

func ids(es []record.Entry) []string {
	out := make([]string, len(es))
	for i := range es {
		out[i] = es[i].ID()
	}
	return out
}

func waitingIDs(ws []record.Waiting) []string {
	out := make([]string, len(ws))
	for i := range ws {
		out[i] = ws[i].ID()
	}
	return out
}

// checkWaiting compares the waiting entries got with the entries want, in
// order: what a ladder needs of each, and the body only of a check or an
// escalation by self.
func checkWaiting(t *testing.T, what, self string, got []record.Waiting, want []record.Entry) {
	t.Helper()
	if !slices.Equal(waitingIDs(got), ids(want)) {
		t.Errorf("%s: got entries %v, want %v", what, waitingIDs(got), ids(want))
		return
	}
	for i, g := range got {
		e := want[i]
		body := e.Body
		if !record.WaitingBody(e.Kind, e.Author, self) {
			body = nil
		}
		if g.Kind != e.Kind || g.Precedence != e.Precedence || !g.StoredAt.Equal(e.StoredAt) || !bytes.Equal(g.Body, body) || (body == nil) != (g.Body == nil) {
			t.Errorf("%s: entry %s: kind %v prec %v stored %s body %q, want %v %v %s %q", what, e.ID(),
				g.Kind, g.Precedence, g.StoredAt, g.Body, e.Kind, e.Precedence, e.StoredAt, body)
		}
	}
}

// checkEntries compares got with want, in order, field by field.
func checkEntries(t *testing.T, what string, got, want []record.Entry) {
	t.Helper()
	if !slices.Equal(ids(got), ids(want)) {
		t.Errorf("%s: got entries %v, want %v", what, ids(got), ids(want))
		return
	}
	for i := range got {
		if d := diffEntry(got[i], want[i]); d != "" {
			t.Errorf("%s: entry %s: %s", what, want[i].ID(), d)
		}
	}
}

func diffLog(got, want record.Log) string {
	var d []string
	if got.Channel != want.Channel || got.Author != want.Author {
		d = append(d, fmt.Sprintf("log %s/%s, want %s/%s", got.Channel, got.Author, want.Channel, want.Author))
	}
	if got.Size != want.Size {
		d = append(d, fmt.Sprintf("Size %d, want %d", got.Size, want.Size))
	}
	if !slices.EqualFunc(got.Hashes, want.Hashes, bytes.Equal) {
		d = append(d, fmt.Sprintf("Hashes %x, want %x", got.Hashes, want.Hashes))
	}
	if !bytes.Equal(got.Checkpoint, want.Checkpoint) {
		d = append(d, fmt.Sprintf("Checkpoint %q, want %q", got.Checkpoint, want.Checkpoint))
	}
	if !bytes.Equal(got.Receipt, want.Receipt) {
		d = append(d, fmt.Sprintf("Receipt %q, want %q", got.Receipt, want.Receipt))
	}
	if got.ReceiptSize != want.ReceiptSize {
		d = append(d, fmt.Sprintf("ReceiptSize %d, want %d", got.ReceiptSize, want.ReceiptSize))
	}
	if got.EpochFrom != want.EpochFrom {
		d = append(d, fmt.Sprintf("EpochFrom %d, want %d", got.EpochFrom, want.EpochFrom))
	}
	return strings.Join(d, "; ")
}

func checkLog(t *testing.T, s store.Store, want record.Log) {
	t.Helper()
	got := getLog(t, s, want.Channel, want.Author)
	if d := diffLog(*got, want); d != "" {
		t.Errorf("log %s/%s: %s", want.Channel, want.Author, d)
	}
}

func diffPeer(got, want record.Peer) string {
	var d []string
	if got.Name != want.Name || got.Party != want.Party || got.Fingerprint != want.Fingerprint {
		d = append(d, fmt.Sprintf("peer %s/%s/%s, want %s/%s/%s", got.Name, got.Party, got.Fingerprint, want.Name, want.Party, want.Fingerprint))
	}
	if !bytes.Equal(got.Card, want.Card) {
		d = append(d, fmt.Sprintf("Card %q, want %q", got.Card, want.Card))
	}
	if !sameTime(got.AddedAt, want.AddedAt) {
		d = append(d, fmt.Sprintf("AddedAt %s, want %s", showTime(got.AddedAt), showTime(want.AddedAt)))
	}
	return strings.Join(d, "; ")
}

func checkPeers(t *testing.T, got, want []record.Peer) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d peers %v, want %d", len(got), got, len(want))
		return
	}
	for i := range want {
		if d := diffPeer(got[i], want[i]); d != "" {
			t.Errorf("peer %d: %s", i, d)
		}
	}
}

func diffChannel(got, want record.Channel) string {
	var d []string
	if got.ID != want.ID || got.Peer != want.Peer || got.Level != want.Level || got.State != want.State || got.Proposer != want.Proposer {
		d = append(d, fmt.Sprintf("channel id=%s peer=%s level=%s state=%s proposer=%s, want id=%s peer=%s level=%s state=%s proposer=%s",
			got.ID, got.Peer, got.Level, got.State, got.Proposer, want.ID, want.Peer, want.Level, want.State, want.Proposer))
	}
	if !bytes.Equal(got.Charter, want.Charter) {
		d = append(d, fmt.Sprintf("Charter %q, want %q", got.Charter, want.Charter))
	}
	if !sameTime(got.CreatedAt, want.CreatedAt) {
		d = append(d, fmt.Sprintf("CreatedAt %s, want %s", showTime(got.CreatedAt), showTime(want.CreatedAt)))
	}
	if !sameTime(got.UpdatedAt, want.UpdatedAt) {
		d = append(d, fmt.Sprintf("UpdatedAt %s, want %s", showTime(got.UpdatedAt), showTime(want.UpdatedAt)))
	}
	if sd := diffSuspensions(got.Suspensions, want.Suspensions); sd != "" {
		d = append(d, sd)
	}
	if got.LastCheck != want.LastCheck || !sameTime(got.LastCheckAt, want.LastCheckAt) {
		d = append(d, fmt.Sprintf("LastCheck %d at %s, want %d at %s", got.LastCheck, showTime(got.LastCheckAt), want.LastCheck, showTime(want.LastCheckAt)))
	}
	return strings.Join(d, "; ")
}

func showSuspensions(ss []record.Suspension) string {
	out := make([]string, len(ss))
	for i, x := range ss {
		out[i] = fmt.Sprintf("{%s/%d %q at %s}", x.By, x.Index, x.Reason, showTime(x.At))
	}
	return "[" + strings.Join(out, " ") + "]"
}

// diffSuspensions compares two lists of suspensions, in order; nil and
// empty are the same.
func diffSuspensions(got, want []record.Suspension) string {
	same := len(got) == len(want)
	for i := 0; same && i < len(want); i++ {
		g, w := got[i], want[i]
		same = g.By == w.By && g.Index == w.Index && g.Reason == w.Reason && sameTime(g.At, w.At)
	}
	if same {
		return ""
	}
	return fmt.Sprintf("Suspensions %s, want %s", showSuspensions(got), showSuspensions(want))
}

func checkChannels(t *testing.T, got, want []record.Channel) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d channels, want %d", len(got), len(want))
		return
	}
	for i := range want {
		if d := diffChannel(got[i], want[i]); d != "" {
			t.Errorf("channel %d: %s", i, d)
		}
	}
}

func diffAck(got, want *record.Ack) string {
	switch {
	case got == nil && want == nil:
		return ""
	case got == nil:
		return fmt.Sprintf("no ack, want %+v", *want)
	case want == nil:
		return fmt.Sprintf("ack %+v, want none", *got)
	}
	var d []string
	if got.Channel != want.Channel || got.Author != want.Author || got.Index != want.Index ||
		got.AckAuthor != want.AckAuthor || got.AckIndex != want.AckIndex || got.By != want.By {
		d = append(d, fmt.Sprintf("ack %s/%s/%d by %s/%d (%s), want %s/%s/%d by %s/%d (%s)",
			got.Channel, got.Author, got.Index, got.AckAuthor, got.AckIndex, got.By,
			want.Channel, want.Author, want.Index, want.AckAuthor, want.AckIndex, want.By))
	}
	if !sameTime(got.At, want.At) {
		d = append(d, fmt.Sprintf("ack At %s, want %s", showTime(got.At), showTime(want.At)))
	}
	return strings.Join(d, "; ")
}

func showEscalation(x record.Escalation) string {
	return fmt.Sprintf("%s/%s/%d step %d at %s detail %q", x.Channel, x.Author, x.Index, x.Step, showTime(x.At), x.Detail)
}

// checkEscalations compares got with want, in order, field by field.
func checkEscalations(t *testing.T, what string, got, want []record.Escalation) {
	t.Helper()
	same := len(got) == len(want)
	for i := 0; same && i < len(want); i++ {
		g, w := got[i], want[i]
		same = g.Channel == w.Channel && g.Author == w.Author && g.Index == w.Index && g.Step == w.Step &&
			g.Detail == w.Detail && sameTime(g.At, w.At)
	}
	if same {
		return
	}
	show := func(xs []record.Escalation) string {
		var b strings.Builder
		for _, x := range xs {
			b.WriteString("\n\t" + showEscalation(x))
		}
		return b.String()
	}
	t.Errorf("%s: got %d escalations:%s\nwant %d:%s", what, len(got), show(got), len(want), show(want))
}

// dump renders everything a store holds that the interface can reach, so
// that two states can be compared. self is the station's name for Load.
// outstanding is what a snapshot gives of the entries that wait, whether
// whole (Outstanding) or one at a time (EachOutstanding).
func outstanding(t *testing.T, snap *record.Snapshot) []record.Waiting {
	t.Helper()
	if snap.EachOutstanding == nil {
		return snap.Outstanding
	}
	if len(snap.Outstanding) > 0 {
		t.Errorf("a snapshot gives both Outstanding (%d) and EachOutstanding", len(snap.Outstanding))
	}
	var out []record.Waiting
	if err := snap.EachOutstanding(func(w *record.Waiting) { out = append(out, *w) }); err != nil {
		t.Fatalf("EachOutstanding: %v", err)
	}
	return out
}

func dump(t *testing.T, s store.Store, self string) string {
	t.Helper()
	ctx := t.Context()
	var b strings.Builder
	peers, err := s.Peers(ctx)
	if err != nil {
		t.Fatalf("Peers: %v", err)
	}
	for _, p := range peers {
		fmt.Fprintf(&b, "peer %s party=%s card=%s fp=%s added=%s\n", p.Name, p.Party, short(p.Card), p.Fingerprint, showTime(p.AddedAt))
	}
	chans, err := s.Channels(ctx)
	if err != nil {
		t.Fatalf("Channels: %v", err)
	}
	for _, c := range chans {
		fmt.Fprintf(&b, "channel %s peer=%s level=%s state=%s proposer=%s charter=%s created=%s updated=%s suspensions=%s last_check=%d/%s\n",
			c.ID, c.Peer, c.Level, c.State, c.Proposer, short(c.Charter), showTime(c.CreatedAt), showTime(c.UpdatedAt),
			showSuspensions(c.Suspensions), c.LastCheck, showTime(c.LastCheckAt))
		st := checkStats(t, s, c.ID, self, time.Time{})
		fmt.Fprintf(&b, "checkstats %s %+v\n", c.ID, st)
	}
	snap, err := s.Load(ctx, self)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	logs := slices.Clone(snap.Logs)
	sort.Slice(logs, func(i, j int) bool {
		return logs[i].Channel < logs[j].Channel || logs[i].Channel == logs[j].Channel && logs[i].Author < logs[j].Author
	})
	for _, l := range logs {
		fmt.Fprintf(&b, "log %s/%s size=%d hashes=%x checkpoint=%s receipt=%s receipt_size=%d\n",
			l.Channel, l.Author, l.Size, l.Hashes, short(l.Checkpoint), short(l.Receipt), l.ReceiptSize)
	}
	fmt.Fprintf(&b, "undelivered %v\n", ids(snap.Undelivered))
	fmt.Fprintf(&b, "outstanding %v\n", waitingIDs(outstanding(t, snap)))
	for _, x := range escalations(t, s, "") {
		fmt.Fprintf(&b, "escalation %s\n", showEscalation(x))
	}
	for _, m := range messages(t, s, store.Query{}) {
		fmt.Fprintf(&b, "entry %s kind=%v prec=%v sent=%s stored=%s raw=%s body=%s root=%x delivered=%v",
			m.ID(), m.Kind, m.Precedence, showTime(m.SenderTime), showTime(m.StoredAt), short(m.Raw), short(m.Body), m.Root, m.Delivered)
		if m.Ack != nil {
			fmt.Fprintf(&b, " ack=%s/%d by=%s at=%s", m.Ack.AckAuthor, m.Ack.AckIndex, m.Ack.By, showTime(m.Ack.At))
		}
		b.WriteString("\n")
	}
	alerts, err := s.Alerts(ctx, 0)
	if err != nil {
		t.Fatalf("Alerts: %v", err)
	}
	for _, a := range alerts {
		fmt.Fprintf(&b, "alert %d at=%s level=%s channel=%s peer=%s text=%q format=%q args=%q\n", a.ID, showTime(a.At), a.Level, a.Channel, a.Peer, a.Text, a.Format, a.Args)
	}
	return b.String()
}

// sameDump fails the test if the store's state differs from before.
func sameDump(t *testing.T, what, got, want string) {
	t.Helper()
	if got == want {
		return
	}
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
	t.Errorf("%s: state changed (+ now, - before):\n%s", what, strings.Join(d, "\n"))
}

// ---------------------------------------------------------------------------
// Tests.

func testEmpty(t *testing.T, w *world, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	if err := s.Apply(ctx, &record.Batch{}); err != nil {
		t.Fatalf("Apply(empty batch) = %v, want nil", err)
	}
	snap, err := s.Load(ctx, "alpha")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if n := len(snap.Peers) + len(snap.Channels) + len(snap.Logs) + len(snap.Undelivered) + len(outstanding(t, snap)) + len(snap.Escalations); n != 0 {
		t.Errorf("Load of an empty store = %+v, want nothing", snap)
	}
	if xs, err := s.Escalations(ctx, ""); err != nil || len(xs) != 0 {
		t.Errorf("Escalations = %v, %v; want none", xs, err)
	}
	if st, err := s.CheckStats(ctx, "ch", "alpha", time.Time{}); err != nil || st == nil || *st != (store.CheckStats{}) {
		t.Errorf("CheckStats = %+v, %v; want zeros", st, err)
	}
	if ps, err := s.Peers(ctx); err != nil || len(ps) != 0 {
		t.Errorf("Peers = %v, %v; want none", ps, err)
	}
	if cs, err := s.Channels(ctx); err != nil || len(cs) != 0 {
		t.Errorf("Channels = %v, %v; want none", cs, err)
	}
	if as, err := s.Alerts(ctx, 0); err != nil || len(as) != 0 {
		t.Errorf("Alerts = %v, %v; want none", as, err)
	}
	if ms := messages(t, s, store.Query{}); len(ms) != 0 {
		t.Errorf("Messages = %v, want none", msgIDs(ms))
	}
	if es := entries(t, s, "ch", "alpha", 1, 10); len(es) != 0 {
		t.Errorf("Entries = %v, want none", ids(es))
	}
	if l, err := s.Log(ctx, "ch", "alpha"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Log of a missing log = %+v, %v; want an error wrapping store.ErrNotFound", l, err)
	}
}

func testPeersAndChannels(t *testing.T, w *world, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	// Apply out of order: the store sorts.
	pc, pa, pb := w.charlie.peer(at(3)), w.alpha.peer(at(1)), w.bravo.peer(at(2))
	apply(t, s, &record.Batch{Peers: []record.Peer{pc, pb}})
	apply(t, s, &record.Batch{Peers: []record.Peer{pa}})
	peers, err := s.Peers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkPeers(t, peers, []record.Peer{pa, pb, pc})

	// Re-pinning the same peer is harmless.
	apply(t, s, &record.Batch{Peers: []record.Peer{pb}})
	peers, err = s.Peers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkPeers(t, peers, []record.Peer{pa, pb, pc})

	cz := w.channel(t, "zulu-ops", w.alpha, w.charlie, record.ProposedOut, at(10), at(10))
	cm := w.channel(t, "mike", w.bravo, w.bravo, record.ProposedIn, at(11), at(11))
	ca := w.channel(t, "a-line", w.alpha, w.bravo, record.Active, at(12), at(13))
	apply(t, s, &record.Batch{Channels: []record.Channel{cz, cm}})
	apply(t, s, &record.Batch{Channels: []record.Channel{ca}})
	chans, err := s.Channels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkChannels(t, chans, []record.Channel{ca, cm, cz})

	// The channel is agreed: a second record for it updates state, charter
	// and update time.
	cz2 := w.channel(t, "zulu-ops", w.alpha, w.charlie, record.Active, at(10), at(20))
	if bytes.Equal(cz2.Charter, cz.Charter) {
		t.Fatal("test bug: charters should differ")
	}
	apply(t, s, &record.Batch{Channels: []record.Channel{cz2}})
	chans, err = s.Channels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkChannels(t, chans, []record.Channel{ca, cm, cz2})

	snap, err := s.Load(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	checkPeers(t, snap.Peers, []record.Peer{pa, pb, pc})
	checkChannels(t, snap.Channels, []record.Channel{ca, cm, cz2})
}

// seed stores a small but complete state for alpha talking to bravo on
// channel "ops": both logs, a receipt, an ack, an alert.
type seeded struct {
	mine, theirs *logBuilder
	ch           record.Channel
}

func seed(t *testing.T, w *world, s store.Store) *seeded {
	t.Helper()
	sd := &seeded{mine: newLog(t, "ops", w.alpha, w.bravo), theirs: newLog(t, "ops", w.bravo, w.alpha)}
	sd.ch = w.channel(t, "ops", w.alpha, w.bravo, record.ProposedOut, at(1), at(1))
	b := &record.Batch{Peers: []record.Peer{w.bravo.peer(at(0))}, Channels: []record.Channel{sd.ch}}
	for i := range 3 {
		b.Entries = append(b.Entries, sd.mine.text(at(2+i)))
	}
	for i := range 2 {
		b.Entries = append(b.Entries, sd.theirs.text(at(5+i)))
	}
	b.Logs = []record.Log{sd.mine.record(3, nil), sd.theirs.record(2, sd.theirs.checkpoint(2))}
	b.Receipts = []record.Receipt{sd.mine.receipt(2)}
	b.Acks = []record.Ack{{Channel: "ops", Author: "bravo", Index: 1, AckAuthor: "alpha", AckIndex: 99, By: "op-alpha", At: at(7)}}
	b.Alerts = []record.Alert{{At: at(8), Level: "warning", Channel: "ops", Peer: "bravo", Text: "seeded"}}
	apply(t, s, b)
	return sd
}

// grow returns a valid batch that touches every kind of record on top of
// the seeded state.
func grow(t *testing.T, w *world, sd *seeded) *record.Batch {
	ch2 := w.channel(t, "ops", w.alpha, w.bravo, record.Active, at(1), at(30))
	ch2.Suspensions = []record.Suspension{{By: "bravo", Index: 4, Reason: "grown", At: at(30)}}
	ch2.LastCheck, ch2.LastCheckAt = 2, at(30)
	side := w.channel(t, "side", w.charlie, w.charlie, record.ProposedIn, at(31), at(31))
	b := &record.Batch{
		Peers:    []record.Peer{w.charlie.peer(at(30))},
		Channels: []record.Channel{ch2, side},
	}
	b.Entries = append(b.Entries, sd.mine.text(at(32)), sd.mine.text(at(33)), sd.theirs.text(at(34)))
	b.Logs = []record.Log{sd.mine.record(5, sd.mine.checkpoint(5)), sd.theirs.record(3, sd.theirs.checkpoint(3))}
	b.Receipts = []record.Receipt{sd.mine.receipt(4)}
	b.Acks = []record.Ack{{Channel: "ops", Author: "bravo", Index: 2, AckAuthor: "alpha", AckIndex: 100, By: "op-alpha", At: at(35)}}
	b.Alerts = []record.Alert{{At: at(36), Level: "alarm", Channel: "ops", Peer: "bravo", Text: "grown"}}
	b.Escalations = []record.Escalation{{Channel: "ops", Author: "alpha", Index: 3, Step: record.StepUndelivered, At: at(37), Detail: "grown"}}
	b.Probes = []record.ProbeStat{{Channel: "ops", Hour: base.Truncate(time.Hour), Sent: 2, Answered: 1, RTT: 40 * time.Millisecond}}
	return b
}

func testAtomicOnConflict(t *testing.T, w *world, open func(t *testing.T) store.Store) {
	// The conflicting entry first, in the middle and last in the batch:
	// whichever order an engine writes in, nothing of the batch may stay.
	for _, pos := range []string{"first", "middle", "last"} {
		t.Run(pos, func(t *testing.T) {
			s := open(t)
			sd := seed(t, w, s)
			before := dump(t, s, "alpha")

			good := grow(t, w, sd)
			bad := *good
			bad.Entries = slices.Clone(good.Entries)
			forged := sd.mine.forged(2)
			switch pos {
			case "first":
				bad.Entries = slices.Insert(bad.Entries, 0, forged)
			case "middle":
				bad.Entries = slices.Insert(bad.Entries, 1, forged)
			default:
				bad.Entries = append(bad.Entries, forged)
			}
			err := s.Apply(t.Context(), &bad)
			if !errors.Is(err, store.ErrConflict) {
				t.Fatalf("Apply(batch with a conflicting entry) = %v, want an error wrapping store.ErrConflict", err)
			}
			sameDump(t, "after the failed batch", dump(t, s, "alpha"), before)
			if es := entries(t, s, "ops", "alpha", 2, 2); len(es) != 1 || !bytes.Equal(es[0].Raw, sd.mine.entries[1].Raw) {
				t.Errorf("entry ops/alpha/2 was changed by a failed batch")
			}

			// The same batch without the forged entry is valid, and applies.
			apply(t, s, good)
			after := dump(t, s, "alpha")
			for _, want := range []string{"peer charlie", "channel side", "ops/alpha/5", "ops/bravo/3", `text="grown"`, "receipt_size=4",
				`suspensions=[{bravo/4 "grown"`, "last_check=2/", "escalation ops/alpha/3 step 1", "Probes:2 ProbesAnswered:1"} {
				if !strings.Contains(after, want) {
					t.Errorf("after the valid batch, state has no %q:\n%s", want, after)
				}
			}
		})
	}
}

func testAtomicOnMissingPeer(t *testing.T, w *world, open func(t *testing.T) store.Store) {
	s := open(t)
	sd := seed(t, w, s)
	before := dump(t, s, "alpha")

	good := grow(t, w, sd)
	orphan := w.channel(t, "orphan", w.alpha, &station{keys: &identity.Keys{Name: "nobody"}}, record.ProposedOut, at(40), at(40))
	bad := *good
	bad.Channels = append(slices.Clone(good.Channels), orphan)
	if err := s.Apply(t.Context(), &bad); err == nil {
		t.Fatal("Apply(channel whose peer is not stored) = nil, want an error")
	}
	sameDump(t, "after the failed batch", dump(t, s, "alpha"), before)

	// With the peer in the batch, the same channel is accepted.
	good.Peers = append(good.Peers, record.Peer{Name: "nobody", Party: "none", Card: []byte("card"), Fingerprint: "fp", AddedAt: at(40)})
	good.Channels = append(good.Channels, orphan)
	apply(t, s, good)
	chans, err := s.Channels(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := len(chans); got != 3 {
		t.Errorf("after the valid batch: %d channels, want 3", got)
	}
}

func testEntryIdempotent(t *testing.T, w *world, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	l := newLog(t, "ops", w.alpha, w.bravo)
	b := &record.Batch{}
	for i := range 3 {
		b.Entries = append(b.Entries, l.text(at(i)))
	}
	b.Logs = []record.Log{l.record(3, nil)}
	apply(t, s, b)
	before := dump(t, s, "alpha")

	// The same batch again, and one entry alone, change nothing.
	apply(t, s, b)
	apply(t, s, &record.Batch{Entries: []record.Entry{l.entries[1]}})
	sameDump(t, "after re-applying the same entries", dump(t, s, "alpha"), before)

	// The same bytes again with a later local time: the stored entry stays.
	again := l.entries[1]
	again.StoredAt = at(100)
	apply(t, s, &record.Batch{Entries: []record.Entry{again}})
	checkEntries(t, "after re-receiving entry 2", entries(t, s, "ops", "alpha", 1, 3), l.entries)

	// Different bytes at a stored position.
	forged := l.forged(2)
	err := s.Apply(ctx, &record.Batch{Entries: []record.Entry{forged}})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Apply(different bytes at ops/alpha/2) = %v, want an error wrapping store.ErrConflict", err)
	}
	checkEntries(t, "after the conflict", entries(t, s, "ops", "alpha", 1, 3), l.entries)

	// Two different entries for one new position in one batch.
	e4 := l.text(at(4))
	f4 := l.forged(4)
	err = s.Apply(ctx, &record.Batch{Entries: []record.Entry{e4, f4}})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Apply(two different entries at ops/alpha/4 in one batch) = %v, want an error wrapping store.ErrConflict", err)
	}
	if es := entries(t, s, "ops", "alpha", 4, 4); len(es) != 0 {
		t.Errorf("after the failed batch, ops/alpha/4 is stored: %v", ids(es))
	}
	sameDump(t, "after the failed batches", dump(t, s, "alpha"), before)

	// The same position in another log, or another channel, is no conflict.
	other := newLog(t, "ops", w.bravo, w.alpha)
	elsewhere := newLog(t, "side", w.alpha, w.bravo)
	apply(t, s, &record.Batch{Entries: []record.Entry{other.text(at(5)), elsewhere.text(at(6))}})
	if got := len(messages(t, s, store.Query{})); got != 5 {
		t.Errorf("after storing index 1 of two other logs: %d messages, want 5", got)
	}
}

func testLogUpsert(t *testing.T, w *world, open func(t *testing.T) store.Store) {
	s := open(t)
	l := newLog(t, "ops", w.bravo, w.alpha)
	for i := range 7 {
		l.text(at(i))
	}
	// Sizes 3, 4 and 7 have compact ranges of 2, 1 and 3 hashes.
	if len(l.hashes[3]) != 2 || len(l.hashes[4]) != 1 || len(l.hashes[7]) != 3 {
		t.Fatalf("test bug: hash counts %d %d %d", len(l.hashes[3]), len(l.hashes[4]), len(l.hashes[7]))
	}

	// An empty log: no hashes.
	apply(t, s, &record.Batch{Logs: []record.Log{l.record(0, nil)}})
	checkLog(t, s, l.record(0, nil))

	cp3 := l.checkpoint(3)
	apply(t, s, &record.Batch{Logs: []record.Log{l.record(3, cp3)}})
	checkLog(t, s, l.record(3, cp3))

	// A later record without a checkpoint keeps the stored one.
	apply(t, s, &record.Batch{Logs: []record.Log{l.record(4, nil)}})
	checkLog(t, s, l.record(4, cp3))

	// A later record with a checkpoint replaces it.
	cp7 := l.checkpoint(7)
	apply(t, s, &record.Batch{Logs: []record.Log{l.record(7, cp7)}})
	checkLog(t, s, l.record(7, cp7))

	// Where the key epoch of a peer's log began is kept like the
	// checkpoint: a record with 0 keeps the stored index, a record with
	// one replaces it; Load returns the entry at that index.
	withEpoch := func(l record.Log, from uint64) record.Log { l.EpochFrom = from; return l }
	apply(t, s, &record.Batch{Entries: l.entries})
	apply(t, s, &record.Batch{Logs: []record.Log{withEpoch(l.record(7, nil), 2)}})
	checkLog(t, s, withEpoch(l.record(7, cp7), 2))
	apply(t, s, &record.Batch{Logs: []record.Log{l.record(7, nil)}})
	checkLog(t, s, withEpoch(l.record(7, cp7), 2))
	apply(t, s, &record.Batch{Logs: []record.Log{withEpoch(l.record(7, nil), 6)}})
	checkLog(t, s, withEpoch(l.record(7, cp7), 6))
	if snap, err := s.Load(t.Context(), "alpha"); err != nil {
		t.Fatal(err)
	} else if len(snap.EpochEntries) != 1 || snap.EpochEntries[0].ID() != "ops/bravo/6" || !bytes.Equal(snap.EpochEntries[0].Raw, l.entries[5].Raw) {
		t.Errorf("Load: epoch entries %d, want ops/bravo/6", len(snap.EpochEntries))
	}

	// The stored compact range restores the tree exactly.
	got := getLog(t, s, "ops", "bravo")
	tree, err := transcript.TreeFromHashes(got.Size, got.Hashes)
	if err != nil {
		t.Fatalf("restoring the stored tree: %v", err)
	}
	if !bytes.Equal(tree.Root(), l.root(7)) {
		t.Errorf("restored root %x, want %x", tree.Root(), l.root(7))
	}

	// Logs are keyed by channel and author.
	mine := newLog(t, "ops", w.alpha, w.bravo)
	mine.text(at(10))
	apply(t, s, &record.Batch{Logs: []record.Log{mine.record(1, nil)}})
	checkLog(t, s, mine.record(1, nil))
	checkLog(t, s, withEpoch(l.record(7, cp7), 6))
	if _, err := s.Log(t.Context(), "side", "bravo"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Log(side, bravo) error = %v, want store.ErrNotFound", err)
	}

	// Size and hashes never touch the receipt.
	r := mine.receipt(1)
	apply(t, s, &record.Batch{Receipts: []record.Receipt{r}})
	mine.text(at(11))
	apply(t, s, &record.Batch{Logs: []record.Log{mine.record(2, nil)}})
	want := mine.record(2, nil)
	want.Receipt, want.ReceiptSize = r.Note, 1
	checkLog(t, s, want)
}

func testReceipts(t *testing.T, w *world, open func(t *testing.T) store.Store) {
	s := open(t)
	l := newLog(t, "ops", w.alpha, w.bravo)
	var es []record.Entry
	for i := range 6 {
		es = append(es, l.text(at(i)))
	}
	// A receipt for a log with no row yet creates it.
	r3 := l.receipt(3)
	apply(t, s, &record.Batch{Receipts: []record.Receipt{r3}})
	checkLog(t, s, record.Log{Channel: "ops", Author: "alpha", Size: 0, Hashes: nil, Receipt: r3.Note, ReceiptSize: 3})

	// The log record keeps the receipt.
	apply(t, s, &record.Batch{Entries: es, Logs: []record.Log{l.record(6, nil)}})
	want := l.record(6, nil)
	want.Receipt, want.ReceiptSize = r3.Note, 3
	checkLog(t, s, want)

	// An older receipt arriving late does not move the receipt back.
	apply(t, s, &record.Batch{Receipts: []record.Receipt{l.receipt(2)}})
	checkLog(t, s, want)

	// A newer one moves it forward.
	r5 := l.receipt(5)
	apply(t, s, &record.Batch{Receipts: []record.Receipt{r5}})
	want.Receipt, want.ReceiptSize = r5.Note, 5
	checkLog(t, s, want)

	// Delivery follows the receipt.
	ms := messages(t, s, store.Query{Channel: "ops", Author: "alpha"})
	if len(ms) != 6 {
		t.Fatalf("%d messages stored, want 6", len(ms))
	}
	for _, m := range ms {
		if got, want := m.Delivered, m.Index <= 5; got != want {
			t.Errorf("%s: Delivered = %v, want %v", m.ID(), got, want)
		}
	}

	// A disowned receipt (its cosigning key revoked) is rewound: the
	// receipt goes, and what it covered is undelivered again, on disk
	// and in the snapshot a station resumes from.
	apply(t, s, &record.Batch{Receipts: []record.Receipt{{Channel: "ops", Author: "alpha", Size: 0, Note: []byte{}, Rewind: true}}})
	want.Receipt, want.ReceiptSize = []byte{}, 0
	checkLog(t, s, want)
	for _, m := range messages(t, s, store.Query{Channel: "ops", Author: "alpha"}) {
		if m.Delivered {
			t.Errorf("%s: delivered after the rewind", m.ID())
		}
	}
	snap, err := s.Load(t.Context(), "alpha")
	if err != nil {
		t.Fatal(err)
	}
	undelivered := 0
	for _, e := range snap.Undelivered {
		if e.Channel == "ops" && e.Author == "alpha" {
			undelivered++
		}
	}
	if undelivered != 6 {
		t.Errorf("after the rewind the snapshot holds %d undelivered entries, want 6", undelivered)
	}
}

func testMergedBatch(t *testing.T, w *world, open func(t *testing.T) store.Store) {
	s := open(t)
	mine := newLog(t, "ops", w.alpha, w.bravo)
	theirs := newLog(t, "ops", w.bravo, w.alpha)
	proposed := w.channel(t, "ops", w.alpha, w.bravo, record.ProposedOut, at(0), at(0))
	active := w.channel(t, "ops", w.alpha, w.bravo, record.Active, at(0), at(5))

	// Three steps of the core, merged into one batch as the station does.
	step1 := &record.Batch{Peers: []record.Peer{w.bravo.peer(at(0))}, Channels: []record.Channel{proposed},
		Entries: []record.Entry{mine.text(at(1))}, Logs: []record.Log{mine.record(1, nil)}}
	cp1 := mine.checkpoint(1)
	step2 := &record.Batch{Channels: []record.Channel{active}, Entries: []record.Entry{mine.text(at(2)), theirs.text(at(2))},
		Logs: []record.Log{mine.record(2, cp1), theirs.record(1, theirs.checkpoint(1))}}
	ack1 := record.Ack{Channel: "ops", Author: "bravo", Index: 1, AckAuthor: "alpha", AckIndex: 3, By: "first", At: at(3)}
	ack2 := record.Ack{Channel: "ops", Author: "bravo", Index: 1, AckAuthor: "alpha", AckIndex: 4, By: "second", At: at(4)}
	r2, r1 := mine.receipt(2), mine.receipt(1)
	step3 := &record.Batch{Entries: []record.Entry{mine.add(envelope.Ack, envelope.Flash, at(3), "ack")},
		Logs: []record.Log{mine.record(3, nil)}, Receipts: []record.Receipt{r2, r1}, Acks: []record.Ack{ack1, ack2},
		Alerts: []record.Alert{{At: at(3), Level: "warning", Channel: "ops", Peer: "bravo", Text: "late receipt"}}}
	b := &record.Batch{}
	for _, st := range []*record.Batch{step1, step2, step3} {
		b.Merge(st)
	}
	apply(t, s, b)

	chans, err := s.Channels(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	checkChannels(t, chans, []record.Channel{active})
	want := mine.record(3, cp1)
	want.Receipt, want.ReceiptSize = r2.Note, 2
	checkLog(t, s, want)
	checkLog(t, s, theirs.record(1, theirs.checkpoint(1)))
	ms := messages(t, s, store.Query{Channel: "ops", Author: "bravo"})
	if len(ms) != 1 {
		t.Fatalf("Messages(ops/bravo) = %v, want one", msgIDs(ms))
	}
	if d := diffAck(ms[0].Ack, &ack1); d != "" {
		t.Errorf("ack of ops/bravo/1 after two in one batch: %s", d)
	}
	checkEntries(t, "ops/alpha", entries(t, s, "ops", "alpha", 1, 3), mine.entries)
}

func testLoad(t *testing.T, w *world, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	peers := []record.Peer{w.bravo.peer(at(0)), w.charlie.peer(at(0))}
	chans := []record.Channel{
		w.channel(t, "a-ops", w.alpha, w.bravo, record.Active, at(1), at(2)),
		w.channel(t, "b-ops", w.bravo, w.bravo, record.Active, at(1), at(2)),
		w.channel(t, "c-ops", w.alpha, w.charlie, record.Active, at(1), at(2)),
	}
	apply(t, s, &record.Batch{Peers: peers, Channels: chans})

	// a-ops: alpha has 5 entries, 2 receipted. bravo has 4, none receipted.
	// b-ops: alpha has 3, all receipted.
	// c-ops: alpha has 2, no receipt at all. charlie has 1.
	// d-ops: only bravo's log, with a receipt from alpha.
	aMine, aTheirs := newLog(t, "a-ops", w.alpha, w.bravo), newLog(t, "a-ops", w.bravo, w.alpha)
	bMine := newLog(t, "b-ops", w.alpha, w.bravo)
	cMine, cTheirs := newLog(t, "c-ops", w.alpha, w.charlie), newLog(t, "c-ops", w.charlie, w.alpha)
	dTheirs := newLog(t, "d-ops", w.bravo, w.alpha)
	n := 10
	step := func(l *logBuilder, k int) {
		b := &record.Batch{}
		for range k {
			n++
			b.Entries = append(b.Entries, l.text(at(n)))
		}
		b.Logs = []record.Log{l.record(l.size(), nil)}
		apply(t, s, b)
	}
	step(aMine, 2)
	step(aTheirs, 3)
	step(cTheirs, 1)
	step(aMine, 3)
	step(bMine, 3)
	step(cMine, 2)
	step(aTheirs, 1)
	step(dTheirs, 2)
	apply(t, s, &record.Batch{Receipts: []record.Receipt{aMine.receipt(2), bMine.receipt(3), dTheirs.receipt(1)}})

	snap, err := s.Load(ctx, "alpha")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	checkPeers(t, snap.Peers, peers)
	checkChannels(t, snap.Channels, chans)

	wantLogs := map[string]record.Log{}
	for _, l := range []*logBuilder{aMine, aTheirs, bMine, cMine, cTheirs, dTheirs} {
		wantLogs[l.channel+"/"+l.author.name()] = l.record(l.size(), nil)
	}
	setReceipt := func(l *logBuilder, n uint64) {
		k := l.channel + "/" + l.author.name()
		r := wantLogs[k]
		r.Receipt, r.ReceiptSize = l.receipt(n).Note, n
		wantLogs[k] = r
	}
	setReceipt(aMine, 2)
	setReceipt(bMine, 3)
	setReceipt(dTheirs, 1)
	if len(snap.Logs) != len(wantLogs) {
		t.Errorf("Load: %d logs, want %d", len(snap.Logs), len(wantLogs))
	}
	seen := map[string]bool{}
	for _, got := range snap.Logs {
		k := got.Channel + "/" + got.Author
		want, ok := wantLogs[k]
		if !ok || seen[k] {
			t.Errorf("Load: unexpected or repeated log %s", k)
			continue
		}
		seen[k] = true
		if d := diffLog(got, want); d != "" {
			t.Errorf("Load: log %s: %s", k, d)
		}
	}

	// Undelivered: alpha's entries past each receipt, each log in index
	// order; nothing of bravo's or charlie's.
	want := map[string][]record.Entry{
		"a-ops": aMine.entries[2:],
		"c-ops": cMine.entries,
	}
	got := map[string][]record.Entry{}
	for _, e := range snap.Undelivered {
		if e.Author != "alpha" {
			t.Errorf("Load: undelivered entry %s is not alpha's", e.ID())
			continue
		}
		got[e.Channel] = append(got[e.Channel], e)
	}
	if len(got) != len(want) {
		t.Errorf("Load: undelivered entries %v, want those of a-ops and c-ops", ids(snap.Undelivered))
	}
	for ch, es := range want {
		checkEntries(t, "Load: undelivered of "+ch, got[ch], es)
	}

	// The same store loaded as bravo: bravo's logs past their receipts.
	snap, err = s.Load(ctx, "bravo")
	if err != nil {
		t.Fatalf("Load(bravo): %v", err)
	}
	wantIDs := append(ids(aTheirs.entries), ids(dTheirs.entries[1:])...)
	gotIDs := ids(snap.Undelivered)
	sort.Strings(wantIDs)
	sort.Strings(gotIDs)
	if !slices.Equal(gotIDs, wantIDs) {
		t.Errorf("Load(bravo): undelivered %v, want %v", gotIDs, wantIDs)
	}
}

func testEntries(t *testing.T, w *world, open func(t *testing.T) store.Store) {
	s := open(t)
	l := newLog(t, "ops", w.alpha, w.bravo)
	theirs := newLog(t, "ops", w.bravo, w.alpha)
	side := newLog(t, "side", w.alpha, w.bravo)
	b := &record.Batch{}
	for i := range 6 {
		b.Entries = append(b.Entries, l.add(envelope.Kind(1+i%2), envelope.Precedences[i%4], at(i), fmt.Sprintf("m%d", i)))
		b.Entries = append(b.Entries, theirs.text(at(i)), side.text(at(i)))
	}
	// Apply in reverse: the store orders by index, not by arrival.
	slices.Reverse(b.Entries)
	apply(t, s, b)

	for _, c := range []struct{ from, to uint64 }{{1, 6}, {2, 4}, {3, 3}, {5, 9}, {0, 2}} {
		lo, hi := max(c.from, 1), min(c.to, 6)
		checkEntries(t, fmt.Sprintf("Entries(%d, %d)", c.from, c.to), entries(t, s, "ops", "alpha", c.from, c.to), l.entries[lo-1:hi])
	}
	// "To the end of the log".
	checkEntries(t, "Entries(4, MaxUint64)", entries(t, s, "ops", "alpha", 4, math.MaxUint64), l.entries[3:])
	for _, c := range []struct{ from, to uint64 }{{4, 3}, {7, 10}, {math.MaxUint64, math.MaxUint64}} {
		if es := entries(t, s, "ops", "alpha", c.from, c.to); len(es) != 0 {
			t.Errorf("Entries(%d, %d) = %v, want none", c.from, c.to, ids(es))
		}
	}
	checkEntries(t, "Entries(ops, bravo)", entries(t, s, "ops", "bravo", 1, 6), theirs.entries)
	checkEntries(t, "Entries(side, alpha)", entries(t, s, "side", "alpha", 2, 3), side.entries[1:3])
	if es := entries(t, s, "side", "bravo", 1, 6); len(es) != 0 {
		t.Errorf("Entries(side, bravo) = %v, want none", ids(es))
	}
}

func testMessages(t *testing.T, w *world, open func(t *testing.T) store.Store) {
	s := open(t)
	apply(t, s, &record.Batch{Peers: []record.Peer{w.bravo.peer(at(0))}, Channels: []record.Channel{
		w.channel(t, "ch-a", w.alpha, w.bravo, record.Active, at(0), at(0)),
		w.channel(t, "ch-b", w.bravo, w.bravo, record.Active, at(0), at(0)),
	}})
	aa, ab := newLog(t, "ch-a", w.alpha, w.bravo), newLog(t, "ch-a", w.bravo, w.alpha)
	ba, bb := newLog(t, "ch-b", w.alpha, w.bravo), newLog(t, "ch-b", w.bravo, w.alpha)

	// In the order they are stored (StoredAt increasing, the last two equal).
	all := []record.Entry{
		aa.add(envelope.Text, envelope.Routine, at(1), "a1"),     // ch-a/alpha/1
		ab.add(envelope.Text, envelope.Flash, at(2), "b1"),       // ch-a/bravo/1
		ba.add(envelope.Text, envelope.Priority, at(3), "a1'"),   // ch-b/alpha/1
		aa.add(envelope.Ack, envelope.Flash, at(4), "ack b1"),    // ch-a/alpha/2
		ab.add(envelope.Text, envelope.Immediate, at(5), "b2"),   // ch-a/bravo/2
		aa.add(envelope.Text, envelope.Routine, at(6), "a3"),     // ch-a/alpha/3
		bb.add(envelope.Text, envelope.Routine, at(7), "b1'"),    // ch-b/bravo/1
		ab.add(envelope.Ack, envelope.Routine, at(8), "ack a1"),  // ch-a/bravo/3
		ab.add(envelope.Text, envelope.Priority, at(8), "b4"),    // ch-a/bravo/4
		bb.add(envelope.Text, envelope.Routine, at(9), "b2'"),    // ch-b/bravo/2
		ba.add(envelope.Text, envelope.Immediate, at(10), "a2'"), // ch-b/alpha/2
	}
	ackA1 := record.Ack{Channel: "ch-a", Author: "alpha", Index: 1, AckAuthor: "bravo", AckIndex: 3, By: "op-bravo", At: at(8)}
	ackB1 := record.Ack{Channel: "ch-a", Author: "bravo", Index: 1, AckAuthor: "alpha", AckIndex: 2, By: "op-alpha", At: at(4)}
	// Three batches, entries shuffled within each.
	apply(t, s, &record.Batch{Entries: []record.Entry{all[3], all[0], all[2], all[1]}, Acks: []record.Ack{ackB1},
		Logs: []record.Log{aa.record(2, nil), ab.record(1, nil), ba.record(1, nil)}})
	apply(t, s, &record.Batch{Entries: []record.Entry{all[8], all[4], all[7], all[6], all[5]}, Acks: []record.Ack{ackA1},
		Receipts: []record.Receipt{aa.receipt(2)}})
	apply(t, s, &record.Batch{Entries: []record.Entry{all[10], all[9]}})
	// A second ack of the same entry keeps the first.
	dup := record.Ack{Channel: "ch-a", Author: "bravo", Index: 1, AckAuthor: "alpha", AckIndex: 77, By: "someone-else", At: at(20)}
	apply(t, s, &record.Batch{Acks: []record.Ack{dup}})

	// Everything, oldest first, with delivery and acks.
	ms := messages(t, s, store.Query{})
	if !slices.Equal(msgIDs(ms), ids(all)) {
		t.Fatalf("Messages({}) = %v, want %v", msgIDs(ms), ids(all))
	}
	for i, m := range ms {
		if d := diffEntry(m.Entry, all[i]); d != "" {
			t.Errorf("Messages({}): %s: %s", m.ID(), d)
		}
		wantDelivered := m.Channel == "ch-a" && m.Author == "alpha" && m.Index <= 2
		if m.Delivered != wantDelivered {
			t.Errorf("%s: Delivered = %v, want %v", m.ID(), m.Delivered, wantDelivered)
		}
		var wantAck *record.Ack
		switch m.ID() {
		case "ch-a/alpha/1":
			wantAck = &ackA1
		case "ch-a/bravo/1":
			wantAck = &ackB1
		}
		if d := diffAck(m.Ack, wantAck); d != "" {
			t.Errorf("%s: %s", m.ID(), d)
		}
	}

	pick := func(keep func(e record.Entry) bool) []string {
		var out []string
		for _, e := range all {
			if keep(e) {
				out = append(out, e.ID())
			}
		}
		return out
	}
	cases := []struct {
		q    store.Query
		want []string
	}{
		{store.Query{Channel: "ch-b"}, pick(func(e record.Entry) bool { return e.Channel == "ch-b" })},
		{store.Query{Author: "bravo"}, pick(func(e record.Entry) bool { return e.Author == "bravo" })},
		{store.Query{ExcludeAuthor: "bravo"}, pick(func(e record.Entry) bool { return e.Author != "bravo" })},
		{store.Query{Kind: envelope.Ack}, []string{"ch-a/alpha/2", "ch-a/bravo/3"}},
		{store.Query{Kind: envelope.Text, Channel: "ch-b"}, pick(func(e record.Entry) bool { return e.Channel == "ch-b" })},
		// An inbox and an outbox.
		{store.Query{Channel: "ch-a", ExcludeAuthor: "alpha", Kind: envelope.Text}, []string{"ch-a/bravo/1", "ch-a/bravo/2", "ch-a/bravo/4"}},
		{store.Query{Channel: "ch-a", Author: "alpha", Kind: envelope.Text}, []string{"ch-a/alpha/1", "ch-a/alpha/3"}},
		// Since, with channel and author.
		{store.Query{Channel: "ch-a", Author: "bravo", Since: 2}, []string{"ch-a/bravo/3", "ch-a/bravo/4"}},
		{store.Query{Channel: "ch-a", Author: "bravo", Since: 4}, nil},
		{store.Query{Channel: "ch-a", Author: "bravo", Since: 1, Limit: 1}, []string{"ch-a/bravo/2"}},
		{store.Query{Channel: "ch-a", Author: "bravo", Since: 1, Limit: 2, Kind: envelope.Text}, []string{"ch-a/bravo/2", "ch-a/bravo/4"}},
		// Limit.
		{store.Query{Limit: 3}, ids(all[:3])},
		{store.Query{Limit: 100}, ids(all)},
		{store.Query{ExcludeAuthor: "alpha", Limit: 2}, []string{"ch-a/bravo/1", "ch-a/bravo/2"}},
		// Nothing.
		{store.Query{Channel: "nope"}, nil},
		{store.Query{Author: "charlie"}, nil},
		{store.Query{Channel: "ch-b", Kind: envelope.Ack}, nil},
	}
	for _, c := range cases {
		if got := msgIDs(messages(t, s, c.q)); !slices.Equal(got, c.want) {
			t.Errorf("Messages(%+v) = %v, want %v", c.q, got, c.want)
		}
	}
	// Delivery and acks come with filtered queries too.
	for _, m := range messages(t, s, store.Query{Channel: "ch-a", Author: "alpha", Limit: 1}) {
		if !m.Delivered || diffAck(m.Ack, &ackA1) != "" {
			t.Errorf("Messages(ch-a, alpha, limit 1): %s delivered=%v ack=%+v, want delivered and acked", m.ID(), m.Delivered, m.Ack)
		}
	}
}

// testMessagesIndexOrder: within one log, index order is the order of the
// log. A query for one log (Channel and Author set) pages by index with
// Since and Limit, so it must list that log in index order even when the
// station's clock stepped back between two entries.
func testMessagesIndexOrder(t *testing.T, w *world, open func(t *testing.T) store.Store) {
	s := open(t)
	l := newLog(t, "ops", w.alpha, w.bravo)
	l.text(at(10))
	l.text(at(5)) // the clock stepped back
	l.text(at(6))
	l.text(at(6))
	apply(t, s, &record.Batch{Entries: l.entries, Logs: []record.Log{l.record(4, nil)}})
	q := store.Query{Channel: "ops", Author: "alpha"}
	if got := msgIDs(messages(t, s, q)); !slices.Equal(got, ids(l.entries)) {
		t.Errorf("Messages(%+v) = %v, want %v", q, got, ids(l.entries))
	}
	// The station finds one message by its index this way.
	for i := range uint64(4) {
		q := store.Query{Channel: "ops", Author: "alpha", Since: i, Limit: 1}
		if got := msgIDs(messages(t, s, q)); !slices.Equal(got, []string{l.entries[i].ID()}) {
			t.Errorf("Messages(%+v) = %v, want [%s]", q, got, l.entries[i].ID())
		}
	}
}

func testAlerts(t *testing.T, w *world, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	want := []record.Alert{
		{At: at(1), Level: "alarm", Channel: "ops", Peer: "bravo", Text: "tamper alarm: root mismatch"},
		{At: at(2), Level: "warning", Channel: "", Peer: "charlie", Text: "frame from charlie, which is not pinned",
			Format: "frame from %s, which is not pinned", Args: []string{"charlie"}},
		{At: at(3), Level: "warning", Channel: "ops", Peer: "", Text: "ünïcode ✓ and \"quotes\"\nand a newline"},
		{At: at(4), Level: "alarm", Channel: "side", Peer: "bravo", Text: "four",
			Format: "%s %s", Args: []string{"fo", "ur ✓ \"q\"\n"}},
		{At: time.Time{}, Level: "warning", Channel: "side", Peer: "bravo", Text: "five, no time"},
	}
	// IDs in the batch are the store's to assign.
	first := slices.Clone(want[:3])
	first[0].ID, first[1].ID = 999, 999
	apply(t, s, &record.Batch{Alerts: first})
	apply(t, s, &record.Batch{Alerts: want[3:]})

	check := func(after int64, got, want []record.Alert) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("Alerts(%d): got %d alerts, want %d", after, len(got), len(want))
			return
		}
		for i := range want {
			g, w := got[i], want[i]
			if g.Level != w.Level || g.Channel != w.Channel || g.Peer != w.Peer || g.Text != w.Text || !sameTime(g.At, w.At) ||
				g.Format != w.Format || !slices.Equal(g.Args, w.Args) {
				t.Errorf("Alerts(%d)[%d] = %+v, want %+v", after, i, g, w)
			}
			if g.ID <= after {
				t.Errorf("Alerts(%d)[%d] has ID %d", after, i, g.ID)
			}
			if i > 0 && g.ID <= got[i-1].ID {
				t.Errorf("Alerts(%d): IDs not increasing: %d after %d", after, g.ID, got[i-1].ID)
			}
		}
	}
	got, err := s.Alerts(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	check(0, got, want)
	if len(got) != len(want) {
		t.FailNow()
	}
	for i, a := range got {
		page, err := s.Alerts(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		check(a.ID, page, want[i+1:])
		if len(page) > 0 && page[0].ID != got[i+1].ID {
			t.Errorf("Alerts(%d) starts at %d, want %d", a.ID, page[0].ID, got[i+1].ID)
		}
	}
	// Paging continues across batches.
	last := got[len(got)-1].ID
	apply(t, s, &record.Batch{Alerts: []record.Alert{{At: at(9), Level: "alarm", Channel: "ops", Peer: "bravo", Text: "six"}}})
	page, err := s.Alerts(ctx, last)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 1 || page[0].Text != "six" || page[0].ID <= last {
		t.Errorf("Alerts(%d) after one more = %+v, want only \"six\"", last, page)
	}
}

func testTimes(t *testing.T, w *world, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	now := time.Now() // carries a monotonic reading
	odd := time.Date(1969, 7, 20, 20, 17, 40, 123456789, time.FixedZone("M-0345", -(3*3600+45*60)))
	late := time.Date(2200, 12, 31, 23, 59, 59, 999999999, time.UTC)
	times := []time.Time{now, base, odd, late, {}}
	for i, tm := range times {
		l := newLog(t, fmt.Sprintf("t%d", i), w.alpha, w.bravo)
		e := l.text(base)
		e.SenderTime, e.StoredAt = tm, tm
		p := w.bravo.peer(tm)
		p.Name = fmt.Sprintf("p%d", i)
		c := w.channel(t, l.channel, w.alpha, w.bravo, record.Active, tm, tm)
		c.Peer = p.Name
		c.Suspensions = []record.Suspension{{By: "bravo", Index: 2, Reason: "t", At: tm}}
		c.LastCheck, c.LastCheckAt = 1, tm
		ack := record.Ack{Channel: l.channel, Author: "alpha", Index: 1, AckAuthor: "bravo", AckIndex: 1, By: "x", At: tm}
		alert := record.Alert{At: tm, Level: "warning", Channel: l.channel, Peer: p.Name, Text: "t"}
		esc := record.Escalation{Channel: l.channel, Author: "alpha", Index: 1, Step: record.StepOverdue, At: tm, Detail: "t"}
		apply(t, s, &record.Batch{Peers: []record.Peer{p}, Channels: []record.Channel{c}, Entries: []record.Entry{e},
			Acks: []record.Ack{ack}, Alerts: []record.Alert{alert}, Escalations: []record.Escalation{esc}})

		peers, err := s.Peers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := peers[len(peers)-1]; got.Name != p.Name || !sameTime(got.AddedAt, tm) {
			t.Errorf("peer %s AddedAt = %s, want %s in UTC", got.Name, showTime(got.AddedAt), showTime(tm))
		}
		chans, err := s.Channels(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := chans[len(chans)-1]; got.ID != c.ID || !sameTime(got.CreatedAt, tm) || !sameTime(got.UpdatedAt, tm) {
			t.Errorf("channel %s times = %s, %s, want %s in UTC", got.ID, showTime(got.CreatedAt), showTime(got.UpdatedAt), showTime(tm))
		}
		if got := chans[len(chans)-1]; !sameTime(got.LastCheckAt, tm) || len(got.Suspensions) != 1 || !sameTime(got.Suspensions[0].At, tm) {
			t.Errorf("channel %s LastCheckAt = %s, suspensions %s, want %s in UTC", got.ID, showTime(got.LastCheckAt), showSuspensions(got.Suspensions), showTime(tm))
		}
		checkEscalations(t, "Escalations("+l.channel+")", escalations(t, s, l.channel), []record.Escalation{esc})
		ms := messages(t, s, store.Query{Channel: l.channel})
		if len(ms) != 1 {
			t.Fatalf("Messages(%s) = %v", l.channel, msgIDs(ms))
		}
		if !sameTime(ms[0].SenderTime, tm) || !sameTime(ms[0].StoredAt, tm) {
			t.Errorf("entry %s times = %s, %s, want %s in UTC", ms[0].ID(), showTime(ms[0].SenderTime), showTime(ms[0].StoredAt), showTime(tm))
		}
		if ms[0].Ack == nil || !sameTime(ms[0].Ack.At, tm) {
			t.Errorf("ack of %s = %+v, want At %s in UTC", ms[0].ID(), ms[0].Ack, showTime(tm))
		}
		alerts, err := s.Alerts(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := alerts[len(alerts)-1]; !sameTime(got.At, tm) {
			t.Errorf("alert At = %s, want %s in UTC", showTime(got.At), showTime(tm))
		}
		es := entries(t, s, l.channel, "alpha", 1, 1)
		if len(es) != 1 || !sameTime(es[0].StoredAt, tm) {
			t.Errorf("Entries(%s): %v, want StoredAt %s", l.channel, es, showTime(tm))
		}
	}
}

func testConcurrency(t *testing.T, w *world, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	const writers, perWriter, readers = 6, 20, 3
	apply(t, s, &record.Batch{Peers: []record.Peer{w.bravo.peer(at(0))},
		Channels: []record.Channel{w.channel(t, "conc", w.alpha, w.bravo, record.Active, at(0), at(0))}})

	// Build every entry first: the goroutines only talk to the store.
	logs := make([]*logBuilder, writers)
	rawOf := map[string][]byte{}
	for i := range logs {
		a := &station{keys: &identity.Keys{Name: fmt.Sprintf("w%02d", i), Sign: w.alpha.keys.Sign}}
		logs[i] = newLog(t, "conc", a, w.bravo)
		for j := range perWriter {
			e := logs[i].text(at(j*writers + i))
			rawOf[e.ID()] = e.Raw
		}
	}

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		errs    []string
		done    = make(chan struct{})
		reads   int
		failure = func(format string, args ...any) {
			mu.Lock()
			errs = append(errs, fmt.Sprintf(format, args...))
			mu.Unlock()
		}
	)
	for i := range writers {
		wg.Go(func() {
			l := logs[i]
			for j := range uint64(perWriter) {
				b := &record.Batch{Entries: []record.Entry{l.entries[j]}, Logs: []record.Log{l.record(j+1, nil)},
					Alerts: []record.Alert{{At: at(int(j)), Level: "warning", Channel: "conc", Peer: "bravo", Text: l.entries[j].ID()}}}
				if j%5 == 4 {
					b.Receipts = []record.Receipt{{Channel: "conc", Author: l.author.name(), Size: j - 1, Note: []byte("r")}}
				}
				if err := s.Apply(ctx, b); err != nil {
					failure("writer %d batch %d: %v", i, j, err)
					return
				}
			}
		})
	}
	var rg sync.WaitGroup
	for r := range readers {
		rg.Go(func() {
			seen := 0
			for n := 0; ; n++ {
				select {
				case <-done:
					if n > 0 {
						return
					}
				default:
				}
				var ms []store.Message
				var err error
				if r == 0 && n%2 == 1 {
					_, err = s.Load(ctx, "w00")
					if err == nil {
						ms, err = s.Messages(ctx, store.Query{Channel: "conc", Author: "w01", Since: 3, Limit: 5})
						if err == nil && len(ms) > 0 && ms[0].Index != 4 {
							failure("reader %d: Messages(w01 since 3) starts at %s", r, ms[0].ID())
						}
					}
				} else {
					ms, err = s.Messages(ctx, store.Query{Channel: "conc"})
					if err == nil {
						if len(ms) < seen {
							failure("reader %d: %d messages after seeing %d", r, len(ms), seen)
						}
						seen = len(ms)
					}
				}
				if err != nil {
					failure("reader %d: %v", r, err)
					return
				}
				for _, m := range ms {
					if !bytes.Equal(m.Raw, rawOf[m.ID()]) {
						failure("reader %d: %s has the wrong bytes", r, m.ID())
					}
				}
				mu.Lock()
				reads++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(done)
	rg.Wait()
	for _, e := range errs {
		t.Error(e)
	}
	t.Logf("%d reads during %d writes", reads, writers*perWriter)

	ms := messages(t, s, store.Query{Channel: "conc"})
	if len(ms) != writers*perWriter {
		t.Errorf("after the writers: %d messages, want %d", len(ms), writers*perWriter)
	}
	for _, l := range logs {
		checkEntries(t, "writer "+l.author.name(), entries(t, s, "conc", l.author.name(), 1, perWriter), l.entries)
		want := l.record(perWriter, nil)
		want.Receipt, want.ReceiptSize = []byte("r"), perWriter-2
		checkLog(t, s, want)
	}
	alerts, err := s.Alerts(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	texts := map[string]bool{}
	for _, a := range alerts {
		texts[a.Text] = true
	}
	if len(alerts) != writers*perWriter || len(texts) != writers*perWriter {
		t.Errorf("after the writers: %d alerts (%d distinct), want %d", len(alerts), len(texts), writers*perWriter)
	}
}

// testChannelState: a channel's suspensions and latest operator check are
// part of its record: listed, loaded, and replaced (emptied too) by the
// next record for the channel.
func testChannelState(t *testing.T, w *world, open func(t *testing.T) store.Store) {
	s := open(t)
	check := func(what string, want ...record.Channel) {
		t.Helper()
		for _, src := range []struct {
			name string
			got  []record.Channel
		}{{"Channels", channels(t, s)}, {"Load", load(t, s, "alpha").Channels}} {
			if len(src.got) != len(want) {
				t.Errorf("%s: %s: got %d channels, want %d", what, src.name, len(src.got), len(want))
				continue
			}
			for i := range want {
				if d := diffChannel(src.got[i], want[i]); d != "" {
					t.Errorf("%s: %s: channel %s: %s", what, src.name, want[i].ID, d)
				}
			}
		}
	}

	ops := w.channel(t, "ops", w.alpha, w.bravo, record.Active, at(1), at(2))
	ops.Suspensions = []record.Suspension{
		{By: "alpha", Index: 3, Reason: `the "night" desk is ünstaffed ✓`, At: at(3)},
		{By: "bravo", Index: 7, Reason: "maintenance — 'two' hours\nback at 06:00 \\ UTC {\"x\":1}", At: at(4)},
	}
	ops.LastCheck, ops.LastCheckAt = 5, at(5)
	side := w.channel(t, "side", w.alpha, w.charlie, record.ProposedOut, at(6), at(6)) // neither
	apply(t, s, &record.Batch{Peers: []record.Peer{w.bravo.peer(at(0)), w.charlie.peer(at(0))}, Channels: []record.Channel{side, ops}})
	check("first records", ops, side)

	// A later record replaces both: one suspension lifted, a newer check.
	ops2 := w.channel(t, "ops", w.alpha, w.bravo, record.Active, at(1), at(10))
	ops2.Suspensions = []record.Suspension{{By: "bravo", Index: 9, Reason: "still «down»", At: at(9)}}
	ops2.LastCheck, ops2.LastCheckAt = 8, at(10)
	apply(t, s, &record.Batch{Channels: []record.Channel{ops2}})
	check("after a second record for ops", ops2, side)

	// Another channel's record leaves ops alone.
	side2 := w.channel(t, "side", w.alpha, w.charlie, record.ProposedOut, at(6), at(11))
	side2.Suspensions = []record.Suspension{{By: "charlie", Index: 1, Reason: "", At: at(11)}}
	side2.LastCheck, side2.LastCheckAt = 1, at(11)
	apply(t, s, &record.Batch{Channels: []record.Channel{side2}})
	check("after a second record for side", ops2, side2)

	// A record with neither (an empty, not nil, list) empties them.
	ops3 := w.channel(t, "ops", w.alpha, w.bravo, record.Active, at(1), at(12))
	ops3.Suspensions = []record.Suspension{}
	apply(t, s, &record.Batch{Channels: []record.Channel{ops3}})
	check("after a record with no suspension and no check", ops3, side2)
	// Crossing proposals: alpha withdrew its own proposal of side and
	// holds charlie's, of another level; the record names the new
	// proposer, level and charter.
	side3 := w.channel(t, "side", w.charlie, w.charlie, record.ProposedIn, at(6), at(13))
	side3.Level = "unit"
	apply(t, s, &record.Batch{Channels: []record.Channel{side3}})
	check("after the proposal of side changed hands", ops3, side3)
	for _, c := range channels(t, s) {
		if c.ID == "ops" && (len(c.Suspensions) != 0 || c.LastCheck != 0 || !c.LastCheckAt.IsZero()) {
			t.Errorf("ops after emptying: suspensions %s, last check %d at %s; want none", showSuspensions(c.Suspensions), c.LastCheck, showTime(c.LastCheckAt))
		}
	}
}

// testEscalations: ladder steps are inserted once per (channel, author,
// index, step) and listed oldest first, by channel or all.
func testEscalations(t *testing.T, w *world, open func(t *testing.T) store.Store) {
	s := open(t)
	// Oldest first is neither the order of the keys nor that of arrival.
	xs := []record.Escalation{
		{Channel: "ops", Author: "bravo", Index: 2, Step: record.StepOverdue, At: at(1), Detail: ""},
		{Channel: "side", Author: "alpha", Index: 1, Step: record.StepUndelivered, At: at(2), Detail: "no receipt from charlie"},
		{Channel: "ops", Author: "alpha", Index: 5, Step: record.StepUndelivered, At: at(3), Detail: "undelivered"},
		{Channel: "ops", Author: "alpha", Index: 5, Step: record.StepOverdue, At: at(4), Detail: "reminder sent as ops/alpha/6"},
		{Channel: "ops", Author: "alpha", Index: 1<<40 + 3, Step: record.StepSupervisor, At: at(5), Detail: "supervisor «duty» alerted ✓"},
		{Channel: "ops", Author: "alpha", Index: 5, Step: record.StepForwarded, At: at(6), Detail: `forwarded as "up/alpha/12"`},
	}
	apply(t, s, &record.Batch{Escalations: []record.Escalation{xs[3], xs[5], xs[1]}})
	apply(t, s, &record.Batch{Escalations: []record.Escalation{xs[4], xs[0], xs[2]}})
	ofOps := []record.Escalation{xs[0], xs[2], xs[3], xs[4], xs[5]}
	checkEscalations(t, `Escalations("")`, escalations(t, s, ""), xs)
	checkEscalations(t, "Escalations(ops)", escalations(t, s, "ops"), ofOps)
	checkEscalations(t, "Escalations(side)", escalations(t, s, "side"), xs[1:2])
	checkEscalations(t, "Escalations(nope)", escalations(t, s, "nope"), nil)

	// The same step of the same entry again, alone or twice in a batch, is
	// no error and changes nothing: the first record stays.
	again := xs[3]
	again.At, again.Detail = at(50), "again"
	apply(t, s, &record.Batch{Escalations: []record.Escalation{again}})
	apply(t, s, &record.Batch{Escalations: []record.Escalation{again, xs[3], again}})
	checkEscalations(t, `Escalations("") after duplicates`, escalations(t, s, ""), xs)

	// The same step differing in channel, author or index only is another
	// record, even in a batch that also holds a duplicate.
	more := []record.Escalation{
		{Channel: "side", Author: "alpha", Index: 5, Step: record.StepOverdue, At: at(7), Detail: "other channel"},
		{Channel: "ops", Author: "bravo", Index: 5, Step: record.StepOverdue, At: at(8), Detail: "other author"},
		{Channel: "ops", Author: "alpha", Index: 6, Step: record.StepOverdue, At: at(9), Detail: "other index"},
	}
	apply(t, s, &record.Batch{Escalations: []record.Escalation{more[2], again, more[0], more[1]}})
	checkEscalations(t, `Escalations("") after more`, escalations(t, s, ""), append(slices.Clone(xs), more...))
	checkEscalations(t, "Escalations(ops) after more", escalations(t, s, "ops"), append(slices.Clone(ofOps), more[1:]...))
	checkEscalations(t, "Escalations(side) after more", escalations(t, s, "side"), []record.Escalation{xs[1], more[0]})
}

// testProbes: link test counts add up per channel and hour; CheckStats sums
// the hours from the one holding since.
func testProbes(t *testing.T, w *world, open func(t *testing.T) store.Store) {
	s := open(t)
	const ms = time.Millisecond
	h0 := base.Truncate(time.Hour) // an hour boundary in UTC; base's zone is 5:30 off it
	h1, h2 := h0.Add(time.Hour), h0.Add(2*time.Hour)
	apply(t, s, &record.Batch{Probes: []record.ProbeStat{
		{Channel: "ops", Hour: h1, Sent: 3, Answered: 2, RTT: 150*ms + 1},
		{Channel: "ops", Hour: h0, Sent: 10, Answered: 9, RTT: 900 * ms},
		{Channel: "side", Hour: h1, Sent: 100, Answered: 50, RTT: time.Minute},
	}})
	// The same channel and hour in a later batch, or twice in one, add up.
	apply(t, s, &record.Batch{Probes: []record.ProbeStat{
		{Channel: "ops", Hour: h1, Sent: 4, Answered: 4, RTT: 200*ms + 2},
		{Channel: "ops", Hour: h2, Sent: 1, Answered: 1, RTT: 5 * ms},
		{Channel: "ops", Hour: h2, Sent: 2, Answered: 0},
	}})
	probes := func(sent, answered int64, rtt time.Duration) store.CheckStats {
		return store.CheckStats{Probes: sent, ProbesAnswered: answered, ProbeRTT: rtt}
	}
	all := probes(20, 16, 1255*ms+3)
	fromH1 := probes(10, 7, 355*ms+3)
	fromH2 := probes(3, 1, 5*ms)
	cases := []struct {
		channel string
		since   time.Time
		want    store.CheckStats
	}{
		{"ops", time.Time{}, all},
		{"ops", h0, all},
		{"ops", h0.Add(59 * time.Minute), all}, // within h0: h0 counts
		{"ops", h1.Add(-1), all},
		{"ops", h1, fromH1},
		{"ops", h1.Add(30*time.Minute + 7), fromH1},
		{"ops", h1.Add(30 * time.Minute).UTC(), fromH1},
		{"ops", h2.Add(time.Hour - 1), fromH2},
		{"ops", h2.Add(time.Hour), probes(0, 0, 0)},
		{"side", time.Time{}, probes(100, 50, time.Minute)},
		{"side", h1.Add(time.Minute), probes(100, 50, time.Minute)},
		{"side", h2, probes(0, 0, 0)},
		{"nope", time.Time{}, probes(0, 0, 0)},
	}
	for _, c := range cases {
		if got := checkStats(t, s, c.channel, "alpha", c.since); got != c.want {
			t.Errorf("CheckStats(%s, alpha, %s) = %+v, want %+v", c.channel, showTime(c.since), got, c.want)
		}
	}
	// Probes are the channel's, whoever asks.
	if got := checkStats(t, s, "ops", "bravo", h1); got != fromH1 {
		t.Errorf("CheckStats(ops, bravo, %s) = %+v, want %+v", showTime(h1), got, fromH1)
	}
}

// testCheckStats: the operator checks this station wrote on a channel
// since a time, those answered by a stored acknowledgement, and how long
// the answers took on this station's clock.
func testCheckStats(t *testing.T, w *world, open func(t *testing.T) store.Store) {
	s := open(t)
	mine, theirs := newLog(t, "ops", w.alpha, w.bravo), newLog(t, "ops", w.bravo, w.alpha)
	side, sideTheirs := newLog(t, "side", w.alpha, w.charlie), newLog(t, "side", w.charlie, w.alpha)
	mine.add(envelope.Check, envelope.Routine, at(1), "check 1")   // ops/alpha/1: before since, answered by bravo/1
	mine.add(envelope.Check, envelope.Routine, at(5), "check 2")   // ops/alpha/2: at since, never answered
	mine.add(envelope.Check, envelope.Priority, at(10), "check 3") // ops/alpha/3: answered by bravo/2
	mine.add(envelope.Text, envelope.Routine, at(11), "text 4")    // ops/alpha/4: answered by bravo/3, not a check
	mine.add(envelope.Check, envelope.Routine, at(12), "check 5")  // ops/alpha/5: never answered
	mine.add(envelope.Check, envelope.Flash, at(15), "check 6")    // ops/alpha/6: answered by bravo/5, in a later batch
	mine.add(envelope.Check, envelope.Routine, at(16), "check 7")  // ops/alpha/7: ack recorded, its entry not stored
	mine.add(envelope.Ack, envelope.Routine, at(18), "ack b4")     // ops/alpha/8: answers bravo/4
	theirs.add(envelope.Ack, envelope.Routine, at(3), "ack a1")    // ops/bravo/1
	theirs.add(envelope.Ack, envelope.Routine, at(13), "ack a3")   // ops/bravo/2
	theirs.add(envelope.Ack, envelope.Routine, at(13), "ack a4")   // ops/bravo/3
	theirs.add(envelope.Check, envelope.Routine, at(14), "check")  // ops/bravo/4: the peer's check
	late := theirs.add(envelope.Ack, envelope.Routine, at(20), "ack a6")
	side.add(envelope.Check, envelope.Routine, at(10), "side check") // side/alpha/1: answered by charlie/1
	sideTheirs.add(envelope.Ack, envelope.Routine, at(11), "ack")

	// Ack times are the operator's, deliberately far from when the
	// acknowledgements were stored: answer times come from the entries.
	ack := func(ch, author string, idx uint64, ackAuthor string, ackIdx uint64) record.Ack {
		return record.Ack{Channel: ch, Author: author, Index: idx, AckAuthor: ackAuthor, AckIndex: ackIdx, By: "op-" + ackAuthor, At: at(100 + int(idx))}
	}
	b := &record.Batch{
		Entries: append(append(append(slices.Clone(mine.entries), theirs.entries[:4]...), side.entries...), sideTheirs.entries...),
		Acks: []record.Ack{
			ack("ops", "alpha", 1, "bravo", 1), ack("ops", "alpha", 3, "bravo", 2), ack("ops", "alpha", 4, "bravo", 3),
			ack("ops", "alpha", 7, "bravo", 99), ack("ops", "bravo", 4, "alpha", 8), ack("side", "alpha", 1, "charlie", 1),
		},
	}
	slices.Reverse(b.Entries)
	apply(t, s, b)

	sec := func(n int) time.Duration { return time.Duration(n)*time.Second + time.Duration(n) } // at(i+n) - at(i)
	checks := func(n, answered int64, took time.Duration) store.CheckStats {
		return store.CheckStats{Checks: n, Answered: answered, AnswerTime: took}
	}
	type tc struct {
		channel, self string
		since         time.Time
		want          store.CheckStats
	}
	run := func(what string, cases []tc) {
		t.Helper()
		for _, c := range cases {
			if got := checkStats(t, s, c.channel, c.self, c.since); got != c.want {
				t.Errorf("%s: CheckStats(%s, %s, %s) = %+v, want %+v", what, c.channel, c.self, showTime(c.since), got, c.want)
			}
		}
	}
	run("before bravo/5", []tc{
		{"ops", "alpha", at(5), checks(5, 1, sec(3))},
		{"ops", "alpha", time.Time{}, checks(6, 2, sec(2)+sec(3))},
		{"ops", "alpha", at(5).Add(1), checks(4, 1, sec(3))},
	})

	// The acknowledgement of ops/alpha/6 arrives.
	apply(t, s, &record.Batch{Entries: []record.Entry{late}, Acks: []record.Ack{ack("ops", "alpha", 6, "bravo", 5)}})
	run("after bravo/5", []tc{
		{"ops", "alpha", at(5), checks(5, 2, sec(3)+sec(5))},
		{"ops", "alpha", time.Time{}, checks(6, 3, sec(2)+sec(3)+sec(5))},
		{"ops", "alpha", at(5).Add(-1), checks(5, 2, sec(3)+sec(5))},
		{"ops", "alpha", at(5).Add(1), checks(4, 2, sec(3)+sec(5))},
		{"ops", "alpha", at(13), checks(2, 1, sec(5))},
		{"ops", "alpha", at(17), checks(0, 0, 0)},
		// The peer's check is the peer's: counted only for it.
		{"ops", "bravo", at(5), checks(1, 1, sec(4))},
		{"ops", "charlie", time.Time{}, checks(0, 0, 0)},
		{"side", "alpha", time.Time{}, checks(1, 1, sec(1))},
		{"side", "alpha", at(11), checks(0, 0, 0)},
		{"nope", "alpha", time.Time{}, checks(0, 0, 0)},
	})
}

// testOutstanding: Load returns the entries of either author that wait for
// a person's acknowledgement and whose ladder is not finished, by channel,
// author and index, with what their ladders need and no more (the body
// only of checks and of the station's own escalations), and the ladder
// steps already taken for them.
func testOutstanding(t *testing.T, w *world, open func(t *testing.T) store.Store) {
	s := open(t)
	ops := w.channel(t, "ops", w.alpha, w.bravo, record.Active, at(0), at(0))
	ops.LastCheck, ops.LastCheckAt = 6, at(6)
	sideCh := w.channel(t, "side", w.alpha, w.charlie, record.Active, at(0), at(0)) // no check yet
	apply(t, s, &record.Batch{Peers: []record.Peer{w.bravo.peer(at(0)), w.charlie.peer(at(0))}, Channels: []record.Channel{sideCh, ops}})

	mine, theirs := newLog(t, "ops", w.alpha, w.bravo), newLog(t, "ops", w.bravo, w.alpha)
	side, sideTheirs := newLog(t, "side", w.alpha, w.charlie), newLog(t, "side", w.charlie, w.alpha)
	const r = envelope.Routine
	mine.add(envelope.Agreement, r, at(1), "charter")    // ops/alpha/1: no ack needed
	mine.add(envelope.Text, r, at(2), "acked")           // ops/alpha/2: acked
	mine.add(envelope.Text, r, at(3), "waiting")         // ops/alpha/3: OUTSTANDING, undelivered step
	mine.add(envelope.Check, r, at(4), "older check")    // ops/alpha/4: not the last check
	mine.add(envelope.Text, r, at(5), "forwarded")       // ops/alpha/5: ladder finished
	mine.add(envelope.Check, r, at(6), "last check")     // ops/alpha/6: OUTSTANDING, the last check
	mine.add(envelope.Ack, r, at(7), "ack b2")           // ops/alpha/7: an ack
	mine.add(envelope.Text, r, at(8), "overdue")         // ops/alpha/8: OUTSTANDING, overdue and supervisor steps
	mine.add(envelope.Escalation, r, at(8), "escalated") // ops/alpha/9: OUTSTANDING
	mine.add(envelope.Suspend, r, at(10), "suspend")     // ops/alpha/10
	mine.add(envelope.Reminder, r, at(10), "reminder")   // ops/alpha/11
	mine.add(envelope.Resume, r, at(10), "resume")       // ops/alpha/12
	theirs.add(envelope.Agreement, r, at(1), "charter")  // ops/bravo/1
	theirs.add(envelope.Text, r, at(2), "acked")         // ops/bravo/2: acked by alpha/7
	theirs.add(envelope.Text, r, at(3), "waiting")       // ops/bravo/3: OUTSTANDING
	theirs.add(envelope.Check, r, at(6), "check")        // ops/bravo/4: OUTSTANDING, the peer's check
	theirs.add(envelope.Text, r, at(11), "overdue")      // ops/bravo/5: ladder finished here
	theirs.add(envelope.Text, r, at(12), "supervisor")   // ops/bravo/6: OUTSTANDING, supervisor step
	theirs.add(envelope.Check, r, at(13), "check")       // ops/bravo/7: OUTSTANDING, the peer's check
	theirs.add(envelope.Escalation, r, at(14), "acked")  // ops/bravo/8: acked, the ack entry not here
	theirs.add(envelope.Ack, r, at(14), "ack a2")        // ops/bravo/9: an ack
	theirs.add(envelope.Escalation, r, at(15), "up")     // ops/bravo/10: OUTSTANDING, the peer's escalation (no body)
	side.add(envelope.Text, r, at(2), "waiting")         // side/alpha/1: OUTSTANDING
	side.add(envelope.Check, r, at(3), "check")          // side/alpha/2: no last check on side
	sideTheirs.add(envelope.Text, r, at(3), "waiting")   // side/charlie/1: OUTSTANDING
	sideTheirs.add(envelope.Check, r, at(3), "check")    // side/charlie/2: OUTSTANDING
	byID := map[string]record.Entry{}
	for _, l := range []*logBuilder{mine, theirs, side, sideTheirs} {
		for _, e := range l.entries {
			byID[e.ID()] = e
		}
	}
	pick := func(ids ...string) []record.Entry {
		out := make([]record.Entry, len(ids))
		for i, id := range ids {
			e, ok := byID[id]
			if !ok {
				t.Fatalf("test bug: no entry %s", id)
			}
			out[i] = e
		}
		return out
	}
	x := func(ch, author string, idx uint64, step, n int) record.Escalation {
		return record.Escalation{Channel: ch, Author: author, Index: idx, Step: step, At: at(n), Detail: fmt.Sprintf("step %d of %s/%s/%d", step, ch, author, idx)}
	}
	xs := []record.Escalation{
		x("ops", "alpha", 2, record.StepUndelivered, 20), // acked
		x("ops", "alpha", 3, record.StepUndelivered, 21),
		x("ops", "alpha", 4, record.StepOverdue, 22), // not the last check
		x("ops", "alpha", 5, record.StepUndelivered, 23),
		x("ops", "alpha", 5, record.StepOverdue, 24),
		x("ops", "alpha", 5, record.StepSupervisor, 25),
		x("ops", "alpha", 5, record.StepForwarded, 26),
		x("ops", "alpha", 8, record.StepOverdue, 27), // the end of the peer's ladder, not of ours
		x("ops", "alpha", 8, record.StepSupervisor, 28),
		x("ops", "bravo", 5, record.StepOverdue, 29),
		x("ops", "bravo", 6, record.StepSupervisor, 30),
		x("ops", "alpha", 99, record.StepUndelivered, 31), // no such entry
		x("side", "alpha", 2, record.StepOverdue, 32),
	}
	b1 := &record.Batch{Entries: slices.Concat(mine.entries, side.entries)}
	slices.Reverse(b1.Entries)
	apply(t, s, b1)
	b2 := &record.Batch{Entries: slices.Concat(sideTheirs.entries, theirs.entries), Acks: []record.Ack{
		{Channel: "ops", Author: "alpha", Index: 2, AckAuthor: "bravo", AckIndex: 9, By: "op-bravo", At: at(14)},
		{Channel: "ops", Author: "bravo", Index: 2, AckAuthor: "alpha", AckIndex: 7, By: "op-alpha", At: at(7)},
		{Channel: "ops", Author: "bravo", Index: 8, AckAuthor: "alpha", AckIndex: 99, By: "op-alpha", At: at(15)},
	}}
	slices.Reverse(b2.Entries[2:])
	apply(t, s, b2)
	b3 := &record.Batch{Escalations: slices.Clone(xs)}
	slices.Reverse(b3.Escalations)
	apply(t, s, b3)

	snap := load(t, s, "alpha")
	checkWaiting(t, "Load: outstanding", "alpha", outstanding(t, snap), pick(
		"ops/alpha/3", "ops/alpha/6", "ops/alpha/8", "ops/alpha/9",
		"ops/bravo/3", "ops/bravo/4", "ops/bravo/6", "ops/bravo/7", "ops/bravo/10",
		"side/alpha/1",
		"side/charlie/1", "side/charlie/2",
	))
	checkEscalations(t, "Load: escalations", snap.Escalations, []record.Escalation{xs[1], xs[7], xs[8], xs[10]})
	checkEscalations(t, `Escalations("")`, escalations(t, s, ""), xs)

	// ops/alpha/3 is acknowledged, ops/alpha/8 forwarded, ops/bravo/6
	// overdue here, and a new record of ops names ops/alpha/4 as the last
	// check (as if ops/alpha/6 had not been written).
	ops2 := w.channel(t, "ops", w.alpha, w.bravo, record.Active, at(0), at(40))
	ops2.LastCheck, ops2.LastCheckAt = 4, at(4)
	apply(t, s, &record.Batch{Channels: []record.Channel{ops2},
		Acks:        []record.Ack{{Channel: "ops", Author: "alpha", Index: 3, AckAuthor: "bravo", AckIndex: 50, By: "op-bravo", At: at(41)}},
		Escalations: []record.Escalation{x("ops", "alpha", 8, record.StepForwarded, 42), x("ops", "bravo", 6, record.StepOverdue, 43)}})
	snap = load(t, s, "alpha")
	checkWaiting(t, "Load after changes: outstanding", "alpha", outstanding(t, snap), pick(
		"ops/alpha/4", "ops/alpha/9",
		"ops/bravo/3", "ops/bravo/4", "ops/bravo/7", "ops/bravo/10",
		"side/alpha/1",
		"side/charlie/1", "side/charlie/2",
	))
	checkEscalations(t, "Load after changes: escalations", snap.Escalations, []record.Escalation{xs[2]})
}

// testKeys: key chains and log key positions are stored once each (a
// second write of the same seq or position changes nothing), read back in
// order, by station, and loaded in the snapshot.
func testKeys(t *testing.T, w *world, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	ks := []record.Key{
		{Station: "bravo", Seq: 1, Card: []byte("card b1"), Fingerprint: "FP-B1", Reason: "revoke", Statement: []byte("stmt"), At: at(2), Detail: ""},
		{Station: "alpha", Seq: 0, Card: []byte("card a0"), Fingerprint: "FP-A0", Reason: "initial", Statement: []byte{}, At: at(1), Detail: ""},
		{Station: "bravo", Seq: 0, Card: []byte("card b0"), Fingerprint: "FP-B0", Reason: "initial", Statement: []byte{}, At: at(1), Detail: ""},
	}
	lks := []record.LogKey{{Channel: "ops", Author: "bravo", From: 7, Seq: 1}, {Channel: "ops", Author: "alpha", From: 1 << 40, Seq: 0}}
	apply(t, s, &record.Batch{Keys: ks, LogKeys: lks})
	again := ks[0]
	again.Card, again.Reason = []byte("other"), "rotate"
	apply(t, s, &record.Batch{Keys: []record.Key{again}, LogKeys: []record.LogKey{{Channel: "ops", Author: "bravo", From: 7, Seq: 5}}})
	got, err := s.Keys(ctx, "bravo")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Seq != 0 || got[1].Seq != 1 || string(got[1].Card) != "card b1" || got[1].Reason != "revoke" ||
		string(got[1].Statement) != "stmt" || !got[1].At.Equal(at(2)) || got[1].Fingerprint != "FP-B1" {
		t.Fatalf("Keys(bravo) = %+v", got)
	}
	all, err := s.Keys(ctx, "")
	if err != nil || len(all) != 3 || all[0].Station != "alpha" {
		t.Fatalf("Keys(\"\") = %+v, %v", all, err)
	}
	snap, err := s.Load(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Keys) != 3 || len(snap.LogKeys) != 2 || snap.LogKeys[0].Author != "alpha" || snap.LogKeys[0].From != 1<<40 ||
		snap.LogKeys[1].Seq != 1 {
		t.Fatalf("snapshot keys %+v, log keys %+v", snap.Keys, snap.LogKeys)
	}
}
