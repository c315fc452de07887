// Package station runs a station: it wires the protocol core to a store,
// the direct and relay paths and the clock, as one process. One goroutine
// owns the core; every other goroutine (peer connections, API handlers, the
// CLI in offline mode) talks to it through requests. Writes are
// group-committed: all the batches the core produced while the previous
// write was syncing go to disk in one transaction. The directory it runs
// from is package stationdir's.
package station

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"hotline/internal/call"
	"hotline/internal/codebook"
	"hotline/internal/desk"
	"hotline/internal/envelope"
	"hotline/internal/home"
	"hotline/internal/identity"
	"hotline/internal/link"
	"hotline/internal/media"
	"hotline/internal/ops"
	"hotline/internal/protocol"
	"hotline/internal/quiet"
	"hotline/internal/record"
	"hotline/internal/stationdir"
	"hotline/internal/store"
)

// Station is an open station: its core, store and, once Run is called,
// its links.
type Station struct {
	*desk.Desk // the operations: ops.Ops but for what the process itself does
	Dir        string
	Cfg        *stationdir.Config
	Keys       *identity.Keys
	OwnCard    *identity.Card
	Store      store.Store
	Log        *slog.Logger

	// handshakeLog writes what strangers cause (refused handshakes on the
	// peer port) at most once a minute per message.
	handshakeLog *quiet.Logger

	core     *protocol.Core
	lock     *os.File
	reqs     chan request
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
	err      error // why the loop stopped, if it failed
	failc    chan error
	leaser   store.Leaser // the store's lease, when several processes share the store
	leaseAt  atomic.Int64 // when the lease was last renewed (Unix ns)
	// leaseMono is the same, with this process's monotonic clock: what
	// sending ahead is bounded by (aheadLease).
	leaseMono atomic.Pointer[time.Time]

	// owned by the loop goroutine
	nextID    uint64
	waiters   map[uint64]chan protocol.Done
	persists  []protocol.Persist
	lazy      []protocol.Persist // receipts, written with the next batch or after lazyDelay
	lazySince time.Time
	held      map[uint64][]protocol.Notify // notifications waiting for their write

	restored bool // the restored marker is in the directory; removed once the core stops holding

	// heldSizes is how much of each log (channel/author) the store holds,
	// as far as this process has written or read it, or is writing: never
	// less than it holds. The equivocation check reads the store only for
	// frames that reach into it.
	heldMu    sync.Mutex
	heldSizes map[string]uint64

	metrics  *metrics
	dbFile   string      // the SQLite database, "" for PostgreSQL
	dbInfo   os.FileInfo // the database file as opened, to tell when it is gone or replaced
	freeRead freeReading // the latest reading of the free space on dbFile's filesystem (disk.go)
	quotas   quotas      // what each peer may make this station store (quota.go)
	told     told        // when each peer was last told that its entries wait (admit.go)

	bg         sync.WaitGroup // counts the deconfliction detector's goroutine
	mu         sync.Mutex
	conns      map[protocol.ConnID]conn
	transports []transport        // the ways to reach peers (transports.go)
	pins       map[string]string  // string(ed25519 key) → peer name: each peer's current key
	chainKeys  map[string]string  // every key of each peer's chain not revoked → peer name, for relay mail only
	peerHosts  map[string]string  // the host of each endpoint in a peer's card → peer name
	sealTo     map[string]sealKey // peer name → its pinned card and HPKE key, for relay deposits
	retired    []*identity.Keys   // this station's earlier keys (keys/retired); a key change puts the ones it replaces first
	nextKeys   *identity.Keys     // the new keys while a key change is under way
	rotMu      sync.Mutex         // one key change at a time
	books      []*codebook.Codebook
	subs       map[chan protocol.Notify]struct{}
	wakers     map[*waker]struct{}
	cert       tls.Certificate
	peerAddr   net.Addr
	nextConn   atomic.Uint64
	media      *media.Engine // the call media while Run runs (media.go)
	// recorders: the calls being recorded now, by id (recording.go).
	recMu     sync.Mutex
	recorders map[string]*callRecorder
}

// conn is a connection the core sends on: a direct link, one side of a
// relay path, or a connection of any other transport's path.
type conn interface {
	Send(p []byte, closeAfter bool)
	Close() error
}

// scheduledConn is a conn that schedules frames by stream and urgency
// (link.Conn): a channel's frames in order, control frames and urgent
// channels first.
type scheduledConn interface {
	SendOut(link.Out)
}

