package station

import (
	"errors"
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"

	"hotline/internal/protocol"
)

// MinFree is the free space a station keeps in reserve on the filesystem
// of its SQLite store. Below it, requests from operators (sends,
// acknowledgements, proposals, imports) are refused with ErrDiskFull, and
// /readyz and hotline doctor fail, while what peers send is still taken
// and receipted from the reserve: nothing already accepted is at risk.
// If the reserve runs out too, a write fails and the station stops, as
// for any failed write; restarted once there is room, it resumes from its
// disk. OPERATIONS.md, "A disk that fills up".
var MinFree uint64 = 64 << 20

// ErrDiskFull is returned for a request refused for lack of disk space.
var ErrDiskFull = errors.New("disk full")

// diskFree returns the free space on the store's filesystem and where
// that is; ok is false for a store that is not a local file (PostgreSQL).
func (s *Station) diskFree() (free uint64, where string, ok bool, err error) {
	if s.dbFile == "" {
		return 0, "", false, nil
	}
	where = filepath.Dir(s.dbFile)
	var fs unix.Statfs_t
	if err := unix.Statfs(where, &fs); err != nil {
		return 0, where, true, err
	}
	return fs.Bavail * uint64(fs.Bsize), where, true, nil
}

// room checks that an operator's request may write: it refuses one below
// MinFree, counts it ("disk full") and raises an alarm (at most once a
// minute), saying what is needed.
func (s *Station) room() error {
	free, where, ok, err := s.diskFree()
	if !ok || err != nil || free >= MinFree {
		return nil // a failed statfs is not a reason to refuse: a failed write still stops the station
	}
	text := fmt.Sprintf("%s free on the filesystem of %s, the station keeps %s in reserve: free space on it; what was accepted is kept, and peers' messages are still taken",
		bytesText(free), where, bytesText(MinFree))
	s.event(protocol.LinkRefused{Reason: "disk full", Text: "requests refused: " + text})
	return fmt.Errorf("%w: %s", ErrDiskFull, text)
}

// diskCheck is /readyz's disk line.
func (s *Station) diskCheck() (string, error) {
	free, where, ok, err := s.diskFree()
	switch {
	case !ok:
		return "the store is a PostgreSQL database: watch its server's disk", nil
	case err != nil:
		return "", fmt.Errorf("cannot tell free space on %s: %w", where, err)
	case free < MinFree:
		return "", fmt.Errorf("%s free on the filesystem of %s, under the %s reserve: sends are refused until there is room", bytesText(free), where, bytesText(MinFree))
	}
	return fmt.Sprintf("%s free on the filesystem of %s", bytesText(free), where), nil
}
