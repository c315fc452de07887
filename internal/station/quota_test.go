package station

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"hotline/internal/ops"
	"hotline/internal/stationdir"
)

// eventually re-checks cond every 20 ms until it holds, and fails the
// test after a minute. What waits is sent again after protocol.ResendAfter
// (5 s), several times over on a loaded machine.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// refusedOf is the count of refusals for reason in st's status.
func refusedOf(t *testing.T, st *Station, reason string) int {
	t.Helper()
	v, err := st.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return v.Refused[reason]
}

// alertsOf lists the texts of st's alerts of level that hold every one of
// subs.
func alertsOf(t *testing.T, st *Station, level string, subs ...string) []string {
	t.Helper()
	as, err := st.Alerts(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range as {
		ok := a.Level == level
		for _, s := range subs {
			ok = ok && strings.Contains(a.Text, s)
		}
		if ok {
			out = append(out, a.Text)
		}
	}
	return out
}

// textsFrom lists the texts of peer's messages in st's inbox on ch, in
// their order.
func textsFrom(t *testing.T, st *Station, ch, peer string) []string {
	t.Helper()
	ms, err := st.Inbox(context.Background(), ch)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		if m.Kind == "text" && m.From == peer {
			out = append(out, m.Text)
		}
	}
	return out
}

// TestPeerQuotaBackpressure: CHN sends USA faster than a lowered quota
// lets through. The frames over it are not taken: USA counts them
// ("peer quota", in its status and on /metrics) and raises an alarm, and
// CHN's operators see that USA reports its entries wait. CHN sends them
// again, and every message still arrives exactly once, in order.
func TestPeerQuotaBackpressure(t *testing.T) {
	usa, chn := benchPair(t)
	defer func(q, b uint64) { PeerQuota, PeerBurst = q, b }(PeerQuota, PeerBurst)
	PeerQuota, PeerBurst = 4<<10, 8<<10
	ctx := t.Context()
	began := time.Now()
	var sent []string
	for i := range 60 {
		text := fmt.Sprintf("%02d %s", i, strings.Repeat("quota ", 150))
		if _, err := chn.Send(ctx, ops.SendRequest{Channel: "bench", Precedence: "ROUTINE", Text: text}); err != nil {
			t.Fatalf("CHN sends %d: %v", i, err)
		}
		sent = append(sent, text)
	}
	eventually(t, "every message of CHN's at USA", func() bool { return len(textsFrom(t, usa, "bench", "CHN")) >= len(sent) })
	if got := textsFrom(t, usa, "bench", "CHN"); !slices.Equal(got, sent) {
		t.Fatalf("USA holds %d of CHN's messages, not the %d sent, once each, in order", len(got), len(sent))
	}
	eventually(t, "CHN's messages receipted", func() bool {
		c := channelView(t, chn, "bench")
		return c.Delivered == c.Written
	})
	if n := refusedOf(t, usa, "peer quota"); n == 0 {
		t.Error("USA counted no frame over CHN's quota")
	}
	if n := scrape(t, usa)[`hotline_refused_total{reason="peer quota"}`]; n == 0 {
		t.Error(`hotline_refused_total{reason="peer quota"} did not move`)
	}
	// One alarm and one report a minute at most.
	most := 1 + int(time.Since(began)/time.Minute)
	if as := alertsOf(t, usa, "alarm", "peer quota", "entries from CHN wait: over the quota of"); len(as) == 0 || len(as) > most {
		t.Errorf("USA's alarms over CHN's quota: %q; want one to %d", as, most)
	}
	if as := alertsOf(t, chn, "warning", "USA reports: entries wait: over the quota of"); len(as) == 0 || len(as) > most {
		t.Errorf("CHN's warnings that its entries wait at USA: %q; want one to %d", as, most)
	}
	if n := refusedOf(t, chn, "peer quota"); n != 0 {
		t.Errorf("CHN counted %d frames of USA's over the quota; USA sent none", n)
	}
}

// channelView is st's view of channel ch.
func channelView(t *testing.T, st *Station, ch string) ops.ChannelView {
	t.Helper()
	cs, err := st.Channels(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.ID == ch {
			return c
		}
	}
	t.Fatalf("no channel %s", ch)
	return ops.ChannelView{}
}

