package link

import (
	"testing"
	"time"
)

// TestMaxFilter: the filter keeps the highest sample of its window, and
// follows a path that slowed down within one and a half windows.
func TestMaxFilter(t *testing.T) {
	var m maxFilter
	t0 := time.Unix(1_800_000_000, 0)
	m.add(1000, t0)
	m.add(400, t0.Add(time.Second))
	if v := m.value(); v != 1000 {
		t.Fatalf("value %v, want the highest, 1000", v)
	}
	// The path slowed down: samples of 300 for a window and a half.
	for s := 2; s <= 16; s++ {
		m.add(300, t0.Add(time.Duration(s)*time.Second))
	}
	if v := m.value(); v != 300 {
		t.Errorf("after 15 s of samples of 300, value %v: the old 1000 still counts", v)
	}
	m.add(2000, t0.Add(17*time.Second))
	if v := m.value(); v != 2000 {
		t.Errorf("a higher sample is taken at once: value %v", v)
	}
}

// TestPaceLimit: before any measure the kernel may hold four segments
// (of at least 536 bytes, TCP's default);
// a narrow path a quarter more than its rate times its round trip (and
// never fewer than four segments); a wide one twice.
func TestPaceLimit(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	p := &pacer{mss: 524}
	if got := p.limit(); got != 4*536 {
		t.Errorf("unmeasured: %d, want four segments (%d)", got, 4*536)
	}
	p.minRTT = 600 * time.Millisecond
	p.full.add(32_000, now) // 256 kbit/s
	if got, want := p.limit(), int(1.25*32_000*0.6); got != want {
		t.Errorf("satellite path: %d, want %d", got, want)
	}
	p = &pacer{mss: 524, minRTT: 450 * time.Millisecond}
	p.full.add(1200, now) // 9.6 kbit/s
	if got := p.limit(); got != 4*536 {
		t.Errorf("radio path: %d, want four segments (%d)", got, 4*536)
	}
	p = &pacer{mss: 1448, minRTT: 160 * time.Millisecond}
	p.full.add(6_250_000, now) // 50 Mbit/s
	if got, want := p.limit(), int(2*6_250_000*0.16); got != want {
		t.Errorf("transpacific path: %d, want %d", got, want)
	}
	// Only sender-limited samples: paced by them until a full one comes.
	p = &pacer{mss: 1448, minRTT: 100 * time.Millisecond}
	p.any.add(100_000, now)
	if got, want := p.limit(), int(1.25*100_000*0.1); got != max(want, 4*1448) {
		t.Errorf("measured only while limited by the sender: %d", got)
	}
	if r, _ := p.estimate(); r != 0 {
		t.Errorf("estimate %v from samples the sender limited: the path was never full", r)
	}
}
