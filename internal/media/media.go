// Package media carries a call's audio (docs/CALLS.md, "Media"). A
// station is a WebRTC peer (pion/webrtc) on one UDP socket, host
// candidates only, no STUN or TURN. Each call has a trunk, a peer
// connection to the other station whose session descriptions travel in
// the signed, sealed call request and answer entries: the DTLS
// certificate each station presents must be the one its signed entry
// names, or the media is refused. The console's browser speaks standard
// WebRTC to its own station only (a console leg, Attach); the engine
// forwards RTP packets between the console leg and the trunk as they
// come, without transcoding (a forwarding unit, not a mixer).
//
// The engine knows calls by their ids and nothing of entries, charters
// or stores: the desk tells it what the signed entries say (Offer,
// Answer, Accept, End).
package media

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"

	"hotline/internal/call"
)

// The bounds on what a leg may send: packets beyond the rate (with its
// burst) are dropped and counted, as are packets larger than MaxPacket.
const (
	PacketRate  = 250 // packets per second per leg; Opus at 20 ms sends 50
	PacketBurst = 500
	MaxPacket   = 1500 // bytes of RTP payload
)

// MaxBrowserSDP bounds a browser's offer: a section for each voice and
// picture it can be sent (LegStreams of each), each listing the codecs
// the browser has, makes it much longer than the stations' own
// descriptions, which travel in entries (call.MaxSDP): chromium's is
// about 52 KiB for a video call.
const MaxBrowserSDP = 96 << 10

// GatherTimeout bounds how long the engine waits for its host candidates
// when it makes a description.
const GatherTimeout = 5 * time.Second

// LegGone is how long a browser that stopped answering is kept in a
// call (disconnected after legDisconnected, then failed).
const (
	LegGone         = 8 * time.Second
	legDisconnected = 3 * time.Second
)

// KeepClosed is how many ended calls the engine keeps the last state of,
// for the views.
const KeepClosed = 256

// Errors a caller can test for with errors.Is.
var (
	// ErrSDP marks a session description refused: bad text, no Opus
	// audio, no fingerprint, a candidate other than a host.
	ErrSDP = errors.New("session description refused")
	// ErrNoMedia means the engine holds no media for the call.
	ErrNoMedia = errors.New("no media for this call at this station")
	// ErrState means the call's media is not in a state to do that.
	ErrState = errors.New("the call's media is not in that state")
	// ErrClosed means the engine has stopped.
	ErrClosed = errors.New("the station's media has stopped")
)

// The states of a call's trunk.
const (
	Offered    = "offered"    // this station's offer is in the signed request; no answer yet
	Connecting = "connecting" // both descriptions known; ICE and DTLS under way
	Connected  = "connected"  // DTLS up with the certificate the signed entry names
	Refused    = "refused"    // the peer presented another certificate than the signed one
	Failed     = "failed"     // the connection failed or could not be made
	Closed     = "closed"     // the call ended here
)

// opus is the one codec carried: Opus audio, in-band FEC as the browsers
// negotiate it.
var opus = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
	SDPFmtpLine: "minptime=10;useinbandfec=1"}

// vp8 is the video codec carried, when a call has video: VP8, passed
// through as the browsers send it; a receiver's request for a key frame
// (PLI) goes back to the browser that sends the picture.
var vp8 = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
	RTCPFeedback: []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}}}

// Engine is a station's media: one UDP socket for every leg of every
// call.
type Engine struct {
	log       *slog.Logger
	conn      *pathConn
	mux       *ice.UDPMuxDefault
	api       *webrtc.API    // the trunks'
	legAPI    *webrtc.API    // the browsers' legs: given up sooner
	advertise netip.AddrPort // the address the other stations reach this one at, if not the socket's

	refused atomic.Uint64 // peers refused for another certificate than the signed one
	offers  atomic.Uint64 // browsers' offers refused
	dropped atomic.Uint64 // packets dropped over the bounds, every call
	onLeft  atomic.Pointer[func(call, who string)]

	mu     sync.Mutex
	calls  map[string]*Call
	ended  []string // ids of closed calls, oldest first, at most KeepClosed
	closed bool
}

