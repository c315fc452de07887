package station

import (
	"bufio"
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"hotline/internal/envelope"
	"hotline/internal/link"
	"hotline/internal/ops"
	"hotline/internal/protocol"
)

// filtered joins a station's outbound connection to its peer's inbound
// one through a goroutine that passes frames on, but drops each frame of
// entries (sent or sent ahead) whose first entry is index drop (0: none):
// the path stays up, probes and receipts pass, and one entry never
// arrives, however often it is sent again.
func filtered(t *testing.T, from, to *Station, drop *atomic.Uint64) {
	aOut, mid1 := net.Pipe()
	mid2, bIn := net.Pipe()
	pass := func(src, dst net.Conn, filter bool) {
		defer src.Close()
		defer dst.Close()
		r := bufio.NewReader(src)
		for {
			data, err := link.ReadFrame(r)
			if err != nil {
				return
			}
			if filter && len(data) > 0 {
				if ty := protocol.FrameType(data[0]); ty == protocol.FrameEntries || ty == protocol.FrameAhead {
					if f, err := protocol.DecodeFrame(data); err == nil && len(f.Entries) > 0 {
						if e, err := envelope.Parse(f.Entries[0]); err == nil && e.Index == drop.Load() {
							continue
						}
					}
				}
			}
			if err := link.WriteFrame(dst, data); err != nil {
				return
			}
		}
	}
	go pass(mid1, mid2, true)
	go pass(mid2, mid1, false)
	go directOf(t, from).serve(to.Cfg.Name, to.OwnCard.SignKey, link.NewConn(aOut), true)
	go directOf(t, to).serve(from.Cfg.Name, from.OwnCard.SignKey, link.NewConn(bIn), false)
}

func troubles(v ops.ChannelView) string {
	var s []string
	for _, t := range v.Troubles {
		s = append(s, t.Reason+" / "+t.Action)
	}
	return strings.Join(s, "; ")
}

// TestStalledDirectionDegraded: USA's entry 2 on a channel never reaches
// CHN, though the path stays up (probes answered, everything else
// passing): it is dropped every time it is sent. Until its delivery
// deadline (FLASH, 1m here) the channel is active; past it, USA shows it
// degraded, saying which direction has not moved and what to do. CHN,
// which keeps getting entry 3 after the gap, shows it degraded once the
// charter's longest delivery deadline (4m) has passed. When the entry
// gets through, both show the channel active again.
func TestStalledDirectionDegraded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		var drop atomic.Uint64
		a, b := virtualPairWith(t, &drop)
		defer a.Close()
		defer b.Close()
		if _, err := a.Propose(ctx, ops.ProposeRequest{Peer: "CHN", Channel: "ops", Level: "staff",
			Delivery: map[string]string{"FLASH": "1m", "IMMEDIATE": "2m", "PRIORITY": "3m", "ROUTINE": "4m"}}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if _, err := b.Accept(ctx, "ops"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		send := func(text string) {
			t.Helper()
			if _, err := a.Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "FLASH", Text: text}); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
		}
		send("first")
		v := channelOf(t, a, "ops")
		if v.State != protocol.StateActive || len(v.Troubles) != 0 || v.Delivered != v.Written {
			t.Fatalf("USA before: %s %s, %d of %d delivered", v.State, troubles(v), v.Delivered, v.Written)
		}
		drop.Store(v.Written + 1)
		send("never arrives")
		send("arrives after a gap")
		time.Sleep(59 * time.Second)
		synctest.Wait()
		for _, st := range []*Station{a, b} {
			if v := channelOf(t, st, "ops"); v.State != protocol.StateActive || len(v.Troubles) != 0 {
				t.Fatalf("%s within the delivery deadline: %s %s", st.Cfg.Name, v.State, troubles(v))
			}
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		v = channelOf(t, a, "ops")
		if v.State != protocol.StateDegraded || !strings.Contains(troubles(v), "USA→CHN has not moved") ||
			!strings.Contains(troubles(v), "delivery deadline of 1m0s") || !strings.Contains(troubles(v), "hotline alerts") {
			t.Fatalf("USA past the FLASH delivery deadline: %s %q", v.State, troubles(v))
		}
		for _, p := range v.Paths {
			if !p.Up {
				t.Fatalf("USA's %s path is down: the stall, not a path, must make it degraded", p.Name)
			}
		}
		if v := channelOf(t, b, "ops"); v.State != protocol.StateActive {
			t.Fatalf("CHN before the longest delivery deadline: %s %s", v.State, troubles(v))
		}
		time.Sleep(3 * time.Minute)
		synctest.Wait()
		v = channelOf(t, b, "ops")
		if v.State != protocol.StateDegraded || !strings.Contains(troubles(v), "USA→CHN has not moved") || !strings.Contains(troubles(v), "restored a backup") {
			t.Fatalf("CHN past the longest delivery deadline: %s %q", v.State, troubles(v))
		}
		st, err := a.Status(ctx)
		if err != nil || len(st.Channels) != 1 || st.Channels[0].State != protocol.StateDegraded {
			t.Fatalf("USA's status: %+v %v", st, err)
		}
		drop.Store(0)
		time.Sleep(30 * time.Second)
		synctest.Wait()
		for _, st := range []*Station{a, b} {
			if v := channelOf(t, st, "ops"); v.State != protocol.StateActive || len(v.Troubles) != 0 {
				t.Fatalf("%s once the entry got through: %s %s", st.Cfg.Name, v.State, troubles(v))
			}
		}
		if v := channelOf(t, a, "ops"); v.Delivered != v.Written {
			t.Fatalf("USA: %d of %d delivered", v.Delivered, v.Written)
		}
	})
}
