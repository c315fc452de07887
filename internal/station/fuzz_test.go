package station

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"hotline/internal/badrequest"
	"hotline/internal/ops"
)

// FuzzParseOffline checks the offline bundle decoder: it never panics,
// refuses with badrequest.Err, and what it accepts names both stations,
// holds only frames within the protocol's limit, and encodes and parses
// again to the same bundle.
func FuzzParseOffline(f *testing.F) {
	valid, err := json.Marshal(ops.OfflineBundle{Format: ops.OfflineFormat, From: "CHN", To: "USA",
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Frames: [][]byte{[]byte("frame")}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add([]byte(`{"format":"hotline-offline/v1","from":"CHN","to":"USA","created_at":"2026-01-02T03:04:05Z","frames":[]}`))
	f.Add([]byte(`{"format":"hotline-offline/v1","from":"CHN","to":"USA","frames":[""]}`))
	f.Add([]byte(`{"format":"hotline-offline/v1","from":"CHN","to":"USA","frames":[]} {}`))
	f.Add([]byte(`{"format":"hotline-offline/v1","from":"CHN","to":"USA","frames":` + strings.Repeat("[", 20000) + `}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ops.ParseOffline(data)
		if err != nil {
			if !errors.Is(err, badrequest.Err) || !strings.Contains(err.Error(), "offline bundle") {
				t.Fatalf("error %v is not badrequest.Err about the offline bundle", err)
			}
			return
		}
		if b.Format != ops.OfflineFormat || b.From == "" || b.To == "" {
			t.Fatalf("accepted %+v", b)
		}
		enc, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("accepted bundle does not encode: %v", err)
		}
		again, err := ops.ParseOffline(enc)
		if err != nil {
			t.Fatalf("accepted %q, refuses its encoding: %v", data, err)
		}
		a1, _ := json.Marshal(again)
		if string(a1) != string(enc) {
			t.Fatalf("bundle %s parsed again to %s", enc, a1)
		}
	})
}
