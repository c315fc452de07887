package relay

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"hotline/internal/home"
	"hotline/internal/identity"
	"hotline/internal/link"
)

// Timeouts and batch sizes of the server.
const (
	handshakeTimeout = 10 * time.Second // TLS handshake and hello
	writeTimeout     = 30 * time.Second // a station that reads nothing for this long is dropped
	flushEvery       = 5 * time.Second  // counters changed outside a write reach the disk
	maxBatch         = 512              // writes committed in one transaction
	maxInflight      = 1024             // requests of one connection waiting for an answer
	mailBatch        = 256              // mail read from the store at a time
	mailBatchBytes   = 1 << 20
)

// refreshEvery is how often a running relay reads its allowed stations
// again: hotline relay disallow removes one from another process, and its
// connections are closed.
const refreshEvery = 2 * time.Second

// Refusal reasons counted besides the deposit refusals (Reason.String).
const (
	refusedUnknownStation = "unknown station"  // handshake: key not allowed
	refusedHandshake      = "handshake failed" // any other handshake failure (no certificate, not TLS 1.3, timeout)
	refusedMalformed      = "malformed message"
	refusedOversized      = "oversized frame"
	refusedUnexpected     = "unexpected message"
	refusedVersion        = "version"
)

// Options configure a server beyond its directory.
type Options struct {
	Log *slog.Logger
	// Now is the clock for deposit times and expiry (tests inject one).
	// Timeouts on connections use the real clock.
	Now func() time.Time
	// Lie, if set, makes this relay lie, for tests of the stations that
	// use it: every mail passes through it on its way out, and what it
	// returns is sent instead (nothing, copies, altered or other mail).
	// A relay run by hotline relay never sets it.
	Lie func(Mail) []Mail
}

// Server is an open relay: its directory, store and, once Serve is
// called, its listener. One goroutine (the writer) makes every change to
// the store, in batches: each deposit is answered once the transaction
// holding it has committed.
type Server struct {
	Dir  string
	Cfg  *Config
	Keys *identity.Keys
	Card *identity.Card
	Log  *slog.Logger

	now  func() time.Time
	lie  func(Mail) []Mail
	st   *store
	lock *os.File
	tls  *tls.Config

	writes    chan *write
	stop      chan struct{}
	stopOnce  sync.Once
	closeOnce sync.Once
	done      chan struct{} // closed when the writer has stopped
	err       error         // why the writer stopped, if it failed

	mu        sync.Mutex
	alias     map[string]ed25519.PublicKey // a rotated station's earlier key → its current key
	chains    map[string][][]byte          // a rotated station's current key → the statements that lead to it
	allowed   map[string]stationRow        // string(key) →
	pending   map[string]load              // by recipient key
	deposited map[string]load              // by sender key
	conns     map[string]map[*serverConn]struct{}
	raw       map[net.Conn]struct{} // every accepted connection, to close them all
	counters  Counters
	changes   uint64 // counted changes to counters, ever
	written   uint64 // changes when the counters were last written
	closing   bool   // Close has begun: accept nothing more
	ln        net.Listener
	media     *mediaRelay // nil: no media (media.go)
	wg        sync.WaitGroup
}

// Open opens a relay directory: it takes the directory's lock (ErrLocked
// if another process has it), checks the keys and loads the store.
func Open(ctx context.Context, dir string, o Options) (*Server, error) {
	cfg, keys, card, err := loadDir(dir)
	if err != nil {
		return nil, err
	}
	lock, err := home.Lock(dir, ErrLocked)
	if err != nil {
		return nil, err
	}
	s, err := open(ctx, dir, cfg, keys, card, lock, o)
	if err != nil {
		lock.Close()
		return nil, err
	}
	return s, nil
}

func open(ctx context.Context, dir string, cfg *Config, keys *identity.Keys, card *identity.Card, lock *os.File, o Options) (_ *Server, err error) {
	st, err := openStore(ctx, filepath.Join(dir, dbFile))
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			st.close()
		}
	}()
	byRecipient, bySender, err := st.loads(ctx)
	if err != nil {
		return nil, err
	}
	counters, err := st.counters(ctx)
	if err != nil {
		return nil, err
	}
	cert, err := link.Certificate(cfg.Name, keys.Sign)
	if err != nil {
		return nil, err
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{
		Dir: dir, Cfg: cfg, Keys: keys, Card: card, Log: o.Log.With("relay", cfg.Name),
		now: o.Now, lie: o.Lie, st: st, lock: lock,
		writes: make(chan *write, maxBatch), stop: make(chan struct{}), done: make(chan struct{}),
		allowed: map[string]stationRow{}, pending: byRecipient, deposited: bySender,
		conns: map[string]map[*serverConn]struct{}{}, raw: map[net.Conn]struct{}{}, counters: counters,
	}
	s.tls = link.ChainServerConfig(func() tls.Certificate { return cert }, s.lookupChain)
	if err := s.refresh(ctx); err != nil {
		return nil, err
	}
	go s.writer()
	return s, nil
}

