package station

import (
	"context"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"hotline/internal/channel"
	"hotline/internal/link"
	"hotline/internal/ops"
	"hotline/internal/protocol"
	"hotline/internal/record"
	"hotline/internal/stationdir"
)

// virtualPair opens two stations with real SQLite stores, pinned to each
// other and joined by in-memory connections (net.Pipe), so that they run
// inside a synctest bubble: time is virtual and advances only when every
// goroutine waits.
func virtualPair(t *testing.T) (a, b *Station) { return virtualPairWith(t, nil) }

// virtualPairWith is virtualPair with a's outbound connection to b
// through filtered (stall_test.go) if drop is not nil.
func virtualPairWith(t *testing.T, drop *atomic.Uint64) (a, b *Station) {
	ctx := context.Background()
	root := t.TempDir()
	open := func(name string) *Station {
		dir := filepath.Join(root, name)
		if _, err := stationdir.Init(ctx, stationdir.InitOptions{Dir: dir, Name: name, Party: name, PeerListen: "127.0.0.1:1", APIListen: "127.0.0.1:0"}); err != nil {
			t.Fatal(err)
		}
		st, err := Open(ctx, dir, quietLog())
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	a, b = open("USA"), open("CHN")
	for _, pin := range [][2]*Station{{a, b}, {b, a}} {
		if _, err := pin[0].AddPeer(ctx, pin[1].OwnCard.Text, pin[1].OwnCard.Fingerprint()); err != nil {
			t.Fatal(err)
		}
	}
	// One connection each way, as the dialers would make.
	for _, d := range [][2]*Station{{a, b}, {b, a}} {
		if d[0] == a && drop != nil {
			filtered(t, a, b, drop)
			continue
		}
		out, in := net.Pipe()
		go directOf(t, d[0]).serve(d[1].Cfg.Name, d[1].OwnCard.SignKey, link.NewConn(out), true)
		go directOf(t, d[1]).serve(d[0].Cfg.Name, d[0].OwnCard.SignKey, link.NewConn(in), false)
	}
	synctest.Wait()
	return a, b
}

// directOf returns the station's direct transport.
func directOf(t *testing.T, s *Station) *direct {
	for _, tr := range s.transports {
		if d, ok := tr.(*direct); ok {
			return d
		}
	}
	t.Fatal("no direct transport")
	return nil
}

func channelOf(t *testing.T, st *Station, id string) ops.ChannelView {
	t.Helper()
	cs, err := st.Channels(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no channel %s", id)
	return ops.ChannelView{}
}

func stepsOf(t *testing.T, st *Station, ch, id string) []int {
	t.Helper()
	xs, err := st.Escalations(context.Background(), ch)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, x := range xs {
		if strings.HasPrefix(id, x.Channel+"/"+x.Author+"/") && id == x.Channel+"/"+x.Author+"/"+itoa(x.Index) {
			out = append(out, x.Step)
		}
	}
	return out
}

func alertCount(t *testing.T, st *Station, level, text string) int {
	t.Helper()
	as, err := st.Alerts(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range as {
		if a.Level == level && strings.Contains(a.Text, text) {
			n++
		}
	}
	return n
}

// TestDeadlinesVirtualTime runs the escalation ladder and dormancy of two
// real stations (real stores, the station's own timers) in virtual time:
// a FLASH left unacknowledged is reminded at 10m, brought to a supervisor
// at 15m and forwarded to the channel above at 20m, each exactly then; an
// acknowledgement of the forwarded message stops it; a channel whose
// operator check is not answered turns dormant exactly when the window
// passes, and back when it is answered.
func TestDeadlinesVirtualTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		a, b := virtualPair(t)
		defer a.Close()
		defer b.Close()
		for _, p := range []ops.ProposeRequest{
			{Peer: "CHN", Channel: "ops", Level: "staff"},
			{Peer: "CHN", Channel: "patrol", Level: "unit", EscalateTo: "ops"},
		} {
			if _, err := a.Propose(ctx, p); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			if _, err := b.Accept(ctx, p.Channel); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
		}
		if s := channelOf(t, a, "patrol"); s.State != protocol.StateActive || s.EscalateTo != "ops" {
			t.Fatalf("patrol: %+v", s)
		}

		m, err := a.Send(ctx, ops.SendRequest{Channel: "patrol", Precedence: "FLASH", Text: "Alter course: you are standing into danger"})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		sent := time.Now()
		if in, _ := b.Inbox(ctx, "patrol"); len(in) != 1 || in[0].Status != "received" {
			t.Fatalf("CHN inbox: %+v", in)
		}

		time.Sleep(10*time.Minute - time.Nanosecond)
		synctest.Wait()
		if st := stepsOf(t, a, "patrol", m.ID); len(st) != 0 {
			t.Fatalf("steps before the deadline: %v", st)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if st := stepsOf(t, a, "patrol", m.ID); !slices.Equal(st, []int{record.StepOverdue}) {
			t.Fatalf("steps at the deadline: %v", st)
		}
		if alertCount(t, b, "alarm", "USA reminds") != 1 || alertCount(t, b, "alarm", "deadline (10m0s) has passed") != 1 {
			as, _ := b.Alerts(ctx, 0)
			t.Fatalf("CHN alerts at the deadline: %+v", as)
		}

		time.Sleep(sent.Add(15 * time.Minute).Sub(time.Now()))
		synctest.Wait()
		if alertCount(t, a, "supervisor", "a supervisor must act") != 1 {
			t.Fatal("no supervisor alert at 15m")
		}
		time.Sleep(sent.Add(20 * time.Minute).Sub(time.Now()))
		synctest.Wait()
		if st := stepsOf(t, a, "patrol", m.ID); !slices.Equal(st, []int{record.StepOverdue, record.StepSupervisor, record.StepForwarded}) {
			t.Fatalf("steps at 20m: %v", st)
		}
		in, err := b.Inbox(ctx, "ops")
		if err != nil {
			t.Fatal(err)
		}
		var fwd *ops.MessageView
		for i := range in {
			if in[i].Kind == "escalation" {
				fwd = &in[i]
			}
		}
		if fwd == nil || fwd.EscalatedFrom != m.ID || fwd.Text != m.Text || fwd.Precedence != "FLASH" {
			t.Fatalf("CHN ops inbox: %+v", in)
		}
		if _, err := b.Ack(ctx, fwd.ID, "Rear Adm. Zhao"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		out, err := a.Outbox(ctx, "patrol")
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 1 || out[0].Status != "acknowledged" || out[0].AckBy != "Rear Adm. Zhao on ops" {
			t.Fatalf("USA patrol outbox: %+v", out)
		}

		// Operator checks: USA's first one on patrol comes an hour after the
		// channel was made; CHN does not answer it.
		time.Sleep(sent.Add(61 * time.Minute).Sub(time.Now()))
		synctest.Wait()
		c := channelOf(t, a, "patrol")
		if c.LastCheckAt == nil {
			t.Fatalf("no operator check after an hour: %+v", c)
		}
		due := c.LastCheckAt.Add(channel.DefaultCheckWindow)
		time.Sleep(due.Sub(time.Now()) - time.Nanosecond)
		synctest.Wait()
		if s := channelOf(t, a, "patrol").State; s != protocol.StateActive {
			t.Fatalf("a nanosecond before the window ends: %s", s)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if s := channelOf(t, a, "patrol").State; s != protocol.StateDormant {
			t.Fatalf("when the window ends: %s, want dormant", s)
		}
		st, err := a.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(st.Channels, func(c ops.ChannelView) bool { return c.ID == "patrol" && c.Dormant && c.State == "dormant" }) {
			t.Fatalf("status: %+v", st.Channels)
		}
		if _, err := b.Ack(ctx, c.LastCheck, "Lt. Wu"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if s := channelOf(t, a, "patrol").State; s != protocol.StateActive {
			t.Fatalf("after the answer: %s", s)
		}
		checks, err := a.Checks(ctx, "patrol")
		if err != nil {
			t.Fatal(err)
		}
		day := checks.Periods[0]
		if day.Checks != 1 || day.Answered != 1 || day.AnswerRate == nil || *day.AnswerRate != 1 || day.LinkTests == 0 || day.LinkAnswered != day.LinkTests {
			t.Errorf("checks over the day: %+v", day)
		}
	})
}

// TestSuspendVirtualTime: a suspension reaches the peer as a signed act
// with its reason, not as an outage, and messages are refused until the
// suspending party resumes.
func TestSuspendVirtualTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		a, b := virtualPair(t)
		defer a.Close()
		defer b.Close()
		if _, err := a.Propose(ctx, ops.ProposeRequest{Peer: "CHN", Channel: "ops", Level: "staff", FlashExempt: true}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if _, err := b.Accept(ctx, "ops"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if _, err := b.Suspend(ctx, ops.SuspendRequest{Channel: "ops", Reason: "in protest at the events of 1 April", By: "Minister"}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		c := channelOf(t, a, "ops")
		if c.State != "suspended" || len(c.Suspensions) != 1 || c.Suspensions[0].By != "CHN" || c.Suspensions[0].Reason != "in protest at the events of 1 April" {
			t.Fatalf("USA sees %+v", c)
		}
		if c.Paths[0].Up != true {
			t.Fatal("a suspension shown as an outage")
		}
		if _, err := a.Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "IMMEDIATE", Text: "please respond"}); err == nil || !strings.Contains(err.Error(), "in protest") {
			t.Fatalf("send on a suspended channel: %v", err)
		}
		if _, err := a.Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "FLASH", Text: "collision imminent"}); err != nil {
			t.Fatalf("FLASH is exempt by charter: %v", err)
		}
		if _, err := a.Resume(ctx, ops.SuspendRequest{Channel: "ops", By: "x"}); err == nil {
			t.Fatal("USA lifted CHN's suspension")
		}
		if _, err := b.Suspend(ctx, ops.SuspendRequest{Channel: "ops", By: "x"}); err == nil {
			t.Fatal("a suspension without a reason")
		}
		if _, err := b.Resume(ctx, ops.SuspendRequest{Channel: "ops", Reason: "talks agreed", By: "Minister"}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if s := channelOf(t, a, "ops").State; s != protocol.StateActive {
			t.Fatalf("after resume: %s", s)
		}
	})
}
