package station

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"hotline/internal/identity"
	"hotline/internal/link"
	"hotline/internal/media"
	"hotline/internal/ops"
	"hotline/internal/protocol"
	"hotline/internal/relay"
)

// The relay path, a transport (transports.go). A station picks up its
// mail from the relays its own card lists, and deposits for a peer at the
// relays the peer's card lists. To the core, the relays between this
// station and a peer are one path, ranked after the direct one by prior,
// made of two connections as a direct link would be: an outbound one
// (this station's hello, entries and probes go out as deposits; the
// peer's status, receipts, resend requests and probe answers come back in
// mail) and an inbound one (the other way round). Each frame is sealed to
// the peer before it is deposited, and each mail is opened before its
// frame is sorted onto them by frame type (relayseal.go).

// relayConn is one of the two connections of a peer's relay path. Frames
// sent on it are deposited, in order, at the peer's relays.
type relayConn struct {
	rp     *relayPath
	queue  chan []byte
	closed chan struct{}
	once   sync.Once
}

func (c *relayConn) Send(p []byte, closeAfter bool) {
	select {
	case c.queue <- p:
	case <-c.closed:
		return
	default:
		// A peer too slow to drain: drop the path, as a direct link does.
		c.rp.down(fmt.Errorf("deposit queue full"))
		return
	}
	if closeAfter {
		c.rp.down(errors.New("closed by the core"))
	}
}

func (c *relayConn) Close() error {
	c.rp.down(errors.New("closed"))
	return nil
}

// relayPath is the relay path to one peer while it is up.
type relayPath struct {
	r        *relays
	peer     string
	card     *identity.Card // the peer's card when the path came up
	began    time.Time
	out, in  protocol.ConnID
	outC     *relayConn
	inC      *relayConn
	stop     chan struct{}
	downOnce sync.Once
}

func (rp *relayPath) down(err error) {
	rp.downOnce.Do(func() {
		close(rp.stop)
		rp.outC.once.Do(func() { close(rp.outC.closed) })
		rp.inC.once.Do(func() { close(rp.inC.closed) })
		rp.r.pathDown(rp, err)
	})
}

// deposit sends a connection's frames, in order, to the first of the
// peer's relays that takes them.
func (rp *relayPath) deposit(c *relayConn) {
	for {
		select {
		case <-c.closed:
			return
		case p := <-c.queue:
			if err := rp.r.deposit(rp.card, p); err != nil {
				rp.down(err)
				return
			}
		}
	}
}

// relays is the relay transport. It keeps this station's relay clients:
// one per relay, its own (to pick up from) and its peers' (to deposit
// at), redialed with backoff; and a relay path to each peer while a relay
// to deposit at and one to pick up from are connected.
type relays struct {
	s       *Station
	ctx     context.Context // set when it runs
	mu      sync.Mutex
	clients map[string]*relay.Client     // by relay key
	as      map[string]ed25519.PublicKey // by relay key: the key this station authenticated with there
	refs    map[string]identity.RelayRef
	own     map[string]bool // relays this station picks up from
	paths   map[string]*relayPath
	// presented: for each relay client, the key of each peer whose
	// statements it was given; chains: each peer's statements.
	presented map[*relay.Client]map[string]ed25519.PublicKey
	chains    map[string]chainOf
	// wait: for each peer, when its relay path may come up again, and
	// the backoff that set it (pathDown).
	wait    map[string]*pathWait
	refused map[string]relayRefusal // by relay key: relays refusing this station now
	redial  map[string]bool         // by relay key: closed because this station changed its keys; dial again at once
	// grants: by relay key, the media token of its connection now;
	// cards: the peers' cards as the last reconcile read them
	// (mediarelays.go).
	grants  map[string]media.Route
	cards   map[string]*identity.Card
	changed chan struct{}
	recon   sync.Mutex // one reconcile at a time
	logLimiter
}

// client returns the client of a relay, if connected, and the key this
// station authenticated with on it.
func (r *relays) client(key string) (*relay.Client, ed25519.PublicKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.clients[key], r.as[key]
}

