package station_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"hotline/internal/ops"
	"hotline/internal/station"
)

// TestPeerQuotaOverRelay: the quota holds for relay mail too. USA and
// CHN reach each other only through a relay, and CHN sends faster than a
// lowered quota lets through. The mail over it is not taken (and not
// waited for: the goroutine that reads the relay serves every peer),
// USA counts it and CHN is told; CHN sends it again, and every message
// arrives exactly once, in order.
func TestPeerQuotaOverRelay(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	usa, chn := relayOnlyPair(t, ctx)

	defer func(q, b uint64) { station.PeerQuota, station.PeerBurst = q, b }(station.PeerQuota, station.PeerBurst)
	station.PeerQuota, station.PeerBurst = 4<<10, 8<<10
	var sent []string
	for i := range 40 {
		text := fmt.Sprintf("%02d %s", i, strings.Repeat("relayed ", 120))
		if _, err := chn.Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "ROUTINE", Text: text}); err != nil {
			t.Fatalf("CHN sends %d: %v", i, err)
		}
		sent = append(sent, text)
	}
	texts := func() []string {
		ms, err := usa.Inbox(ctx, "ops")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range ms {
			if m.Kind == "text" && m.From == "CHN" {
				out = append(out, m.Text)
			}
		}
		return out
	}
	waitUntil(t, usa, "every message of CHN's over the relay", func() bool { return len(texts()) >= len(sent) })
	if got := texts(); !slices.Equal(got, sent) {
		t.Fatalf("USA holds %d of CHN's messages, not the %d sent, once each, in order", len(got), len(sent))
	}
	st, err := usa.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Refused["peer quota"] == 0 {
		t.Error("USA counted no relay mail over CHN's quota")
	}
	waitUntil(t, chn, "CHN told over the relay that its entries wait", func() bool {
		return len(alertsContaining(t, chn, "USA reports: entries wait: over the quota of")) > 0
	})
}
