// Package deconflict holds the structured entries that keep two parties'
// ships and aircraft apart, and the checks that find danger before people
// do.
//
// Entries: notices of activities (exercise, live fire, missile launch, air
// patrol, transit, survey) with an area, an altitude or depth band and a
// time window; encounter reports (two tracks, the closest approach
// observed, the standard phrases exchanged on scene); and incidents, whose
// lifecycle (open, acknowledged, under discussion, closing, closed) both
// parties write as signed entries. Each is a JSON body with a strict
// decoder that names the field at fault.
//
// Checks: Overlaps finds planned activities that come within a safety
// margin of notified ones in space, height and time; ClosestApproach
// predicts the closest point of approach of two reported tracks. Each
// finding carries its geometry, its time window and a suggested coded
// message from the codebook. Spherical geometry is github.com/golang/geo
// (s2). Nothing here reads a clock, a disk or a socket: the time is always
// an argument. The formats and rules are in docs/DECONFLICTION.md.
package deconflict

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"hotline/internal/identity"
)

// Errors a caller can test for with errors.Is.
var (
	ErrNotice     = errors.New("notice is not valid")
	ErrReport     = errors.New("encounter report is not valid")
	ErrIncident   = errors.New("incident entry is not valid")
	ErrTransition = errors.New("incident step is not allowed")
	ErrTrack      = errors.New("track is not valid")
)

// Limits on bodies.
const (
	MaxBody        = 32 << 10 // bytes of one encoded notice, report or incident entry
	MaxText        = 4000     // bytes of a description or note
	MaxTitle       = 200      // bytes of a title
	MaxUnits       = 32       // units named in one notice
	MaxLinks       = 64       // entries linked by one incident entry
	MaxVertices    = 100      // of a polygon
	MaxExtentNM    = 1500     // an area fits in a circle of this radius
	MaxWindow      = 400 * 24 * time.Hour
	MaxSpeedKn     = 2000
	MaxAltitudeM   = 1_000_000 // a ballistic missile's apogee
	MinAltitudeM   = -11_000   // the deepest ocean
	earliestYear   = 2000
	latestYear     = 2199
	maxNameLen     = 64
	maxSaid        = 32
	maxReportCPANM = 100
)

// EntryRef names an entry of a channel transcript: the author's log on
// the channel and the entry's index in it.
type EntryRef struct {
	Channel string `json:"channel"`
	Author  string `json:"author"`
	Index   uint64 `json:"index"`
}

func (r EntryRef) String() string { return fmt.Sprintf("%s/%s/%d", r.Channel, r.Author, r.Index) }

func (r EntryRef) check() error {
	if err := identity.CheckName("channel", r.Channel); err != nil {
		return err
	}
	if err := identity.CheckName("author", r.Author); err != nil {
		return err
	}
	if r.Index == 0 {
		return errors.New("index 0: entries are numbered from 1")
	}
	return nil
}

// Window is a time interval [From, To).
type Window struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

func (w Window) check() error {
	if err := checkTime(w.From); err != nil {
		return fmt.Errorf("from: %v", err)
	}
	if err := checkTime(w.To); err != nil {
		return fmt.Errorf("to: %v", err)
	}
	if !w.To.After(w.From) {
		return fmt.Errorf("ends (%s) before it starts (%s)", w.To.UTC().Format(time.RFC3339), w.From.UTC().Format(time.RFC3339))
	}
	if w.To.Sub(w.From) > MaxWindow {
		return fmt.Errorf("lasts %s, limit %s", w.To.Sub(w.From), MaxWindow)
	}
	return nil
}

func checkTime(t time.Time) error {
	if y := t.UTC().Year(); y < earliestYear || y > latestYear {
		return fmt.Errorf("%s is not between the years %d and %d", t.UTC().Format(time.RFC3339), earliestYear, latestYear)
	}
	return nil
}

// Band is a vertical extent in metres above mean sea level; depths are
// negative. A submarine exercise might be -300 to 0, an air patrol 300 to
// 9000, a missile launch 0 to 500000.
type Band struct {
	LowM  float64 `json:"low_m"`
	HighM float64 `json:"high_m"`
}

func (b *Band) check() error {
	switch {
	case b.LowM < MinAltitudeM || b.LowM > MaxAltitudeM:
		return fmt.Errorf("low_m %v is not between %d and %d", b.LowM, MinAltitudeM, MaxAltitudeM)
	case b.HighM < MinAltitudeM || b.HighM > MaxAltitudeM:
		return fmt.Errorf("high_m %v is not between %d and %d", b.HighM, MinAltitudeM, MaxAltitudeM)
	case b.HighM < b.LowM:
		return fmt.Errorf("high_m %v is below low_m %v", b.HighM, b.LowM)
	}
	return nil
}

var langRE = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$`)

// checkFree checks text a person wrote: within limit bytes, valid UTF-8,
// no control or invisible formatting characters except line breaks when
// lines is set.
func checkFree(s string, limit int, lines bool) error {
	switch {
	case strings.TrimSpace(s) == "":
		return errors.New("empty")
	case len(s) > limit:
		return fmt.Errorf("%d bytes, limit %d", len(s), limit)
	case !utf8.ValidString(s):
		return errors.New("not valid UTF-8")
	}
	for _, r := range s {
		if (r != '\n' || !lines) && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r)) {
			return fmt.Errorf("control or formatting character %U", r)
		}
	}
	return nil
}

// checkLang checks the language tag of free text, needed when any is set.
func checkLang(lang string, texts ...string) error {
	for _, t := range texts {
		if t != "" && !langRE.MatchString(lang) {
			return fmt.Errorf("lang %q: free text needs its language as a BCP 47 tag such as en or zh-Hans", lang)
		}
	}
	if lang != "" && !langRE.MatchString(lang) {
		return fmt.Errorf("lang %q is not a BCP 47 tag such as en or zh-Hans", lang)
	}
	return nil
}

func checkCourse(c float64) error {
	if math.IsNaN(c) || c < 0 || c >= 360 {
		return fmt.Errorf("course %v is not from 0 to less than 360 degrees", c)
	}
	return nil
}

func checkSpeed(s float64) error {
	if math.IsNaN(s) || s < 0 || s > MaxSpeedKn {
		return fmt.Errorf("speed %v is not from 0 to %d knots", s, MaxSpeedKn)
	}
	return nil
}

// fieldError prefixes err with the field path and wraps it in kind.
func fieldError(kind error, field string, err error) error {
	return fmt.Errorf("%w: %s: %v", kind, field, err)
}