// TestPeerEntriesWaitUnderReserve: with less free than the reserve (a
// raised stationdir.MinFree, the tests' two stations sharing a disk), the
// reserve is kept for each station's own voice. A peer's messages wait,
// counted ("disk full") with an alarm, and the peer is told; a bundle of
// them is refused too. Each station's own sends and acknowledgements still
// go, from the reserve, and /readyz says so. Under the last quarter of
// the reserve a station's own sends are refused as well. Once there is
// room again, everything that waited arrives, once, in order.
func TestPeerEntriesWaitUnderReserve(t *testing.T) {
	usa, chn := benchPair(t)
	ctx := t.Context()
	send := func(st *Station, text string) error {
		_, err := st.Send(ctx, ops.SendRequest{Channel: "bench", Precedence: "ROUTINE", Text: text})
		return err
	}
	if err := send(chn, "CHN before"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "CHN's first message at USA", func() bool { return len(textsFrom(t, usa, "bench", "CHN")) == 1 })
	first, err := usa.Inbox(ctx, "bench")
	if err != nil {
		t.Fatal(err)
	}

	free, _, ok, err := usa.diskFree()
	if !ok || err != nil || free < 1<<20 {
		t.Skipf("cannot tell the free space of the test's disk: %d bytes, %v", free, err)
	}
	defer func(m uint64) { stationdir.MinFree = m }(stationdir.MinFree)
	// Free space is under the reserve, above its last quarter.
	stationdir.MinFree = free * 2

	for i := range 3 {
		if err := send(chn, fmt.Sprintf("CHN under the reserve %d", i)); err != nil {
			t.Fatalf("CHN's own send under the reserve: %v", err)
		}
		if err := send(usa, fmt.Sprintf("USA under the reserve %d", i)); err != nil {
			t.Fatalf("USA's own send under the reserve: %v", err)
		}
	}
	if _, err := usa.Ack(ctx, first[len(first)-1].ID, "Lt. Smith"); err != nil {
		t.Fatalf("USA's acknowledgement under the reserve: %v", err)
	}
	eventually(t, "CHN's entries counted as waiting at USA", func() bool { return refusedOf(t, usa, "disk full") > 0 })
	eventually(t, "CHN told that its entries wait", func() bool {
		return len(alertsOf(t, chn, "warning", "USA reports: entries wait: the disk here is under its reserve")) > 0
	})
	// The count moves at once; the alarm is stored with the next write.
	eventually(t, "USA's alarm that CHN's entries wait", func() bool {
		return len(alertsOf(t, usa, "alarm", "disk full", "entries from CHN wait", "under the", "reserve")) > 0
	})
	if got := textsFrom(t, usa, "bench", "CHN"); len(got) != 1 {
		t.Errorf("USA took CHN's messages under the reserve: %q", got)
	}
	h := usa.Health(ctx)
	for _, c := range h.Checks {
		if c.Name == "disk" && (c.OK || !strings.Contains(c.Detail, "peers' entries wait") || !strings.Contains(c.Detail, "own requests go on")) {
			t.Errorf("/readyz's disk check under the reserve: %+v", c)
		}
	}
	// A bundle of CHN's entries waits too.
	b, err := chn.BundleExport(ctx, "USA")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(b)
	if _, err := usa.BundleImport(ctx, bytes.NewReader(data)); !errors.Is(err, ops.ErrDiskFull) || !strings.Contains(err.Error(), "offline bundle not taken") {
		t.Errorf("a bundle from CHN imported under the reserve: %v; want it refused as disk full", err)
	}

	// Under the last quarter of the reserve, USA's own sends are refused.
	stationdir.MinFree = free * 8
	if err := send(usa, "refused"); !errors.Is(err, ops.ErrDiskFull) || !strings.Contains(err.Error(), "free space") {
		t.Errorf("USA's send under the last quarter of the reserve: %v; want it refused as disk full", err)
	}
	h = usa.Health(ctx)
	for _, c := range h.Checks {
		if c.Name == "disk" && (c.OK || !strings.Contains(c.Detail, "own requests are refused")) {
			t.Errorf("/readyz's disk check under the last quarter of the reserve: %+v", c)
		}
	}

	// Room again: what waited arrives, once, in order, both ways.
	stationdir.MinFree = free / 4
	for _, pair := range []struct {
		from, to *Station
		texts    []string
	}{
		{chn, usa, []string{"CHN before", "CHN under the reserve 0", "CHN under the reserve 1", "CHN under the reserve 2"}},
		{usa, chn, []string{"USA under the reserve 0", "USA under the reserve 1", "USA under the reserve 2"}},
	} {
		from, to := pair.from.Cfg.Name, pair.to.Cfg.Name
		eventually(t, from+"'s messages at "+to, func() bool { return len(textsFrom(t, pair.to, "bench", from)) >= len(pair.texts) })
		if got := textsFrom(t, pair.to, "bench", from); !slices.Equal(got, pair.texts) {
			t.Errorf("%s holds %q of %s's messages; want %q", to, got, from, pair.texts)
		}
	}
	eventually(t, "USA's acknowledgement at CHN", func() bool {
		out, err := chn.Outbox(ctx, "bench")
		return err == nil && len(out) > 0 && out[0].Status == "acknowledged"
	})
}

// TestQuotaBucket: a peer's bucket fills at PeerQuota up to PeerBurst; a
// frame is taken while the bucket holds it, and one larger than the
// burst once the bucket is full, leaving it in debt. Peers do not share
// buckets.
func TestQuotaBucket(t *testing.T) {
	defer func(q, b uint64) { PeerQuota, PeerBurst = q, b }(PeerQuota, PeerBurst)
	PeerQuota, PeerBurst = 1000, 4000
	var q quotas
	t0 := time.Now()
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	for _, c := range []struct {
		peer string
		n    uint64
		at   float64
		want bool
	}{
		{"CHN", 3000, 0, true},   // a new bucket is full
		{"CHN", 3000, 0, false},  // 1000 left
		{"RUS", 4000, 0, true},   // another peer's bucket
		{"CHN", 3000, 2, true},   // 3000 after two seconds
		{"CHN", 10000, 2, false}, // larger than the burst: waits for a full bucket
		{"CHN", 10000, 6, true},  // full: taken, 6000 in debt
		{"CHN", 100, 10, false},  // still 2000 in debt
		{"CHN", 100, 16, true},   // full again, never above the burst
		{"CHN", 3901, 16, false},
	} {
		if got := q.take(c.peer, c.n, at(c.at)); got != c.want {
			t.Errorf("%s takes %d bytes at %gs: %v, want %v", c.peer, c.n, c.at, got, c.want)
		}
	}
}
