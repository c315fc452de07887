package console_test

import (
	"encoding/json"
	"fmt"
	"html"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"hotline/internal/afteraction"
	"hotline/internal/identity"
	"hotline/internal/ops"
	"hotline/internal/station"
	"hotline/internal/transcript"

	"golang.org/x/mod/sumdb/note"
)

const theatre = "usa-chn-theatre"

// scene puts on the channel between USA and CHN: CHN's notice of live fire
// (a square, 17-17.5°N 110.5-111.5°E, 1-9 May 2026), a coded message,
// USA's encounter report, and an incident USA opens about the report,
// which CHN acknowledges. It waits until both sides hold everything and
// every entry is receipted.
func scene(t *testing.T) (usa, chn *station.Station, incident string) {
	t.Helper()
	ctx := t.Context()
	usa, chn = pair(t, theatre)
	notice := json.RawMessage(`{"kind":"live_fire","title":"Naval gunnery <script>alert(1)</script>","lang":"en",
	 "area":{"polygon":[{"lat":17.5,"lon":110.5},{"lat":17.5,"lon":111.5},{"lat":17,"lon":111.5},{"lat":17,"lon":110.5}]},
	 "window":{"from":"2026-05-01T00:00:00Z","to":"2026-05-09T00:00:00Z"},"units":["Destroyer 173"],"call":"` + theatre + `"}`)
	if _, err := chn.SendNotice(ctx, ops.NoticeRequest{Channel: theatre, Notice: notice}); err != nil {
		t.Fatal(err)
	}
	if _, err := chn.SendCoded(ctx, ops.CodedRequest{Channel: theatre, Precedence: "PRIORITY", Items: []ops.CodedItem{
		{Code: "MNV08", Args: map[string]string{"course": "090", "speed": "12"}},
		{Free: "Fishing fleet <b>north</b>", Lang: "en"},
	}}); err != nil {
		t.Fatal(err)
	}
	rep, err := usa.SendReport(ctx, ops.ReportRequest{Channel: theatre, Report: json.RawMessage(`{"time":"2026-05-03T03:10:00Z",
		"own":{"unit":"DDG-00","position":{"lat":16.9,"lon":112.2},"course":45,"speed_kn":14},
		"other":{"unit":"Frigate 548","position":{"lat":16.905,"lon":112.2296},"course":300,"speed_kn":18},
		"cpa":{"distance_nm":0.3,"time":"2026-05-03T03:14:00Z"},"unsafe":true}`)})
	if err != nil {
		t.Fatal(err)
	}
	inc, err := usa.Incident(ctx, ops.IncidentRequest{Action: "open", Channel: theatre, Title: "Unsafe crossing", Lang: "en", Links: []string{rep.ID}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, chn, "the incident at CHN", func() bool {
		incs, _ := chn.Incidents(ctx, theatre)
		return len(incs) == 1
	})
	if _, err := chn.Incident(ctx, ops.IncidentRequest{Action: "acknowledge", Incident: inc.ID, Note: "Seen.", Lang: "en", By: "wang"}); err != nil {
		t.Fatal(err)
	}
	// Everything delivered both ways and receipted.
	waitFor(t, usa, "everything receipted", func() bool {
		for _, st := range []*station.Station{usa, chn} {
			cv, _ := st.Channels(ctx)
			if len(cv) != 1 || cv[0].Delivered != cv[0].Written || cv[0].Written < 3 {
				return false
			}
		}
		incs, _ := usa.Incidents(ctx, theatre)
		return len(incs) == 1 && incs[0].State == "acknowledged"
	})
	return usa, chn, inc.ID
}

func TestDeconflictionViews(t *testing.T) {
	usa, chn, inc := scene(t)
	ud, cd := newDesk(t, usa), newDesk(t, chn)

	// USA's channel view, in Chinese: the coded message rendered from the
	// codebook in Chinese, the free text as written and marked; the
	// notice a card; script in any text is text.
	zh := ud.login(t, "dora")
	if r := zh.do(t, "POST", "/console/api/lang", `{"lang":"zh"}`); r.code != 200 {
		t.Fatal(r.body)
	}
	r := zh.do(t, "GET", "/console/channel/"+theatre, "")
	if r.code != 200 {
		t.Fatal(r.code, r.body)
	}
	for _, want := range []string{
		`<span class="code">MNV08</span> <span lang="zh-Hans">我船航向090°，航速12节。</span>`,
		`<span class="free">【自由文本，en】</span> <span lang="en">Fishing fleet &lt;b&gt;north&lt;/b&gt;</span>`,
		`<span class="kind">活动通报</span>`, `<span class="kind">相遇报告</span>`, `<span class="kind">事件条目</span>`,
		"Naval gunnery &lt;script&gt;",
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("channel view in Chinese lacks %s", want)
		}
	}
	if strings.Contains(r.body, "<script>alert") || strings.Contains(r.body, "<b>north") {
		t.Error("script or markup in an entry passed through as markup")
	}
	en := cd.login(t, "dora")
	r = en.do(t, "GET", "/console/channel/"+theatre, "")
	if !strings.Contains(r.body, `<span class="code">MNV08</span> <span lang="en">My course is 090° and my speed is 12 knots.</span>`) {
		t.Error("CHN's channel view lacks the coded message in English")
	}

	// The incidents page and the incident: its state, its timeline, the
	// entries it is about.
	r = en.do(t, "GET", "/console/incidents", "")
	if r.code != 200 || !strings.Contains(r.body, `data-incident="`+inc+`"`) || !strings.Contains(r.body, "Unsafe crossing") || !strings.Contains(r.body, `inc-state-acknowledged">acknowledged<`) {
		t.Fatalf("incidents page: %d %s", r.code, r.body)
	}
	r = en.do(t, "GET", "/console/incident?id="+url.QueryEscape(inc), "")
	if r.code != 200 || !strings.Contains(r.body, `<span class="action">opened</span> · USA`) || !strings.Contains(r.body, `<span class="action">acknowledged</span> · CHN`) ||
		!strings.Contains(r.body, "open → acknowledged") || !strings.Contains(r.body, `data-kind="report"`) || !strings.Contains(r.body, `class="seamap"`) {
		t.Fatalf("incident page: %d %s", r.code, r.body)
	}
	if strings.Contains(r.body, `id="report-link"`) {
		t.Error("a duty officer is offered the after-action report")
	}
	for _, c := range []struct{ path, want string }{
		{"/console/incident?id=" + url.QueryEscape(theatre+"/USA/99"), "no incident " + theatre + "/USA/99 here"},
		{"/console/incident?id=nonsense", `incident "nonsense": message id "nonsense" is not CHANNEL/STATION/INDEX`},
	} {
		if r := en.do(t, "GET", c.path, ""); r.code != 404 || !strings.Contains(html.UnescapeString(r.body), c.want) || !strings.Contains(r.body, `<title>`) {
			t.Errorf("GET %s: %d %q, want 404 %q", c.path, r.code, r.body, c.want)
		}
	}
}

