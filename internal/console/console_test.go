package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"hotline/internal/console"
	"hotline/internal/operator"
	"hotline/internal/ops"
	"hotline/internal/protocol"
	"hotline/internal/record"
	"hotline/internal/station"
	"hotline/internal/stationdir"
	"hotline/internal/store"
)

// The console over real stations in this process: real stores, real TLS
// between two stations on loopback, the console's real handler behind
// httptest. Nothing is mocked.

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openStation(tb testing.TB, root, name string) *station.Station {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := filepath.Join(root, name)
	if _, err := stationdir.Init(tb.Context(), stationdir.InitOptions{Dir: dir, Name: name, Party: name, PeerListen: addr, APIListen: "127.0.0.1:0"}); err != nil {
		tb.Fatal(err)
	}
	st, err := station.Open(tb.Context(), dir, quiet())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

func waitNote(tb testing.TB, ch <-chan protocol.Notify, ok func(protocol.Notify) bool) {
	tb.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case n := <-ch:
			if ok(n) {
				return
			}
		case <-timeout:
			tb.Fatal("timed out waiting for a notification")
		}
	}
}

// settle waits for a notification, or a moment: a subscriber that falls
// behind misses notifications, so a caller that re-checks what it waits
// for must not depend on any one of them.
func settle(ch <-chan protocol.Notify) {
	select {
	case <-ch:
	case <-time.After(100 * time.Millisecond):
	}
}

