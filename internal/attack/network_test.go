package attack_test

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"hotline/internal/identity"
	"hotline/internal/link"
	"hotline/internal/protocol"
)

// mitm is a man in the middle with its own key, calling itself name. On
// each connection it tries to complete a handshake with the dialer, and
// to open a connection of its own to target, as the dialer would.
type mitm struct {
	cert   tls.Certificate
	target func() string

	mu                         sync.Mutex
	conns, fromClient, fromSrv int // connections; bytes read from each side
}

func newMITM(t *testing.T, name string, target func() string) *mitm {
	t.Helper()
	keys, err := identity.NewKeys(name)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := link.Certificate(name, keys.Sign)
	if err != nil {
		t.Fatal(err)
	}
	return &mitm{cert: cert, target: target}
}

func (m *mitm) handle(c net.Conn) {
	defer c.Close()
	m.mu.Lock()
	m.conns++
	m.mu.Unlock()
	// Toward the dialer: its own certificate, any client accepted.
	tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{m.cert}, ClientAuth: tls.RequireAnyClientCert})
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	n := 0
	if tc.Handshake() == nil {
		buf := make([]byte, 4096)
		n, _ = tc.Read(buf)
	}
	// Toward the station the dialer wanted: its own certificate again.
	up, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", m.target(),
		&tls.Config{Certificates: []tls.Certificate{m.cert}, InsecureSkipVerify: true})
	k := 0
	if err == nil {
		up.SetDeadline(time.Now().Add(5 * time.Second))
		link.WriteFrame(up, (&protocol.Frame{Type: protocol.FrameHello, Version: protocol.Version}).Encode())
		buf := make([]byte, 4096)
		k, _ = up.Read(buf)
		up.Close()
	}
	m.mu.Lock()
	m.fromClient += n
	m.fromSrv += k
	m.mu.Unlock()
}

func (m *mitm) stats() (conns, fromClient, fromSrv int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.conns, m.fromClient, m.fromSrv
}

// TestManInTheMiddle: the network between USA and CHN is taken over by
// an attacker who answers at each station's address with a certificate of
// its own and dials the other station with it. Both stations refuse it at
// the handshake, in both directions, and raise alarms; a message sent
// meanwhile waits, and arrives once the network is given back.
func TestManInTheMiddle(t *testing.T) {
	// Each card lists an address on a network the attacker will own.
	var usaListen, chnListen string
	toUSA := newProxy(t, "")
	toCHN := newProxy(t, "")
	usa, chn := pairVia(t, toUSA, toCHN)
	usaListen, chnListen = usa.listen, chn.listen
	ctx := context.Background()
	first := send(t, usa, "before the attack")
	waitFor(t, "the first message delivered", func() bool { return delivered(t, usa, first) })
	usaBefore, chnBefore := settled(t, usa), settled(t, chn)
	usaRefused, chnRefused := refused(t, usa), refused(t, chn)

	mUSA := newMITM(t, "USA", func() string { return usaListen })
	mCHN := newMITM(t, "CHN", func() string { return chnListen })
	toUSA.intercept(mUSA.handle)
	toCHN.intercept(mCHN.handle)
	during := send(t, usa, "during the attack")

	waitFor(t, "both stations to refuse the man in the middle both ways, with alarms", func() bool {
		u, c := refused(t, usa), refused(t, chn)
		return u["wrong peer key"] > usaRefused["wrong peer key"] && c["wrong peer key"] > chnRefused["wrong peer key"] &&
			u["unpinned station"] > usaRefused["unpinned station"] && c["unpinned station"] > chnRefused["unpinned station"] &&
			len(alerts(t, usa, "alarm", "not pinned")) >= 2 && len(alerts(t, chn, "alarm", "not pinned")) >= 2
	})
	for _, n := range []*node{usa, chn} {
		other := map[string]string{"USA": "CHN", "CHN": "USA"}[n.name]
		if len(alerts(t, n, "alarm", other, "not pinned")) == 0 {
			t.Errorf("%s: no alarm naming %s and the unpinned key", n.name, other)
		}
		if len(alerts(t, n, "alarm", "refused a station", "not pinned")) == 0 {
			t.Errorf("%s: no alarm for the man in the middle dialing in", n.name)
		}
	}
	for _, m := range []*mitm{mUSA, mCHN} {
		if conns, fromClient, fromSrv := m.stats(); conns == 0 || fromClient != 0 || fromSrv != 0 {
			t.Errorf("man in the middle: %d connections, read %d bytes from dialers and %d from stations; want some connections, no bytes",
				conns, fromClient, fromSrv)
		}
	}
	if delivered(t, usa, during) {
		t.Error("a message was delivered through the man in the middle")
	}
	// Nothing changed at CHN; at USA only its own new message.
	unchanged(t, chn, chnBefore)
	usaAfter := stateOf(t, usa)
	usaAfter.Entries = usaAfter.Entries[:len(usaAfter.Entries)-1]
	usaAfter.Logs = usaBefore.Logs // USA's own log grew by its send
	if len(usaAfter.Entries) != len(usaBefore.Entries) {
		t.Errorf("USA holds %d entries besides the new one, had %d", len(usaAfter.Entries), len(usaBefore.Entries))
	}
	ps, err := usa.st.Store.Peers(ctx)
	if err != nil || len(ps) != 1 || string(ps[0].Card) != string(usaBefore.Peers[0].Card) {
		t.Errorf("USA's pinned cards after the attack: %+v, %v", ps, err)
	}

	// The network is given back: the message waiting goes through.
	toUSA.intercept(nil)
	toCHN.intercept(nil)
	waitFor(t, "the message sent during the attack delivered", func() bool { return delivered(t, usa, during) })
}