// refresh reads the allowed stations again: hotline relay allow writes
// them from another process while the relay runs.
func (s *Server) refresh(ctx context.Context) error {
	rows, err := s.st.stations(ctx)
	if err != nil {
		return err
	}
	m := make(map[string]stationRow, len(rows))
	for _, r := range rows {
		m[string(r.Key)] = r
	}
	alias, chains, err := s.st.aliases(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.allowed, s.alias, s.chains = m, alias, chains
	s.mu.Unlock()
	return nil
}

// station returns an allowed station, reading the allowed list again on a
// miss.
func (s *Server) station(k ed25519.PublicKey) (stationRow, bool) {
	s.mu.Lock()
	r, ok := s.allowed[string(k)]
	s.mu.Unlock()
	if ok {
		return r, true
	}
	if err := s.refresh(context.Background()); err != nil {
		s.Log.Error("reading allowed stations", "err", err)
		return stationRow{}, false
	}
	s.mu.Lock()
	r, ok = s.allowed[string(k)]
	s.mu.Unlock()
	return r, ok
}

// aliasOf returns the current key of a station that changed its keys
// from k.
func (s *Server) aliasOf(k ed25519.PublicKey) (ed25519.PublicKey, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.alias[string(k)]
	return cur, ok
}

// lookup is the TLS server's key check: only allowed stations connect.
func (s *Server) lookup(k ed25519.PublicKey) (string, bool) {
	r, ok := s.station(k)
	return r.Name, ok
}

// lookupChain is lookup that also follows rotation statements: a station
// that changed its keys presents its new key with the statements, signed
// by the key allowed here, in its certificate (follow).
func (s *Server) lookupChain(k ed25519.PublicKey, stmts [][]byte) (string, bool) {
	if name, ok := s.lookup(k); ok {
		return name, true
	}
	return s.follow(k, stmts)
}

// follow follows rotation statements from an allowed key to k: from a
// station's certificate, or from a keys message, which any connected
// station may send for itself or for a peer it deposits for. The relay
// then allows the new key in place of the old, moves the old key's
// waiting mail to it, and takes deposits addressed to the old key for
// it (docs/PROTOCOL.md, "Key rotation"). A revoked key is not followed
// further than its revocation: its holder could sign another. Nothing is
// taken from whoever presents the statements but the statements, each
// checked against the key before it.
func (s *Server) follow(k ed25519.PublicKey, stmts [][]byte) (string, bool) {
	if len(stmts) == 0 {
		return "", false
	}
	s.mu.Lock()
	rows := make([]stationRow, 0, len(s.allowed))
	for _, r := range s.allowed {
		rows = append(rows, r)
	}
	s.mu.Unlock()
	for _, r := range rows {
		got, path := identity.Follow(r.Name, r.Key, stmts, nil)
		if len(path) == 0 || !got.Equal(k) {
			continue
		}
		last := path[len(path)-1]
		ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
		w := &write{kind: writeRotate, from: r.Key, to: k, payload: last.Card.Text, path: path}
		err := s.do(ctx, w)
		cancel()
		if err == nil {
			err = w.err
		}
		if err != nil {
			s.Log.Error("recording a station's key rotation", "station", r.Name, "err", err)
			return "", false
		}
		s.Log.Info("a station changed its keys", "station", r.Name, "fingerprint", last.Card.Fingerprint())
		return r.Name, true
	}
	return "", false
}

// statements returns the rotation statements that lead a station's
// earlier keys to k, its current key, if it changed its keys.
func (s *Server) statements(k ed25519.PublicKey) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.chains[string(k)]
}

// isAllowed reports whether k is an allowed station's current key, as
// the relay knows it now.
func (s *Server) isAllowed(k ed25519.PublicKey) bool {
	_, ok := s.station(k)
	return ok
}

// refuse counts a refusal.
func (s *Server) refuse(reason string) {
	s.mu.Lock()
	if s.counters.Refused == nil {
		s.counters.Refused = map[string]int64{}
	}
	s.counters.Refused[reason]++
	s.changes++
	s.mu.Unlock()
}

// Stats returns the counters as they are now.
func (s *Server) Stats() Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counters.clone()
}

// Status is what hotline relay list shows, read from the store.
func (s *Server) Status(ctx context.Context) (*Status, error) {
	st, err := s.st.status(ctx, s.Cfg, s.Card)
	if err != nil {
		return nil, err
	}
	st.Counters = s.Stats()
	return st, nil
}

// Addr is the listener's address once Serve has started.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Done is closed when the server's writer has stopped: after Close, or
// after a failed write (Err says which).
func (s *Server) Done() <-chan struct{} { return s.done }

