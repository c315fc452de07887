package demo

import (
	"context"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"hotline/internal/operator"
	"hotline/internal/protocol"
)

// consoleSession logs an operator into a station's console over its API
// listener, as a browser does, and returns a function that reads a page
// of it.
func consoleSession(t *testing.T, ctx context.Context, n *Node, name string) func(path string) string {
	t.Helper()
	c := n.Client()
	const pw = "correct horse battery"
	if _, err := c.AddOperator(ctx, operator.AddRequest{Name: name, Role: "duty", Password: pw}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, "POST", c.Base+"/console/api/login", strings.NewReader(`{"name":"`+name+`","password":"`+pw+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie string
	for _, ck := range resp.Cookies() {
		cookie = ck.Name + "=" + ck.Value
	}
	if resp.StatusCode != 200 || cookie == "" {
		t.Fatalf("console login: %s", resp.Status)
	}
	return func(path string) string {
		req, _ := http.NewRequestWithContext(ctx, "GET", c.Base+path, nil)
		req.Header.Set("Cookie", cookie)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
}

// TestSwitchoverNoFalseDown: a clean switchover of a station on two
// machines sharing PostgreSQL (the active one stopped with SIGTERM, the
// standby taking the lease at once) raises no "channel down" on its
// peer's console: nothing takes over the screen, no cleared notice, no
// down on the alarm board, while the peer sees the channel back within
// the failover bound (3.3 s, OPERATIONS.md "Several machines"); the
// console gives a channel 5 s (console_down_after) before a down takes
// over. Watched every 50 ms for 8 s.
func TestSwitchoverNoFalseDown(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes and a PostgreSQL server")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	l := newLeased(t, ctx)
	page := consoleSession(t, ctx, l.chn, "wang")
	c := l.chn.Client()
	down := func() string {
		for _, p := range []string{"/console/frag/takeover", "/console/frag/alerts"} {
			body := page(p)
			for _, bad := range []string{`data-kind="down"`, `class="cleared-notice"`, `alarm-down`} {
				if strings.Contains(body, bad) {
					return p + " holds " + bad
				}
			}
		}
		return ""
	}
	if d := down(); d != "" {
		t.Fatalf("before the switchover: %s", d)
	}
	stopped := time.Now()
	if err := l.usa[0].Stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var back time.Duration
	for time.Since(stopped) < 8*time.Second {
		if d := down(); d != "" {
			t.Fatalf("%s after the switchover began, CHN's console: %s", time.Since(stopped).Round(time.Millisecond), d)
		}
		if back == 0 {
			if cs, err := c.Channels(ctx); err == nil && len(cs) == 1 && cs[0].State == protocol.StateActive {
				back = time.Since(stopped)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if back == 0 {
		t.Fatal("the channel was not active again at CHN within 8 s")
	}
	t.Logf("the channel was active again at CHN %s after the SIGTERM", back.Round(time.Millisecond))
	if back > 3300*time.Millisecond {
		t.Errorf("the switchover took %s, longer than the failover bound (3.3 s)", back.Round(time.Millisecond))
	}
}
