package deconflict_test

import (
	"errors"
	"strings"
	"testing"

	"hotline/internal/codebook"
	"hotline/internal/deconflict"
)

// A live-fire notice south of Hainan, in the form a station sends.
const liveFire = `{"kind":"live_fire","title":"Naval gunnery","lang":"en",
"area":{"polygon":[{"lat":17.5,"lon":110.5},{"lat":17.5,"lon":111.5},{"lat":17,"lon":111.5},{"lat":17,"lon":110.5}]},
"band":{"low_m":0,"high_m":8000},
"window":{"from":"2026-05-01T00:00:00Z","to":"2026-05-01T08:00:00Z"},
"units":["Destroyer 173","Frigate 548"],"call":"red-blue.theatre"}`

// edit replaces old with new in s, once, and fails the test if s lacks it.
func edit(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("%q not in %s", old, s)
	}
	return strings.Replace(s, old, new, 1)
}

func TestDecodeNotice(t *testing.T) {
	n, err := deconflict.DecodeNotice([]byte(liveFire))
	if err != nil {
		t.Fatal(err)
	}
	if n.Kind != deconflict.LiveFire || len(n.Area.Polygon) != 4 || n.Band.HighM != 8000 || n.Units[1] != "Frigate 548" {
		t.Errorf("decoded %+v", n)
	}
	body, err := n.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := deconflict.DecodeNotice(body); err != nil {
		t.Fatalf("re-encoded notice: %v", err)
	}

	tests := []struct {
		name, old, new, want string
	}{
		{"unknown kind", `"live_fire"`, `"bombardment"`, `kind: "bombardment" is not one of`},
		{"title without lang", `"lang":"en",`, ``, `lang: lang "": free text needs its language`},
		{"other without description", `"live_fire"`, `"other"`, `description: a notice of kind other needs a description`},
		{"circle and polygon", `"area":{`, `"area":{"circle":{"center":{"lat":0,"lon":0},"radius_nm":1},`, "area: give a circle or a polygon, not both"},
		{"no area", `{"polygon":[{"lat":17.5,"lon":110.5},{"lat":17.5,"lon":111.5},{"lat":17,"lon":111.5},{"lat":17,"lon":110.5}]}`, `{}`, "area: give a circle or a polygon"},
		{"latitude", `{"lat":17.5,"lon":111.5}`, `{"lat":97.5,"lon":111.5}`, "area: polygon[1]: latitude 97.5 is not between -90 and 90"},
		{"longitude", `{"lat":17.5,"lon":111.5}`, `{"lat":17.5,"lon":191.5}`, "area: polygon[1]: longitude 191.5 is not between -180 and 180"},
		{"missing lon", `{"lat":17.5,"lon":111.5}`, `{"lat":17.5}`, `area.polygon[1]: missing field "lon"`},
		{"two vertices", `,{"lat":17,"lon":111.5},{"lat":17,"lon":110.5}`, ``, "area: polygon has 2 vertices, want 3-100"},
		{"closed ring", `{"lat":17,"lon":110.5}]`, `{"lat":17,"lon":110.5},{"lat":17.5,"lon":110.5}]`, "area: polygon[4] repeats polygon[0]: list each vertex once"},
		{"repeated vertex", `{"lat":17,"lon":110.5}]`, `{"lat":17.5,"lon":111.5}]`, "area: polygon[1] and polygon[3] are the same point"},
		{"bow tie", `{"lat":17,"lon":111.5},{"lat":17,"lon":110.5}`, `{"lat":17,"lon":110.5},{"lat":17,"lon":111.5}`, "area: edges polygon[1]-polygon[2] and polygon[3]-polygon[0] cross: the polygon crosses itself"},
		{"spike", `{"lat":17,"lon":110.5}]`, `{"lat":17.25,"lon":111.5}]`, "area: polygon[2] doubles back on the edge before it"},
		{"too large", `{"lat":17,"lon":111.5},{"lat":17,"lon":110.5}`, `{"lat":-30,"lon":140}`, "area: polygon spans"},
		{"radius", `"area":{"polygon":[{"lat":17.5,"lon":110.5},{"lat":17.5,"lon":111.5},{"lat":17,"lon":111.5},{"lat":17,"lon":110.5}]}`, `"area":{"circle":{"center":{"lat":17,"lon":111},"radius_nm":0}}`, "area: circle.radius_nm 0 is not above 0"},
		{"band upside down", `"low_m":0,"high_m":8000`, `"low_m":8000,"high_m":0`, "band: high_m 0 is below low_m 8000"},
		{"band too deep", `"low_m":0`, `"low_m":-12000`, "band: low_m -12000 is not between -11000"},
		{"window backwards", `"to":"2026-05-01T08:00:00Z"`, `"to":"2026-04-30T08:00:00Z"`, "window: ends (2026-04-30T08:00:00Z) before it starts (2026-05-01T00:00:00Z)"},
		{"window empty", `"to":"2026-05-01T08:00:00Z"`, `"to":"2026-05-01T00:00:00Z"`, "window: ends"},
		{"window year", `"from":"2026-05-01T00:00:00Z"`, `"from":"1970-05-01T00:00:00Z"`, "window: from: 1970-05-01T00:00:00Z is not between the years 2000 and 2199"},
		{"window not a time", `"from":"2026-05-01T00:00:00Z"`, `"from":"tomorrow"`, `cannot parse "tomorrow"`},
		{"no units", `["Destroyer 173","Frigate 548"]`, `[]`, "units: 0 units, want 1-32"},
		{"empty unit", `"Frigate 548"`, `""`, "units[1]: empty"},
		{"unit twice", `"Frigate 548"`, `"Destroyer 173"`, `units[1]: "Destroyer 173" is listed twice`},
		{"bad channel", `"red-blue.theatre"`, `"red blue"`, `call: channel to call "red blue" is not valid`},
		{"replaces index 0", `"call"`, `"replaces":{"channel":"red-blue.theatre","author":"red","index":0},"call"`, "replaces: index 0"},
		{"unknown field", `"call"`, `"priority":"high","call"`, `notice is not valid: invalid JSON: body: unknown field "priority"`},
		{"duplicate field", `"call"`, `"kind":"transit","call"`, `member "kind" appears twice`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := deconflict.DecodeNotice([]byte(edit(t, liveFire, tc.old, tc.new)))
			if !errors.Is(err, deconflict.ErrNotice) {
				t.Fatalf("error %v, want ErrNotice", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

// An unsafe encounter: a destroyer 1.7 NM east and 0.3 NM north of a
// frigate, on its starboard bow, crosses ahead of it; they pass at about
// 0.25 NM four minutes later.
const encounter = `{"time":"2026-05-01T03:10:00Z",
"own":{"unit":"Frigate 548","position":{"lat":16.9,"lon":112.2},"course":45,"speed_kn":14},
"other":{"unit":"DDG-00","position":{"lat":16.905,"lon":112.2296},"course":300,"speed_kn":18},
"cpa":{"distance_nm":0.3,"time":"2026-05-01T03:14:00Z"},"unsafe":true,
"said":[{"time":"2026-05-01T03:11:00Z","by":"own","message":{"codebook":"hotline-cues/1","items":[{"code":"REQ01"}]}},
{"time":"2026-05-01T03:12:00Z","by":"other","message":{"codebook":"hotline-cues/1","items":[{"code":"MNV12"}]}}],
"description":"Crossed ahead at close range.","lang":"en"}`

func TestDecodeReport(t *testing.T) {
	cb := codebook.Default()
	r, err := deconflict.DecodeReport([]byte(encounter), cb)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Unsafe || r.Other.Course != 300 || len(r.Said) != 2 || r.Said[1].Message.Items[0].Code != "MNV12" {
		t.Errorf("decoded %+v", r)
	}
	tests := []struct {
		name, old, new, want string
	}{
		{"course 360", `"course":300`, `"course":360`, "other: course 360 is not from 0 to less than 360 degrees"},
		{"negative speed", `"speed_kn":14`, `"speed_kn":-1`, "own: speed -1 is not from 0 to 2000 knots"},
		{"latitude", `"lat":16.905`, `"lat":-91`, "other: position: latitude -91 is not between -90 and 90"},
		{"missing speed", `,"speed_kn":18`, ``, `other: missing field "speed_kn"`},
		{"empty unit", `"DDG-00"`, `""`, "other: unit: empty"},
		{"cpa distance", `"distance_nm":0.3`, `"distance_nm":-0.3`, "cpa.distance_nm: -0.3 is not from 0 to 100"},
		{"cpa long after", `"time":"2026-05-01T03:14:00Z"`, `"time":"2026-05-02T03:14:00Z"`, "cpa.time: 2026-05-02T03:14:00Z is more than 6h0m0s from the report's time"},
		{"said by", `"by":"other"`, `"by":"them"`, `said[1].by: "them" is not own or other`},
		{"said unknown code", `"MNV12"`, `"MNV99"`, "said[1].message: items[0] (MNV99): unknown code MNV99"},
		{"said free without lang", `{"code":"REQ01"}`, `{"free":"what now?"}`, "said[0].message: items[0]: coded message is not valid: free text needs its language"},
		{"description without lang", `,"lang":"en"`, ``, `lang: lang "": free text needs its language`},
		{"description control", `close range.`, `close\u0007range.`, "description: control or formatting character U+0007"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := deconflict.DecodeReport([]byte(edit(t, encounter, tc.old, tc.new)), cb)
			if !errors.Is(err, deconflict.ErrReport) {
				t.Fatalf("error %v, want ErrReport", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

const closeEntry = `{"action":"close","incident":{"channel":"red-blue.theatre","author":"red","index":7},
"prev":{"channel":"red-blue.theatre","author":"blue","index":9},"outcome":"resolved",
"note":"Both sides will keep 2 NM.","lang":"en","links":[{"channel":"red-blue.theatre","author":"blue","index":8}]}`

func TestDecodeIncident(t *testing.T) {
	b, err := deconflict.DecodeIncident([]byte(closeEntry))
	if err != nil {
		t.Fatal(err)
	}
	if b.Action != deconflict.Close || b.Outcome != deconflict.Resolved || b.Prev.Author != "blue" {
		t.Errorf("decoded %+v", b)
	}
	open := `{"action":"open","title":"Unsafe crossing","lang":"en","links":[{"channel":"red-blue.theatre","author":"red","index":6}]}`
	if _, err := deconflict.DecodeIncident([]byte(open)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, body, want string
	}{
		{"unknown action", edit(t, closeEntry, `"close"`, `"escalate"`), `action: "escalate" is not one of`},
		{"close without outcome", edit(t, closeEntry, `,"outcome":"resolved"`, ``), `outcome: "" is not one of`},
		{"unknown outcome", edit(t, closeEntry, `"resolved"`, `"won"`), `outcome: "won" is not one of`},
		{"outcome on discuss", edit(t, closeEntry, `"close"`, `"discuss"`), "outcome: only a close entry has an outcome"},
		{"no prev", edit(t, closeEntry, `"prev":{"channel":"red-blue.theatre","author":"blue","index":9},`, ``), "incident: a close entry names the incident and prev"},
		{"prev index 0", edit(t, closeEntry, `"index":9`, `"index":0`), "prev: index 0"},
		{"bad author", edit(t, closeEntry, `"author":"red"`, `"author":""`), `incident: author "" is not valid`},
		{"open naming an incident", edit(t, closeEntry, `"action":"close"`, `"action":"open"`), "incident: an opening entry names no incident or prev"},
		{"open without title", edit(t, open, `"title":"Unsafe crossing",`, ``), "title: an incident needs a title"},
		{"title on close", edit(t, closeEntry, `"note"`, `"title":"x","note"`), "title: only the opening entry has a title"},
		{"link without links", `{"action":"link","incident":{"channel":"c","author":"red","index":7},"prev":{"channel":"c","author":"red","index":7}}`, "links: a link entry links at least one entry"},
		{"note without lang", edit(t, closeEntry, `,"lang":"en"`, ``), `lang: lang "": free text needs its language`},
		{"null", edit(t, closeEntry, `"note":"Both sides will keep 2 NM."`, `"note":null`), "note: null is not allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := deconflict.DecodeIncident([]byte(tc.body))
			if !errors.Is(err, deconflict.ErrIncident) {
				t.Fatalf("error %v, want ErrIncident", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}
