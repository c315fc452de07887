package protocol

import (
	"bytes"
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/cryptotest"
	"time"

	"hotline/internal/channel"
	"hotline/internal/envelope"
	"hotline/internal/identity"
	"hotline/internal/record"
	"hotline/internal/transcript"
)

var (
	simSeeds = flag.Int("sim.seeds", 24, "seeds for TestCoreSeededFaults")
	simSeed  = flag.Uint64("sim.seed", 0, "run only this seed")
	simSteps = flag.Int("sim.steps", 4000, "fault steps per seed")
	simTrace = flag.Bool("sim.trace", false, "log every alert")
)

// memStore keeps applied batches in memory with the store's semantics.
// Only what a batch applied survives a crash of the node.
type memStore struct {
	peers    map[string]record.Peer
	channels map[string]record.Channel
	entries  map[string][]record.Entry // key channel/author → entries, index i at [i-1]
	logs     map[string]*record.Log
	acks     map[string]record.Ack
	escal    []record.Escalation
	keys     []record.Key
	logKeys  []record.LogKey
}

func newMemStore() *memStore {
	return &memStore{peers: map[string]record.Peer{}, channels: map[string]record.Channel{},
		entries: map[string][]record.Entry{}, logs: map[string]*record.Log{}, acks: map[string]record.Ack{}}
}

func (m *memStore) apply(t *testing.T, b *record.Batch) {
	t.Helper()
	for _, k := range b.Keys {
		if !slices.ContainsFunc(m.keys, func(x record.Key) bool { return x.Station == k.Station && x.Seq == k.Seq }) {
			m.keys = append(m.keys, k)
		}
	}
	for _, k := range b.LogKeys {
		if !slices.ContainsFunc(m.logKeys, func(x record.LogKey) bool { return x.Channel == k.Channel && x.Author == k.Author && x.From == k.From }) {
			m.logKeys = append(m.logKeys, k)
		}
	}
	for _, p := range b.Peers {
		m.peers[p.Name] = p
	}
	for _, c := range b.Channels {
		m.channels[c.ID] = c
	}
	for _, e := range b.Entries {
		k := e.Channel + "/" + e.Author
		es := m.entries[k]
		switch {
		case e.Index == uint64(len(es))+1:
			m.entries[k] = append(es, e)
		case e.Index <= uint64(len(es)):
			if !bytes.Equal(es[e.Index-1].Raw, e.Raw) {
				t.Fatalf("store conflict at %s: the core rewrote an index with different bytes", e.ID())
			}
		default:
			t.Fatalf("store gap: %s persisted after %d entries", e.ID(), len(es))
		}
	}
	for _, l := range b.Logs {
		k := l.Channel + "/" + l.Author
		old := m.logs[k]
		nl := l
		if old != nil {
			nl.Receipt, nl.ReceiptSize = old.Receipt, old.ReceiptSize
			if l.Checkpoint == nil {
				nl.Checkpoint = old.Checkpoint
			}
			if l.EpochFrom == 0 {
				nl.EpochFrom = old.EpochFrom
			}
		}
		m.logs[k] = &nl
	}
	for _, r := range b.Receipts {
		k := r.Channel + "/" + r.Author
		l := m.logs[k]
		if l == nil {
			l = &record.Log{Channel: r.Channel, Author: r.Author}
			m.logs[k] = l
		}
		if r.Size >= l.ReceiptSize || r.Rewind {
			l.Receipt, l.ReceiptSize = r.Note, r.Size
		}
	}
	for _, a := range b.Acks {
		k := fmt.Sprintf("%s/%s/%d", a.Channel, a.Author, a.Index)
		if _, ok := m.acks[k]; !ok {
			m.acks[k] = a
		}
	}
	for _, x := range b.Escalations {
		if !slices.ContainsFunc(m.escal, func(y record.Escalation) bool {
			return y.Channel == x.Channel && y.Author == x.Author && y.Index == x.Index && y.Step == x.Step
		}) {
			m.escal = append(m.escal, x)
		}
	}
}