// svgPoints reads the "points" of the element with the id.
func svgPoints(t *testing.T, page, id string) [][2]float64 {
	t.Helper()
	i := strings.Index(page, `id="`+id+`"`)
	if i < 0 {
		return nil
	}
	m := regexp.MustCompile(`points="([^"]*)"`).FindStringSubmatch(page[i:])
	var out [][2]float64
	for _, p := range strings.Fields(m[1]) {
		x, y, _ := strings.Cut(p, ",")
		fx, _ := strconv.ParseFloat(x, 64)
		fy, _ := strconv.ParseFloat(y, 64)
		out = append(out, [2]float64{fx, fy})
	}
	return out
}

func TestMap(t *testing.T) {
	usa, _, inc := scene(t)
	d := newDesk(t, usa)
	b := d.login(t, "dora")
	r := b.do(t, "GET", "/console/map", "")
	if r.code != 200 {
		t.Fatal(r.code, r.body)
	}
	// The notice's vertices land where the projection puts them: the map
	// says its bounds and size (the legend is below it); x is linear in
	// longitude, y in latitude.
	m := regexp.MustCompile(`<svg class="seamap"[^>]*data-map="([\d.]+),([\d.]+)" data-bounds="([-\d.]+),([-\d.]+),([-\d.]+),([-\d.]+)"`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatal("no map on the page")
	}
	f := make([]float64, 6)
	for i := range f {
		f[i], _ = strconv.ParseFloat(m[i+1], 64)
	}
	w, h, south, north, west, east := f[0], f[1], f[2], f[3], f[4], f[5]
	if south > 17 || north < 17.5 || west > 110.5 || east < 112.25 {
		t.Fatalf("the map %v-%v %v-%v does not hold the notice and the report", south, north, west, east)
	}
	var notice string
	for _, id := range regexp.MustCompile(`id="(map-`+theatre+`/CHN/\d+)"`).FindAllStringSubmatch(r.body, -1) {
		notice = id[1]
	}
	pts := svgPoints(t, r.body, notice)
	for _, v := range [][2]float64{{17.5, 110.5}, {17.5, 111.5}, {17, 111.5}, {17, 110.5}} {
		want := [2]float64{(v[1] - west) * w / (east - west), (north - v[0]) * h / (north - south)}
		found := false
		for _, p := range pts {
			found = found || math.Abs(p[0]-want[0]) < 1 && math.Abs(p[1]-want[1]) < 1
		}
		if !found {
			t.Errorf("vertex %v not at %v in %v", v, want, pts)
		}
	}
	for _, want := range []string{"DDG-00 03:10Z", "Frigate 548 03:10Z", "Unsafe crossing · acknowledged", `href="/console/incident?id=` + url.QueryEscape(inc) + `"`,
		"Naval gunnery &lt;script&gt;", `class="land"`, "Notices of activities"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("map lacks %s", want)
		}
	}
	if strings.Contains(r.body, "<script>alert") {
		t.Error("script in a notice's title drawn as markup")
	}

	// The time filter: the report (3 May) and the notice (1-9 May) in a
	// window on 2 May: only the notice; after 9 May: neither; the
	// incident stays (it is not closed).
	r = b.do(t, "GET", "/console/map?from=2026-05-02T00:00Z&to=2026-05-02T12:00Z", "")
	if r.code != 200 || svgPoints(t, r.body, notice) == nil || strings.Contains(r.body, "DDG-00 03:10Z") {
		t.Errorf("2 May: notice shown %v, report shown %v", svgPoints(t, r.body, notice) != nil, strings.Contains(r.body, "DDG-00 03:10Z"))
	}
	if !strings.Contains(r.body, `data-frag="/console/frag/map?from=2026-05-02T00%3A00Z&amp;to=2026-05-02T12%3A00Z"`) {
		t.Error("the live fragment does not keep the filter")
	}
	r = b.do(t, "GET", "/console/frag/map?from=2026-05-10", "")
	if r.code != 200 || svgPoints(t, r.body, notice) != nil || strings.Contains(r.body, "DDG-00 03:10Z") {
		t.Errorf("after 9 May: %d, notice shown %v", r.code, svgPoints(t, r.body, notice) != nil)
	}
	// Now ± hours, with the console's clock in the notice's window.
	setClock := func(at time.Time) { d.clock.Add(at.Sub(d.clock.Now())) }
	setClock(time.Date(2026, 5, 3, 3, 0, 0, 0, time.UTC))
	r = b.do(t, "GET", "/console/map?hours=1", "")
	if r.code != 200 || svgPoints(t, r.body, notice) == nil || !strings.Contains(r.body, "DDG-00 03:10Z") {
		t.Error("now ± 1 hour on 3 May 03:00 does not show the notice and the report")
	}
	setClock(time.Date(2026, 6, 3, 3, 0, 0, 0, time.UTC))
	if r = b.do(t, "GET", "/console/map?hours=1", ""); svgPoints(t, r.body, notice) != nil {
		t.Error("now ± 1 hour in June shows May's notice")
	}
	setClock(time.Now())

	// Bad filters: a clear error, the form kept.
	for q, want := range map[string]string{
		"from=yesterday":                         `from &#34;yesterday&#34; is not a time like 2026-05-01T14:30Z (UTC) or 2026-05-01`,
		"from=2026-05-02&to=2026-05-01":          "from 2026-05-02 is not before to 2026-05-01",
		"hours=0":                                `hours &#34;0&#34; is not a whole number from 1 to 9600`,
		"hours=3&from=2026-05-01":                "give from and to, or hours, not both",
		"to=1999-01-01":                          "the year must be 2000-2199",
		"from=%3Cscript%3Ealert(1)%3C/script%3E": "&lt;script&gt;",
	} {
		r := b.do(t, "GET", "/console/map?"+q, "")
		if r.code != 400 || !strings.Contains(r.body, want) || !strings.Contains(r.body, `id="filter-error"`) {
			t.Errorf("map?%s: %d, want 400 with %q", q, r.code, want)
		}
		if strings.Contains(r.body, "<script>alert") {
			t.Errorf("map?%s: the filter drawn as markup", q)
		}
		if r := b.do(t, "GET", "/console/frag/map?"+q, ""); r.code != 400 {
			t.Errorf("frag/map?%s: %d, want 400", q, r.code)
		}
	}
}

