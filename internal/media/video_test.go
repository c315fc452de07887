package media

import (
	"context"
	"fmt"
	"testing"
	"time"

	"hotline/internal/media/mediatest"
)

// TestVideo: a call with video. USA's officer, CHN's officer and CHN's
// interpreter each send a picture (VP8, passed through); each sees the
// two others', never its own. A browser that starts receiving a picture
// has a key frame asked of its sender, across the two stations. A call
// without video carries none: a browser's picture goes nowhere.
func TestVideo(t *testing.T) {
	usa, chn := listen(t), listen(t)
	const id = "usa-chn/USA/8"
	ctx := context.Background()
	c, offer, err := usa.Offer(ctx, "CHN", true)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Bind(id); err != nil {
		t.Fatal(err)
	}
	if sections(offer, "video") != Seats {
		t.Fatalf("the offer has %d video sections", sections(offer, "video"))
	}
	answer, err := chn.Answer(ctx, id, "USA", offer, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := usa.Accept(id, answer, true); err != nil {
		t.Fatal(err)
	}
	browser := func(e *Engine, who string) *mediatest.Browser {
		b := mediatest.NewVideo(t, LegStreams)
		a, err := e.Attach(ctx, id, who, b.Offer())
		if err != nil {
			t.Fatal(err)
		}
		b.Answered(a)
		return b
	}
	hale, li, zhao := browser(usa, "Cdr. Hale"), browser(chn, "Col. Li"), browser(chn, "Interpreter Zhao")
	all := map[string]*mediatest.Browser{"hale": hale, "li": li, "zhao": zhao}
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; ; i++ {
		done := true
		for n, b := range all {
			for o := range all {
				if o != n && b.Seen(o+"-") < 10 {
					done = false
				}
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("seen: hale %d/%d, li %d/%d, zhao %d/%d", hale.Seen("li-"), hale.Seen("zhao-"), li.Seen("hale-"), li.Seen("zhao-"), zhao.Seen("hale-"), zhao.Seen("li-"))
		}
		for n, b := range all {
			b.Show(fmt.Sprintf("%s-%d", n, i))
			b.Speak(fmt.Sprintf("%s-voice-%d", n, i))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for n, b := range all {
		if b.Seen(n+"-") != 0 {
			t.Errorf("%s sees itself", n)
		}
		if b.KeyframeRequests() == 0 {
			t.Errorf("%s's camera was never asked for a key frame", n)
		}
	}
	if v, _ := usa.View(id); !v.Video || v.VideoToPeer == 0 || v.VideoFromPeer == 0 {
		t.Errorf("USA's view: %+v", v)
	}

	// A call without video: the pictures go nowhere.
	const id2 = "usa-chn/USA/9"
	trunk(t, usa, chn, id2)
	a, b := mediatest.NewVideo(t, 2), mediatest.NewVideo(t, 2)
	for _, x := range []struct {
		e  *Engine
		br *mediatest.Browser
	}{{usa, a}, {chn, b}} {
		ans, err := x.e.Attach(ctx, id2, "officer", x.br.Offer())
		if err != nil {
			t.Fatal(err)
		}
		x.br.Answered(ans)
	}
	mediatest.Talk(t, a, b)
	for i := range 20 {
		a.Show(fmt.Sprintf("pic-%d", i))
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if b.Seen("pic-") != 0 {
		t.Error("a picture crossed a call without video")
	}
	if v, _ := usa.View(id2); v.Video || v.VideoToPeer != 0 {
		t.Errorf("a call without video: %+v", v)
	}
}
