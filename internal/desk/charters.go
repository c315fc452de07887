package desk

import (
	"sync"

	"hotline/internal/channel"
)

// charters holds parsed charters by their text. A charter's text never
// changes what it says, and the board, the views of messages and the
// broadcasts read every channel's charter on each request: parsing each
// again was a sixth of drawing the board of 100 channels.
var charters struct {
	mu sync.Mutex
	m  map[string]*channel.Charter
}

// maxCharters bounds the parsed charters kept; past it the cache starts
// again.
const maxCharters = 4096

// parseCharter is channel.ParseUnverified, kept. The charter returned is
// shared: callers read it and never change it.
func parseCharter(raw []byte) (*channel.Charter, error) {
	charters.mu.Lock()
	c, ok := charters.m[string(raw)]
	charters.mu.Unlock()
	if ok {
		return c, nil
	}
	c, err := channel.ParseUnverified(raw)
	if err != nil {
		return nil, err
	}
	charters.mu.Lock()
	if charters.m == nil || len(charters.m) >= maxCharters {
		charters.m = map[string]*channel.Charter{}
	}
	charters.m[string(raw)] = c
	charters.mu.Unlock()
	return c, nil
}