// deposit seals a frame for the peer, to the HPKE key of its card as
// pinned now, and gives it to the first connected relay of that card,
// addressed to the peer's signing key as pinned now. If the peer changed
// its keys, its rotation statements are presented to the relay first,
// once per connection and change (relay.Client.Present): a relay that
// has not yet seen the peer connect with its new key follows them before
// it takes the deposit.
func (r *relays) deposit(card *identity.Card, p []byte) error {
	to, ok := r.s.sealFor(card.Name)
	if !ok {
		return fmt.Errorf("no card of %s to seal to", card.Name)
	}
	var errs []error
	var d *sealed
	for _, ref := range to.card.Relays {
		c, as := r.client(string(ref.Key))
		if c == nil {
			continue
		}
		if err := r.present(c, to.card); err != nil {
			errs = append(errs, fmt.Errorf("relay %s: %w", ref.Name, err))
			continue
		}
		var err error
		if d, err = r.seal(to, as, p, d); err != nil {
			return fmt.Errorf("sealing a deposit for %s: %w", card.Name, err)
		}
		ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
		err = c.Deposit(ctx, to.card.SignKey, d.payload)
		cancel()
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("relay %s: %w", ref.Name, err))
	}
	if len(errs) == 0 {
		return fmt.Errorf("no relay of %s is reachable", card.Name)
	}
	return errors.Join(errs...)
}

// present gives relay client c the rotation statements of the peer whose
// card is pinned now, unless it has them already.
func (r *relays) present(c *relay.Client, card *identity.Card) error {
	r.mu.Lock()
	done := r.presented[c][card.Name].Equal(card.SignKey)
	r.mu.Unlock()
	if done {
		return nil
	}
	stmts, err := r.statements(card)
	if err != nil {
		return err
	}
	if err := c.Present(card.SignKey, stmts); err != nil {
		return err
	}
	r.mu.Lock()
	if r.presented[c] != nil {
		r.presented[c][card.Name] = card.SignKey
	}
	r.mu.Unlock()
	return nil
}

// statements returns the rotation statements of a peer's key chain (none
// if it never changed its keys), read from the store once per key.
func (r *relays) statements(card *identity.Card) ([][]byte, error) {
	r.mu.Lock()
	c, ok := r.chains[card.Name]
	r.mu.Unlock()
	if ok && c.key.Equal(card.SignKey) {
		return c.stmts, nil
	}
	rows, err := r.s.Store.Keys(r.ctx, card.Name)
	if err != nil {
		return nil, fmt.Errorf("reading the key history of %s: %w", card.Name, err)
	}
	var stmts [][]byte
	for _, k := range rows {
		if len(k.Statement) > 0 {
			stmts = append(stmts, k.Statement)
		}
	}
	r.mu.Lock()
	r.chains[card.Name] = chainOf{key: card.SignKey, stmts: stmts}
	r.mu.Unlock()
	return stmts, nil
}

// chainOf is a peer's rotation statements as of its key.
type chainOf struct {
	key   ed25519.PublicKey
	stmts [][]byte
}

func newRelays(s *Station) *relays {
	return &relays{s: s, clients: map[string]*relay.Client{}, as: map[string]ed25519.PublicKey{}, refs: map[string]identity.RelayRef{}, own: map[string]bool{},
		paths: map[string]*relayPath{}, presented: map[*relay.Client]map[string]ed25519.PublicKey{}, chains: map[string]chainOf{},
		wait: map[string]*pathWait{}, redial: map[string]bool{}, refused: map[string]relayRefusal{}, changed: make(chan struct{}, 1),
		grants: map[string]media.Route{}, cards: map[string]*identity.Card{}}
}

func (r *relays) Name() string { return "relay" }

func (r *relays) Rank() int { return relayRank }

// Pinned looks again at the peers' cards, for the new peer's relays.
func (r *relays) Pinned(string) { r.poke() }

