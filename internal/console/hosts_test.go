package console_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"hotline/internal/console"
	"hotline/internal/operator"
)

// TestHostCheck: DNS rebinding. A page of another site points its own
// name at the station; the browser then sends that name in the Host
// header and lets the page read the answers. The console refuses every
// such request, the login too and even with a session, with 421 and a
// plain explanation; the real addresses, loopback names and configured
// names work.
func TestHostCheck(t *testing.T) {
	st := openStation(t, t.TempDir(), "USA")
	d := newDesk(t, st, func(c *console.Config) { c.Hosts = []string{"hotline.watch.example", "10.0.0.5"} })
	_, port, _ := strings.Cut(strings.TrimPrefix(d.srv.URL, "http://"), ":")
	session := d.login(t, "dora")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(host, method, path, body string, cookie string) (int, string, http.Header) {
		req, err := http.NewRequest(method, d.srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Sec-Fetch-Site", "same-origin") // the page's own origin: the rebound name
		if cookie != "" {
			req.Header.Set("Cookie", console.CookieName+"="+cookie)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	login := jsonBody(map[string]string{"name": "dora", "password": password})
	refused := []string{"evil.example", "evil.example:" + port, "127.0.0.1.nip.io:" + port, "hotline.watch.example.evil.example:" + port,
		"localhost.evil.example:" + port, "2130706433:" + port, "0x7f000001:" + port, "10.0.0.6:" + port, "[2001:db8::1]:" + port}
	for _, host := range refused {
		for _, c := range []struct{ method, path, body, cookie string }{
			{"GET", "/console/login", "", ""},
			{"POST", "/console/api/login", login, ""},
			{"GET", "/console/api/me", "", session.cookie},
			{"GET", "/console/static/console.js", "", ""},
			{"GET", "/", "", ""},
		} {
			code, body, hdr := do(host, c.method, c.path, c.body, c.cookie)
			if code != http.StatusMisdirectedRequest || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") ||
				!strings.Contains(body, "does not answer to the name") || !strings.Contains(body, "console_hosts") || hdr.Get("Set-Cookie") != "" {
				t.Errorf("Host %s, %s %s: %d %s %q", host, c.method, c.path, code, hdr.Get("Content-Type"), body)
			}
		}
	}
	if a := d.lastAudit(t, operator.RefuseHost); a == nil || a.Outcome != "refused" || a.Target != "evil.example" {
		t.Errorf("audit of a wrong Host: %+v", a)
	}
	if n := d.reg.RefusalCounts().Refused[operator.RefuseHost]; n != uint64(len(refused)*5) {
		t.Errorf("%d refusals of a wrong Host counted, want %d", n, len(refused)*5)
	}
	allowed := []string{"127.0.0.1:" + port, "localhost:" + port, "LocalHost.:" + port, "[::1]:" + port, "127.0.0.2:" + port,
		"hotline.watch.example:" + port, "HOTLINE.watch.example.:" + port, "hotline.watch.example", "10.0.0.5:" + port}
	for _, host := range allowed {
		if code, body, _ := do(host, "GET", "/console/login", "", ""); code != 200 || !strings.Contains(body, `id="login-form"`) {
			t.Errorf("Host %s: login page %d", host, code)
		}
		if code, body, _ := do(host, "GET", "/console/api/me", "", session.cookie); code != 200 || !strings.Contains(body, `"name":"dora"`) {
			t.Errorf("Host %s: me %d %s", host, code, body)
		}
	}
	if code, body, _ := do("hotline.watch.example:"+port, "POST", "/console/api/login", login, ""); code != 200 {
		t.Errorf("login at a configured name: %d %s", code, body)
	}
}