// deadlineConn is a conn that can drop a frame that would leave too late
// (link.Conn): it looks at the clock just before it writes the frame.
type deadlineConn interface {
	SendBefore(p []byte, until time.Time)
}

// sendBefore sends a frame that must not leave at or after a.Until (one
// of entries sent ahead, under the lease): checked as late as the
// connection can, just before the write to the socket, so that a process
// paused with the frame queued drops it when it runs again.
func (s *Station) sendBefore(c conn, a protocol.Send) {
	if d, ok := c.(deadlineConn); ok && !a.Close {
		d.SendBefore(a.Data, a.Until)
		return
	}
	if time.Now().Before(a.Until) {
		c.Send(a.Data, a.Close)
	}
}

type request struct {
	build func(id uint64) protocol.Event // for core events
	fn    func()                         // or a function run on the loop
	reply chan protocol.Done
}

// StandbyFile is the file of a station directory that says, while it is
// there, that the hotline run holding the directory stands by for a
// station active in another process (docs/OPERATIONS.md, "Several
// machines"). It holds that process's id.
const StandbyFile = "standby"

// Open opens a station directory and takes its lock. It fails with
// stationdir.ErrLocked if another process has it open, and, on a store that several
// processes share (PostgreSQL), with ErrStandby if another process holds
// the station's lease.
func Open(ctx context.Context, dir string, log *slog.Logger) (*Station, error) {
	return open(ctx, dir, log, false)
}

// OpenStandby is Open for hotline run: on a shared store it waits, as a
// standby, until the station's lease is free, and only then loads the
// store and restores the core. On SQLite it is Open.
func OpenStandby(ctx context.Context, dir string, log *slog.Logger) (*Station, error) {
	return open(ctx, dir, log, true)
}

// restoreCore makes the core from the store's snapshot, with this
// station's keys (and those it retired), codebooks, whether it was
// restored from a backup and whether its card lists relays. The
// snapshot is garbage once the core holds what it needs of it; large says
// it was a large one (the entries of many messages waiting for
// acknowledgement), for the caller to give back to the system at once
// once it drops it. restoreGC ends the frequent collection of the load.
func restoreCore(snap *record.Snapshot, keys *identity.Keys, retired []*identity.Keys, books []*codebook.Codebook, restored, relays bool, restoreGC func()) (core *protocol.Core, large bool, err error) {
	// The entries that wait for acknowledgement come one at a time, as
	// the core takes them; counted on the way.
	waiting := 0
	if each := snap.EachOutstanding; each != nil {
		snap.EachOutstanding = func(f func(*record.Waiting)) error {
			return each(func(w *record.Waiting) { waiting++; f(w) })
		}
	}
	cfg := protocol.DefaultConfig
	for _, b := range books {
		cfg.Books = append(cfg.Books, b)
	}
	cfg.Bodies = desk.Bodies
	cfg.Retired = retired
	cfg.Restored = restored
	cfg.Relays = relays
	core, err = protocol.New(cfg, keys, snap)
	restoreGC()
	return core, waiting+len(snap.Outstanding)+len(snap.Escalations)+len(snap.Undelivered) > largeSnapshot, err
}

