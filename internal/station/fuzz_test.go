package station

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"hotline/internal/badrequest"
	"hotline/internal/ops"
	"hotline/internal/wire"
)

// FuzzParseOffline checks the offline bundle decoder, which reads a bundle
// as a stream (ops.ReadOffline): it never panics; it refuses with
// badrequest.Err; read a byte at a time, it gives the same frames or the
// same error; what it accepts names both stations, holds only frames
// within the protocol's limit, reads as encoding/json reads it, and
// encodes and parses again to the same bundle.
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
	f.Add([]byte(`{"frames":["AQ==","AQ\u003d="],"to":"USA","from":"C\u0048N","format":"hotline-offline/v1","created_at":null}`))
	f.Add([]byte(`{"format":"hotline-offline/v1","from":"CHN","to":"USA","frames":["AQ=="],"to":"RUS"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ops.ParseOffline(data)
		frames := [][]byte{}
		slow, n, slowErr := ops.ReadOffline(iotest.OneByteReader(bytes.NewReader(data)), func(f []byte) error {
			frames = append(frames, f)
			return nil
		})
		if (err == nil) != (slowErr == nil) || err != nil && err.Error() != slowErr.Error() {
			t.Fatalf("read whole: %v; a byte at a time: %v", err, slowErr)
		}
		if err != nil {
			if !errors.Is(err, badrequest.Err) || !strings.Contains(err.Error(), "offline bundle") {
				t.Fatalf("error %v is not badrequest.Err about the offline bundle", err)
			}
			return
		}
		slow.Frames = frames
		if !reflect.DeepEqual(b, slow) || n != len(frames) {
			t.Fatalf("read whole %+v; a byte at a time %+v (%d frames)", b, slow, n)
		}
		if b.Format != ops.OfflineFormat || b.From == "" || b.To == "" || len(b.Frames) > ops.MaxOfflineFrames {
			t.Fatalf("accepted %+v", b)
		}
		for i, f := range b.Frames {
			if len(f) == 0 || len(f) > wire.MaxFrame {
				t.Fatalf("accepted frame %d of %d bytes", i+1, len(f))
			}
		}
		// encoding/json reads it the same. It alone refuses a time with
		// escapes in its string, which it does not unescape.
		var std ops.OfflineBundle
		d := json.NewDecoder(bytes.NewReader(data))
		d.DisallowUnknownFields()
		if err := d.Decode(&std); err != nil {
			if !strings.Contains(err.Error(), "parsing time") {
				t.Fatalf("accepted %q, which encoding/json refuses: %v", data, err)
			}
		} else {
			if std.Frames == nil {
				std.Frames = [][]byte{}
			}
			if !reflect.DeepEqual(&std, b) {
				t.Fatalf("read %+v; encoding/json reads %+v", b, std)
			}
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
