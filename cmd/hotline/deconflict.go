package main

// The deconfliction verbs: the codebook, coded messages, notices,
// encounter reports and incidents (docs/DECONFLICTION.md).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"hotline/internal/afteraction"
	"hotline/internal/codebook"
	"hotline/internal/deconflict"
	"hotline/internal/home"
	"hotline/internal/ops"
)

// viewLang reads --lang for what is shown: en or zh (Simplified
// Chinese); by default the operator's $LANG, else English.
func viewLang(name, v string) (string, error) {
	if v == "" {
		if strings.HasPrefix(strings.ToLower(os.Getenv("LANG")), "zh") {
			return "zh-Hans", nil
		}
		return "en", nil
	}
	switch strings.ToLower(v) {
	case "en":
		return "en", nil
	case "zh", "zh-hans", "zh-cn":
		return "zh-Hans", nil
	}
	return "", fmt.Errorf("%s: --lang %q: show en or zh", name, v)
}

// textLang is the language of free text an operator writes: --lang if
// given, else the operator's language.
func textLang(v string) string {
	if v != "" {
		return v
	}
	l, _ := viewLang("", "")
	return l
}

// rendered picks the text of a message in lang, on one line.
func rendered(m ops.MessageView, lang string) string {
	t := m.Text
	if r, ok := m.Rendered[lang]; ok {
		t = r
	}
	return strings.ReplaceAll(t, "\n", " / ")
}

// parseTime reads a time as an operator types it: RFC 3339, seconds
// optional.
func parseTime(name, flag, s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04Z07:00"} {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%s: --%s %q is not a time like 2026-05-01T14:30Z", name, flag, s)
}

// parseFloats reads n comma-separated numbers.
func parseFloats(name, flag, s, want string, n int) ([]float64, error) {
	parts := strings.Split(s, ",")
	if len(parts) != n {
		return nil, fmt.Errorf("%s: --%s %q: want %s", name, flag, s, want)
	}
	out := make([]float64, n)
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return nil, fmt.Errorf("%s: --%s %q: want %s", name, flag, s, want)
		}
		out[i] = v
	}
	return out, nil
}

func parsePosition(name, flag, s string) (codebook.Position, error) {
	v, err := parseFloats(name, flag, s, "LAT,LON in decimal degrees", 2)
	if err != nil {
		return codebook.Position{}, err
	}
	return codebook.Position{Lat: v[0], Lon: v[1]}, nil
}

// codedFlags builds the items of a coded message from --code, --param and
// --free in the order given: a --param belongs to the --code before it.
type codedFlags struct {
	items []ops.CodedItem
}

type codeFlag struct{ c *codedFlags }
type paramFlag struct{ c *codedFlags }
type freeFlag struct{ c *codedFlags }

func (codeFlag) repeated()        {}
func (paramFlag) repeated()       {}
func (freeFlag) repeated()        {}
func (f codeFlag) String() string { return "" }
func (f codeFlag) Set(v string) error {
	f.c.items = append(f.c.items, ops.CodedItem{Code: strings.TrimSpace(v)})
	return nil
}
func (f paramFlag) String() string { return "" }
func (f paramFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not NAME=VALUE", v)
	}
	n := len(f.c.items)
	if n == 0 || f.c.items[n-1].Code == "" {
		return fmt.Errorf("%s comes before any --code", v)
	}
	it := &f.c.items[n-1]
	if it.Args == nil {
		it.Args = map[string]string{}
	}
	if _, dup := it.Args[k]; dup {
		return fmt.Errorf("%s: parameter %s of %s given twice", v, k, it.Code)
	}
	it.Args[k] = val
	return nil
}
func (f freeFlag) String() string { return "" }
func (f freeFlag) Set(v string) error {
	f.c.items = append(f.c.items, ops.CodedItem{Free: v})
	return nil
}

func (c *codedFlags) register(f *flags) {
	f.Var(codeFlag{c}, "code", "a standard phrase by its `CODE` (see hotline codebook list)")
	f.Var(paramFlag{c}, "param", "`NAME=VALUE`, a parameter of the --code before it")
	f.Var(freeFlag{c}, "free", "free `TEXT`, sent as written and marked as free text with its --lang")
}