// Options configure an engine.
type Options struct {
	Log *slog.Logger
	// Advertise is the address the other stations reach this one's media
	// at, when that is not the socket's (a static NAT, a port forwarded):
	// the descriptions in the signed entries name it instead of the
	// socket's addresses. The console's browsers are given the socket's.
	Advertise string
	// Relays carry the media when a direct path is down (paths.go); nil
	// for none. SetRelays sets them later.
	Relays Relays
}

// Listen opens the engine's UDP socket on addr (host:port; port 0 for
// any). The candidates it offers are that address, or every interface's
// for an unspecified host.
func Listen(addr string, o Options) (*Engine, error) {
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("media address %q: %w", addr, err)
	}
	var adv netip.AddrPort
	if o.Advertise != "" {
		if adv, err = netip.ParseAddrPort(o.Advertise); err != nil || adv.Port() == 0 || adv.Addr().IsUnspecified() {
			return nil, fmt.Errorf("media advertise address %q is not IP:PORT with a port and a specific IP", o.Advertise)
		}
		adv = unmap(adv)
	}
	udp, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	conn := newPathConn(udp)
	if o.Relays != nil {
		conn.relays.Store(&o.Relays)
	}
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn, Logger: lf.NewLogger("mux")})
	var se webrtc.SettingEngine
	se.LoggerFactory = lf
	se.SetICEUDPMux(mux)
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetReceiveMTU(MaxPacket + 100)
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: vp8, PayloadType: 96}, webrtc.RTPCodecTypeVideo); err != nil {
		conn.Close()
		return nil, err
	}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: opus, PayloadType: 111}, webrtc.RTPCodecTypeAudio); err != nil {
		conn.Close()
		return nil, err
	}
	// A browser on the console's network that goes away without closing
	// (a tab killed, a laptop shut) is given up sooner than a trunk: its
	// participant leaves the call's record within LegGone.
	legSE := se
	legSE.SetICETimeouts(legDisconnected, LegGone-legDisconnected, time.Second)
	e := &Engine{log: log, conn: conn, mux: mux, calls: map[string]*Call{}, advertise: adv,
		api:    webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)),
		legAPI: webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(legSE))}
	return e, nil
}

// Addr is the engine's UDP address.
func (e *Engine) Addr() net.Addr { return e.conn.LocalAddr() }

// SetRelays gives the engine the station's relays (nil: none).
func (e *Engine) SetRelays(r Relays) {
	if r == nil {
		e.conn.relays.Store(nil)
		return
	}
	e.conn.relays.Store(&r)
}

// Refusals counts the peers refused for presenting a DTLS certificate
// other than the one their signed entry names.
func (e *Engine) Refusals() uint64 { return e.refused.Load() }

// OffersRefused counts the browsers' offers refused (not SDP, no Opus,
// too long, video the charter forbids).
func (e *Engine) OffersRefused() uint64 { return e.offers.Load() }

// Drops counts the packets dropped over the bounds, in every call.
func (e *Engine) Drops() uint64 { return e.dropped.Load() }

// Close ends every call's media and closes the socket.
func (e *Engine) Close() error {
	e.mu.Lock()
	e.closed = true
	calls := make([]*Call, 0, len(e.calls))
	for _, c := range e.calls {
		calls = append(calls, c)
	}
	e.mu.Unlock()
	for _, c := range calls {
		c.close(Closed, "the station's media stopped")
	}
	return e.mux.Close()
}

// Call is one call's media at this station: its trunk to the other
// station and, once a browser attached, its console leg.
type Call struct {
	e      *Engine
	pc     *webrtc.PeerConnection
	outs   [Seats]*webrtc.TrackLocalStaticRTP // towards the other station, one per seat
	vouts  [Seats]*webrtc.TrackLocalStaticRTP // the same for video, when the call has video
	video  bool
	dtls   *webrtc.DTLSTransport
	caller bool   // this station made the offer
	peer   string // the other station's name

	fromPeerN, toPeer, dropped atomic.Uint64
	videoFromPeer, videoToPeer atomic.Uint64
	capKbps                    atomic.Int64              // the charter's cap on each stream, kbit/s; 0: none
	noVideo                    atomic.Bool               // the charter forbids video
	rec                        atomic.Pointer[recording] // what this side sends is recorded here, if set
	lastFromPeer, maxGap       atomic.Int64              // Unix ns of the last packet from the other station; the longest wait between two

	mu     sync.Mutex
	id     string // "" until bound
	want   string // the peer's certificate fingerprint as its signed entry names it; "" until known
	state  string
	reason string
	legs   map[string]*leg // the participants' browsers here, by who
	done   bool            // closed: its last state is kept for the views
	// dtlsFailed: the DTLS handshake failed, and checkDTLS tells why.
	dtlsFailed bool
	// keyframes: how to ask each source of a picture for a key frame.
	keyframes map[string]func()
	// remote: the other station's description, once its paths are
	// registered (pathConn.add); "" before. local: this station's.
	remote, local string
}

