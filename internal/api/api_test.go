package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hotline/internal/api"
	"hotline/internal/identity"
	"hotline/internal/ops"
	"hotline/internal/station"
	"hotline/internal/stationdir"
	"hotline/internal/transcript"
)

const staff = "usa-chn-staff"

// node is a station opened in this process with its API on a test server.
type node struct {
	name  string
	dir   string
	card  *identity.Card
	st    *station.Station
	srv   *httptest.Server
	token string
	c     *api.Client
}

func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// initCard creates a station directory that is never opened: a card to pin.
func initCard(t *testing.T, name string) *identity.Card {
	t.Helper()
	card, err := stationdir.Init(context.Background(), stationdir.InitOptions{Dir: filepath.Join(t.TempDir(), name),
		Name: name, Party: name, PeerListen: "127.0.0.1:9", APIListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	return card
}

func newNode(t testing.TB, name, peerListen string) *node {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), strings.ToLower(name))
	card, err := stationdir.Init(ctx, stationdir.InitOptions{Dir: dir, Name: name, Party: name, PeerListen: peerListen, APIListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := station.Open(ctx, dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tok, err := stationdir.ReadToken(dir)
	if err != nil || len(tok) < 32 {
		t.Fatalf("token %q, %v", tok, err)
	}
	srv := httptest.NewServer(api.NewServer(st, tok))
	t.Cleanup(srv.Close) // before the station closes
	return &node{name: name, dir: dir, card: card, st: st, srv: srv, token: tok,
		c: api.Dial(srv.URL, tok, srv.Client())}
}

// run runs the node's peer side until the test ends.
func (n *node) run(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.st.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: Run: %v", n.name, err)
		}
	})
}

type response struct {
	code int
	ct   string
	body []byte
}

