package codebook

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseArg turns a parameter value as a person types it into the JSON
// value the phrase's parameter takes: "90" or "090°" for a course, "12.5"
// for a speed, "16.5,112.25" for a position, "2026-05-01T14:30Z" for a
// time, any text for a unit or text parameter. A JSON value of the right
// form ({"lat":…,"lon":…}, a quoted time) is taken as it is. The value is
// not range-checked here: Validate does that, naming the item.
func (c *Codebook) ParseArg(code, param, text string) (json.RawMessage, error) {
	p, ok := c.phrases[code]
	if !ok {
		return nil, fmt.Errorf("%w %s in codebook %s", ErrUnknownCode, code, c.Version())
	}
	for _, a := range p.Params {
		if a.Name == param {
			raw, err := ParseValue(a.Type, text)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrParamValue, a.Type, err)
			}
			return raw, nil
		}
	}
	return nil, fmt.Errorf("%w: %s takes %s", ErrExtraParam, code, paramList(p.Params))
}

// ParseValue turns text into the JSON form of a value of type t (see
// ParseArg).
func ParseValue(t Type, text string) (json.RawMessage, error) {
	s := strings.TrimSpace(text)
	switch t {
	case TypeCourse, TypeBearing:
		s = strings.TrimSuffix(s, "°")
		fallthrough
	case TypeDistanceCables, TypeVHFChannel, TypeAltitudeFt:
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", text)
		}
		return json.RawMessage(strconv.Itoa(n)), nil
	case TypeSpeed, TypeDistanceNM, TypeFrequencyMHz:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || strings.ContainsAny(s, "eEnNiI") {
			return nil, fmt.Errorf("%q is not a number", text)
		}
		return json.RawMessage(strconv.FormatFloat(f, 'f', -1, 64)), nil
	case TypeTime:
		if strings.HasPrefix(s, `"`) {
			return json.RawMessage(s), nil
		}
		for _, layout := range []string{time.RFC3339, "2006-01-02T15:04Z07:00", "2006-01-02 15:04Z07:00"} {
			if at, err := time.Parse(layout, s); err == nil {
				return json.Marshal(at.UTC().Format(time.RFC3339))
			}
		}
		return nil, fmt.Errorf("%q is not a time like 2026-05-01T14:30Z", text)
	case TypePosition:
		if strings.HasPrefix(s, "{") {
			return json.RawMessage(s), nil
		}
		lat, lon, ok := strings.Cut(s, ",")
		if !ok {
			return nil, fmt.Errorf("%q is not LAT,LON in decimal degrees, e.g. 16.5,112.25", text)
		}
		var p Position
		var err1, err2 error
		p.Lat, err1 = strconv.ParseFloat(strings.TrimSpace(lat), 64)
		p.Lon, err2 = strconv.ParseFloat(strings.TrimSpace(lon), 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%q is not LAT,LON in decimal degrees, e.g. 16.5,112.25", text)
		}
		return json.Marshal(p)
	case TypeUnit, TypeText:
		return json.Marshal(text)
	}
	return nil, fmt.Errorf("unknown type %q", t)
}
