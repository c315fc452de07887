package relay

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"hotline/internal/identity"
	"hotline/internal/link"
)

// Errors a client's caller can test for.
var (
	// ErrNotAllowed: the relay refused this station's key at the handshake.
	ErrNotAllowed = errors.New("the relay does not allow this station's key")
	// ErrClosed: the connection is closed; Err says why.
	ErrClosed = errors.New("relay connection closed")
	// ErrProtocol: the relay sent something it must not (the connection is
	// closed).
	ErrProtocol = errors.New("relay broke the protocol")

	// A refused deposit (RefusedError) matches one of these with errors.Is.
	ErrRefused          = errors.New("relay refused the deposit")
	ErrUnknownRecipient = errors.New("recipient not allowed on the relay")
	ErrQuota            = errors.New("relay quota exceeded")
	ErrTooLarge         = errors.New("payload too large for the relay")
	ErrUnavailable      = errors.New("relay could not store the deposit")
)

// RefusedError is a deposit the relay refused, with its reason and the
// relay's words.
type RefusedError struct {
	Reason Reason
	Text   string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("relay refused the deposit (%s): %s", e.Reason, e.Text)
}

// Is matches ErrRefused and the sentinel for the reason.
func (e *RefusedError) Is(target error) bool {
	switch target {
	case ErrRefused:
		return true
	case ErrUnknownRecipient:
		return e.Reason == ReasonUnknownRecipient
	case ErrQuota:
		return e.Reason == ReasonRecipientFull || e.Reason == ReasonSenderQuota
	case ErrTooLarge:
		return e.Reason == ReasonTooLarge
	case ErrUnavailable:
		return e.Reason == ReasonUnavailable
	}
	return false
}

// clientInflight bounds the requests a client has waiting for an answer,
// well under link.QueueSize so that a send never finds the queue full.
const clientInflight = 4096

// MailBuffer is how many received mails wait in Client.Mail before the
// client stops reading from the relay.
const MailBuffer = 256

// Client is a station's connection to a relay. Its methods may be called
// from several goroutines; deposits pipeline.
type Client struct {
	addr  string
	conn  *link.Conn
	slots chan struct{}
	mail  chan Mail

	mu       sync.Mutex
	seq      uint64
	deposits map[uint64]chan error
	pings    map[uint64]chan struct{}
	pingAt   map[uint64]time.Time
	deletes  []chan error        // answered in order
	keys     map[string][][]byte // by key: the statements the relay sent for it on this connection
	offset   time.Duration
	offsetOK bool
	grants   []chan *Message // media-open requests, answered in order
	version  uint16          // the relay protocol version agreed in the hellos

	once sync.Once
	done chan struct{}
	err  error
}