// setLang gives free-text items their language.
func (c *codedFlags) setLang(lang string) {
	for i := range c.items {
		if c.items[i].Code == "" {
			c.items[i].Lang = lang
		}
	}
}

func cmdCodebookList(f *flags) action {
	f.printsJSON()
	cat := f.String("category", "", "only this category `ID` (manoeuvring, safety, activity, communications, request, answer)")
	langFlag := f.String("lang", "", "language to show: `en|zh` (default from $LANG)")
	book := f.String("codebook", "", "a codebook this station has, `REF`: its reference or version (with --dir; default: the embedded one)")
	return func(ctx context.Context, _ []string) error {
		lang, err := viewLang("codebook list", *langFlag)
		if err != nil {
			return err
		}
		cb := &ops.CodebookPhrases{Languages: codebook.Default().Languages(), Categories: codebook.Default().Categories(),
			Phrases: codebook.Default().Phrases()}
		cb.Ref, cb.Version, cb.Hash = codebook.Default().Ref().String(), codebook.Default().Version(), codebook.Default().Hash()
		if *book != "" {
			if *f.dir == "" {
				return errors.New("codebook list: --codebook needs --dir: the extensions are the station's")
			}
			if err := withOps(ctx, *f.dir, func(o ops.Ops) (err error) { cb, err = o.Codebook(ctx, *book); return err }); err != nil {
				return fmt.Errorf("codebook list: %w", err)
			}
		}
		cats := cb.Categories
		if *cat != "" && !slices.ContainsFunc(cats, func(k codebook.Category) bool { return k.ID == *cat }) {
			var ids []string
			for _, k := range cats {
				ids = append(ids, k.ID)
			}
			return fmt.Errorf("codebook list: --category %q is not one of %s", *cat, strings.Join(ids, ", "))
		}
		var phrases []codebook.Phrase
		for _, p := range cb.Phrases {
			if *cat == "" || p.Category == *cat {
				phrases = append(phrases, p)
			}
		}
		if *f.json {
			return printJSON(map[string]any{"version": cb.Version, "hash": cb.Hash, "ref": cb.Ref,
				"languages": cb.Languages, "categories": cats, "phrases": phrases})
		}
		fmt.Printf("codebook %s\n", cb.Ref)
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CODE\tCATEGORY\tPARAMETERS\tTEXT")
		for _, p := range phrases {
			var ps []string
			for _, a := range p.Params {
				ps = append(ps, a.Name+":"+string(a.Type))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Code, p.Category, strings.Join(ps, " "), p.Text[lang])
		}
		return tw.Flush()
	}
}

func cmdCodebookAdd(f *flags) action {
	f.printsJSON()
	file := f.String("file", "", "the extension `FILE` both parties agreed (JSON, format \"hotline codebook extension v1\")")
	f.require("file")
	return func(ctx context.Context, _ []string) error {
		data, err := os.ReadFile(*file)
		if err != nil {
			return fmt.Errorf("codebook add: %w", err)
		}
		return show(ctx, f, func(o ops.Ops) (*ops.CodebookView, error) { return o.AddCodebook(ctx, data) },
			func(v *ops.CodebookView) error {
				fmt.Printf("codebook %s: %d phrases; propose a channel with --codebook %s once the other party has loaded it too\n",
					v.Ref, v.Phrases, v.Version)
				return nil
			})
	}
}

func cmdCodebookBooks(f *flags) action {
	f.printsJSON()
	return func(ctx context.Context, _ []string) error {
		return show(ctx, f, func(o ops.Ops) ([]ops.CodebookView, error) { return o.Codebooks(ctx) },
			func(vs []ops.CodebookView) error {
				tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "VERSION\tHASH\tPHRASES\tLOADED")
				for _, v := range vs {
					loaded := "embedded"
					if !v.Embedded {
						loaded = v.AddedAt.Format(time.RFC3339)
					}
					fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", v.Version, v.Hash, v.Phrases, loaded)
				}
				return tw.Flush()
			})
	}
}