// newCall makes a trunk: a peer connection with an Opus track each way
// per seat.
func (e *Engine) newCall(caller bool, peer string, video bool) (*Call, error) {
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	pc, err := e.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	c := &Call{e: e, pc: pc, caller: caller, peer: peer, state: Offered, legs: map[string]*leg{}, video: video,
		keyframes: map[string]func(){}}
	for i := range c.outs {
		if c.outs[i], err = webrtc.NewTrackLocalStaticRTP(opus, fmt.Sprintf("seat-%d", i), "hotline"); err != nil {
			pc.Close()
			return nil, err
		}
		if video {
			if c.vouts[i], err = webrtc.NewTrackLocalStaticRTP(vp8, fmt.Sprintf("seat-%d-video", i), "hotline"); err != nil {
				pc.Close()
				return nil, err
			}
		}
	}
	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if t.Kind() == webrtc.RTPCodecTypeVideo {
			go c.fromPeerVideo(t)
			return
		}
		go c.fromPeer(t)
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		c.mu.Lock()
		dtlsFailed := c.dtlsFailed
		c.mu.Unlock()
		if s == webrtc.PeerConnectionStateFailed && !dtlsFailed {
			c.setUnlessSettled(Failed, "the connection to the other station failed (no answer to ICE checks, or the DTLS handshake broke)")
		}
	})
	return c, nil
}

// addTrack adds the trunk's own tracks, one per seat, and watches its
// DTLS transport.
func (c *Call) addTrack() error {
	for i, out := range c.outs {
		sender, err := c.pc.AddTrack(out)
		if err != nil {
			return fmt.Errorf("media: %w", err)
		}
		go drainRTCP(sender, nil)
		if i == 0 {
			c.dtls = sender.Transport()
			c.dtls.OnStateChange(c.dtlsState)
		}
	}
	for i, out := range c.vouts {
		if out == nil {
			continue
		}
		sender, err := c.pc.AddTrack(out)
		if err != nil {
			return fmt.Errorf("media: %w", err)
		}
		seat := i
		// The other station asks for a key frame of this seat's picture:
		// the browser on the seat makes one.
		go drainRTCP(sender, func() { c.seatKeyframe(seat) })
	}
	return nil
}

// drainRTCP reads a sender's RTCP until it ends; a request for a key
// frame (PLI, FIR) calls keyframe, if set.
func drainRTCP(s *webrtc.RTPSender, keyframe func()) {
	buf := make([]byte, 1500)
	for {
		n, _, err := s.Read(buf)
		if err != nil {
			return
		}
		if keyframe == nil {
			continue
		}
		ps, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		for _, p := range ps {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				keyframe()
			}
		}
	}
}

// dtlsState checks, once more after pion did, that the certificate the
// other station presented is the one its signed entry names, and tells
// a refusal apart from other failures. pion calls it holding the
// transport's lock, so the check runs apart.
func (c *Call) dtlsState(s webrtc.DTLSTransportState) {
	switch s {
	case webrtc.DTLSTransportStateConnected:
		go c.checkDTLS(s)
	case webrtc.DTLSTransportStateFailed:
		// Whatever else fails or closes now, checkDTLS says why.
		c.mu.Lock()
		c.dtlsFailed = true
		c.mu.Unlock()
		go c.checkDTLS(s)
	case webrtc.DTLSTransportStateClosed:
		// The other station closed its side (or this one did: then the
		// call is closed already and this changes nothing).
		go func() {
			c.mu.Lock()
			failed := c.dtlsFailed
			c.mu.Unlock()
			if !failed {
				c.close(Closed, "the other station closed the media connection")
			}
		}()
	}
}

