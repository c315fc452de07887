package station

import (
	"fmt"
	"path/filepath"

	"hotline/internal/ops"
	"hotline/internal/protocol"
	"hotline/internal/stationdir"
)

// diskFree returns the free space on the store's filesystem and where
// that is; ok is false for a store that is not a local file (PostgreSQL).
func (s *Station) diskFree() (free uint64, where string, ok bool, err error) {
	if s.dbFile == "" {
		return 0, "", false, nil
	}
	where = filepath.Dir(s.dbFile)
	free, err = stationdir.Free(where)
	return free, where, true, err
}

// room checks that an operator's request may write: it refuses one below
// stationdir.MinFree, counts it ("disk full") and raises an alarm (at most once a
// minute), saying what is needed.
func (s *Station) room() error {
	free, where, ok, err := s.diskFree()
	if !ok || err != nil || free >= stationdir.MinFree {
		return nil // a failed statfs is not a reason to refuse: a failed write still stops the station
	}
	text := fmt.Sprintf("%s free on the filesystem of %s, the station keeps %s in reserve: free space on it; what was accepted is kept, and peers' messages are still taken",
		stationdir.BytesText(free), where, stationdir.BytesText(stationdir.MinFree))
	s.event(protocol.LinkRefused{Reason: "disk full", Text: "requests refused: " + text})
	return fmt.Errorf("%w: %s", ops.ErrDiskFull, text)
}

// diskCheck is /readyz's disk line.
func (s *Station) diskCheck() (string, error) {
	free, where, ok, err := s.diskFree()
	switch {
	case !ok:
		return "the store is a PostgreSQL database: watch its server's disk", nil
	case err != nil:
		return "", fmt.Errorf("cannot tell free space on %s: %w", where, err)
	case free < stationdir.MinFree:
		return "", fmt.Errorf("%s free on the filesystem of %s, under the %s reserve: sends are refused until there is room", stationdir.BytesText(free), where, stationdir.BytesText(stationdir.MinFree))
	}
	return fmt.Sprintf("%s free on the filesystem of %s", stationdir.BytesText(free), where), nil
}
