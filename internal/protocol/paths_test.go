package protocol

import (
	"encoding/json"
	"strings"
	"testing"
	"testing/cryptotest"
	"time"

	"hotline/internal/envelope"
)

// withSecondPath adds a second path from ALPHA to BRAVO, ranked after the
// direct one, as a relay path would be, and lets it come up.
func withSecondPath(s *sim) ConnID {
	a, b := s.nodes[0], s.nodes[1]
	s.nextID++
	id := s.nextID
	s.conns[id] = [2]*simNode{a, b}
	s.step(b, Connected{Peer: "ALPHA", Conn: id, Outbound: false, Path: "relay", Rank: 1})
	s.step(a, Connected{Peer: "BRAVO", Conn: id, Outbound: true, Path: "relay", Rank: 1})
	s.settle(10000)
	return id
}

// pathNamed returns the path of that name among a channel's paths.
func pathNamed(t *testing.T, ps []PathInfo, name string) PathInfo {
	t.Helper()
	for _, p := range ps {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no %s path among %+v", name, ps)
	return PathInfo{}
}

// textsAt lists the texts of ALPHA's log on a channel as BRAVO holds it.
func textsAt(b *simNode, ch string) string {
	var texts []string
	for _, e := range b.disk.entries[ch+"/ALPHA"] {
		if e.Kind == envelope.Text {
			var tb TextBody
			json.Unmarshal(e.Body, &tb)
			texts = append(texts, tb.Text)
		}
	}
	return strings.Join(texts, " ")
}

// TestPathRankedByMeasure: a path ranked after the direct one by the
// station, but with a clearly shorter round trip, takes the traffic once
// measured, and keeps it; when it goes, traffic fails over at once; when
// it comes back, it takes the traffic again only once measured, not at
// its status. Nothing is lost or delivered twice.
func TestPathRankedByMeasure(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 19)
	s := newSim(t, 19)
	a, b := s.nodes[0], s.nodes[1]
	// 60 ms each way on the direct path, 5 ms on the other.
	relay := ConnID(0)
	s.delay = func(p packet) time.Duration {
		if p.conn == relay {
			return 5 * time.Millisecond
		}
		return 60 * time.Millisecond
	}
	relay = withSecondPath(s)
	send := func(text string) {
		t.Helper()
		if d := s.send(a, "ops", envelope.Text, envelope.Flash, TextBody{Text: text}); d.Err != nil {
			t.Fatal(d.Err)
		}
	}
	// Before any probe, the station's rank decides.
	ps := s.info(a, "ops").Paths
	if d, r := pathNamed(t, ps, "direct"), pathNamed(t, ps, "relay"); !d.Active || d.Measured || !r.Up || r.Active || r.Measured {
		t.Fatalf("before measuring: %+v", ps)
	}
	send("one")
	// One probe measures both; the relay is clearly cheaper from then on,
	// and takes the traffic at the SwitchAfter-th probe, not before.
	s.run(SwitchAfter * PingEvery)
	if ps := s.info(a, "ops").Paths; !pathNamed(t, ps, "direct").Active {
		t.Fatalf("switched before %d probes: %+v", SwitchAfter, ps)
	}
	s.run(2 * PingEvery)
	ps = s.info(a, "ops").Paths
	d, r := pathNamed(t, ps, "direct"), pathNamed(t, ps, "relay")
	if !r.Active || d.Active || !d.Up {
		t.Fatalf("after %d probes: %+v", SwitchAfter+2, ps)
	}
	if d.Cost < 100*time.Millisecond || r.Cost > 20*time.Millisecond || d.SRTT != d.Cost || r.SRTT != r.Cost {
		t.Fatalf("costs: direct %s (srtt %s), relay %s (srtt %s)", d.Cost, d.SRTT, r.Cost, r.SRTT)
	}
	if a.core.Stats.Failovers != 1 {
		t.Fatalf("failovers %d, want 1", a.core.Stats.Failovers)
	}
	send("two")
	// It keeps the traffic.
	s.run(30 * time.Second)
	if ps := s.info(a, "ops").Paths; !pathNamed(t, ps, "relay").Active || a.core.Stats.Failovers != 1 {
		t.Fatalf("after 30s: failovers %d, %+v", a.core.Stats.Failovers, ps)
	}
	send("three")
	// The relay goes: traffic leaves it at once.
	s.cut(relay)
	if ps := s.info(a, "ops").Paths; !pathNamed(t, ps, "direct").Active {
		t.Fatalf("after the relay went: %+v", ps)
	}
	send("four")
	// It comes back as a new connection: its status does not take the
	// traffic (it ranks after direct and is not measured yet); its
	// measure does.
	relay = withSecondPath(s)
	if ps := s.info(a, "ops").Paths; !pathNamed(t, ps, "direct").Active || !pathNamed(t, ps, "relay").Up {
		t.Fatalf("at the relay's status: %+v", ps)
	}
	s.run((SwitchAfter + 2) * PingEvery)
	if ps := s.info(a, "ops").Paths; !pathNamed(t, ps, "relay").Active {
		t.Fatalf("after the relay came back and was measured: %+v", ps)
	}
	send("five")
	checkInvariants(t, s)
	if got := textsAt(b, "ops"); got != "one two three four five" {
		t.Fatalf("BRAVO holds %q", got)
	}
}

