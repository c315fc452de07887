package station

import (
	"sync"
	"time"
)

// The quota of each peer (admit.go) is a token bucket of bytes: it fills
// at PeerQuota bytes a second up to PeerBurst, and each frame of the
// peer's entries that is taken empties it by the frame's size. Tests
// lower them.
var (
	// PeerQuota is the sustained rate at which a peer's entries are taken,
	// in bytes a second. 4 MiB a second is four full entries frames
	// (protocol.DefaultConfig.MaxBatchBytes, 1 MiB) a second, or thousands
	// of typed messages a second, far above what operators write. It
	// still takes a peer over seven hours to fill 100 GiB, and the
	// reserve stops it before the disk fills.
	PeerQuota uint64 = 4 << 20
	// PeerBurst is how much a peer may send at once, in bytes. It holds
	// sixteen of the largest frames (protocol.MaxFrame, 4 MiB), and a
	// peer's whole window of unreceipted entries (2048) of 32 KiB each:
	// what a peer sends back to back after an outage or a restore. A
	// peer's backlog beyond it arrives at PeerQuota, a gigabyte in about
	// four minutes.
	PeerBurst uint64 = 64 << 20
)

// quotas holds each peer's bucket.
type quotas struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

// bucket is a peer's token bucket.
type bucket struct {
	tokens float64
	at     time.Time
}

// take reports whether n bytes of peer's may be taken now, and takes them
// from its bucket if so. A frame larger than the burst is taken when the
// bucket is full, and leaves it in debt: it cannot wait for more than
// the bucket holds.
func (q *quotas) take(peer string, n uint64, now time.Time) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	rate, burst := float64(PeerQuota), float64(PeerBurst)
	if q.buckets == nil {
		q.buckets = map[string]*bucket{}
	}
	b := q.buckets[peer]
	if b == nil {
		b = &bucket{tokens: burst, at: now}
		q.buckets[peer] = b
	}
	b.tokens = min(burst, b.tokens+now.Sub(b.at).Seconds()*rate)
	b.at = now
	if b.tokens < min(float64(n), burst) {
		return false
	}
	b.tokens -= float64(n)
	return true
}
