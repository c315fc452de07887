package strictjson_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"hotline/internal/strictjson"
)

type item struct {
	Code   string                     `json:"code,omitempty"`
	Params map[string]json.RawMessage `json:"params,omitempty"`
	N      *int                       `json:"n,omitempty"`
}

type doc struct {
	Name  string    `json:"name"`
	Items []item    `json:"items"`
	At    time.Time `json:"at,omitzero"`
	Inner *struct {
		X int `json:"x"`
	} `json:"inner,omitempty"`
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // substring of the error; "" for success
	}{
		{"ok", `{"name":"a","items":[{"code":"X","params":{"k":{"any":[1,2]}}}]}`, ""},
		{"ok time", `{"name":"a","items":[],"at":"2026-05-01T14:30:00Z"}`, ""},
		{"duplicate top", `{"name":"a","name":"b","items":[]}`, `body: member "name" appears twice`},
		{"duplicate nested", `{"name":"a","items":[{"code":"X","code":"Y"}]}`, `items[0]: member "code" appears twice`},
		{"duplicate in map", `{"name":"a","items":[{"params":{"k":1,"k":2}}]}`, `items[0].params: member "k" appears twice`},
		{"duplicate in raw", `{"name":"a","items":[{"params":{"k":{"a":1,"a":2}}}]}`, `items[0].params.k: member "a" appears twice`},
		{"escaped duplicate", `{"name":"a","n\u0061me":"b","items":[]}`, `member "name" appears twice`},
		{"case folded", `{"NAME":"a","items":[]}`, `body: unknown field "NAME"`},
		{"unknown", `{"name":"a","items":[],"extra":1}`, `body: unknown field "extra"`},
		{"unknown nested", `{"name":"a","items":[],"inner":{"x":1,"y":2}}`, `inner: unknown field "y"`},
		{"missing", `{"items":[]}`, `body: missing field "name"`},
		{"missing nested", `{"name":"a","items":[],"inner":{}}`, `inner: missing field "x"`},
		{"null", `{"name":null,"items":[]}`, `name: null is not allowed`},
		{"null in raw", `{"name":"a","items":[{"params":{"k":null}}]}`, `items[0].params.k: null is not allowed`},
		{"trailing", `{"name":"a","items":[]} {}`, `data after the JSON value`},
		{"trailing garbage", `{"name":"a","items":[]}x`, `data after the JSON value`},
		{"truncated", `{"name":"a","items":[`, `items`},
		{"wrong type", `{"name":1,"items":[]}`, `cannot unmarshal number`},
		{"bad utf8", "{\"name\":\"\xff\",\"items\":[]}", `not valid UTF-8`},
		{"too large", `{"name":"` + strings.Repeat("a", 200) + `","items":[]}`, `limit 128`},
		{"too deep", `{"name":"a","items":[{"params":{"k":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}}]}`, `nested deeper than 32`},
		{"not an object", `[1]`, `cannot unmarshal array`},
		{"empty", ``, `body: EOF`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			limit := 1 << 10
			if tc.name == "too large" {
				limit = 128
			}
			var d doc
			err := strictjson.Decode([]byte(tc.in), &d, limit)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Decode accepted %s", tc.in)
			}
			if !errors.Is(err, strictjson.ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

// FuzzDecode checks that Decode never panics, that its errors are
// ErrInvalid, and that what it accepts encoding/json accepts too and reads
// the same.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"name":"a","items":[{"code":"X","params":{"k":{"any":[1,2]}}}]}`))
	f.Add([]byte(`{"name":"a","name":"b","items":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var d doc
		err := strictjson.Decode(data, &d, 1<<10)
		if err != nil {
			if !errors.Is(err, strictjson.ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		var plain doc
		if err := json.Unmarshal(data, &plain); err != nil {
			t.Fatalf("strict accepted what encoding/json refuses: %v", err)
		}
		a, _ := json.Marshal(d)
		b, _ := json.Marshal(plain)
		if string(a) != string(b) {
			t.Fatalf("strict read %s, encoding/json %s", a, b)
		}
	})
}