// Dial connects to the relay at addr, which must present relayKey (the
// sign-key of the relay's card, pinned like a peer's), authenticates with
// the station's certificate (link.Certificate), exchanges hellos and
// starts receiving this station's mail: first what is pending, then each
// new deposit as it arrives.
func Dial(ctx context.Context, addr string, relayKey ed25519.PublicKey, cert tls.Certificate) (*Client, error) {
	tc, err := link.Dial(ctx, addr, link.ClientConfig(cert, "the relay at "+addr, relayKey))
	if err != nil {
		return nil, fmt.Errorf("relay at %s: %w", addr, err)
	}
	// The relay checks the station's key after the client's handshake is
	// done: its refusal arrives as an alert on the first read.
	deadline := time.Now().Add(handshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	tc.SetDeadline(deadline)
	conn := link.NewConn(tc)
	conn.Send((&Message{Type: TypeHello, Version: Version}).Encode(), false)
	data, err := conn.Read()
	if err != nil {
		conn.Close()
		if strings.Contains(err.Error(), "bad certificate") {
			return nil, fmt.Errorf("relay at %s: %w (%v)", addr, ErrNotAllowed, err)
		}
		return nil, fmt.Errorf("relay at %s: no hello: %w", addr, err)
	}
	m, err := Decode(data)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("relay at %s: %w: %w", addr, ErrProtocol, err)
	}
	switch {
	case m.Type == TypeError:
		conn.Close()
		return nil, fmt.Errorf("relay at %s refused the connection: %s", addr, m.Text)
	case m.Type != TypeHello:
		conn.Close()
		return nil, fmt.Errorf("relay at %s: %w: expected hello, got %s", addr, ErrProtocol, m.Type)
	case m.Version < MinVersion || m.Version > Version:
		conn.Close()
		return nil, fmt.Errorf("relay at %s speaks relay protocol version %d; this station speaks %d", addr, m.Version, Version)
	}
	tc.SetDeadline(time.Time{})
	c := &Client{
		addr: addr, conn: conn, slots: make(chan struct{}, clientInflight), mail: make(chan Mail, MailBuffer),
		deposits: map[uint64]chan error{}, pings: map[uint64]chan struct{}{}, pingAt: map[uint64]time.Time{},
		keys: map[string][][]byte{}, done: make(chan struct{}), version: m.Version,
	}
	go c.read()
	go func() {
		<-conn.Closed()
		c.fail(ErrClosed)
	}()
	return c, nil
}