// pair opens USA and CHN, pinned to each other, running, with the given
// channels agreed (USA proposes, CHN accepts).
func pair(tb testing.TB, channels ...string) (usa, chn *station.Station) {
	tb.Helper()
	ctx := tb.Context()
	root := tb.TempDir()
	usa, chn = openStation(tb, root, "USA"), openStation(tb, root, "CHN")
	for _, p := range [][2]*station.Station{{usa, chn}, {chn, usa}} {
		if _, err := p[0].AddPeer(ctx, p[1].OwnCard.Text, p[1].OwnCard.Fingerprint()); err != nil {
			tb.Fatal(err)
		}
	}
	for _, st := range []*station.Station{usa, chn} {
		go st.Run(ctx)
	}
	cn, cancelC := chn.Subscribe()
	defer cancelC()
	un, cancelU := usa.Subscribe()
	defer cancelU()
	want := map[string]bool{}
	for _, id := range channels {
		if _, err := usa.Propose(ctx, ops.ProposeRequest{Peer: "CHN", Channel: id, Level: "staff", Deadlines: map[string]string{"FLASH": "5m"}}); err != nil {
			tb.Fatal(err)
		}
		want[id] = true
	}
	deadline := time.Now().Add(time.Minute)
	for len(want) > 0 {
		if time.Now().After(deadline) {
			tb.Fatalf("%d proposals did not reach CHN", len(want))
		}
		settle(cn)
		cs, err := chn.Channels(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		for _, c := range cs {
			if want[c.ID] {
				delete(want, c.ID)
				if _, err := chn.Accept(ctx, c.ID); err != nil {
					tb.Fatal(err)
				}
			}
		}
	}
	for {
		cs, err := usa.Channels(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		active := 0
		for _, c := range cs {
			if c.State == record.Active {
				active++
			}
		}
		if active == len(channels) {
			return usa, chn
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d of %d channels active at USA", active, len(channels))
		}
		settle(un)
	}
}

// clock is a settable time for sessions and the login backoff.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const password = "correct horse battery"

// desk is one station's console with an operator of every role.
type desk struct {
	st    *station.Station
	reg   *operator.Registry
	clock *clock
	srv   *httptest.Server
	h     http.Handler
}

var roleOps = map[string]string{"duty": "dora", "supervisor": "sam", "admin": "ada", "auditor": "aud"}

// recordNames are the names the operators' acts carry to the other
// party; the supervisor chose none, and acts as "supervisor".
var recordNames = map[string]string{"duty": "Lt. Dora Chen"}

// newDesk returns a station's console; set changes its configuration
// (Ops is the station unless set replaces it).
func newDesk(tb testing.TB, st *station.Station, set ...func(*console.Config)) *desk {
	tb.Helper()
	c := &clock{t: time.Now()}
	reg := &operator.Registry{Store: st.Store, Now: c.Now}
	for role, name := range roleOps {
		if _, err := reg.Add(tb.Context(), operator.Local, operator.AddRequest{Name: name, Role: role, Password: password, As: recordNames[role]}); err != nil {
			tb.Fatal(err)
		}
	}
	cfg := console.Config{Ops: st, Subscribe: st.Subscribe, Wake: st.Wake, Done: st.Done(), Operators: reg, Station: st.Cfg.Name, Now: c.Now}
	for _, f := range set {
		f(&cfg)
	}
	h := console.New(cfg)
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return &desk{st: st, reg: reg, clock: c, srv: srv, h: h}
}

// browser is a logged-in (or not) client. It keeps the session cookie by
// hand: Go's cookie jar does not send Secure cookies over plain HTTP, and
// browsers do to loopback.
type browser struct {
	d      *desk
	cookie string
}

type reply struct {
	code int
	body string
	hdr  http.Header
}

func (r reply) errText() string {
	var e struct{ Error string }
	json.Unmarshal([]byte(r.body), &e)
	return e.Error
}

func (b *browser) do(t testing.TB, method, path string, body string, hdr ...string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, b.d.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	// What a browser sends on a same-origin fetch.
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if b.cookie != "" {
		req.Header.Set("Cookie", console.CookieName+"="+b.cookie)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	for _, c := range resp.Cookies() {
		if c.Name == console.CookieName {
			b.cookie = c.Value
			if c.MaxAge < 0 {
				b.cookie = ""
			}
		}
	}
	return reply{resp.StatusCode, string(data), resp.Header}
}

func jsonBody(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func (d *desk) login(t testing.TB, name string) *browser {
	t.Helper()
	b := &browser{d: d}
	r := b.do(t, "POST", "/console/api/login", jsonBody(map[string]string{"name": name, "password": password}))
	if r.code != 200 || b.cookie == "" {
		t.Fatalf("login as %s: %d %s", name, r.code, r.body)
	}
	return b
}

func (d *desk) audit(t testing.TB) []store.AuditRecord {
	t.Helper()
	rs, err := d.st.Store.Audit(t.Context(), store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// lastAuditOf returns the newest record of an action on a target.
func (d *desk) lastAuditOf(t testing.TB, action, target string) *store.AuditRecord {
	t.Helper()
	for _, r := range d.audit(t) {
		if r.Action == action && r.Target == target {
			return &r
		}
	}
	return nil
}

// lastAudit returns the newest record of an action.
func (d *desk) lastAudit(t testing.TB, action string) *store.AuditRecord {
	t.Helper()
	for _, r := range d.audit(t) {
		if r.Action == action {
			return &r
		}
	}
	return nil
}

func TestLogin(t *testing.T) {
	st := openStation(t, t.TempDir(), "USA")
	d := newDesk(t, st)
	b := &browser{d: d}

	// Not logged in: pages send the browser to the login page, the API says 401.
	if r := b.do(t, "GET", "/console/", ""); r.code != http.StatusSeeOther || r.hdr.Get("Location") != "/console/login" {
		t.Errorf("GET /console/ without a session: %d %s", r.code, r.hdr.Get("Location"))
	}
	if r := b.do(t, "GET", "/console/api/me", ""); r.code != http.StatusUnauthorized {
		t.Errorf("GET /console/api/me without a session: %d", r.code)
	}
	if r := b.do(t, "GET", "/console/login", ""); r.code != 200 || !strings.Contains(r.body, `id="login-form"`) {
		t.Errorf("login page: %d", r.code)
	}

	// Wrong password: 401, no cookie, recorded.
	r := b.do(t, "POST", "/console/api/login", jsonBody(map[string]string{"name": "dora", "password": "not the password"}))
	if r.code != http.StatusUnauthorized || b.cookie != "" || r.errText() != operator.ErrBadLogin.Error() {
		t.Errorf("wrong password: %d %q cookie %q", r.code, r.body, b.cookie)
	}
	if a := d.lastAudit(t, "login"); a == nil || a.Operator != "dora" || a.Outcome != "refused" || a.Detail != "wrong password" || !strings.HasPrefix(a.Addr, "127.0.0.1:") {
		t.Errorf("audit of the failed login: %+v", a)
	}
	// Unknown name: the same answer.
	r = b.do(t, "POST", "/console/api/login", jsonBody(map[string]string{"name": "mallory", "password": password}))
	if r.code != http.StatusUnauthorized || r.errText() != operator.ErrBadLogin.Error() {
		t.Errorf("unknown operator: %d %q", r.code, r.body)
	}

	// Right password: a Secure, HTTP-only, SameSite=Strict cookie with an expiry.
	r = b.do(t, "POST", "/console/api/login", jsonBody(map[string]string{"name": "dora", "password": password}))
	if r.code != 200 {
		t.Fatalf("login: %d %s", r.code, r.body)
	}
	sc := r.hdr.Get("Set-Cookie")
	for _, want := range []string{"HttpOnly", "Secure", "SameSite=Strict", "Max-Age=43200", "Path=/console/"} {
		if !strings.Contains(sc, want) {
			t.Errorf("Set-Cookie %q lacks %s", sc, want)
		}
	}
	if r := b.do(t, "GET", "/console/", ""); r.code != 200 || !strings.Contains(r.body, `<strong id="who">dora</strong>`) {
		t.Errorf("board after login: %d", r.code)
	}
	// A forged cookie is nobody.
	forged := &browser{d: d, cookie: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}
	if r := forged.do(t, "GET", "/console/api/me", ""); r.code != http.StatusUnauthorized {
		t.Errorf("forged session: %d", r.code)
	}
	// Logout ends the session on the server, not only in the browser.
	old := b.cookie
	if r := b.do(t, "POST", "/console/api/logout", "{}"); r.code != 200 {
		t.Errorf("logout: %d", r.code)
	}
	stale := &browser{d: d, cookie: old}
	if r := stale.do(t, "GET", "/console/api/me", ""); r.code != http.StatusUnauthorized {
		t.Errorf("session after logout: %d", r.code)
	}
}

func TestSessionExpires(t *testing.T) {
	st := openStation(t, t.TempDir(), "USA")
	d := newDesk(t, st)
	b := d.login(t, "dora")
	if r := b.do(t, "GET", "/console/api/me", ""); r.code != 200 {
		t.Fatalf("me: %d", r.code)
	}
	d.clock.Add(console.DefaultSessionTTL + time.Second)
	if r := b.do(t, "GET", "/console/api/me", ""); r.code != http.StatusUnauthorized || !strings.Contains(r.errText(), "expired") {
		t.Errorf("after expiry: %d %s", r.code, r.body)
	}
	if r := b.do(t, "GET", "/console/", ""); r.code != http.StatusSeeOther {
		t.Errorf("page after expiry: %d", r.code)
	}
	if r := b.do(t, "GET", "/console/events", ""); r.code != http.StatusUnauthorized {
		t.Errorf("events after expiry: %d", r.code)
	}
}

func TestCrossOriginRefused(t *testing.T) {
	usa, _ := pair(t, "usa-chn-staff")
	d := newDesk(t, usa)
	b := d.login(t, "dora")
	send := jsonBody(map[string]string{"channel": "usa-chn-staff", "precedence": "FLASH", "text": "from a forged form"})
	for _, hdr := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "", "Origin", "http://evil.example"},
	} {
		r := b.do(t, "POST", "/console/api/send", send, hdr...)
		if r.code != http.StatusForbidden || !strings.Contains(r.body, "cross-origin") {
			t.Errorf("POST with %v: %d %s", hdr, r.code, r.body)
		}
	}
	if out, err := usa.Outbox(t.Context(), ""); err != nil || len(out) != 0 {
		t.Errorf("after refused cross-origin posts the outbox holds %d messages (%v)", len(out), err)
	}
	if a := d.lastAudit(t, "cross-origin"); a == nil || a.Outcome != "refused" || a.Target != "/console/api/send" {
		t.Errorf("audit of the cross-origin post: %+v", a)
	}
	// The same request from the page itself goes through.
	if r := b.do(t, "POST", "/console/api/send", send); r.code != 200 {
		t.Errorf("same-origin send: %d %s", r.code, r.body)
	}
}

// TestRoles: each role is refused, by the server, what it may not do, and
// each refusal is in the audit trail. Allowed actions may still fail on
// their input; they are not refused for the role.
func TestRoles(t *testing.T) {
	usa, chn := pair(t, "usa-chn-staff")
	d := newDesk(t, usa)
	ctx := t.Context()
	in, err := chn.Send(ctx, ops.SendRequest{Channel: "usa-chn-staff", Precedence: "ROUTINE", Text: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	actions := []struct {
		name, path, body string
		perm             operator.Permission
	}{
		{"send", "/console/api/send", jsonBody(map[string]string{"channel": "usa-chn-staff", "precedence": "ROUTINE", "text": "x"}), operator.Send},
		{"ack", "/console/api/ack", jsonBody(map[string]string{"id": "nope/CHN/99"}), operator.Ack},
		{"suspend", "/console/api/channels/usa-chn-staff/suspend", `{"reason":"protest"}`, operator.Suspend},
		{"resume", "/console/api/channels/usa-chn-staff/resume", `{"reason":"talks"}`, operator.Suspend},
		{"channel.propose", "/console/api/channels", jsonBody(map[string]string{"peer": "CHN", "channel": "x y", "level": "staff"}), operator.Channels},
		{"channel.accept", "/console/api/channels/none/accept", "{}", operator.Channels},
		{"peer.add", "/console/api/peers", `{"card":"x","fingerprint":"y"}`, operator.Peers},
		{"", "/console/api/operators", jsonBody(operator.AddRequest{Name: "eve", Role: "duty", Password: "short"}), operator.Operators},
		{"", "/console/api/operators/nobody/remove", "{}", operator.Operators},
		{"verify", "/console/api/verify?channel=usa-chn-staff", "{}", operator.Transcript},
	}
	gets := []struct {
		path string
		perm operator.Permission
	}{
		{"/console/api/audit", operator.AuditTrail},
		{"/console/api/export?channel=usa-chn-staff", operator.Transcript},
		{"/console/api/operators", operator.Operators},
		{"/console/audit", operator.AuditTrail},
		{"/console/admin", operator.Operators},
		{"/console/", operator.Read},
		{"/console/channel/usa-chn-staff", operator.Read},
		{"/console/frag/board", operator.Read},
	}
	for role, name := range roleOps {
		b := d.login(t, name)
		for _, a := range actions {
			r := b.do(t, "POST", a.path, a.body)
			allowed := operator.Allowed(role, a.perm)
			if got := r.code == http.StatusForbidden; got == allowed {
				t.Errorf("%s POST %s: %d %s (allowed: %v)", role, a.path, r.code, r.body, allowed)
			}
			if !allowed && r.errText() != fmt.Sprintf("role %s may not %s", role, a.perm) {
				t.Errorf("%s POST %s: error %q", role, a.path, r.errText())
			}
		}
		for _, g := range gets {
			r := b.do(t, "GET", g.path, "")
			if got := r.code == http.StatusForbidden; got == operator.Allowed(role, g.perm) {
				t.Errorf("%s GET %s: %d (allowed: %v)", role, g.path, r.code, operator.Allowed(role, g.perm))
			}
		}
	}
	// Refusals are recorded with who and from where.
	refused := map[string]int{}
	for _, r := range d.audit(t) {
		if r.Outcome == "refused" && strings.HasPrefix(r.Detail, "role ") {
			refused[r.Operator]++
		}
	}
	for role, name := range roleOps {
		want := 0
		for _, a := range actions {
			if !operator.Allowed(role, a.perm) {
				want++
			}
		}
		for _, g := range gets {
			if !operator.Allowed(role, g.perm) {
				want++
			}
		}
		if refused[name] != want {
			t.Errorf("audit trail holds %d refusals for %s (%s), want %d", refused[name], name, role, want)
		}
	}
	// A supervisor may suspend (with a reason, in their name) and resume.
	sup := d.login(t, "sam")
	if r := sup.do(t, "POST", "/console/api/channels/usa-chn-staff/suspend", `{"reason":""}`); r.code != http.StatusBadRequest {
		t.Errorf("suspend without a reason: %d %s", r.code, r.body)
	}
	if r := sup.do(t, "POST", "/console/api/channels/usa-chn-staff/suspend", `{"reason":"protest"}`); r.code != http.StatusOK {
		t.Errorf("supervisor suspend: %d %s", r.code, r.body)
	}
	if st, err := usa.Status(ctx); err != nil || !slices.ContainsFunc(st.Channels, func(c ops.ChannelView) bool {
		return c.ID == "usa-chn-staff" && c.State == "suspended" && len(c.Suspensions) == 1 && c.Suspensions[0].Reason == "protest"
	}) {
		t.Errorf("after the supervisor's suspension: %+v %v", st, err)
	}
	if r := sup.do(t, "POST", "/console/api/channels/usa-chn-staff/resume", `{"reason":"talks"}`); r.code != http.StatusOK {
		t.Errorf("supervisor resume: %d %s", r.code, r.body)
	}
	// Nothing a refused role tried happened: the message is unacknowledged,
	// only the allowed sends were sent.
	m, err := usa.Inbox(ctx, "usa-chn-staff")
	if err != nil || len(m) != 1 || m[0].ID != in.ID || m[0].Acknowledged {
		t.Errorf("inbox after the role checks: %+v %v", m, err)
	}
	out, _ := usa.Outbox(ctx, "usa-chn-staff")
	if len(out) != 2 {
		t.Errorf("outbox holds %d messages, want 2 (duty and supervisor)", len(out))
	}
}

// TestSendAckAudited: a duty officer sends and acknowledges; both are in
// the audit trail with who, what, when and where, and the peer's
// acknowledgement names the operator.
func TestSendAckAudited(t *testing.T) {
	usa, chn := pair(t, "usa-chn-staff")
	du, dc := newDesk(t, usa), newDesk(t, chn)
	ctx := t.Context()
	bu := du.login(t, "dora")
	notes, cancel := chn.Subscribe()
	defer cancel()
	r := bu.do(t, "POST", "/console/api/send", jsonBody(map[string]string{"channel": "usa-chn-staff", "precedence": "FLASH", "text": "<script>alert(1)</script> & \"quotes\""}))
	if r.code != 200 {
		t.Fatalf("send: %d %s", r.code, r.body)
	}
	var sent ops.MessageView
	json.Unmarshal([]byte(r.body), &sent)
	a := du.lastAudit(t, "send")
	if a == nil || a.Operator != "dora" || a.Target != sent.ID || a.Outcome != "ok" || a.Detail != "FLASH on usa-chn-staff" || !strings.HasPrefix(a.Addr, "127.0.0.1:") || time.Since(a.At) > time.Minute {
		t.Errorf("audit of the send: %+v", a)
	}
	waitNote(t, notes, func(n protocol.Notify) bool { return n.What == "received" && n.Entry == sent.ID })

	bc := dc.login(t, "dora")
	// The takeover names it; the text is escaped, never markup.
	tk := bc.do(t, "GET", "/console/frag/takeover", "")
	if !strings.Contains(tk.body, `data-takeover="`+sent.ID+`"`) {
		t.Fatalf("takeover does not show %s:\n%s", sent.ID, tk.body)
	}
	if strings.Contains(tk.body, "<script>") || !strings.Contains(tk.body, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;quotes&#34;") {
		t.Errorf("message text not escaped in the takeover:\n%s", tk.body)
	}
	un, cancelU := usa.Subscribe()
	defer cancelU()
	if r := bc.do(t, "POST", "/console/api/ack", jsonBody(map[string]string{"id": sent.ID})); r.code != 200 {
		t.Fatalf("ack: %d %s", r.code, r.body)
	}
	if a := dc.lastAudit(t, "ack"); a == nil || a.Operator != "dora" || a.Target != sent.ID || a.Outcome != "ok" {
		t.Errorf("audit of the ack: %+v", a)
	}
	if tk := bc.do(t, "GET", "/console/frag/takeover", ""); strings.Contains(tk.body, "data-takeover") {
		t.Errorf("takeover still up after the ack")
	}
	waitNote(t, un, func(n protocol.Notify) bool { return n.What == "acknowledged" })
	out, err := usa.Outbox(ctx, "usa-chn-staff")
	// The other party learns the name dora chose for the record, never
	// her login (security review item 7).
	if err != nil || len(out) != 1 || out[0].Status != "acknowledged" || out[0].AckBy != "Lt. Dora Chen" {
		t.Errorf("sender's outbox: %+v %v", out, err)
	}
	conv := bu.do(t, "GET", "/console/frag/conversation/usa-chn-staff", "")
	if !strings.Contains(conv.body, `data-status="acknowledged"`) {
		t.Errorf("sender's conversation does not show acknowledged:\n%s", conv.body)
	}
}

// TestBadInput: bad JSON, overlong fields, unknown fields and roles get a
// clear error and change nothing.
func TestBadInput(t *testing.T) {
	usa, _ := pair(t, "usa-chn-staff")
	d := newDesk(t, usa)
	anon := &browser{d: d}
	for _, c := range []struct {
		body string
		code int
		want string
	}{
		{`{"name":"dora"`, 400, "request body"},
		{`not json`, 400, "request body"},
		{`{"name":"dora","password":"x","admin":true}`, 400, `unknown field "admin"`},
		{`{"name":"dora","password":"x"} {}`, 400, "more than one JSON value"},
		{jsonBody(map[string]string{"name": strings.Repeat("n", 10000), "password": password}), 401, operator.ErrBadLogin.Error()},
		{jsonBody(map[string]string{"name": "dora", "password": strings.Repeat("p", 70000)}), 413, "larger than"},
	} {
		r := anon.do(t, "POST", "/console/api/login", c.body)
		if r.code != c.code || !strings.Contains(r.errText(), c.want) || anon.cookie != "" {
			t.Errorf("login %.40q: %d %q, want %d %q", c.body, r.code, r.errText(), c.code, c.want)
		}
	}
	ops, _ := d.reg.List(t.Context())
	duty, admin := d.login(t, "dora"), d.login(t, "ada")
	for _, c := range []struct {
		b    *browser
		path string
		body string
		code int
		want string
	}{
		{duty, "/console/api/send", `{"channel":"usa-chn-staff","precedence":"FLASH"`, 400, "request body"},
		{duty, "/console/api/send", jsonBody(map[string]string{"channel": "usa-chn-staff", "precedence": "URGENT", "text": "x"}), 400, "URGENT"},
		{duty, "/console/api/send", jsonBody(map[string]string{"channel": "usa-chn-staff", "precedence": "FLASH", "text": strings.Repeat("x", 40<<10)}), 400, "text"},
		{duty, "/console/api/send", jsonBody(map[string]string{"channel": "usa-chn-staff", "precedence": "FLASH", "text": strings.Repeat("x", 70<<10)}), 413, "larger than"},
		{duty, "/console/api/send", jsonBody(map[string]string{"channel": "nowhere", "precedence": "FLASH", "text": "x"}), 400, "nowhere"},
		{duty, "/console/api/send", `{"channel":"usa-chn-staff","precedence":"FLASH","text":"x","from":"CHN"}`, 400, `unknown field "from"`},
		{duty, "/console/api/ack", `{"id":"garbage"}`, 400, "CHANNEL/STATION/INDEX"},
		{duty, "/console/api/lang", `{"lang":"fr"}`, 400, `language "fr"`},
		{admin, "/console/api/operators", jsonBody(operator.AddRequest{Name: "eve", Role: "root", Password: password}), 400, `role "root" is not one of duty, supervisor, admin, auditor`},
		{admin, "/console/api/operators", jsonBody(operator.AddRequest{Name: strings.Repeat("e", 65), Role: "duty", Password: password}), 400, "more than 64"},
		{admin, "/console/api/operators", jsonBody(operator.AddRequest{Name: "dora", Role: "duty", Password: password}), 400, "already exists"},
		{admin, "/console/api/operators/ada/remove", "{}", 400, "cannot remove themselves"},
	} {
		r := c.b.do(t, "POST", c.path, c.body)
		if r.code != c.code || !strings.Contains(r.errText(), c.want) {
			t.Errorf("POST %s %.60q: %d %q, want %d %q", c.path, c.body, r.code, r.errText(), c.code, c.want)
		}
	}
	if out, _ := usa.Outbox(t.Context(), ""); len(out) != 0 {
		t.Errorf("bad sends left %d messages", len(out))
	}
	if after, _ := d.reg.List(t.Context()); len(after) != len(ops) {
		t.Errorf("bad operator adds changed the operators: %d, want %d", len(after), len(ops))
	}
	if o, _ := usa.Store.Operator(t.Context(), "dora"); o.Lang != "en" {
		t.Errorf("a refused language change changed it to %q", o.Lang)
	}
}

// TestLanguage: the whole interface follows the operator's stored choice.
func TestLanguage(t *testing.T) {
	usa, _ := pair(t, "usa-chn-staff")
	d := newDesk(t, usa)
	b := d.login(t, "dora")
	if r := b.do(t, "GET", "/console/", ""); !strings.Contains(r.body, "Awaiting our acknowledgement") {
		t.Fatal("board not in English")
	}
	if r := b.do(t, "POST", "/console/api/lang", `{"lang":"zh"}`); r.code != 200 {
		t.Fatalf("lang: %d %s", r.code, r.body)
	}
	for _, p := range []string{"/console/", "/console/channel/usa-chn-staff"} {
		r := b.do(t, "GET", p, "")
		if !strings.Contains(r.body, `<html lang="zh-Hans">`) || !strings.Contains(r.body, "退出登录") {
			t.Errorf("%s not in Chinese after the switch", p)
		}
	}
	// Stored: a new session starts in Chinese.
	if r := d.login(t, "dora").do(t, "GET", "/console/", ""); !strings.Contains(r.body, "待我方确认") {
		t.Error("language not kept across sessions")
	}
}

func TestCatalogsComplete(t *testing.T) {
	en, zh := console.Catalogs()["en"], console.Catalogs()["zh"]
	for k := range en {
		if zh[k] == "" {
			t.Errorf("zh lacks %q", k)
		}
	}
	for k := range zh {
		if en[k] == "" {
			t.Errorf("en lacks %q", k)
		}
	}
	// Every key a template asks for exists.
	for _, k := range console.TemplateKeys() {
		if en[k] == "" {
			t.Errorf("templates use %q, which no catalog has", k)
		}
	}
}

// TestChart: the chart is SVG drawn on the server, with the channel's
// acknowledgements in it and any text escaped.
func TestChart(t *testing.T) {
	usa, chn := pair(t, "usa-chn-staff")
	d := newDesk(t, usa)
	ctx := t.Context()
	notes, cancel := usa.Subscribe()
	defer cancel()
	m, err := chn.Send(ctx, ops.SendRequest{Channel: "usa-chn-staff", Precedence: "IMMEDIATE", Text: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	waitNote(t, notes, func(n protocol.Notify) bool { return n.What == "received" && n.Entry == m.ID })
	if _, err := usa.Ack(ctx, m.ID, "dora"); err != nil {
		t.Fatal(err)
	}
	b := d.login(t, "aud")
	r := b.do(t, "GET", "/console/chart/usa-chn-staff?range=week", "")
	if r.code != 200 || r.hdr.Get("Content-Type") != "image/svg+xml" || !strings.HasPrefix(r.body, "<svg") {
		t.Fatalf("chart: %d %s %.80s", r.code, r.hdr.Get("Content-Type"), r.body)
	}
	if !strings.Contains(r.body, m.ID+":") || !strings.Contains(r.body, "n=1") {
		t.Errorf("chart lacks the acknowledged message:\n%s", r.body)
	}
	if r := b.do(t, "GET", "/console/chart/nowhere", ""); r.code != http.StatusNotFound {
		t.Errorf("chart of an unknown channel: %d", r.code)
	}
}

// TestExportVerify: an auditor exports a transcript and verifies it, on
// the station and as an uploaded file; a tampered file fails, clearly.
func TestExportVerify(t *testing.T) {
	usa, chn := pair(t, "usa-chn-staff")
	d := newDesk(t, usa)
	ctx := t.Context()
	notes, cancel := usa.Subscribe()
	defer cancel()
	m, err := chn.Send(ctx, ops.SendRequest{Channel: "usa-chn-staff", Precedence: "ROUTINE", Text: "for the record"})
	if err != nil {
		t.Fatal(err)
	}
	waitNote(t, notes, func(n protocol.Notify) bool { return n.What == "received" && n.Entry == m.ID })
	b := d.login(t, "aud")
	exp := b.do(t, "GET", "/console/api/export?channel=usa-chn-staff", "")
	if exp.code != 200 || !strings.Contains(exp.hdr.Get("Content-Disposition"), "usa-chn-staff.json") {
		t.Fatalf("export: %d %s", exp.code, exp.hdr)
	}
	if r := b.do(t, "POST", "/console/api/verify?channel=usa-chn-staff", "{}"); r.code != 200 || !strings.Contains(r.body, `"channel":"usa-chn-staff"`) {
		t.Errorf("verify on the station: %d %s", r.code, r.body)
	}
	if r := b.do(t, "POST", "/console/api/verify-bundle", exp.body); r.code != 200 {
		t.Errorf("verify upload: %d %s", r.code, r.body)
	}
	tampered := bytes.Replace([]byte(exp.body), []byte("for the record"), []byte("for the RECORD"), 1)
	if bytes.Equal(tampered, []byte(exp.body)) {
		// The text is sealed inside the entries; change a byte of an entry instead.
		i := bytes.Index(tampered, []byte(`"entries": [`))
		j := bytes.IndexByte(tampered[i+14:], '"') + i + 14 + 1
		if tampered[j] == 'A' {
			tampered[j] = 'B'
		} else {
			tampered[j] = 'A'
		}
	}
	if r := b.do(t, "POST", "/console/api/verify-bundle", string(tampered)); r.code != 400 || r.errText() == "" {
		t.Errorf("verify of a tampered upload: %d %s", r.code, r.body)
	}
	if a := d.lastAudit(t, "export"); a == nil || a.Operator != "aud" || a.Target != "usa-chn-staff" {
		t.Errorf("audit of the export: %+v", a)
	}
	if a := d.lastAudit(t, "verify"); a == nil || a.Outcome != "refused" {
		t.Errorf("audit of the failed verify: %+v", a)
	}
}

// checksOps is a station whose communication check record is given, once
// v is set: a real station has operator checks at the earliest a minute
// apart and writes link test counts every five minutes.
type checksOps struct {
	ops.Ops
	v *ops.ChecksView
}

func (o *checksOps) Checks(ctx context.Context, ch string) (*ops.ChecksView, error) {
	real, err := o.Ops.Checks(ctx, ch)
	if err != nil || o.v == nil {
		return real, err
	}
	v := *o.v
	v.Channel = ch
	return &v, nil
}

// TestChecksChart: the check answer rate and time to answer over the day,
// week and month, drawn by the server as SVG beside the time to
// acknowledge, with the same numbers in a table.
func TestChecksChart(t *testing.T) {
	usa, _ := pair(t, "usa-chn-staff")
	fake := &checksOps{Ops: usa}
	d := newDesk(t, usa, func(c *console.Config) { c.Ops = fake })
	b := d.login(t, "aud")
	// A real station with no checks yet: nothing to draw, said so.
	r := b.do(t, "GET", "/console/chart/usa-chn-staff/checks", "")
	if r.code != 200 || r.hdr.Get("Content-Type") != "image/svg+xml" || !strings.HasPrefix(r.body, "<svg") || strings.Count(r.body, ">—</text>") != 9 {
		t.Fatalf("checks chart with no checks: %d %s\n%s", r.code, r.hdr.Get("Content-Type"), r.body)
	}
	rate := func(v float64) *float64 { return &v }
	fake.v = &ops.ChecksView{Periods: []ops.CheckStats{
		{Period: "day", Checks: 24, Answered: 18, AnswerRate: rate(0.75), MeanAnswer: "2m30s", LinkTests: 8640, LinkAnswered: 8640, LinkRate: rate(1), LinkMeanRTTms: rate(1.5)},
		{Period: "week", Checks: 168, Answered: 84, AnswerRate: rate(0.5), MeanAnswer: "4m0s", LinkTests: 60480, LinkAnswered: 60000, LinkRate: rate(60000.0 / 60480)},
		{Period: "month", Checks: 720, Answered: 0, AnswerRate: rate(0), LinkTests: 0},
	}}
	r = b.do(t, "GET", "/console/chart/usa-chn-staff/checks", "")
	for _, want := range []string{`<title id="ct">Communication checks: usa-chn-staff</title>`, ">75%<", ">50%<", ">0%<", ">100%<", ">99%<",
		"<title>day operator checks: 18/24</title>", "<title>week link tests: 60000/60480</title>", ">2m30s<", ">4m0s<", "day 18/24"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the checks chart lacks %s:\n%s", want, r.body)
		}
	}
	page := b.do(t, "GET", "/console/channel/usa-chn-staff", "")
	for _, want := range []string{`<img class="chart" src="/console/chart/usa-chn-staff?range=day"`, `<img class="chart" id="checks-chart" src="/console/chart/usa-chn-staff/checks"`,
		`<tr data-period="day"><th scope="row">day</th><td>24</td><td>18</td><td>75%</td><td>2m30s</td><td>8640</td><td>8640</td><td>100%</td><td>1.5 ms</td></tr>`,
		`<tr data-period="month"><th scope="row">month</th><td>720</td><td>0</td><td>0%</td><td>—</td><td>0</td><td>0</td><td>—</td><td>—</td></tr>`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the channel view lacks %s", want)
		}
	}
	if r := b.do(t, "GET", "/console/chart/nowhere/checks", ""); r.code != http.StatusNotFound {
		t.Errorf("checks chart of an unknown channel: %d", r.code)
	}
}
