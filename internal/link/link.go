// Package link carries frames between stations over the direct path: TLS
// 1.3, mutually authenticated, each side pinned to the other's card key,
// with the hybrid X25519 + ML-KEM-768 key exchange and no other (KeyExchange):
// a peer that offers only a classical one is refused, so that traffic
// recorded today cannot be read by a quantum computer later. Frames are
// length-prefixed; a connection has a writer goroutine with a bounded queue
// so that a slow peer never blocks the station's core.
package link

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"hotline/internal/wire"
)

// ErrNotPinned is returned when a peer presents a key that is not pinned.
var ErrNotPinned = errors.New("station key is not pinned")

// ErrFrameSize is returned for a frame length outside 1..MaxFrame.
var ErrFrameSize = errors.New("frame length out of bounds")

// Certificate makes a self-signed TLS certificate for the station's signing
// key. Peers do not trust it by any CA: they compare its key to the card.
func Certificate(name string, key ed25519.PrivateKey) (tls.Certificate, error) {
	return CertificateWith(name, key, nil)
}

// RotationsOID names the certificate extension that carries a station's
// key rotation statements (docs/PROTOCOL.md, "Key rotation"): an ASN.1
// SEQUENCE OF OCTET STRING, each a statement. It is under the arc 2.25
// (ITU-T X.667, UUIDs as integers), so that it needs no registration,
// with a random 31-bit value rather than a full 128-bit UUID: Go's
// certificate parser refuses a certificate with an arc of 2^31 or more.
var RotationsOID = asn1.ObjectIdentifier{2, 25, 42832894}

// CertificateWith is Certificate carrying rotation statements, so that a
// peer that still has an earlier key pinned can follow them to this key.
func CertificateWith(name string, key ed25519.PrivateKey, statements [][]byte) (tls.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if len(statements) > 0 {
		v, err := asn1.Marshal(statements)
		if err != nil {
			return tls.Certificate{}, err
		}
		tmpl.ExtraExtensions = []pkix.Extension{{Id: RotationsOID, Value: v}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// PeerKey extracts the Ed25519 key of the peer's certificate.
func PeerKey(cs tls.ConnectionState) (ed25519.PublicKey, error) {
	if len(cs.PeerCertificates) == 0 {
		return nil, errors.New("peer presented no certificate")
	}
	k, ok := cs.PeerCertificates[0].PublicKey.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("peer certificate key is %T, not Ed25519", cs.PeerCertificates[0].PublicKey)
	}
	return k, nil
}

// KeyExchange is the only TLS key exchange the direct path and the relay
// accept. TLS 1.3's cipher suites are all AEADs (AES-128-GCM, AES-256-GCM,
// ChaCha20-Poly1305) and Go negotiates them itself; TLS 1.2 and older, and
// their cipher suites, are refused by version.
var KeyExchange = []tls.CurveID{tls.X25519MLKEM768}

// Statements returns the rotation statements the peer's certificate
// carries (RotationsOID), unchecked; nil if none or if they do not decode.
func Statements(cs tls.ConnectionState) [][]byte {
	if len(cs.PeerCertificates) == 0 {
		return nil
	}
	for _, e := range cs.PeerCertificates[0].Extensions {
		if e.Id.Equal(RotationsOID) {
			var out [][]byte
			if rest, err := asn1.Unmarshal(e.Value, &out); err != nil || len(rest) > 0 {
				return nil
			}
			return out
		}
	}
	return nil
}

// ChainServerConfig accepts only clients whose key lookup returns a name;
// lookup also gets the rotation statements the client's certificate
// carries, to follow from a key pinned to the one presented. cert is
// called at each handshake, so that a rotation takes effect at once.
func ChainServerConfig(cert func() tls.Certificate, lookup func(ed25519.PublicKey, [][]byte) (string, bool)) *tls.Config {
	return &tls.Config{
		MinVersion:       tls.VersionTLS13,
		MaxVersion:       tls.VersionTLS13,
		CurvePreferences: KeyExchange,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			c := cert()
			return &c, nil
		},
		ClientAuth: tls.RequireAnyClientCert,
		VerifyConnection: func(cs tls.ConnectionState) error {
			k, err := PeerKey(cs)
			if err != nil {
				return err
			}
			if _, ok := lookup(k, Statements(cs)); !ok {
				return fmt.Errorf("%w: %x", ErrNotPinned, []byte(k))
			}
			return nil
		},
	}
}

// ChainClientConfig accepts only a server whose key accept approves, given
// the rotation statements its certificate carries.
func ChainClientConfig(cert func() tls.Certificate, peerName string, accept func(ed25519.PublicKey, [][]byte) error) *tls.Config {
	return &tls.Config{
		MinVersion:       tls.VersionTLS13,
		MaxVersion:       tls.VersionTLS13,
		CurvePreferences: KeyExchange,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c := cert()
			return &c, nil
		},
		InsecureSkipVerify: true, // trust comes from the pinned key chain, checked below
		VerifyConnection: func(cs tls.ConnectionState) error {
			k, err := PeerKey(cs)
			if err != nil {
				return err
			}
			if err := accept(k, Statements(cs)); err != nil {
				return fmt.Errorf("%w: the station answering for %s: %v", ErrNotPinned, peerName, err)
			}
			return nil
		},
	}
}

