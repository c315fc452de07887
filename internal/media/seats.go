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
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
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
	pc        *webrtc.PeerConnection
	who       string
	seat      int
	audio     streams       // towards the browser, one per voice
	video     streams       // towards the browser, one per picture, when the call has video
	limit     *rate.Limiter // the browser's audio packets
	vlimit    *rate.Limiter // its video packets
	state     atomic.Value  // webrtc.PeerConnectionState
	videoSSRC atomic.Uint32 // of the browser's picture, once it sends one
}

// streams are the tracks a browser is sent of one kind, each given to a
// source (a voice or a picture) as it first comes.
type streams struct {
	mu       sync.Mutex
	outs     []*webrtc.TrackLocalStaticRTP
	bySource map[string]*webrtc.TrackLocalStaticRTP
	local    int // outputs given to sources of this side, taken from the end
}

func (l *leg) alive() bool {
	s, _ := l.state.Load().(webrtc.PeerConnectionState)
	return s != webrtc.PeerConnectionStateFailed && s != webrtc.PeerConnectionStateClosed && s != webrtc.PeerConnectionStateDisconnected
}

// out is the stream a source goes to this browser on: the one it was
// given, or a free one (fresh then). The other side's sources take
// streams from the first, this side's from the last, and this side's
// only when the browser has more than one: a browser that takes a single
// stream hears (or sees) the other side.
func (s *streams) out(source string) (o *webrtc.TrackLocalStaticRTP, fresh bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok := s.bySource[source]; ok {
		return o, false
	}
	remote := len(s.bySource) - s.local
	if remote+s.local >= len(s.outs) {
		return nil, false
	}
	if strings.HasPrefix(source, "peer:") {
		o = s.outs[remote]
	} else {
		if len(s.outs) < 2 {
			return nil, false
		}
		s.local++
		o = s.outs[len(s.outs)-s.local]
	}
	if s.bySource == nil {
		s.bySource = map[string]*webrtc.TrackLocalStaticRTP{}
	}
	s.bySource[source] = o
	return o, true
}

