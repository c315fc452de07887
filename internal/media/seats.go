package media

// Several participants per side (docs/CALLS.md, "Participants"). A call's
// trunk carries Seats audio streams each way, one per participant of a
// side: each browser attached at a station takes a seat, and its voice
// goes to the other station on that seat's stream, and to the station's
// other participants. What comes from the other station on each of its
// seats goes to every participant here. Each browser is sent each voice
// on a stream of its own, as many as its offer has audio sections for
// (the voices of the other side first): a forwarding unit, never a mixer.

import (
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"
)

// Seats is how many participants of one side a call carries.
const Seats = 4

// LegStreams is the most voices a browser is sent: the other side's
// seats and the other participants of its own side.
const LegStreams = 2*Seats - 1

// leg is one participant's browser, connected to this station.
type leg struct {
	pc    *webrtc.PeerConnection
	who   string
	seat  int
	outs  []*webrtc.TrackLocalStaticRTP // towards the browser, one per voice
	limit *rate.Limiter                 // the browser's packets
	state atomic.Value                  // webrtc.PeerConnectionState

	mu       sync.Mutex
	bySource map[string]*webrtc.TrackLocalStaticRTP
	local    int // outputs given to voices of this side, taken from the end
}

func (l *leg) alive() bool {
	s, _ := l.state.Load().(webrtc.PeerConnectionState)
	return s != webrtc.PeerConnectionStateFailed && s != webrtc.PeerConnectionStateClosed && s != webrtc.PeerConnectionStateDisconnected
}

// out is the stream a voice goes to this browser on: the one it was
// given, or a free one. The other side's voices take streams from the
// first, this side's from the last, and this side's only when the browser
// has more than one: a browser that takes a single stream hears the other
// side.
func (l *leg) out(source string) *webrtc.TrackLocalStaticRTP {
	l.mu.Lock()
	defer l.mu.Unlock()
	if o, ok := l.bySource[source]; ok {
		return o
	}
	remote := len(l.bySource) - l.local
	if remote+l.local >= len(l.outs) {
		return nil
	}
	var o *webrtc.TrackLocalStaticRTP
	if strings.HasPrefix(source, "peer:") {
		o = l.outs[remote]
	} else {
		if len(l.outs) < 2 {
			return nil
		}
		l.local++
		o = l.outs[len(l.outs)-l.local]
	}
	l.bySource[source] = o
	return o
}

// legs returns the participants connected here now.
func (c *Call) liveLegs() []*leg {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*leg, 0, len(c.legs))
	for _, l := range c.legs {
		out = append(out, l)
	}
	return out
}

// readRTP reads a remote track's packets, each within the bounds, and
// hands it to f; the rest are dropped and counted. It returns when the
// track ends.
func (c *Call) readRTP(t *webrtc.TrackRemote, lim *rate.Limiter, f func(*rtp.Packet)) {
	if !strings.EqualFold(t.Codec().MimeType, webrtc.MimeTypeOpus) {
		return
	}
	buf := make([]byte, 64<<10)
	for {
		i, _, err := t.Read(buf)
		if errors.Is(err, io.ErrShortBuffer) {
			c.drop()
			continue
		}
		if err != nil {
			return
		}
		var p rtp.Packet
		if err := p.Unmarshal(buf[:i]); err != nil || len(p.Payload) > MaxPacket || !lim.Allow() {
			c.drop()
			continue
		}
		f(&p)
	}
}

// fromPeer forwards one of the other station's voices to every
// participant here.
func (c *Call) fromPeer(t *webrtc.TrackRemote) {
	source := "peer:" + t.ID() + ":" + t.StreamID()
	c.readRTP(t, rate.NewLimiter(PacketRate, PacketBurst), func(p *rtp.Packet) {
		c.gap()
		sent := false
		for _, l := range c.liveLegs() {
			if o := l.out(source); o != nil && o.WriteRTP(p) == nil {
				sent = true
			}
		}
		if sent {
			c.fromPeerN.Add(1)
		}
	})
}

// fromLeg forwards a participant's voice to the other station on its
// seat, once the trunk is connected, and to the other participants here.
func (c *Call) fromLeg(l *leg, t *webrtc.TrackRemote) {
	source := "local:" + l.who
	c.readRTP(t, l.limit, func(p *rtp.Packet) {
		c.mu.Lock()
		connected := c.state == Connected
		c.mu.Unlock()
		if connected && c.outs[l.seat].WriteRTP(p) == nil {
			c.toPeer.Add(1)
			if r := c.rec.Load(); r != nil {
				r.r.WriteRTP(l.seat, p)
			}
		}
		for _, o := range c.liveLegs() {
			if o != l {
				if out := o.out(source); out != nil {
					out.WriteRTP(p)
				}
			}
		}
	})
}

// Participant is a browser attached to a call here.
type Participant struct {
	Who   string // the person, for the record
	Seat  int    // their stream on the trunk, from 0
	State string // the browser's connection
}
