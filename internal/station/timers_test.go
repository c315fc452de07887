package station

import (
	"context"
	"path/filepath"
	"testing"
	"time"
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
	if _, err := Init(ctx, InitOptions{Dir: dir, Name: "USA", Party: "USA", PeerListen: "127.0.0.1:0", APIListen: "127.0.0.1:0"}); err != nil {
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