// Err reports why the writer stopped by itself, if it did.
func (s *Server) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// Run listens on addr (the config's listen address if empty) and serves
// until ctx is done or a write fails.
func (s *Server) Run(ctx context.Context, addr string) error {
	if addr == "" {
		addr = s.Cfg.Listen
	}
	lc := net.ListenConfig{KeepAlive: 15 * time.Second}
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("relay listener: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve accepts stations on ln until ctx is done or a write fails, then
// closes ln and every connection. It prunes expired mail every
// Cfg.PruneEvery. It returns nil when ctx ended it.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return errStopped
	}
	s.ln = ln
	s.wg.Add(1) // maintain
	media := s.media
	s.mu.Unlock()
	s.Log.Info("relay listening", "addr", ln.Addr().String(), "fingerprint", s.Card.Fingerprint())
	if media == nil {
		if err := s.startMedia(ln.Addr()); err != nil {
			ln.Close()
			s.wg.Done()
			return err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-ctx.Done():
		case <-s.done:
		}
		ln.Close()
	}()
	go s.maintain(ctx)
	var err error
	for {
		c, aerr := ln.Accept()
		if aerr != nil {
			if ctx.Err() == nil && !errors.Is(aerr, net.ErrClosed) {
				err = aerr
			}
			break
		}
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			c.Close()
			break
		}
		s.raw[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.handle(ctx, c)
	}
	cancel()
	s.closeConns()
	s.wg.Wait()
	if err == nil {
		err = s.Err()
	}
	return err
}

func (s *Server) closeConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.raw {
		c.Close()
	}
}

// maintain prunes expired mail and writes changed counters.
func (s *Server) maintain(ctx context.Context) {
	defer s.wg.Done()
	prune := time.NewTicker(time.Duration(s.Cfg.PruneEvery))
	defer prune.Stop()
	flush := time.NewTicker(flushEvery)
	defer flush.Stop()
	refresh := time.NewTicker(refreshEvery)
	defer refresh.Stop()
	if _, err := s.Expire(ctx); err != nil && ctx.Err() == nil {
		s.Log.Error("pruning expired mail", "err", err)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return
		case <-prune.C:
			if _, err := s.Expire(ctx); err != nil && ctx.Err() == nil {
				s.Log.Error("pruning expired mail", "err", err)
			}
		case <-refresh.C:
			s.dropRemoved(ctx)
		case <-flush.C:
			s.mu.Lock()
			dirty := s.changes != s.written
			s.mu.Unlock()
			if dirty {
				s.do(ctx, &write{kind: writeFlush})
			}
		}
	}
}

// dropRemoved reads the allowed stations again and closes the
// connections of each station no longer allowed (hotline relay
// disallow): it can connect no more, and deposits for it are refused.
func (s *Server) dropRemoved(ctx context.Context) {
	if err := s.refresh(ctx); err != nil {
		if ctx.Err() == nil {
			s.Log.Error("reading allowed stations", "err", err)
		}
		return
	}
	var gone []*serverConn
	s.mu.Lock()
	for k, cs := range s.conns {
		if _, ok := s.allowed[k]; ok {
			continue
		}
		if _, ok := s.alias[k]; ok {
			continue
		}
		delete(s.pending, k)
		for c := range cs {
			gone = append(gone, c)
		}
	}
	s.mu.Unlock()
	for _, c := range gone {
		c.log.Info("closing the connection of a station no longer allowed")
		c.close()
	}
}

// Expire deletes mail older than Cfg.Expiry by the server's clock, now,
// and returns how many messages it deleted.
func (s *Server) Expire(ctx context.Context) (int64, error) {
	w := &write{kind: writeExpire, cutoff: s.now().Add(-time.Duration(s.Cfg.Expiry))}
	if err := s.do(ctx, w); err != nil {
		return 0, err
	}
	return w.n, w.err
}

// Close stops the server: the writer finishes what it was given, the
// counters are written, connections are closed, the store is closed and
// the directory's lock released. It is safe to call more than once.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.stopOnce.Do(func() { close(s.stop) })
		<-s.done
		s.mu.Lock()
		s.closing = true
		if s.ln != nil {
			s.ln.Close()
		}
		media := s.media
		s.mu.Unlock()
		media.close()
		s.closeConns()
		s.wg.Wait()
		err = s.st.close()
		s.lock.Close()
	})
	return err
}

// handle runs one connection: handshake, hello, then a reader (this
// goroutine) and a sender.
func (s *Server) handle(ctx context.Context, raw net.Conn) {
	defer func() {
		raw.Close()
		s.mu.Lock()
		delete(s.raw, raw)
		s.mu.Unlock()
		s.wg.Done()
	}()
	tc := tls.Server(raw, s.tls)
	hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	err := tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		if errors.Is(err, link.ErrNotPinned) {
			s.refuse(refusedUnknownStation)
			s.Log.Warn("refused a station that is not allowed", "remote", raw.RemoteAddr().String(), "err", err)
		} else {
			s.refuse(refusedHandshake)
			s.Log.Info("handshake failed", "remote", raw.RemoteAddr().String(), "err", err)
		}
		return
	}
	key, _ := link.PeerKey(tc.ConnectionState())
	row, ok := s.station(key)
	if !ok {
		return
	}
	c := &serverConn{
		s: s, key: key, tc: tc,
		r: bufio.NewReaderSize(tc, 64<<10), w: bufio.NewWriterSize(tc, 64<<10),
		ctrl: make(chan []byte, maxInflight+1), slots: make(chan struct{}, maxInflight),
		wake: make(chan struct{}, 1), closed: make(chan struct{}),
		log: s.Log.With("station", row.Name, "remote", raw.RemoteAddr().String()),
	}
	c.run()
}

