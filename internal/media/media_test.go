package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func listen(t *testing.T) *Engine {
	t.Helper()
	e, err := Listen("127.0.0.1:0", quietLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// browser is a WebRTC peer as a console's browser is: its own socket,
// an Opus track each way, an offer with its candidates in it.
type browser struct {
	t     *testing.T
	pc    *webrtc.PeerConnection
	out   *webrtc.TrackLocalStaticRTP
	mu    sync.Mutex
	heard []string // payloads received, in order
	seq   uint16
}

func newAPI(t *testing.T, tune func(*webrtc.SettingEngine)) *webrtc.API {
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
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: opus, PayloadType: 111}, webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se))
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	pc, err := newAPI(t, nil).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	b := &browser{t: t, pc: pc}
	if b.out, err = webrtc.NewTrackLocalStaticRTP(opus, "mic", "browser"); err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTrack(b.out); err != nil {
		t.Fatal(err)
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.heard = append(b.heard, string(p.Payload))
			b.mu.Unlock()
		}
	})
	return b
}

// offer returns the browser's offer, candidates in it.
func (b *browser) offer() string {
	b.t.Helper()
	o, err := b.pc.CreateOffer(nil)
	if err != nil {
		b.t.Fatal(err)
	}
	done := webrtc.GatheringCompletePromise(b.pc)
	if err := b.pc.SetLocalDescription(o); err != nil {
		b.t.Fatal(err)
	}
	<-done
	return b.pc.LocalDescription().SDP
}

func (b *browser) answered(sdp string) {
	b.t.Helper()
	if err := b.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		b.t.Fatal(err)
	}
}