// sourceOf is the source a stream was given to, "" if none.
func (s *streams) sourceOf(o *webrtc.TrackLocalStaticRTP) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for src, x := range s.bySource {
		if x == o {
			return src
		}
	}
	return ""
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
	var bytes *rate.Limiter // the charter's cap, in bytes a second, once set
	if m := t.Codec().MimeType; !strings.EqualFold(m, webrtc.MimeTypeOpus) && !strings.EqualFold(m, webrtc.MimeTypeVP8) {
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
		if kbps := c.capKbps.Load(); kbps > 0 {
			if bytes == nil || bytes.Limit() != rate.Limit(kbps*125) {
				bytes = rate.NewLimiter(rate.Limit(kbps*125), int(kbps*125)) // a second's worth of burst
			}
			if !bytes.AllowN(time.Now(), len(p.Payload)) {
				c.drop()
				continue
			}
		}
		// Header extensions are the leg's where they came in (their ids,
		// a mid naming the sender's section): they mean nothing on the
		// next leg, and a mid there would send the packet astray.
		p.Header.Extension, p.Header.Extensions, p.Header.ExtensionProfile = false, nil, 0
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
			if o, _ := l.audio.out(source); o != nil && o.WriteRTP(p) == nil {
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
				if out, _ := o.audio.out(source); out != nil {
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

// VideoRate bounds the video packets of a source, a second (a burst of
// twice that); MaxPacket bounds their size too.
const VideoRate = 1000

// fromPeerVideo forwards one of the other station's pictures to every
// participant here. A participant who starts receiving it gets a key
// frame asked of the other station first.
func (c *Call) fromPeerVideo(t *webrtc.TrackRemote) {
	source := "peer:" + t.ID() + ":" + t.StreamID()
	ssrc := uint32(t.SSRC())
	c.setKeyframe(source, func() {
		c.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
	})
	c.readRTP(t, rate.NewLimiter(VideoRate, 2*VideoRate), func(p *rtp.Packet) {
		for _, l := range c.liveLegs() {
			o, fresh := l.video.out(source)
			if o == nil {
				continue
			}
			if fresh {
				c.keyframe(source)
			}
			if o.WriteRTP(p) == nil {
				c.videoFromPeer.Add(1)
			}
		}
	})
}

// fromLegVideo forwards a participant's picture to the other station on
// its seat, once the trunk is connected, and to the other participants
// here.
func (c *Call) fromLegVideo(l *leg, t *webrtc.TrackRemote) {
	source := "local:" + l.who
	ssrc := uint32(t.SSRC())
	l.videoSSRC.Store(ssrc)
	c.setKeyframe(source, func() {
		l.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
	})
	c.keyframe(source) // the first picture begins with one
	c.readRTP(t, l.vlimit, func(p *rtp.Packet) {
		c.mu.Lock()
		connected := c.state == Connected && c.video
		c.mu.Unlock()
		if connected && c.vouts[l.seat] != nil && c.vouts[l.seat].WriteRTP(p) == nil {
			c.videoToPeer.Add(1)
		}
		for _, o := range c.liveLegs() {
			if o == l {
				continue
			}
			out, fresh := o.video.out(source)
			if out == nil {
				continue
			}
			if fresh {
				c.keyframe(source)
			}
			out.WriteRTP(p)
		}
	})
}

func (c *Call) setKeyframe(source string, f func()) {
	c.mu.Lock()
	c.keyframes[source] = f
	c.mu.Unlock()
}

// keyframe asks the sender of a source for a key frame.
func (c *Call) keyframe(source string) {
	c.mu.Lock()
	f := c.keyframes[source]
	c.mu.Unlock()
	if f != nil {
		f()
	}
}

// seatKeyframe asks the browser on a seat for a key frame: the other
// station asked for one.
func (c *Call) seatKeyframe(seat int) {
	for _, l := range c.liveLegs() {
		if l.seat == seat {
			c.keyframe("local:" + l.who)
		}
	}
}

// Limit sets what the channel's charter allows call id: each stream
// capped at kbps kbit/s of payload (0: none), packets over it dropped
// and counted, a browser attaching told the cap (b=AS) in the station's
// answer; and, with noVideo, a browser's offer that sends video refused
// and counted.
func (e *Engine) Limit(id string, kbps int, noVideo bool) error {
	c := e.call(id)
	if c == nil {
		return fmt.Errorf("%w: %s", ErrNoMedia, id)
	}
	c.capKbps.Store(int64(kbps))
	c.noVideo.Store(noVideo)
	return nil
}

// sendsVideo says whether a description has a video section that sends
// (sendrecv or sendonly, not refused with port 0).
func sendsVideo(sdp string) bool {
	in := false
	for _, l := range strings.Split(sdp, "\r\n") {
		if m, ok := strings.CutPrefix(l, "m="); ok {
			f := strings.Fields(m)
			in = len(f) >= 2 && f[0] == "video" && f[1] != "0"
			continue
		}
		if in && (l == "a=sendrecv" || l == "a=sendonly") {
			return true
		}
	}
	return false
}

// withCap writes a cap of kbps into each media section of a description
// (b=AS, after its c= line).
func withCap(sdp string, kbps int64) string {
	if kbps <= 0 {
		return sdp
	}
	var out []string
	in := false
	for _, l := range strings.Split(sdp, "\r\n") {
		if strings.HasPrefix(l, "m=") {
			in = true
		}
		if in && strings.HasPrefix(l, "b=AS:") {
			continue
		}
		out = append(out, l)
		if in && strings.HasPrefix(l, "c=") {
			out = append(out, fmt.Sprintf("b=AS:%d", kbps))
		}
	}
	return strings.Join(out, "\r\n")
}