// ServerConfig accepts only clients whose key lookup returns a name.
func ServerConfig(cert tls.Certificate, lookup func(ed25519.PublicKey) (string, bool)) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		MaxVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAnyClientCert,
		// Go's default also allows X25519 alone; that is a downgrade.
		CurvePreferences: KeyExchange,
		VerifyConnection: func(cs tls.ConnectionState) error {
			k, err := PeerKey(cs)
			if err != nil {
				return err
			}
			if _, ok := lookup(k); !ok {
				return fmt.Errorf("%w: %x", ErrNotPinned, []byte(k))
			}
			return nil
		},
	}
}

// ClientConfig accepts only a server presenting the pinned key.
func ClientConfig(cert tls.Certificate, peerName string, pinned ed25519.PublicKey) *tls.Config {
	return &tls.Config{
		MinVersion:       tls.VersionTLS13,
		MaxVersion:       tls.VersionTLS13,
		Certificates:     []tls.Certificate{cert},
		CurvePreferences: KeyExchange,
		// Certificates are self-signed; trust comes from the pinned key,
		// checked in VerifyConnection, not from a CA.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			k, err := PeerKey(cs)
			if err != nil {
				return err
			}
			if !k.Equal(pinned) {
				return fmt.Errorf("%w: the station answering for %s presented key %x, pinned key is %x", ErrNotPinned, peerName, []byte(k), []byte(pinned))
			}
			return nil
		},
	}
}

// MaxFrame bounds frames read from a peer: the protocol's limit.
const MaxFrame = wire.MaxFrame

// ReadFrame reads one length-prefixed frame.
func ReadFrame(r *bufio.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 || int64(n) > int64(MaxFrame) {
		return nil, fmt.Errorf("%w: %d, limit %d", ErrFrameSize, n, MaxFrame)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return nil, err
	}
	return p, nil
}

// WriteFrame writes one length-prefixed frame.
func WriteFrame(w io.Writer, p []byte) error {
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(p)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(p)
	return err
}

// Out is a frame to send, with how it is scheduled.
type Out struct {
	Data  []byte
	Close bool      // close the connection once it is written
	Until time.Time // if set, the frame is dropped rather than written at or after it
	// Stream names the frames that must leave in the order they were
	// queued (one channel's entries); "" is a control frame (probes,
	// receipts, status), which goes before any stream's.
	Stream string
	// Urgent says the frame carries FLASH or IMMEDIATE traffic: its
	// stream, up to it, goes before the streams that have none.
	Urgent bool
}

type outFrame struct {
	Out
	seq uint64 // order of queueing
}

// stream is one stream's frames waiting, oldest first.
type stream struct {
	frames []outFrame
	urgent int // how many of them are urgent
}