func TestAfterActionReport(t *testing.T) {
	usa, _, inc := scene(t)
	d := newDesk(t, usa)
	path := "/console/incident/report?id=" + url.QueryEscape(inc)

	// Auditors and supervisors may fetch it; duty officers and admins not.
	for _, c := range []struct {
		who  string
		code int
	}{{"dora", 403}, {"ada", 403}, {"sam", 200}, {"aud", 200}} {
		if r := d.login(t, c.who).do(t, "GET", path, ""); r.code != c.code {
			t.Errorf("%s: %d, want %d", c.who, r.code, c.code)
		}
	}
	if a := d.lastAudit(t, "incident.report"); a == nil || a.Target != inc || a.Outcome != "ok" {
		t.Errorf("audit: %+v", a)
	}
	b := d.login(t, "aud")
	r := b.do(t, "GET", path, "")
	doc := r.body
	if !strings.HasPrefix(r.hdr.Get("Content-Type"), "text/html") || !strings.Contains(r.hdr.Get("Content-Disposition"), "incident-usa-chn-theatre-USA-") {
		t.Errorf("headers: %v", r.hdr)
	}
	// Self-contained: nothing from anywhere else, no script to run.
	for _, bad := range []string{"http://", "https://", "src=", "<link", "@import", "url(http", "<script>", "<script src"} {
		if strings.Contains(doc, bad) {
			t.Errorf("the report holds %q", bad)
		}
	}
	for _, want := range []string{"<style>", "@media print", `class="seamap"`, "Unsafe crossing", "open → acknowledged", "How to check this report offline", "RFC 9162"} {
		if !strings.Contains(doc, want) {
			t.Errorf("the report lacks %s", want)
		}
	}
	if strings.Contains(doc, "<script>alert") {
		t.Error("script in a notice drawn as markup")
	}

	// Every entry's proof, parsed back, verifies against its author's
	// checkpoint, and the checkpoint carries both parties' signatures.
	rep, err := afteraction.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Entries) != 3 { // the opening, the acknowledgement, the report
		t.Fatalf("%d entries in the report, want 3: %+v", len(rep.Entries), rep.Entries)
	}
	vs := map[string]note.Verifier{}
	cards := map[string]string{}
	for _, c := range rep.Cards {
		card, err := identity.ParseCard([]byte(c))
		if err != nil {
			t.Fatal(err)
		}
		vs[card.Name], _ = card.Verifier()
		cards[card.Name] = c
	}
	for _, e := range rep.Entries {
		if e.Unproven != "" || e.TreeSize == 0 {
			t.Errorf("entry %s has no proof: %s", e.ID, e.Unproven)
			continue
		}
		var cp *afteraction.Log
		for i := range rep.Logs {
			if rep.Logs[i].Author == e.Author {
				cp = &rep.Logs[i]
			}
		}
		other := "CHN"
		if e.Author == "CHN" {
			other = "USA"
		}
		card, err := identity.ParseCard([]byte(cards[other]))
		if err != nil {
			t.Fatal(err)
		}
		r, err := transcript.OpenReceipt([]byte(cp.Checkpoint), vs[e.Author], transcript.ReceiptVerifiers(other, card.SignKey)...)
		c := r.Checkpoint
		if err != nil {
			t.Fatalf("checkpoint of %s: %v", e.Author, err)
		}
		if c.Origin != transcript.Origin(theatre, e.Author) || c.Size != e.TreeSize {
			t.Errorf("checkpoint %+v for entry %s of size %d", c, e.ID, e.TreeSize)
		}
		leaf := transcript.LeafHash(e.Envelope)
		if string(leaf) != string(e.LeafHash) || e.LeafIndex != e.Index-1 {
			t.Errorf("entry %s: leaf hash or index wrong", e.ID)
		}
		if err := transcript.VerifyInclusion(leaf, e.LeafIndex, e.TreeSize, e.Proof, c.Root); err != nil {
			t.Errorf("entry %s: %v", e.ID, err)
		}
		// And the hashes shown are those in the data.
		if !strings.Contains(doc, fmt.Sprintf("%x", e.LeafHash)) {
			t.Errorf("entry %s: leaf hash not shown", e.ID)
		}
		// A proof for another leaf does not verify.
		if e.LeafIndex > 0 {
			if err := transcript.VerifyInclusion(leaf, e.LeafIndex-1, e.TreeSize, e.Proof, c.Root); err == nil {
				t.Errorf("entry %s: proof verifies at another index", e.ID)
			}
		}
	}

	// In Chinese, rendered from the fields.
	if r := b.do(t, "POST", "/console/api/lang", `{"lang":"zh"}`); r.code != 200 {
		t.Fatal(r.body)
	}
	if doc := b.do(t, "GET", path, "").body; !strings.Contains(doc, "事后报告") || !strings.Contains(doc, "如何离线核验本报告") || !strings.Contains(doc, `lang="zh-Hans"`) {
		t.Error("the report in Chinese is not in Chinese")
	}
	// Bad input: a clear error, nothing written.
	for id, want := range map[string]string{
		theatre + "/USA/99": "no such incident: " + theatre + "/USA/99 on channel " + theatre,
		"x":                 `incident "x": message id "x" is not CHANNEL/STATION/INDEX`,
		"nochan/USA/1":      "no such incident: nochan/USA/1 on channel nochan",
	} {
		r := b.do(t, "GET", "/console/incident/report?id="+url.QueryEscape(id), "")
		if r.code != 400 || !strings.Contains(r.errText(), want) {
			t.Errorf("report of %s: %d %q, want 400 with %q", id, r.code, r.body, want)
		}
	}
}
