package relay_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"hotline/internal/relay"
)

var (
	buildOnce  sync.Once
	binDir     string
	hotlineBin string
	buildErr   error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// hotlineBinary builds ./cmd/hotline once, for the tests that run it.
func hotlineBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "hotline-relay-bin-")
		if buildErr != nil {
			return
		}
		hotlineBin = filepath.Join(binDir, "hotline")
		out, err := exec.Command("go", "build", "-buildvcs=false", "-o", hotlineBin, "hotline/cmd/hotline").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building hotline: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return hotlineBin
}

// relayProcess is hotline relay run as a child process.
type relayProcess struct {
	t      *testing.T
	bin    string
	dir    string
	addr   string
	cmd    *exec.Cmd
	exited chan struct{}
}

func (p *relayProcess) start() {
	p.t.Helper()
	logf, err := os.OpenFile(filepath.Join(p.dir, "relay.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		p.t.Fatal(err)
	}
	cmd := exec.Command(p.bin, "relay", "--dir", p.dir, "--listen", p.addr)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(exited)
	}()
	p.cmd, p.exited = cmd, exited
}

func (p *relayProcess) kill() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
	p.cmd = nil
}

func (p *relayProcess) log() string {
	data, _ := os.ReadFile(filepath.Join(p.dir, "relay.log"))
	return string(data)
}

// dialRetry dials until the relay answers (it may be restarting).
func dialRetry(ctx context.Context, addr string, r *testRelay, s station) (*relay.Client, error) {
	for {
		dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		c, err := relay.Dial(dctx, addr, r.card.SignKey, s.cert)
		cancel()
		if err == nil {
			return c, nil
		}
		if errors.Is(err, relay.ErrNotAllowed) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestKillRelay: two stations deposit for a third while the relay process
// is SIGKILLed and restarted at random moments. Every deposit that was
// answered Stored is delivered after the last restart. Then the recipient
// deletes what it handled, the relay is killed right after the delete was
// answered, and that mail never comes again.
func TestKillRelay(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a real relay process for several seconds")
	}
	bin := hotlineBinary(t)
	r := newRelay(t, nil)
	usa, gbr, chn := newStation(t, "USA"), newStation(t, "GBR"), newStation(t, "CHN")
	r.allow(usa, gbr, chn)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := &relayProcess{t: t, bin: bin, dir: r.dir, addr: addr}
	p.start()
	defer p.kill()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	const kills = 5
	stop := make(chan struct{}) // closed after the last kill
	var mu sync.Mutex
	stored := map[string]bool{} // payloads answered Stored
	var senders sync.WaitGroup
	for _, s := range []station{usa, gbr} {
		senders.Go(func() {
			var c *relay.Client
			stopping := func() bool {
				select {
				case <-stop:
					return true
				default:
					return ctx.Err() != nil
				}
			}
			for i := 0; !stopping(); {
				if c == nil || c.Err() != nil {
					var err error
					if c, err = dialRetry(ctx, addr, r, s); err != nil {
						t.Error(err)
						return
					}
				}
				// Eight deposits in flight at a time.
				var batch sync.WaitGroup
				for j := i; j < i+8; j++ {
					payload := fmt.Sprintf("%s %04d", s.keys.Name, j)
					batch.Go(func() {
						if c.Deposit(ctx, chn.key(), []byte(payload)) == nil {
							mu.Lock()
							stored[payload] = true
							mu.Unlock()
						}
					})
				}
				batch.Wait()
				if c.Err() == nil {
					i += 8 // else the batch is sent again: duplicates are allowed
				}
			}
			if c != nil {
				c.Close()
			}
		})
	}
	// The killer: SIGKILL at random moments while the senders deposit.
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	for range kills {
		time.Sleep(time.Duration(100+rng.IntN(300)) * time.Millisecond)
		p.kill()
		p.start()
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	senders.Wait()
	if t.Failed() {
		t.Fatalf("relay log:\n%s", p.log())
	}

	// Everything answered Stored is there, however often the relay died.
	c, err := dialRetry(ctx, addr, r, chn)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	var last uint64
	for len(got) < len(stored) || !covers(got, stored) {
		select {
		case m, ok := <-c.Mail():
			if !ok {
				t.Fatalf("connection closed: %v", c.Err())
			}
			got[string(m.Payload)] = m.ID
			last = m.ID
		case <-time.After(10 * time.Second):
			var missing []string
			for s := range stored {
				if _, ok := got[s]; !ok {
					missing = append(missing, s)
				}
			}
			t.Fatalf("after %d kills, %d of %d stored deposits missing, e.g. %q\nrelay log:\n%s", kills, len(missing), len(stored), missing[:min(5, len(missing))], p.log())
		}
	}
	t.Logf("%d kills; %d deposits answered Stored, all delivered (%d distinct received)", kills, len(stored), len(got))

	// Delete what was received, kill the relay at once: it stays deleted.
	if err := c.Delete(ctx, last); err != nil {
		t.Fatal(err)
	}
	p.kill()
	c.Close()
	p.start()
	c, err = dialRetry(ctx, addr, r, chn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case m, ok := <-c.Mail():
		if ok && m.ID <= last {
			t.Errorf("mail %d (%q) came again after it was deleted", m.ID, m.Payload)
		}
	case <-time.After(300 * time.Millisecond):
	}
	if !strings.Contains(p.log(), "relay listening") {
		t.Errorf("relay log does not show it listening:\n%s", p.log())
	}
}

func covers(got map[string]uint64, want map[string]bool) bool {
	for s := range want {
		if _, ok := got[s]; !ok {
			return false
		}
	}
	return true
}
