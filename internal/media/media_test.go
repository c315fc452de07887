package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"hotline/internal/media/mediatest"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func listen(t testing.TB) *Engine {
	t.Helper()
	e, err := Listen("127.0.0.1:0", Options{Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func waitView(t testing.TB, e *Engine, id string, what string, ok func(View) bool) View {
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
func trunk(t testing.TB, a, b *Engine, id string) (offer, answer string) {
	t.Helper()
	ctx := context.Background()
	c, offer, err := a.Offer(ctx, "CHN", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Bind(id); err != nil {
		t.Fatal(err)
	}
	answer, err = b.Answer(ctx, id, "USA", offer, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Accept(id, answer, false); err != nil {
		t.Fatal(err)
	}
	return offer, answer
}

func attach(t testing.TB, e *Engine, id string, who ...string) *mediatest.Browser {
	t.Helper()
	b := mediatest.New(t)
	w := "officer"
	if len(who) > 0 {
		w = who[0]
	}
	ans, err := e.Attach(context.Background(), id, w, b.Offer())
	if err != nil {
		t.Fatal(err)
	}
	b.Answered(ans)
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
	mediatest.Talk(t, ub, cb)
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
	for i, h := range ub.Payloads() {
		if !strings.HasPrefix(h, "chn-voice-") {
			t.Errorf("USA's browser heard %q (packet %d), which CHN's browser never said", h, i)
		}
	}

	// Hanging up closes both legs; nothing more is forwarded.
	usa.End(id, "")
	if v, _ := usa.View(id); v.State != Closed {
		t.Fatalf("after End: %+v", v)
	}
	v := waitView(t, chn, id, "the trunk to close once USA hung up", func(v View) bool { return v.State == Closed })
	if !strings.Contains(v.Reason, "other station closed") {
		t.Errorf("CHN's media closed: %q", v.Reason)
	}
	heard := ub.Heard("")
	cb.Speak("after the end")
	time.Sleep(200 * time.Millisecond)
	if ub.Heard("") != heard {
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
	c, offer, err := usa.Offer(ctx, "CHN", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Bind(id); err != nil {
		t.Fatal(err)
	}
	// CHN's genuine answer, as it would be signed; then CHN steps away.
	answer, err := chn.Answer(ctx, id, "USA", offer, false)
	if err != nil {
		t.Fatal(err)
	}
	chn.End(id, "")
	signed, _ := checkPeer(answer)
	ufrag, pwd := credentials(t, answer)

	// The impostor answers USA's offer with CHN's ICE credentials and a
	// certificate of its own.
	rogue, err := mediatest.API(t, func(se *webrtc.SettingEngine) { se.SetICECredentials(ufrag, pwd) }).NewPeerConnection(webrtc.Configuration{})
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
	if err := usa.Accept(id, answer, false); err != nil {
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
	if n := ub.Heard(""); n != 0 || v.FromPeer != 0 {
		t.Errorf("the console heard %d packets from the impostor (forwarded %d)", n, v.FromPeer)
	}
	// A refused call takes no console.
	if _, err := usa.Attach(ctx, id, "officer", mediatest.New(t).Offer()); !errors.Is(err, ErrState) {
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
	c, offer, err := usa.Offer(ctx, "CHN", false)
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
		if _, err := chn.Answer(ctx, "usa-chn/USA/"+tc.name, "USA", tc.sdp, false); !errors.Is(err, ErrSDP) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: answer: %v, want %q", tc.name, err, tc.want)
		}
		if _, ok := chn.View("usa-chn/USA/" + tc.name); ok {
			t.Errorf("%s: a refused offer left media behind", tc.name)
		}
	}
	if _, err := usa.Attach(ctx, "usa-chn/USA/404", "officer", mediatest.New(t).Offer()); !errors.Is(err, ErrNoMedia) {
		t.Errorf("attach to an unknown call: %v", err)
	}
	if _, err := usa.Attach(ctx, id, "officer", mediatest.New(t).Offer()+strings.Repeat("a=x:y\r\n", MaxBrowserSDP/7)); !errors.Is(err, ErrSDP) || !strings.Contains(err.Error(), "limit") {
		t.Errorf("an oversized browser offer: %v", err)
	}
	if _, err := usa.Attach(ctx, id, "officer", "v=0\r\nbad\r\n"); !errors.Is(err, ErrSDP) {
		t.Errorf("attach with a bad offer: %v", err)
	}
	if _, err := usa.Attach(ctx, id, "officer", videoOnly); !errors.Is(err, ErrSDP) || !strings.Contains(err.Error(), "audio") {
		t.Errorf("attach with a video-only offer: %v", err)
	}
	if err := usa.Accept("usa-chn/USA/404", offer, false); !errors.Is(err, ErrNoMedia) {
		t.Errorf("accept for an unknown call: %v", err)
	}
	answer, err := chn.Answer(ctx, id, "USA", offer, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chn.Answer(ctx, id, "USA", offer, false); !errors.Is(err, ErrState) {
		t.Errorf("second answer: %v", err)
	}
	if err := chn.Accept(id, answer, false); !errors.Is(err, ErrState) {
		t.Errorf("the answerer accepting: %v", err)
	}
	if err := usa.Accept(id, answer, false); err != nil {
		t.Fatal(err)
	}
	if err := usa.Accept(id, answer, false); !errors.Is(err, ErrState) {
		t.Errorf("second accept: %v", err)
	}
	first := attach(t, usa, id)
	_ = first
	waitView(t, usa, id, "the console connected", func(v View) bool { return v.Console == "connected" })
	// Three more participants take the other seats; a fifth is refused.
	for i := range Seats - 1 {
		attach(t, usa, id, fmt.Sprintf("interpreter %d", i+1))
	}
	if _, err := usa.Attach(ctx, id, "one too many", mediatest.New(t).Offer()); !errors.Is(err, ErrState) || !strings.Contains(err.Error(), "the most it carries") {
		t.Errorf("a fifth participant: %v", err)
	}
	// None of it disturbed the call.
	waitView(t, usa, id, "the trunk connected", func(v View) bool { return v.State == Connected })
	cb := attach(t, chn, id)
	mediatest.Talk(t, first, cb)
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

// settled returns a call's media once its counts stop changing.
func settled(e *Engine, id string) View {
	var v View
	for last := ^uint64(0); ; last = v.ToPeer + v.Dropped + v.FromPeer {
		time.Sleep(200 * time.Millisecond)
		v, _ = e.View(id)
		if v.ToPeer+v.Dropped+v.FromPeer == last {
			return v
		}
	}
}

// TestBounds: a console that floods the call gets at most the burst and
// the rate through, the rest dropped and counted; a payload over
// MaxPacket is dropped and counted; and the call goes on carrying audio.
func TestBounds(t *testing.T) {
	usa, chn := listen(t), listen(t)
	const id = "usa-chn/USA/5"
	trunk(t, usa, chn, id)
	ub, cb := attach(t, usa, id), attach(t, chn, id)
	mediatest.Talk(t, ub, cb)
	before := settled(usa, id)

	ub.Speak(strings.Repeat("x", MaxPacket+50))
	ub.Speak("usa-voice-fits-" + strings.Repeat("y", 1000))
	waitView(t, usa, id, "the oversized packet dropped", func(v View) bool { return v.Dropped == 1 && v.ToPeer == before.ToPeer+1 })

	// A flood at about 1,500 packets a second, six times the rate, in
	// runs of 15 (short enough for the socket buffers on loopback).
	const flood = 3 * PacketBurst
	start := time.Now()
	for i := range flood {
		ub.Speak(fmt.Sprintf("flood-%d", i))
		if i%15 == 14 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	elapsed := time.Since(start)
	v := settled(usa, id)
	through, dropped := v.ToPeer-before.ToPeer-1, v.Dropped-1
	limit := uint64(PacketBurst + PacketRate*(elapsed.Seconds()+0.5))
	t.Logf("%d packets sent in %s: %d forwarded (limit %d), %d dropped", flood, elapsed, through, limit, dropped)
	if through+dropped < flood*9/10 {
		t.Fatalf("only %d of %d flood packets reached the station", through+dropped, flood)
	}
	if usa.Drops() != v.Dropped {
		t.Errorf("the engine counts %d drops, the call %d", usa.Drops(), v.Dropped)
	}
	if through > limit || dropped == 0 {
		t.Errorf("the flood was not bounded: %d forwarded, limit %d, %d dropped", through, limit, dropped)
	}
	// What USA forwarded, CHN's console heard, but for what CHN's own
	// bound on the leg from USA dropped.
	heardAll := func() bool {
		cv, _ := chn.View(id)
		return uint64(cb.Heard("flood-"))+cv.Dropped == through
	}
	for waitFor := time.Now().Add(5 * time.Second); !heardAll() && time.Now().Before(waitFor); {
		time.Sleep(50 * time.Millisecond)
	}
	if cv, _ := chn.View(id); !heardAll() {
		t.Errorf("CHN's console heard %d flood packets and CHN dropped %d; USA forwarded %d", cb.Heard("flood-"), cv.Dropped, through)
	}
	// The limiter refills: the call carries audio again.
	time.Sleep(time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; cb.Heard("after-flood-") < 10; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("after the flood CHN's console heard %d packets", cb.Heard("after-flood-"))
		}
		ub.Speak(fmt.Sprintf("after-flood-%d", i))
		time.Sleep(20 * time.Millisecond)
	}
}
