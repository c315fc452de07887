package api

import (
	"testing"
	"time"
)

// SetStreamIdle shortens how long a send stream may go without a line,
// until the test ends.
func SetStreamIdle(t *testing.T, d time.Duration) {
	old := streamIdle
	streamIdle = d
	t.Cleanup(func() { streamIdle = old })
}
