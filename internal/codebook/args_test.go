package codebook_test

import (
	"errors"
	"strings"
	"testing"

	"hotline/internal/codebook"
)

// TestParseArg: what a person types becomes the parameter's JSON value,
// which the codebook then checks; what cannot be read is refused naming
// the type, and a parameter the phrase lacks naming the phrase's own.
func TestParseArg(t *testing.T) {
	cb := codebook.Default()
	good := []struct {
		code, param, text, want string
	}{
		{"MNV08", "course", "090", "90"},
		{"MNV08", "course", "45°", "45"},
		{"MNV08", "speed", "12.50", "12.5"},
		{"MNV20", "distance", " 2 ", "2"},
		{"SAF12", "distance", "5", "5"},
		{"COM04", "channel", "16", "16"},
		{"COM05", "frequency", "121.5", "121.5"},
		{"ACT08", "start", "2026-05-01T14:30Z", `"2026-05-01T14:30:00Z"`},
		{"ACT08", "start", "2026-05-01T22:30:00+08:00", `"2026-05-01T14:30:00Z"`},
		{"ACT08", "start", `"2026-05-01T14:30:00Z"`, `"2026-05-01T14:30:00Z"`},
		{"REQ04", "position", "16.5, 112.25", `{"lat":16.5,"lon":112.25}`},
		{"REQ04", "position", `{"lat":16.5,"lon":112.25}`, `{"lat":16.5,"lon":112.25}`},
		{"COM02", "unit", "Frigate 548", `"Frigate 548"`},
		{"ANS05", "reason", `a "fishing" fleet`, `"a \"fishing\" fleet"`},
	}
	for _, tt := range good {
		raw, err := cb.ParseArg(tt.code, tt.param, tt.text)
		if err != nil || string(raw) != tt.want {
			t.Errorf("ParseArg(%s, %s, %q) = %s, %v; want %s", tt.code, tt.param, tt.text, raw, err, tt.want)
			continue
		}
	}
	bad := []struct {
		code, param, text string
		is                error
		want              string
	}{
		{"MNV08", "course", "east", codebook.ErrParamValue, `course: "east" is not a whole number`},
		{"MNV08", "speed", "fast", codebook.ErrParamValue, `speed: "fast" is not a number`},
		{"MNV08", "speed", "1e3", codebook.ErrParamValue, "not a number"},
		{"ACT08", "start", "tomorrow", codebook.ErrParamValue, "not a time"},
		{"REQ04", "position", "16.5", codebook.ErrParamValue, "LAT,LON"},
		{"MNV08", "heading", "90", codebook.ErrExtraParam, "MNV08 takes course, speed"},
		{"MNV99", "course", "90", codebook.ErrUnknownCode, "MNV99"},
	}
	for _, tt := range bad {
		_, err := cb.ParseArg(tt.code, tt.param, tt.text)
		if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseArg(%s, %s, %q) = %v; want %v about %q", tt.code, tt.param, tt.text, err, tt.is, tt.want)
		}
	}
}
