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

	"hotline/internal/identity"
	"hotline/internal/netfault"
	"hotline/internal/ops"
	"hotline/internal/transcript"
)

var (
	faultsSeed = flag.Uint64("faults.seed", 1, "seed of TestRealProcessFaults: its fault schedule and its signals")
	faultsFor  = flag.Duration("faults.for", 40*time.Second, "how long TestRealProcessFaults sends under faults")
)

// faultNet makes a relay and two stations whose cards list it, with one
// channel; every path goes through a fault proxy: each station's direct
// endpoint ("USA", "CHN") and the relay's ("RELAY").
func faultNet(t *testing.T, ctx context.Context) (*Pair, *relayProc, map[string]*netfault.Proxy) {
	t.Helper()
	root := t.TempDir()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	proxies := map[string]*netfault.Proxy{}
	rpx, err := netfault.Listen(port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rpx.Close() })
	proxies["RELAY"] = rpx
	r := &relayProc{dir: filepath.Join(root, "relay"), addr: port}
	if out, err := exec.CommandContext(ctx, binary, "relay", "init", "--dir", r.dir, "--name", "NEUTRAL", "--listen", port, "--endpoint", rpx.Addr()).CombinedOutput(); err != nil {
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

// TestRealProcessFaults: two stations and a relay as real processes, every
// connection through a fault proxy that runs a seeded schedule (delays,
// stalls, cuts, corrupted bytes: over TLS a corrupted byte is a failed
// connection, never a damaged frame), while the stations are SIGSTOPped
// and SIGCONTed, SIGKILLed and restarted, and the relay SIGKILLed and
// restarted, at seeded moments. Both stations send all along. Every send
// that returned is delivered exactly once, in order; both transcripts,
// exported and verified through the CLI, hold the same two logs.
func TestRealProcessFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes under faults for a minute or two")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 6*time.Minute)
	defer cancel()
	seed := *faultsSeed
	t.Logf("seed %d: go test ./internal/demo -run TestRealProcessFaults -faults.seed %d", seed, seed)
	p, relay, proxies := faultNet(t, ctx)
	nodes := []*Node{p.A, p.B}
	const ch = "ops"

	var stops []func()
	for i, name := range []string{"USA", "CHN", "RELAY"} {
		stops = append(stops, proxies[name].Run(netfault.Schedule{Seed: seed*10 + uint64(i), Delay: 15 * time.Millisecond,
			StallEvery: 5 * time.Second, StallFor: 3 * time.Second, CutEvery: 6 * time.Second, CorruptEvery: 8 * time.Second}))
	}
	heal := func() {
		for _, stop := range stops {
			stop()
		}
		stops = nil
	}
	defer heal()

	// Senders, as in TestKillAndRestart: a send that failed because its
	// station was killed under it is tried again; only sends that
	// returned are promised.
	returned := make([][]string, 2)
	stopSending := time.After(*faultsFor)
	sending := make(chan struct{})
	go func() { <-stopSending; close(sending) }()
	var senders sync.WaitGroup
	var mu sync.Mutex // guards restarts against the senders' client lookups
	restarted := sync.NewCond(&mu)
	precedences := []string{"FLASH", "IMMEDIATE", "PRIORITY", "ROUTINE"}
	for i, n := range nodes {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for k := 0; ; k++ {
				select {
				case <-sending:
					return
				default:
				}
				text := fmt.Sprintf("%s message %04d", n.Name, k)
				for ctx.Err() == nil {
					mu.Lock()
					for n.Client() == nil {
						restarted.Wait()
					}
					c := n.Client()
					mu.Unlock()
					sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
					m, err := c.Send(sctx, ops.SendRequest{Channel: ch, Precedence: precedences[k%4], Text: text})
					cancel()
					if err == nil {
						returned[i] = append(returned[i], m.ID)
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		senders.Wait()
		close(done)
	}()

	// The signals, at seeded moments while the senders run.
	rng := rand.New(rand.NewPCG(seed, 0x2545f4914f6cdd1d))
	signals := map[string]int{}
	restart := func(n *Node) {
		mu.Lock()
		err := n.Start(ctx)
		restarted.Broadcast()
		mu.Unlock()
		if err != nil {
			t.Fatalf("restart of %s: %v", n.Name, err)
		}
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
			continue
		case <-ctx.Done():
			t.Fatalf("timed out while sending: %v", ctx.Err())
		case <-time.After(time.Duration(300+rng.IntN(1200)) * time.Millisecond):
		}
		n := nodes[rng.IntN(2)]
		switch r := rng.IntN(10); {
		case r < 4:
			pid := n.PID()
			if pid == 0 {
				continue
			}
			syscall.Kill(pid, syscall.SIGSTOP)
			time.Sleep(time.Duration(200+rng.IntN(2800)) * time.Millisecond)
			syscall.Kill(pid, syscall.SIGCONT)
			signals["SIGSTOP/SIGCONT "+n.Name]++
		case r < 6:
			if err := n.Stop(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			restart(n)
			signals["SIGKILL "+n.Name]++
		case r < 7:
			relay.kill()
			time.Sleep(time.Duration(rng.IntN(1000)) * time.Millisecond)
			startRelay(t, relay)
			signals["SIGKILL relay"]++
		}
	}
	faults := map[string]int{}
	for name, px := range proxies {
		for k, v := range px.Counts() {
			faults[k+" "+name] += v
		}
	}
	heal()
	t.Logf("%d + %d sends returned; signals %v; proxy faults %v", len(returned[0]), len(returned[1]), signals, faults)
	if len(signals) == 0 || len(faults) == 0 {
		t.Fatal("no fault was injected: the test proved nothing")
	}

	for i, n := range nodes {
		peer := nodes[1-i]
		if err := WaitFor(ctx, n.Client(), 2*time.Minute, func() (bool, error) {
			out, err := n.Client().Outbox(ctx, ch)
			for _, m := range out {
				if m.Status == "queued" {
					return false, err
				}
			}
			return err == nil, err
		}); err != nil {
			t.Fatalf("%s: not everything was delivered once the faults stopped: %v", n.Name, err)
		}
		out, err := n.Client().Outbox(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		in, err := peer.Client().Inbox(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		texts := func(ms []ops.MessageView) []ops.MessageView {
			var out []ops.MessageView
			for _, m := range ms {
				if m.Kind == "text" && m.From == n.Name {
					out = append(out, m)
				}
			}
			return out
		}
		out, in = texts(out), texts(in)
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

	// Both transcripts, exported and verified through the CLI as an
	// auditor would, hold the same two logs.
	var bundles []*transcript.Bundle
	for _, n := range nodes {
		file := filepath.Join(t.TempDir(), strings.ToLower(n.Name)+".bundle")
		if out, err := exec.CommandContext(ctx, binary, "export", "--dir", n.Dir, "--channel", ch, "--out", file).CombinedOutput(); err != nil {
			t.Fatalf("hotline export at %s: %v\n%s", n.Name, err, out)
		}
		out, err := exec.CommandContext(ctx, binary, "verify", file).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "verified") {
			t.Fatalf("hotline verify of %s's transcript: %v\n%s", n.Name, err, out)
		}
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		b, err := transcript.ReadBundle(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
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
