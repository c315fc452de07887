package console_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"hotline/internal/operator"
	"hotline/internal/store"
)

// TestLoginBackoff: failures make the next attempts wait, however many
// there were; the right password logs in once the wait has passed, and
// an admin's unlock lifts a name's wait at once. On plain HTTP every
// operator comes from 127.0.0.1: a guesser there makes the others wait
// at most BackoffCap, never locks them out.
func TestLoginBackoff(t *testing.T) {
	st := openStation(t, t.TempDir(), "USA")
	d := newDesk(t, st)
	b := &browser{d: d}
	bad := jsonBody(map[string]string{"name": "dora", "password": "not the password"})
	good := jsonBody(map[string]string{"name": "dora", "password": password})
	checks := d.reg.PasswordChecks()
	for i := range 30 {
		if r := b.do(t, "POST", "/console/api/login", bad); r.code != http.StatusUnauthorized || r.errText() != operator.ErrBadLogin.Error() {
			t.Fatalf("failure %d: %d %s", i+1, r.code, r.body)
		}
		d.clock.Add(time.Second)
	}
	// 30 s: three free tries, then waits of 1, 2, 4 and 8 s; the next,
	// of 16 s, has not ended.
	if n := d.reg.PasswordChecks() - checks; n != operator.NameFreeTries+4 {
		t.Errorf("30 failures in 30 s: %d passwords checked, want %d", n, operator.NameFreeTries+4)
	}
	// The right password during the wait gets the answer of a wrong one.
	if r := b.do(t, "POST", "/console/api/login", good); r.code != http.StatusUnauthorized || b.cookie != "" || r.errText() != operator.ErrBadLogin.Error() {
		t.Errorf("right password during the wait: %d %s", r.code, r.body)
	}
	// The wait passes: it logs in, with no admin.
	d.clock.Add(operator.BackoffCap)
	if r := b.do(t, "POST", "/console/api/login", good); r.code != 200 || b.cookie == "" {
		t.Fatalf("right password after the wait: %d %s", r.code, r.body)
	}
	// Other operators at the same address (plain HTTP: all on 127.0.0.1)
	// wait at most the cap while someone guesses names there: after 45
	// guesses in 45 s the address waits 32 s.
	guesser := &browser{d: d}
	for i := range 45 {
		guesser.do(t, "POST", "/console/api/login", jsonBody(map[string]string{"name": fmt.Sprintf("guess%d", i), "password": "password guess"}))
		d.clock.Add(time.Second)
	}
	sam := jsonBody(map[string]string{"name": "sam", "password": password})
	if r := (&browser{d: d}).do(t, "POST", "/console/api/login", sam); r.code != http.StatusUnauthorized {
		t.Errorf("another operator at once after 45 guesses from the address: %d, want a wait", r.code)
	}
	d.clock.Add(operator.BackoffCap)
	if r := (&browser{d: d}).do(t, "POST", "/console/api/login", sam); r.code != 200 {
		t.Errorf("another operator after the cap: %d %s", r.code, r.body)
	}
	// An admin's unlock lifts a name's wait.
	for range operator.NameFreeTries + 1 {
		b.do(t, "POST", "/console/api/login", bad)
	}
	admin := d.login(t, "ada")
	if r := admin.do(t, "GET", "/console/api/operators", ""); !strings.Contains(r.body, `"failed_logins":3,"locked_until"`) {
		t.Errorf("operators while dora waits: %s", r.body)
	}
	if r := admin.do(t, "POST", "/console/api/operators/dora/unlock", "{}"); r.code != 200 {
		t.Fatalf("unlock: %d %s", r.code, r.body)
	}
	if r := b.do(t, "POST", "/console/api/login", good); r.code != 200 {
		t.Errorf("after unlock: %d %s", r.code, r.body)
	}
	if a := d.lastAudit(t, "operator.unlock"); a == nil || a.Operator != "ada" || a.Target != "dora" || a.Outcome != "ok" {
		t.Errorf("audit of the unlock: %+v", a)
	}
}

