package attack_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"hotline/internal/api"
	"hotline/internal/channel"
	"hotline/internal/codebook"
	"hotline/internal/deconflict"
	"hotline/internal/identity"
	"hotline/internal/link"
	"hotline/internal/ops"
	"hotline/internal/protocol"
	"hotline/internal/relay"
	"hotline/internal/station"
	"hotline/internal/stationdir"
	"hotline/internal/transcript"
)

var lorisN = flag.Int("attack.loris", 200, "slow clients per listener in TestSlowLoris")

// nested is n opening brackets: JSON nested n deep (and never closed).
func nested(n int) string { return strings.Repeat("[", n) }

// TestOversizedFrame: a peer (with its genuine key) announces a frame
// larger than the protocol allows. The station refuses it unread, closes
// the connection, counts "oversized frame" and raises an alarm.
func TestOversizedFrame(t *testing.T) {
	usa, chn := pair(t)
	before := settled(t, usa)
	was := refused(t, usa)["oversized frame"]
	cert, err := link.Certificate("CHN", chn.st.Keys.Sign)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tc, err := link.Dial(ctx, usa.listen, link.ClientConfig(cert, "USA", usa.st.Keys.SignPublic()))
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(link.MaxFrame+1))
	tc.Write(hdr[:])
	tc.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.Copy(io.Discard, tc); err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		t.Logf("read after the oversized header: %v", err)
	}
	waitFor(t, "USA to count the oversized frame and raise an alarm", func() bool {
		return refused(t, usa)["oversized frame"] == was+1 && len(alerts(t, usa, "alarm", "frame refused unread")) > 0
	})
	if a := alerts(t, usa, "alarm", "frame refused unread")[0]; !strings.Contains(a.Text, fmt.Sprint(link.MaxFrame)) {
		t.Errorf("alarm %q does not give the limit", a.Text)
	}
	unchanged(t, usa, before)
}

