package demo

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"hotline/internal/ops"
	"hotline/internal/transcript"
)

var (
	binary       string
	killMessages = flag.Int("kill.messages", 500, "messages each station sends in TestKillAndRestart")
)

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "hotline-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "hotline")
	out, err := exec.Command("go", "build", "-o", binary, "hotline/cmd/hotline").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building hotline: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	stopPostgres()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestKillAndRestart sends messages both ways between two real hotline run
// processes while one or the other is SIGKILLed and restarted at random
// moments. Every send that returned must be delivered exactly once, in
// order; both sides must hold identical logs; both exports must verify.
func TestKillAndRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes for tens of seconds")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	const ch = "ops"
	p, err := NewPair(ctx, t.TempDir(), binary, map[string]string{ch: "staff"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	nodes := []*Node{p.A, p.B}

	// Each node's sender: n messages, retrying a send that failed because
	// its own process was killed under it. A failed send may still have
	// been written; only sends that returned are promised.
	returned := make([][]string, 2)
	var senders sync.WaitGroup
	var mu sync.Mutex // guards restarts against the senders' client lookups
	restarted := sync.NewCond(&mu)
	for i, n := range nodes {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for k := 0; k < *killMessages; k++ {
				text := fmt.Sprintf("%s message %04d", n.Name, k)
				for {
					if ctx.Err() != nil {
						return
					}
					mu.Lock()
					for n.Client() == nil { // killed: wait for the killer to restart it
						restarted.Wait()
					}
					c := n.Client()
					mu.Unlock()
					m, err := c.Send(ctx, ops.SendRequest{Channel: ch, Precedence: "IMMEDIATE", Text: text})
					if err == nil {
						returned[i] = append(returned[i], m.ID)
						break
					}
				}
			}
		}()
	}

	// The killer: SIGKILL one process or the other at random moments while
	// the senders run, then restart it.
	done := make(chan struct{})
	go func() {
		senders.Wait()
		close(done)
	}()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	kills := 0
	for running := true; running; {
		select {
		case <-done:
			running = false
			continue
		case <-time.After(time.Duration(50+rng.IntN(250)) * time.Millisecond):
		}
		n := nodes[rng.IntN(2)]
		if err := n.Stop(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		kills++
		mu.Lock()
		err := n.Start(ctx)
		restarted.Broadcast()
		mu.Unlock()
		if err != nil {
			t.Fatalf("restart of %s after SIGKILL: %v", n.Name, err)
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("timed out: %v", ctx.Err())
	}
	t.Logf("%d + %d sends returned, %d kills", len(returned[0]), len(returned[1]), kills)
	if kills == 0 {
		t.Fatal("no process was killed: the test proved nothing")
	}

	for i, n := range nodes {
		peer := nodes[1-i]
		// Everything this node wrote is eventually receipted by the peer.
		if err := WaitFor(ctx, n.Client(), 2*time.Minute, func() (bool, error) {
			out, err := n.Client().Outbox(ctx, ch)
			for _, m := range out {
				if m.Status == "queued" {
					return false, err
				}
			}
			return err == nil, err
		}); err != nil {
			t.Fatalf("%s: not everything was delivered: %v", n.Name, err)
		}
		out, err := n.Client().Outbox(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		in, err := peer.Client().Inbox(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		// The peer holds exactly what this node wrote: same ids, same
		// texts, once each, in index order.
		if len(in) != len(out) {
			t.Fatalf("%s wrote %d messages, %s holds %d", n.Name, len(out), peer.Name, len(in))
		}
		byID := map[string]int{}
		for j := range out {
			if in[j].ID != out[j].ID || in[j].Text != out[j].Text {
				t.Fatalf("position %d: %s wrote %s %q, %s holds %s %q", j, n.Name, out[j].ID, out[j].Text, peer.Name, in[j].ID, in[j].Text)
			}
			if j > 0 && in[j].Index <= in[j-1].Index {
				t.Fatalf("%s holds %s after %s: out of order", peer.Name, in[j].ID, in[j-1].ID)
			}
			byID[in[j].ID]++
		}
		// Every send that returned is there exactly once, in send order.
		last := uint64(0)
		for _, id := range returned[i] {
			if byID[id] != 1 {
				t.Fatalf("send of %s returned, but %s holds it %d times", id, peer.Name, byID[id])
			}
			_, _, idx, _ := ops.ParseID(id)
			if idx <= last {
				t.Fatalf("%s has index %d after %d", id, idx, last)
			}
			last = idx
		}
	}

	// Both exports verify, and both sides hold the same two logs.
	var bundles []*transcript.Bundle
	for _, n := range nodes {
		b, err := n.Client().Export(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := transcript.Verify(b); err != nil {
			t.Fatalf("%s's export does not verify: %v", n.Name, err)
		}
		bundles = append(bundles, b)
	}
	for _, la := range bundles[0].Logs {
		for _, lb := range bundles[1].Logs {
			if la.Author != lb.Author {
				continue
			}
			if len(la.Entries) != len(lb.Entries) {
				t.Fatalf("log of %s: %d entries at USA, %d at CHN", la.Author, len(la.Entries), len(lb.Entries))
			}
			for j := range la.Entries {
				if string(la.Entries[j]) != string(lb.Entries[j]) {
					t.Fatalf("log of %s differs at index %d", la.Author, j+1)
				}
			}
		}
	}
}

// TestDemo runs the demo as a user would and checks what it promises.
func TestDemo(t *testing.T) {
	out, err := exec.CommandContext(t.Context(), binary, "demo", "--in", t.TempDir()).CombinedOutput()
	if err != nil {
		t.Fatalf("hotline demo: %v\n%s", err, out)
	}
	for _, want := range []string{"live fire", "FINDING 1", "发现1", "FLASH", "forwarded as", "delivered", "acknowledged by Capt. Jones", "incident", "closed, resolved", "verified offline"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}