// DialCard dials the relay described by card (its pinned sign-key), trying
// its endpoints in order, and returns the first connection made. A refusal
// of this station's key (ErrNotAllowed) is returned at once.
func DialCard(ctx context.Context, card *identity.Card, cert tls.Certificate) (*Client, error) {
	if len(card.Endpoints) == 0 {
		return nil, fmt.Errorf("the card of relay %s lists no endpoint", card.Name)
	}
	var errs []error
	for _, addr := range card.Endpoints {
		c, err := Dial(ctx, addr, card.SignKey, cert)
		if err == nil {
			return c, nil
		}
		if errors.Is(err, ErrNotAllowed) || ctx.Err() != nil {
			return nil, fmt.Errorf("relay %s: %w", card.Name, err)
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("relay %s: no endpoint answered: %w", card.Name, errors.Join(errs...))
}

// Mail delivers this station's mail in ID order. IDs only grow on one
// connection; after a reconnection, mail not yet deleted comes again. It
// is closed when the connection ends. While it is full the client stops
// reading, and answers to deposits and pings wait too: drain it.
func (c *Client) Mail() <-chan Mail { return c.mail }

// Done is closed when the connection has ended; Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the connection ended, or nil while it is open.
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Close closes the connection.
func (c *Client) Close() error {
	c.fail(ErrClosed)
	return nil
}

// fail ends the connection with err and wakes every waiting call.
func (c *Client) fail(err error) {
	c.once.Do(func() {
		c.mu.Lock()
		c.err = err
		close(c.done)
		c.mu.Unlock()
		c.conn.Close()
	})
}

func (c *Client) closedErr() error {
	if c.err == nil || errors.Is(c.err, ErrClosed) {
		return ErrClosed
	}
	return fmt.Errorf("%w: %w", ErrClosed, c.err)
}

// acquire takes a request slot.
func (c *Client) acquire(ctx context.Context) error {
	select {
	case c.slots <- struct{}{}:
		return nil
	case <-c.done:
		return c.closedErr()
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) release() { <-c.slots }

// Deposit hands a payload to the relay for the station whose signing key
// is to, and returns once the relay has answered that it is durable. A
// refusal is a *RefusedError. Deposits from several goroutines pipeline.
// If ctx ends first the payload may still have been stored.
func (c *Client) Deposit(ctx context.Context, to ed25519.PublicKey, payload []byte) error {
	if len(to) != ed25519.PublicKeySize {
		return fmt.Errorf("recipient key has %d bytes, want %d", len(to), ed25519.PublicKeySize)
	}
	if len(payload) > MaxPayload {
		return &RefusedError{Reason: ReasonTooLarge, Text: fmt.Sprintf("a payload of %d bytes is over the relay protocol's limit of %d", len(payload), MaxPayload)}
	}
	if err := c.acquire(ctx); err != nil {
		return err
	}
	defer c.release()
	ch := make(chan error, 1)
	c.mu.Lock()
	c.seq++
	seq := c.seq
	c.deposits[seq] = ch
	c.mu.Unlock()
	c.conn.Send((&Message{Type: TypeDeposit, Seq: seq, To: to, Payload: payload}).Encode(), false)
	select {
	case err := <-ch:
		return err
	case <-c.done:
		return c.closedErr()
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.deposits, seq)
		c.mu.Unlock()
		return ctx.Err()
	}
}

// Delete tells the relay that this station has handled its mail up to and
// including ID upTo, and returns once the relay has deleted it durably.
// The relay deletes only mail it has sent on this connection; the rest
// comes again. Do not wait for Delete on the goroutine that drains Mail:
// while Mail is full, the answer cannot be read.
func (c *Client) Delete(ctx context.Context, upTo uint64) error {
	if err := c.acquire(ctx); err != nil {
		return err
	}
	defer c.release()
	ch := make(chan error, 1)
	c.mu.Lock()
	c.deletes = append(c.deletes, ch)
	// Sent under mu: the relay answers deletes in the order it got them.
	c.conn.Send((&Message{Type: TypeDelete, UpTo: upTo}).Encode(), false)
	c.mu.Unlock()
	select {
	case err := <-ch:
		return err
	case <-c.done:
		return c.closedErr()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Present gives the relay rotation statements that lead a station's key
// it allows (this station's, or a peer's it deposits for) to key, so that
// it follows the change before it takes the next message on this
// connection: a deposit sent after Present may be addressed to key. The
// relay answers nothing; statements it cannot follow change nothing
// there.
func (c *Client) Present(key ed25519.PublicKey, statements [][]byte) error {
	if len(key) != ed25519.PublicKeySize {
		return fmt.Errorf("key has %d bytes, want %d", len(key), ed25519.PublicKeySize)
	}
	if len(statements) == 0 {
		return nil
	}
	if len(statements) > MaxStatements {
		statements = statements[len(statements)-MaxStatements:]
	}
	for _, st := range statements {
		if len(st) < 1 || len(st) > identity.MaxRotation {
			return fmt.Errorf("a rotation statement of %d bytes; want 1 to %d", len(st), identity.MaxRotation)
		}
	}
	select {
	case <-c.done:
		return c.closedErr()
	default:
	}
	c.conn.Send((&Message{Type: TypeKeys, Key: key, Statements: statements}).Encode(), false)
	return nil
}

// Ping measures the round trip to the relay.
func (c *Client) Ping(ctx context.Context) (time.Duration, error) {
	if err := c.acquire(ctx); err != nil {
		return 0, err
	}
	defer c.release()
	ch := make(chan struct{})
	c.mu.Lock()
	c.seq++
	t := c.seq
	c.pings[t] = ch
	start := time.Now()
	c.pingAt[t] = start
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pings, t)
		delete(c.pingAt, t)
		c.mu.Unlock()
	}()
	c.conn.Send((&Message{Type: TypePing, T: t}).Encode(), false)
	select {
	case <-ch:
		return time.Since(start), nil
	case <-c.done:
		return 0, c.closedErr()
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// Version is the relay protocol version the relay and this client agreed.
func (c *Client) Version() uint16 { return c.version }

// MediaGrant asks the relay for a media token (media.go). A relay that
// carries no media, or speaks version 1, grants none: ErrNoMedia.
func (c *Client) MediaGrant(ctx context.Context) (token [MediaToken]byte, port uint16, err error) {
	if c.version < 2 {
		return token, 0, fmt.Errorf("relay at %s: %w (it speaks relay protocol version %d)", c.addr, ErrNoMedia, c.version)
	}
	if err := c.acquire(ctx); err != nil {
		return token, 0, err
	}
	defer c.release()
	ch := make(chan *Message, 1)
	c.mu.Lock()
	c.grants = append(c.grants, ch)
	c.conn.Send((&Message{Type: TypeMediaOpen}).Encode(), false)
	c.mu.Unlock()
	select {
	case m := <-ch:
		if m.Port == 0 {
			return token, 0, fmt.Errorf("relay at %s: %w", c.addr, ErrNoMedia)
		}
		return m.Token, m.Port, nil
	case <-c.done:
		return token, 0, c.closedErr()
	case <-ctx.Done():
		return token, 0, ctx.Err()
	}
}

// ClockOffset is how far the relay's clock was ahead of this one at the
// last ping (negative if behind), assuming symmetric delays; ok is false
// before the first pong. It is shown, never relied on.
func (c *Client) ClockOffset() (offset time.Duration, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset, c.offsetOK
}

// read takes the relay's messages until the connection ends.
func (c *Client) read() {
	defer close(c.mail)
	var last uint64 // highest mail ID on this connection
	for {
		data, err := c.conn.Read()
		if err != nil {
			c.fail(err)
			return
		}
		m, err := Decode(data)
		if err != nil {
			c.fail(fmt.Errorf("%w: %w", ErrProtocol, err))
			return
		}
		if err := c.handle(m, &last); err != nil {
			c.fail(err)
			return
		}
		if m.Type == TypeMail {
			c.mu.Lock()
			stmts := c.keys[string(m.From)]
			c.mu.Unlock()
			select {
			case c.mail <- Mail{ID: m.ID, From: m.From, DepositedAt: m.At, Payload: m.Payload, Statements: stmts}:
			case <-c.done:
				return
			}
		}
	}
}

// handle applies one message from the relay; an error closes the
// connection.
func (c *Client) handle(m *Message, last *uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch m.Type {
	case TypeStored, TypeRefused:
		ch, ok := c.deposits[m.Seq]
		if !ok {
			if m.Seq == 0 || m.Seq > c.seq {
				return fmt.Errorf("%w: %s for deposit %d, never made", ErrProtocol, m.Type, m.Seq)
			}
			return nil // its caller gave up waiting
		}
		delete(c.deposits, m.Seq)
		if m.Type == TypeRefused {
			ch <- &RefusedError{Reason: m.Reason, Text: m.Text}
		} else {
			ch <- nil
		}
	case TypeDeleted:
		if len(c.deletes) == 0 {
			return fmt.Errorf("%w: deleted with no delete waiting", ErrProtocol)
		}
		c.deletes[0] <- nil
		c.deletes = c.deletes[1:]
	case TypePong:
		ch, ok := c.pings[m.T]
		if !ok {
			return nil // late: its caller gave up waiting
		}
		rtt := time.Since(c.pingAt[m.T])
		c.offset = m.At.Sub(c.pingAt[m.T].Add(rtt / 2))
		c.offsetOK = true
		close(ch)
		delete(c.pings, m.T)
	case TypeMail:
		if m.ID <= *last {
			return fmt.Errorf("%w: mail %d after mail %d on one connection", ErrProtocol, m.ID, *last)
		}
		*last = m.ID
	case TypeKeys:
		// Checked by whoever uses them (identity.Follow from a key it
		// holds): the relay is not trusted with them.
		c.keys[string(m.Key)] = m.Statements
	case TypeMediaGrant:
		if len(c.grants) == 0 {
			return fmt.Errorf("%w: media-grant with no media-open waiting", ErrProtocol)
		}
		c.grants[0] <- m
		c.grants = c.grants[1:]
	case TypeError:
		return fmt.Errorf("relay at %s closed the connection: %s", c.addr, m.Text)
	default:
		return fmt.Errorf("%w: a relay does not send %s messages", ErrProtocol, m.Type)
	}
	return nil
}