func (c *Call) checkDTLS(s webrtc.DTLSTransportState) {
	c.mu.Lock()
	want := c.want
	c.mu.Unlock()
	got := Fingerprint(c.dtls.GetRemoteCertificate())
	switch s {
	case webrtc.DTLSTransportStateConnected:
		if got == "" || got != want {
			c.refuse(got, want)
			return
		}
		c.setUnlessSettled(Connected, "")
	case webrtc.DTLSTransportStateFailed:
		if got != "" && got != want {
			c.refuse(got, want)
			return
		}
		c.setUnlessSettled(Failed, "the DTLS handshake with the other station failed")
	}
}

func (c *Call) refuse(got, want string) {
	c.e.refused.Add(1)
	reason := fmt.Sprintf("refused the other station's media: its DTLS certificate has the fingerprint %s, but its signed call entry names %s", orNone(got), want)
	c.mu.Lock()
	id := c.id
	c.mu.Unlock()
	c.e.log.Warn("call media refused", "call", id, "reason", reason)
	go c.close(Refused, reason)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func (c *Call) setUnlessSettled(state, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done || c.state == Refused || c.state == Closed || c.state == Failed && state != Connected {
		return
	}
	c.state, c.reason = state, reason
}

// Recorder takes the packets this station's side sends in a call, as
// they go to the other station.
type Recorder interface {
	// WriteRTP records a packet of the participant on seat.
	WriteRTP(seat int, p *rtp.Packet) error
}

type recording struct{ r Recorder }

// Record has the packets this station's side sends in call id go to r
// too, from now on; nil stops.
func (e *Engine) Record(id string, r Recorder) error {
	c := e.call(id)
	if c == nil {
		return fmt.Errorf("%w: %s", ErrNoMedia, id)
	}
	if r == nil {
		c.rec.Store(nil)
		return nil
	}
	c.rec.Store(&recording{r})
	return nil
}

// gap notes a packet from the other station, and the longest wait
// between two.
func (c *Call) gap() {
	now := time.Now().UnixNano()
	if last := c.lastFromPeer.Swap(now); last != 0 && now-last > c.maxGap.Load() {
		c.maxGap.Store(now - last)
	}
}

// paths registers the other station's description with the paths, once.
func (c *Call) paths(remote string) {
	c.mu.Lock()
	if c.remote != "" || c.done {
		c.mu.Unlock()
		return
	}
	c.remote = remote
	c.e.conn.add(c.peer, c.local, remote) // under c.mu, so that close removes what was added
	c.mu.Unlock()
}

func (c *Call) drop() {
	c.dropped.Add(1)
	c.e.dropped.Add(1)
}

// describe sets the local description and returns it once its host
// candidates are in.
func describe(ctx context.Context, pc *webrtc.PeerConnection, d webrtc.SessionDescription) (string, error) {
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(d); err != nil {
		return "", fmt.Errorf("media: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, GatherTimeout)
	defer cancel()
	select {
	case <-done:
	case <-ctx.Done():
		return "", fmt.Errorf("media: gathering this station's candidates: %w", ctx.Err())
	}
	return pc.LocalDescription().SDP, nil
}

// Offer makes this station's leg of a call it places: the offer for the
// signed request. The call is known by no id until Bind.
func (e *Engine) Offer(ctx context.Context, peer string, video bool) (*Call, string, error) {
	c, err := e.newCall(true, peer, video)
	if err != nil {
		return nil, "", err
	}
	if err := c.addTrack(); err != nil {
		c.pc.Close()
		return nil, "", err
	}
	o, err := c.pc.CreateOffer(nil)
	if err == nil {
		var sdp string
		if sdp, err = describe(ctx, c.pc, o); err == nil {
			c.mu.Lock()
			c.local = sdp
			c.mu.Unlock()
			return c, e.advertised(sdp), nil
		}
	}
	c.pc.Close()
	return nil, "", err
}

// Bind gives an offered call its id, once the request is written.
func (c *Call) Bind(id string) error {
	e := c.e
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		go c.close(Closed, "the station's media stopped")
		return ErrClosed
	}
	if _, ok := e.calls[id]; ok {
		return fmt.Errorf("%w: call %s has media already", ErrState, id)
	}
	c.mu.Lock()
	c.id = id
	c.mu.Unlock()
	e.calls[id] = c
	return nil
}

// Drop ends an offer that was never bound (its request was not written).
func (c *Call) Drop() { c.close(Closed, "the request was not written") }

// Answer makes this station's leg of the other station's call id from the
// offer in its signed request, and returns the answer for the signed
// answer entry. The media connects once the other station has the answer.
func (e *Engine) Answer(ctx context.Context, id, peer, offer string, video bool) (string, error) {
	want, err := checkPeer(offer)
	if err != nil {
		return "", err
	}
	e.mu.Lock()
	_, exists := e.calls[id]
	e.mu.Unlock()
	if exists {
		return "", fmt.Errorf("%w: call %s has media here already", ErrState, id)
	}
	c, err := e.newCall(false, peer, video)
	if err != nil {
		return "", err
	}
	c.want = want
	fail := func(err error) (string, error) {
		c.pc.Close()
		return "", err
	}
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return fail(fmt.Errorf("%w: the other station's offer: %v", ErrSDP, err))
	}
	if err := c.addTrack(); err != nil {
		return fail(err)
	}
	a, err := c.pc.CreateAnswer(nil)
	if err != nil {
		return fail(fmt.Errorf("%w: answering the other station's offer: %v", ErrSDP, err))
	}
	sdp, err := describe(ctx, c.pc, a)
	if err != nil {
		return fail(err)
	}
	if err := audioOf(sdp); err != nil {
		return fail(fmt.Errorf("%w: the other station's offer: %v", ErrSDP, err))
	}
	c.state, c.local = Connecting, sdp
	if err := c.Bind(id); err != nil {
		return fail(err)
	}
	c.paths(offer)
	return e.advertised(sdp), nil
}

// Accept takes the answer to this station's call id from the other
// station's signed answer entry. Its DTLS certificate must be the one the
// answer names.
func (e *Engine) Accept(id, answer string, video bool) error {
	c := e.call(id)
	if c == nil {
		return fmt.Errorf("%w: %s", ErrNoMedia, id)
	}
	want, err := checkPeer(answer)
	if err != nil {
		c.close(Failed, err.Error())
		return err
	}
	c.mu.Lock()
	if !c.caller || c.state != Offered {
		st := c.state
		c.mu.Unlock()
		return fmt.Errorf("%w: call %s's media is %s, not waiting for an answer", ErrState, id, st)
	}
	c.want, c.state = want, Connecting
	c.video = c.video && video // the other party may have declined the picture
	c.mu.Unlock()
	c.paths(answer)
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		err = fmt.Errorf("%w: the other station's answer: %v", ErrSDP, err)
		c.close(Failed, err.Error())
		return err
	}
	return nil
}

