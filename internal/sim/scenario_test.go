package sim

import (
	"encoding/json"
	"os"
	"testing"
	"testing/cryptotest"
	"time"

	"hotline/internal/envelope"
	"hotline/internal/protocol"
)

// scenario is a network of two stations set up without faults or
// operators, for a test to script.
func scenario(t *testing.T, seed uint64) *World {
	t.Helper()
	cryptotest.SetGlobalRandom(t, seed)
	w := newWorld(Config{Seed: seed, Stations: 2, Faults: -1})
	w.setup()
	if w.stop {
		t.Fatalf("setup: %v", w.violations)
	}
	w.phase = phaseFaults
	return w
}

func (w *World) runFor(d time.Duration) { w.loop(w.now.Add(d)) }

func (w *World) text(s *Station, ch string, prec envelope.Precedence) {
	body, _ := json.Marshal(protocol.TextBody{Text: "scripted", Lang: "en"})
	s.request(request{what: "submit", channel: ch}, func(id uint64) protocol.Event {
		return protocol.Submit{ID: id, Channel: ch, Kind: envelope.Text, Precedence: prec, Body: body}
	})
}

func (w *World) pathInfo(s *Station, ch string) protocol.ChannelInfo {
	for _, ci := range s.core.Channels() {
		if ci.ID == ch {
			return ci
		}
	}
	return protocol.ChannelInfo{}
}

// TestRelayDropsOneFrame: two stations that reach each other only
// through the relay; the relay loses one entries frame and the author
// writes nothing more on that channel. The entry is sent again once no
// receipt came for protocol.ResendAfter. (Before, it waited for the
// author's next entry there: here the FLASH reminder 4 minutes later; a
// ROUTINE message, for an operator check, up to an hour.)
func TestRelayDropsOneFrame(t *testing.T) {
	w := scenario(t, 3)
	a, b := w.stations[0], w.stations[1]
	p := w.pair(a, b)
	w.partitionPair(p, pathRefused, 24*time.Hour)
	w.runFor(10 * time.Second)
	ch := a.channels[0].id
	if ci := w.pathInfo(a, ch); !ci.Connected {
		t.Fatalf("no path up over the relay: %+v", ci.Paths)
	}
	dropped := 0
	w.dropMail = func(m *mail) bool {
		if dropped == 0 && m.from == a && protocol.FrameType(m.data[0]) == protocol.FrameEntries {
			dropped++
			return true
		}
		return false
	}
	w.text(a, ch, envelope.Flash)
	w.runFor(protocol.ResendAfter + 5*time.Second)
	if w.stop {
		t.Fatal(w.violations)
	}
	ci := w.pathInfo(a, ch)
	t.Logf("dropped %d; %s: written %d, sent %d, delivered %d", dropped, ch, ci.Written, ci.Sent, ci.Delivered)
	if ci.Delivered != ci.Written {
		t.Fatalf("%s: %d of %d entries delivered %s after the relay lost a frame", ch, ci.Delivered, ci.Written, protocol.ResendAfter+5*time.Second)
	}
}

func traceTo(t *testing.T, w *World, path string) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	w.cfg.Trace = f
}

// TestRelayDropsStatus: over the relay only, the relay loses the status
// that answers a station's hello on its new relay path. The station says
// hello again after protocol.HelloAgain. (Before, the path answered
// probes, so it was never closed, and never carried an entry.)
func TestRelayDropsStatus(t *testing.T) {
	w := scenario(t, 4)
	a, b := w.stations[0], w.stations[1]
	w.partitionPair(w.pair(a, b), pathRefused, 24*time.Hour)
	dropped := 0
	w.dropMail = func(m *mail) bool {
		if dropped == 0 && m.from == b && protocol.FrameType(m.data[0]) == protocol.FrameStatus {
			dropped++
			return true
		}
		return false
	}
	w.fault("cut")
	w.relayCut(a.relay) // a's relay paths come up again: hello, status (lost)
	w.runFor(5 * time.Second)
	ch := a.channels[0].id
	w.text(a, ch, envelope.Routine)
	w.runFor(protocol.HelloAgain + 5*time.Second)
	if w.stop {
		t.Fatal(w.violations)
	}
	ci := w.pathInfo(a, ch)
	t.Logf("dropped %d; %s: written %d, sent %d, delivered %d, paths %+v", dropped, ch, ci.Written, ci.Sent, ci.Delivered, ci.Paths)
	if dropped == 0 || ci.Delivered != ci.Written {
		t.Fatalf("%s: %d of %d entries delivered %s after the relay lost a status", ch, ci.Delivered, ci.Written, protocol.HelloAgain+5*time.Second)
	}
}
