package call

import (
	"encoding/json"
	"strings"
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
		`{"caller":"Hale","media":{"sdp":"v=0\r\na=fingerprint:sha-256 ` + strings.Repeat("AB:", 31) + `AB\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"}}`,
		`{"call":"ch/USA/2","by":"Li","media":{"sdp":"v=0\r\na=fingerprint:sha-1 AB\r\n"}}`,
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
		if m1, m2 := mediaOf(b), mediaOf(b2); (m1 == nil) != (m2 == nil) || m1 != nil && (m1.SDP != m2.SDP || m1.Fingerprint() != m2.Fingerprint() || m1.Fingerprint() == "") {
			t.Fatalf("%s %q carries media %+v, its encoding %+v", kind, p, m1, m2)
		}
		if r1, r2 := RefOf(b), RefOf(b2); (r1 == nil) != (r2 == nil) || r1 != nil && *r1 != *r2 {
			t.Fatalf("%s %q names %v, its encoding %v", kind, p, r1, r2)
		}
	})
}

func mediaOf(b any) *Media {
	switch b := b.(type) {
	case *Request:
		return b.Media
	case *Answer:
		return b.Media
	}
	return nil
}
