package media

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"hotline/internal/media/mediatest"
)

// TestParticipants: USA's officer and interpreter and CHN's officer in
// one call, each browser taking several streams. Each hears the two
// others and never itself: the other side's voices through the trunk,
// one seat each, and its own side's through its station. A browser that
// takes one stream hears the other side. When the interpreter's browser
// goes away, the engine says so and nobody hears it any more.
func TestParticipants(t *testing.T) {
	usa, chn := listen(t), listen(t)
	var mu sync.Mutex
	var left []string
	usa.OnLeft(func(call, who string) {
		mu.Lock()
		left = append(left, call+" "+who)
		mu.Unlock()
	})
	const id = "usa-chn/USA/5"
	trunk(t, usa, chn, id)
	browser := func(e *Engine, who string, streams int) *mediatest.Browser {
		b := mediatest.NewWith(t, streams)
		a, err := e.Attach(t.Context(), id, who, b.Offer())
		if err != nil {
			t.Fatal(err)
		}
		b.Answered(a)
		return b
	}
	officer, interp := browser(usa, "Cdr. Hale", LegStreams), browser(usa, "Interpreter Ross", LegStreams)
	li := browser(chn, "Col. Li", LegStreams)
	single := browser(chn, "Maj. Wu", 1)
	speakers := map[string]*mediatest.Browser{"hale": officer, "ross": interp, "li": li, "wu": single}
	talk := func(who []string, until func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for i := 0; !until(); i++ {
			if time.Now().After(deadline) {
				for n, b := range speakers {
					t.Logf("%s heard %d packets", n, len(b.Payloads()))
				}
				t.Fatal("20s passed")
			}
			for _, n := range who {
				speakers[n].Speak(fmt.Sprintf("%s-%d", n, i))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	hears := func(b *mediatest.Browser, n string) bool { return b.Heard(n+"-") >= 10 }
	talk([]string{"hale", "ross", "li"}, func() bool {
		return hears(officer, "li") && hears(officer, "ross") && hears(interp, "li") && hears(interp, "hale") &&
			hears(li, "hale") && hears(li, "ross") && (hears(single, "hale") || hears(single, "ross"))
	})
	for n, b := range map[string]*mediatest.Browser{"hale": officer, "ross": interp, "li": li} {
		if b.Heard(n+"-") != 0 {
			t.Errorf("%s hears itself", n)
		}
	}
	if single.Heard("li-") != 0 || single.Heard("hale-") != 0 && single.Heard("ross-") != 0 {
		t.Errorf("a browser taking one stream hears more than one voice of the other side: li %d, hale %d, ross %d", single.Heard("li-"), single.Heard("hale-"), single.Heard("ross-"))
	}
	v, _ := usa.View(id)
	if len(v.Participants) != 2 || v.Participants[0].Who != "Cdr. Hale" || v.Participants[0].Seat != 0 || v.Participants[1].Who != "Interpreter Ross" || v.Participants[1].Seat != 1 {
		t.Fatalf("USA's participants: %+v", v.Participants)
	}

	// The interpreter's browser goes away.
	interp.PC.Close()
	waitView(t, usa, id, "the interpreter gone", func(v View) bool { return len(v.Participants) == 1 })
	mu.Lock()
	if len(left) != 1 || left[0] != id+" Interpreter Ross" {
		t.Errorf("left: %v", left)
	}
	mu.Unlock()
	heard, hale := li.Heard("ross-"), li.Heard("hale-")
	talk([]string{"hale", "ross", "li"}, func() bool { return li.Heard("hale-") >= hale+25 })
	if li.Heard("ross-") != heard {
		t.Errorf("CHN heard the interpreter after it left")
	}
	// Ending the call is not a participant leaving.
	usa.End(id, "")
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	if len(left) != 1 {
		t.Errorf("left after the end: %v", left)
	}
	mu.Unlock()
}
