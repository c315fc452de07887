package situation

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseFilter(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	d := func(s string) time.Time { t, _ := time.Parse(time.RFC3339, s); return t }
	for _, c := range []struct {
		from, to, hours string
		want            Filter
		err             string
	}{
		{"", "", "", Filter{}, ""},
		{"2026-05-01", "", "", Filter{From: d("2026-05-01T00:00:00Z")}, ""},
		{"2026-05-01T14:30Z", "2026-05-02T00:00:00+08:00", "", Filter{From: d("2026-05-01T14:30:00Z"), To: d("2026-05-01T16:00:00Z")}, ""},
		{" 2026-05-01 14:30 ", "", "", Filter{From: d("2026-05-01T14:30:00Z")}, ""},
		{"", "", "6", Filter{From: d("2026-05-01T06:00:00Z"), To: d("2026-05-01T18:00:00Z"), Hours: 6}, ""},
		{"tomorrow", "", "", Filter{}, `from "tomorrow" is not a time like`},
		{"", "2026-13-01", "", Filter{}, `to "2026-13-01" is not a time like`},
		{"2026-05-02", "2026-05-01", "", Filter{}, "is not before to"},
		{"2026-05-01", "2026-05-01", "", Filter{}, "is not before to"},
		{"1999-12-31", "", "", Filter{}, "the year must be 2000-2199"},
		{"", "", "0", Filter{}, "not a whole number from 1 to 9600"},
		{"", "", "9601", Filter{}, "not a whole number from 1 to 9600"},
		{"", "", "1.5", Filter{}, "not a whole number"},
		{"2026-05-01", "", "3", Filter{}, "not both"},
	} {
		got, err := ParseFilter(c.from, c.to, c.hours, now)
		if c.err != "" {
			if !errors.Is(err, ErrFilter) || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q %q %q: %v, want %q", c.from, c.to, c.hours, err, c.err)
			}
			continue
		}
		if err != nil || !got.From.Equal(c.want.From) || !got.To.Equal(c.want.To) || got.Hours != c.want.Hours {
			t.Errorf("%q %q %q: %+v %v, want %+v", c.from, c.to, c.hours, got, err, c.want)
		}
	}
}

func TestShows(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 5, 1, h, 0, 0, 0, time.UTC) }
	f := Filter{From: at(6), To: at(12)}
	for _, c := range []struct {
		a, b time.Time
		want bool
	}{
		{at(1), at(5), false}, // ends before
		{at(1), at(6), true},  // ends as the window opens
		{at(7), time.Time{}, true},
		{at(12), at(20), true}, // starts as it closes
		{at(13), at(20), false},
		{at(1), at(20), true}, // spans it
	} {
		if got := f.Shows(c.a, c.b); got != c.want {
			t.Errorf("[%v, %v]: %v, want %v", c.a, c.b, got, c.want)
		}
	}
	if !(Filter{}).Shows(at(1), at(2)) {
		t.Error("an open filter hides something")
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range [][3]string{{"2026-05-01", "2026-05-02", ""}, {"", "", "6"}, {"2026-05-01T14:30Z", "", ""}, {"x", "y", "z"}} {
		f.Add(s[0], s[1], s[2])
	}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, from, to, hours string) {
		got, err := ParseFilter(from, to, hours, now)
		if err != nil {
			if !errors.Is(err, ErrFilter) {
				t.Fatalf("error not ErrFilter: %v", err)
			}
			return
		}
		if !got.From.IsZero() && !got.To.IsZero() && !got.From.Before(got.To) {
			t.Fatalf("accepted an empty window: %+v", got)
		}
	})
}

// TestNamesComplete: every word of the map is in both languages.
func TestNamesComplete(t *testing.T) {
	for k := range names["en"] {
		if names["zh-Hans"][k] == "" {
			t.Errorf("%q has no Chinese", k)
		}
	}
	if len(names["en"]) != len(names["zh-Hans"]) {
		t.Error("the languages have different words")
	}
}