// TestPathsAlikeDoNotFlap: two paths whose round trips differ by a tenth,
// with a jitter that often makes the one not in use answer a probe sooner,
// keep the traffic on one path for minutes.
func TestPathsAlikeDoNotFlap(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 23)
	s := newSim(t, 23)
	a, b := s.nodes[0], s.nodes[1]
	relay := ConnID(0)
	// 20 ms each way on the direct path, 22 ms on the other, each frame
	// up to 12 ms more.
	s.delay = func(p packet) time.Duration {
		base := 20 * time.Millisecond
		if p.conn == relay {
			base = 22 * time.Millisecond
		}
		return base + time.Duration(s.rng.Int64N(int64(12*time.Millisecond)))
	}
	relay = withSecondPath(s)
	// Both measured before counting.
	s.run(2 * PingEvery)
	sooner, active := 0, ""
	for i := range 600 { // five minutes of probes
		s.advance(PingEvery)
		ps := s.info(a, "ops").Paths
		d, r := pathNamed(t, ps, "direct"), pathNamed(t, ps, "relay")
		if d.Active == r.Active {
			t.Fatalf("probe %d: not one active path: %+v", i, ps)
		}
		now := map[bool]string{true: "direct", false: "relay"}[d.Active]
		if active != "" && now != active {
			t.Fatalf("probe %d: traffic moved from %s to %s (direct %s, relay %s)", i, active, now, d.Cost, r.Cost)
		}
		active = now
		if r.RTT < d.RTT {
			sooner++
		}
		if i%100 == 0 {
			if d := s.send(a, "ops", envelope.Text, envelope.Routine, TextBody{Text: "m"}); d.Err != nil {
				t.Fatal(d.Err)
			}
		}
	}
	// Without hysteresis, ranking by the last round trip would have
	// moved the traffic at every one of these.
	t.Logf("the relay answered sooner at %d probes of 600", sooner)
	if sooner < 100 {
		t.Fatalf("the relay answered sooner at only %d probes of 600: the test shows nothing", sooner)
	}
	if a.core.Stats.Failovers != 0 || active != "direct" {
		t.Fatalf("failovers %d, active %s", a.core.Stats.Failovers, active)
	}
	checkInvariants(t, s)
	if got := textsAt(b, "ops"); got != "m m m m m m" {
		t.Fatalf("BRAVO holds %q", got)
	}
}

// TestLossCountsAgainstPath: a path with a shorter round trip that loses
// one probe in four does not take the traffic; once it stops losing, and
// its recent loss has faded, it does.
func TestLossCountsAgainstPath(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 29)
	s := newSim(t, 29)
	a := s.nodes[0]
	relay := ConnID(0)
	s.delay = func(p packet) time.Duration {
		if p.conn == relay {
			return 5 * time.Millisecond
		}
		return 60 * time.Millisecond
	}
	relay = withSecondPath(s)
	probes, lossy := 0, true
	s.lose = func(p packet) bool {
		if !lossy || p.conn != relay || p.from != a || FrameType(p.data[0]) != FrameProbe {
			return false
		}
		probes++
		return probes%4 == 0
	}
	s.run(30 * time.Second)
	ps := s.info(a, "ops").Paths
	d, r := pathNamed(t, ps, "direct"), pathNamed(t, ps, "relay")
	if !d.Active || !r.Up || r.Lost < 10 || r.SRTT >= d.SRTT || r.Cost <= d.Cost {
		t.Fatalf("while the relay loses probes: direct %+v, relay %+v", d, r)
	}
	lossy = false
	s.run(30 * time.Second)
	if r := pathNamed(t, s.info(a, "ops").Paths, "relay"); !r.Active {
		t.Fatalf("once the relay stopped losing: %+v", r)
	}
	if a.core.Stats.Failovers != 1 {
		t.Fatalf("failovers %d, want 1", a.core.Stats.Failovers)
	}
}