// Run dials every relay in this station's card and its peers' cards, and
// keeps the relay path of each peer up while a relay to deposit at and
// one to pick up from are connected, until ctx ends.
func (r *relays) Run(ctx context.Context) error {
	s := r.s
	r.ctx = ctx
	_, ownCard := s.Identity()
	for _, ref := range ownCard.Relays {
		r.refs[string(ref.Key)] = ref
		r.own[string(ref.Key)] = true
	}
	var cards []*identity.Card
	s.inLoop(ctx, func() {
		for _, n := range s.pinNames() {
			if c := s.core.Peer(n); c != nil {
				cards = append(cards, c)
			}
		}
	})
	for _, c := range cards {
		for _, ref := range c.Relays {
			r.refs[string(ref.Key)] = ref
		}
	}
	for key, ref := range r.refs {
		go r.keep(ctx, key, ref)
	}
	r.watch(ctx)
	return nil
}

func (s *Station) pinNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, n := range s.pins {
		out = append(out, n)
	}
	return out
}

// keep holds a connection to one relay, redialing with backoff, and
// hands the mail it pushes to the core. A relay that refuses this station
// is dialed again no sooner than a second later, the wait doubling (with
// jitter) up to a minute while it goes on refusing.
func (r *relays) keep(ctx context.Context, key string, ref identity.RelayRef) {
	b := link.Backoff{Min: 50 * time.Millisecond, Max: 5 * time.Second}
	refusals := link.Backoff{Min: RefusedRetry, Max: time.Minute}
	for ctx.Err() == nil {
		cert := r.s.currentCert()
		c, err := relay.Dial(ctx, ref.Addr, ref.Key, cert)
		wait := time.Duration(0)
		if err != nil {
			if errors.Is(err, relay.ErrNotAllowed) || errors.Is(err, link.ErrNotPinned) {
				r.s.event(protocol.LinkRefused{Reason: "relay refused", Text: fmt.Sprintf("relay %s at %s: %v", ref.Name, ref.Addr, err)})
				r.setRefused(key, ref, err)
				wait = refusals.Next()
			} else {
				wait = b.Next()
			}
		} else {
			began := time.Now()
			r.mu.Lock()
			r.clients[key] = c
			r.as[key] = cert.PrivateKey.(ed25519.PrivateKey).Public().(ed25519.PublicKey)
			r.presented[c] = map[string]ed25519.PublicKey{}
			r.mu.Unlock()
			r.setRefused(key, ref, nil)
			r.poke()
			go r.mediaGrant(ctx, key, ref, c)
			r.serve(ctx, c, ref.Name, r.own[key])
			r.mu.Lock()
			delete(r.grants, key)
			delete(r.clients, key)
			delete(r.as, key)
			delete(r.presented, c)
			again := r.redial[key]
			delete(r.redial, key)
			r.mu.Unlock()
			c.Close()
			r.poke()
			if time.Since(began) > 10*time.Second {
				b.Reset()
				refusals.Reset()
			}
			wait = b.Next()
			if again {
				// Closed to connect under this station's new keys.
				b.Reset()
				wait = 0
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-r.s.done:
			return
		case <-time.After(wait):
		}
	}
}

// keysChanged closes every relay connection, made under this station's
// earlier keys: each is dialed again at once with the new certificate,
// whose statements the relay follows, so that it allows the new key
// (and lists its fingerprint) from then on.
func (r *relays) keysChanged() {
	r.mu.Lock()
	var cs []*relay.Client
	for key, c := range r.clients {
		r.redial[key] = true
		cs = append(cs, c)
	}
	r.mu.Unlock()
	for _, c := range cs {
		c.Close()
	}
}

func (r *relays) poke() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// serve reads mail until the connection ends. Mail is deleted from the
// relay once the core has taken it: if the station dies before the entries
// are durable, their author still holds them unreceipted and sends them
// again.
func (r *relays) serve(ctx context.Context, c *relay.Client, via string, own bool) {
	deletes := make(chan uint64, 1)
	go func() {
		for id := range deletes {
			dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			c.Delete(dctx, id)
			cancel()
		}
	}()
	defer close(deletes)
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.Done():
			return
		case m, ok := <-c.Mail():
			if !ok {
				return
			}
			if own {
				r.take(m, via)
			}
			select { // the newest id covers the ones before
			case deletes <- m.ID:
			default:
				select {
				case <-deletes:
				default:
				}
				deletes <- m.ID
			}
		}
	}
}