// Fail records that a call's media could not be made here, and why.
func (e *Engine) Fail(id, reason string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.calls[id]; ok || e.closed {
		return
	}
	e.calls[id] = &Call{e: e, id: id, state: Failed, reason: reason, done: true}
	e.ended = append(e.ended, id)
	e.prune()
}

// Attach connects a participant's browser to call id: it takes the
// browser's offer and returns this station's answer. The browser's voice
// goes to the other station on the participant's seat, and to the other
// participants here; the browser is sent the other side's voices and its
// own side's others, one stream each, as many as its offer has audio
// sections for. who names the participant: the same person attaching
// again (a page reloaded) replaces their browser and keeps their seat;
// a participant beyond Seats is refused.
func (e *Engine) Attach(ctx context.Context, id, who, offer string) (string, error) {
	a, err := e.attach(ctx, id, who, offer)
	if errors.Is(err, ErrSDP) {
		e.offers.Add(1)
	}
	return a, err
}

func (e *Engine) attach(ctx context.Context, id, who, offer string) (string, error) {
	if offer == "" {
		return "", fmt.Errorf("%w: the browser's offer is empty", ErrSDP)
	}
	if len(offer) > MaxBrowserSDP {
		return "", fmt.Errorf("%w: the browser's offer has %d bytes, limit %d", ErrSDP, len(offer), MaxBrowserSDP)
	}
	if _, err := call.BrowserFingerprint(offer, MaxBrowserSDP); err != nil {
		return "", fmt.Errorf("%w: the browser's offer: %v", ErrSDP, err)
	}
	if err := audioOf(offer); err != nil {
		return "", fmt.Errorf("%w: the browser's offer: %v", ErrSDP, err)
	}
	if who == "" {
		who = "console"
	}
	c := e.call(id)
	if c == nil {
		return "", fmt.Errorf("%w: %s", ErrNoMedia, id)
	}
	if c.noVideo.Load() && sendsVideo(offer) {
		return "", fmt.Errorf("%w: the browser's offer sends video, which the channel's charter forbids in calls (call-video no)", ErrSDP)
	}
	seat, err := c.seatFor(who)
	if err != nil {
		return "", err
	}
	pc, err := e.legAPI.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return "", fmt.Errorf("media: %w", err)
	}
	l := &leg{pc: pc, who: who, seat: seat, limit: rate.NewLimiter(PacketRate, PacketBurst), vlimit: rate.NewLimiter(VideoRate, 2*VideoRate)}
	l.state.Store(webrtc.PeerConnectionStateNew)
	fail := func(err error) (string, error) {
		pc.Close()
		return "", err
	}
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		l.state.Store(s)
		if s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateClosed {
			c.left(l)
		}
	})
	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if t.Kind() == webrtc.RTPCodecTypeVideo {
			go c.fromLegVideo(l, t)
			return
		}
		go c.fromLeg(l, t)
	})
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return fail(fmt.Errorf("%w: the browser's offer: %v", ErrSDP, err))
	}
	for i := range min(sections(offer, "audio"), LegStreams) {
		out, err := webrtc.NewTrackLocalStaticRTP(opus, fmt.Sprintf("voice-%d", i), "voices")
		if err != nil {
			return fail(err)
		}
		sender, err := pc.AddTrack(out)
		if err != nil {
			return fail(fmt.Errorf("%w: the browser's offer has no audio this station can send on: %v", ErrSDP, err))
		}
		go drainRTCP(sender, nil)
		l.audio.outs = append(l.audio.outs, out)
	}
	c.mu.Lock()
	video := c.video
	c.mu.Unlock()
	if video {
		for i := range min(sections(offer, "video"), LegStreams) {
			out, err := webrtc.NewTrackLocalStaticRTP(vp8, fmt.Sprintf("picture-%d", i), "pictures")
			if err != nil {
				return fail(err)
			}
			sender, err := pc.AddTrack(out)
			if err != nil {
				return fail(fmt.Errorf("%w: the browser's offer has no VP8 video this station can send on: %v", ErrSDP, err))
			}
			// The browser asks for a key frame of a picture: its sender
			// makes one.
			go drainRTCP(sender, func() { c.keyframe(l.video.sourceOf(out)) })
			l.video.outs = append(l.video.outs, out)
		}
	}
	a, err := pc.CreateAnswer(nil)
	if err != nil {
		return fail(fmt.Errorf("%w: answering the browser's offer: %v", ErrSDP, err))
	}
	sdp, err := describe(ctx, pc, a)
	if err != nil {
		return fail(err)
	}
	if err := audioOf(sdp); err != nil {
		return fail(fmt.Errorf("%w: the browser's offer: %v", ErrSDP, err))
	}
	c.mu.Lock()
	if c.state == Closed || c.state == Refused || c.state == Failed || c.done {
		st := c.state
		c.mu.Unlock()
		return fail(fmt.Errorf("%w: call %s's media is %s", ErrState, id, st))
	}
	old := c.legs[who]
	c.legs[who] = l
	c.mu.Unlock()
	if old != nil {
		old.pc.Close()
	}
	return withCap(sdp, c.capKbps.Load()), nil
}