func cmdCodebookShow(f *flags) action {
	f.printsJSON()
	code := f.String("code", "", "the phrase's `CODE` (or give it as the argument)")
	langFlag := f.String("lang", "", "language of the parameter descriptions: `en|zh` (default from $LANG)")
	f.arg("CODE")
	return func(ctx context.Context, rest []string) error {
		if len(rest) == 1 {
			*code = rest[0]
		}
		if *code == "" {
			return fmt.Errorf("codebook show: give the code, e.g. hotline codebook show MNV08")
		}
		lang, err := viewLang("codebook show", *langFlag)
		if err != nil {
			return err
		}
		cb := codebook.Default()
		p, ok := cb.Phrase(strings.ToUpper(*code))
		if !ok {
			return fmt.Errorf("codebook show: %v %s in codebook %s", codebook.ErrUnknownCode, *code, cb.Version())
		}
		if *f.json {
			return printJSON(p)
		}
		fmt.Printf("%s  (%s", p.Code, p.Category)
		if p.ICS != "" {
			fmt.Printf(", ICS %s", p.ICS)
		}
		fmt.Printf(", codebook %s)\n", cb.Version())
		for _, l := range cb.Languages() {
			fmt.Printf("  %-8s %s\n", l, p.Text[l])
		}
		for _, a := range p.Params {
			fmt.Printf("  --param %s=…   %s\n", a.Name, codebook.Describe(a.Type, lang))
		}
		return nil
	}
}

func cmdNoticeSend(f *flags) action {
	const name = "notice send"
	f.printsJSON()
	ch := f.String("channel", "", "channel `ID` to send the notice on")
	to := f.String("to", "", "send to several parties at once: `all|GROUP|NAME,...`, one notice on each party's channel, linked by one id (notice show --id)")
	level := f.String("level", "", "with --to: each party's channel at this `LEVEL`, for a party with several")
	prec := f.String("precedence", "PRIORITY", "`PRECEDENCE`: FLASH, IMMEDIATE, PRIORITY or ROUTINE")
	kind := f.String("kind", "", "`KIND`: exercise, live_fire, missile_launch, air_patrol, transit, survey or other")
	circle := f.String("circle", "", "the area as a circle: `LAT,LON,RADIUS_NM`")
	poly := f.String("polygon", "", "the area as a polygon: `\"LAT,LON;LAT,LON;...\"` (3-100 vertices, each once)")
	from := f.String("from", "", "start `TIME`, e.g. 2026-05-01T00:00Z")
	until := f.String("until", "", "end `TIME` (the activity runs until just before it; --to TIME is read as --until)")
	band := f.String("band", "", "altitude or depth band in metres, `LOW,HIGH` (depths negative; default every height and depth)")
	var units multi
	f.Var(&units, "units", "`UNITS` taking part, comma-separated")
	call := f.String("call", "", "the channel `ID` to call about the activity (default --channel; with --to, each party's own)")
	title := f.String("title", "", "short title, free `TEXT`")
	desc := f.String("description", "", "description, free `TEXT`")
	lang := f.String("lang", "", "language `TAG` of the title and description (default from $LANG)")
	replaces := f.String("replaces", "", "`ID` of an earlier notice this one amends (with --to: an earlier broadcast's b-… id)")
	plan := f.Int64("plan", 0, "notify planned activity `N` (hotline plan list) as it stands, instead of giving it here")
	f.needs("channel", "to")
	noticeNeeds(f)
	return func(ctx context.Context, _ []string) error {
		parties, end, err := partiesOrEnd(name, *to, *until)
		if err != nil {
			return err
		}
		switch {
		case parties != "" && *ch != "":
			return fmt.Errorf("%s: %v", name, errToOne)
		case parties == "" && *ch == "":
			return fmt.Errorf("%s: missing --channel or --to", name)
		case parties != "" && *call != "":
			return fmt.Errorf("%s: --call names one channel; with --to each party's notice names that party's channel", name)
		case parties == "" && *level != "":
			return fmt.Errorf("%s: --level chooses the parties' channels with --to", name)
		}
		var raw json.RawMessage
		if *plan == 0 {
			nf := noticeFlags{kind: *kind, circle: *circle, poly: *poly, from: *from, to: end, band: *band,
				units: units, call: cmpOr(*call, *ch), title: *title, desc: *desc, lang: *lang, replaces: *replaces}
			if parties != "" {
				nf.call, nf.replaces = "", "" // each party's own; the broadcast names what it amends
			}
			n, err := noticeFromFlags(name, nf)
			if err != nil {
				return err
			}
			if raw, err = json.Marshal(n); err != nil {
				return err
			}
		} else if *kind+*circle+*poly+*from+end+*band+*call+*title+*desc+*replaces != "" || len(units) > 0 {
			return fmt.Errorf("%s: --plan gives the activity; leave out --kind, the area, the window, --band, --units, --call and the texts", name)
		}
		if parties != "" {
			return sendBroadcast(ctx, f, name, ops.BroadcastRequest{To: splitTo(parties), Level: *level, Precedence: *prec,
				Notice: raw, Plan: *plan, Replaces: *replaces})
		}
		req := ops.NoticeRequest{Channel: *ch, Precedence: *prec, Plan: *plan, Notice: raw}
		return show(ctx, f, func(o ops.Ops) (*ops.MessageView, error) { return o.SendNotice(ctx, req) },
			func(m *ops.MessageView) error {
				fmt.Println(m.ID)
				return nil
			})
	}
}

