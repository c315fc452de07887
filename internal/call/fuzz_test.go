package call

import (
	"encoding/json"
	"testing"

	"hotline/internal/envelope"
)

// FuzzDecode: no input makes a decoder panic, and a body a decoder takes
// encodes to a body it takes again with the same meaning.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"caller":"Cdr. Hale","video":true}`,
		`{"caller":"Hale","back":"ch/CHN/4"}`,
		`{"call":"ch/USA/2","by":"Li","video":true}`,
		`{"call":"ch/USA/2","by":"Li","reason":"in a briefing"}`,
		`{"call":"ch/USA/2","by":"Hale"}`,
		`{"call":"ch/USA/2","participant":"interpreter"}`,
		`{"caller":"A\u202eB"}`,
		`{"call":"ch/USA/18446744073709551616","by":"x"}`,
	} {
		for _, k := range Kinds {
			f.Add(uint8(k), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, k uint8, p []byte) {
		kind := envelope.Kind(k)
		b, err := Decode(kind, p)
		if err != nil {
			return
		}
		again, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		b2, err := Decode(kind, again)
		if err != nil {
			t.Fatalf("%s %q decoded, its encoding %q does not: %v", kind, p, again, err)
		}
		if r1, r2 := RefOf(b), RefOf(b2); (r1 == nil) != (r2 == nil) || r1 != nil && *r1 != *r2 {
			t.Fatalf("%s %q names %v, its encoding %v", kind, p, r1, r2)
		}
	})
}