// TestLoginEnumeration: a name nobody has, a wrong password, and a name
// whose attempts wait after failures (an operator's and nobody's) get
// the same answer: status, body and headers.
func TestLoginEnumeration(t *testing.T) {
	st := openStation(t, t.TempDir(), "USA")
	d := newDesk(t, st)
	var took []time.Duration
	try := func(name, pw string) reply {
		start := time.Now()
		defer func() { took = append(took, time.Since(start)) }()
		return (&browser{d: d}).do(t, "POST", "/console/api/login", jsonBody(map[string]string{"name": name, "password": pw}))
	}
	var answers []reply
	answers = append(answers, try("mallory", password), try("dora", "not the password"), try(strings.Repeat("x", 100), password))
	checked := slices.Min(took)
	// Make a real name and an unknown one wait.
	for range operator.NameFreeTries {
		try("sam", "not the password")
		try("nobody", "not the password")
	}
	before := d.reg.PasswordChecks()
	answers = append(answers, try("sam", password), try("sam", "not the password"), try("nobody", "not the password"))
	if n := d.reg.PasswordChecks() - before; n != 0 {
		t.Errorf("%d passwords checked for names that wait", n)
	}
	// Refused without a check, they still take about as long as a check.
	for _, d := range took[len(took)-3:] {
		if d < checked/2 {
			t.Errorf("an attempt refused without a check took %v; checked ones took at least %v", d, checked)
		}
	}
	first := answers[0]
	if first.code != http.StatusUnauthorized || first.errText() != operator.ErrBadLogin.Error() {
		t.Errorf("the answer to a failed login: %d %s", first.code, first.body)
	}
	for i, a := range answers {
		a.hdr.Del("Date")
		first.hdr.Del("Date")
		if a.code != first.code || a.body != first.body || fmt.Sprint(a.hdr) != fmt.Sprint(first.hdr) {
			t.Errorf("answer %d differs: %d %q %v; the first was %d %q %v", i, a.code, a.body, a.hdr, first.code, first.body, first.hdr)
		}
	}
}

// TestLoginConcurrentGuesses: 50 guesses at once from one address take
// their slots before any password is hashed, so no more are checked than
// the backoff allows: NameFreeTries for one name, AddrFreeTries for many.
func TestLoginConcurrentGuesses(t *testing.T) {
	st := openStation(t, t.TempDir(), "USA")
	d := newDesk(t, st)
	for _, c := range []struct {
		what string
		name func(i int) string
		want int64
	}{
		{"one name", func(int) string { return "dora" }, operator.NameFreeTries},
		{"many names", func(i int) string { return fmt.Sprintf("guess%d", i) }, operator.AddrFreeTries},
	} {
		d.clock.Add(operator.BackoffForget + operator.BackoffCap) // what came before is forgotten
		before := d.reg.PasswordChecks()
		var wg sync.WaitGroup
		codes := make([]int, 50)
		for i := range 50 {
			wg.Go(func() {
				codes[i] = (&browser{d: d}).do(t, "POST", "/console/api/login", jsonBody(map[string]string{"name": c.name(i), "password": "password guess"})).code
			})
		}
		wg.Wait()
		if got := d.reg.PasswordChecks() - before; got != c.want {
			t.Errorf("%s: 50 guesses at once from one address, %d passwords checked, want %d", c.what, got, c.want)
		}
		for i, code := range codes {
			if code != http.StatusUnauthorized {
				t.Errorf("%s: guess %d answered %d", c.what, i, code)
			}
		}
	}
}

// refusedIn is how many refusals an audit record stands for: the count
// of an aggregate record, or one.
func refusedIn(r store.AuditRecord) int {
	var n int
	if _, err := fmt.Sscanf(r.Detail, "%d refused from", &n); err == nil {
		return n
	}
	return 1
}

// recordBytes is what a record holds, field by field.
func recordBytes(r store.AuditRecord) int {
	return len(r.Operator) + len(r.Action) + len(r.Target) + len(r.Outcome) + len(r.Detail) + len(r.Addr) + 16
}

