package codebook

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"hotline/internal/strictjson"
)

// Type is the type of a phrase parameter. Each type fixes the JSON form
// of a value, its range, and how it is written in each language.
type Type string

// Parameter types.
const (
	TypeCourse         Type = "course"          // integer degrees true, 0-359
	TypeBearing        Type = "bearing"         // integer degrees true, 0-359
	TypeSpeed          Type = "speed"           // knots, 0-2000, at most one decimal
	TypeDistanceNM     Type = "distance_nm"     // nautical miles, 0-9999, at most one decimal
	TypeDistanceCables Type = "distance_cables" // cables (0.1 nautical mile), integer 0-99
	TypeTime           Type = "time"            // "2026-05-01T14:30:00Z": UTC, whole minutes
	TypePosition       Type = "position"        // {"lat": 16.5, "lon": 112.25}, WGS84 decimal degrees
	TypeUnit           Type = "unit"            // a unit's name, hull number or call sign, 1-64 bytes
	TypeText           Type = "text"            // short free text, 1-200 bytes, shown as written
	TypeVHFChannel     Type = "vhf_channel"     // marine VHF channel, 1-28 or 60-88
	TypeFrequencyMHz   Type = "frequency_mhz"   // megahertz, above 0 and at most 3000, at most three decimals
	TypeAltitudeFt     Type = "altitude_ft"     // feet, integer 0-99999
)

// Position is a point in WGS84 decimal degrees: latitude -90 to 90 (north
// positive), longitude -180 to 180 (east positive).
type Position struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Check reports a latitude or longitude out of range.
func (p Position) Check() error {
	switch {
	case math.IsNaN(p.Lat) || p.Lat < -90 || p.Lat > 90:
		return fmt.Errorf("latitude %v is not between -90 and 90", p.Lat)
	case math.IsNaN(p.Lon) || p.Lon < -180 || p.Lon > 180:
		return fmt.Errorf("longitude %v is not between -180 and 180", p.Lon)
	}
	return nil
}

// Format writes p in degrees and decimal minutes, as charts and
// mariners do: "16°30.00′N 112°15.00′E" in English, "北纬16°30.00′、东经112°15.00′"
// in Chinese.
func (p Position) Format(lang string) string {
	latD, latM := degMin(p.Lat)
	lonD, lonM := degMin(p.Lon)
	lat := fmt.Sprintf("%02d°%05.2f′", latD, latM)
	lon := fmt.Sprintf("%03d°%05.2f′", lonD, lonM)
	ns, ew := "N", "E"
	if p.Lat < 0 {
		ns = "S"
	}
	if p.Lon < 0 {
		ew = "W"
	}
	if lang == "zh-Hans" {
		ns = map[string]string{"N": "北纬", "S": "南纬"}[ns]
		ew = map[string]string{"E": "东经", "W": "西经"}[ew]
		return ns + lat + "、" + ew + lon
	}
	return lat + ns + " " + lon + ew
}

// degMin splits |v| degrees into whole degrees and minutes rounded to a
// hundredth.
func degMin(v float64) (int, float64) {
	v = math.Abs(v)
	d := math.Floor(v)
	m := math.Round((v-d)*60*100) / 100
	if m >= 60 {
		d, m = d+1, 0
	}
	return int(d), m
}

// value is a checked parameter value.
type value struct {
	num string // canonical decimal text
	t   time.Time
	pos Position
	str string
}

type typeInfo struct {
	en, zh string // for a person filling in a form
	check  func(raw json.RawMessage) (value, error)
	render func(v value, lang string) string
}

var types = map[Type]typeInfo{
	TypeCourse:         {"course in degrees true, 0-359", "航向，真方位度数，0-359", integer(0, 359), degrees},
	TypeBearing:        {"bearing in degrees true, 0-359", "方位，真方位度数，0-359", integer(0, 359), degrees},
	TypeSpeed:          {"speed in knots, 0-2000, at most one decimal", "航速（节），0-2000，最多一位小数", decimal(0, 2000, 1), unit("knot", "knots", "节")},
	TypeDistanceNM:     {"distance in nautical miles, 0-9999, at most one decimal", "距离（海里），0-9999，最多一位小数", decimal(0, 9999, 1), unit("nautical mile", "nautical miles", "海里")},
	TypeDistanceCables: {"distance in cables, 0-99", "距离（链），0-99", integer(0, 99), unit("cable", "cables", "链")},
	TypeTime:           {"time in UTC to the minute, e.g. 2026-05-01T14:30:00Z", "协调世界时，精确到分钟，例如 2026-05-01T14:30:00Z", checkTime, renderTime},
	TypePosition:       {"position in WGS84 decimal degrees, {\"lat\": 16.5, \"lon\": 112.25}", "WGS84位置，十进制度数，{\"lat\": 16.5, \"lon\": 112.25}", checkPosition, func(v value, lang string) string { return v.pos.Format(lang) }},
	TypeUnit:           {"unit name, hull number or call sign, 1-64 bytes", "单位名称、舷号或呼号，1-64字节", text(64), verbatim},
	TypeText:           {"short free text, 1-200 bytes, shown as written", "简短自由文本，1-200字节，按原文显示", text(200), quoted},
	TypeVHFChannel:     {"marine VHF channel, 1-28 or 60-88", "海上甚高频频道，1-28或60-88", vhfChannel, renderChannel},
	TypeFrequencyMHz:   {"frequency in MHz, up to 3000, at most three decimals", "频率（兆赫），不超过3000，最多三位小数", frequency, renderFrequency},
	TypeAltitudeFt:     {"altitude in feet, 0-99999", "高度（英尺），0-99999", integer(0, 99999), unit("foot", "feet", "英尺")},
}