// partiesOrEnd reads notice send's --to: the parties to send to, or, as
// the verb took it before it sent to several parties, the end of the
// window (a time is no station's or group's name).
func partiesOrEnd(name, to, until string) (parties, end string, err error) {
	if to == "" {
		return "", until, nil
	}
	if _, err := parseTime(name, "to", to); err == nil {
		if until != "" {
			return "", "", fmt.Errorf("%s: --to %s and --until %s: give the end time once, as --until", name, to, until)
		}
		return "", to, nil
	}
	return to, until, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

type noticeFlags struct {
	kind, circle, poly, from, to, band string
	units                              []string
	call, title, desc, lang, replaces  string
}

// noticeNeeds declares what noticeFromFlags checks: the kind, the area,
// the window and the units.
func noticeNeeds(f *flags) {
	f.needs("kind")
	f.needs("circle", "polygon")
	f.needs("from")
	f.needs("until")
	f.needs("units")
}

// noticeFromFlags builds a notice (or planned activity) and checks it, so
// that nothing is sent or stored on bad input.
func noticeFromFlags(name string, v noticeFlags) (*deconflict.Notice, error) {
	var missing []string
	for _, x := range []struct{ flag, v string }{{"kind", v.kind}, {"from", v.from}, {"until", v.to}} {
		if x.v == "" {
			missing = append(missing, "--"+x.flag)
		}
	}
	if v.circle == "" && v.poly == "" {
		missing = append(missing, "--circle or --polygon")
	}
	if len(v.units) == 0 {
		missing = append(missing, "--units")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: missing %s", name, strings.Join(missing, ", "))
	}
	n := &deconflict.Notice{Kind: deconflict.Kind(v.kind), Title: v.title, Description: v.desc, Call: v.call}
	if !slices.Contains(deconflict.Kinds, n.Kind) {
		return nil, fmt.Errorf("%s: --kind %q is not one of %v", name, v.kind, deconflict.Kinds)
	}
	if v.title != "" || v.desc != "" {
		n.Lang = textLang(v.lang)
	}
	switch {
	case v.circle != "" && v.poly != "":
		return nil, fmt.Errorf("%s: give --circle or --polygon, not both", name)
	case v.circle != "":
		c, err := parseFloats(name, "circle", v.circle, "LAT,LON,RADIUS_NM", 3)
		if err != nil {
			return nil, err
		}
		n.Area.Circle = &deconflict.Circle{Center: codebook.Position{Lat: c[0], Lon: c[1]}, RadiusNM: c[2]}
	default:
		for i, p := range strings.Split(strings.TrimSuffix(v.poly, ";"), ";") {
			pos, err := parsePosition(name, "polygon", p)
			if err != nil {
				return nil, fmt.Errorf("%s (vertex %d)", err, i+1)
			}
			n.Area.Polygon = append(n.Area.Polygon, pos)
		}
	}
	var err error
	if n.Window.From, err = parseTime(name, "from", v.from); err != nil {
		return nil, err
	}
	if n.Window.To, err = parseTime(name, "until", v.to); err != nil {
		return nil, err
	}
	if v.band != "" {
		b, err := parseFloats(name, "band", v.band, "LOW,HIGH in metres", 2)
		if err != nil {
			return nil, err
		}
		n.Band = &deconflict.Band{LowM: b[0], HighM: b[1]}
	}
	for _, u := range v.units {
		for _, x := range strings.Split(u, ",") {
			n.Units = append(n.Units, strings.TrimSpace(x))
		}
	}
	if v.replaces != "" {
		_, author, idx, err := ops.ParseID(v.replaces)
		if err != nil {
			return nil, fmt.Errorf("%s: --replaces: %v", name, err)
		}
		ch, _, _ := strings.Cut(v.replaces, "/")
		n.Replaces = &deconflict.EntryRef{Channel: ch, Author: author, Index: idx}
	}
	check := n.Check
	if v.call == "" {
		check = n.CheckTemplate // to several parties: each copy names its own
	}
	if err := check(); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return n, nil
}

func cmdReportEncounter(f *flags) action {
	const name = "report encounter"
	f.printsJSON()
	ch := f.String("channel", "", "channel `ID` to send the report on")
	prec := f.String("precedence", "IMMEDIATE", "`PRECEDENCE`: FLASH, IMMEDIATE, PRIORITY or ROUTINE")
	at := f.String("time", "", "`TIME` of the two tracks, e.g. 2026-05-01T03:10Z")
	track := func(who string) (unit, pos, course, speed *string) {
		return f.String(who+"-unit", "", who+" unit's `NAME`"), f.String(who+"-position", "", who+" unit's position `LAT,LON`"),
			f.String(who+"-course", "", who+" unit's course in `DEGREES` true"), f.String(who+"-speed", "", who+" unit's speed in `KNOTS`")
	}
	ou, op, oc, os_ := track("own")
	xu, xp, xc, xs := track("other")
	cpaDist := f.String("cpa-distance", "", "closest approach observed, in nautical miles: `NM`")
	cpaTime := f.String("cpa-time", "", "`TIME` of the closest approach observed")
	unsafe := f.Bool("unsafe", false, "the encounter was unsafe")
	var said multi
	f.Var(&said, "said", "a standard phrase said on scene: `\"TIME;own|other;CODE[;NAME=VALUE...]\"`")
	desc := f.String("description", "", "what happened, free `TEXT`")
	lang := f.String("lang", "", "language `TAG` of the description (default from $LANG)")
	f.require("channel", "time", "own-unit", "own-position", "own-course", "own-speed",
		"other-unit", "other-position", "other-course", "other-speed", "cpa-distance", "cpa-time")
	return func(ctx context.Context, _ []string) error {
		r := &deconflict.Report{Unsafe: *unsafe, Description: *desc}
		var err error
		if r.Time, err = parseTime(name, "time", *at); err != nil {
			return err
		}
		if r.CPA.Time, err = parseTime(name, "cpa-time", *cpaTime); err != nil {
			return err
		}
		num := func(flag, s string) (float64, error) {
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return 0, fmt.Errorf("%s: --%s %q is not a number", name, flag, s)
			}
			return v, nil
		}
		if r.CPA.DistanceNM, err = num("cpa-distance", *cpaDist); err != nil {
			return err
		}
		for _, t := range []struct {
			who                      string
			into                     *deconflict.Track
			unit, pos, course, speed string
		}{{"own", &r.Own, *ou, *op, *oc, *os_}, {"other", &r.Other, *xu, *xp, *xc, *xs}} {
			t.into.Unit = t.unit
			if t.into.Position, err = parsePosition(name, t.who+"-position", t.pos); err != nil {
				return err
			}
			if t.into.Course, err = num(t.who+"-course", t.course); err != nil {
				return err
			}
			if t.into.SpeedKn, err = num(t.who+"-speed", t.speed); err != nil {
				return err
			}
		}
		if *desc != "" {
			r.Lang = textLang(*lang)
		}
		req := ops.ReportRequest{Channel: *ch, Precedence: *prec}
		for _, s := range said {
			parts := strings.Split(s, ";")
			if len(parts) < 3 {
				return fmt.Errorf("%s: --said %q: want TIME;own|other;CODE[;NAME=VALUE...]", name, s)
			}
			t, err := parseTime(name, "said", parts[0])
			if err != nil {
				return err
			}
			it := ops.CodedItem{Code: strings.TrimSpace(parts[2])}
			for _, kv := range parts[3:] {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return fmt.Errorf("%s: --said %q: parameter %q is not NAME=VALUE", name, s, kv)
				}
				if it.Args == nil {
					it.Args = map[string]string{}
				}
				it.Args[strings.TrimSpace(k)] = v
			}
			req.Said = append(req.Said, ops.SaidRequest{Time: t, By: strings.TrimSpace(parts[1]), Items: []ops.CodedItem{it}})
		}
		// Checked here without its messages (the station checks those against
		// the channel's codebook), so that a wrong field is named before
		// anything reaches the station.
		if err := r.Check(codebook.Default()); err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		if req.Report, err = json.Marshal(r); err != nil {
			return err
		}
		return show(ctx, f, func(o ops.Ops) (*ops.MessageView, error) { return o.SendReport(ctx, req) },
			func(m *ops.MessageView) error {
				fmt.Println(m.ID)
				return nil
			})
	}
}

