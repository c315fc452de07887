package deconflict

import (
	"encoding/json"
	"fmt"
	"slices"

	"hotline/internal/envelope"
	"hotline/internal/identity"
	"hotline/internal/strictjson"
)

// Kind is the kind of activity a notice announces.
type Kind string

// Kinds of activity, as in the 2014 US-China memorandum on notification of
// major military activities.
const (
	Exercise      Kind = "exercise"
	LiveFire      Kind = "live_fire"
	MissileLaunch Kind = "missile_launch"
	AirPatrol     Kind = "air_patrol"
	Transit       Kind = "transit"
	Survey        Kind = "survey"
	Other         Kind = "other"
)

// Kinds lists every kind.
var Kinds = []Kind{Exercise, LiveFire, MissileLaunch, AirPatrol, Transit, Survey, Other}

var kindText = map[Kind][2]string{
	Exercise:      {"exercise", "演习"},
	LiveFire:      {"live fire", "实弹射击"},
	MissileLaunch: {"missile launch", "导弹发射"},
	AirPatrol:     {"air patrol", "空中巡逻"},
	Transit:       {"transit", "过航"},
	Survey:        {"survey", "测量"},
	Other:         {"other activity", "其他活动"},
}

// Text names the kind in a language ("en" or "zh-Hans").
func (k Kind) Text(lang string) string {
	t, ok := kindText[k]
	if !ok {
		return string(k)
	}
	if lang == "zh-Hans" {
		return t[1]
	}
	return t[0]
}

// hazardous reports whether the activity endangers others in its area, so
// that they should keep clear rather than merely know of it.
func (k Kind) hazardous() bool { return k == LiveFire || k == MissileLaunch }

// Notice announces an activity: what, where (area and band), when, by
// whom, and the channel to call about it.
type Notice struct {
	Kind        Kind      `json:"kind"`
	Title       string    `json:"title,omitempty"`
	Description string    `json:"description,omitempty"`
	Lang        string    `json:"lang,omitempty"` // of Title and Description, as written
	Area        Area      `json:"area"`
	Band        *Band     `json:"band,omitempty"` // absent: every altitude and depth
	Window      Window    `json:"window"`
	Units       []string  `json:"units"`
	Call        string    `json:"call"`               // the channel to call about the activity
	Replaces    *EntryRef `json:"replaces,omitempty"` // an earlier notice this one amends
	// Broadcast links the copies of a notice sent to several parties in
	// one act, one entry on each party's channel (envelope.CheckBroadcast).
	Broadcast string `json:"broadcast,omitempty"`
}

// DecodeNotice parses and checks a notice body.
func DecodeNotice(p []byte) (*Notice, error) {
	var n Notice
	if err := strictjson.Decode(p, &n, MaxBody); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotice, err)
	}
	if err := n.Check(); err != nil {
		return nil, err
	}
	return &n, nil
}

// DecodeNoticeTemplate parses and checks a notice to be sent to several
// parties, whose channel to call each party's copy sets: its call may be
// empty.
func DecodeNoticeTemplate(p []byte) (*Notice, error) {
	var n Notice
	if err := strictjson.Decode(p, &n, MaxBody); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotice, err)
	}
	if err := n.CheckTemplate(); err != nil {
		return nil, err
	}
	return &n, nil
}

// CheckTemplate is Check for a notice to several parties, whose call
// each party's copy sets: an empty call is not reported.
func (n *Notice) CheckTemplate() error {
	c := *n
	if c.Call == "" {
		c.Call = "call"
	}
	return c.Check()
}

// Encode returns the notice's JSON body.
func (n *Notice) Encode() ([]byte, error) { return json.Marshal(n) }

// Check reports the first field of n that is not valid.
func (n *Notice) Check() error {
	_, err := n.check()
	return err
}

func (n *Notice) check() (*region, error) {
	bad := func(field string, err error) (*region, error) { return nil, fieldError(ErrNotice, field, err) }
	if !slices.Contains(Kinds, n.Kind) {
		return bad("kind", fmt.Errorf("%q is not one of %v", n.Kind, Kinds))
	}
	if n.Title != "" {
		if err := checkFree(n.Title, MaxTitle, false); err != nil {
			return bad("title", err)
		}
	}
	if n.Description != "" {
		if err := checkFree(n.Description, MaxText, true); err != nil {
			return bad("description", err)
		}
	}
	if n.Kind == Other && n.Description == "" {
		return bad("description", fmt.Errorf("a notice of kind other needs a description"))
	}
	if err := checkLang(n.Lang, n.Title, n.Description); err != nil {
		return bad("lang", err)
	}
	r, err := n.Area.region()
	if err != nil {
		return bad("area", err)
	}
	if n.Band != nil {
		if err := n.Band.check(); err != nil {
			return bad("band", err)
		}
	}
	if err := n.Window.check(); err != nil {
		return bad("window", err)
	}
	if len(n.Units) == 0 || len(n.Units) > MaxUnits {
		return bad("units", fmt.Errorf("%d units, want 1-%d", len(n.Units), MaxUnits))
	}
	for i, u := range n.Units {
		if err := checkFree(u, maxNameLen, false); err != nil {
			return bad(fmt.Sprintf("units[%d]", i), err)
		}
		if slices.Contains(n.Units[:i], u) {
			return bad(fmt.Sprintf("units[%d]", i), fmt.Errorf("%q is listed twice", u))
		}
	}
	if err := identity.CheckName("channel to call", n.Call); err != nil {
		return bad("call", err)
	}
	if n.Replaces != nil {
		if err := n.Replaces.check(); err != nil {
			return bad("replaces", err)
		}
	}
	if n.Broadcast != "" {
		if err := envelope.CheckBroadcast(n.Broadcast); err != nil {
			return bad("broadcast", err)
		}
	}
	return r, nil
}
