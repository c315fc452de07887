package demo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"hotline/internal/api"
	"hotline/internal/identity"
	"hotline/internal/netfault"
	"hotline/internal/ops"
)

// relayProc is a hotline relay running as a real process.
type relayProc struct {
	dir, addr string
	cmd       *exec.Cmd
	exited    chan struct{}
}

func startRelay(t testing.TB, r *relayProc) {
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(r.dir, "relay.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	r.cmd = exec.Command(binary, "relay", "run", "--dir", r.dir)
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.exited = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); logf.Close(); close(done) }(r.cmd, r.exited)
}

func (r *relayProc) kill() {
	r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.exited
}

// relayPair makes a relay and two stations whose cards list it, each
// station's direct endpoint behind a fault proxy, with one channel.
func relayPair(t testing.TB, ctx context.Context) (*Pair, *relayProc, map[string]*netfault.Proxy) {
	t.Helper()
	root := t.TempDir()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	r := &relayProc{dir: filepath.Join(root, "relay"), addr: port}
	if out, err := exec.CommandContext(ctx, binary, "relay", "init", "--dir", r.dir, "--name", "NEUTRAL", "--listen", port).CombinedOutput(); err != nil {
		t.Fatalf("relay init: %v\n%s", err, out)
	}
	rcard, err := os.ReadFile(filepath.Join(r.dir, "card"))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := identity.ParseCard(rcard)
	if err != nil {
		t.Fatal(err)
	}
	proxies := map[string]*netfault.Proxy{}
	var mu sync.Mutex
	p, err := NewPairWith(ctx, root, binary, map[string]string{"ops": "staff"}, PairOptions{
		Endpoints: func(name, listen string) ([]string, error) {
			px, err := netfault.Listen(listen)
			if err != nil {
				return nil, err
			}
			mu.Lock()
			proxies[name] = px
			mu.Unlock()
			t.Cleanup(func() { px.Close() })
			return []string{px.Addr()}, nil
		},
		Prepare: func(n *Node) error {
			if out, err := exec.CommandContext(ctx, binary, "card", "add-relay", "--dir", n.Dir, "--card", filepath.Join(r.dir, "card"), "--fingerprint", rc.Fingerprint()).CombinedOutput(); err != nil {
				return fmt.Errorf("card add-relay: %v\n%s", err, out)
			}
			if out, err := exec.CommandContext(ctx, binary, "relay", "allow", "--dir", r.dir, "--card", filepath.Join(n.Dir, "card"), "--fingerprint", n.Fingerprint).CombinedOutput(); err != nil {
				return fmt.Errorf("relay allow: %v\n%s", err, out)
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	startRelay(t, r)
	t.Cleanup(r.kill)
	return p, r, proxies
}

// paths returns the paths of channel ops as a station sees them.
func pathsOf(ctx context.Context, c *api.Client) (map[string]ops.PathView, string, error) {
	cs, err := c.Channels(ctx)
	if err != nil {
		return nil, "", err
	}
	for _, ch := range cs {
		if ch.ID == "ops" {
			out := map[string]ops.PathView{}
			for _, p := range ch.Paths {
				out[p.Name] = p
			}
			return out, ch.State, nil
		}
	}
	return nil, "", fmt.Errorf("no channel ops")
}

func waitPaths(t testing.TB, ctx context.Context, c *api.Client, what string, ok func(map[string]ops.PathView, string) bool) {
	t.Helper()
	if err := WaitFor(ctx, c, 30*time.Second, func() (bool, error) {
		ps, state, err := pathsOf(ctx, c)
		return err == nil && ok(ps, state), err
	}); err != nil {
		ps, state, _ := pathsOf(ctx, c)
		t.Fatalf("waiting for %s: %v (paths %+v, state %s)", what, err, ps, state)
	}
}

// TestRelayFailover: two stations with a relay listed in both cards. The
// direct path is cut during a stream of messages: delivery goes on over
// the relay and comes back to the direct path when it heals. Then, with
// the direct path cut again, the relay is SIGKILLed and restarted
// mid-stream. Every message sent arrives exactly once, in order, and both
// transcripts verify.
func TestRelayFailover(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	p, r, proxies := relayPair(t, ctx)
	usa, chn := p.A.Client(), p.B.Client()
	waitPaths(t, ctx, usa, "direct active and relay up", func(ps map[string]ops.PathView, state string) bool {
		return ps["direct"].Active && ps["relay"].Up && state == "active"
	})

	var (
		mu   sync.Mutex
		sent []string
	)
	stop := make(chan struct{})
	streamDone := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				streamDone <- nil
				return
			default:
			}
			m, err := usa.Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "IMMEDIATE", Text: fmt.Sprintf("position report %d", i)})
			if err != nil {
				streamDone <- err
				return
			}
			mu.Lock()
			sent = append(sent, m.ID)
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(sent) }
	waitSent := func(n int) {
		for count() < n && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
	}

	waitSent(50)
	proxies["CHN"].Cut() // USA can no longer reach CHN directly
	waitPaths(t, ctx, usa, "the relay active, direct down", func(ps map[string]ops.PathView, state string) bool {
		return ps["relay"].Active && !ps["direct"].Up && state == "degraded"
	})
	at := count()
	waitSent(at + 50)
	// Delivered (the peer's cosigned receipt) while direct is still cut:
	// over the relay.
	mu.Lock()
	viaRelay := sent[at+40]
	mu.Unlock()
	if err := waitStatus(ctx, usa, viaRelay, "delivered"); err != nil {
		t.Fatalf("%s over the relay: %v", viaRelay, err)
	}
	if ps, _, _ := pathsOf(ctx, usa); ps["direct"].Up {
		t.Fatal("direct came back before the check")
	}
	proxies["CHN"].Heal()
	waitPaths(t, ctx, usa, "direct active again", func(ps map[string]ops.PathView, _ string) bool {
		return ps["direct"].Active && ps["relay"].Up
	})

	// The relay dies mid-stream while it is the only path, and comes back.
	waitSent(count() + 30)
	proxies["CHN"].Cut()
	waitPaths(t, ctx, usa, "the relay active", func(ps map[string]ops.PathView, _ string) bool { return ps["relay"].Active })
	waitSent(count() + 30)
	r.kill()
	waitSent(count() + 20)
	startRelay(t, r)
	waitPaths(t, ctx, usa, "the relay active after its restart", func(ps map[string]ops.PathView, _ string) bool { return ps["relay"].Active })
	waitSent(count() + 30)
	mu.Lock()
	afterRestart := sent[len(sent)-1]
	mu.Unlock()
	if err := waitStatus(ctx, usa, afterRestart, "delivered"); err != nil {
		t.Fatalf("%s over the restarted relay: %v", afterRestart, err)
	}
	proxies["CHN"].Heal()
	waitSent(count() + 20)
	close(stop)
	if err := <-streamDone; err != nil {
		t.Fatal(err)
	}

	last := sent[len(sent)-1]
	if err := waitStatus(ctx, usa, last, "delivered"); err != nil {
		t.Fatalf("last message %s: %v", last, err)
	}
	got, err := chn.Inbox(ctx, "ops")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(sent) {
		t.Fatalf("CHN holds %d messages, USA sent %d", len(got), len(sent))
	}
	for i, m := range got {
		if m.ID != sent[i] {
			t.Fatalf("message %d at CHN is %s, want %s (order or duplicate)", i, m.ID, sent[i])
		}
	}
	out, err := usa.Outbox(ctx, "ops")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range out {
		if m.Status != "delivered" {
			t.Fatalf("%s is %s", m.ID, m.Status)
		}
	}
	st, err := chn.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d messages; CHN ignored %d duplicates; relay killed once", len(sent), st.Duplicates)
	verifyBoth(t, ctx, p)
}
