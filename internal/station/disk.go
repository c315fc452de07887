package station

import (
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"hotline/internal/ops"
	"hotline/internal/protocol"
	"hotline/internal/stationdir"
)

// The disk reserve (stationdir.MinFree) is kept for this station's own
// voice. Under it, a peer's entries wait (peerRoom, checked for every
// frame that would store some, and for an offline bundle), while this
// station's operator requests still go, down to stationdir.OwnFloor
// (room). OPERATIONS.md, "A disk that fills up".

// freeFor is how long a reading of the free space serves the check of a
// peer's frames. A statfs per frame would cost a system call on every
// frame of a busy peer. In that time a peer brings at most what its
// quota lets through (quota.go), little next to the reserve.
const freeFor = 250 * time.Millisecond

// freeReading is the latest reading of the store's free space.
type freeReading struct {
	mu    sync.Mutex
	at    time.Time
	free  uint64
	where string
	ok    bool
	err   error
}

// diskFree returns the free space on the store's filesystem and where
// that is; ok is false for a store that is not a local file (PostgreSQL).
// It asks the filesystem each time, and keeps the answer for
// diskFreeRecent.
func (s *Station) diskFree() (free uint64, where string, ok bool, err error) {
	if s.dbFile == "" {
		return 0, "", false, nil
	}
	where = filepath.Dir(s.dbFile)
	free, err = stationdir.Free(where)
	r := &s.freeRead
	r.mu.Lock()
	r.at, r.free, r.where, r.ok, r.err = time.Now(), free, where, true, err
	r.mu.Unlock()
	return free, where, true, err
}

// diskFreeRecent is diskFree, answered from a reading under freeFor old
// when there is one.
func (s *Station) diskFreeRecent() (free uint64, where string, ok bool, err error) {
	r := &s.freeRead
	r.mu.Lock()
	if r.ok && time.Since(r.at) < freeFor {
		defer r.mu.Unlock()
		return r.free, r.where, r.ok, r.err
	}
	r.mu.Unlock()
	return s.diskFree()
}

// room checks that an operator's request may write. The request may use
// the reserve, down to stationdir.OwnFloor. Under it, the request is
// refused, counted ("disk full") and an alarm raised (at most once a
// minute), saying what is needed. It asks the filesystem every time, so
// that the first request after the disk fills is refused.
func (s *Station) room() error {
	free, where, ok, err := s.diskFree()
	if !ok || err != nil || free >= stationdir.OwnFloor() {
		return nil // a failed statfs is not a reason to refuse: a failed write still stops the station
	}
	text := fmt.Sprintf("%s free on the filesystem of %s, under the last %s of the station's %s reserve: free space on it; what was accepted is kept, and peers' messages wait until there is room",
		stationdir.BytesText(free), where, stationdir.BytesText(stationdir.OwnFloor()), stationdir.BytesText(stationdir.MinFree))
	s.event(protocol.LinkRefused{Reason: "disk full", Text: "requests refused: " + text})
	return fmt.Errorf("%w: %s", ops.ErrDiskFull, text)
}

// peerRoom says, if a peer's entries must wait for want of space, why: the
// free space is under the reserve. Recent says whether a recent reading
// will do (a frame) or the filesystem must be asked (a bundle).
func (s *Station) peerRoom(recent bool) (why string, full bool) {
	read := s.diskFree
	if recent {
		read = s.diskFreeRecent
	}
	free, where, ok, err := read()
	if !ok || err != nil || free >= stationdir.MinFree {
		return "", false
	}
	return fmt.Sprintf("%s free on the filesystem of %s, under the %s reserve: free space on it; this station's own requests go on down to %s",
		stationdir.BytesText(free), where, stationdir.BytesText(stationdir.MinFree), stationdir.BytesText(stationdir.OwnFloor())), true
}

// diskCheck is /readyz's disk line. It fails under the reserve, saying
// what waits and what is refused at the level reached.
func (s *Station) diskCheck() (string, error) {
	free, where, ok, err := s.diskFree()
	floor, reserve := stationdir.BytesText(stationdir.OwnFloor()), stationdir.BytesText(stationdir.MinFree)
	switch {
	case !ok:
		return "the store is a PostgreSQL database: watch its server's disk", nil
	case err != nil:
		return "", fmt.Errorf("cannot tell free space on %s: %w", where, err)
	case free < stationdir.OwnFloor():
		return "", fmt.Errorf("%s free on the filesystem of %s, under %s, the last of the %s reserve: this station's own requests are refused and peers' entries wait until there is room",
			stationdir.BytesText(free), where, floor, reserve)
	case free < stationdir.MinFree:
		return "", fmt.Errorf("%s free on the filesystem of %s, under the %s reserve: peers' entries wait until there is room; this station's own requests go on down to %s",
			stationdir.BytesText(free), where, reserve, floor)
	}
	return fmt.Sprintf("%s free on the filesystem of %s", stationdir.BytesText(free), where), nil
}
