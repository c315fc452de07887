package deconflict_test

import (
	"testing"

	"hotline/internal/codebook"
	"hotline/internal/deconflict"
)

// TestSummaries: each entry reads in either language from its fields;
// free text is quoted and marked with its language.
func TestSummaries(t *testing.T) {
	n, err := deconflict.DecodeNotice([]byte(liveFire))
	if err != nil {
		t.Fatal(err)
	}
	r, err := deconflict.DecodeReport([]byte(encounter), codebook.Default())
	if err != nil {
		t.Fatal(err)
	}
	open := &deconflict.IncidentBody{Action: deconflict.Open, Title: "Unsafe crossing", Lang: "en"}
	closing := &deconflict.IncidentBody{Action: deconflict.Close, Outcome: deconflict.Resolved,
		Incident: &deconflict.EntryRef{Channel: "red-blue.theatre", Author: "red", Index: 7},
		Prev:     &deconflict.EntryRef{Channel: "red-blue.theatre", Author: "blue", Index: 9}, Note: "Both keep 2 NM.", Lang: "en"}
	tests := []struct {
		name, got, want string
	}{
		{"notice en", n.Summary("en"), "Notice of live fire “Naval gunnery” (free text, en): the polygon 17°30.00′N 110°30.00′E – 17°30.00′N 111°30.00′E – " +
			"17°00.00′N 111°30.00′E – 17°00.00′N 110°30.00′E, from 0 m to 8000 m, from 00:00 UTC 1 May 2026 to 08:00 UTC 1 May 2026; " +
			"units Destroyer 173, Frigate 548; call on red-blue.theatre."},
		{"notice zh", n.Summary("zh-Hans"), "活动通报：实弹射击 “Naval gunnery”（自由文本，en）；区域：顶点依次为北纬17°30.00′、东经110°30.00′，北纬17°30.00′、东经111°30.00′，" +
			"北纬17°00.00′、东经111°30.00′，北纬17°00.00′、东经110°30.00′的多边形；高度0米至8000米；时间：2026年5月1日00:00（UTC）至2026年5月1日08:00（UTC）；" +
			"单位：Destroyer 173、Frigate 548；联络频道：red-blue.theatre。"},
		{"report en", r.Summary("en"), "Encounter at 03:10 UTC 1 May 2026: Frigate 548 at 16°54.00′N 112°12.00′E, course 045°, speed 14 knots; " +
			"DDG-00 at 16°54.30′N 112°13.78′E, course 300°, speed 18 knots; closest approach observed 0.3 NM at 03:14 UTC 1 May 2026; " +
			"UNSAFE in the reporter's judgement; 2 standard message(s) exchanged on scene. “Crossed ahead at close range.” (free text, en)"},
		{"incident open zh", open.Summary("zh-Hans"), "开启事件：“Unsafe crossing”（自由文本，en）"},
		{"incident close en", closing.Summary("en"), "Closes incident red-blue.theatre/red/7 as resolved: “Both keep 2 NM.” (free text, en)"},
		{"state zh", deconflict.StateDiscussion.Text("zh-Hans"), "讨论中"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, tt.got, tt.want)
		}
	}
}