var (
	integerRE = regexp.MustCompile(`^(0|[1-9][0-9]{0,5})$`)
	decimalRE = regexp.MustCompile(`^(0|[1-9][0-9]{0,5})(\.[0-9]{1,3})?$`)
)

func integer(lo, hi int) func(json.RawMessage) (value, error) {
	return func(raw json.RawMessage) (value, error) {
		s := string(raw)
		if !integerRE.MatchString(s) {
			return value{}, fmt.Errorf("%s is not a whole number from %d to %d", s, lo, hi)
		}
		n, _ := strconv.Atoi(s)
		if n < lo || n > hi {
			return value{}, fmt.Errorf("%d is out of range %d-%d", n, lo, hi)
		}
		return value{num: s}, nil
	}
}

// decimal accepts a non-negative number with at most places decimals,
// written without an exponent, so that its text is its exact value.
func decimal(lo, hi float64, places int) func(json.RawMessage) (value, error) {
	return func(raw json.RawMessage) (value, error) {
		s := string(raw)
		_, frac, _ := strings.Cut(s, ".")
		if !decimalRE.MatchString(s) || len(frac) > places {
			return value{}, fmt.Errorf("%s is not a number from %g to %g with at most %d decimal(s)", s, lo, hi, places)
		}
		f, _ := strconv.ParseFloat(s, 64)
		if f < lo || f > hi {
			return value{}, fmt.Errorf("%s is out of range %g-%g", s, lo, hi)
		}
		return value{num: s}, nil
	}
}

func vhfChannel(raw json.RawMessage) (value, error) {
	v, err := integer(1, 88)(raw)
	if err != nil {
		return v, err
	}
	if n, _ := strconv.Atoi(v.num); n > 28 && n < 60 {
		return value{}, fmt.Errorf("%d is not a marine VHF channel (1-28, 60-88)", n)
	}
	return v, nil
}

func frequency(raw json.RawMessage) (value, error) {
	v, err := decimal(0, 3000, 3)(raw)
	if err != nil {
		return v, err
	}
	if f, _ := strconv.ParseFloat(v.num, 64); f == 0 {
		return value{}, errors.New("frequency 0 MHz")
	}
	return v, nil
}

func checkTime(raw json.RawMessage) (value, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return value{}, fmt.Errorf("%s is not a string", raw)
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil || !strings.HasSuffix(s, "Z") || t.Second() != 0 || t.Nanosecond() != 0 {
		return value{}, fmt.Errorf("%q is not a UTC time to the minute like 2026-05-01T14:30:00Z", s)
	}
	if t.Year() < 2000 || t.Year() > 2199 {
		return value{}, fmt.Errorf("%q is not between the years 2000 and 2199", s)
	}
	return value{t: t}, nil
}

func renderTime(v value, lang string) string {
	if lang == "zh-Hans" {
		return v.t.Format("2006年1月2日15:04（UTC）")
	}
	return v.t.Format("15:04 UTC 2 January 2006")
}

func checkPosition(raw json.RawMessage) (value, error) {
	var pos Position
	if err := strictjson.Decode(raw, &pos, 200); err != nil {
		return value{}, fmt.Errorf("%.60s is not {\"lat\": degrees, \"lon\": degrees}", raw)
	}
	if err := pos.Check(); err != nil {
		return value{}, err
	}
	return value{pos: pos}, nil
}

func text(limit int) func(json.RawMessage) (value, error) {
	return func(raw json.RawMessage) (value, error) {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return value{}, fmt.Errorf("%.40s is not a string", raw)
		}
		if err := checkText(s, limit); err != nil {
			return value{}, err
		}
		return value{str: s}, nil
	}
}

func renderChannel(v value, lang string) string {
	if lang == "zh-Hans" {
		return v.num + "频道"
	}
	return "channel " + v.num
}

func renderFrequency(v value, lang string) string {
	f, _ := strconv.ParseFloat(v.num, 64)
	if lang == "zh-Hans" {
		return strconv.FormatFloat(f, 'f', 3, 64) + "兆赫"
	}
	return strconv.FormatFloat(f, 'f', 3, 64) + " MHz"
}

func verbatim(v value, lang string) string { return v.str }

// quoted marks a text parameter as the sender's own words.
func quoted(v value, lang string) string { return "“" + v.str + "”" }

func degrees(v value, lang string) string {
	n, _ := strconv.Atoi(v.num)
	return fmt.Sprintf("%03d°", n)
}

func unit(one, many, zh string) func(value, string) string {
	return func(v value, lang string) string {
		switch {
		case lang == "zh-Hans":
			return v.num + zh
		case v.num == "1":
			return v.num + " " + one
		}
		return v.num + " " + many
	}
}