// seatFor is the seat of a participant attaching: theirs if they are
// here already, else the lowest free one.
func (c *Call) seatFor(who string) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.state == Closed || c.state == Refused || c.state == Failed || c.done:
		return 0, fmt.Errorf("%w: call %s's media is %s", ErrState, c.id, c.state)
	case c.legs[who] != nil:
		return c.legs[who].seat, nil
	}
	taken := map[int]bool{}
	for _, l := range c.legs {
		if l.alive() {
			taken[l.seat] = true
		}
	}
	for i := range Seats {
		if !taken[i] {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%w: call %s has %d participants at this station, the most it carries", ErrState, c.id, Seats)
}

// left forgets a participant whose browser went away, and tells the
// engine's Left hook, unless the call itself closed.
func (c *Call) left(l *leg) {
	c.mu.Lock()
	gone := c.legs[l.who] == l && !c.done
	if gone {
		delete(c.legs, l.who)
	}
	id := c.id
	c.mu.Unlock()
	if f := c.e.onLeft.Load(); gone && f != nil {
		(*f)(id, l.who)
	}
}

// OnLeft sets what the engine calls when a participant's browser goes
// away during a call (not when the call ends).
func (e *Engine) OnLeft(f func(call, who string)) { e.onLeft.Store(&f) }

// sections counts the sections of a kind (audio, video) of a
// description.
func sections(sdp, kind string) int {
	n := 0
	for _, l := range strings.Split(sdp, "\r\n") {
		if strings.HasPrefix(l, "m="+kind+" ") {
			n++
		}
	}
	return n
}

// End ends call id's media here, with the reason ("" when the call
// ended): the trunk and the console leg close.
func (e *Engine) End(id, reason string) {
	if c := e.call(id); c != nil {
		c.close(Closed, reason)
	}
}

// Live lists the calls whose media is not closed.
func (e *Engine) Live() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for id, c := range e.calls {
		c.mu.Lock()
		if !c.done {
			out = append(out, id)
		}
		c.mu.Unlock()
	}
	return out
}