// incidentVerb is one of the incident verbs that write an entry.
func incidentVerb(act deconflict.Action) func(*flags) action {
	return func(f *flags) action {
		name := f.Name()
		f.printsJSON()
		var ch, id, title, outcome *string
		if act == deconflict.Open {
			ch = f.String("channel", "", "channel `ID` the incident is raised on")
			title = f.String("title", "", "what the incident is, free `TEXT`")
		} else {
			id = f.String("id", "", "the incident: `ID` of its opening entry")
		}
		if act == deconflict.Close {
			outcome = f.String("outcome", "", "`OUTCOME`: resolved, unresolved, referred or withdrawn")
		}
		note := f.String("note", "", "a note, free `TEXT`")
		lang := f.String("lang", "", "language `TAG` of the title and note (default from $LANG)")
		var links multi
		f.Var(&links, "link", "`ID` of an entry the incident is about: a message, notice, report")
		prec := f.String("precedence", "PRIORITY", "`PRECEDENCE`: FLASH, IMMEDIATE, PRIORITY or ROUTINE")
		as := f.String("as", defaultOperator(), "who acts, `NAME` (also acknowledges the other party's entries of the incident)")
		finding := new(int64)
		switch act {
		case deconflict.Open:
			finding = f.Int64("finding", 0, "open it about finding `N` (hotline findings): links the entries it is about, titles it")
			f.needs("channel title", "finding") // checked below: --finding gives the title
		case deconflict.Close:
			f.require("id", "outcome")
		case deconflict.Discuss:
			f.require("id", "note")
		case deconflict.Link:
			f.require("id", "link")
		default:
			f.require("id")
		}
		return func(ctx context.Context, _ []string) error {
			req := ops.IncidentRequest{Action: string(act), Note: *note, Links: links, Precedence: *prec, By: *as, Finding: *finding}
			switch act {
			case deconflict.Open:
				req.Channel, req.Title = *ch, *title
				if *finding == 0 {
					if err := required(name, map[string]string{"channel": *ch, "title": *title}); err != nil {
						return err
					}
				}
			case deconflict.Close:
				req.Outcome = *outcome
			}
			if id != nil {
				req.Incident = *id
			}
			if req.Title != "" || req.Note != "" || *finding != 0 {
				req.Lang = textLang(*lang)
			}
			return show(ctx, f, func(o ops.Ops) (*ops.IncidentView, error) { return o.Incident(ctx, req) },
				func(v *ops.IncidentView) error {
					l, _ := viewLang(name, "")
					fmt.Printf("incident %s: %s\n", v.ID, deconflict.State(v.State).Text(l))
					return nil
				})
		}
	}
}