// TestReplayRecordedConnection: an eavesdropper records the bytes a real
// connection from USA to CHN carried (TLS records) and plays them to CHN
// on a new connection. TLS 1.3 makes new keys for every connection, so the
// recording's handshake does not finish: refused, counted as "handshake
// failed", a warning raised, and nothing changed at CHN.
func TestReplayRecordedConnection(t *testing.T) {
	toCHN := newProxy(t, "")
	rec := make(chan []byte, 16)
	toCHN.record = rec
	usa, chn := pairVia(t, nil, toCHN)
	id := send(t, usa, "recorded on its way")
	waitFor(t, "the message delivered", func() bool { return delivered(t, usa, id) })
	toCHN.cut()
	var recording []byte
	for recording == nil {
		select {
		case r := <-rec:
			if len(r) > 1000 {
				recording = r
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no connection recorded")
		}
	}
	toCHN.intercept(func(c net.Conn) { c.Close() }) // USA stays away during the replay
	before := settled(t, chn)
	was := refused(t, chn)["handshake failed"]

	c, err := net.Dial("tcp", chn.listen)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	c.Write(recording)
	answer := make([]byte, 64<<10)
	for {
		if _, err := c.Read(answer); err != nil {
			break // CHN closed it
		}
	}
	c.Close()

	// The counter moves when the core takes the refusal, the alert once
	// it is written.
	waitFor(t, "CHN to count the replay and warn", func() bool {
		return refused(t, chn)["handshake failed"] == was+1 && len(alerts(t, chn, "warning", "refused a connection from")) > 0
	})
	unchanged(t, chn, before)
}

// TestDowngrade: a client that offers TLS 1.2, or TLS 1.3 without the
// hybrid post-quantum key exchange, is refused at the peer port and at the
// relay port, even with the genuine peer's key; each refusal is counted
// ("handshake failed") and raises a warning at the station, and changes
// nothing. (TLS 1.3's three cipher suites are all AEADs: none is a
// downgrade, and Go's TLS 1.3 does not let a client choose among them.)
func TestDowngrade(t *testing.T) {
	usa, chn := pair(t)
	rl := newRelayServer(t, nil)
	cert, err := link.Certificate("CHN", chn.st.Keys.Sign)
	if err != nil {
		t.Fatal(err)
	}
	before := settled(t, usa)
	stWas := refused(t, usa)["handshake failed"]
	rlWas := rl.srv.Stats().Refused["handshake failed"]
	attempts := []struct {
		name string
		edit func(*tls.Config)
	}{
		{"TLS 1.2", func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS12 }},
		{"TLS 1.2 with CBC suites", func(c *tls.Config) {
			c.MinVersion, c.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}
		}},
		{"TLS 1.3 with X25519 alone", func(c *tls.Config) { c.CurvePreferences = []tls.CurveID{tls.X25519} }},
		{"TLS 1.3 with P-256 alone", func(c *tls.Config) { c.CurvePreferences = []tls.CurveID{tls.CurveP256} }},
	}
	for _, target := range []struct {
		name, addr string
		key        []byte
	}{{"peer port", usa.listen, usa.st.Keys.SignPublic()}, {"relay port", rl.addr, rl.card.SignKey}} {
		for _, a := range attempts {
			cfg := link.ClientConfig(cert, "target", target.key)
			a.edit(cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			tc, err := link.Dial(ctx, target.addr, cfg)
			cancel()
			if err == nil {
				// TLS 1.3 lets a client finish first; the refusal then
				// comes on the first read.
				tc.SetReadDeadline(time.Now().Add(10 * time.Second))
				_, err = tc.Read(make([]byte, 1))
				tc.Close()
			}
			if err == nil {
				t.Errorf("%s: %s: handshake completed and read a byte", target.name, a.name)
			} else if !strings.Contains(err.Error(), "version") && !strings.Contains(err.Error(), "handshake") &&
				!strings.Contains(err.Error(), "key exchange") && !strings.Contains(err.Error(), "EOF") {
				t.Logf("%s: %s: %v", target.name, a.name, err)
			}
		}
	}
	n := len(attempts)
	waitFor(t, "every downgrade counted, and a warning", func() bool {
		return refused(t, usa)["handshake failed"] == stWas+n && rl.srv.Stats().Refused["handshake failed"] == rlWas+int64(n) &&
			len(alerts(t, usa, "warning", "refused a connection from")) > 0
	})
	ws := alerts(t, usa, "warning", "refused a connection from")
	if len(ws) == 0 {
		t.Fatal("USA raised no warning")
	}
	if !strings.Contains(ws[0].Text, "version") && !strings.Contains(ws[0].Text, "key exchange") {
		t.Errorf("warning %q does not say what was refused", ws[0].Text)
	}
	unchanged(t, usa, before)
}
