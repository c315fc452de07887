package station

import (
	"errors"
	"hotline/internal/ops"
	"hotline/internal/stationdir"
	"testing"
)

// TestRoomAsksNearTheReserve: every request asks the filesystem, so that
// the first one after the disk fills is refused, even right after one was
// taken. A request may use the reserve down to its last quarter
// (stationdir.OwnFloor), where a peer's entries already wait.
func TestRoomAsksNearTheReserve(t *testing.T) {
	a, _ := benchPair(t)
	free, _, ok, err := a.diskFree()
	if !ok || err != nil || free < 1<<20 {
		t.Skipf("cannot tell the free space of the test's disk: %d bytes, %v", free, err)
	}
	defer func(m uint64) { stationdir.MinFree = m }(stationdir.MinFree)
	// Above the reserve, but not twice above it.
	stationdir.MinFree = free / 3 * 2
	if err := a.room(); err != nil {
		t.Fatalf("room with %d free and a reserve of %d: %v", free, stationdir.MinFree, err)
	}
	if why, full := a.peerRoom(false); full {
		t.Fatalf("a peer's entries wait with %d free and a reserve of %d: %s", free, stationdir.MinFree, why)
	}
	// Under the reserve, above its last quarter: the station's own
	// requests go, a peer's entries wait.
	stationdir.MinFree = free * 2
	if err := a.room(); err != nil {
		t.Fatalf("room with %d free and a reserve of %d: %v", free, stationdir.MinFree, err)
	}
	if _, full := a.peerRoom(false); !full {
		t.Fatalf("a peer's entries taken with %d free and a reserve of %d", free, stationdir.MinFree)
	}
	// Now the last quarter of the reserve is more than what is free:
	// refused at once.
	stationdir.MinFree = free * 8
	if err := a.room(); !errors.Is(err, ops.ErrDiskFull) {
		t.Fatalf("room with %d free and a reserve of %d: %v, want it refused as disk full", free, stationdir.MinFree, err)
	}
}
