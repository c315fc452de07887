package station

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Check is one line of a health report.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Health is what /healthz and /readyz report. Live: the loop answers and
// has not stopped on a failed write. Ready: live, the store is writable,
// and a peer can be reached (or none is pinned yet). OPERATIONS.md,
// "Health", states the rule.
type Health struct {
	Live   bool    `json:"live"`
	Ready  bool    `json:"ready"`
	Checks []Check `json:"checks"`
}

// Health checks the station. It costs one turn of the loop (reading the
// core's channels, as a status does), one small store read and, for
// SQLite, a stat and a file created and removed beside the database.
func (s *Station) Health(ctx context.Context) Health {
	ctx, cancel := context.WithTimeout(ctx, scrapeTimeout)
	defer cancel()
	var h Health
	add := func(name string, err error, ok string) bool {
		c := Check{Name: name, OK: err == nil, Detail: ok}
		if err != nil {
			c.Detail = err.Error()
		}
		h.Checks = append(h.Checks, c)
		return c.OK
	}

	var peers, up int
	loopErr := s.inLoop(ctx, func() {
		peers = len(s.core.PeerNames())
		seen := map[string]bool{}
		for _, c := range s.core.Channels() {
			if seen[c.Peer] {
				continue
			}
			seen[c.Peer] = true
			for _, p := range c.Paths {
				if p.Up {
					up++
					break
				}
			}
		}
	})
	if loopErr == nil {
		loopErr = s.Err()
	}
	if loopErr != nil {
		loopErr = fmt.Errorf("the station's loop does not answer: %w", loopErr)
	}
	h.Live = add("loop", loopErr, "answers")

	storeOK := add("store", s.storeWritable(ctx), "writable")
	diskDetail, diskErr := s.diskCheck()
	storeOK = add("disk", diskErr, diskDetail) && storeOK
	if s.leaser != nil {
		var leaseErr error
		if at := time.Unix(0, s.leaseAt.Load()); time.Since(at) >= LeaseTTL {
			leaseErr = fmt.Errorf("the station's lease was last renewed %s ago", time.Since(at).Round(time.Millisecond))
		}
		storeOK = add("lease", leaseErr, "held") && storeOK
	}

	var pathErr error
	detail := fmt.Sprintf("%d of %d peers reachable", up, peers)
	switch {
	case loopErr != nil:
		pathErr = errors.New("unknown: the loop does not answer")
	case peers == 0:
		detail = "no peers pinned yet"
	case up == 0:
		pathErr = fmt.Errorf("no path up to any of %d pinned peers", peers)
	}
	pathsOK := add("paths", pathErr, detail)
	h.Ready = h.Live && storeOK && pathsOK
	return h
}

// storeWritable says whether the store can take the next write: the last
// write succeeded, a read answers, and for SQLite the database file is
// still the one opened and its directory takes new files (the journal).
// A removed or replaced database is not seen by SQLite itself, which
// writes on into the open file.
func (s *Station) storeWritable(ctx context.Context) error {
	if err := s.metrics.lastApplyErr(); err != nil {
		return fmt.Errorf("the last store write failed: %w", err)
	}
	if _, err := s.Store.Peers(ctx); err != nil {
		return fmt.Errorf("store read failed: %w", err)
	}
	if s.dbFile == "" {
		return nil
	}
	fi, err := os.Stat(s.dbFile)
	if err != nil {
		return fmt.Errorf("database %s: %w", s.dbFile, err)
	}
	if s.dbInfo != nil && !os.SameFile(fi, s.dbInfo) {
		return fmt.Errorf("database %s was replaced since the station opened it: restart it", s.dbFile)
	}
	f, err := os.CreateTemp(filepath.Dir(s.dbFile), ".readyz-*")
	if err != nil {
		return fmt.Errorf("database directory %s is not writable: %s", filepath.Dir(s.dbFile), strings.TrimPrefix(err.Error(), "open "))
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}
