package station

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"hotline/internal/badrequest"
	"hotline/internal/media/mediatest"
	"hotline/internal/ops"
	"hotline/internal/protocol"
)

// TestCallCharterCaps: a channel for a narrow link, whose charter forbids
// video in calls and caps each stream at 24 kbit/s. A video call, an
// answer with video, and a browser's offer that sends video are each
// refused, naming the charter; the station tells each browser the cap
// (b=AS) and drops what goes over it, counted, while speech under it
// passes whole. A cap out of bounds is refused at the proposal.
func TestCallCharterCaps(t *testing.T) {
	ctx := context.Background()
	usa, chn := benchPair(t)
	const ch = "narrow"
	if _, err := usa.Propose(ctx, ops.ProposeRequest{Peer: "CHN", Channel: "too-narrow", Level: "unit", CallBitrate: 3}); err == nil || !strings.Contains(err.Error(), "not within 6 to 10000") {
		t.Errorf("a cap of 3 kbit/s: %v", err)
	}
	notes, cancel := chn.Subscribe()
	defer cancel()
	if _, err := usa.Propose(ctx, ops.ProposeRequest{Peer: "CHN", Channel: ch, Level: "unit", NoCallVideo: true, CallBitrate: 24}); err != nil {
		t.Fatal(err)
	}
	waitNote(t, notes, func(n protocol.Notify) bool { return n.What == "channel" && n.Channel == ch })
	an, cancelA := usa.Subscribe()
	defer cancelA()
	if _, err := chn.Accept(ctx, ch); err != nil {
		t.Fatal(err)
	}
	waitNote(t, an, func(n protocol.Notify) bool { return n.What == "channel" && n.Channel == ch })
	cs, err := chn.Channels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.ID == ch && (!c.NoCallVideo || c.CallBitrate != 24) {
			t.Fatalf("CHN's view of the channel: %+v", c)
		}
	}

	if _, err := usa.StartCall(ctx, ops.StartCallRequest{Channel: ch, As: "Lt. Ames", Video: true}); !badrequest.Is(err) || !strings.Contains(err.Error(), "forbids video") {
		t.Errorf("a video call: %v", err)
	}
	c, err := usa.StartCall(ctx, ops.StartCallRequest{Channel: ch, As: "Lt. Ames"})
	if err != nil {
		t.Fatal(err)
	}
	waitCall(t, chn, ch, c.ID, "ringing", func(v ops.CallView) bool { return v.State == "ringing" })
	if _, err := chn.AnswerCall(ctx, ops.CallActRequest{ID: c.ID, As: "Lt. Wu", Video: true}); !badrequest.Is(err) || !strings.Contains(err.Error(), "forbids video") {
		t.Errorf("an answer with video: %v", err)
	}
	if _, err := chn.AnswerCall(ctx, ops.CallActRequest{ID: c.ID, As: "Lt. Wu"}); err != nil {
		t.Fatal(err)
	}
	if _, err := usa.CallMedia(ctx, ops.CallMediaRequest{ID: c.ID, SDP: mediatest.NewVideo(t, 2).Offer(), As: "Lt. Ames"}); !badrequest.Is(err) || !strings.Contains(err.Error(), "sends video") {
		t.Errorf("a browser's offer with video: %v", err)
	}
	if m := scrape(t, usa); m["hotline_call_media_offers_refused_total"] != 1 {
		t.Errorf("offers refused, counted: %v", m["hotline_call_media_offers_refused_total"])
	}
	attach := func(st *Station, who string) *mediatest.Browser {
		b := mediatest.New(t)
		a, err := st.CallMedia(ctx, ops.CallMediaRequest{ID: c.ID, SDP: b.Offer(), As: who})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(a.SDP, "b=AS:24\r\n") == 0 {
			t.Errorf("%s's answer does not tell the browser the cap:\n%s", st.Cfg.Name, a.SDP)
		}
		b.Answered(a.SDP)
		return b
	}
	ub, cb := attach(usa, "Lt. Ames"), attach(chn, "Lt. Wu")
	waitCall(t, usa, ch, c.ID, "media connected", func(v ops.CallView) bool { return mediaState(v) == "connected" })
	// Speech under the cap (20-byte frames, 50 a second: 8 kbit/s)
	// passes whole.
	mediatest.Talk(t, ub, cb)
	// 400-byte frames, 50 a second (160 kbit/s): most are dropped.
	before := callOf(t, usa, ch, c.ID).Media.Dropped
	big := strings.Repeat("x", 400)
	for i := range 150 {
		ub.Speak(fmt.Sprintf("big-%03d-%s", i, big))
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	got := cb.Heard("big-")
	after := callOf(t, usa, ch, c.ID).Media.Dropped
	// 3 seconds at 24 kbit/s, plus a second's burst, carry about 24 of
	// these frames.
	if got == 0 || got > 40 || after-before < 100 {
		t.Errorf("over the cap: CHN heard %d of 150 big frames; USA dropped %d", got, after-before)
	}
}
