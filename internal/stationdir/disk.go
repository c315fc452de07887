package stationdir

import "golang.org/x/sys/unix"

// MinFree is the free space a station keeps in reserve on the filesystem
// of its SQLite store. The reserve is kept for the station's own voice.
// Below MinFree, what peers send to be stored (their entries, over a link,
// a relay or in an offline bundle) waits: it is not taken, and its author
// sends it again later. The station's own operator requests (sends,
// acknowledgements, proposals, pinning a peer) still go, from the reserve,
// down to OwnFloor. Below OwnFloor they are refused with ops.ErrDiskFull
// too. /readyz and hotline doctor fail under MinFree and say which level
// was reached. If the space runs out all the same, a write fails and the
// station stops, as for any failed write; restarted once there is room,
// it resumes from its disk. OPERATIONS.md, "A disk that fills up".
var MinFree uint64 = 64 << 20

// OwnFloor is the free space under which a station refuses its own
// operators' requests too: the last quarter of the reserve (MinFree).
func OwnFloor() uint64 { return MinFree / 4 }

// Free is the space free for an unprivileged writer on the filesystem
// that holds dir.
func Free(dir string) (uint64, error) {
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		return 0, err
	}
	return fs.Bavail * uint64(fs.Bsize), nil
}