func cmdIncidentList(f *flags) action {
	f.printsJSON()
	ch := f.String("channel", "", "only this channel `ID`")
	langFlag := f.String("lang", "", "language to show: `en|zh` (default from $LANG)")
	return func(ctx context.Context, _ []string) error {
		lang, err := viewLang("incident list", *langFlag)
		if err != nil {
			return err
		}
		return show(ctx, f, func(o ops.Ops) ([]ops.IncidentView, error) { return o.Incidents(ctx, *ch) },
			func(vs []ops.IncidentView) error {
				tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "INCIDENT\tSTATE\tOUTCOME\tSTEPS\tTITLE")
				for _, v := range vs {
					steps := 0
					for _, s := range v.Timeline {
						if s.Applied {
							steps++
						}
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", v.ID, deconflict.State(v.State).Text(lang),
						cmpOr(deconflict.Outcome(v.Outcome).Text(lang), "-"), steps, inert(v.Title))
				}
				return tw.Flush()
			})
	}
}

func cmdIncidentShow(f *flags) action {
	f.printsJSON()
	id := f.String("id", "", "the incident: `ID` of its opening entry")
	langFlag := f.String("lang", "", "language to show: `en|zh` (default from $LANG)")
	f.require("id")
	return func(ctx context.Context, _ []string) error {
		lang, err := viewLang("incident show", *langFlag)
		if err != nil {
			return err
		}
		ch, _, _, err := ops.ParseID(*id)
		if err != nil {
			return err
		}
		return withOps(ctx, *f.dir, func(o ops.Ops) error {
			vs, err := o.Incidents(ctx, ch)
			if err != nil {
				return err
			}
			i := slices.IndexFunc(vs, func(v ops.IncidentView) bool { return v.ID == *id })
			if i < 0 {
				return fmt.Errorf("incident show: no incident %s here", *id)
			}
			v := vs[i]
			if *f.json {
				return printJSON(v)
			}
			fmt.Printf("incident %s opened by %s: “%s” (%s)\n", v.ID, v.Opener, inert(v.Title), v.Lang)
			state := deconflict.State(v.State).Text(lang)
			if v.Outcome != "" {
				state += ", " + deconflict.Outcome(v.Outcome).Text(lang)
				if v.ClosingBy != "" && v.State != string(deconflict.StateClosed) {
					state += " (proposed by " + v.ClosingBy + ")"
				}
			}
			fmt.Printf("state: %s\ntimeline:\n", state)
			for _, s := range v.Timeline {
				mark := fmt.Sprintf("%s → %s", deconflict.State(s.From).Text(lang), deconflict.State(s.To).Text(lang))
				if s.From == "" {
					mark = "→ " + deconflict.State(s.To).Text(lang)
				}
				if !s.Applied {
					mark = "not applied: " + s.Why
				}
				fmt.Printf("  %s  %s  %s  %s\n    %s\n", s.Entry, s.At.UTC().Format(time.DateTime), s.Action, inert(mark), inert(s.Rendered[lang]))
			}
			if len(v.Linked) > 0 {
				fmt.Println("about:")
				for _, m := range v.Linked {
					fmt.Printf("  %s  %s  %s\n", m.ID, m.Kind, inert(rendered(m, lang)))
				}
			}
			return nil
		})
	}
}