// Conn is an authenticated connection with a queued writer. Frames wait
// in the writer's queue, not in the kernel's: what is written to the
// socket is kept to about what the path carries in a round trip (pace),
// so that a control frame or an urgent stream queued behind a backlog
// leaves next, before the backlog, as military message handling has
// always let FLASH preempt.
type Conn struct {
	c      net.Conn
	r      *bufio.Reader
	mu     sync.Mutex
	ctl    []outFrame
	byName map[string]*stream
	queued int
	seq    uint64
	wake   chan struct{}
	once   sync.Once
	closed chan struct{}
	late   atomic.Int64 // frames SendBefore queued, dropped for being late
	pace   *pacer       // nil where the socket cannot be measured
}

// QueueSize is how many frames may wait for a slow peer before the
// connection is dropped (the protocol resumes from the peer's status).
const QueueSize = 8192

// NewConn wraps an established connection and starts its writer.
func NewConn(c net.Conn) *Conn {
	k := &Conn{c: c, r: bufio.NewReaderSize(c, 64<<10), byName: map[string]*stream{}, wake: make(chan struct{}, 1), closed: make(chan struct{})}
	k.pace = newPacer(c)
	go k.writer()
	return k
}

// push queues a frame; a full queue closes the connection.
func (k *Conn) push(o Out) {
	select {
	case <-k.closed:
		return
	default:
	}
	k.mu.Lock()
	if k.queued >= QueueSize {
		k.mu.Unlock()
		k.Close()
		return
	}
	k.seq++
	f := outFrame{Out: o, seq: k.seq}
	if o.Stream == "" {
		k.ctl = append(k.ctl, f)
	} else {
		st := k.byName[o.Stream]
		if st == nil {
			st = &stream{}
			k.byName[o.Stream] = st
		}
		st.frames = append(st.frames, f)
		if o.Urgent {
			st.urgent++
		}
	}
	k.queued++
	k.mu.Unlock()
	select {
	case k.wake <- struct{}{}:
	default:
	}
}

// next takes the frame to write next: the oldest control frame; else the
// head of the stream with urgent frames whose head is oldest; else the
// oldest head of any stream. It returns whether more wait.
func (k *Conn) next() (outFrame, bool, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.ctl) > 0 {
		f := k.ctl[0]
		k.ctl[0] = outFrame{}
		k.ctl = k.ctl[1:]
		k.queued--
		return f, true, k.queued > 0
	}
	var best *stream
	var bestName string
	for name, st := range k.byName {
		if best == nil || (st.urgent > 0) != (best.urgent > 0) && st.urgent > 0 ||
			(st.urgent > 0) == (best.urgent > 0) && st.frames[0].seq < best.frames[0].seq {
			best, bestName = st, name
		}
	}
	if best == nil {
		return outFrame{}, false, false
	}
	f := best.frames[0]
	best.frames[0] = outFrame{}
	best.frames = best.frames[1:]
	if f.Urgent {
		best.urgent--
	}
	if len(best.frames) == 0 {
		delete(k.byName, bestName)
	}
	k.queued--
	return f, true, k.queued > 0
}

// waiting is how many frames wait in the writer's queue.
func (k *Conn) waiting() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.queued
}

func (k *Conn) writer() {
	w := bufio.NewWriterSize(k.c, 64<<10)
	fail := func() { k.Close() }
	for {
		if k.waiting() == 0 {
			if err := w.Flush(); err != nil {
				fail()
				return
			}
			select {
			case <-k.wake:
				continue
			case <-k.closed:
				return
			}
		}
		// A paced path takes only what it carries in about a round
		// trip: the rest waits here, where what is urgent can pass it.
		paced := false
		if k.pace != nil {
			var ok bool
			if paced, ok = k.pace.wait(k.closed, w.Buffered(), w.Flush); !ok {
				fail()
				return
			}
		}
		f, ok, more := k.next()
		if !ok {
			continue
		}
		if !f.Until.IsZero() {
			// What was queued before it must not wait behind the clock
			// reading: flush it, then look at the clock as late as
			// possible before the frame's bytes are written.
			if err := w.Flush(); err != nil {
				fail()
				return
			}
			if !time.Now().Before(f.Until) {
				k.late.Add(1)
				continue
			}
			err := WriteFrame(w, f.Data)
			if err == nil {
				err = w.Flush()
			}
			if err != nil || f.Close {
				fail()
				return
			}
			continue
		}
		if err := WriteFrame(w, f.Data); err != nil {
			fail()
			return
		}
		if !more || f.Close || paced {
			if err := w.Flush(); err != nil {
				fail()
				return
			}
		}
		if f.Close {
			k.Close()
			return
		}
	}
}