// take opens one mail, from relay via, and sorts its frame onto the
// peer's relay path.
func (r *relays) take(m relay.Mail, via string) {
	o, ok := r.open(m, via)
	if !ok {
		return
	}
	name := o.peer
	r.mu.Lock()
	rp := r.paths[name]
	r.mu.Unlock()
	if rp == nil {
		// Mail waiting from before this station connected, or mail that
		// came while the path waited out its backoff: bring the path up
		// first, if it can be. Mail from the peer shows that the relay
		// carries its frames now, so the wait ends (a wait kept by both
		// sides could keep them from ever being up at once; the peer's
		// mail comes at most at its probes' rate).
		r.mu.Lock()
		if w := r.wait[name]; w != nil {
			w.until = time.Time{}
		}
		r.mu.Unlock()
		r.reconcile()
		r.mu.Lock()
		rp = r.paths[name]
		r.mu.Unlock()
	}
	if rp == nil {
		return // no relay to answer through: the author sends again when there is
	}
	conn := rp.in
	switch protocol.FrameType(o.frame[0]) {
	case protocol.FrameStatus, protocol.FrameReceipt, protocol.FrameResend, protocol.FrameProbeReply, protocol.FrameError:
		conn = rp.out
	}
	r.s.pathFrame(name, conn, m.From, o.frame)
}

// watch brings each peer's relay path up when a relay to deposit at and
// one of this station's to pick up from are connected, and down when not.
func (r *relays) watch(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		r.reconcile()
		select {
		case <-ctx.Done():
			r.mu.Lock()
			paths := r.paths
			r.mu.Unlock()
			for _, rp := range paths {
				rp.down(ctx.Err())
			}
			return
		case <-r.s.done:
			return
		case <-r.changed:
		case <-tick.C:
		}
	}
}

func (r *relays) reconcile() {
	r.recon.Lock()
	defer r.recon.Unlock()
	var cards []*identity.Card
	r.s.inLoop(r.ctx, func() {
		for _, n := range r.s.pinNames() {
			if c := r.s.core.Peer(n); c != nil {
				cards = append(cards, c)
			}
		}
	})
	r.mu.Lock()
	clear(r.cards)
	for _, card := range cards {
		r.cards[card.Name] = card
		for _, ref := range card.Relays {
			if _, ok := r.refs[string(ref.Key)]; !ok {
				r.refs[string(ref.Key)] = ref
				go r.keep(r.ctx, string(ref.Key), ref)
			}
		}
	}
	pickup := false
	for key := range r.own {
		pickup = pickup || r.clients[key] != nil
	}
	var up, downs []*identity.Card
	for _, card := range cards {
		deposit := false
		for _, ref := range card.Relays {
			deposit = deposit || r.clients[string(ref.Key)] != nil
		}
		switch have := r.paths[card.Name] != nil; {
		case pickup && deposit && !have:
			if w := r.wait[card.Name]; w != nil && time.Now().Before(w.until) {
				continue // it went down a moment ago: pathDown pokes when it may come up
			}
			up = append(up, card)
		case !(pickup && deposit) && have:
			downs = append(downs, card)
		}
	}
	var stale []*relayPath
	for _, c := range downs {
		stale = append(stale, r.paths[c.Name])
	}
	r.mu.Unlock()
	for _, rp := range stale {
		rp.down(errors.New("no relay reachable"))
	}
	for _, card := range up {
		r.pathUp(card)
	}
}