func open(ctx context.Context, dir string, log *slog.Logger, standby bool) (*Station, error) {
	cfg, err := stationdir.LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	// The keys are checked now (a key readable by others is refused before
	// anything else), unless a key change was interrupted: finishKeys
	// then completes it from what the store says.
	if _, err := os.Stat(filepath.Join(dir, "keys", "next")); err != nil {
		if _, err := home.LoadKeys(filepath.Join(dir, "keys")); err != nil {
			return nil, err
		}
	}
	if log == nil {
		log = Logger()
	}
	lock, err := home.Lock(dir, stationdir.ErrLocked)
	if err != nil {
		return nil, err
	}
	st, err := stationdir.OpenConfigStore(ctx, dir, cfg)
	if err != nil {
		lock.Close()
		return nil, err
	}
	leaser, _ := st.(store.Leaser)
	var renewed time.Time
	if leaser != nil {
		// While it stands by, this process says so in the directory it
		// holds (StandbyFile), so that a command on this machine can tell
		// it from an active process that does not answer; one left by a
		// standby that was killed goes now.
		marker := filepath.Join(dir, StandbyFile)
		os.Remove(marker)
		renewed, err = acquire(ctx, leaser, false, log.With("station", cfg.Name))
		if errors.Is(err, ErrStandby) && standby {
			home.WriteFile(marker, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
			renewed, err = acquire(ctx, leaser, true, log.With("station", cfg.Name))
			os.Remove(marker)
		}
		if err != nil {
			st.Close()
			lock.Close()
			return nil, err
		}
	}
	// Loading the store makes garbage as fast as it reads (the rows of
	// many waiting entries scanned, the snapshot's slices grown): the
	// runtime collects more often until the core is restored, so that the
	// peak stays nearer what is live.
	prevGC := debug.SetGCPercent(loadGC)
	restoreGC := sync.OnceFunc(func() { debug.SetGCPercent(prevGC) })
	defer restoreGC()
	// A failure from here on gives back the lease, the store and the lock.
	fail := func(err error) (*Station, error) {
		if leaser != nil {
			leaser.Release(context.Background())
		}
		st.Close()
		lock.Close()
		return nil, err
	}
	snap, err := st.Load(ctx, cfg.Name)
	if err != nil {
		return fail(fmt.Errorf("loading store: %w", err))
	}
	// On a shared store, a key change made on another machine comes with
	// the store (keyvault.go). A key change a crash interrupted is then
	// finished (or discarded) before the keys are used: the store says
	// which are current.
	err = takeKeys(ctx, dir, cfg.Name, st, log)
	var keys *identity.Keys
	var retired []*identity.Keys
	if err == nil {
		keys, retired, err = stationdir.FinishKeys(dir, cfg.Name, snap)
		if _, kerr := stationdir.LoadKEK(dir); err != nil && leaser != nil && errors.Is(kerr, stationdir.ErrNoKEK) {
			err = fmt.Errorf("%w; this machine cannot open the keys the store keeps for the station's machines: copy keys/store.kek from the active machine (mode 0600)", err)
		}
	}
	var card *identity.Card
	if err == nil {
		card, err = stationdir.ReadCard(dir)
		if err != nil {
			err = fmt.Errorf("reading own card: %w", err)
		} else if !card.SignKey.Equal(keys.SignPublic()) || card.Name != keys.Name {
			err = fmt.Errorf("%s/card does not match the keys in %s/keys", dir, dir)
		}
	}
	var books []*codebook.Codebook
	if err == nil {
		books, _, err = loadCodebooks(ctx, st)
	}
	if err == nil && leaser != nil {
		err = sealKeys(ctx, dir, cfg.Name, st, log)
	}
	if err != nil {
		return fail(err)
	}
	_, err = os.Stat(filepath.Join(dir, stationdir.RestoredFile))
	restored := err == nil
	core, large, err := restoreCore(snap, keys, retired, books, restored, len(card.Relays) > 0, restoreGC)
	// A large snapshot goes back to the system at once, not left
	// resident until the runtime returns it in its own time.
	snap = nil
	if large {
		debug.FreeOSMemory()
	}
	if err != nil {
		return fail(fmt.Errorf("restoring state: %w", err))
	}
	if restored {
		log.Warn("restored from a backup: no channel appends until its peer has said what it holds of this station's logs", "station", cfg.Name)
	}
	s := &Station{
		recorders: map[string]*callRecorder{},
		Dir:       dir, Cfg: cfg, Keys: keys, OwnCard: card, Store: st, Log: log.With("station", cfg.Name),
		core: core, lock: lock, restored: restored, leaser: leaser,
		reqs: make(chan request, 1024), stop: make(chan struct{}), done: make(chan struct{}), failc: make(chan error, 1),
		waiters: map[uint64]chan protocol.Done{}, held: map[uint64][]protocol.Notify{},
		conns: map[protocol.ConnID]conn{}, pins: map[string]string{}, sealTo: map[string]sealKey{}, retired: slices.Clone(retired),
		subs: map[chan protocol.Notify]struct{}{}, books: books,
	}
	s.handshakeLog = quiet.New(s.Log)
	s.Desk = desk.New(s, st, cfg.Name, cfg.Party, s.Log, s.done)
	s.transports = newTransports(s)
	s.refreshPins()
	s.metrics = newMetrics(s, core.Channels())
	if f, ok := stationdir.SQLiteFile(dir, cfg.Store); ok {
		s.dbFile = f
		s.dbInfo, _ = os.Stat(f)
	}
	if leaser != nil {
		s.confirmed(renewed)
	}
	go s.loop()
	if leaser != nil {
		go s.keepLease(leaser, renewed)
	}
	return s, nil
}

// Close stops the station and releases its directory.
func (s *Station) Close() error {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
	s.bg.Wait()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	if s.leaser != nil && !errors.Is(s.err, store.ErrFenced) {
		// Hand over at once rather than when the lease runs out.
		ctx, cancel := context.WithTimeout(context.Background(), LeaseTTL)
		s.leaser.Release(ctx)
		cancel()
	}
	err := s.Store.Close()
	s.lock.Close()
	return err
}

// Err reports why the station stopped by itself, if it did.
func (s *Station) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// Done is closed when the station's loop has stopped.
func (s *Station) Done() <-chan struct{} { return s.done }

// Call runs a core event built with a fresh request id and waits for its
// completion.
func (s *Station) Call(ctx context.Context, build func(id uint64) protocol.Event) (protocol.Result, error) {
	reply, err := s.queue(ctx, build)
	if err != nil {
		return protocol.Result{}, err
	}
	return s.await(ctx, reply)
}

// queue hands a core event to the loop, which takes events in the order
// they were queued, and returns where its completion will come.
func (s *Station) queue(ctx context.Context, build func(id uint64) protocol.Event) (chan protocol.Done, error) {
	if err := s.room(); err != nil {
		return nil, err
	}
	reply := make(chan protocol.Done, 1)
	select {
	case s.reqs <- request{build: build, reply: reply}:
		return reply, nil
	case <-s.done:
		return nil, ops.ErrStopped
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// await waits for the completion of a queued event.
func (s *Station) await(ctx context.Context, reply chan protocol.Done) (protocol.Result, error) {
	select {
	case d := <-reply:
		return d.Result, d.Err
	case <-s.done:
	case <-ctx.Done():
	}
	// The request may have completed at the same moment: its answer wins.
	select {
	case d := <-reply:
		return d.Result, d.Err
	default:
	}
	if ctx.Err() != nil {
		return protocol.Result{}, ctx.Err()
	}
	return protocol.Result{}, ops.ErrStopped
}

// event feeds an event with no reply.
func (s *Station) event(ev protocol.Event) {
	select {
	case s.reqs <- request{build: func(uint64) protocol.Event { return ev }}:
	case <-s.done:
	}
}

// inLoop runs f on the loop goroutine and waits for it.
// InLoop runs f with the core on the loop that owns it, and waits for it.
func (s *Station) InLoop(ctx context.Context, f func(*protocol.Core)) error {
	return s.inLoop(ctx, func() { f(s.core) })
}

func (s *Station) inLoop(ctx context.Context, f func()) error {
	reply := make(chan protocol.Done, 1)
	select {
	case s.reqs <- request{fn: f, reply: reply}:
	case <-s.done:
		return ops.ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-reply:
		return nil
	case <-s.done:
		return ops.ErrStopped
	}
}

// drainLimit bounds how many requests one turn of the loop takes before it
// hands what they produced to the writer: small enough that sealing the
// next messages overlaps writing and sending the previous ones.
const drainLimit = 16

// lazyDelay bounds how long a receipt-only batch waits for company.
const lazyDelay = 100 * time.Millisecond

// written is what the writer reports for one group of batches.
type written struct {
	group []protocol.Persist
	err   error
}

// loop owns the core. Writes are pipelined: one group of batches is being
// written by the writer goroutine while the loop goes on taking events;
// whatever the core asks to persist meanwhile forms the next group (group
// commit). Groups are written one at a time, in order.
func (s *Station) loop() {
	defer close(s.done)
	groups := make(chan []protocol.Persist)
	results := make(chan written, 1) // buffered: the loop may stop (lease lost) with a write in flight
	// started tells the loop that the writer has begun a group: while the
	// disk works, the core signs what the group's end will send
	// (protocol.Writing). Told only once the writer runs, so that the
	// signing never delays the write itself.
	started := make(chan struct{}, 1)
	var through uint64 // the last write of the group being written
	signAhead := func() {
		s.exec(s.core.Step(time.Now(), protocol.Writing{Through: through, Lease: s.aheadLease()}))
	}
	go s.writer(groups, started, results)
	defer close(groups)
	writing := false
	finish := func(w written) bool {
		writing = false
		writes := make([]uint64, len(w.group))
		for i, p := range w.group {
			notes := s.held[p.Write]
			delete(s.held, p.Write)
			if w.err == nil {
				s.notify(notes)
			}
			writes[i] = p.Write
		}
		s.exec(s.core.Step(time.Now(), protocol.Persisted{Writes: writes, Err: w.err}))
		if w.err != nil {
			s.err = w.err
			if errors.Is(w.err, store.ErrFenced) {
				s.Log.Error("write refused by the fencing token: another process took over the station; stopping", "err", w.err)
			} else {
				s.Log.Error("store write failed; stopping", "err", w.err)
			}
			return false
		}
		return true
	}
	// The core's own timers (deadlines, checks, link tests): one
	// time.Timer, set to the core's next wake-up after every turn.
	wake := time.NewTimer(time.Hour)
	defer wake.Stop()
	var wakeAt time.Time
	setWake := func() {
		next := s.core.NextWake()
		if next.Equal(wakeAt) {
			return
		}
		wakeAt = next
		if next.IsZero() {
			wake.Stop()
			return
		}
		wake.Reset(time.Until(next))
	}
	setWake()
	for {
		var timer <-chan time.Time
		if len(s.lazy) > 0 && !writing {
			timer = time.After(time.Until(s.lazySince.Add(lazyDelay)))
		}
		select {
		case r := <-s.reqs:
			s.handle(r)
		case <-started:
			signAhead()
		case w := <-results:
			select {
			case <-started: // a write quicker than the loop: Writing before Persisted
				signAhead()
			default:
			}
			if !finish(w) {
				return
			}
		case <-wake.C:
			wakeAt = time.Time{}
			s.exec(s.core.Step(time.Now(), protocol.Tick{}))
		case <-timer:
		case err := <-s.failc:
			s.err = err
			s.Log.Error("the station's lease is lost: another process may take over; stopping at once", "err", err)
			return
		case <-s.stop:
			if writing && !finish(<-results) {
				return
			}
			// Write what is left, synchronously, until nothing is.
			for s.persists, s.lazy = append(s.lazy, s.persists...), nil; len(s.persists) > 0; {
				group := s.persists
				s.persists = nil
				if !finish(written{group: group, err: s.apply(group)}) {
					return
				}
			}
			return
		}
	more:
		for i := 0; i < drainLimit; i++ {
			select {
			case r := <-s.reqs:
				s.handle(r)
			default:
				break more
			}
		}
		if !writing {
			if len(s.lazy) > 0 && (len(s.persists) > 0 || time.Since(s.lazySince) >= lazyDelay) {
				s.persists, s.lazy = append(s.lazy, s.persists...), nil
			}
			if len(s.persists) > 0 {
				writing = true
				through = 0
				for _, p := range s.persists {
					through = max(through, p.Write)
				}
				groups <- s.persists
				s.persists = nil
			}
		}
		setWake()
		if s.restored && !s.core.Holding() {
			s.restored = false
			os.Remove(filepath.Join(s.Dir, stationdir.RestoredFile))
			s.Log.Info("every channel's peer has spoken since the restore: appending again")
		}
	}
}

// writer applies groups of batches, one transaction each.
func (s *Station) writer(groups <-chan []protocol.Persist, started chan<- struct{}, results chan<- written) {
	for g := range groups {
		select {
		case started <- struct{}{}:
		default:
		}
		results <- written{group: g, err: s.apply(g)}
	}
}

func (s *Station) apply(group []protocol.Persist) error {
	merged := &record.Batch{}
	for _, p := range group {
		merged.Merge(p.Batch)
	}
	// Before the write, not after: the equivocation check's quick path
	// must never think the store holds less than it does (more is safe:
	// it then reads the store).
	for _, l := range merged.Logs {
		s.setHeld(l.Channel, l.Author, l.Size)
	}
	start := time.Now()
	err := s.Store.Apply(context.Background(), merged)
	s.metrics.applied(s, merged, time.Since(start), err)
	return err
}

func (s *Station) handle(r request) {
	if r.fn != nil {
		r.fn()
		r.reply <- protocol.Done{}
		return
	}
	var id uint64
	if r.reply != nil {
		s.nextID++
		id = s.nextID
		s.waiters[id] = r.reply
	}
	s.exec(s.core.Step(time.Now(), r.build(id)))
}

// exec carries out one step's actions. Notifications of a step that
// persisted something wait until that write is durable, so that an observer
// who reads on a notification finds the change; receipt-only (lazy) writes
// do not hold them back.
func (s *Station) exec(actions []protocol.Action) {
	var write uint64
	for _, a := range actions {
		if p, ok := a.(protocol.Persist); ok && !p.Lazy {
			write = p.Write
		}
	}
	var notes []protocol.Notify
	defer func() {
		if write != 0 && len(notes) > 0 {
			s.held[write] = notes
		} else {
			s.notify(notes)
		}
	}()
	for _, a := range actions {
		switch a := a.(type) {
		case protocol.Persist:
			if a.Lazy {
				if len(s.lazy) == 0 {
					s.lazySince = time.Now()
				}
				s.lazy = append(s.lazy, a)
			} else {
				s.persists = append(s.persists, a)
			}
		case protocol.Send:
			s.mu.Lock()
			c := s.conns[a.Conn]
			s.mu.Unlock()
			if sc, ok := c.(scheduledConn); ok {
				sc.SendOut(link.Out{Data: a.Data, Close: a.Close, Until: a.Until, Stream: a.Stream, Urgent: a.Urgent})
				break
			}
			switch {
			case c == nil:
			case a.Until.IsZero():
				c.Send(a.Data, a.Close)
			default:
				s.sendBefore(c, a)
			}
		case protocol.Load:
			go s.load(a)
		case protocol.Done:
			if w := s.waiters[a.ID]; w != nil {
				delete(s.waiters, a.ID)
				w <- a
			}
		case protocol.Notify:
			notes = append(notes, a)
		}
	}
}

// Notify tells the station's subscribers.
func (s *Station) Notify(notes ...protocol.Notify) { s.notify(notes) }

func (s *Station) notify(notes []protocol.Notify) {
	if len(notes) == 0 {
		return
	}
	for _, n := range notes {
		if n.What == "received" && (n.Kind == envelope.Notice || n.Kind == envelope.Report) {
			s.KickDetector()
		}
		if n.What == "received" && slices.Contains(call.Kinds, n.Kind) {
			s.KickMedia()
		}
		if n.What == "key" {
			s.refreshPins()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range notes {
		for ch := range s.subs {
			select {
			case ch <- n:
			default: // a slow observer misses notifications, never blocks the core
			}
		}
		for w := range s.wakers {
			if w.filter(n) {
				select {
				case w.ch <- struct{}{}:
				default: // already awake: one wake covers any number
				}
			}
		}
	}
}

type waker struct {
	filter func(protocol.Notify) bool
	ch     chan struct{}
}

// Wake returns a channel that receives a value after any notification
// filter accepts, until cancel is called. Wakes coalesce: unlike a
// subscription, which drops notifications an observer is too slow for,
// none is ever lost between two looks.
func (s *Station) Wake(filter func(protocol.Notify) bool) (<-chan struct{}, func()) {
	w := &waker{filter: filter, ch: make(chan struct{}, 1)}
	s.mu.Lock()
	if s.wakers == nil {
		s.wakers = map[*waker]struct{}{}
	}
	s.wakers[w] = struct{}{}
	s.mu.Unlock()
	return w.ch, func() {
		s.mu.Lock()
		delete(s.wakers, w)
		s.mu.Unlock()
	}
}

// load reads entries for the core (a peer's own log, sent back to it after
// its restore; this station's own log, to send again; a waiting entry's
// body, for its forward up the ladder) and reports them.
func (s *Station) load(a protocol.Load) {
	es, err := s.Store.Entries(context.Background(), a.Channel, a.Author, a.From, a.To)
	ev := protocol.Loaded{Peer: a.Peer, Conn: a.Conn, Channel: a.Channel, Author: a.Author, From: a.From, Ladder: a.Ladder, Err: err}
	for _, e := range es {
		ev.Entries = append(ev.Entries, e.Raw)
		if a.Ladder {
			ev.Bodies = append(ev.Bodies, e.Body)
		}
	}
	s.event(ev)
}

// Subscribe returns a channel of notifications until cancel is called.
func (s *Station) Subscribe() (<-chan protocol.Notify, func()) {
	ch := make(chan protocol.Notify, 256)
	s.mu.Lock()
	s.subs[ch] = struct{}{}
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		delete(s.subs, ch)
		s.mu.Unlock()
	}
}

// peerKey returns a pinned peer's signing key.
func (s *Station) peerKey(name string) (ed25519.PublicKey, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, n := range s.pins {
		if n == name {
			return ed25519.PublicKey(k), true
		}
	}
	return nil, false
}

func (s *Station) peerName(k ed25519.PublicKey) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name, ok := s.pins[string(k)]
	return name, ok
}

// Logger is the default logger: text to stderr.
func Logger() *slog.Logger { return slog.New(slog.NewTextHandler(os.Stderr, nil)) }

// largeSnapshot is the number of records in a snapshot past which its
// memory is given back to the system once the core is restored.
const largeSnapshot = 1 << 14

// loadGC is the garbage collector's target (GOGC) while the store loads.
const loadGC = 25
