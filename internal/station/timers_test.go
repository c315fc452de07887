package station

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"hotline/internal/protocol"
	"hotline/internal/stationdir"
)

// TestRunSetsTimers: hotline run starts the core's timers at once, even
// when no peer or relay can be reached (no event would step the core).
// Found by internal/sim: a station restarted while cut off from every
// peer raised no deadline alarm and wrote no operator check until a
// connection came.
func TestRunSetsTimers(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	dir := filepath.Join(t.TempDir(), "usa")
	if _, err := stationdir.Init(ctx, stationdir.InitOptions{Dir: dir, Name: "USA", Party: "USA", PeerListen: "127.0.0.1:0", APIListen: "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	st, err := Open(ctx, dir, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	go st.Run(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for {
		var next time.Time
		if err := st.inLoop(ctx, func() { next = st.core.NextWake() }); err != nil {
			t.Fatal(err)
		}
		if !next.IsZero() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the core has no timer set 5 s after Run started")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWakeLosesNothing: a Wake channel is woken by every notification its
// filter accepts, however many come while nobody looks (they coalesce into
// one wake), and not by the others; a subscription of the same moment,
// whose buffer is full, drops notifications instead.
func TestWakeLosesNothing(t *testing.T) {
	s := &Station{subs: map[chan protocol.Notify]struct{}{}}
	wake, cancel := s.Wake(func(n protocol.Notify) bool { return n.What == "link" })
	defer cancel()
	notes, unsub := s.Subscribe()
	defer unsub()
	var burst []protocol.Notify
	for range 1000 {
		burst = append(burst, protocol.Notify{What: "delivered", Channel: "c"})
	}
	s.notify(burst)
	select {
	case <-wake:
		t.Fatal("woken by notifications the filter refuses")
	default:
	}
	s.notify(append(burst, protocol.Notify{What: "link", Channel: "c"}))
	if len(notes) != cap(notes) {
		t.Fatalf("subscription holds %d of %d", len(notes), cap(notes))
	}
	select {
	case <-wake:
	default:
		t.Fatal("a link notification after a full subscription's burst did not wake")
	}
	select {
	case <-wake:
		t.Fatal("woken twice for one look")
	default:
	}
	cancel()
	s.notify([]protocol.Notify{{What: "link"}})
	select {
	case <-wake:
		t.Fatal("woken after cancel")
	default:
	}
}