// outstanding is what sqlstore's Load selects as Snapshot.Outstanding.
func (m *memStore) outstanding(self string) ([]record.Waiting, []record.Escalation) {
	var out []record.Waiting
	var xs []record.Escalation
	for _, es := range m.entries {
		for _, e := range es {
			if !e.Kind.NeedsAck() {
				continue
			}
			if _, acked := m.acks[e.ID()]; acked {
				continue
			}
			final := record.StepOverdue
			if e.Author == self {
				final = record.StepForwarded
			}
			var mine []record.Escalation
			done := false
			for _, x := range m.escal {
				if x.Channel == e.Channel && x.Author == e.Author && x.Index == e.Index {
					mine = append(mine, x)
					done = done || x.Step == final
				}
			}
			if done || e.Kind == envelope.Check && e.Author == self && e.Index != m.channels[e.Channel].LastCheck {
				continue
			}
			w := e.Waiting()
			if !record.WaitingBody(e.Kind, e.Author, self) {
				w.Body = nil
			}
			out = append(out, w)
			xs = append(xs, mine...)
		}
	}
	slices.SortFunc(out, func(a, b record.Waiting) int {
		return cmp.Or(cmp.Compare(a.Channel, b.Channel), cmp.Compare(a.Author, b.Author), cmp.Compare(a.Index, b.Index))
	})
	return out, xs
}

// clone copies what is on the disk, as a backup would.
func (m *memStore) clone() *memStore {
	c := newMemStore()
	maps.Copy(c.peers, m.peers)
	maps.Copy(c.channels, m.channels)
	for k, es := range m.entries {
		c.entries[k] = slices.Clone(es)
	}
	for k, l := range m.logs {
		l2 := *l
		c.logs[k] = &l2
	}
	maps.Copy(c.acks, m.acks)
	c.escal = slices.Clone(m.escal)
	c.keys, c.logKeys = slices.Clone(m.keys), slices.Clone(m.logKeys)
	return c
}

func (m *memStore) snapshot(self string) *record.Snapshot {
	s := &record.Snapshot{}
	for _, p := range m.peers {
		s.Peers = append(s.Peers, p)
	}
	for _, c := range m.channels {
		s.Channels = append(s.Channels, c)
	}
	var keys []string
	for k := range m.logs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		l := *m.logs[k]
		s.Logs = append(s.Logs, l)
		if l.Author == self {
			s.Undelivered = append(s.Undelivered, m.entries[k][l.ReceiptSize:l.Size]...)
		}
		if l.EpochFrom > 0 && l.EpochFrom <= uint64(len(m.entries[k])) {
			s.EpochEntries = append(s.EpochEntries, m.entries[k][l.EpochFrom-1])
		}
	}
	s.Outstanding, s.Escalations = m.outstanding(self)
	s.Keys, s.LogKeys = slices.Clone(m.keys), slices.Clone(m.logKeys)
	return s
}

type simNode struct {
	name     string
	keys     *identity.Keys
	retired  []*identity.Keys          // earlier keys, after a rotation
	rotating map[uint64]*identity.Keys // new keys of rotations not yet done, by request
	cards    map[string]*identity.Card // cards of those keys, by signing key
	card     *identity.Card
	core     *Core
	disk     *memStore
	unsynced []Persist // written, not yet synced: lost on a crash
	out      ConnID    // outbound connection, 0 if none
	done     map[uint64]Done
	sent     []string       // ids of entries whose Submit completed, in order
	skew     time.Duration  // this node's clock minus the simulation's
	alerts   []record.Alert // every alert it raised, durable or not
	notes    []Notify       // every notification it gave
}

type packet struct {
	from, to *simNode
	conn     ConnID
	data     []byte
	at       time.Time // when it arrives, at the earliest
}

type sim struct {
	t       *testing.T
	rng     *rand.Rand
	now     time.Time
	nodes   []*simNode
	conns   map[ConnID][2]*simNode // dialer, acceptor
	nextID  ConnID
	net     []packet
	nextReq uint64
	faults  bool
	counts  map[string]int
	drop    map[ConnID]bool   // connections whose frames are lost (a silent path)
	lose    func(packet) bool // frames lost one by one while the path stays up
	noDial  bool              // the direct path is down: dialing fails
	// delay, if set, is how long each frame takes on its connection; a
	// connection still delivers its frames in order (lastAt).
	delay  func(packet) time.Duration
	lastAt map[ConnID]time.Time
	// sent, if set, sees every frame a node sends; batch every batch a
	// node asks to have written.
	sent  func(n *simNode, a Send)
	batch func(n *simNode, b *record.Batch)
}