// cmdIncidentReport writes an incident's after-action report
// (internal/afteraction): the same document the console gives supervisors
// and auditors.
func cmdIncidentReport(f *flags) action {
	const name = "incident report"
	id := f.String("incident", "", "the incident: `ID` of its opening entry")
	out := f.String("out", "", "the HTML `FILE` to write")
	langFlag := f.String("lang", "", "language of the report: `en|zh` (default from $LANG)")
	f.require("incident", "out")
	return func(ctx context.Context, _ []string) error {
		lang, err := viewLang(name, *langFlag)
		if err != nil {
			return err
		}
		if _, _, _, err := ops.ParseID(*id); err != nil {
			return fmt.Errorf("%s: --incident: %w", name, err)
		}
		return withOps(ctx, *f.dir, func(o ops.Ops) error {
			rep, err := afteraction.Gather(ctx, o, *id, time.Now())
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			page, err := rep.HTML(lang)
			if err != nil {
				return err
			}
			if err := home.WriteFile(*out, page, 0o644); err != nil {
				return err
			}
			fmt.Printf("wrote %s: incident %s, %d entries, %d with proofs of inclusion\n", *out, *id, len(rep.Entries), rep.Proven())
			return nil
		})
	}
}

func cmdPlanAdd(f *flags) action {
	const name = "plan add"
	f.printsJSON()
	ch := f.String("channel", "", "the channel `ID` it would be notified on, and to call about it")
	kind := f.String("kind", "", "`KIND`: exercise, live_fire, missile_launch, air_patrol, transit, survey or other")
	circle := f.String("circle", "", "the area as a circle: `LAT,LON,RADIUS_NM`")
	poly := f.String("polygon", "", "the area as a polygon: `\"LAT,LON;LAT,LON;...\"`")
	from := f.String("from", "", "start `TIME`, e.g. 2026-05-01T00:00Z")
	until := f.String("until", "", "end `TIME`")
	to := f.String("to", "", "end `TIME`, as --until (its earlier name)")
	band := f.String("band", "", "altitude or depth band in metres, `LOW,HIGH`")
	var units multi
	f.Var(&units, "units", "`UNITS` taking part, comma-separated")
	title := f.String("title", "", "short title, free `TEXT`")
	desc := f.String("description", "", "description, free `TEXT`")
	lang := f.String("lang", "", "language `TAG` of the title and description (default from $LANG)")
	f.require("channel")
	noticeNeeds(f)
	return func(ctx context.Context, _ []string) error {
		if *to != "" && *until != "" {
			return fmt.Errorf("%s: --to %s and --until %s: give the end time once, as --until", name, *to, *until)
		}
		n, err := noticeFromFlags(name, noticeFlags{kind: *kind, circle: *circle, poly: *poly, from: *from, to: cmpOr(*until, *to), band: *band,
			units: units, call: *ch, title: *title, desc: *desc, lang: *lang})
		if err != nil {
			return err
		}
		body, err := json.Marshal(n)
		if err != nil {
			return err
		}
		return show(ctx, f, func(o ops.Ops) (*ops.PlanView, error) { return o.AddPlan(ctx, ops.PlanRequest{Plan: body}) },
			func(p *ops.PlanView) error {
				l, _ := viewLang(name, "")
				fmt.Printf("plan %d\n", p.ID)
				for _, x := range p.Findings {
					fmt.Println(inert(x.Text[l]))
				}
				return nil
			})
	}
}

