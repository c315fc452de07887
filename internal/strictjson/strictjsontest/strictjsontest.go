// Package strictjsontest checks a request body decoder built on
// strictjson from a fuzz target: the API's and the console's share it.
package strictjsontest

import (
	"bytes"
	"encoding/json"
	"errors"
	"hotline/internal/badrequest"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// Body checks what decode made of data, a request body of at most limit
// bytes, into a fresh value from mk: a refusal is ErrBadRequest naming
// the request body, or a MaxBytesError for a body over the limit; what is
// accepted encodes and decodes again to the same value (the same
// encoding, when byEncoding is set, for values holding raw JSON whose
// spacing may differ).
func Body(t *testing.T, data []byte, limit int, mk func() any, decode func([]byte, any) error, byEncoding bool) {
	t.Helper()
	v := mk()
	if err := decode(data, v); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			if len(data) <= limit {
				t.Fatalf("%d bytes refused as too large (limit %d)", len(data), limit)
			}
		case errors.Is(err, badrequest.Err):
			if !strings.Contains(err.Error(), "request body: ") {
				t.Fatalf("error %q does not say it is about the request body", err)
			}
		default:
			t.Fatalf("error %v is neither ErrBadRequest nor MaxBytesError", err)
		}
		return
	}
	if len(data) > limit {
		t.Fatalf("accepted %d bytes, limit %d", len(data), limit)
	}
	enc, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("accepted body does not encode: %v", err)
	}
	if len(enc) > limit {
		// The encoding has every field, escapes what the body need not:
		// a body near the limit may encode over it.
		return
	}
	again := mk()
	if err := decode(enc, again); err != nil {
		t.Fatalf("accepted %q, but refuses its encoding %q: %v", data, enc, err)
	}
	// An empty map or slice and none are the same value to a reader
	// (omitempty writes neither): their encodings then agree.
	same := reflect.DeepEqual(v, again) && !byEncoding || normal(t, v) == normal(t, again)
	if !same {
		t.Fatalf("%q decoded to %+v, its encoding to %+v", data, v, again)
	}
}

// normal is v encoded and compacted.
func normal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var c bytes.Buffer
	if err := json.Compact(&c, b); err != nil {
		t.Fatal(err)
	}
	return c.String()
}