func newSimNode(t *testing.T, name string) *simNode {
	k, err := identity.NewKeys(name)
	if err != nil {
		t.Fatal(err)
	}
	c, err := identity.NewCard(k, name, []string{name + ":1"}, time.Unix(1_800_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	n := &simNode{name: name, keys: k, card: c, disk: newMemStore(), done: map[uint64]Done{}}
	n.core, err = New(testConfig(Config{MaxBatch: 8, MaxBatchBytes: 64 << 10, Window: 32}), k, n.disk.snapshot(name))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (s *sim) peerOf(n *simNode) *simNode {
	if n == s.nodes[0] {
		return s.nodes[1]
	}
	return s.nodes[0]
}

// step feeds an event to a node and routes its actions.
func (s *sim) step(n *simNode, ev Event) {
	s.now = s.now.Add(time.Millisecond)
	for _, a := range n.core.Step(s.now.Add(n.skew), ev) {
		switch a := a.(type) {
		case Persist:
			if s.batch != nil {
				s.batch(n, a.Batch)
			}
			n.unsynced = append(n.unsynced, a)
			n.alerts = append(n.alerts, a.Batch.Alerts...)
			if *simTrace {
				for _, al := range a.Batch.Alerts {
					s.t.Logf("%s alert: %s", n.name, al.Text)
				}
			}
		case Send:
			if s.sent != nil {
				s.sent(n, a)
			}
			s.checkReceiptDurable(n, a.Data)
			ends, ok := s.conns[a.Conn]
			if !ok {
				continue
			}
			to := ends[0]
			if to == n {
				to = ends[1]
			}
			pk := packet{from: n, to: to, conn: a.Conn, data: a.Data, at: s.now}
			if s.delay != nil {
				if pk.at = s.now.Add(s.delay(pk)); pk.at.Before(s.lastAt[a.Conn]) {
					pk.at = s.lastAt[a.Conn]
				}
				s.lastAt[a.Conn] = pk.at
			}
			s.net = append(s.net, pk)
			if a.Close {
				s.cut(a.Conn)
			}
		case Load:
			var raws, bodies [][]byte
			for _, e := range n.disk.entries[a.Channel+"/"+a.Author] {
				if e.Index >= a.From && e.Index <= a.To {
					raws, bodies = append(raws, e.Raw), append(bodies, e.Body)
				}
			}
			ev := Loaded{Peer: a.Peer, Conn: a.Conn, Channel: a.Channel, Author: a.Author, From: a.From, Ladder: a.Ladder, Entries: raws}
			if a.Ladder {
				ev.Bodies = bodies
			}
			defer s.step(n, ev)
		case Notify:
			n.notes = append(n.notes, a)
		case Done:
			n.done[a.ID] = a
			if nk := n.rotating[a.ID]; nk != nil {
				delete(n.rotating, a.ID)
				if a.Err == nil {
					n.retired, n.keys, n.card = append(n.retired, n.keys), nk, n.cards[string(nk.SignPublic())]
				}
			}
			if a.Err == nil && a.Result.Entry != "" {
				n.sent = append(n.sent, a.Result.Entry)
			}
		}
	}
}

// checkReceiptDurable: a receipt may only cover entries on the node's disk.
func (s *sim) checkReceiptDurable(n *simNode, data []byte) {
	f, err := DecodeFrame(data)
	if err != nil || f.Type != FrameReceipt {
		return
	}
	cp, _, err := transcript.OpenCheckpoint(f.Checkpoint, transcript.NewCosignVerifier(n.name, n.core.keys.SignPublic()))
	if err != nil {
		s.t.Fatalf("%s sent a receipt it did not cosign: %v", n.name, err)
	}
	if have := uint64(len(n.disk.entries[f.Channel+"/"+f.Author])); have < cp.Size {
		s.t.Fatalf("%s receipted %s/%s up to %d with only %d entries durable", n.name, f.Channel, f.Author, cp.Size, have)
	}
}

func (s *sim) sync(n *simNode) {
	if len(n.unsynced) == 0 {
		return
	}
	p := n.unsynced[0]
	n.unsynced = n.unsynced[1:]
	n.disk.apply(s.t, p.Batch)
	s.step(n, Persisted{Writes: []uint64{p.Write}})
}

func (s *sim) dial(n *simNode) {
	if n.out != 0 || s.noDial {
		return
	}
	s.nextID++
	id := s.nextID
	peer := s.peerOf(n)
	s.conns[id] = [2]*simNode{n, peer}
	n.out = id
	s.step(peer, Connected{Peer: n.name, Conn: id, Outbound: false})
	s.step(n, Connected{Peer: peer.name, Conn: id, Outbound: true})
}

func (s *sim) cut(id ConnID) {
	ends, ok := s.conns[id]
	if !ok {
		return
	}
	delete(s.conns, id)
	if ends[0].out == id {
		ends[0].out = 0
	}
	s.counts["cut"]++
	s.step(ends[0], Disconnected{Peer: ends[1].name, Conn: id})
	s.step(ends[1], Disconnected{Peer: ends[0].name, Conn: id})
}

func (s *sim) crash(n *simNode) {
	s.counts["crash"]++
	var ids []ConnID
	for id, ends := range s.conns {
		if ends[0] == n || ends[1] == n {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		s.cut(id)
	}
	n.unsynced = nil
	// A rotation in flight is durable or not: the disk's own key chain
	// says which keys are current.
	all := append([]*identity.Keys{n.keys}, n.retired...)
	for _, k := range n.rotating {
		all = append(all, k)
	}
	n.rotating = nil
	var last []byte
	for _, k := range n.disk.keys {
		if k.Station == n.name {
			last = k.Card
		}
	}
	if last != nil {
		card, err := identity.ParseCard(last)
		if err != nil {
			s.t.Fatal(err)
		}
		n.retired = nil
		for _, k := range all {
			if k.SignPublic().Equal(card.SignKey) {
				n.keys, n.card = k, card
			} else {
				n.retired = append(n.retired, k)
			}
		}
	}
	core, err := New(testConfig(Config{MaxBatch: 8, MaxBatchBytes: 64 << 10, Window: 32, Retired: n.retired}), n.keys, n.disk.snapshot(n.name))
	if err != nil {
		s.t.Fatalf("%s does not restart from its disk: %v", n.name, err)
	}
	n.core = core
}

// deliver moves one packet: the oldest, or with faults a random one, which
// may also be duplicated, corrupted, or dropped with its connection.
func (s *sim) deliver() {
	if len(s.net) == 0 {
		return
	}
	i := 0
	if s.delay != nil {
		// The first frame due; with none due yet, the clock moves on to
		// the earliest arrival.
		i = slices.IndexFunc(s.net, func(p packet) bool { return !p.at.After(s.now) })
		if i < 0 {
			i = 0
			for j, p := range s.net {
				if p.at.Before(s.net[i].at) {
					i = j
				}
			}
			s.now = s.net[i].at
		}
	}
	if s.faults && s.rng.IntN(4) == 0 {
		i = s.rng.IntN(len(s.net))
		if i != 0 {
			s.counts["reorder"]++
		}
	}
	p := s.net[i]
	if s.drop[p.conn] || s.lose != nil && s.lose(p) {
		s.net = append(s.net[:i], s.net[i+1:]...)
		return
	}
	if s.faults && s.rng.IntN(10) == 0 {
		s.counts["duplicate"]++
		s.net = append(s.net, p)
	}
	s.net = append(s.net[:i], s.net[i+1:]...)
	if _, alive := s.conns[p.conn]; !alive {
		return
	}
	if s.faults && s.rng.IntN(40) == 0 {
		s.counts["drop"]++
		s.cut(p.conn) // over a stream, a lost frame is a lost connection
		return
	}
	data := p.data
	if s.faults && s.rng.IntN(40) == 0 {
		s.counts["corrupt"]++
		data = bytes.Clone(data)
		data[s.rng.IntN(len(data))] ^= byte(1 + s.rng.IntN(255))
	}
	ev := FrameIn{Peer: p.from.name, Conn: p.conn, Data: data}
	if s.rng.IntN(2) == 0 {
		// Half the frames arrive prepared, as the station's reader does.
		ev.Pre = Prepare(data, p.from.keys.SignPublic(), p.to.keys)
	}
	s.step(p.to, ev)
}

func (s *sim) request(n *simNode, build func(id uint64) Event) uint64 {
	s.nextReq++
	s.step(n, build(s.nextReq))
	return s.nextReq
}

func textBody(i int) []byte {
	b, _ := json.Marshal(TextBody{Text: fmt.Sprintf("message %d", i), Lang: "en"})
	return b
}

// settle runs without faults until nothing is left to do.
func (s *sim) settle(limit int) {
	s.faults = false
	for i := 0; i < limit; i++ {
		for _, n := range s.nodes {
			s.dial(n)
		}
		busy := len(s.net) > 0
		for _, n := range s.nodes {
			busy = busy || len(n.unsynced) > 0
			s.sync(n)
		}
		s.deliver()
		if !busy {
			return
		}
	}
	for _, n := range s.nodes {
		s.t.Logf("%s: refused %v, channels %+v, unsynced %d, net %d", n.name, n.core.Stats.Refused, n.core.Channels(), len(n.unsynced), len(s.net))
		alerts := 0
		for _, p := range n.unsynced {
			alerts += len(p.Batch.Alerts)
		}
	}
	s.t.Fatalf("did not settle within %d steps", limit)
}

func newSim(t *testing.T, seed uint64) *sim {
	s := &sim{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), now: time.Unix(1_800_000_000, 0),
		conns: map[ConnID][2]*simNode{}, counts: map[string]int{}, lastAt: map[ConnID]time.Time{}}
	a, b := newSimNode(t, "ALPHA"), newSimNode(t, "BRAVO")
	s.nodes = []*simNode{a, b}
	s.request(a, func(id uint64) Event { return AddPeer{ID: id, Card: b.card} })
	s.request(b, func(id uint64) Event { return AddPeer{ID: id, Card: a.card} })
	s.settle(100)
	for _, ch := range []string{"ops", "leaders"} {
		s.request(a, func(id uint64) Event { return Propose{ID: id, Channel: ch, Peer: "BRAVO", Level: channel.Staff} })
		s.settle(1000)
		req := s.request(b, func(id uint64) Event { return Accept{ID: id, Channel: ch} })
		s.settle(1000)
		if d := b.done[req]; d.Err != nil {
			t.Fatalf("accept %s: %v", ch, d.Err)
		}
	}
	for _, n := range s.nodes {
		for _, ci := range n.core.Channels() {
			if ci.Agreement != record.Active {
				t.Fatalf("%s: channel %s is %s after setup", n.name, ci.ID, ci.State)
			}
		}
	}
	return s
}

// TestCoreSeededFaults drives two cores with a seeded schedule of drops,
// duplicates, reorders, corruption, cut connections and crashes that lose
// unsynced writes, then checks the invariants of docs/PROTOCOL.md.
func TestCoreSeededFaults(t *testing.T) {
	seeds := make([]uint64, 0, *simSeeds)
	for i := 1; i <= *simSeeds; i++ {
		seeds = append(seeds, uint64(i))
	}
	if *simSeed != 0 {
		seeds = []uint64{*simSeed}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			cryptotest.SetGlobalRandom(t, seed)
			s := newSim(t, seed)
			defer func() {
				if t.Failed() {
					t.Logf("replay: go test ./internal/protocol -run 'TestCoreSeededFaults/^%d$' -sim.seed %d", seed, seed)
				}
			}()
			runFaults(t, s)
		})
	}
}

func runFaults(t *testing.T, s *sim) {
	s.faults = true
	msg := 0
	chans := []string{"ops", "leaders"}
	for i := 0; i < *simSteps; i++ {
		n := s.nodes[s.rng.IntN(2)]
		switch r := s.rng.IntN(100); {
		case r < 20:
			msg++
			m := msg
			ch := chans[s.rng.IntN(2)]
			prec := envelope.Precedences[s.rng.IntN(4)]
			s.request(n, func(id uint64) Event {
				return Submit{ID: id, Channel: ch, Kind: envelope.Text, Precedence: prec, Body: textBody(m)}
			})
		case r < 23:
			// Acknowledge the newest entry received from the peer, if any.
			ch := chans[s.rng.IntN(2)]
			if have := len(n.disk.entries[ch+"/"+s.peerOf(n).name]); have > 1 {
				body, _ := json.Marshal(AckBody{Of: uint64(have), By: "duty officer"})
				s.request(n, func(id uint64) Event {
					return Submit{ID: id, Channel: ch, Kind: envelope.Ack, Precedence: envelope.Flash, Body: body}
				})
			}
		case r < 50:
			if len(n.unsynced) > 0 && s.rng.IntN(2) == 0 {
				// As the station's loop does when the writer takes a
				// group: checkpoints and receipts are signed ahead.
				s.step(n, Writing{})
			}
			s.sync(n)
		case r < 85:
			s.deliver()
		case r < 92:
			s.dial(n)
		case r < 94:
			if n.out != 0 {
				s.cut(n.out)
			}
		case r < 95:
			s.crash(n)
		case r < 97:
			// Time passes: deadlines, reminders, forwards, operator
			// checks and link tests fire.
			s.counts["time"]++
			s.now = s.now.Add(time.Duration(s.rng.IntN(25*60)) * time.Second)
			s.step(n, Tick{})
		case r < 98:
			s.counts["clock jump"]++
			n.skew += time.Duration(s.rng.IntN(4*3600)-2*3600) * time.Second
		case r < 99 && s.rng.IntN(20) == 0 && len(n.rotating) == 0:
			// The station changes its keys (docs/PROTOCOL.md, "Key
			// rotation"), under the same faults.
			s.counts["rotation"]++
			nk, card, ev := s.rotation(n, identity.ReasonRotate, n.name+":1")
			if n.cards == nil {
				n.cards = map[string]*identity.Card{}
			}
			n.cards[string(nk.SignPublic())] = card
			s.request(n, func(id uint64) Event {
				if n.rotating == nil {
					n.rotating = map[uint64]*identity.Keys{}
				}
				n.rotating[id] = nk
				return ev(id)
			})
		}
	}
	s.settle(200000)
	for _, n := range s.nodes {
		t.Logf("%s: %+v out=%d", n.name, n.core.Channels(), n.out)
	}
	checkInvariants(t, s)
	for _, n := range s.nodes {
		if len(n.core.Stats.Refused) > 0 && s.counts["corrupt"] == 0 && s.counts["reorder"] == 0 {
			t.Fatalf("%s refused frames with no corruption or reordering: %v", n.name, n.core.Stats.Refused)
		}
	}
	t.Logf("%d messages, faults %v, refused %v, duplicates %d/%d", msg, s.counts, s.nodes[1].core.Stats.Refused,
		s.nodes[0].core.Stats.Duplicates, s.nodes[1].core.Stats.Duplicates)
}

func checkInvariants(t *testing.T, s *sim) {
	t.Helper()
	for _, n := range s.nodes {
		peer := s.peerOf(n)
		for _, ch := range []string{"ops", "leaders"} {
			k := ch + "/" + n.name
			mine, theirs := n.disk.entries[k], peer.disk.entries[k]
			// Identical logs: after settling, the receiver holds exactly
			// the author's log, byte for byte, index for index.
			if len(theirs) != len(mine) {
				t.Fatalf("log %s: author holds %d entries, receiver %d", k, len(mine), len(theirs))
			}
			for i := range mine {
				if !bytes.Equal(mine[i].Raw, theirs[i].Raw) || theirs[i].Index != uint64(i+1) {
					t.Fatalf("log %s differs at index %d", k, i+1)
				}
			}
			// Every entry is receipted, and the receipt verifies against both keys.
			l := n.disk.logs[k]
			if l == nil || l.ReceiptSize != uint64(len(mine)) {
				t.Fatalf("log %s: %d entries, receipt covers %v", k, len(mine), l)
			}
			if len(mine) > 0 {
				// Signed by the author's key at that size and cosigned by
				// any of the receiver's keys (either may have rotated).
				cp, err := openCosigned(l.Receipt, n.core.ownVerifiers(), peer.core.ownCosigners())
				if err != nil {
					t.Fatalf("log %s: stored receipt: %v", k, err)
				}
				if !bytes.Equal(cp.Root, mine[len(mine)-1].Root) {
					t.Fatalf("log %s: receipt root does not match", k)
				}
			}
		}
		// Every send that returned is in the log, once, at its index.
		seen := map[string]bool{}
		for _, id := range n.sent {
			if seen[id] {
				t.Fatalf("%s: entry %s completed twice", n.name, id)
			}
			seen[id] = true
			var idx uint64
			parts := strings.Split(id, "/")
			fmt.Sscanf(parts[2], "%d", &idx)
			es := peer.disk.entries[parts[0]+"/"+parts[1]]
			if uint64(len(es)) < idx {
				t.Fatalf("%s: send of %s returned but the peer never received it", n.name, id)
			}
		}
	}
}

// TestGroupCommitOneFrame: entries made durable by one Persisted event (a
// group commit of several requests) go to the peer in one entries frame
// under one checkpoint, not one frame and one signature each; the peer
// receipts them with one receipt, and every request completes.
func TestGroupCommitOneFrame(t *testing.T) {
	s := newSim(t, 1)
	a, b := s.nodes[0], s.nodes[1]
	s.net = nil
	const n = 5
	var reqs []uint64
	for i := range n {
		reqs = append(reqs, s.request(a, func(id uint64) Event {
			return Submit{ID: id, Channel: "ops", Kind: envelope.Text, Precedence: envelope.Flash, Body: textBody(i)}
		}))
	}
	if len(a.unsynced) != n {
		t.Fatalf("%d writes waiting, want %d", len(a.unsynced), n)
	}
	var ws []uint64
	for _, p := range a.unsynced {
		a.disk.apply(t, p.Batch)
		ws = append(ws, p.Write)
	}
	a.unsynced = nil
	s.step(a, Persisted{Writes: ws})
	var frames []*Frame
	for _, p := range s.net {
		if f, err := DecodeFrame(p.data); err == nil && p.from == a && f.Type == FrameEntries {
			frames = append(frames, f)
		}
	}
	if len(frames) != 1 || len(frames[0].Entries) != n {
		t.Fatalf("entries frames sent: %d (want 1 of %d entries)", len(frames), n)
	}
	for _, r := range reqs {
		if d, ok := a.done[r]; !ok || d.Err != nil {
			t.Fatalf("request %d: done %v, %v", r, ok, d.Err)
		}
	}
	receipts := 0
	for range 10 {
		for _, p := range s.net {
			if f, err := DecodeFrame(p.data); err == nil && p.from == b && f.Type == FrameReceipt && f.Channel == "ops" {
				receipts++
			}
		}
		s.deliver()
		s.sync(b)
	}
	if receipts != 1 {
		t.Errorf("%d receipts from the peer, want 1", receipts)
	}
	s.settle(100)
	for _, ci := range a.core.Channels() {
		if ci.ID == "ops" && ci.Delivered != ci.Written {
			t.Errorf("ops: %d written, %d delivered", ci.Written, ci.Delivered)
		}
	}
}

// TestAcknowledgedTimersCompacted: waiting messages take no timer each in
// the core's heap (one per queue of a channel's ladder steps, waits.go),
// and the records and queue places of acknowledged messages do not pile
// up until they would fall due (ladder timers did, about 250 bytes a
// message, found by a ten-minute soak).
func TestAcknowledgedTimersCompacted(t *testing.T) {
	s := newSim(t, 2)
	a, b := s.nodes[0], s.nodes[1]
	const n = 3000
	base := len(a.core.timers)
	for i := range n {
		s.request(a, func(id uint64) Event {
			return Submit{ID: id, Channel: "ops", Kind: envelope.Text, Precedence: envelope.Flash, Body: textBody(i)}
		})
		if i%100 == 99 {
			s.settle(1000)
		}
	}
	s.settle(1000)
	held := func(x *simNode) (recs, queued int) {
		for _, cs := range x.core.channels {
			for _, l := range cs.waits {
				recs += len(l.recs)
			}
			for _, q := range cs.queues {
				queued += len(q.idx)
			}
		}
		return recs, queued
	}
	if got := len(a.core.timers); got > base+4 {
		t.Errorf("%d timers for %d messages waiting, %d before: want no timer each", got, n, base)
	}
	if recs, queued := held(a); recs < n || queued < n {
		t.Fatalf("%d records and %d queued for %d messages waiting, want one each", recs, queued, n)
	}
	var first uint64
	for _, ci := range b.core.Channels() {
		if ci.ID == "ops" {
			first = ci.Received - n + 1
		}
	}
	for i := range uint64(n) {
		ack, _ := json.Marshal(AckBody{Of: first + i, By: "duty"})
		s.request(b, func(id uint64) Event {
			return Submit{ID: id, Channel: "ops", Kind: envelope.Ack, Precedence: envelope.Routine, Body: ack}
		})
		if i%100 == 99 {
			s.settle(1000)
		}
	}
	s.settle(1000)
	for _, x := range []*simNode{a, b} {
		if got := len(x.core.timers); got > base+2*1024 {
			t.Errorf("%s: %d timers after all %d messages were acknowledged", x.name, got, n)
		}
		if recs, queued := held(x); recs > 2*1024 || queued > 2*1024 {
			t.Errorf("%s: %d records and %d queued after all %d messages were acknowledged", x.name, recs, queued, n)
		}
		for _, cs := range x.core.channels {
			if cs.awaiting != [2]int{} {
				t.Errorf("%s %s: %v still awaiting", x.name, cs.rec.ID, cs.awaiting)
			}
		}
	}
}

// TestSignedWhileWriting: told that a write is under way (Writing), the
// core signs then the checkpoint the write's durability will send and the
// receipt it will give, and sends those very bytes once the write is
// durable. A receipt signed ahead with a key rotated before the write
// ended is cosigned again with the new key.
func TestSignedWhileWriting(t *testing.T) {
	s := newSim(t, 1)
	a, b := s.nodes[0], s.nodes[1]
	s.net = nil
	s.request(a, func(id uint64) Event {
		return Submit{ID: id, Channel: "ops", Kind: envelope.Text, Precedence: envelope.Flash, Body: textBody(1)}
	})
	s.step(a, Writing{})
	m := &a.core.channels["ops"].mine
	ahead := m.presigned
	if ahead.signed == nil || ahead.size != m.size {
		t.Fatalf("after Writing, the checkpoint signed ahead is at %d (%d bytes); want the log's size %d", ahead.size, len(ahead.signed), m.size)
	}
	// Only the entries, sent ahead to be checked while the write goes on,
	// with no checkpoint: the one signed ahead stays here until the
	// write is durable; nothing that counts leaves.
	for _, p := range s.net {
		if f, err := DecodeFrame(p.data); err != nil || f.Type != FrameAhead || len(f.Checkpoint) != 0 {
			t.Fatalf("sent before the write was durable: %+v, %v; want only the entries sent ahead, with no checkpoint", f, err)
		}
	}
	if len(s.net) != 1 || a.core.Stats.SentAhead != 1 {
		t.Fatalf("%d frames sent while writing, SentAhead %d; want the one frame sent ahead", len(s.net), a.core.Stats.SentAhead)
	}
	s.sync(a)
	sent := func(from *simNode, typ FrameType) *Frame {
		t.Helper()
		for _, p := range s.net {
			if f, err := DecodeFrame(p.data); err == nil && p.from == from && f.Type == typ && f.Channel == "ops" {
				return f
			}
		}
		t.Fatalf("%s sent no frame of type %d", from.name, typ)
		return nil
	}
	// Once durable, only the word that it is, with the checkpoint signed
	// ahead.
	if f := sent(a, FrameDurable); f.From != ahead.size || f.Author != a.name || !bytes.Equal(f.Checkpoint, ahead.signed) {
		t.Errorf("durable frame %+v, want %s's log durable to %d under the checkpoint signed ahead:\n%s", f, a.name, ahead.size, ahead.signed)
	}

	// BRAVO holds the entry sent ahead and takes it on the durable frame;
	// while it is written, it cosigns ahead, then rotates its keys.
	s.deliver()
	if len(b.unsynced) != 0 {
		t.Fatal("BRAVO took the entry sent ahead before it was durable")
	}
	s.deliver()
	if b.core.Stats.TakenAhead != 1 {
		t.Fatalf("BRAVO took %d frames sent ahead, want 1", b.core.Stats.TakenAhead)
	}
	if len(b.unsynced) == 0 {
		t.Fatal("BRAVO has nothing to write")
	}
	s.step(b, Writing{})
	oldKey := b.card.SignKey
	_, card, ev := s.rotation(b, identity.ReasonRotate, b.name+":2")
	req := s.request(b, ev)
	if d, ok := b.done[req]; ok && d.Err != nil {
		t.Fatalf("rotation refused: %v", d.Err)
	}
	s.net = nil
	s.sync(b) // the entry's write: its receipt goes out
	receipt := sent(b, FrameReceipt).Checkpoint
	if _, _, err := transcript.OpenCheckpoint(receipt, transcript.NewCosignVerifier(b.name, card.SignKey)); err != nil {
		t.Errorf("the receipt given after the rotation is not cosigned with the new key: %v", err)
	}
	for _, ov := range transcript.ReceiptVerifiers(b.name, oldKey) {
		if _, _, err := transcript.OpenCheckpoint(receipt, ov); err == nil {
			t.Error("the receipt given after the rotation is cosigned with the key rotated away")
		}
	}
}