// serverConn is one authenticated station's connection.
type serverConn struct {
	s   *Server
	key ed25519.PublicKey
	tc  *tls.Conn
	r   *bufio.Reader
	log *slog.Logger

	wmu sync.Mutex // guards w: the sender's batches and the reader's last error
	w   *bufio.Writer

	// ctrl holds answers for the sender to write. Each answer but the
	// hello holds a slot, taken by the reader before it makes the request,
	// so ctrl never fills and the writer never blocks on a connection.
	ctrl  chan []byte
	slots chan struct{}
	wake  chan struct{} // new mail was committed for this station

	version uint16 // the relay protocol version agreed in the hellos

	sent   atomic.Uint64 // highest mail ID written on this connection
	once   sync.Once
	closed chan struct{}
}

func (c *serverConn) close() {
	c.once.Do(func() {
		close(c.closed)
		c.tc.Close()
	})
}

// fail refuses what the station sent: it is counted, logged, answered
// with an error message, and the connection is closed.
func (c *serverConn) fail(reason, text string) {
	c.s.refuse(reason)
	c.log.Warn("refused a message from a station", "reason", reason, "err", text)
	c.wmu.Lock()
	c.tc.SetWriteDeadline(time.Now().Add(time.Second))
	if link.WriteFrame(c.w, (&Message{Type: TypeError, Text: text}).Encode()) == nil {
		c.w.Flush()
	}
	c.wmu.Unlock()
	c.close()
}

func (c *serverConn) readMessage() (*Message, bool) {
	data, err := link.ReadFrame(c.r)
	if errors.Is(err, link.ErrFrameSize) {
		c.fail(refusedOversized, fmt.Sprintf("%s: %v", c.s.Cfg.Name, err))
		return nil, false
	}
	if err != nil {
		return nil, false
	}
	m, err := Decode(data)
	if err != nil {
		c.fail(refusedMalformed, fmt.Sprintf("%s: %v", c.s.Cfg.Name, err))
		return nil, false
	}
	return m, true
}

func (c *serverConn) run() {
	defer c.close()
	// The station speaks first: hello, with its version.
	c.tc.SetReadDeadline(time.Now().Add(handshakeTimeout))
	m, ok := c.readMessage()
	if !ok {
		return
	}
	switch {
	case m.Type != TypeHello:
		c.fail(refusedUnexpected, fmt.Sprintf("%s: expected hello, got %s", c.s.Cfg.Name, m.Type))
		return
	case m.Version < MinVersion:
		c.fail(refusedVersion, fmt.Sprintf("%s: relay protocol version %d is not compatible: this relay speaks versions %d to %d", c.s.Cfg.Name, m.Version, MinVersion, Version))
		return
	}
	c.version = min(m.Version, Version)
	c.tc.SetReadDeadline(time.Time{})
	s := c.s
	s.mu.Lock()
	if s.conns[string(c.key)] == nil {
		s.conns[string(c.key)] = map[*serverConn]struct{}{}
	}
	s.conns[string(c.key)][c] = struct{}{}
	s.counters.Connections++
	s.changes++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns[string(c.key)], c)
		if len(s.conns[string(c.key)]) == 0 {
			delete(s.conns, string(c.key))
		}
		s.mu.Unlock()
	}()
	c.log.Info("station connected")
	defer c.log.Info("station disconnected")
	s.submit(&write{kind: writeSeen, to: c.key, at: s.now()})
	c.ctrl <- (&Message{Type: TypeHello, Version: c.version}).Encode()
	defer s.media.revoke(c)
	senderDone := make(chan struct{})
	go func() {
		defer close(senderDone)
		c.sender()
	}()
	defer func() { <-senderDone }()
	defer c.close()
	for {
		m, ok := c.readMessage()
		if !ok {
			return
		}
		switch m.Type {
		case TypeDeposit, TypeDelete, TypePing:
		case TypeMediaOpen:
			if c.version < 2 {
				c.fail(refusedUnexpected, fmt.Sprintf("%s: media-open needs relay protocol version 2; this connection agreed %d", s.Cfg.Name, c.version))
				return
			}
		case TypeKeys:
			// Followed before the next message is read, so that a deposit
			// after it may be addressed to the key it leads to.
			if !s.isAllowed(m.Key) {
				if name, ok := s.follow(m.Key, m.Statements); ok {
					c.log.Info("followed a station's key change presented on this connection", "of", name)
				}
			}
			continue
		case TypeError:
			c.log.Warn("station closed the connection with an error", "err", m.Text)
			return
		default:
			c.fail(refusedUnexpected, fmt.Sprintf("%s: a station does not send %s messages", s.Cfg.Name, m.Type))
			return
		}
		select {
		case c.slots <- struct{}{}:
		case <-c.closed:
			return
		}
		switch m.Type {
		case TypeDeposit:
			seq := m.Seq
			w := &write{kind: writeDeposit, from: c.key, to: m.To, payload: m.Payload, done: func(w *write) {
				if w.reason != 0 {
					c.ctrl <- (&Message{Type: TypeRefused, Seq: seq, Reason: w.reason, Text: w.text}).Encode()
					return
				}
				c.ctrl <- (&Message{Type: TypeStored, Seq: seq, ID: w.id}).Encode()
			}}
			if !s.submit(w) {
				return
			}
		case TypeDelete:
			// Only mail this connection has carried: a station cannot
			// delete mail it has not been sent.
			upTo := min(m.UpTo, c.sent.Load())
			w := &write{kind: writeDelete, to: c.key, upTo: upTo, done: func(w *write) {
				if w.err != nil {
					c.close()
					return
				}
				c.ctrl <- (&Message{Type: TypeDeleted, UpTo: upTo}).Encode()
			}}
			if !s.submit(w) {
				return
			}
		case TypePing:
			c.ctrl <- (&Message{Type: TypePong, T: m.T, At: s.now()}).Encode()
		case TypeMediaOpen:
			token, port := s.media.grant(c)
			c.ctrl <- (&Message{Type: TypeMediaGrant, Token: token, Port: port}).Encode()
		}
	}
}