// pathUp hands the station a peer's relay path: its two connections.
func (r *relays) pathUp(card *identity.Card) {
	s := r.s
	rp := &relayPath{r: r, peer: card.Name, card: card, began: time.Now(), stop: make(chan struct{}), out: s.newConnID(), in: s.newConnID()}
	rp.outC = &relayConn{rp: rp, queue: make(chan []byte, link.QueueSize), closed: make(chan struct{})}
	rp.inC = &relayConn{rp: rp, queue: make(chan []byte, link.QueueSize), closed: make(chan struct{})}
	r.mu.Lock()
	r.paths[card.Name] = rp
	r.mu.Unlock()
	go rp.deposit(rp.outC)
	go rp.deposit(rp.inC)
	s.Log.Info("relay path up", "peer", card.Name)
	s.openPath(r, card.Name, rp.in, rp.inC, false)
	s.openPath(r, card.Name, rp.out, rp.outC, true)
}

// Backoff of a peer's relay path: one that went down before it had been
// up for pathSettled comes up again only after a wait that doubles, with
// jitter, from pathRetryMin to pathRetryMax, and never sooner than
// RefusedRetry after a relay refused a deposit; so a path that cannot
// work (a relay that refuses the peer's key, a peer that does not
// answer) is retried a few times a minute, not in a loop.
const (
	pathSettled  = 10 * time.Second
	pathRetryMin = 250 * time.Millisecond
	pathRetryMax = 30 * time.Second
	// RefusedRetry is the least wait before anything a relay refused
	// (this station's connection, or a deposit) is tried again.
	RefusedRetry = time.Second
)

// pathWait is when a peer's relay path may come up again.
type pathWait struct {
	b     link.Backoff
	until time.Time
}

// pathDown takes a peer's relay path away, both its connections, and
// sets when it may come up again.
func (r *relays) pathDown(rp *relayPath, err error) {
	refused := errors.Is(err, relay.ErrRefused)
	var wait time.Duration
	r.mu.Lock()
	if r.paths[rp.peer] == rp {
		delete(r.paths, rp.peer)
	}
	w := r.wait[rp.peer]
	if w == nil {
		w = &pathWait{b: link.Backoff{Min: pathRetryMin, Max: pathRetryMax}}
		r.wait[rp.peer] = w
	}
	if time.Since(rp.began) >= pathSettled && !refused {
		w.b.Reset()
		w.until = time.Time{}
	} else {
		wait = w.b.Next()
		if refused {
			wait = max(wait, RefusedRetry)
		}
		w.until = time.Now().Add(wait)
	}
	r.mu.Unlock()
	r.s.Log.Info("relay path down", "peer", rp.peer, "err", err, "retry_in", wait.Round(time.Millisecond))
	if wait > 0 {
		time.AfterFunc(wait, r.poke)
	}
	// Not on the caller's goroutine, which may be the core's loop (a
	// frame sent with Close).
	go func() {
		r.s.closePath(rp.peer, rp.out)
		r.s.closePath(rp.peer, rp.in)
		r.poke()
	}()
}

// relayRefusal is a relay that refused this station when it last dialed
// it.
type relayRefusal struct {
	name, addr string
	err        error
	since      time.Time
}

// setRefused records whether the relay whose key is key refused this
// station at its last dial (err) or took it (nil).
func (r *relays) setRefused(key string, ref identity.RelayRef, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		delete(r.refused, key)
		return
	}
	if _, ok := r.refused[key]; !ok {
		r.refused[key] = relayRefusal{name: ref.Name, addr: ref.Addr, err: err, since: time.Now()}
	}
}

// refusing lists the relays that refused this station at its latest
// dial of each, with the peers whose cards list them.
func (r *relays) refusing() []ops.RelayRefusalView {
	var cards []*identity.Card
	r.s.mu.Lock()
	for _, k := range r.s.sealTo {
		cards = append(cards, k.card)
	}
	r.s.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []ops.RelayRefusalView
	for key, f := range r.refused {
		v := ops.RelayRefusalView{Relay: f.name, Addr: f.addr, Own: r.own[key], Since: f.since, Error: f.err.Error()}
		for _, c := range cards {
			for _, ref := range c.Relays {
				if string(ref.Key) == key {
					v.Peers = append(v.Peers, c.Name)
				}
			}
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b ops.RelayRefusalView) int { return strings.Compare(a.Relay, b.Relay) })
	return out
}