// speak sends one Opus RTP packet whose payload is text (the forwarding
// never looks inside).
func (b *browser) speak(text string) {
	b.seq++
	p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: b.seq, Timestamp: uint32(b.seq) * 960, SSRC: 1},
		Payload: []byte(text)}
	if err := b.out.WriteRTP(p); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) heardWith(prefix string) int {
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

// talk has each browser speak every 20 ms until each has heard the
// other, or the deadline.
func talk(t *testing.T, a, b *browser, wantA, wantB string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		a.speak(fmt.Sprintf("usa-voice-%d", i))
		b.speak(fmt.Sprintf("chn-voice-%d", i))
		if a.heardWith(wantA) >= 10 && b.heardWith(wantB) >= 10 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("after 20s: USA's browser heard %d packets of %q, CHN's heard %d of %q", a.heardWith(wantA), wantA, b.heardWith(wantB), wantB)
}

func waitView(t *testing.T, e *Engine, id string, what string, ok func(View) bool) View {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, found := e.View(id)
		if found && ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("call %s: waited 30s for %s; media is %+v (found %v)", id, what, v, found)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// trunk places a call from a to b as the desk does: a's offer in the
// request, b's answer to it, a taking the answer.
func trunk(t *testing.T, a, b *Engine, id string) (offer, answer string) {
	t.Helper()
	ctx := context.Background()
	c, offer, err := a.Offer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Bind(id); err != nil {
		t.Fatal(err)
	}
	answer, err = b.Answer(ctx, id, offer)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Accept(id, answer); err != nil {
		t.Fatal(err)
	}
	return offer, answer
}

func attach(t *testing.T, e *Engine, id string) *browser {
	t.Helper()
	b := newBrowser(t)
	ans, err := e.Attach(context.Background(), id, b.offer())
	if err != nil {
		t.Fatal(err)
	}
	b.answered(ans)
	return b
}

// TestAudioBothWays: two stations' engines on loopback, each with a
// browser attached: what each browser says arrives at the other, byte for
// byte, through browser → station → station → browser; each station
// holds the other's certificate fingerprint from the signed description.
func TestAudioBothWays(t *testing.T) {
	usa, chn := listen(t), listen(t)
	const id = "usa-chn/USA/7"
	offer, answer := trunk(t, usa, chn, id)
	ub, cb := attach(t, usa, id), attach(t, chn, id)
	talk(t, ub, cb, "chn-voice-", "usa-voice-")
	for _, s := range []struct {
		e    *Engine
		peer string
	}{{usa, answer}, {chn, offer}} {
		v, _ := s.e.View(id)
		want, _ := checkPeer(s.peer)
		if v.State != Connected || v.Console != "connected" || v.Peer != want || v.FromPeer < 10 || v.ToPeer < 10 || v.Dropped != 0 {
			t.Errorf("media view %+v; want connected, console connected, peer %s, packets both ways", v, want)
		}
	}
	// The payloads arrive as sent: in order, nothing invented.
	ub.mu.Lock()
	for i, h := range ub.heard {
		if !strings.HasPrefix(h, "chn-voice-") {
			t.Errorf("USA's browser heard %q (packet %d), which CHN's browser never said", h, i)
		}
	}
	ub.mu.Unlock()

	// Hanging up closes both legs; nothing more is forwarded.
	usa.End(id)
	if v, _ := usa.View(id); v.State != Closed {
		t.Fatalf("after End: %+v", v)
	}
	v := waitView(t, chn, id, "the trunk to close once USA hung up", func(v View) bool { return v.State == Closed })
	if !strings.Contains(v.Reason, "other station closed") {
		t.Errorf("CHN's media closed: %q", v.Reason)
	}
	heard := ub.heardWith("")
	cb.speak("after the end")
	time.Sleep(200 * time.Millisecond)
	if ub.heardWith("") != heard {
		t.Error("a packet was forwarded after the call's media closed")
	}
}

// TestImpostorRefused: a peer that knows the signed descriptions (their
// ICE credentials and addresses) but presents its own DTLS certificate,
// not the one the signed answer names, is refused: no packet of its
// reaches the console, and the refusal names both fingerprints.
func TestImpostorRefused(t *testing.T) {
	usa, chn := listen(t), listen(t)
	ctx := context.Background()
	const id = "usa-chn/USA/9"
	c, offer, err := usa.Offer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Bind(id); err != nil {
		t.Fatal(err)
	}
	// CHN's genuine answer, as it would be signed; then CHN steps away.
	answer, err := chn.Answer(ctx, id, offer)
	if err != nil {
		t.Fatal(err)
	}
	chn.End(id)
	signed, _ := checkPeer(answer)
	ufrag, pwd := credentials(t, answer)

	// The impostor answers USA's offer with CHN's ICE credentials and a
	// certificate of its own.
	rogue, err := newAPI(t, func(se *webrtc.SettingEngine) { se.SetICECredentials(ufrag, pwd) }).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer rogue.Close()
	rout, _ := webrtc.NewTrackLocalStaticRTP(opus, "mic", "rogue")
	if _, err := rogue.AddTrack(rout); err != nil {
		t.Fatal(err)
	}
	if err := rogue.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		t.Fatal(err)
	}
	ra, err := rogue.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	done := webrtc.GatheringCompletePromise(rogue)
	if err := rogue.SetLocalDescription(ra); err != nil {
		t.Fatal(err)
	}
	<-done
	rogueFP, _ := checkPeer(rogue.LocalDescription().SDP)
	if rogueFP == signed {
		t.Fatal("the impostor has CHN's certificate")
	}
	ub := attach(t, usa, id)
	if err := usa.Accept(id, answer); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	go func() { // the impostor talks all along
		for i := uint16(0); ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			rout.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: i, SSRC: 9}, Payload: []byte("impostor")})
		}
	}()
	defer close(stop)
	v := waitView(t, usa, id, "the impostor refused", func(v View) bool { return v.State == Refused })
	if !strings.Contains(v.Reason, rogueFP) || !strings.Contains(v.Reason, signed) {
		t.Errorf("refusal %q does not name the impostor's fingerprint %s and the signed %s", v.Reason, rogueFP, signed)
	}
	if usa.Refusals() != 1 {
		t.Errorf("refusals counted: %d, want 1", usa.Refusals())
	}
	time.Sleep(500 * time.Millisecond)
	if n := ub.heardWith(""); n != 0 || v.FromPeer != 0 {
		t.Errorf("the console heard %d packets from the impostor (forwarded %d)", n, v.FromPeer)
	}
	// A refused call takes no console.
	if _, err := usa.Attach(ctx, id, newBrowser(t).offer()); !errors.Is(err, ErrState) {
		t.Errorf("attach to a refused call: %v", err)
	}
}

func credentials(t *testing.T, sdp string) (ufrag, pwd string) {
	for _, l := range strings.Split(sdp, "\r\n") {
		if v, ok := strings.CutPrefix(l, "a=ice-ufrag:"); ok {
			ufrag = v
		}
		if v, ok := strings.CutPrefix(l, "a=ice-pwd:"); ok {
			pwd = v
		}
	}
	if ufrag == "" || pwd == "" {
		t.Fatalf("no ICE credentials in %q", sdp)
	}
	return ufrag, pwd
}

