// Package strictjson decodes the JSON bodies of signed entries so that two
// stations reading the same bytes cannot see different values.
//
// encoding/json alone is lenient in ways that matter for signed data: of
// two members with the same name the last wins (another parser may take
// the first), "CODE" fills the field "code", invalid UTF-8 becomes U+FFFD,
// null leaves a field unset and is indistinguishable from an absent one,
// and a missing member silently reads as zero (a position with no "lat" is
// on the equator). Decode refuses all of these, and unknown fields, trailing
// data and bodies over a size limit, with an error that names the place in
// the document ("items[2].params.course").
//
// A struct field is required unless its json tag says omitempty or
// omitzero.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode/utf8"
)

// ErrInvalid marks a document Decode refused.
var ErrInvalid = errors.New("invalid JSON")

// MaxDepth is the deepest nesting of objects and arrays Decode accepts.
const MaxDepth = 32

// Decode parses data, at most limit bytes of one JSON value, into v (a
// pointer). Every error wraps ErrInvalid.
func Decode(data []byte, v any, limit int) error {
	if len(data) > limit {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrInvalid, len(data), limit)
	}
	if !utf8.Valid(data) {
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalid)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := walk(dec, reflect.TypeOf(v), "", 0); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the JSON value", ErrInvalid)
	}
	dec = json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return nil
}

var unmarshaler = reflect.TypeFor[json.Unmarshaler]()

// walk reads one value from dec and checks its member names against t, the
// Go type it will be decoded into. A nil t accepts any names (a map key,
// json.RawMessage, a type with its own UnmarshalJSON); duplicates and null
// are refused everywhere.
func walk(dec *json.Decoder, t reflect.Type, path string, depth int) error {
	if depth > MaxDepth {
		return fmt.Errorf("%s: nested deeper than %d", at(path), MaxDepth)
	}
	t = deref(t)
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%s: %v", at(path), err)
	}
	d, ok := tok.(json.Delim)
	if tok == nil {
		return fmt.Errorf("%s: null is not allowed", at(path))
	}
	if !ok {
		return nil
	}
	switch d {
	case '{':
		fields, required, named := fieldTypes(t)
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return fmt.Errorf("%s: %v", at(path), err)
			}
			key := kt.(string)
			if seen[key] {
				return fmt.Errorf("%s: member %q appears twice", at(path), key)
			}
			seen[key] = true
			var ft reflect.Type
			if named {
				var ok bool
				if ft, ok = fields[key]; !ok {
					return fmt.Errorf("%s: unknown field %q", at(path), key)
				}
			} else if t != nil && t.Kind() == reflect.Map {
				ft = t.Elem()
			}
			if err := walk(dec, ft, join(path, key), depth+1); err != nil {
				return err
			}
		}
		for _, name := range required {
			if !seen[name] {
				return fmt.Errorf("%s: missing field %q", at(path), name)
			}
		}
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if err := walk(dec, elem, fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
				return err
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
		return fmt.Errorf("%s: %v", at(path), err)
	}
	return nil
}

// deref strips pointers, and returns nil for types whose JSON is their own
// business (json.RawMessage, time.Time and other Unmarshalers, interfaces).
func deref(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() == reflect.Interface || reflect.PointerTo(t).Implements(unmarshaler) {
		return nil
	}
	return t
}

// fieldTypes maps the JSON member names of struct type t to their types,
// and lists the required ones in field order. named is false when t is not
// a struct.
func fieldTypes(t reflect.Type) (fields map[string]reflect.Type, required []string, named bool) {
	if t == nil || t.Kind() != reflect.Struct {
		return nil, nil, false
	}
	fields = map[string]reflect.Type{}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		fields[name] = f.Type
		optional := false
		for o := range strings.SplitSeq(opts, ",") {
			optional = optional || o == "omitempty" || o == "omitzero"
		}
		if !optional {
			required = append(required, name)
		}
	}
	return fields, required, true
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func at(path string) string {
	if path == "" {
		return "body"
	}
	return path
}