// TestOversizedAndNestedInput sends input too large, and JSON nested far
// too deep, to every decoder that takes input from outside the station:
// API request bodies, offline bundle files, cards, charters, codebook
// messages and the deconfliction bodies. Each is refused with an error
// that says what was wrong, and the station is unchanged.
func TestOversizedAndNestedInput(t *testing.T) {
	usa, _ := pair(t)
	tok, err := stationdir.ReadToken(usa.dir)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.BodyDeadline(api.NewServer(usa.st, tok)))
	t.Cleanup(srv.Close)
	post := func(path string, body []byte) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	before := settled(t, usa)
	big := strings.Repeat("A", api.MaxBody)

	apiCases := []struct {
		name, path, body string
		code             int
		want             string
	}{
		{"send, body over the limit", "/api/v1/messages", `{"channel":"` + staff + `","text":"` + big + `"}`, 413, "request body too large"},
		{"send, nested", "/api/v1/messages", `{"channel":` + nested(100000), 400, "exceeded max depth"},
		{"peers, nested", "/api/v1/peers", `{"card":` + nested(100000), 400, "exceeded max depth"},
		{"coded, nested", "/api/v1/coded", `{"channel":"` + staff + `","items":` + nested(100000), 400, "exceeded max depth"},
		{"notice, nested", "/api/v1/notices", `{"channel":"` + staff + `","notice":{"area":` + nested(1000) + strings.Repeat("]", 1000) + `}}`, 400, "nested deeper than"},
		{"plan, nested", "/api/v1/plans", `{"plan":{"kind":` + nested(1000) + strings.Repeat("]", 1000) + `}}`, 400, "nested deeper than"},
		{"report, nested", "/api/v1/reports", `{"channel":"` + staff + `","report":{"said":` + nested(1000) + strings.Repeat("]", 1000) + `}}`, 400, "nested deeper than"},
		{"bundle, nested", "/api/v1/bundle", `{"frames":` + nested(100000), 400, "frame 1 is an array, not a string"},
		{"card over its limit", "/api/v1/peers", `{"card":"` + strings.Repeat("x", 20<<10) + `","fingerprint":"x"}`, 400, "larger than a card can be"},
	}
	for _, c := range apiCases {
		code, body := post(c.path, []byte(c.body))
		if code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s; want %d naming %q", c.name, code, clip(body), c.code, c.want)
		}
	}

	// The decoders themselves, with what a peer or a carried file brings.
	frame := make([]byte, link.MaxFrame+1)
	bundle, _ := json.Marshal(ops.OfflineBundle{Format: ops.OfflineFormat, From: "CHN", To: "USA", Frames: [][]byte{frame}})
	_, bundleErr := usa.st.BundleImport(context.Background(), bytes.NewReader(bundle))
	_, cardErr := identity.ParseCard(bytes.Repeat([]byte("x"), 17<<10))
	_, charterErr := channel.Parse(bytes.Repeat([]byte("x"), 9<<10))
	_, codedErr := codebook.DecodeMessage([]byte(`{"codebook":"x","items":` + nested(1000) + strings.Repeat("]", 1000) + `}`))
	_, codedBig := codebook.DecodeMessage([]byte(`{"codebook":"` + strings.Repeat("x", codebook.MaxBody) + `"}`))
	_, noticeErr := deconflict.DecodeNotice([]byte(`{"area":` + nested(1000) + strings.Repeat("]", 1000) + `}`))
	_, transcriptErr := transcript.ReadBundle(strings.NewReader(`{"logs":` + nested(100000)))
	_, streamErr := transcript.CheckStream(strings.NewReader(`{"format":"`+transcript.BundleFormat+`","logs":`+nested(100000)), transcript.Options{})
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"offline bundle with a frame over the limit", bundleErr, "frame 1 has"},
		{"card over its limit", cardErr, "larger than a card can be"},
		{"charter over its limit", charterErr, "bytes"},
		{"codebook message nested", codedErr, "nested deeper than"},
		{"codebook message over its limit", codedBig, "bytes"},
		{"notice nested", noticeErr, "nested deeper than"},
		{"audit bundle nested", transcriptErr, "nested deeper than"},
		{"audit bundle nested, streamed", streamErr, "logs come before channel"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: %v; want an error naming %q", c.name, c.err, c.want)
		}
	}
	unchanged(t, usa, before)
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// slowClient opens a connection to addr and sends it prefix, then one
// byte of trickle a second, until the server closes it; it returns what
// the server sent, on done.
func slowClient(t *testing.T, addr string, prefix, trickle []byte, done chan<- []byte) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Error(err)
		done <- nil
		return
	}
	defer c.Close()
	c.Write(prefix)
	stop := make(chan struct{})
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
			}
			if _, err := c.Write(trickle[i%len(trickle) : i%len(trickle)+1]); err != nil {
				return
			}
		}
	}()
	// The limit is only there so that a broken build fails, not hangs.
	c.SetReadDeadline(time.Now().Add(2 * time.Minute))
	got, _ := io.ReadAll(c)
	close(stop)
	done <- got
}

// slowLoris opens n slow clients and returns a function that waits until
// the server has closed every one, and returns what each was sent.
func slowLoris(t *testing.T, n int, addr string, prefix, trickle []byte) func() [][]byte {
	done := make(chan []byte, n)
	for range n {
		go slowClient(t, addr, prefix, trickle, done)
	}
	return func() [][]byte {
		var out [][]byte
		for range n {
			out = append(out, <-done)
		}
		return out
	}
}

// tlsTrickle is the start of a TLS record that announces a ClientHello
// of 512 bytes, and what a slow client then sends one byte at a time.
var tlsPrefix, tlsTrickle = []byte{0x16, 0x03, 0x01, 0x02, 0x00}, bytes.Repeat([]byte{0x01}, 512)