func (e *Engine) call(id string) *Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls[id]
}

// close closes a call's connections and keeps its last state.
func (c *Call) close(state, reason string) {
	c.mu.Lock()
	if c.done {
		c.mu.Unlock()
		return
	}
	c.done = true
	if state != Closed || c.state != Failed && c.state != Refused {
		c.state, c.reason = state, reason // a refusal or a failure outlives the call's end
	}
	legs := make([]*leg, 0, len(c.legs))
	for _, l := range c.legs {
		legs = append(legs, l)
	}
	id, remote, local := c.id, c.remote, c.local
	c.mu.Unlock()
	for _, l := range legs {
		l.pc.Close()
	}
	if c.pc != nil {
		c.pc.Close()
	}
	if remote != "" {
		c.e.conn.remove(c.peer, local, remote)
	}
	if id == "" {
		return
	}
	e := c.e
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.calls[id] == c {
		e.ended = append(e.ended, id)
		e.prune()
	}
}

// prune forgets the oldest closed calls beyond KeepClosed; e.mu is held.
func (e *Engine) prune() {
	for len(e.ended) > KeepClosed {
		delete(e.calls, e.ended[0])
		e.ended = e.ended[1:]
	}
}

// View is a call's media as this station sees it.
type View struct {
	State   string // Offered, Connecting, Connected, Refused, Failed, Closed
	Reason  string // why it was refused, failed or closed
	Console string // the state of the browsers' connections: connected if one is, else the last one's; "" when none attached
	// Packets forwarded: from the other station to the console, from the
	// console to the other station; dropped over the bounds.
	FromPeer, ToPeer, Dropped uint64
	// Peer is the fingerprint of the other station's DTLS certificate,
	// as its signed entry names it.
	Peer string
	// Path is what the media to the other station goes over now
	// (PathDirect, PathRelay; "" once closed), Via the relay's name,
	// Failovers how often the path to that station went to a relay.
	Path, Via string
	Failovers uint64
	// MaxGap is the longest wait between two packets from the other
	// station (0 before the second).
	MaxGap time.Duration
	// Participants are the browsers attached here, by seat.
	Participants []Participant
	// Video is whether the call carries video; VideoFromPeer and
	// VideoToPeer count its packets forwarded.
	Video                      bool
	VideoFromPeer, VideoToPeer uint64
}

