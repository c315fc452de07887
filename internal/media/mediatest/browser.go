// Package mediatest has a WebRTC peer for tests that plays a console's
// browser: its own socket on loopback, an Opus track each way, and an
// offer with its candidates in it. It sends RTP packets whose payloads
// are text, and records the payloads it receives, so that a test can
// tell which side said what.
package mediatest

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// VP8 is the video codec the browsers offer, with key frame requests.
var VP8 = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
	RTCPFeedback: []webrtc.RTCPFeedback{{Type: "nack", Parameter: "pli"}}}

// Opus is the codec the browsers offer.
var Opus = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
	SDPFmtpLine: "minptime=10;useinbandfec=1"}

// API is a pion API for loopback peers: host candidates on 127.0.0.1 only,
// Opus only; tune changes its settings further.
func API(t testing.TB, tune func(*webrtc.SettingEngine)) *webrtc.API {
	t.Helper()
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	if tune != nil {
		tune(&se)
	}
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: Opus, PayloadType: 111}, webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: VP8, PayloadType: 96}, webrtc.RTPCodecTypeVideo); err != nil {
		t.Fatal(err)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se))
}

// Browser is a console's browser as far as WebRTC goes.
type Browser struct {
	t     testing.TB
	PC    *webrtc.PeerConnection
	out   *webrtc.TrackLocalStaticRTP
	mu    sync.Mutex
	heard []string // payloads received, in order
	seq   uint16
	// video: the camera's track, once NewVideo made it; seen are the
	// video payloads received; plis counts the key frame requests the
	// camera got.
	video *webrtc.TrackLocalStaticRTP
	vseq  uint16
	seen  []string
	plis  int
	// notify, once Arrivals made it, gets every payload as it arrives.
	notify chan Arrival
}

// Arrival is a payload received, and when.
type Arrival struct {
	Payload string
	At      time.Time
}

// Arrivals returns a channel that gets each payload received from now
// on, with its time of arrival (those that find it full are not sent).
func (b *Browser) Arrivals() <-chan Arrival {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.notify == nil {
		b.notify = make(chan Arrival, 4096)
	}
	return b.notify
}

// New returns a browser with an Opus track each way; it closes when the
// test ends.
func New(t testing.TB) *Browser { return NewWith(t, 1) }

// NewWith returns a browser that sends one Opus track and offers to
// receive streams of them (a call with several participants sends each
// voice on its own), as the console does.
func NewWith(t testing.TB, streams int) *Browser {
	t.Helper()
	pc, err := API(t, nil).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	b := &Browser{t: t, PC: pc}
	if b.out, err = webrtc.NewTrackLocalStaticRTP(Opus, "mic", "browser"); err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTrack(b.out); err != nil {
		t.Fatal(err)
	}
	for range streams - 1 {
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			at := time.Now()
			b.mu.Lock()
			if tr.Kind() == webrtc.RTPCodecTypeVideo {
				b.seen = append(b.seen, string(p.Payload))
				b.mu.Unlock()
				continue
			}
			b.heard = append(b.heard, string(p.Payload))
			if b.notify != nil {
				select {
				case b.notify <- Arrival{string(p.Payload), at}:
				default:
				}
			}
			b.mu.Unlock()
		}
	})
	return b
}

// NewVideo returns a browser as NewWith does that also sends a picture
// (VP8) and offers to receive pictures on streams more.
func NewVideo(t testing.TB, streams int) *Browser {
	t.Helper()
	b := NewWith(t, streams)
	var err error
	if b.video, err = webrtc.NewTrackLocalStaticRTP(VP8, "camera", "browser"); err != nil {
		t.Fatal(err)
	}
	sender, err := b.PC.AddTrack(b.video)
	if err != nil {
		t.Fatal(err)
	}
	for range streams - 1 {
		if _, err := b.PC.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	go func() {
		for {
			ps, _, err := sender.ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range ps {
				if _, ok := p.(*rtcp.PictureLossIndication); ok {
					b.mu.Lock()
					b.plis++
					b.mu.Unlock()
				}
			}
		}
	}()
	return b
}

// Show sends one VP8 packet whose payload is text.
func (b *Browser) Show(text string) {
	b.vseq++
	p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: b.vseq, Timestamp: uint32(b.vseq) * 3000, SSRC: 2, Marker: true},
		Payload: []byte(text)}
	if err := b.video.WriteRTP(p); err != nil {
		b.t.Fatal(err)
	}
}

// Seen counts the video payloads received that begin with prefix.
func (b *Browser) Seen(prefix string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, s := range b.seen {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

// KeyframeRequests counts the PLIs the browser's camera got.
func (b *Browser) KeyframeRequests() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.plis
}

// Offer returns the browser's offer, its candidates in it.
func (b *Browser) Offer() string {
	b.t.Helper()
	o, err := b.PC.CreateOffer(nil)
	if err != nil {
		b.t.Fatal(err)
	}
	done := webrtc.GatheringCompletePromise(b.PC)
	if err := b.PC.SetLocalDescription(o); err != nil {
		b.t.Fatal(err)
	}
	<-done
	return b.PC.LocalDescription().SDP
}

// Answer answers another peer's offer (a browser talking to a browser
// directly, without stations: the baseline of the benchmarks).
func (b *Browser) Answer(offer string) string {
	b.t.Helper()
	if err := b.PC.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		b.t.Fatal(err)
	}
	a, err := b.PC.CreateAnswer(nil)
	if err != nil {
		b.t.Fatal(err)
	}
	done := webrtc.GatheringCompletePromise(b.PC)
	if err := b.PC.SetLocalDescription(a); err != nil {
		b.t.Fatal(err)
	}
	<-done
	return b.PC.LocalDescription().SDP
}

// Answered takes the station's answer.
func (b *Browser) Answered(sdp string) {
	b.t.Helper()
	if err := b.PC.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		b.t.Fatal(err)
	}
}

// Speak sends one Opus RTP packet whose payload is text (a forwarding
// unit never looks inside).
func (b *Browser) Speak(text string) {
	b.seq++
	p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: b.seq, Timestamp: uint32(b.seq) * 960, SSRC: 1},
		Payload: []byte(text)}
	if err := b.out.WriteRTP(p); err != nil {
		b.t.Fatal(err)
	}
}

// Heard counts the payloads received that begin with prefix.
func (b *Browser) Heard(prefix string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, h := range b.heard {
		if strings.HasPrefix(h, prefix) {
			n++
		}
	}
	return n
}

// Payloads are the payloads received, in order.
func (b *Browser) Payloads() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.heard...)
}

// Talk has a and b speak every 20 ms ("usa-voice-N" and "chn-voice-N")
// until each has heard at least 10 packets of the other's, or 20 seconds
// pass.
func Talk(t testing.TB, a, b *Browser) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		a.Speak(fmt.Sprintf("usa-voice-%d", i))
		b.Speak(fmt.Sprintf("chn-voice-%d", i))
		if a.Heard("chn-voice-") >= 10 && b.Heard("usa-voice-") >= 10 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("after 20s: the first browser heard %d packets of the second's, the second %d of the first's", a.Heard("chn-voice-"), b.Heard("usa-voice-"))
}
