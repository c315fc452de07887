package station

import (
	"fmt"
	"sync"
	"time"

	"golang.org/x/crypto/cryptobyte"

	"hotline/internal/protocol"
	"hotline/internal/stationdir"
)

// What a peer may make this station store. Every frame a peer sends, over
// any transport, passes admit before the core gets it. A frame that would
// store the peer's entries (an entries frame, or entries sent ahead) waits
// while the disk is under its reserve (disk.go), or while it would bring
// the peer over its quota (quota.go). A frame that waits is not taken,
// so it is not receipted, and its author sends it again (after
// protocol.ResendAfter, or at once when a later frame shows the gap):
// that is the backpressure. Nothing here blocks the goroutine that read
// the frame, which may serve several peers (relay mail). Every frame that
// waits is counted under its reason, the peer is told with an error frame
// at most once a minute, and the core raises an alarm at most once a
// minute.

// tellEvery bounds how often a peer is told that its entries wait, for
// each reason.
const tellEvery = time.Minute

// told notes when each peer was last told that its entries wait, for
// each reason.
type told struct {
	mu sync.Mutex
	at map[string]time.Time // peer and reason → when last told
}

// may reports whether peer may be told now that its entries wait for
// reason, and notes it if so.
func (t *told) may(peer, reason string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	key := peer + "\x00" + reason
	if last, ok := t.at[key]; ok && now.Sub(last) < tellEvery {
		return false
	}
	if t.at == nil {
		t.at = map[string]time.Time{}
	}
	t.at[key] = now
	return true
}

// admit says whether a frame peer sent on connection id may reach the
// core. Only a frame of the peer's own entries is gated: this station's
// own entries sent back after a restore are its own log, and every other
// frame stores nothing of the peer's.
func (s *Station) admit(peer string, id protocol.ConnID, data []byte) bool {
	if !s.storesPeerEntries(data) {
		return true
	}
	if why, full := s.peerRoom(true); full {
		s.entriesWait(peer, id, "disk full", fmt.Sprintf("entries from %s wait: %s", peer, why),
			"entries wait: the disk here is under its reserve; they are taken once there is room")
		return false
	}
	if !s.quotas.take(peer, uint64(len(data)), time.Now()) {
		quota := fmt.Sprintf("the quota of %s a second (bursts of %s)", stationdir.BytesText(PeerQuota), stationdir.BytesText(PeerBurst))
		s.entriesWait(peer, id, "peer quota", fmt.Sprintf("entries from %s wait: over %s from this peer; they are taken as the quota allows", peer, quota),
			fmt.Sprintf("entries wait: over %s from this peer; they are taken as the quota allows", quota))
		return false
	}
	return true
}

// storesPeerEntries says whether data is an entries frame, or entries sent
// ahead, of a log other than this station's. Only the frame's first
// fields are read; a frame they do not parse is the core's to refuse.
func (s *Station) storesPeerEntries(data []byte) bool {
	r := cryptobyte.String(data)
	var t uint8
	var channel, author cryptobyte.String
	if !r.ReadUint8(&t) || protocol.FrameType(t) != protocol.FrameEntries && protocol.FrameType(t) != protocol.FrameAhead {
		return false
	}
	if !r.ReadUint8LengthPrefixed(&channel) || !r.ReadUint8LengthPrefixed(&author) {
		return false
	}
	return string(author) != s.Cfg.Name
}

// entriesWait counts a frame of peer's entries that was not taken, under
// reason, and raises alarm (the core records it at most once a minute).
// It tells the peer, on the connection the frame came on, at most once a
// minute: the peer's operators see "<this station> reports: <tell>".
func (s *Station) entriesWait(peer string, id protocol.ConnID, reason, alarm, tell string) {
	s.event(protocol.LinkRefused{Peer: peer, Reason: reason, Text: alarm})
	if !s.told.may(peer, reason, time.Now()) {
		return
	}
	s.mu.Lock()
	c := s.conns[id]
	s.mu.Unlock()
	if c != nil {
		c.Send((&protocol.Frame{Type: protocol.FrameError, Text: tell}).Encode(), false)
	}
}
