package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"hotline/internal/ops"
	"hotline/internal/stationdir"
	"hotline/internal/store"
	"hotline/internal/store/postgres"
	"hotline/internal/store/postgres/pgtest"
	"hotline/internal/transcript"
)

// The PostgreSQL server for the tests of a station on several machines,
// started by the first of them and stopped by TestMain.
var pg struct {
	once sync.Once
	srv  *pgtest.Server
	skip string
}

func postgresServer(t testing.TB) *pgtest.Server {
	t.Helper()
	pg.once.Do(func() { pg.srv, pg.skip = pgtest.Main() })
	if pg.skip != "" {
		t.Skip(pg.skip)
	}
	return pg.srv
}

func stopPostgres() {
	if pg.srv != nil {
		pg.srv.Stop()
	}
}

// copyStation makes dst a second machine's copy of the station directory
// src, listening for peers on peerListen (docs/OPERATIONS.md, "Several
// machines"): the same keys, card, token and store; its own lock.
func copyStation(src, dst, peerListen string) error {
	if err := os.MkdirAll(filepath.Join(dst, "keys"), 0o700); err != nil {
		return err
	}
	keys, err := os.ReadDir(filepath.Join(src, "keys"))
	if err != nil {
		return err
	}
	files := []string{"card", "api-token"}
	for _, k := range keys {
		files = append(files, filepath.Join("keys", k.Name()))
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, f), data, 0o600); err != nil {
			return err
		}
	}
	cfg, err := stationdir.LoadConfig(src)
	if err != nil {
		return err
	}
	cfg.PeerListen = peerListen
	data, _ := json.MarshalIndent(cfg, "", "  ")
	return os.WriteFile(filepath.Join(dst, "config.json"), append(data, '\n'), 0o600)
}

// leased is one station (USA) on two machines sharing a PostgreSQL
// database, and its peer (CHN) on SQLite, with channel ops agreed.
type leased struct {
	usa [2]*Node
	chn *Node
	dsn string
}