// View returns call id's media, false if the engine holds none.
func (e *Engine) View(id string) (View, bool) {
	c := e.call(id)
	if c == nil {
		return View{}, false
	}
	c.mu.Lock()
	v := View{State: c.state, Reason: c.reason, Peer: c.want}
	for _, l := range c.legs {
		s, _ := l.state.Load().(webrtc.PeerConnectionState)
		v.Participants = append(v.Participants, Participant{Who: l.who, Seat: l.seat, State: s.String()})
		if v.Console != webrtc.PeerConnectionStateConnected.String() {
			v.Console = s.String()
		}
	}
	slices.SortFunc(v.Participants, func(a, b Participant) int { return a.Seat - b.Seat })
	live := !c.done && c.remote != ""
	v.Video = c.video
	c.mu.Unlock()
	if live {
		v.Path, v.Via, v.Failovers = e.conn.path(c.peer)
	}
	v.MaxGap = time.Duration(c.maxGap.Load())
	v.FromPeer, v.ToPeer, v.Dropped = c.fromPeerN.Load(), c.toPeer.Load(), c.dropped.Load()
	v.VideoFromPeer, v.VideoToPeer = c.videoFromPeer.Load(), c.videoToPeer.Load()
	return v, true
}

// advertised rewrites a description for the other station to name the
// advertise address as its one host candidate, when there is one.
func (e *Engine) advertised(sdp string) string {
	if !e.advertise.IsValid() {
		return sdp
	}
	var out []string
	done := false
	for _, l := range strings.Split(sdp, "\r\n") {
		c, ok := strings.CutPrefix(l, "a=candidate:")
		if !ok {
			out = append(out, l)
			continue
		}
		f := strings.Fields(c)
		if done || len(f) < 8 || !strings.EqualFold(f[2], "udp") {
			continue
		}
		f[4], f[5] = e.advertise.Addr().String(), strconv.Itoa(int(e.advertise.Port()))
		out = append(out, "a=candidate:"+strings.Join(f, " "))
		done = true
	}
	return strings.Join(out, "\r\n")
}

// Fingerprint is the SHA-256 fingerprint of a DER certificate as SDP
// writes it (hex pairs in upper case joined by colons), "" for none.
func Fingerprint(der []byte) string {
	if len(der) == 0 {
		return ""
	}
	sum := sha256.Sum256(der)
	var b strings.Builder
	for i, x := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", x)
	}
	return b.String()
}

// checkPeer checks the other station's description from its signed
// entry: its text and one SHA-256 fingerprint (call.SDPFingerprint), Opus
// audio, and host candidates only. It returns the fingerprint.
func checkPeer(sdp string) (string, error) {
	fp, err := call.SDPFingerprint(sdp)
	if err != nil {
		return "", fmt.Errorf("%w: the other station's description: %v", ErrSDP, err)
	}
	if err := audioOf(sdp); err != nil {
		return "", fmt.Errorf("%w: the other station's description: %v", ErrSDP, err)
	}
	for _, l := range strings.Split(sdp, "\r\n") {
		if c, ok := strings.CutPrefix(l, "a=candidate:"); ok {
			f := strings.Fields(c)
			if len(f) < 8 || f[6] != "typ" || f[7] != "host" {
				return "", fmt.Errorf("%w: the other station's description has a candidate other than a host: %q", ErrSDP, l)
			}
		}
	}
	return fp, nil
}

// audioOf checks that a description has an audio section that is not
// rejected and carries Opus.
func audioOf(sdp string) error {
	audio, opusSeen := false, false
	in := false
	for _, l := range strings.Split(sdp, "\r\n") {
		if m, ok := strings.CutPrefix(l, "m="); ok {
			f := strings.Fields(m)
			in = len(f) >= 2 && f[0] == "audio" && f[1] != "0"
			audio = audio || in
			continue
		}
		if in && strings.HasPrefix(l, "a=rtpmap:") && strings.Contains(strings.ToLower(l), " opus/48000") {
			opusSeen = true
		}
	}
	switch {
	case !audio:
		return errors.New("no audio section is offered (or it was rejected)")
	case !opusSeen:
		return errors.New("no Opus audio: this station carries Opus audio only")
	}
	return nil
}