// TestSlowLoris: n clients open connections to each listener (the peer
// port, the API and console port, the relay port) and send one byte a
// second. Each listener closes every one of them after its deadline (the
// TLS handshake, the request headers, the request body), counts them where
// it counts refusals, and serves a good client meanwhile.
func TestSlowLoris(t *testing.T) {
	n := *lorisN
	t.Run("peer port", func(t *testing.T) {
		t.Parallel()
		usa, chn := pair(t)
		was := refused(t, usa)["handshake timeout"]
		wait := slowLoris(t, n, usa.listen, tlsPrefix, tlsTrickle)
		// A good client: CHN, on a new connection, says hello and is
		// answered; and a message goes through.
		c := as(t, chn.st.Keys, usa)
		c.Send((&protocol.Frame{Type: protocol.FrameHello, Version: protocol.Version}).Encode(), false)
		if f := readUntil(t, c, protocol.FrameStatus); f == nil {
			t.Error("a good client was not answered while the slow ones were open")
		}
		id := send(t, chn, "through the slow loris")
		waitFor(t, "a message delivered meanwhile", func() bool { return delivered(t, chn, id) })
		wait()
		waitFor(t, "every slow connection counted, and a warning", func() bool {
			return refused(t, usa)["handshake timeout"] == was+n && len(alerts(t, usa, "warning", "no TLS handshake within")) > 0
		})
	})
	t.Run("API and console port", func(t *testing.T) {
		t.Parallel()
		usa := newNode(t, "USA", nil)
		tok, err := stationdir.ReadToken(usa.dir)
		if err != nil {
			t.Fatal(err)
		}
		addr := freeAddr(t)
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- api.Serve(ctx, addr, api.NewServer(usa.st, tok), nil, nil) }()
		t.Cleanup(func() { cancel(); <-served })
		waitFor(t, "the API listener", func() bool {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
		headers := slowLoris(t, n, addr, []byte("GET /api/v1/status HTTP/1.1\r\n"), []byte("X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"))
		body := slowLoris(t, n/4, addr, []byte("POST /api/v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+tok+
			"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"), []byte(`"channel": "x", `))
		// A good client meanwhile.
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/api/v1/status", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("a good client was not served while the slow ones were open: %v", err)
		}
		resp.Body.Close()
		for _, got := range headers() {
			if len(got) > 0 && !bytes.HasPrefix(got, []byte("HTTP/1.1 408")) {
				t.Errorf("slow headers answered %q", clip(string(got)))
			}
		}
		for _, got := range body() {
			if !bytes.Contains(got, []byte("400 Bad Request")) || !bytes.Contains(got, []byte("request body")) {
				t.Errorf("slow body answered %q, want 400 naming the request body", clip(string(got)))
			}
		}
	})
	t.Run("relay port", func(t *testing.T) {
		t.Parallel()
		rl := newRelayServer(t, nil)
		usa := newNode(t, "USA", nil)
		if _, err := relay.Allow(context.Background(), rl.dir, usa.st.OwnCard.Text, usa.st.OwnCard.Fingerprint()); err != nil {
			t.Fatal(err)
		}
		was := rl.srv.Stats().Refused["handshake failed"]
		wait := slowLoris(t, n, rl.addr, tlsPrefix, tlsTrickle)
		cert, err := link.Certificate("USA", usa.st.Keys.Sign)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cl, err := relay.Dial(ctx, rl.addr, rl.card.SignKey, cert)
		if err != nil {
			t.Fatalf("a good station could not reach the relay while the slow ones were open: %v", err)
		}
		cl.Close()
		wait()
		waitFor(t, "every slow connection counted", func() bool { return rl.srv.Stats().Refused["handshake failed"] == was+int64(n) })
	})
}

// TestHandshakeLimit: a stranger (from 127.0.0.2) opens more connections
// to the peer port than station.MaxHandshakes and sends nothing. Past the
// limit each is closed at once and counted as "handshake limit"; the
// pinned peer (from 127.0.0.1, the address in its card) is still taken
// and answered, and a message goes through.
func TestHandshakeLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("opens hundreds of connections")
	}
	usa, chn := pair(t)
	was := refused(t, usa)["handshake limit"]
	const extra = 8
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 10 * time.Second}
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for range station.MaxHandshakes + extra {
		c, err := d.Dial("tcp", usa.listen)
		if err != nil {
			t.Fatalf("dialing from 127.0.0.2: %v", err)
		}
		conns = append(conns, c)
	}
	waitFor(t, "the connections past the limit refused and counted", func() bool {
		return refused(t, usa)["handshake limit"] >= was+extra
	})
	c := as(t, chn.st.Keys, usa)
	c.Send((&protocol.Frame{Type: protocol.FrameHello, Version: protocol.Version}).Encode(), false)
	if f := readUntil(t, c, protocol.FrameStatus); f == nil {
		t.Error("the pinned peer was not answered while strangers held the handshake limit")
	}
	id := send(t, chn, "through the flood")
	waitFor(t, "a message delivered meanwhile", func() bool { return delivered(t, chn, id) })
}