// newLeased sets up the stations and starts usa[0] as the active one,
// usa[1] as its standby, and CHN.
func newLeased(t testing.TB, ctx context.Context) *leased {
	t.Helper()
	srv := postgresServer(t)
	root := t.TempDir()
	l := &leased{dsn: srv.FreshDB(t)}
	var addrs [2]string
	for i := range addrs {
		var err error
		if addrs[i], err = freePort(); err != nil {
			t.Fatal(err)
		}
	}
	dirs := [2]string{filepath.Join(root, "usa-1"), filepath.Join(root, "usa-2")}
	// The card lists both machines' endpoints; the peer tries them in order.
	card, err := stationdir.Init(ctx, stationdir.InitOptions{Dir: dirs[0], Name: "USA", Party: "USA", PeerListen: addrs[0],
		APIListen: "127.0.0.1:0", Endpoints: addrs[:], Store: l.dsn})
	if err != nil {
		t.Fatal(err)
	}
	if err := copyStation(dirs[0], dirs[1], addrs[1]); err != nil {
		t.Fatal(err)
	}
	for i := range l.usa {
		l.usa[i] = &Node{Name: fmt.Sprintf("USA-%d", i+1), Party: "USA", Dir: dirs[i], Binary: binary, Fingerprint: card.Fingerprint()}
	}
	if l.chn, err = NewNode(ctx, root, binary, "CHN", "CHN"); err != nil {
		t.Fatal(err)
	}
	for _, pin := range []struct{ self, other *Node }{{l.usa[0], l.chn}, {l.chn, l.usa[0]}} {
		c, err := os.ReadFile(filepath.Join(pin.other.Dir, "card"))
		if err != nil {
			t.Fatal(err)
		}
		if err := pin.self.Offline(ctx, func(o ops.Ops) error {
			_, err := o.AddPeer(ctx, c, pin.other.Fingerprint)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.usa[0].Offline(ctx, func(o ops.Ops) error {
		_, err := o.Propose(ctx, ops.ProposeRequest{Peer: "CHN", Channel: "ops", Level: "staff"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, n := range []*Node{l.usa[0], l.usa[1], l.chn} {
			n.Signal(syscall.SIGCONT)
			n.Stop(syscall.SIGTERM)
		}
	})
	if err := l.usa[0].Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.usa[1].Launch(); err != nil {
		t.Fatal(err)
	}
	if err := l.chn.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := WaitFor(ctx, l.chn.Client(), 30*time.Second, func() (bool, error) {
		cs, err := l.chn.Client().Channels(ctx)
		return len(cs) == 1, err
	}); err != nil {
		t.Fatalf("proposal did not reach CHN: %v", err)
	}
	if _, err := l.chn.Client().Accept(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	if err := WaitFor(ctx, l.usa[0].Client(), 30*time.Second, func() (bool, error) {
		cs, err := l.usa[0].Client().Channels(ctx)
		return len(cs) == 1 && cs[0].Agreement == "active", err
	}); err != nil {
		t.Fatalf("acceptance did not reach USA: %v", err)
	}
	// The core shows the agreement before it is durable; a send that
	// returned was written after it (batches are written in order).
	if _, err := l.usa[0].Client().Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "ROUTINE", Text: "agreed"}); err != nil {
		t.Fatal(err)
	}
	waitLog(t, l.usa[1], "standby")
	return l
}

// waitLog waits until a node's log holds text.
func waitLog(t testing.TB, n *Node, text string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		log, _ := os.ReadFile(filepath.Join(n.Dir, "station.log"))
		if bytes.Contains(log, []byte(text)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never logged %q; last line: %s", n.Name, text, n.LastLog())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stream sends n messages from USA to CHN, always to whichever USA
// process is active (active returns it), retrying a send that failed
// because the active one died or stopped under it. A send "returned"
// when the active process's API answered with the message's id: it was
// durable in PostgreSQL, written under that process's lease. A failed
// send may or may not have been written before its process died; its
// retry is another message, so its text may arrive twice, under two ids,
// each exactly once.
type stream struct {
	mu       sync.Mutex
	returned []string
	count    atomic.Int64
	done     chan struct{}
}

func startStream(ctx context.Context, n int, active func() *Node) *stream {
	s := &stream{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for k := 0; k < n && ctx.Err() == nil; k++ {
			text := fmt.Sprintf("USA message %04d", k)
			for ctx.Err() == nil {
				node := active()
				c := node.Client()
				if c == nil {
					time.Sleep(20 * time.Millisecond)
					continue
				}
				sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				m, err := c.Send(sctx, ops.SendRequest{Channel: "ops", Precedence: "IMMEDIATE", Text: text})
				cancel()
				if err == nil {
					s.mu.Lock()
					s.returned = append(s.returned, m.ID)
					s.mu.Unlock()
					s.count.Add(1)
					break
				}
			}
		}
	}()
	return s
}

func (s *stream) waitCount(t testing.TB, ctx context.Context, n int64) {
	t.Helper()
	for s.count.Load() < n {
		select {
		case <-ctx.Done():
			t.Fatalf("only %d sends returned: %v", s.count.Load(), ctx.Err())
		case <-s.done:
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// checkDelivered waits until to has receipted everything from wrote,
// then checks that every send that returned is held by to exactly once,
// in order, that both transcripts verify and that both hold the same
// logs.
func checkDelivered(t *testing.T, ctx context.Context, from, to *Node, returned []string) {
	t.Helper()
	if err := WaitFor(ctx, from.Client(), 90*time.Second, func() (bool, error) {
		out, err := from.Client().Outbox(ctx, "ops")
		for _, m := range out {
			if m.Status == "queued" {
				return false, err
			}
		}
		return err == nil, err
	}); err != nil {
		t.Fatalf("not everything %s wrote was delivered: %v", from.Name, err)
	}
	out, err := from.Client().Outbox(ctx, "ops")
	if err != nil {
		t.Fatal(err)
	}
	in, err := to.Client().Inbox(ctx, "ops")
	if err != nil {
		t.Fatal(err)
	}
	if len(in) != len(out) {
		t.Fatalf("%s wrote %d messages, %s holds %d", from.Name, len(out), to.Name, len(in))
	}
	held := map[string]int{}
	for j := range out {
		if in[j].ID != out[j].ID || in[j].Text != out[j].Text {
			t.Fatalf("position %d: %s wrote %s %q, %s holds %s %q", j, from.Name, out[j].ID, out[j].Text, to.Name, in[j].ID, in[j].Text)
		}
		held[in[j].ID]++
	}
	last := uint64(0)
	for _, id := range returned {
		if held[id] != 1 {
			t.Fatalf("send of %s returned, but %s holds it %d times", id, to.Name, held[id])
		}
		_, _, idx, _ := ops.ParseID(id)
		if idx <= last {
			t.Fatalf("%s has index %d after %d", id, idx, last)
		}
		last = idx
	}
	var bundles []*transcript.Bundle
	for _, n := range []*Node{from, to} {
		b, err := n.Client().Export(ctx, "ops")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := transcript.Verify(b); err != nil {
			t.Fatalf("%s's transcript does not verify: %v", n.Name, err)
		}
		bundles = append(bundles, b)
	}
	for _, la := range bundles[0].Logs {
		for _, lb := range bundles[1].Logs {
			if la.Author == lb.Author && fmt.Sprint(la.Entries) != fmt.Sprint(lb.Entries) {
				t.Fatalf("the log of %s differs between %s and %s", la.Author, from.Name, to.Name)
			}
		}
	}
	t.Logf("%d sends returned, %d messages written (retries of failed sends included), all delivered once", len(returned), len(out))
}

// TestTakeoverAfterKill: two hotline run processes serve one station on
// one PostgreSQL database. During a stream of 1,000 messages the active
// one is SIGKILLed; the standby takes over, and every send that returned
// is delivered exactly once.
func TestTakeoverAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes and a PostgreSQL server")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	l := newLeased(t, ctx)
	var cur atomic.Pointer[Node]
	cur.Store(l.usa[0])
	s := startStream(ctx, 1000, cur.Load)
	s.waitCount(t, ctx, 300)

	killed := time.Now()
	if err := l.usa[0].Stop(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := l.usa[1].WaitAPI(ctx, 60*time.Second); err != nil {
		t.Fatalf("the standby did not take over: %v", err)
	}
	t.Logf("takeover: the standby answered %s after the SIGKILL", time.Since(killed).Round(time.Millisecond))
	cur.Store(l.usa[1])
	waitLog(t, l.usa[1], "lease acquired")
	<-s.done
	if ctx.Err() != nil {
		t.Fatal(ctx.Err())
	}
	checkDelivered(t, ctx, l.usa[1], l.chn, s.returned)

	// CHN sends on its own outbound connection: its dialer has moved on
	// from the first endpoint on USA's card (the dead machine) to the
	// second.
	var chnSent []string
	for k := range 20 {
		m, err := l.chn.Client().Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "ROUTINE", Text: fmt.Sprintf("CHN message %02d", k)})
		if err != nil {
			t.Fatal(err)
		}
		chnSent = append(chnSent, m.ID)
	}
	checkDelivered(t, ctx, l.chn, l.usa[1], chnSent)
}

// stoppedThreads waits until every thread of process pid is stopped
// (state T or t in /proc/PID/task/*/stat): a signal takes effect on each
// thread in turn, and a request the process answered before its last
// thread stopped was answered by the leader, legitimately.
func stoppedThreads(t *testing.T, pid int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		if err != nil || len(tasks) == 0 {
			t.Fatalf("the threads of process %d: %v (%d found)", pid, err, len(tasks))
		}
		running := 0
		for _, task := range tasks {
			stat, err := os.ReadFile(task)
			if err != nil {
				continue // a thread that ended
			}
			// The state follows the command name, which is in
			// parentheses and may hold anything.
			i := bytes.LastIndexByte(stat, ')')
			if i < 0 || i+2 >= len(stat) || stat[i+2] != 'T' && stat[i+2] != 't' {
				running++
			}
		}
		if running == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of the %d threads of process %d not stopped after %s", running, len(tasks), pid, timeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestFencedFormerLeader: the active process is SIGSTOPped during the
// stream; the standby takes over; then the stopped one is continued with
// writes of its own in flight. The fencing token refuses them: it stops
// with an error naming the lost lease, and nothing it wrote after losing
// the lease is in the database. Nothing it sent on its connection to the
// peer, which outlived the pause, makes the peer hold two versions of
// USA's log: the peer raises no tamper alarm, refuses nothing as an
// equivocation and keeps no evidence (entries sent ahead bind nobody, and
// the former leader sends none once its lease is not confirmed).
func TestFencedFormerLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes and a PostgreSQL server")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	l := newLeased(t, ctx)
	old, standby := l.usa[0], l.usa[1]
	oldClient := old.Client()
	var cur atomic.Pointer[Node]
	cur.Store(old)
	s := startStream(ctx, 1000, cur.Load)
	s.waitCount(t, ctx, 300)

	if err := old.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stoppedThreads(t, old.PID(), 10*time.Second)
	// A send to the stopped leader: its API takes it when it continues.
	const late = "late write from the former leader"
	lateErr := make(chan error, 1)
	go func() {
		_, err := oldClient.Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "IMMEDIATE", Text: late})
		lateErr <- err
	}()
	if err := standby.WaitAPI(ctx, 60*time.Second); err != nil {
		t.Fatalf("the standby did not take over: %v", err)
	}
	cur.Store(standby)
	s.waitCount(t, ctx, 600)

	if err := old.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-old.Exited():
	case <-ctx.Done():
		t.Fatal("the former leader did not stop after it was continued")
	}
	var exit *exec.ExitError
	if err := old.Wait(); !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Errorf("the former leader exited with %v, want a non-zero status", err)
	}
	// Its late write is refused one of two ways: by the fencing token,
	// or, when it was stopped inside a transaction, by the server, which
	// ended that transaction's session (idle_in_transaction_session_timeout)
	// so that the takeover was not blocked. Either way it stops.
	log, _ := os.ReadFile(filepath.Join(old.Dir, "station.log"))
	if !bytes.Contains(log, []byte("fenced")) && !bytes.Contains(log, []byte("idle-in-transaction timeout")) {
		t.Errorf("the former leader's log says neither that it was fenced nor that its transaction was ended; last line: %s", old.LastLog())
	}
	if err := <-lateErr; err == nil {
		t.Error("a send to the former leader returned after the takeover")
	}
	defer func() {
		if t.Failed() { // seen once, not reproduced since: keep what the processes said
			for _, n := range []*Node{old, standby} {
				log, _ := os.ReadFile(filepath.Join(n.Dir, "station.log"))
				t.Logf("%s's log:\n%s", n.Dir, log)
			}
		}
	}()
	<-s.done
	if ctx.Err() != nil {
		t.Fatal(ctx.Err())
	}
	checkDelivered(t, ctx, standby, l.chn, s.returned)
	noEquivocation(t, ctx, l.chn, "USA")

	// Nothing of the late send is in the database.
	db, err := postgres.Open(ctx, l.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ms, err := db.Messages(ctx, store.Query{Channel: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if strings.Contains(string(m.Body), late) {
			t.Fatalf("the fenced former leader's message %s is in the database", m.ID())
		}
	}
	t.Logf("former leader: %s", strings.TrimSpace(old.LastLog()))
}

var pausedRounds = flag.Int("takeover.paused", 4, "takeovers of a paused leader in TestPausedLeaderTakeovers")

// TestPausedLeaderTakeovers: -takeover.paused times, under a stream of
// sends, the active process of USA (on two machines) is SIGSTOPped, the
// standby takes over, and the former leader is continued: its connection
// to CHN outlived the pause, with whatever it had queued or sends as it
// runs again. It stops, and is started again as the standby of the next
// round. Every send that returned is delivered once, and CHN never holds
// anything that says USA signed two versions of its log: no tamper
// alarm, no equivocation refused, no evidence kept.
func TestPausedLeaderTakeovers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes and a PostgreSQL server")
	}
	rounds := *pausedRounds
	ctx, cancel := context.WithTimeout(t.Context(), time.Duration(rounds+2)*time.Minute)
	defer cancel()
	l := newLeased(t, ctx)
	active, standby := l.usa[0], l.usa[1]
	var cur atomic.Pointer[Node]
	cur.Store(active)
	per := int64(200)
	s := startStream(ctx, int(per)*(rounds+1), cur.Load)
	defer func() {
		if t.Failed() {
			for _, n := range l.usa {
				log, _ := os.ReadFile(filepath.Join(n.Dir, "station.log"))
				t.Logf("%s's log:\n%s", n.Dir, log)
			}
		}
	}()
	for k := range rounds {
		s.waitCount(t, ctx, per*int64(k+1))
		if err := active.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		stoppedThreads(t, active.PID(), 10*time.Second)
		if err := standby.WaitAPI(ctx, 60*time.Second); err != nil {
			t.Fatalf("round %d: the standby did not take over: %v", k, err)
		}
		cur.Store(standby)
		// The successor writes before the former leader runs again.
		s.waitCount(t, ctx, per*int64(k+1)+20)
		if err := active.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		select {
		case <-active.Exited():
		case <-ctx.Done():
			t.Fatalf("round %d: the former leader did not stop after it was continued", k)
		}
		active.Wait()
		// Back as the standby of the next round.
		waiting := logCount(active, "standby:")
		if err := active.Launch(); err != nil {
			t.Fatal(err)
		}
		waitLogCount(t, ctx, active, "standby:", waiting+1)
		active, standby = standby, active
		t.Logf("round %d: %s took over from the paused %s", k, active.Name, standby.Name)
	}
	<-s.done
	if ctx.Err() != nil {
		t.Fatal(ctx.Err())
	}
	checkDelivered(t, ctx, active, l.chn, s.returned)
	noEquivocation(t, ctx, l.chn, "USA")
}

// waitLogCount waits until n's log holds text at least count times.
func waitLogCount(t *testing.T, ctx context.Context, n *Node, text string, count int) {
	t.Helper()
	for logCount(n, text) < count {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %q logged %d times, want %d: %v", n.Name, text, logCount(n, text), count, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

var takeoverKills = flag.Int("takeover.kills", 20, "SIGKILLs of the active process in BenchmarkTakeover")

// logCount counts the lines of a node's log that hold text.
func logCount(n *Node, text string) int {
	log, _ := os.ReadFile(filepath.Join(n.Dir, "station.log"))
	return bytes.Count(log, []byte(text))
}

// BenchmarkTakeover measures, over -takeover.kills SIGKILLs of the active
// process of a station on two machines (one PostgreSQL database), the
// time from the kill until the standby's API answers (takeover) and until
// a message sent to it then is receipted by the peer. Baseline from the
// same run: the peer, a single process on SQLite, SIGKILLed and started
// again at once, until its API answers.
//
//	go test ./internal/demo -run '^$' -bench Takeover -benchtime 1x -timeout 30m
func BenchmarkTakeover(b *testing.B) {
	for range b.N {
		ctx, cancel := context.WithTimeout(b.Context(), 20*time.Minute)
		l := newLeased(b, ctx)
		active, standby := l.usa[0], l.usa[1]
		var takeovers, receipted, restarts []time.Duration
		for k := range *takeoverKills {
			// The standby is waiting (it has logged so) before each kill.
			for logCount(standby, "standby:") < 1 {
				time.Sleep(20 * time.Millisecond)
			}
			t0 := time.Now()
			if err := active.Stop(syscall.SIGKILL); err != nil {
				b.Fatal(err)
			}
			if err := standby.WaitAPI(ctx, 60*time.Second); err != nil {
				b.Fatalf("kill %d: %v", k, err)
			}
			takeovers = append(takeovers, time.Since(t0))
			b.Logf("kill %d: %s answered after %s", k, standby.Name, time.Since(t0).Round(time.Millisecond))
			c := standby.Client()
			d := watchDelivered(ctx, c)
			m, err := c.Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "FLASH", Text: "takeover probe"})
			if err != nil {
				b.Fatal(err)
			}
			if err := d.wait(ctx, "ops", m.Index); err != nil {
				b.Fatalf("kill %d: %s: %v", k, m.ID, err)
			}
			receipted = append(receipted, time.Since(t0))

			// The killed machine comes back as the standby, with a fresh log.
			os.Remove(filepath.Join(active.Dir, "station.log"))
			if err := active.Launch(); err != nil {
				b.Fatal(err)
			}
			active, standby = standby, active

			t0 = time.Now()
			if err := l.chn.Stop(syscall.SIGKILL); err != nil {
				b.Fatal(err)
			}
			if err := l.chn.Start(ctx); err != nil {
				b.Fatal(err)
			}
			restarts = append(restarts, time.Since(t0))
		}
		sec := func(d time.Duration) float64 { return d.Seconds() }
		b.ReportMetric(sec(median(takeovers)), "s-median-takeover")
		b.ReportMetric(sec(slices.Max(takeovers)), "s-max-takeover")
		b.ReportMetric(sec(median(receipted)), "s-median-to-receipt")
		b.ReportMetric(sec(slices.Max(receipted)), "s-max-to-receipt")
		b.ReportMetric(sec(median(restarts)), "s-median-restart-sqlite")
		cancel()
	}
}

// noEquivocation fails the test if peer holds anything that says author
// signed two versions of its log: a tamper alarm, a frame refused as an
// equivocation, a file of evidence.
func noEquivocation(t *testing.T, ctx context.Context, peer *Node, author string) {
	t.Helper()
	c := peer.Client()
	as, err := c.Alerts(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		if strings.Contains(a.Text, "tamper alarm") || strings.Contains(a.Text, "two different versions") {
			t.Errorf("%s: %s %s", peer.Name, a.Level, a.Text)
		}
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := st.Refused["equivocation"]; n > 0 {
		t.Errorf("%s refused %d frames of %s's as an equivocation", peer.Name, n, author)
	}
	if es, _ := os.ReadDir(filepath.Join(peer.Dir, "evidence")); len(es) > 0 {
		t.Errorf("%s keeps evidence of an equivocation: %v", peer.Name, es)
	}
	t.Logf("%s: %d frames of %s's sent ahead dropped as conflicting with what it holds", peer.Name, st.AheadConflicts, author)
}

// TestTakeoverAfterRotation: a station on two machines changes its keys
// on the active one (hotline key rotate, through its API); nobody copies
// the key directory to the standby. The active one is SIGKILLed: the
// standby takes the new keys from the store (sealed under the
// key-encryption key both machines hold), takes over, and traffic moves
// both ways under the new key. Then the other way round: the killed
// machine comes back as the standby, the new active one rotates again,
// is killed, and the first takes over with both earlier keys retired.
// The peer never sees an equivocation.
func TestTakeoverAfterRotation(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes and a PostgreSQL server")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	l := newLeased(t, ctx)
	sendAll := func(from, to *Node, texts ...string) {
		t.Helper()
		var ids []string
		for _, text := range texts {
			m, err := from.Client().Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "ROUTINE", Text: text})
			if err != nil {
				t.Fatalf("%s sends %q: %v", from.Name, text, err)
			}
			ids = append(ids, m.ID)
		}
		checkDelivered(t, ctx, from, to, ids)
	}
	keyFile := func(n *Node, f string) []byte {
		data, _ := os.ReadFile(filepath.Join(n.Dir, f))
		return data
	}
	active, standby := l.usa[0], l.usa[1]
	sendAll(active, l.chn, "before the rotation")
	for round := range 2 {
		out := hotlineCLI(t, "key", "rotate", "--dir", active.Dir, "--as", "signal officer", "--json")
		var rot ops.RotationView
		if err := json.Unmarshal([]byte(out), &rot); err != nil {
			t.Fatalf("key rotate printed %q: %v", out, err)
		}
		sendAll(active, l.chn, fmt.Sprintf("round %d: after the rotation", round))
		if bytes.Equal(keyFile(active, "keys/signing.key"), keyFile(standby, "keys/signing.key")) {
			t.Fatal("the standby has the new key before any takeover: the test would show nothing")
		}

		if err := active.Stop(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if err := standby.WaitAPI(ctx, 60*time.Second); err != nil {
			t.Fatalf("round %d: the standby did not take over after the rotation: %v; its log: %s", round, err, standby.LastLog())
		}
		waitLog(t, standby, "keys taken from the store")
		for _, f := range []string{"card", "keys/signing.key", "keys/kem.key", fmt.Sprintf("keys/retired/%d/signing.key", round), fmt.Sprintf("keys/retired/%d/kem.key", round)} {
			if got := keyFile(standby, f); len(got) == 0 || !bytes.Equal(got, keyFile(active, f)) {
				t.Errorf("round %d: the new active machine's %s is not the one the rotation wrote", round, f)
			}
			if f != "card" {
				if fi, err := os.Stat(filepath.Join(standby.Dir, f)); err != nil || fi.Mode().Perm() != 0o600 {
					t.Errorf("round %d: %s: %v, mode %v; want 0600", round, f, err, fi.Mode())
				}
			}
		}
		if fp := strings.TrimSpace(hotlineCLI(t, "fingerprint", "--dir", standby.Dir)); !strings.Contains(fp, rot.Fingerprint) {
			t.Errorf("round %d: the new active machine's fingerprint is %q, want %s", round, fp, rot.Fingerprint)
		}
		sendAll(standby, l.chn, fmt.Sprintf("round %d: after the takeover", round))
		sendAll(l.chn, standby, fmt.Sprintf("round %d: CHN after the takeover", round))
		if err := WaitFor(ctx, l.chn.Client(), time.Minute, func() (bool, error) {
			ps, err := l.chn.Client().Peers(ctx)
			return err == nil && len(ps) == 1 && ps[0].Fingerprint == rot.Fingerprint, err
		}); err != nil {
			t.Fatalf("round %d: CHN does not show USA's new key: %v", round, err)
		}
		noEquivocation(t, ctx, l.chn, "USA")

		// The killed machine comes back as the standby.
		os.Remove(filepath.Join(active.Dir, "station.log"))
		if err := active.Launch(); err != nil {
			t.Fatal(err)
		}
		waitLog(t, active, "standby")
		active, standby = standby, active
	}
}

// TestStandbyWithoutKEK: a standby set up before the store kept the
// station's keys lacks keys/store.kek. After a rotation on the active
// machine and its SIGKILL, the standby cannot open the keys the store
// keeps: it does not take over with its old keys, and stops saying to
// copy keys/store.kek. Once the file is copied, it takes over with the
// new keys, and traffic moves.
func TestStandbyWithoutKEK(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes and a PostgreSQL server")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	l := newLeased(t, ctx)
	active, standby := l.usa[0], l.usa[1]
	kek := filepath.Join(standby.Dir, stationdir.KEKFile)
	if err := os.Remove(kek); err != nil {
		t.Fatal(err)
	}
	out := hotlineCLI(t, "key", "rotate", "--dir", active.Dir, "--as", "signal officer", "--json")
	var rot ops.RotationView
	if err := json.Unmarshal([]byte(out), &rot); err != nil {
		t.Fatalf("key rotate printed %q: %v", out, err)
	}
	if err := active.Stop(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-standby.Exited():
	case <-time.After(60 * time.Second):
		t.Fatalf("the standby without the key-encryption key neither took over nor stopped; its log: %s", standby.LastLog())
	}
	if err := standby.Wait(); err == nil {
		t.Fatal("the standby exited 0")
	}
	log, _ := os.ReadFile(filepath.Join(standby.Dir, "station.log"))
	for _, want := range []string{"are not this station's current keys", "copy keys/store.kek from the active machine"} {
		if !bytes.Contains(log, []byte(want)) {
			t.Errorf("the standby's log does not say %q: %s", want, standby.LastLog())
		}
	}
	data, err := os.ReadFile(filepath.Join(active.Dir, stationdir.KEKFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kek, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := standby.Launch(); err != nil {
		t.Fatal(err)
	}
	if err := standby.WaitAPI(ctx, 60*time.Second); err != nil {
		t.Fatalf("the standby did not take over once it had the key-encryption key: %v; its log: %s", err, standby.LastLog())
	}
	if fp := hotlineCLI(t, "fingerprint", "--dir", standby.Dir); !strings.Contains(fp, rot.Fingerprint) {
		t.Errorf("the new active machine's fingerprint is %q, want %s", fp, rot.Fingerprint)
	}
	m, err := standby.Client().Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "ROUTINE", Text: "after the takeover"})
	if err != nil {
		t.Fatal(err)
	}
	checkDelivered(t, ctx, standby, l.chn, []string{m.ID})
	noEquivocation(t, ctx, l.chn, "USA")
}
