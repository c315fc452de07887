package deconflict_test

import (
	"errors"
	"reflect"
	"testing"

	"hotline/internal/codebook"
	"hotline/internal/deconflict"
)

// FuzzDecodeNotice checks that DecodeNotice never panics, that its errors
// are ErrNotice, and that an accepted notice builds an activity that
// overlaps itself and encodes to a body that decodes again.
func FuzzDecodeNotice(f *testing.F) {
	f.Add([]byte(liveFire))
	f.Add([]byte(`{"kind":"transit","area":{"circle":{"center":{"lat":16,"lon":112},"radius_nm":12}},"window":{"from":"2026-05-01T00:00:00Z","to":"2026-05-01T08:00:00Z"},"units":["Destroyer 173"],"call":"red-blue.theatre"}`))
	f.Add([]byte(`{"kind":"exercise","area":{"polygon":[{"lat":85,"lon":0},{"lat":85,"lon":90},{"lat":85,"lon":180},{"lat":85,"lon":-90}]},"window":{"from":"2026-05-01T00:00:00Z","to":"2026-05-01T08:00:00Z"},"units":["SSN"],"call":"c"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := deconflict.DecodeNotice(data)
		if err != nil {
			if !errors.Is(err, deconflict.ErrNotice) {
				t.Fatalf("error %v is not ErrNotice", err)
			}
			return
		}
		a, err := deconflict.NewActivity(n)
		if err != nil {
			t.Fatalf("accepted notice: %v", err)
		}
		if _, found, err := deconflict.NewChecker().Overlap(a, a); err != nil || !found {
			t.Fatalf("an activity does not overlap itself: %v %v", found, err)
		}
		body, err := n.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := deconflict.DecodeNotice(body); err != nil {
			t.Fatalf("re-encoded notice %s: %v", body, err)
		}
	})
}

// FuzzDecodeReport checks that DecodeReport never panics, that its errors
// are ErrReport, and that an accepted report's tracks can be predicted
// from (or are refused as too far apart) and it encodes to a body that
// decodes again.
func FuzzDecodeReport(f *testing.F) {
	cb := codebook.Default()
	f.Add([]byte(encounter))
	f.Add([]byte(`{"time":"2026-05-01T03:10:00Z","own":{"unit":"a","position":{"lat":89.99,"lon":0},"course":0,"speed_kn":10},"other":{"unit":"b","position":{"lat":89.99,"lon":180},"course":0,"speed_kn":10},"cpa":{"distance_nm":0,"time":"2026-05-01T03:10:00Z"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := deconflict.DecodeReport(data, cb)
		if err != nil {
			if !errors.Is(err, deconflict.ErrReport) {
				t.Fatalf("error %v is not ErrReport", err)
			}
			return
		}
		own, other := r.Fixes()
		if _, err := deconflict.ClosestApproach(own, other, r.Time, deconflict.DefaultMargins.Horizon); err != nil && !errors.Is(err, deconflict.ErrTrack) {
			t.Fatalf("ClosestApproach: %v", err)
		}
		body, err := r.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := deconflict.DecodeReport(body, cb); err != nil {
			t.Fatalf("re-encoded report %s: %v", body, err)
		}
	})
}

// FuzzDecodeIncident checks that DecodeIncident never panics, that its
// errors are ErrIncident, that an accepted body encodes to one that
// decodes to the same, and that an opening entry folds to an open
// incident.
func FuzzDecodeIncident(f *testing.F) {
	f.Add([]byte(closeEntry))
	f.Add([]byte(`{"action":"open","title":"Unsafe crossing","lang":"en","links":[{"channel":"red-blue.theatre","author":"red","index":6}]}`))
	f.Add([]byte(`{"action":"link","incident":{"channel":"c","author":"red","index":7},"prev":{"channel":"c","author":"red","index":7},"links":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := deconflict.DecodeIncident(data)
		if err != nil {
			if !errors.Is(err, deconflict.ErrIncident) {
				t.Fatalf("error %v is not ErrIncident", err)
			}
			return
		}
		body, err := b.Encode()
		if err != nil {
			t.Fatal(err)
		}
		again, err := deconflict.DecodeIncident(body)
		if err != nil {
			t.Fatalf("re-encoded body %s: %v", body, err)
		}
		if !reflect.DeepEqual(again, b) {
			t.Fatalf("re-encoded body decodes to %+v, was %+v", again, b)
		}
		if b.Action == deconflict.Open {
			inc, err := deconflict.Fold([]deconflict.Event{{Entry: ref("red", 1), Body: b}})
			if err != nil || inc.State != deconflict.StateOpen {
				t.Fatalf("Fold of an opening entry: %v, %+v", err, inc)
			}
		}
	})
}