// errText decodes the JSON error body; it fails the test if there is none.
func (r response) errText(t *testing.T) string {
	t.Helper()
	if !strings.HasPrefix(r.ct, "application/json") {
		t.Errorf("error response has Content-Type %q, want application/json", r.ct)
	}
	var eb struct {
		Error string `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&eb); err != nil || eb.Error == "" {
		t.Errorf("error response is not {\"error\": ...}: %q (%v)", r.body, err)
	}
	return eb.Error
}

// request sends a raw request; auth is the whole Authorization header, or
// empty for none.
func request(t *testing.T, n *node, method, path, auth string, body []byte) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, n.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := n.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header.Get("Content-Type"), data}
}

func (n *node) call(t *testing.T, method, path string, body []byte) response {
	t.Helper()
	return request(t, n, method, path, "Bearer "+n.token, body)
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// state is what an API request might change.
type state struct {
	Peers    []ops.PeerView
	Channels []ops.ChannelView
	Outbox   []ops.MessageView
	Inbox    []ops.MessageView
}

func stateOf(t *testing.T, n *node) string {
	t.Helper()
	ctx := context.Background()
	var s state
	var err error
	if s.Peers, err = n.c.Peers(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Channels, err = n.c.Channels(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Outbox, err = n.c.Outbox(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if s.Inbox, err = n.c.Inbox(ctx, ""); err != nil {
		t.Fatal(err)
	}
	for i := range s.Peers {
		s.Peers[i].Connected = false // may change by itself
	}
	for i := range s.Channels {
		// Paths are live measurements (round trips, probes), not state.
		s.Channels[i].Connected, s.Channels[i].Paths = false, nil
	}
	return string(mustJSON(t, s))
}

func assertUnchanged(t *testing.T, n *node, before, what string) {
	t.Helper()
	if after := stateOf(t, n); after != before {
		t.Errorf("%s changed the station:\nbefore %s\nafter  %s", what, before, after)
	}
}

// waitFor re-checks cond whenever one of the stations notifies a change,
// until it holds or 30s pass. It also re-checks on a short tick: a station
// notifies before it has written the change (see the BUG in
// internal/station/attack_test.go), so the last notification can come
// before the change is readable.
func waitFor(t testing.TB, what string, cond func() (bool, error), sts ...*station.Station) {
	t.Helper()
	kick := make(chan struct{}, 1)
	for _, st := range sts {
		ch, cancel := st.Subscribe()
		defer cancel()
		go func() {
			for range ch {
				select {
				case kick <- struct{}{}:
				default:
				}
			}
		}()
	}
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for {
		ok, err := cond()
		if ok {
			return
		}
		select {
		case <-kick:
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s (last error: %v)", what, err)
		}
	}
}

func TestAuthRequired(t *testing.T) {
	usa := newNode(t, "USA", "127.0.0.1:0")
	chn := initCard(t, "CHN")
	before := stateOf(t, usa)
	addPeer := mustJSON(t, map[string]string{"card": string(chn.Text), "fingerprint": chn.Fingerprint()})
	send := mustJSON(t, ops.SendRequest{Channel: staff, Precedence: "FLASH", Text: "hi"})
	for _, auth := range []string{"", "Bearer ", "Bearer wrong", "Bearer " + usa.token + "x", "Bearer " + usa.token[:len(usa.token)-1],
		usa.token, "bearer " + usa.token, "Basic " + usa.token} {
		for _, rq := range []struct {
			method, path string
			body         []byte
		}{
			{"GET", "/api/v1/status", nil},
			{"GET", "/api/v1/card", nil},
			{"GET", "/api/v1/peers", nil},
			{"POST", "/api/v1/peers", addPeer},
			{"POST", "/api/v1/messages", send},
			{"GET", "/api/v1/events", nil},
			{"GET", "/api/v1/nowhere", nil},
		} {
			r := request(t, usa, rq.method, rq.path, auth, rq.body)
			if r.code != http.StatusUnauthorized {
				t.Errorf("%s %s with Authorization %q: %d %q, want 401", rq.method, rq.path, auth, r.code, r.body)
				continue
			}
			if msg := r.errText(t); !strings.Contains(msg, "token") {
				t.Errorf("401 error %q does not mention the token", msg)
			}
			if bytes.Contains(r.body, []byte(usa.token)) {
				t.Error("401 response contains the token")
			}
		}
	}
	assertUnchanged(t, usa, before, "unauthorized requests")

	// The client reports the refusal as an *api.Error with the status.
	bad := api.Dial(usa.srv.URL, "wrong", usa.srv.Client())
	_, err := bad.AddPeer(context.Background(), chn.Text, chn.Fingerprint())
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
		t.Errorf("client with a wrong token: %v, want *api.Error 401", err)
	}
	assertUnchanged(t, usa, before, "a client with a wrong token")

	// The right token works.
	if r := usa.call(t, "GET", "/api/v1/peers", nil); r.code != http.StatusOK || strings.TrimSpace(string(r.body)) != "[]" {
		t.Errorf("GET peers with the token: %d %q", r.code, r.body)
	}
}

func TestBadBodies(t *testing.T) {
	usa := newNode(t, "USA", "127.0.0.1:0")
	chn, rus := initCard(t, "CHN"), initCard(t, "RUS")
	ctx := context.Background()
	if _, err := usa.c.AddPeer(ctx, chn.Text, chn.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	before := stateOf(t, usa)

	// Each body would change the station if it were taken as the valid
	// request it starts with.
	peer := string(mustJSON(t, map[string]string{"card": string(rus.Text), "fingerprint": rus.Fingerprint()}))
	propose := string(mustJSON(t, ops.ProposeRequest{Peer: "CHN", Channel: staff, Level: "staff"}))
	huge := strings.Repeat("A", api.MaxBody+1)
	cases := []struct {
		name, path, body string
		code             int
		want             string
	}{
		{"oversized card", "/api/v1/peers", `{"card":"` + huge + `","fingerprint":"` + rus.Fingerprint() + `"}`, 413, ""},
		{"oversized text", "/api/v1/messages", `{"channel":"usa-chn-staff","precedence":"FLASH","text":"` + huge + `"}`, 413, ""},
		{"oversized propose", "/api/v1/channels", `{"peer":"CHN","channel":"` + huge + `","level":"staff"}`, 413, ""},
		{"malformed", "/api/v1/peers", peer[:len(peer)-5], 400, "request body"},
		{"malformed", "/api/v1/channels", `{"peer":"CHN",channel:"x"}`, 400, "invalid character"},
		{"not an object", "/api/v1/channels", `["CHN","x","staff"]`, 400, "request body"},
		{"empty", "/api/v1/channels", ``, 400, "request body"},
		{"wrong type", "/api/v1/channels", `{"peer":"CHN","channel":"x","level":5}`, 400, "level"},
		{"unknown field", "/api/v1/peers", peer[:len(peer)-1] + `,"pin":true}`, 400, `unknown field "pin"`},
		{"unknown field", "/api/v1/channels", propose[:len(propose)-1] + `,"bogus":1}`, 400, `unknown field "bogus"`},
		{"two values", "/api/v1/peers", peer + peer, 400, "more than one JSON value"},
		{"two values", "/api/v1/channels", propose + "\n" + propose, 400, "more than one JSON value"},
		{"trailing garbage", "/api/v1/channels", propose + " x", 400, "more than one JSON value"},
	}
	for _, c := range cases {
		r := usa.call(t, "POST", c.path, []byte(c.body))
		if r.code != c.code {
			t.Errorf("%s to %s: %d %q, want %d", c.name, c.path, r.code, r.body, c.code)
			continue
		}
		if msg := r.errText(t); !strings.Contains(msg, c.want) {
			t.Errorf("%s to %s: error %q does not contain %q", c.name, c.path, msg, c.want)
		}
	}
	assertUnchanged(t, usa, before, "bad bodies")

	// The same bodies, made valid, do change the station.
	if r := usa.call(t, "POST", "/api/v1/channels", []byte(propose)); r.code != 200 {
		t.Errorf("valid propose: %d %q", r.code, r.body)
	}
	if r := usa.call(t, "POST", "/api/v1/peers", []byte(peer)); r.code != 200 {
		t.Errorf("valid peer add: %d %q", r.code, r.body)
	}
}

// TestOversizedPaddedBody: a body over MaxBody must be refused as too
// large, whatever it holds after its first JSON value.
func TestOversizedPaddedBody(t *testing.T) {
	usa := newNode(t, "USA", "127.0.0.1:0")
	before := stateOf(t, usa)
	body := `{"peer":"CHN","channel":"x","level":"staff"}` + strings.Repeat(" ", api.MaxBody)
	r := usa.call(t, "POST", "/api/v1/channels", []byte(body))
	if r.code != http.StatusRequestEntityTooLarge {
		t.Errorf("padded body of %d bytes: %d %q, want 413", len(body), r.code, r.errText(t))
	}
	assertUnchanged(t, usa, before, "an oversized body")
}

func TestSendRejected(t *testing.T) {
	usa := newNode(t, "USA", "127.0.0.1:0")
	chn := initCard(t, "CHN")
	ctx := context.Background()
	if _, err := usa.c.AddPeer(ctx, chn.Text, chn.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	cv, err := usa.c.Propose(ctx, ops.ProposeRequest{Peer: "CHN", Channel: staff, Level: "staff"})
	if err != nil || cv.State != "proposed" || cv.Written != 1 {
		t.Fatalf("propose: %+v, %v", cv, err)
	}
	before := stateOf(t, usa)
	long := strings.Repeat("x", 1<<17)
	for _, c := range []struct {
		req  ops.SendRequest
		want []string
	}{
		{ops.SendRequest{Channel: "usa-rus-staff", Precedence: "FLASH", Text: "hi"}, []string{"unknown channel", "usa-rus-staff"}},
		{ops.SendRequest{Channel: "", Precedence: "FLASH", Text: "hi"}, []string{"unknown channel"}},
		{ops.SendRequest{Channel: staff, Precedence: "URGENT", Text: "hi"}, []string{"precedence", "URGENT"}},
		{ops.SendRequest{Channel: staff, Precedence: "", Text: "hi"}, []string{"precedence"}},
		{ops.SendRequest{Channel: staff, Precedence: "FLASH", Text: ""}, []string{"empty"}},
		{ops.SendRequest{Channel: staff, Precedence: "FLASH", Text: long}, []string{"limit"}},
		{ops.SendRequest{Channel: staff, Precedence: "FLASH", Text: "hi"}, []string{"not active", staff, "accept"}},
	} {
		r := usa.call(t, "POST", "/api/v1/messages", mustJSON(t, c.req))
		if r.code != http.StatusBadRequest {
			t.Errorf("send %+v: %d %q, want 400", c.req, r.code, r.body)
			continue
		}
		msg := r.errText(t)
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("send to %q (%s): error %q does not contain %q", c.req.Channel, c.req.Precedence, msg, w)
			}
		}
		if strings.HasPrefix(msg, "bad request") {
			t.Errorf("error %q keeps the internal prefix", msg)
		}
	}
	// Through the client too: a 400 as *api.Error.
	_, err = usa.c.Send(ctx, ops.SendRequest{Channel: staff, Precedence: "FLASH", Text: "hi"})
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || !strings.Contains(ae.Message, "not active") {
		t.Errorf("client send on a proposed channel: %v", err)
	}
	assertUnchanged(t, usa, before, "refused sends")
}

func TestAddPeerRejected(t *testing.T) {
	usa := newNode(t, "USA", "127.0.0.1:0")
	chn, rus := initCard(t, "CHN"), initCard(t, "RUS")
	before := stateOf(t, usa)
	add := func(card []byte, fp string) response {
		return usa.call(t, "POST", "/api/v1/peers", mustJSON(t, map[string]string{"card": string(card), "fingerprint": fp}))
	}

	r := add(chn.Text, rus.Fingerprint())
	if r.code != http.StatusBadRequest {
		t.Fatalf("wrong fingerprint: %d %q, want 400", r.code, r.body)
	}
	msg := r.errText(t)
	for _, w := range []string{"CHN", "do not pin", "does not have the fingerprint given"} {
		if !strings.Contains(msg, w) {
			t.Errorf("wrong fingerprint: error %q does not contain %q", msg, w)
		}
	}
	// Not the card's own fingerprint: that would invite a copy past the
	// check read aloud.
	if strings.Contains(msg, chn.Fingerprint()) {
		t.Errorf("wrong fingerprint: error %q gives the card's fingerprint", msg)
	}
	for _, fp := range []string{"", "-", chn.Fingerprint()[:len(chn.Fingerprint())-1]} {
		if r := add(chn.Text, fp); r.code != http.StatusBadRequest {
			t.Errorf("fingerprint %q: %d %q, want 400", fp, r.code, r.body)
		}
	}

	// One flipped byte anywhere in the card: the header, each line, the
	// signature.
	text := chn.Text
	positions := []int{0, len(text) - 2, len(text) - 10}
	for _, field := range []string{"name ", "party ", "sign-key ", "kem-key ", "endpoint ", "issued ", "\n\n— "} {
		i := bytes.Index(text, []byte(field))
		if i < 0 {
			t.Fatalf("card has no %q", field)
		}
		positions = append(positions, i+len(field), i+len(field)+3)
	}
	for i := 0; i < len(text); i += 97 {
		positions = append(positions, i)
	}
	for _, i := range positions {
		tampered := bytes.Clone(text)
		tampered[i] ^= 0x04
		r := add(tampered, chn.Fingerprint())
		if r.code != http.StatusBadRequest {
			t.Errorf("card with byte %d flipped: %d %q, want 400", i, r.code, r.body)
			continue
		}
		if msg := r.errText(t); !strings.Contains(msg, "card") && !strings.Contains(msg, "fingerprint") {
			t.Errorf("card with byte %d flipped: error %q says nothing of the card", i, msg)
		}
	}
	assertUnchanged(t, usa, before, "refused peer adds")

	// The genuine card with the fingerprint as a person might type it.
	pv, err := usa.c.AddPeer(context.Background(), chn.Text, strings.ToLower(strings.ReplaceAll(chn.Fingerprint(), "-", " ")))
	if err != nil || pv.Name != "CHN" || pv.Fingerprint != chn.Fingerprint() {
		t.Fatalf("genuine card: %+v, %v", pv, err)
	}
	// A second card named CHN with another key is refused.
	impostor := newNode(t, "CHN", "127.0.0.1:0")
	r = add(impostor.card.Text, impostor.card.Fingerprint())
	if r.code != http.StatusBadRequest || !strings.Contains(r.errText(t), "already pinned") {
		t.Errorf("second CHN card: %d %q, want 400 already pinned", r.code, r.body)
	}
	// So is the station's own card.
	if r := add(usa.card.Text, usa.card.Fingerprint()); r.code != http.StatusBadRequest {
		t.Errorf("own card: %d %q, want 400", r.code, r.body)
	}
	ps, _ := usa.c.Peers(context.Background())
	if len(ps) != 1 || ps[0].Fingerprint != chn.Fingerprint() {
		t.Errorf("peers: %+v, want only the genuine CHN", ps)
	}
}

func TestAckRejected(t *testing.T) {
	usa := newNode(t, "USA", "127.0.0.1:0")
	chn := initCard(t, "CHN")
	ctx := context.Background()
	if _, err := usa.c.AddPeer(ctx, chn.Text, chn.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	if _, err := usa.c.Propose(ctx, ops.ProposeRequest{Peer: "CHN", Channel: staff, Level: "staff"}); err != nil {
		t.Fatal(err)
	}
	before := stateOf(t, usa)
	for _, c := range []struct{ id, by, want string }{
		{"usa-chn-staff/CHN/1", "Lt. Smith", "no such message"},
		{"usa-chn-staff/CHN/99", "Lt. Smith", "no such message"},
		{"usa-rus-staff/RUS/1", "Lt. Smith", "no such message"},
		{"nonsense", "Lt. Smith", "is not CHANNEL/STATION/INDEX"},
		{"", "Lt. Smith", "is not CHANNEL/STATION/INDEX"},
		{"usa-chn-staff/CHN/0", "Lt. Smith", "is not CHANNEL/STATION/INDEX"},
		{"usa-chn-staff/CHN/-1", "Lt. Smith", "is not CHANNEL/STATION/INDEX"},
		{"usa-chn-staff/CHN/x", "Lt. Smith", "is not CHANNEL/STATION/INDEX"},
		{"usa-chn-staff/CHN/1/2", "Lt. Smith", "is not CHANNEL/STATION/INDEX"},
		{"usa-chn-staff/USA/1", "Lt. Smith", "own message"},
		{"usa-chn-staff/CHN/1", "", "must be named"},
		{"usa-chn-staff/CHN/1", strings.Repeat("x", 129), "must be named"},
	} {
		r := usa.call(t, "POST", "/api/v1/ack", mustJSON(t, map[string]string{"id": c.id, "by": c.by}))
		if r.code != http.StatusBadRequest {
			t.Errorf("ack %q by %q: %d %q, want 400", c.id, c.by, r.code, r.body)
			continue
		}
		if msg := r.errText(t); !strings.Contains(msg, c.want) {
			t.Errorf("ack %q by %q: error %q does not contain %q", c.id, c.by, msg, c.want)
		}
	}
	assertUnchanged(t, usa, before, "refused acks")
}

// sse opens the node's event stream and returns its events once the
// station has subscribed.
func sse(t *testing.T, n *node) <-chan api.Event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel) // runs before the server closes
	req, _ := http.NewRequestWithContext(ctx, "GET", n.srv.URL+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+n.token)
	resp, err := n.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || line != ": connected\n" {
		t.Fatalf("events: first line %q, %v", line, err)
	}
	out := make(chan api.Event, 64)
	go func() {
		defer resp.Body.Close()
		var what string
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			if w, ok := strings.CutPrefix(line, "event: "); ok {
				what = w
			} else if d, ok := strings.CutPrefix(line, "data: "); ok {
				var ev api.Event
				if json.Unmarshal([]byte(d), &ev) != nil || ev.What != what {
					ev = api.Event{What: "malformed: " + line}
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}

// expectEvent waits for an event on the stream with this kind and entry
// (an entry ending in "-" matches a delivered range starting there).
func expectEvent(t *testing.T, evs <-chan api.Event, what, channel string, match func(entry string) bool) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	var seen []api.Event
	for {
		select {
		case ev := <-evs:
			if ev.What == what && ev.Channel == channel && match(ev.Entry) {
				return
			}
			seen = append(seen, ev)
		case <-timeout:
			t.Fatalf("no %s event for %s; saw %+v", what, channel, seen)
		}
	}
}

// startPair runs USA and CHN in this process, each pinned to the other
// through its API.
func startPair(t testing.TB) (usa, chn *node) {
	t.Helper()
	ctx := context.Background()
	usa, chn = newNode(t, "USA", freePort(t)), newNode(t, "CHN", freePort(t))
	usa.run(t)
	chn.run(t)
	for _, p := range []struct{ self, other *node }{{usa, chn}, {chn, usa}} {
		card, err := p.other.c.Card(ctx)
		if err != nil || !bytes.Equal(card, p.other.card.Text) {
			t.Fatalf("GET card of %s: %v", p.other.name, err)
		}
		pv, err := p.self.c.AddPeer(ctx, card, p.other.card.Fingerprint())
		if err != nil || pv.Name != p.other.name || pv.Fingerprint != p.other.card.Fingerprint() {
			t.Fatalf("%s pinning %s: %+v, %v", p.self.name, p.other.name, pv, err)
		}
	}
	return usa, chn
}

func channelOf(ctx context.Context, n *node, id string) (*ops.ChannelView, error) {
	cs, err := n.c.Channels(ctx)
	for i := range cs {
		if cs[i].ID == id {
			return &cs[i], nil
		}
	}
	return nil, err
}

// agree proposes a channel from usa and accepts it at chn.
func agree(t testing.TB, usa, chn *node, id string) {
	t.Helper()
	ctx := context.Background()
	cv, err := usa.c.Propose(ctx, ops.ProposeRequest{Peer: "CHN", Channel: id, Level: "staff", Deadlines: map[string]string{"FLASH": "5m"}})
	if err != nil || cv.State != "proposed" || cv.Proposer != "USA" || cv.Deadlines["FLASH"] != "5m0s" {
		t.Fatalf("propose: %+v, %v", cv, err)
	}
	waitFor(t, "the proposal to reach CHN", func() (bool, error) {
		c, err := channelOf(ctx, chn, id)
		return c != nil && c.State == "incoming", err
	}, chn.st)
	cv, err = chn.c.Accept(ctx, id)
	if err != nil || cv.Agreement != "active" || cv.Proposer != "USA" || cv.Peer != "USA" {
		t.Fatalf("accept: %+v, %v", cv, err)
	}
	waitFor(t, "the acceptance to reach USA", func() (bool, error) {
		c, err := channelOf(ctx, usa, id)
		return c != nil && c.State == "active", err
	}, usa.st)
	// The channel view is the core's; wait until both stores hold both
	// agreement entries too.
	waitFor(t, "both stores to hold the agreement", func() (bool, error) {
		for _, n := range []*node{usa, chn} {
			b, err := n.c.Export(ctx, id)
			if err != nil {
				return false, err
			}
			if len(b.Logs) != 2 || len(b.Logs[0].Entries) != 1 || len(b.Logs[1].Entries) != 1 {
				return false, fmt.Errorf("%s's export has logs %+v", n.name, b.Logs)
			}
		}
		return true, nil
	}, usa.st, chn.st)
}

func messageOf(ms []ops.MessageView, id string) *ops.MessageView {
	for i := range ms {
		if ms[i].ID == id {
			return &ms[i]
		}
	}
	return nil
}

func TestTwoStationsThroughAPI(t *testing.T) {
	ctx := context.Background()
	usa, chn := startPair(t)
	agree(t, usa, chn, staff)
	usaEvents, chnEvents := sse(t, usa), sse(t, chn)

	const text = "Unplanned encounter at 16-12N 112-30E. Request your unit alter course to starboard."
	m, err := usa.c.Send(ctx, ops.SendRequest{Channel: staff, Precedence: "FLASH", Text: text, Lang: "en"})
	if err != nil {
		t.Fatal(err)
	}
	id := staff + "/USA/2" // entry 1 is the proposal
	if m.ID != id || m.From != "USA" || m.Precedence != "FLASH" || m.Text != text || m.Lang != "en" ||
		(m.Status != "queued" && m.Status != "delivered") || m.Acknowledged {
		t.Fatalf("sent %+v", m)
	}
	if d := m.AckDue.Sub(m.ReceivedAt); d != 5*time.Minute {
		t.Errorf("ack due %v after sending, want the charter's 5m", d)
	}

	waitFor(t, "CHN's inbox to show the FLASH", func() (bool, error) {
		in, err := chn.c.Inbox(ctx, staff)
		return messageOf(in, id) != nil, err
	}, chn.st)
	in, _ := chn.c.Inbox(ctx, staff)
	if len(in) != 1 {
		t.Errorf("CHN inbox has %d messages, want 1: %+v", len(in), in)
	}
	got := messageOf(in, id)
	if got.Text != text || got.From != "USA" || got.Precedence != "FLASH" || got.Status != "received" || got.Acknowledged || got.Lang != "en" {
		t.Errorf("CHN received %+v", got)
	}
	expectEvent(t, chnEvents, "received", staff, func(e string) bool { return e == id })

	waitFor(t, "USA to see the FLASH delivered", func() (bool, error) {
		out, err := usa.c.Outbox(ctx, staff)
		m := messageOf(out, id)
		return m != nil && m.Status == "delivered", err
	}, usa.st)
	out, _ := usa.c.Outbox(ctx, staff)
	if m := messageOf(out, id); m.Acknowledged || m.AckBy != "" || m.AckAt != nil || len(out) != 1 {
		t.Errorf("USA outbox before the ack: %+v", out)
	}
	expectEvent(t, usaEvents, "delivered", staff, func(e string) bool { return strings.HasPrefix(e, staff+"/USA/") && strings.HasSuffix(e, "-2") })

	am, err := chn.c.Ack(ctx, id, "Cdr. Li Wei")
	if err != nil || am.ID != id || am.Status != "acknowledged" || am.AckBy != "Cdr. Li Wei" || am.AckAt == nil {
		t.Fatalf("ack: %+v, %v", am, err)
	}
	if again, err := chn.c.Ack(ctx, id, "Someone Else"); err != nil || again.AckBy != "Cdr. Li Wei" {
		t.Errorf("second ack: %+v, %v; want the first acknowledgement", again, err)
	}
	waitFor(t, "USA to see the FLASH acknowledged", func() (bool, error) {
		out, err := usa.c.Outbox(ctx, staff)
		m := messageOf(out, id)
		return m != nil && m.Status == "acknowledged", err
	}, usa.st)
	out, _ = usa.c.Outbox(ctx, staff)
	if m := messageOf(out, id); !m.Acknowledged || m.AckBy != "Cdr. Li Wei" || m.AckAt == nil || m.AckAt.IsZero() {
		t.Errorf("USA outbox after the ack: %+v", m)
	}
	expectEvent(t, usaEvents, "acknowledged", staff, func(e string) bool { return e == staff+"/CHN/2" })

	// Every entry on both sides gets receipted; then both exports verify
	// and agree. (The channel view's counters run ahead of the store, so
	// wait on the exports themselves.)
	reports := map[string]*transcript.Report{}
	waitFor(t, "every entry to be receipted in both exports", func() (bool, error) {
		for _, n := range []*node{usa, chn} {
			b, err := n.c.Export(ctx, staff)
			if err != nil {
				return false, err
			}
			if b.ExportedBy != n.name || b.Channel != staff {
				t.Fatalf("%s exported %s by %s", n.name, b.Channel, b.ExportedBy)
			}
			rep, err := transcript.Verify(b)
			if err != nil {
				t.Fatalf("%s's transcript does not verify: %v", n.name, err)
			}
			if rep.Channel != staff || len(rep.Logs) != 2 {
				t.Fatalf("%s's report: %+v", n.name, rep)
			}
			for _, l := range rep.Logs {
				if l.Entries != 2 {
					t.Fatalf("%s's export, log of %s: %d entries, want 2", n.name, l.Author, l.Entries)
				}
				if l.Receipted != 2 {
					return false, fmt.Errorf("%s's export, log of %s: %d receipted", n.name, l.Author, l.Receipted)
				}
			}
			reports[n.name] = rep
		}
		return true, nil
	}, usa.st, chn.st)
	roots := map[string][]byte{}
	for _, rep := range reports {
		for _, l := range rep.Logs {
			if r, ok := roots[l.Author]; ok && !bytes.Equal(r, l.Root) {
				t.Errorf("the two exports disagree on the root of %s's log", l.Author)
			}
			roots[l.Author] = l.Root
		}
	}
	for _, n := range []*node{usa, chn} {
		c, err := channelOf(ctx, n, staff)
		if err != nil || c.Written != 2 || c.Delivered != 2 || c.Received != 2 {
			t.Errorf("%s's channel at the end: %+v, %v", n.name, c, err)
		}
	}
	if len(roots) != 2 {
		t.Errorf("logs of %d authors, want USA and CHN", len(roots))
	}
}

func TestScriptTextIsJSON(t *testing.T) {
	ctx := context.Background()
	usa, chn := startPair(t)
	agree(t, usa, chn, staff)
	const script = `<script>alert(1)</script> & "quotes" 'apos' <img src=x onerror=alert(2)>`
	isJSON := func(what string, r response) {
		t.Helper()
		if r.code != 200 && r.code != 400 {
			t.Fatalf("%s: %d %q", what, r.code, r.body)
		}
		if r.ct != "application/json" {
			t.Errorf("%s: Content-Type %q, want application/json", what, r.ct)
		}
		// encoding/json escapes <, > and & in strings; the markup never
		// appears raw in a response.
		if bytes.Contains(r.body, []byte("<script>")) || bytes.Contains(r.body, []byte("<img")) {
			t.Errorf("%s: raw markup in the response: %s", what, r.body)
		}
	}
	r := usa.call(t, "POST", "/api/v1/messages", mustJSON(t, ops.SendRequest{Channel: staff, Precedence: "ROUTINE", Text: script}))
	isJSON("send", r)
	var m ops.MessageView
	if err := json.Unmarshal(r.body, &m); err != nil || m.Text != script {
		t.Fatalf("send returned text %q, %v; want it verbatim", m.Text, err)
	}
	waitFor(t, "CHN to receive the message", func() (bool, error) {
		in, err := chn.c.Inbox(ctx, staff)
		return messageOf(in, m.ID) != nil, err
	}, chn.st)
	for _, c := range []struct {
		n    *node
		path string
	}{{chn, "/api/v1/inbox?channel=" + staff}, {usa, "/api/v1/outbox?channel=" + staff}, {chn, "/api/v1/inbox"}} {
		r := c.n.call(t, "GET", c.path, nil)
		isJSON(c.n.name+" "+c.path, r)
		var ms []ops.MessageView
		if err := json.Unmarshal(r.body, &ms); err != nil {
			t.Fatal(err)
		}
		if got := messageOf(ms, m.ID); got == nil || got.Text != script {
			t.Errorf("%s %s: %+v; want the text verbatim", c.n.name, c.path, got)
		}
	}
	// Markup in what an error repeats back is JSON text too.
	r = usa.call(t, "POST", "/api/v1/messages", mustJSON(t, ops.SendRequest{Channel: "<script>alert(1)</script>", Precedence: "FLASH", Text: "x"}))
	isJSON("error", r)
	if r.code != 400 || !strings.Contains(r.errText(t), "<script>alert(1)</script>") {
		t.Errorf("unknown channel error: %d %q", r.code, r.body)
	}
}

// TestAckOnlyMessages: only a text message from the peer, as listed in the
// inbox, can be acknowledged.
func TestAckOnlyMessages(t *testing.T) {
	ctx := context.Background()
	usa, chn := startPair(t)
	agree(t, usa, chn, staff)
	in, _ := usa.c.Inbox(ctx, staff)
	if messageOf(in, staff+"/CHN/1") != nil {
		t.Fatal("CHN's acceptance is in USA's inbox")
	}
	r := usa.call(t, "POST", "/api/v1/ack", mustJSON(t, map[string]string{"id": staff + "/CHN/1", "by": "Lt. Smith"}))
	if r.code != http.StatusBadRequest {
		t.Errorf("ack of CHN's acceptance (not a message): %d %s, want 400", r.code, r.body)
	}
	if c, err := channelOf(ctx, usa, staff); err != nil || c.Written != 1 {
		t.Errorf("USA's log after the ack: %+v, %v; want only the proposal", c, err)
	}
}