// sender writes answers and streams the station's mail in ID order: the
// backlog first, then each new deposit as soon as it is committed.
// Answers go first, so a long backlog does not hold up acknowledgements.
func (c *serverConn) sender() {
	defer c.close()
	var cursor uint64             // highest ID sent
	more := true                  // the store may hold mail after cursor
	announced := map[string]int{} // sender key → statements sent for it on this connection
	for {
		var mail []Mail
		if more {
			var err error
			mail, err = c.s.st.mailAfter(context.Background(), c.key, cursor, mailBatch, mailBatchBytes)
			if err != nil {
				c.log.Error("reading mail", "err", err)
				return
			}
			more = len(mail) == mailBatch || sumPayload(mail) >= mailBatchBytes
		}
		c.wmu.Lock()
		c.tc.SetWriteDeadline(time.Now().Add(writeTimeout))
		err := c.writeAnswers()
		for i := 0; err == nil && i < len(mail); i++ {
			out := mail[i : i+1]
			if c.s.lie != nil {
				out = c.s.lie(mail[i])
			}
			for _, m := range out {
				// A sender that changed its keys: first the statements
				// that lead to the key its mail is labelled with, once on
				// each connection, so that a recipient that has not yet
				// heard of the change can follow it.
				if st := c.s.statements(m.From); err == nil && len(st) > 0 && announced[string(m.From)] != len(st) {
					announced[string(m.From)] = len(st)
					err = link.WriteFrame(c.w, (&Message{Type: TypeKeys, Key: m.From, Statements: st}).Encode())
				}
				if err == nil {
					err = link.WriteFrame(c.w, (&Message{Type: TypeMail, ID: m.ID, From: m.From, At: m.DepositedAt, Payload: m.Payload}).Encode())
				}
			}
			cursor = mail[i].ID
			c.sent.Store(cursor)
		}
		if err == nil {
			err = c.w.Flush()
		}
		c.wmu.Unlock()
		if err != nil {
			return
		}
		if more {
			continue
		}
		select {
		case a := <-c.ctrl:
			c.wmu.Lock()
			c.tc.SetWriteDeadline(time.Now().Add(writeTimeout))
			err := c.writeAnswer(a)
			if err == nil {
				err = c.writeAnswers()
			}
			if err == nil {
				err = c.w.Flush()
			}
			c.wmu.Unlock()
			if err != nil {
				return
			}
		case <-c.wake:
			more = true
		case <-c.closed:
			return
		}
	}
}

