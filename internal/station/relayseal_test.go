package station

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"hotline/internal/deposit"
	"hotline/internal/envelope"
	"hotline/internal/identity"
	"hotline/internal/ops"
	"hotline/internal/protocol"
	"hotline/internal/relay"
)

// recorder is a relay's curiosity: it keeps everything it can read of the
// mail it carries, and carries it faithfully.
type recorder struct {
	mu   sync.Mutex
	mail []relay.Mail
}

func (r *recorder) lie(m relay.Mail) []relay.Mail {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mail = append(r.mail, relay.Mail{ID: m.ID, From: slices.Clone(m.From), DepositedAt: m.DepositedAt, Payload: slices.Clone(m.Payload)})
	return []relay.Mail{m}
}

// until polls cond until it holds; the limit is only there so that a
// broken build fails rather than hangs.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// openAny opens a deposit as its recipient would, with every key either
// station has held, and returns the frame. The test knows what no relay
// knows.
func openAny(payload []byte, from ed25519.PublicKey, keys ...[]*identity.Keys) ([]byte, bool) {
	for _, ks := range keys {
		if o, err := deposit.Open(payload, from, ks); err == nil {
			return o.Frame, true
		}
	}
	return nil, false
}

// counter reads a counter of the station's metrics with the given label.
func counter(t *testing.T, s *Station, name, label string) float64 {
	t.Helper()
	fams, err := s.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == label {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestRelaySeesOnlySizes: two stations whose only path is a relay that
// records all it can read of what it carries. Over a conversation with
// FLASH messages, acknowledgements, a suspension and its lifting, and a
// key change, the recorded mail holds none of the channel's id, the
// stations' names, the precedences, the texts or any part of the frames
// it carried (envelope headers with their kinds, indexes and times,
// checkpoints, signatures); and every deposit is of a size class.
func TestRelaySeesOnlySizes(t *testing.T) {
	const (
		nameUSA = "USA-EASTCOM"
		nameCHN = "CHN-NAVCOM"
		channel = "eastcom-navcom-staff"
	)
	rec := &recorder{}
	usa, chn, _ := relayPair(t, [2]string{nameUSA, nameCHN}, channel, rec.lie)
	ctx := t.Context()
	oldUSA, _ := usa.Identity()
	var texts []string
	send := func(from *Station, prec, text string) {
		t.Helper()
		texts = append(texts, text)
		if _, err := from.Send(ctx, ops.SendRequest{Channel: channel, Precedence: prec, Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	// ackAll has a person at st acknowledge every message received so far,
	// once it has arrived, and waits for the author to hold each
	// acknowledgement.
	ackAll := func(st, author *Station, n int) {
		t.Helper()
		var in []ops.MessageView
		until(t, fmt.Sprintf("%d messages at %s", n, st.Cfg.Name), func() bool {
			in, _ = st.Inbox(ctx, channel)
			return len(in) >= n
		})
		for _, m := range in {
			if !m.Acknowledged {
				if _, err := st.Ack(ctx, m.ID, "duty officer"); err != nil {
					t.Fatal(err)
				}
			}
		}
		until(t, "the acknowledgements at "+author.Cfg.Name, func() bool {
			out, _ := author.Outbox(ctx, channel)
			return len(out) >= n && !slices.ContainsFunc(out, func(m ops.MessageView) bool { return !m.Acknowledged })
		})
	}
	send(usa, "FLASH", "FLASH CONTACT BEARING 270 RANGE 12 NM CLOSING")
	send(usa, "IMMEDIATE", "IMMEDIATE SURFACE GROUP ALTERING COURSE NORTH")
	send(usa, "PRIORITY", "PRIORITY EXERCISE AREA BRAVO ACTIVE FROM 0600")
	send(usa, "ROUTINE", "ROUTINE WEATHER SEA STATE FOUR")
	ackAll(chn, usa, 4)
	send(chn, "FLASH", "FLASH UNDERSTOOD HOLDING POSITION WEST OF LINE")
	ackAll(usa, chn, 1)

	state := func(st *Station) string {
		cs, _ := st.Channels(ctx)
		if len(cs) != 1 {
			return ""
		}
		return cs[0].State
	}
	if _, err := usa.Suspend(ctx, ops.SuspendRequest{Channel: channel, Reason: "EXERCISE PAUSE FOR MAINTENANCE", By: "watch officer"}); err != nil {
		t.Fatal(err)
	}
	until(t, "the suspension at "+nameCHN, func() bool { return state(chn) == "suspended" })
	if _, err := usa.Resume(ctx, ops.SuspendRequest{Channel: channel, Reason: "MAINTENANCE COMPLETE", By: "watch officer"}); err != nil {
		t.Fatal(err)
	}
	until(t, "the channel resumed at "+nameCHN, func() bool { return state(chn) != "suspended" })

	if _, err := usa.RotateKeys(ctx, ops.KeyRequest{Reason: identity.ReasonRotate, By: "signal officer"}); err != nil {
		t.Fatal(err)
	}
	newUSA, _ := usa.Identity()
	until(t, nameCHN+" to follow the key change", func() bool {
		ks, _ := chn.KeyHistory(ctx, nameUSA)
		return len(ks) == 2
	})
	send(usa, "FLASH", "FLASH AFTER KEY CHANGE SECOND CONTACT BEARING 090")
	ackAll(chn, usa, 5)
	send(chn, "FLASH", "FLASH REPLY AFTER KEY CHANGE ACKNOWLEDGED")
	ackAll(usa, chn, 2)

	chnKeys := []*identity.Keys{chn.Keys}
	usaKeys := []*identity.Keys{newUSA, oldUSA}
	// The paths' probes too (one every 500 ms on each path).
	var mail []relay.Mail
	until(t, "probes and their answers over the relay", func() bool {
		rec.mu.Lock()
		mail = slices.Clone(rec.mail)
		rec.mu.Unlock()
		seen := map[protocol.FrameType]bool{}
		for _, m := range mail {
			if f, ok := openAny(m.Payload, m.From, chnKeys, usaKeys); ok {
				seen[protocol.FrameType(f[0])] = true
			}
		}
		return seen[protocol.FrameProbe] && seen[protocol.FrameProbeReply]
	})
	clear := [][]byte{[]byte(channel), []byte(nameUSA), []byte(nameCHN), []byte("HLE2"), []byte("HLE1")}
	for _, p := range envelope.Precedences {
		clear = append(clear, []byte(p.String()))
	}
	for _, k := range envelope.Kinds() {
		if len(k.String()) >= 6 { // shorter ones could turn up in ciphertext by chance
			clear = append(clear, []byte(k.String()))
		}
	}
	for _, text := range texts {
		clear = append(clear, []byte(text))
	}
	sizes := map[int]int{}
	kinds := map[envelope.Kind]int{}
	precs := map[envelope.Precedence]int{}
	frames := map[protocol.FrameType]int{}
	for _, m := range mail {
		sizes[len(m.Payload)]++
		if !deposit.IsClass(len(m.Payload)) {
			t.Errorf("a deposit of %d bytes, not a size class", len(m.Payload))
		}
		for _, c := range clear {
			if bytes.Contains(m.Payload, c) {
				t.Errorf("a deposit of %d bytes holds %q", len(m.Payload), c)
			}
		}
		if f, err := protocol.DecodeFrame(m.Payload); err == nil {
			t.Errorf("a deposit decodes as a %s frame", f.Type)
		}
		frame, ok := openAny(m.Payload, m.From, chnKeys, usaKeys)
		if !ok {
			t.Errorf("a deposit of %d bytes from %x opens for neither station", len(m.Payload), m.From[:4])
			continue
		}
		// Nothing of the frame it holds: no 16 bytes of it in a row.
		for at := 0; at+16 <= len(frame); at += 8 {
			if bytes.Contains(m.Payload, frame[at:at+16]) {
				t.Errorf("a deposit shows bytes %d to %d of its %d-byte frame", at, at+16, len(frame))
				break
			}
		}
		f, err := protocol.DecodeFrame(frame)
		if err != nil {
			t.Fatalf("a deposit opened to a frame that does not decode: %v", err)
		}
		frames[f.Type]++
		for _, raw := range f.Entries {
			if e, err := envelope.Parse(raw); err == nil {
				kinds[e.Kind]++
				precs[e.Precedence]++
			}
		}
	}
	t.Logf("the relay carried %d deposits: sizes %v, frames %v, entry kinds %v", len(mail), sizes, frames, kinds)
	// The conversation had what the relay must not see.
	for _, k := range []envelope.Kind{envelope.Text, envelope.Ack, envelope.Suspend, envelope.Resume, envelope.Key} {
		if kinds[k] == 0 {
			t.Errorf("no %s entry crossed the relay: the test proved nothing about it", k)
		}
	}
	if precs[envelope.Flash] == 0 || frames[protocol.FrameReceipt] == 0 {
		t.Errorf("no FLASH entry or no receipt crossed the relay: %v %v", precs, frames)
	}
	keys := [][]byte{oldUSA.SignPublic(), newUSA.SignPublic(), chn.Keys.SignPublic()}
	for _, m := range mail {
		if !slices.ContainsFunc(keys, func(k []byte) bool { return bytes.Equal(k, m.From) }) {
			t.Errorf("mail from %x, a key of neither station", m.From[:4])
		}
	}
	var classes []int
	for c := range sizes {
		classes = append(classes, c)
	}
	sort.Ints(classes)
	t.Logf("size classes seen: %v", classes)
}

// TestRelayDepositsToRetiredKey: the relay holds back CHN's entries for
// USA while USA changes its keys, so that deposits sealed to USA's old
// key arrive after the change. USA opens them with its retired key,
// refuses none, and CHN's message arrives once.
func TestRelayDepositsToRetiredKey(t *testing.T) {
	var (
		mu      sync.Mutex
		hold    bool
		held    []relay.Mail
		oldKey  []*identity.Keys  // USA's keys before the change: what the relay holds is sealed to them
		fromCHN ed25519.PublicKey // mail from CHN is mail for USA
		loosed  bool
	)
	lie := func(m relay.Mail) []relay.Mail {
		mu.Lock()
		defer mu.Unlock()
		// Mail ids on one connection must grow: every mail handed out
		// gets one of its own above the real one's.
		m.ID <<= 8
		if hold && len(held) < 200 {
			// The test opens what no relay can, to hold back entries
			// only: statuses, receipts and probes pass, so that the path
			// stays up and USA's key entry reaches CHN.
			if f, ok := openAny(m.Payload, m.From, oldKey); ok && protocol.FrameType(f[0]) == protocol.FrameEntries {
				held = append(held, m)
				return nil
			}
		}
		if !hold && len(held) > 0 && !loosed && m.From.Equal(fromCHN) {
			loosed = true
			var out []relay.Mail
			for i, h := range held {
				h.ID = m.ID + uint64(i)
				out = append(out, h)
			}
			m.ID += 255
			return append(out, m)
		}
		return []relay.Mail{m}
	}
	usa, chn, _ := relayPair(t, [2]string{"USA", "CHN"}, "ops", lie)
	ctx := t.Context()
	oldUSA, _ := usa.Identity()
	delivered := func(st *Station, n int) bool {
		out, _ := st.Outbox(ctx, "ops")
		return len(out) == n && !slices.ContainsFunc(out, func(m ops.MessageView) bool { return m.Status == "queued" })
	}
	if _, err := chn.Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "PRIORITY", Text: "before"}); err != nil {
		t.Fatal(err)
	}
	until(t, "the first message delivered", func() bool { return delivered(chn, 1) })

	mu.Lock()
	hold, oldKey, fromCHN = true, []*identity.Keys{oldUSA}, chn.Keys.SignPublic()
	mu.Unlock()
	if _, err := chn.Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "FLASH", Text: "sealed to the old key"}); err != nil {
		t.Fatal(err)
	}
	until(t, "the relay to hold CHN's entries for USA", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(held) > 0
	})
	if _, err := usa.RotateKeys(ctx, ops.KeyRequest{Reason: identity.ReasonRotate, By: "signal officer"}); err != nil {
		t.Fatal(err)
	}
	newUSA, _ := usa.Identity()
	until(t, "CHN to follow USA's key change", func() bool {
		ks, _ := chn.KeyHistory(ctx, "USA")
		return len(ks) == 2
	})
	mu.Lock()
	old := 0
	for _, h := range held {
		_, cur := openAny(h.Payload, h.From, []*identity.Keys{newUSA})
		_, both := openAny(h.Payload, h.From, []*identity.Keys{newUSA, oldUSA})
		if !both {
			t.Errorf("a held deposit opens with none of USA's keys")
		}
		if !cur {
			old++
		}
	}
	n := len(held)
	hold = false
	mu.Unlock()
	if old == 0 {
		t.Fatal("no held deposit was sealed to USA's old key: the test proved nothing")
	}
	until(t, "the held message delivered", func() bool { return delivered(chn, 2) })
	in, err := usa.Inbox(ctx, "ops")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range in {
		got = append(got, m.Text)
	}
	if !slices.Equal(got, []string{"before", "sealed to the old key"}) {
		t.Errorf("USA holds %q", got)
	}
	until(t, "the held mail handed over", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return loosed
	})
	until(t, "USA to open the held mail", func() bool {
		return counter(t, usa, "hotline_relay_deposits_opened_total", "retired") >= float64(old)
	})
	st, err := usa.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Refused["relay deposit"] != 0 {
		t.Errorf("USA refused %d deposits: %v", st.Refused["relay deposit"], st.Refused)
	}
	t.Logf("the relay held %d deposits, %d of them sealed to USA's old key; USA opened %v with a retired key", n, old,
		counter(t, usa, "hotline_relay_deposits_opened_total", "retired"))
}