// TestNarrowPath: on a path its station measured at 9.6 kbit/s, the
// probes of ten idle minutes keep within IdleShare of it, the link tests
// riding on them and answered with them,
// the path stays up though its probes are minutes apart, and a path that
// then falls silent is still closed, within its longer silence bound.
// Unmeasured, the same minutes take a probe every 500 ms.
func TestNarrowPath(t *testing.T) {
	for _, narrow := range []bool{false, true} {
		cryptotest.SetGlobalRandom(t, 23)
		s := newSim(t, 23)
		a := s.nodes[0]
		var direct ConnID
		for id, ends := range s.conns {
			if ends[0] == a {
				direct = id
			}
		}
		const rate = 1200.0 // bytes a second
		if narrow {
			s.step(a, PathMeasured{Peer: "BRAVO", Conn: direct, Rate: rate})
		}
		probes, frames, bytes := 0, 0, 0
		tested := map[time.Time]bool{} // the link tests answered, by when
		s.sent = func(n *simNode, snd Send) {
			if n != a || snd.Conn != direct {
				return
			}
			if ok := s.info(a, "ops").LinkOK; !ok.IsZero() {
				tested[ok] = true
			}
			f, err := DecodeFrame(snd.Data)
			if err != nil || f.Type != FrameProbe {
				return
			}
			bytes += probeCost / 2
			if f.Channel == "" {
				probes++
			} else {
				frames++
			}
		}
		const idle = 10 * time.Minute
		s.run(idle)
		p := pathNamed(t, s.info(a, "ops").Paths, "direct")
		if !p.Up || !p.Active {
			t.Fatalf("narrow %v: after ten idle minutes the direct path is %+v", narrow, p)
		}
		share := float64(bytes) / idle.Seconds() / rate
		tests := len(tested)
		t.Logf("narrow %v: %d path probes, %d link tests answered, %.2f%% of 9.6 kbit/s", narrow, probes, tests, share*100)
		if frames != 0 {
			t.Errorf("%d link test frames sent: link tests ride on the path probes", frames)
		}
		if !narrow {
			if probes < 1000 {
				t.Errorf("an unmeasured path was probed only %d times in ten minutes", probes)
			}
			continue
		}
		if share > IdleShare {
			t.Errorf("probes and link tests took %.2f%% of the path, more than %.1f%%", share*100, IdleShare*100)
		}
		if probes < 3 || tests < 2 {
			t.Errorf("a narrow path was probed %d times and tested %d times in ten minutes: not watched", probes, tests)
		}
		// Silent from now: closed once nothing was heard for its
		// silence bound (its probe interval, about 140 s, plus 1.5 s and four round
		// trips), not before.
		s.drop, s.noDial = map[ConnID]bool{direct: true}, true
		last, dropped := p.LastOK, s.now
		var closed time.Time
		for range 1000 {
			s.advance(PingEvery)
			p := pathNamed(t, s.info(a, "ops").Paths, "direct")
			if !p.Up {
				closed = s.now
				break
			}
			last = p.LastOK
		}
		if closed.IsZero() {
			t.Fatal("a narrow path silent for over eight minutes is still up")
		}
		// Heard last no earlier than its last answered probe (a link
		// test's answer counts too), and no later than the drop.
		if silent := closed.Sub(last); silent < 135*time.Second {
			t.Errorf("a narrow path was closed %v after its last answer, within its bound of about 141 s", silent)
		}
		if silent := closed.Sub(dropped); silent > 145*time.Second {
			t.Errorf("a narrow path was closed %v after it fell silent, beyond its bound of about 141 s", silent)
		}
	}
}
