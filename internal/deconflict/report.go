package deconflict

import (
	"encoding/json"
	"fmt"
	"time"

	"hotline/internal/codebook"
	"hotline/internal/strictjson"
)

// Report is an encounter report: where two units met, how they moved, how
// close they came, what was said on scene, and what the reporter saw.
type Report struct {
	Time        time.Time   `json:"time"` // of the two tracks
	Own         Track       `json:"own"`
	Other       Track       `json:"other"`
	CPA         ObservedCPA `json:"cpa"`
	Unsafe      bool        `json:"unsafe,omitempty"` // the reporter judges the encounter unsafe
	Said        []Said      `json:"said,omitempty"`
	Description string      `json:"description,omitempty"`
	Lang        string      `json:"lang,omitempty"` // of Description, as written
}

// Track is a unit's position, course and speed at the report's time.
type Track struct {
	Unit     string            `json:"unit"`
	Position codebook.Position `json:"position"`
	Course   float64           `json:"course"` // degrees true, 0 to less than 360
	SpeedKn  float64           `json:"speed_kn"`
}

// ObservedCPA is the closest point of approach the reporter observed.
type ObservedCPA struct {
	DistanceNM float64   `json:"distance_nm"`
	Time       time.Time `json:"time"`
}

// Said is a coded message exchanged on scene (over VHF, by flags or
// lights), as the reporter logged it.
type Said struct {
	Time    time.Time        `json:"time"`
	By      string           `json:"by"` // "own" or "other"
	Message codebook.Message `json:"message"`
}

// DecodeReport parses a report body and checks it, its on-scene messages
// against cb.
func DecodeReport(p []byte, cb *codebook.Codebook) (*Report, error) {
	var r Report
	if err := strictjson.Decode(p, &r, MaxBody); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrReport, err)
	}
	if err := r.Check(cb); err != nil {
		return nil, err
	}
	if len(r.Said) == 0 {
		r.Said = nil // "said": [] and nothing said are the same
	}
	return &r, nil
}

// Encode returns the report's JSON body.
func (r *Report) Encode() ([]byte, error) { return json.Marshal(r) }

// Check reports the first field of r that is not valid.
func (r *Report) Check(cb *codebook.Codebook) error {
	bad := func(field string, err error) error { return fieldError(ErrReport, field, err) }
	if err := checkTime(r.Time); err != nil {
		return bad("time", err)
	}
	if err := r.Own.check(); err != nil {
		return bad("own", err)
	}
	if err := r.Other.check(); err != nil {
		return bad("other", err)
	}
	if c := r.CPA.DistanceNM; c < 0 || c > maxReportCPANM {
		return bad("cpa.distance_nm", fmt.Errorf("%v is not from 0 to %d", c, maxReportCPANM))
	}
	if d := r.CPA.Time.Sub(r.Time); d < -maxFixAge || d > maxFixAge {
		return bad("cpa.time", fmt.Errorf("%s is more than %s from the report's time", r.CPA.Time.UTC().Format(time.RFC3339), maxFixAge))
	}
	if len(r.Said) > maxSaid {
		return bad("said", fmt.Errorf("%d messages, limit %d", len(r.Said), maxSaid))
	}
	for i, s := range r.Said {
		field := fmt.Sprintf("said[%d]", i)
		if s.By != "own" && s.By != "other" {
			return bad(field+".by", fmt.Errorf("%q is not own or other", s.By))
		}
		if d := s.Time.Sub(r.Time); d < -maxFixAge || d > maxFixAge {
			return bad(field+".time", fmt.Errorf("%s is more than %s from the report's time", s.Time.UTC().Format(time.RFC3339), maxFixAge))
		}
		if err := cb.Validate(&s.Message); err != nil {
			return bad(field+".message", err)
		}
	}
	if r.Description != "" {
		if err := checkFree(r.Description, MaxText, true); err != nil {
			return bad("description", err)
		}
	}
	if err := checkLang(r.Lang, r.Description); err != nil {
		return bad("lang", err)
	}
	return nil
}

func (t *Track) check() error {
	if err := checkFree(t.Unit, maxNameLen, false); err != nil {
		return fmt.Errorf("unit: %v", err)
	}
	if err := t.Position.Check(); err != nil {
		return fmt.Errorf("position: %v", err)
	}
	if err := checkCourse(t.Course); err != nil {
		return err
	}
	return checkSpeed(t.SpeedKn)
}

// Fixes returns the report's two tracks as fixes at the report's time,
// for ClosestApproach.
func (r *Report) Fixes() (own, other Fix) {
	return Fix{r.Own.Position, r.Own.Course, r.Own.SpeedKn, r.Time}, Fix{r.Other.Position, r.Other.Course, r.Other.SpeedKn, r.Time}
}