// SendOut queues a frame; it never blocks. A full queue closes the
// connection.
func (k *Conn) SendOut(o Out) { k.push(o) }

// SendBefore queues a frame that must not leave at or after until (entries
// sent ahead under a station's lease): the writer reads the clock just
// before it writes the frame, and drops it, counted in Late, if it is
// too late by then (the process was paused, or the peer slow to read).
// It never blocks; a full queue closes the connection.
func (k *Conn) SendBefore(p []byte, until time.Time) { k.push(Out{Data: p, Until: until}) }

// Late is how many frames SendBefore queued were dropped for being late.
func (k *Conn) Late() int64 { return k.late.Load() }

// Send queues a control frame; it never blocks. A full queue closes the
// connection.
func (k *Conn) Send(p []byte, closeAfter bool) { k.push(Out{Data: p, Close: closeAfter}) }

// Rate is what the connection's path was last measured to carry while it
// was full, in bytes a second, and its least round trip; zero where not
// known (the path was never full, or the socket cannot be measured).
func (k *Conn) Rate() (bytesPerSec float64, minRTT time.Duration) {
	if k.pace == nil {
		return 0, 0
	}
	return k.pace.estimate()
}

// Read reads the next frame.
func (k *Conn) Read() ([]byte, error) { return ReadFrame(k.r) }

// Close closes the connection; it is safe to call more than once.
func (k *Conn) Close() error {
	var err error
	k.once.Do(func() {
		close(k.closed)
		err = k.c.Close()
	})
	return err
}

// Closed is closed when the connection is.
func (k *Conn) Closed() <-chan struct{} { return k.closed }

// RemoteAddr is the peer's address.
func (k *Conn) RemoteAddr() net.Addr { return k.c.RemoteAddr() }

// Backoff yields jittered, growing delays between reconnection attempts.
type Backoff struct {
	Min, Max time.Duration
	cur      time.Duration
}

// Next returns the next delay: the current one with ±50% jitter.
func (b *Backoff) Next() time.Duration {
	if b.cur == 0 {
		b.cur = max(b.Min, time.Millisecond)
	} else {
		b.cur = min(b.cur*2, b.Max)
	}
	return b.cur/2 + time.Duration(mrand.Int64N(int64(b.cur)))
}

// Reset starts again from Min.
func (b *Backoff) Reset() { b.cur = 0 }

// DialTimeout bounds a connection's TCP and TLS handshakes together: the
// TLS handshake (the hybrid key exchange's shares, both certificates) is
// some 5 kB, which takes seconds on a narrow radio link, and a lost
// segment there costs a retransmission timeout of a second or more.
const DialTimeout = 30 * time.Second

// Dial connects to addr with TLS and a deadline for the handshake.
func Dial(ctx context.Context, addr string, cfg *tls.Config) (*tls.Conn, error) {
	return dial(ctx, addr, cfg, 15*time.Second)
}

// DialPeer is Dial for a peer station's direct path, with no TCP
// keepalives: the protocol probes the path itself, and on a narrow radio
// link four connections' keepalives every 15 s would take more of it
// than all the stations' idle traffic may (PROTOCOL.md, "Narrow paths").
func DialPeer(ctx context.Context, addr string, cfg *tls.Config) (*tls.Conn, error) {
	return dial(ctx, addr, cfg, -1)
}

func dial(ctx context.Context, addr string, cfg *tls.Config, keepAlive time.Duration) (*tls.Conn, error) {
	d := &tls.Dialer{NetDialer: &net.Dialer{KeepAlive: keepAlive}, Config: cfg}
	ctx, cancel := context.WithTimeout(ctx, DialTimeout)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return c.(*tls.Conn), nil
}