func cmdPlanList(f *flags) action {
	f.printsJSON()
	langFlag := f.String("lang", "", "language to show: `en|zh` (default from $LANG)")
	return func(ctx context.Context, _ []string) error {
		lang, err := viewLang("plan list", *langFlag)
		if err != nil {
			return err
		}
		return show(ctx, f, func(o ops.Ops) ([]ops.PlanView, error) { return o.Plans(ctx) },
			func(ps []ops.PlanView) error {
				tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "PLAN\tNOTIFIED AS\tACTIVITY")
				for _, p := range ps {
					fmt.Fprintf(tw, "%d\t%s\t%s\n", p.ID, cmpOr(p.Notice, "-"), inert(p.Rendered[lang]))
				}
				return tw.Flush()
			})
	}
}

func cmdFindings(f *flags) action {
	f.printsJSON()
	langFlag := f.String("lang", "", "language to show: `en|zh` (default from $LANG)")
	return func(ctx context.Context, _ []string) error {
		lang, err := viewLang("findings", *langFlag)
		if err != nil {
			return err
		}
		return show(ctx, f, func(o ops.Ops) ([]ops.FindingView, error) { return o.Findings(ctx) },
			func(fs []ops.FindingView) error {
				for _, x := range fs {
					fmt.Printf("%s  %s\n", x.FoundAt.Format(time.DateTime), inert(x.Text[lang]))
				}
				return nil
			})
	}
}