// TestBadInput: descriptions that are not SDP, name no fingerprint or
// another hash, offer no Opus audio or a candidate other than a host; an
// unknown call; a second answer; a second console: each refused with a
// reason, nothing else disturbed.
func TestBadInput(t *testing.T) {
	usa, chn := listen(t), listen(t)
	ctx := context.Background()
	c, offer, err := usa.Offer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const id = "usa-chn/USA/3"
	if err := c.Bind(id); err != nil {
		t.Fatal(err)
	}
	if err := c.Bind(id); !errors.Is(err, ErrState) {
		t.Errorf("second bind: %v", err)
	}
	fp := func(s string) string {
		i := strings.Index(s, "a=fingerprint:")
		j := strings.Index(s[i:], "\r\n")
		return s[i : i+j+2]
	}
	videoOnly := newAPIPeer(t, webrtc.RTPCodecTypeVideo)
	for _, tc := range []struct{ name, sdp, want string }{
		{"empty", "", "empty"},
		{"not SDP", "hello", "v=0"},
		{"no fingerprint", strings.Replace(offer, fp(offer), "", 1), "no DTLS fingerprint"},
		{"sha-1", strings.Replace(offer, "a=fingerprint:sha-256", "a=fingerprint:sha-1", 1), "not sha-256"},
		{"bare LF", strings.ReplaceAll(offer, "\r\n", "\n"), "CRLF"},
		{"control byte", strings.Replace(offer, "s=-", "s=-\x01", 1), "0x01"},
		{"too long", offer + strings.Repeat("a=x:y\r\n", 2000), "limit"},
		{"no opus", strings.ReplaceAll(offer, "opus/48000", "PCMU/48000"), "no Opus"},
		{"relay candidate", strings.Replace(offer, "typ host", "typ relay", 1), "other than a host"},
		{"video only", videoOnly, "no audio section"},
	} {
		if _, err := chn.Answer(ctx, "usa-chn/USA/"+tc.name, tc.sdp); !errors.Is(err, ErrSDP) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: answer: %v, want %q", tc.name, err, tc.want)
		}
		if _, ok := chn.View("usa-chn/USA/" + tc.name); ok {
			t.Errorf("%s: a refused offer left media behind", tc.name)
		}
	}
	if _, err := usa.Attach(ctx, "usa-chn/USA/404", newBrowser(t).offer()); !errors.Is(err, ErrNoMedia) {
		t.Errorf("attach to an unknown call: %v", err)
	}
	if _, err := usa.Attach(ctx, id, "v=0\r\nbad\r\n"); !errors.Is(err, ErrSDP) {
		t.Errorf("attach with a bad offer: %v", err)
	}
	if _, err := usa.Attach(ctx, id, videoOnly); !errors.Is(err, ErrSDP) || !strings.Contains(err.Error(), "audio") {
		t.Errorf("attach with a video-only offer: %v", err)
	}
	if err := usa.Accept("usa-chn/USA/404", offer); !errors.Is(err, ErrNoMedia) {
		t.Errorf("accept for an unknown call: %v", err)
	}
	answer, err := chn.Answer(ctx, id, offer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chn.Answer(ctx, id, offer); !errors.Is(err, ErrState) {
		t.Errorf("second answer: %v", err)
	}
	if err := chn.Accept(id, answer); !errors.Is(err, ErrState) {
		t.Errorf("the answerer accepting: %v", err)
	}
	if err := usa.Accept(id, answer); err != nil {
		t.Fatal(err)
	}
	if err := usa.Accept(id, answer); !errors.Is(err, ErrState) {
		t.Errorf("second accept: %v", err)
	}
	first := attach(t, usa, id)
	_ = first
	waitView(t, usa, id, "the console connected", func(v View) bool { return v.Console == "connected" })
	if _, err := usa.Attach(ctx, id, newBrowser(t).offer()); !errors.Is(err, ErrState) || !strings.Contains(err.Error(), "attached") {
		t.Errorf("second console: %v", err)
	}
	// None of it disturbed the call.
	waitView(t, usa, id, "the trunk connected", func(v View) bool { return v.State == Connected })
	cb := attach(t, chn, id)
	talk(t, first, cb, "chn-voice-", "usa-voice-")
}

// newAPIPeer returns the offer of a peer with one track of kind only.
func newAPIPeer(t *testing.T, kind webrtc.RTPCodecType) string {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	if _, err := pc.AddTransceiverFromKind(kind); err != nil {
		t.Fatal(err)
	}
	o, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(o); err != nil {
		t.Fatal(err)
	}
	<-done
	return pc.LocalDescription().SDP
}