// writeAnswers writes the answers waiting in ctrl. Called with wmu held.
func (c *serverConn) writeAnswers() error {
	for {
		select {
		case a := <-c.ctrl:
			if err := c.writeAnswer(a); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

func (c *serverConn) writeAnswer(a []byte) error {
	if Type(a[0]) != TypeHello {
		<-c.slots
	}
	return link.WriteFrame(c.w, a)
}

func sumPayload(ms []Mail) int {
	n := 0
	for _, m := range ms {
		n += len(m.Payload)
	}
	return n
}

type writeKind int

const (
	writeDeposit writeKind = iota
	writeDelete
	writeExpire
	writeSeen
	writeFlush
	writeRotate // a station changed its keys
)

// write is one change for the writer. done, if set, is called on the
// writer's goroutine once the change is durable (or failed); it must not
// block.
type write struct {
	kind    writeKind
	from    ed25519.PublicKey // deposit: the sender
	to      ed25519.PublicKey // deposit: the recipient; delete, seen: the station
	payload []byte
	// rotate: from is the old key allowed here, to the new, payload the
	// new card, path the statements followed from one to the other.
	path   []*identity.Rotation
	upTo   uint64
	cutoff time.Time // expire
	at     time.Time // seen
	done   func(*write)

	// results
	id     uint64 // deposit
	reason Reason // deposit refused
	text   string
	n      int64 // delete, expire: messages deleted
	err    error // the store failed
}

var errStopped = errors.New("relay is stopping")

// submit hands w to the writer. It reports false if the writer has
// stopped; w.done is then never called.
func (s *Server) submit(w *write) bool {
	select {
	case <-s.done:
		return false
	default:
	}
	select {
	case s.writes <- w:
		return true
	case <-s.done:
		return false
	}
}

// do submits w and waits until it is durable.
func (s *Server) do(ctx context.Context, w *write) error {
	ch := make(chan struct{})
	w.done = func(*write) { close(ch) }
	if !s.submit(w) {
		return errStopped
	}
	select {
	case <-ch:
		return nil
	case <-s.done:
		select {
		case <-ch:
			return nil
		default:
			return errStopped
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// writer takes writes in batches, commits each batch in one transaction
// and then answers every write in it: group commit, one fsync per batch.
func (s *Server) writer() {
	defer close(s.done)
	for {
		var batch []*write
		stopping := false
		select {
		case w := <-s.writes:
			batch = append(batch, w)
		case <-s.stop:
			stopping = true
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case w := <-s.writes:
				batch = append(batch, w)
			default:
				break drain
			}
		}
		if stopping {
			batch = append(batch, &write{kind: writeFlush})
		}
		if err := s.apply(batch); err != nil {
			s.err = err
			s.Log.Error("store write failed; the relay stops", "err", err)
			return
		}
		if stopping {
			return
		}
	}
}

func keyText(k ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(k) }

// apply commits one batch. Quotas are checked against what is pending
// plus what this batch adds. If the transaction fails, every deposit in
// the batch is refused as unavailable and the error is returned. Its
// steps: learn of stations allowed since the list was read, write the
// batch in one transaction, then, once it is durable, change what is
// held in memory, wake the recipients and answer the writers.
func (s *Server) apply(batch []*write) error {
	ctx := context.Background()
	if err := s.refreshForRecipients(ctx, batch); err != nil {
		return s.failBatch(batch, err)
	}
	tx, err := s.st.db.BeginTx(ctx, nil)
	if err != nil {
		return s.failBatch(batch, err)
	}
	defer tx.Rollback()
	res, err := s.writeBatch(ctx, tx, batch)
	if err != nil {
		return s.failBatch(batch, err)
	}
	s.mu.Lock()
	c := s.counters.clone()
	changes := s.changes
	s.mu.Unlock()
	c.add(res.counted)
	if err := writeCounters(ctx, tx, c); err != nil {
		return s.failBatch(batch, err)
	}
	if err := tx.Commit(); err != nil {
		return s.failBatch(batch, err)
	}
	wake, stale := s.settle(batch, res, changes)
	for _, c := range stale {
		c.log.Info("closing a connection made under a key the station has changed")
		c.close()
	}
	for _, c := range wake {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	for _, w := range batch {
		if w.done != nil {
			w.done(w)
		}
	}
	if n := res.counted.Expired; n > 0 {
		s.Log.Info("expired mail deleted", "messages", n)
	}
	return nil
}

// refreshForRecipients reads the allowed stations again if a deposit in
// the batch is for one unknown here: it may have been allowed since.
func (s *Server) refreshForRecipients(ctx context.Context, batch []*write) error {
	for _, w := range batch {
		if w.kind != writeDeposit {
			continue
		}
		s.mu.Lock()
		_, ok := s.allowed[string(w.to)]
		if _, aliased := s.alias[string(w.to)]; aliased {
			ok = true
		}
		s.mu.Unlock()
		if !ok {
			return s.refresh(ctx)
		}
	}
	return nil
}

// batchResult is what a batch's writes change, to apply in memory once
// they are durable.
type batchResult struct {
	counted              Counters
	dPending, dDeposited map[string]load
	woken                map[string]bool
	followed             map[string]ed25519.PublicKey // rotations this batch made: old key → new
}

// writeBatch writes each of the batch's writes in tx.
func (s *Server) writeBatch(ctx context.Context, tx *sql.Tx, batch []*write) (*batchResult, error) {
	now := s.now()
	res := &batchResult{dPending: map[string]load{}, dDeposited: map[string]load{}, woken: map[string]bool{},
		followed: map[string]ed25519.PublicKey{}}
	res.counted.Refused = map[string]int64{}
	// Key rotations first, so that deposits in the same batch addressed
	// to an old key go to the new one.
	rotations := map[string]ed25519.PublicKey{}
	for _, w := range batch {
		if w.kind == writeRotate {
			rotations[string(w.from)] = w.to
		}
	}
	for _, w := range batch {
		switch w.kind {
		case writeDeposit:
			if nk, ok := rotations[string(w.to)]; ok {
				w.to = nk
			}
			if err := s.deposit(ctx, tx, w, now, res.dPending, res.dDeposited); err != nil {
				return nil, err
			}
			if w.reason != 0 {
				res.counted.Refused[w.reason.String()]++
				continue
			}
			res.counted.Deposits++
			res.counted.DepositedBytes += int64(len(w.payload))
			res.woken[string(w.to)] = true
		case writeDelete:
			n, err := deleteMail(ctx, tx, `recipient = ? AND id <= ?`, []any{[]byte(w.to), int64(min(w.upTo, 1<<63-1))}, res.dPending, res.dDeposited)
			if err != nil {
				return nil, err
			}
			w.n = n
			res.counted.PickedUp += n
		case writeExpire:
			n, err := deleteMail(ctx, tx, `deposited_at < ?`, []any{nanos(w.cutoff)}, res.dPending, res.dDeposited)
			if err != nil {
				return nil, err
			}
			w.n = n
			res.counted.Expired += n
		case writeSeen:
			if _, err := tx.ExecContext(ctx, `UPDATE stations SET last_seen = ? WHERE key = ?`, nanos(w.at), []byte(w.to)); err != nil {
				return nil, err
			}
		case writeRotate:
			changed, err := rotateStation(ctx, tx, w, now)
			if err != nil {
				return nil, err
			}
			if changed {
				res.followed[string(w.from)] = w.to
				res.woken[string(w.to)] = true
			}
		case writeFlush:
		}
	}
	return res, nil
}

// settle applies a durable batch's changes in memory: the counters and
// loads, and each key change followed (the allowed station, its pending
// mail, its aliases and statements now under its new key). It returns
// the connections to wake, and those made under a key followed away
// from, which get no more mail and are to be closed, so that their
// stations connect again under their new keys.
func (s *Server) settle(batch []*write, res *batchResult, changes uint64) (wake, stale []*serverConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counters.add(res.counted)
	s.written = changes
	for k, d := range res.dPending {
		s.pending[k] = addLoad(s.pending[k], d)
	}
	for k, d := range res.dDeposited {
		s.deposited[k] = addLoad(s.deposited[k], d)
	}
	for old, nk := range res.followed {
		s.followKey(batch, old, nk)
	}
	for k := range res.woken {
		for c := range s.conns[k] {
			wake = append(wake, c)
		}
	}
	for old := range res.followed {
		for c := range s.conns[old] {
			stale = append(stale, c)
		}
	}
	return wake, stale
}

// followKey moves what is held in memory for a station's old key to its
// new one. s.mu is held.
func (s *Server) followKey(batch []*write, old string, nk ed25519.PublicKey) {
	if r, ok := s.allowed[old]; ok {
		delete(s.allowed, old)
		card, _ := identity.ParseCard(rotationCard(batch, old))
		r.Key = nk
		if card != nil {
			r.Card, r.Fingerprint, r.Party = card.Text, card.Fingerprint(), card.Party
		}
		s.allowed[string(nk)] = r
	}
	s.pending[string(nk)] = addLoad(s.pending[string(nk)], s.pending[old])
	delete(s.pending, old)
	for k, v := range s.alias {
		if v.Equal(ed25519.PublicKey(old)) {
			s.alias[k] = nk
		}
	}
	chain := s.chains[old]
	delete(s.chains, old)
	for _, r := range rotationPath(batch, old) {
		s.alias[string(r.OldKey)] = nk
		chain = append(chain, r.Text)
	}
	if s.chains == nil {
		s.chains = map[string][][]byte{}
	}
	s.chains[string(nk)] = lastStatements(chain)
}

// rotateStation replaces a station's allowed key by its new one in the
// store, with the mail waiting for it, and records the change so that
// deposits to the old key reach the new. It reports false, changing
// nothing, if the change was followed already: the station's handshake
// and a peer's keys message may present the same statements at once.
// An error is the store's: the batch fails.
func rotateStation(ctx context.Context, tx *sql.Tx, w *write, now time.Time) (bool, error) {
	card, err := identity.ParseCard(w.payload)
	if err != nil {
		w.err = err
		return false, nil
	}
	var name string
	err = tx.QueryRowContext(ctx, `SELECT name FROM stations WHERE key = ?`, []byte(w.from)).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		// Followed away from already (or no longer allowed): nothing to do.
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("rotating key %s: %w", keyText(w.from), err)
	}
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`UPDATE stations SET key = ?, party = ?, card = ?, fingerprint = ? WHERE key = ?`, []any{[]byte(w.to), card.Party, card.Text, card.Fingerprint(), []byte(w.from)}},
		{`UPDATE mail SET recipient = ? WHERE recipient = ?`, []any{[]byte(w.to), []byte(w.from)}},
		{`UPDATE rotated SET new_key = ? WHERE new_key = ?`, []any{[]byte(w.to), []byte(w.from)}},
	} {
		if _, err := tx.ExecContext(ctx, q.sql, q.args...); err != nil {
			return false, fmt.Errorf("rotating the key of %s: %w", name, err)
		}
	}
	// One row for each statement followed, by the key that signed it.
	for _, r := range w.path {
		if _, err := tx.ExecContext(ctx, `INSERT INTO rotated (old_key, new_key, name, at, statement) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT(old_key) DO UPDATE SET new_key = excluded.new_key, statement = excluded.statement`,
			[]byte(r.OldKey), []byte(w.to), name, nanos(now), r.Text); err != nil {
			return false, fmt.Errorf("rotating the key of %s: %w", name, err)
		}
	}
	return true, nil
}

// rotationPath is the statements followed in the rotation of old in
// batch.
func rotationPath(batch []*write, old string) []*identity.Rotation {
	for _, w := range batch {
		if w.kind == writeRotate && string(w.from) == old {
			return w.path
		}
	}
	return nil
}

// lastStatements keeps the latest MaxStatements of a chain: a keys
// message carries no more, and a peer follows from the key it holds,
// most likely a recent one.
func lastStatements(chain [][]byte) [][]byte {
	if len(chain) > MaxStatements {
		return chain[len(chain)-MaxStatements:]
	}
	return chain
}

// rotationCard is the new card of the rotation of old in batch.
func rotationCard(batch []*write, old string) []byte {
	for _, w := range batch {
		if w.kind == writeRotate && string(w.from) == old {
			return w.payload
		}
	}
	return nil
}

func addLoad(a, b load) load { return load{a.n + b.n, a.bytes + b.bytes} }

func (c *Counters) add(d Counters) {
	c.Deposits += d.Deposits
	c.DepositedBytes += d.DepositedBytes
	c.PickedUp += d.PickedUp
	c.Expired += d.Expired
	c.Connections += d.Connections
	if c.Refused == nil {
		c.Refused = map[string]int64{}
	}
	for k, v := range d.Refused {
		c.Refused[k] += v
	}
}

// failBatch answers every write of a batch that could not be committed.
func (s *Server) failBatch(batch []*write, err error) error {
	for _, w := range batch {
		w.err = err
		if w.kind == writeDeposit {
			w.reason, w.text = ReasonUnavailable, fmt.Sprintf("%s could not store the deposit: %v", s.Cfg.Name, err)
		}
		if w.done != nil {
			w.done(w)
		}
	}
	return err
}

// deposit checks one deposit against the limits and stores it, or sets
// why it was refused.
func (s *Server) deposit(ctx context.Context, tx *sql.Tx, w *write, now time.Time, dPending, dDeposited map[string]load) error {
	size := int64(len(w.payload))
	s.mu.Lock()
	if nk, ok := s.alias[string(w.to)]; ok {
		w.to = nk // addressed to a station's earlier key
	}
	recipient, allowed := s.allowed[string(w.to)]
	p := addLoad(s.pending[string(w.to)], dPending[string(w.to)])
	d := addLoad(s.deposited[string(w.from)], dDeposited[string(w.from)])
	s.mu.Unlock()
	rq, sq := s.Cfg.Recipient, s.Cfg.Sender
	switch {
	case size > int64(s.Cfg.MaxPayload):
		w.reason, w.text = ReasonTooLarge, fmt.Sprintf("%s: a payload of %d bytes is over this relay's limit of %d", s.Cfg.Name, size, s.Cfg.MaxPayload)
	case !allowed:
		w.reason, w.text = ReasonUnknownRecipient, fmt.Sprintf("%s: recipient key %s is not allowed on this relay", s.Cfg.Name, keyText(w.to))
	case p.n+1 > rq.Messages || p.bytes+size > rq.Bytes:
		w.reason, w.text = ReasonRecipientFull, fmt.Sprintf("%s: the mailbox of %s is full: %d messages, %d bytes pending; quota %d messages, %d bytes",
			s.Cfg.Name, recipient.Name, p.n, p.bytes, rq.Messages, rq.Bytes)
	case d.n+1 > sq.Messages || d.bytes+size > sq.Bytes:
		w.reason, w.text = ReasonSenderQuota, fmt.Sprintf("%s: this station's deposits not yet picked up are at its quota: %d messages, %d bytes pending; quota %d messages, %d bytes",
			s.Cfg.Name, d.n, d.bytes, sq.Messages, sq.Bytes)
	}
	if w.reason != 0 {
		return nil
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO mail (recipient, sender, deposited_at, size, payload) VALUES (?, ?, ?, ?, ?)`,
		[]byte(w.to), []byte(w.from), nanos(now), size, w.payload)
	if err != nil {
		return err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return err
	}
	w.id = uint64(id)
	dPending[string(w.to)] = addLoad(dPending[string(w.to)], load{1, size})
	dDeposited[string(w.from)] = addLoad(dDeposited[string(w.from)], load{1, size})
	return nil
}

// deleteMail deletes the mail matching where and takes it off the loads.
func deleteMail(ctx context.Context, tx *sql.Tx, where string, args []any, dPending, dDeposited map[string]load) (int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT recipient, sender, COUNT(*), COALESCE(SUM(size), 0) FROM mail WHERE `+where+` GROUP BY recipient, sender`, args...)
	if err != nil {
		return 0, err
	}
	var total int64
	for rows.Next() {
		var r, snd []byte
		var l load
		if err := rows.Scan(&r, &snd, &l.n, &l.bytes); err != nil {
			rows.Close()
			return 0, err
		}
		neg := load{-l.n, -l.bytes}
		dPending[string(r)] = addLoad(dPending[string(r)], neg)
		dDeposited[string(snd)] = addLoad(dDeposited[string(snd)], neg)
		total += l.n
	}
	if err := rows.Close(); err != nil {
		return 0, err
	}
	if total == 0 {
		return 0, nil
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM mail WHERE `+where, args...); err != nil {
		return 0, err
	}
	return total, nil
}