func fileSize(paths ...string) int64 {
	var n int64
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// TestAuditFlood: a flood of cross-origin requests and of failed logins,
// from one address over HTTP and from thousands through the handler,
// writes at most MaxRefusalRows audit records an interval; when the
// interval ends, the counts of the others are written, again within the
// bound, and every refusal is in them.
func TestAuditFlood(t *testing.T) {
	root := t.TempDir()
	st := openStation(t, root, "USA")
	d := newDesk(t, st)
	db := filepath.Join(root, "USA", "hotline.db")
	start := len(d.audit(t))
	size := fileSize(db, db+"-wal")
	send := jsonBody(map[string]string{"channel": "usa-chn-staff", "precedence": "FLASH", "text": "from a forged form"})

	// One address, over HTTP: forged forms and guesses.
	b := &browser{d: d}
	for range 1000 {
		if r := b.do(t, "POST", "/console/api/send", send, "Sec-Fetch-Site", "cross-site"); r.code != http.StatusForbidden {
			t.Fatalf("cross-origin send: %d %s", r.code, r.body)
		}
	}
	var wg sync.WaitGroup
	for g := range 20 {
		wg.Go(func() {
			for i := range 15 {
				b := &browser{d: d}
				b.do(t, "POST", "/console/api/login", jsonBody(map[string]string{"name": fmt.Sprintf("guess%d-%d", g, i), "password": "password guess"}))
			}
		})
	}
	wg.Wait()
	// Thousands of addresses, straight to the console's handler.
	serve := func(addr, path, body string, hdr ...string) int {
		req := httptest.NewRequest("POST", "http://127.0.0.1"+path, strings.NewReader(body))
		req.RemoteAddr = addr
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		d.h.ServeHTTP(rec, req)
		return rec.Code
	}
	for i := range 2000 {
		if code := serve(fmt.Sprintf("10.%d.%d.%d:4000", i/65536, i/256%256, i%256), "/console/api/send", send, "Sec-Fetch-Site", "cross-site"); code != http.StatusForbidden {
			t.Fatalf("cross-origin send %d: %d", i, code)
		}
	}
	for i := range 30 {
		if code := serve(fmt.Sprintf("[2001:db8:%x::1]:4000", i), "/console/api/login", jsonBody(map[string]string{"name": fmt.Sprintf("spray%d", i), "password": "password guess"})); code != http.StatusUnauthorized {
			t.Fatalf("login %d: %d", i, code)
		}
	}
	sent := map[string]int{"cross-origin": 3000, "login": 330}

	during := d.audit(t)[:len(d.audit(t))-start]
	bytes := 0
	for _, r := range during {
		bytes += recordBytes(r)
		if r.Outcome != "refused" || (r.Action != "cross-origin" && r.Action != "login") {
			t.Errorf("a record of the flood: %+v", r)
		}
	}
	grown := fileSize(db, db+"-wal") - size
	t.Logf("the flood of %d requests wrote %d records, %d bytes; the database and its log grew by %d bytes", sent["cross-origin"]+sent["login"], len(during), bytes, grown)
	if len(during) > operator.MaxRefusalRows || bytes > operator.MaxRefusalRows*1024 || grown > 1<<20 {
		t.Errorf("the flood wrote %d records, %d bytes, the files grew by %d; the bound is %d records of at most 1 KiB", len(during), bytes, grown, operator.MaxRefusalRows)
	}

	// The interval ends; an auditor reads the trail, which writes the counts.
	d.clock.Add(operator.RefusalInterval)
	aud := d.login(t, "aud")
	if r := aud.do(t, "GET", "/console/api/audit", ""); r.code != 200 {
		t.Fatalf("audit: %d", r.code)
	}
	all := d.audit(t)
	after := all[:len(all)-start-len(during)]
	got := map[string]int{}
	for _, r := range after {
		if r.Action == "login" && r.Outcome == "ok" {
			continue // the auditor's own login
		}
		got[r.Action] += refusedIn(r)
	}
	if len(after)-1 > operator.MaxRefusalRows {
		t.Errorf("the end of the interval wrote %d records, more than the bound %d", len(after)-1, operator.MaxRefusalRows)
	}
	for _, r := range during {
		got[r.Action] += refusedIn(r)
	}
	if got["cross-origin"] != sent["cross-origin"] || got["login"] != sent["login"] {
		t.Errorf("refusals counted in the trail: %v, want %v", got, sent)
	}
	if c := d.reg.RefusalCounts(); int(c.Refused["cross-origin"]) != sent["cross-origin"] || int(c.Refused["login"]) != sent["login"] {
		t.Errorf("refusal counts %v, want %v", c.Refused, sent)
	}
	// The station's /metrics counts them too, as hotline run serves it.
	if err := st.RegisterMetrics(d.reg.Collector()); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	st.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		fmt.Sprintf(`hotline_console_refused_total{kind="cross-origin"} %d`, sent["cross-origin"]),
		fmt.Sprintf(`hotline_console_refused_total{kind="login"} %d`, sent["login"]),
		`hotline_console_refused_total{kind="host"} 0`,
		fmt.Sprintf(`hotline_console_refusal_records_total %d`, len(during)+len(after)-1),
		fmt.Sprintf(`hotline_console_password_checks_total %d`, d.reg.PasswordChecks()),
	} {
		if !strings.Contains(rec.Body.String(), want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
