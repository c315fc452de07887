package station

import (
	"errors"
	"testing"
	"time"
)

// TestRoomAsksNearTheReserve: an answer about free space is trusted for a
// while only when it is well above the reserve. Near the reserve, every
// request asks the filesystem again, so that the first one after the disk
// fills is refused.
func TestRoomAsksNearTheReserve(t *testing.T) {
	a, _ := benchPair(t)
	free, _, ok, err := a.diskFree()
	if !ok || err != nil || free < 1<<20 {
		t.Skipf("cannot tell the free space of the test's disk: %d bytes, %v", free, err)
	}
	defer func(m uint64) { MinFree = m }(MinFree)
	// The answers of the requests that set the pair up have expired.
	a.roomMu.Lock()
	a.roomUntil = time.Time{}
	a.roomMu.Unlock()
	// Above the reserve, but not twice above it.
	MinFree = free / 3 * 2
	if err := a.room(); err != nil {
		t.Fatalf("room with %d free and a reserve of %d: %v", free, MinFree, err)
	}
	// Now the reserve is more than what is free: refused at once.
	MinFree = free * 2
	if err := a.room(); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("room with %d free and a reserve of %d: %v, want it refused as disk full", free, MinFree, err)
	}
}
