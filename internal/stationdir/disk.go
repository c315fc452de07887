package stationdir

import "golang.org/x/sys/unix"

// MinFree is the free space a station keeps in reserve on the filesystem
// of its SQLite store. Below it, requests from operators (sends,
// acknowledgements, proposals, imports) are refused with ops.ErrDiskFull, and
// /readyz and hotline doctor fail, while what peers send is still taken
// and receipted from the reserve: nothing already accepted is at risk.
// If the reserve runs out too, a write fails and the station stops, as
// for any failed write; restarted once there is room, it resumes from its
// disk. OPERATIONS.md, "A disk that fills up".
var MinFree uint64 = 64 << 20

// Free is the space free for an unprivileged writer on the filesystem
// that holds dir.
func Free(dir string) (uint64, error) {
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		return 0, err
	}
	return fs.Bavail * uint64(fs.Bsize), nil
}
