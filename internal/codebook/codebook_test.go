package codebook_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
	"unicode"

	"hotline/internal/codebook"
)

// The hash of cues-v1.json is recorded in channel charters. Changing the
// file changes it: publish a cues-v2.json instead and leave v1 as it is.
const defaultHash = "sha256:494d9deb02893f0263a509553303314a0559ba0ae882da49132f89d4729907b7"

func TestDefault(t *testing.T) {
	c := codebook.Default()
	if got := c.Version(); got != "hotline-cues/1" {
		t.Errorf("Version = %q", got)
	}
	if got := c.Hash(); got != defaultHash {
		t.Errorf("Hash = %s, want %s: cues-v1.json changed; a published codebook never changes, add a new version", got, defaultHash)
	}
	if got := c.Languages(); len(got) != 2 || got[0] != "en" || got[1] != "zh-Hans" {
		t.Errorf("Languages = %v", got)
	}
	phrases := c.Phrases()
	if len(phrases) < 60 {
		t.Errorf("%d phrases, want at least 60", len(phrases))
	}
	used := map[string]int{}
	for _, p := range phrases {
		used[p.Category]++
	}
	for _, k := range c.Categories() {
		if used[k.ID] < 5 {
			t.Errorf("category %s has %d phrases", k.ID, used[k.ID])
		}
	}
	for _, id := range []string{"manoeuvring", "safety", "communications", "request", "answer"} {
		if used[id] == 0 {
			t.Errorf("no phrases in category %s", id)
		}
	}
	again, err := codebook.Parse(codebook.DefaultFile())
	if err != nil {
		t.Fatal(err)
	}
	if again.Hash() != c.Hash() {
		t.Error("parsing the file again gives another hash")
	}
}

// TestDefaultICS checks the phrases that carry an International Code of
// Signals single-letter group against the meanings of those letters.
func TestDefaultICS(t *testing.T) {
	want := map[string]string{
		"A": "diver down", "C": "affirmative", "D": "manoeuvring with difficulty",
		"E": "altering my course to starboard", "F": "disabled", "I": "altering my course to port",
		"K": "wish to communicate", "L": "stop your vessel instantly", "M": "stopped and making no way",
		"N": "negative", "O": "Man overboard", "S": "astern propulsion", "U": "running into danger",
		"V": "require assistance", "W": "medical assistance", "X": "Stop carrying out your intentions",
		"Y": "dragging my anchor",
	}
	seen := map[string]bool{}
	for _, p := range codebook.Default().Phrases() {
		if p.ICS == "" {
			continue
		}
		seen[p.ICS] = true
		if w, ok := want[p.ICS]; !ok || !strings.Contains(p.Text["en"], w) {
			t.Errorf("%s carries ICS %s but reads %q", p.Code, p.ICS, p.Text["en"])
		}
	}
	for l := range want {
		if !seen[l] {
			t.Errorf("no phrase carries ICS %s", l)
		}
	}
}

// sample returns a valid value of each type, and how it renders in each
// language.
func sample(ty codebook.Type) (v any, en, zh string) {
	switch ty {
	case codebook.TypeCourse:
		return 45, "045°", "045°"
	case codebook.TypeBearing:
		return 270, "270°", "270°"
	case codebook.TypeSpeed:
		return 12.5, "12.5 knots", "12.5节"
	case codebook.TypeDistanceNM:
		return 3, "3 nautical miles", "3海里"
	case codebook.TypeDistanceCables:
		return 1, "1 cable", "1链"
	case codebook.TypeTime:
		return time.Date(2026, 5, 1, 14, 30, 0, 0, time.UTC), "14:30 UTC 1 May 2026", "2026年5月1日14:30（UTC）"
	case codebook.TypePosition:
		return codebook.Position{Lat: 9.55, Lon: 115.5}, "09°33.00′N 115°30.00′E", "北纬09°33.00′、东经115°30.00′"
	case codebook.TypeUnit:
		return "Hotline 171", "Hotline 171", "Hotline 171"
	case codebook.TypeText:
		return "rudder jammed", "“rudder jammed”", "“rudder jammed”"
	case codebook.TypeVHFChannel:
		return 16, "channel 16", "16频道"
	case codebook.TypeFrequencyMHz:
		return 121.5, "121.500 MHz", "121.500兆赫"
	case codebook.TypeAltitudeFt:
		return 12000, "12000 feet", "12000英尺"
	}
	panic("no sample for " + string(ty))
}

// TestEveryPhraseRoundTrip builds a message of every phrase with sample
// values, encodes and decodes it, and renders it in both languages from
// the decoded copy: every value appears as that language writes it, no
// template syntax is left, and the English has no Chinese (the Chinese
// text is not a translation carried along, it comes from the codebook).
func TestEveryPhraseRoundTrip(t *testing.T) {
	c := codebook.Default()
	for _, p := range c.Phrases() {
		t.Run(p.Code, func(t *testing.T) {
			args := codebook.Args{}
			var wantEN, wantZH []string
			for _, a := range p.Params {
				v, en, zh := sample(a.Type)
				args[a.Name] = v
				wantEN, wantZH = append(wantEN, en), append(wantZH, zh)
			}
			m, err := c.NewMessage(codebook.Coded(p.Code, args))
			if err != nil {
				t.Fatal(err)
			}
			body, err := m.Encode()
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Decode(body)
			if err != nil {
				t.Fatalf("Decode(%s): %v", body, err)
			}
			for _, lang := range []string{"en", "zh-Hans"} {
				lines, err := c.Render(got, lang)
				if err != nil {
					t.Fatal(err)
				}
				if len(lines) != 1 || lines[0].Code != p.Code || lines[0].Lang != lang || lines[0].Free {
					t.Fatalf("Render = %+v", lines)
				}
				text := lines[0].Text
				if strings.ContainsAny(text, "{}") {
					t.Errorf("%s: template syntax left in %q", lang, text)
				}
				want := wantEN
				if lang == "zh-Hans" {
					want = wantZH
				}
				for _, w := range want {
					if !strings.Contains(text, w) {
						t.Errorf("%s: %q does not contain %q", lang, text, w)
					}
				}
				han := strings.ContainsFunc(text, func(r rune) bool { return unicode.Is(unicode.Han, r) })
				if han != (lang == "zh-Hans") {
					t.Errorf("%s: %q has Chinese characters: %v", lang, text, han)
				}
			}
		})
	}
}

func TestRender(t *testing.T) {
	c := codebook.Default()
	at := time.Date(2026, 5, 1, 6, 5, 0, 0, time.UTC)
	tests := []struct {
		item   codebook.Item
		en, zh string
	}{
		{codebook.Coded("MNV01", nil), "I am altering my course to starboard.", "我船正在向右转向。"},
		{codebook.Coded("MNV06", nil), "I intend to alter course to starboard.", "我船拟向右转向。"},
		{codebook.Coded("MNV08", codebook.Args{"course": 5, "speed": 1}),
			"My course is 005° and my speed is 1 knot.", "我船航向005°，航速1节。"},
		{codebook.Coded("REQ04", codebook.Args{"position": codebook.Position{Lat: -0.5, Lon: -179.99}, "distance": 12.5}),
			"Keep clear of the area centred on 00°30.00′S 179°59.40′W, radius 12.5 nautical miles.",
			"请远离以南纬00°30.00′、西经179°59.40′为中心、半径12.5海里的区域。"},
		{codebook.Coded("SAF11", codebook.Args{"distance": 0.3, "time": at}),
			"The closest point of approach will be 0.3 nautical miles at 06:05 UTC 1 May 2026.",
			"最近会遇距离将为0.3海里，时间为2026年5月1日06:05（UTC）。"},
		{codebook.Coded("MNV21", codebook.Args{"distance": 5}),
			"I intend to pass you at a distance of 5 cables.", "我船拟在距你船5链处通过。"},
		{codebook.Coded("COM02", codebook.Args{"unit": "海警2301"}), "This is 海警2301.", "这里是海警2301。"},
		{codebook.Coded("MNV25", codebook.Args{"altitude": 1}), "I am climbing to 1 foot.", "我机正在爬升至1英尺。"},
		{codebook.Coded("COM05", codebook.Args{"frequency": 243}), "Communicate with me on 243.000 MHz.", "请在243.000兆赫上与我方通信。"},
	}
	for _, tc := range tests {
		t.Run(tc.item.Code, func(t *testing.T) {
			m, err := c.NewMessage(tc.item)
			if err != nil {
				t.Fatal(err)
			}
			for lang, want := range map[string]string{"en": tc.en, "zh-Hans": tc.zh} {
				lines, err := c.Render(m, lang)
				if err != nil {
					t.Fatal(err)
				}
				if lines[0].Text != want {
					t.Errorf("%s:\n got %s\nwant %s", lang, lines[0].Text, want)
				}
			}
		})
	}
}

// TestFreeText checks that free text is shown as written in every
// language, marked as free text with the language it was written in.
func TestFreeText(t *testing.T) {
	c := codebook.Default()
	m, err := c.NewMessage(codebook.Coded("COM01", nil), codebook.Free("我舰将在十分钟后回复。\n请等待。", "zh-Hans"), codebook.Free("Stand by.", "en"))
	if err != nil {
		t.Fatal(err)
	}
	for lang, want := range map[string]string{
		"en":      "COM01 I wish to communicate with you.\n[free text, zh-Hans] 我舰将在十分钟后回复。\n请等待。\n[free text, en] Stand by.\n",
		"zh-Hans": "COM01 我方希望与你方通信。\n【自由文本，zh-Hans】我舰将在十分钟后回复。\n请等待。\n【自由文本，en】Stand by.\n",
	} {
		got, err := c.RenderText(m, lang)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s:\n got %q\nwant %q", lang, got, want)
		}
		lines, _ := c.Render(m, lang)
		if !lines[1].Free || lines[1].Lang != "zh-Hans" || lines[2].Lang != "en" || lines[0].Free {
			t.Errorf("%s: lines %+v", lang, lines)
		}
	}
	if _, err := c.Render(m, "fr"); !errors.Is(err, codebook.ErrLanguage) {
		t.Errorf("Render in fr: %v", err)
	}
}

func TestValidateErrors(t *testing.T) {
	c := codebook.Default()
	tests := []struct {
		name  string
		items []codebook.Item
		want  error
		text  string // substring of the error
	}{
		{"unknown code", []codebook.Item{codebook.Coded("MNV99", nil)}, codebook.ErrUnknownCode, "items[0] (MNV99): unknown code MNV99 in codebook hotline-cues/1"},
		{"not a code", []codebook.Item{codebook.Coded("mnv01", nil)}, codebook.ErrUnknownCode, `"mnv01" is not a code`},
		{"missing", []codebook.Item{codebook.Coded("MNV08", codebook.Args{"course": 10})}, codebook.ErrMissingParam, "items[0] (MNV08): parameter speed: missing parameter (speed in knots"},
		{"extra", []codebook.Item{codebook.Coded("MNV01", codebook.Args{"course": 10})}, codebook.ErrExtraParam, "items[0] (MNV01): parameter course: unexpected parameter: MNV01 takes no parameters"},
		{"extra with all present", []codebook.Item{codebook.Coded("MNV09", codebook.Args{"course": 10, "zeal": 1})}, codebook.ErrExtraParam, "parameter zeal: unexpected parameter: MNV09 takes course"},
		{"wrong type", []codebook.Item{codebook.Coded("MNV09", codebook.Args{"course": "045"})}, codebook.ErrParamValue, `parameter course: parameter value is not valid: course: "045" is not a whole number from 0 to 359`},
		{"course 360", []codebook.Item{codebook.Coded("MNV09", codebook.Args{"course": 360})}, codebook.ErrParamValue, "360 is out of range 0-359"},
		{"negative course", []codebook.Item{codebook.Coded("MNV09", codebook.Args{"course": -1})}, codebook.ErrParamValue, "-1 is not a whole number"},
		{"fractional course", []codebook.Item{codebook.Coded("MNV09", codebook.Args{"course": 45.5})}, codebook.ErrParamValue, "45.5 is not a whole number"},
		{"speed decimals", []codebook.Item{codebook.Coded("MNV10", codebook.Args{"speed": 12.25})}, codebook.ErrParamValue, "12.25 is not a number from 0 to 2000 with at most 1 decimal"},
		{"speed range", []codebook.Item{codebook.Coded("MNV10", codebook.Args{"speed": 2001})}, codebook.ErrParamValue, "2001 is out of range 0-2000"},
		{"speed exponent", []codebook.Item{{Code: "MNV10", Params: map[string]json.RawMessage{"speed": json.RawMessage("1e1")}}}, codebook.ErrParamValue, "1e1 is not a number"},
		{"NaN", []codebook.Item{codebook.Coded("MNV10", codebook.Args{"speed": math.NaN()})}, codebook.ErrParamValue, "parameter speed: parameter value is not valid: the value could not be encoded"},
		{"time with offset", []codebook.Item{codebook.Coded("ACT15", codebook.Args{"time": "2026-05-01T14:30:00+08:00"})}, codebook.ErrParamValue, "is not a UTC time to the minute"},
		{"time with seconds", []codebook.Item{codebook.Coded("ACT15", codebook.Args{"time": time.Date(2026, 5, 1, 14, 30, 5, 0, time.UTC)})}, codebook.ErrParamValue, "is not a UTC time to the minute"},
		{"time as number", []codebook.Item{codebook.Coded("ACT15", codebook.Args{"time": 1430})}, codebook.ErrParamValue, "1430 is not a string"},
		{"latitude", []codebook.Item{codebook.Coded("MNV24", codebook.Args{"position": codebook.Position{Lat: 91, Lon: 0}})}, codebook.ErrParamValue, "latitude 91 is not between -90 and 90"},
		{"longitude", []codebook.Item{codebook.Coded("MNV24", codebook.Args{"position": map[string]any{"lat": 1, "lon": 190}})}, codebook.ErrParamValue, "longitude 190 is not between -180 and 180"},
		{"position missing lon", []codebook.Item{codebook.Coded("MNV24", codebook.Args{"position": map[string]any{"lat": 1}})}, codebook.ErrParamValue, `{"lat":1} is not {"lat": degrees, "lon": degrees}`},
		{"position as text", []codebook.Item{codebook.Coded("MNV24", codebook.Args{"position": "16N 112E"})}, codebook.ErrParamValue, "parameter position"},
		{"vhf 40", []codebook.Item{codebook.Coded("COM04", codebook.Args{"channel": 40})}, codebook.ErrParamValue, "40 is not a marine VHF channel"},
		{"frequency 0", []codebook.Item{codebook.Coded("COM05", codebook.Args{"frequency": 0})}, codebook.ErrParamValue, "frequency 0 MHz"},
		{"empty unit", []codebook.Item{codebook.Coded("COM02", codebook.Args{"unit": " "})}, codebook.ErrParamValue, "parameter unit: parameter value is not valid: unit: empty"},
		{"long unit", []codebook.Item{codebook.Coded("COM02", codebook.Args{"unit": strings.Repeat("x", 65)})}, codebook.ErrParamValue, "65 bytes, limit 64"},
		{"bidi override", []codebook.Item{codebook.Coded("ANS05", codebook.Args{"reason": "ok\u202e"})}, codebook.ErrParamValue, "formatting character U+202E"},
		{"free without lang", []codebook.Item{codebook.Free("hello", "")}, codebook.ErrMessage, "items[0]: coded message is not valid: free text needs its language"},
		{"free bad lang", []codebook.Item{codebook.Free("hello", "English")}, codebook.ErrMessage, "free text needs its language"},
		{"free with params", []codebook.Item{{Free: "x", Lang: "en", Params: map[string]json.RawMessage{"a": json.RawMessage("1")}}}, codebook.ErrMessage, "free text has no parameters"},
		{"code and free", []codebook.Item{{Code: "MNV01", Free: "x"}}, codebook.ErrMessage, "either a code or free text, not both"},
		{"empty item", []codebook.Item{{}}, codebook.ErrMessage, "an item needs a code or free text"},
		{"free too long", []codebook.Item{codebook.Free(strings.Repeat("x", codebook.MaxFree+1), "en")}, codebook.ErrMessage, "2001 bytes, limit 2000"},
		{"free control", []codebook.Item{codebook.Free("a\x07b", "en")}, codebook.ErrMessage, "control or formatting character U+0007"},
		{"no items", nil, codebook.ErrMessage, "0 items, want 1-32"},
		{"too many items", make([]codebook.Item, 33), codebook.ErrMessage, "33 items, want 1-32"},
		{"second item", []codebook.Item{codebook.Coded("MNV01", nil), codebook.Coded("MNV09", codebook.Args{"course": 400})}, codebook.ErrParamValue, "items[1] (MNV09): parameter course"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.NewMessage(tc.items...)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q does not contain %q", err, tc.text)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	c := codebook.Default()
	tests := []struct {
		name, body string
		want       error
		text       string
	}{
		{"ok", `{"codebook":"hotline-cues/1","items":[{"code":"MNV09","params":{"course":90}}]}`, nil, ""},
		{"other codebook", `{"codebook":"hotline-cues/2","items":[{"code":"MNV01"}]}`, codebook.ErrMismatch, "message uses codebook hotline-cues/2, this channel hotline-cues/1"},
		{"bad codebook name", `{"codebook":"cues","items":[{"code":"MNV01"}]}`, codebook.ErrMessage, `codebook version "cues" is not name/version`},
		{"unknown field", `{"codebook":"hotline-cues/1","items":[{"code":"MNV01","text":"x"}]}`, codebook.ErrMessage, `items[0]: unknown field "text"`},
		{"duplicate param", `{"codebook":"hotline-cues/1","items":[{"code":"MNV09","params":{"course":90,"course":270}}]}`, codebook.ErrMessage, `items[0].params: member "course" appears twice`},
		{"case folded", `{"codebook":"hotline-cues/1","Items":[{"code":"MNV01"}]}`, codebook.ErrMessage, `unknown field "Items"`},
		{"missing items", `{"codebook":"hotline-cues/1"}`, codebook.ErrMessage, `missing field "items"`},
		{"null param", `{"codebook":"hotline-cues/1","items":[{"code":"MNV09","params":{"course":null}}]}`, codebook.ErrMessage, "null is not allowed"},
		{"oversize param", `{"codebook":"hotline-cues/1","items":[{"code":"ANS05","params":{"reason":"` + strings.Repeat("x", 600) + `"}}]}`, codebook.ErrParamValue, "parameter reason: parameter value is not valid: 602 bytes, limit 512"},
		{"oversize body", `{"codebook":"hotline-cues/1","items":[{"free":"` + strings.Repeat("x", codebook.MaxBody) + `","lang":"en"}]}`, codebook.ErrMessage, "limit 16384"},
		{"trailing", `{"codebook":"hotline-cues/1","items":[{"code":"MNV01"}]}{}`, codebook.ErrMessage, "data after the JSON value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Decode([]byte(tc.body))
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q does not contain %q", err, tc.text)
			}
		})
	}
}

func TestRef(t *testing.T) {
	c := codebook.Default()
	r, err := codebook.ParseRef(c.Ref().String())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Check(r); err != nil {
		t.Fatal(err)
	}
	r.Hash = "sha256:" + strings.Repeat("0", 64)
	if err := c.Check(r); !errors.Is(err, codebook.ErrMismatch) {
		t.Errorf("Check of another hash: %v", err)
	}
	for _, s := range []string{"", "hotline-cues/1", "hotline-cues/1 sha256:00", "hotline-cues sha256:" + strings.Repeat("0", 64)} {
		if _, err := codebook.ParseRef(s); !errors.Is(err, codebook.ErrMismatch) {
			t.Errorf("ParseRef(%q): %v", s, err)
		}
	}
}

func extension(base *codebook.Codebook, phrases string) []byte {
	return fmt.Appendf(nil, `{"format":"hotline codebook extension v1","name":"alpha-bravo","version":1,
"base":%q,"base_hash":%q,
"title":{"en":"Alpha-Bravo additions","zh-Hans":"甲乙双方补充用语"},
"categories":[{"id":"fishing","text":{"en":"Fishing vessels","zh-Hans":"渔船"}}],
"phrases":[%s]}`, base.Version(), base.Hash(), phrases)
}

const xPhrase = `{"code":"XAB01","category":"fishing","params":[{"name":"position","type":"position"}],
"text":{"en":"Fishing vessels are operating near {position}.","zh-Hans":"{position}附近有渔船作业。"}}`

func TestExtend(t *testing.T) {
	base := codebook.Default()
	ext, err := base.Extend(extension(base, xPhrase))
	if err != nil {
		t.Fatal(err)
	}
	if got := ext.Version(); got != "hotline-cues/1+alpha-bravo/1" {
		t.Errorf("Version = %q", got)
	}
	if ext.Hash() == base.Hash() || base.Hash() != defaultHash {
		t.Errorf("hashes: extended %s, base %s", ext.Hash(), base.Hash())
	}
	if _, ok := base.Phrase("XAB01"); ok {
		t.Error("Extend changed the base")
	}
	if len(ext.Phrases()) != len(base.Phrases())+1 || len(ext.Categories()) != len(base.Categories())+1 {
		t.Error("extension did not add one phrase and one category")
	}
	item := codebook.Coded("XAB01", codebook.Args{"position": codebook.Position{Lat: 10, Lon: 114}})
	m, err := ext.NewMessage(item, codebook.Coded("REQ03", nil))
	if err != nil {
		t.Fatal(err)
	}
	zh, err := ext.RenderText(m, "zh-Hans")
	if err != nil {
		t.Fatal(err)
	}
	if zh != "XAB01 北纬10°00.00′、东经114°00.00′附近有渔船作业。\nREQ03 请远离我方。\n" {
		t.Errorf("rendered %q", zh)
	}
	// A station that did not agree the extension refuses the message.
	body, _ := m.Encode()
	if _, err := base.Decode(body); !errors.Is(err, codebook.ErrMismatch) {
		t.Errorf("base decoded an extended message: %v", err)
	}
	if _, err := base.NewMessage(item); !errors.Is(err, codebook.ErrUnknownCode) {
		t.Errorf("base built a message with an extension code: %v", err)
	}
	// Applying an extension twice: it names the base, not the extended book.
	if _, err := ext.Extend(extension(base, xPhrase)); !errors.Is(err, codebook.ErrMismatch) {
		t.Errorf("extension applied to the wrong base: %v", err)
	}
}

func TestExtendErrors(t *testing.T) {
	base := codebook.Default()
	tests := []struct {
		name string
		data []byte
		want error
		text string
	}{
		{"redefines a code", extension(base, strings.Replace(xPhrase, "XAB01", "MNV01", 1)), codebook.ErrCodebook, "phrase MNV01 is already defined; an extension may only add codes"},
		{"code without X", extension(base, strings.Replace(xPhrase, "XAB01", "FSH01", 1)), codebook.ErrCodebook, "phrase FSH01: extension codes begin with X"},
		{"twice in one file", extension(base, xPhrase+","+xPhrase), codebook.ErrCodebook, "phrase XAB01 is defined twice"},
		{"wrong base hash", []byte(strings.Replace(string(extension(base, xPhrase)), base.Hash(), "sha256:"+strings.Repeat("1", 64), 1)), codebook.ErrMismatch, "extends hotline-cues/1 sha256:1111"},
		{"redefines a category", []byte(strings.Replace(string(extension(base, xPhrase)), `"id":"fishing"`, `"id":"safety"`, 1)), codebook.ErrCodebook, "category safety is already defined"},
		{"missing Chinese", extension(base, strings.Replace(xPhrase, `,"zh-Hans":"{position}附近有渔船作业。"`, "", 1)), codebook.ErrCodebook, "phrase XAB01: text in zh-Hans: empty"},
		{"base format", []byte(strings.Replace(string(extension(base, xPhrase)), "extension v1", "v1", 1)), codebook.ErrCodebook, `format "hotline codebook v1", want "hotline codebook extension v1"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := base.Extend(tc.data)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q does not contain %q", err, tc.text)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	file := func(langs, phrase string) []byte {
		return fmt.Appendf(nil, `{"format":"hotline codebook v1","name":"test","version":1,
"title":{"en":"Test","zh-Hans":"测试"},"languages":%s,
"categories":[{"id":"safety","text":{"en":"Safety","zh-Hans":"安全"}}],
"phrases":[%s]}`, langs, phrase)
	}
	ok := `{"code":"SAF01","category":"safety","params":[{"name":"course","type":"course"}],"text":{"en":"Steer {course}.","zh-Hans":"操舵{course}。"}}`
	if _, err := codebook.Parse(file(`["en","zh-Hans"]`, ok)); err != nil {
		t.Fatalf("valid file: %v", err)
	}
	tests := []struct {
		name, langs, phrase, text string
	}{
		{"undeclared placeholder", "", strings.Replace(ok, "Steer {course}", "Steer {speed}", 1), "phrase SAF01 in en: {speed} is not a declared parameter"},
		{"unused parameter", "", strings.Replace(ok, "操舵{course}", "操舵", 1), "phrase SAF01 in zh-Hans: parameter course is not used"},
		{"placeholder twice", "", strings.Replace(ok, "Steer {course}", "Steer {course} {course}", 1), "{course} appears twice"},
		{"stray brace", "", strings.Replace(ok, "Steer {course}", "Steer {course", 1), "'{' without '}'"},
		{"closing brace", "", strings.Replace(ok, "Steer {course}", "Steer} {course}", 1), "'}' without '{'"},
		{"unknown type", "", strings.Replace(ok, `"type":"course"`, `"type":"heading"`, 1), `parameter course: unknown type "heading"`},
		{"unknown category", "", strings.Replace(ok, `"category":"safety"`, `"category":"misc"`, 1), `unknown category "misc"`},
		{"bad code", "", strings.Replace(ok, "SAF01", "saf-1", 1), `phrase code "saf-1"`},
		{"X code in base", "", strings.Replace(ok, "SAF01", "XSAF1", 1), "codes beginning with X are for extensions"},
		{"duplicate code", "", ok + "," + ok, "phrase SAF01 is defined twice"},
		{"parameter twice", "", strings.Replace(ok, `[{"name":"course","type":"course"}]`, `[{"name":"course","type":"course"},{"name":"course","type":"bearing"}]`, 1), "parameter course is declared twice"},
		{"extra language text", "", strings.Replace(ok, `"zh-Hans":"操舵{course}。"`, `"zh-Hans":"操舵{course}。","fr":"Barre {course}."`, 1), "texts in 3 languages"},
		{"unsupported language", `["en","fr"]`, ok, `language "fr": values can be formatted only in en, zh-Hans`},
		{"no languages", `[]`, ok, "no languages"},
		{"control character", "", strings.Replace(ok, "Steer", "Steer\\u0000", 1), "control or formatting character U+0000"},
		{"missing params", "", strings.Replace(ok, `"params":[{"name":"course","type":"course"}],`, "", 1), `missing field "params"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			langs := tc.langs
			if langs == "" {
				langs = `["en","zh-Hans"]`
			}
			_, err := codebook.Parse(file(langs, tc.phrase))
			if !errors.Is(err, codebook.ErrCodebook) {
				t.Fatalf("error %v, want ErrCodebook", err)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q does not contain %q", err, tc.text)
			}
		})
	}
}

func ExampleCodebook_RenderText() {
	c := codebook.Default()
	m, err := c.NewMessage(
		codebook.Coded("MNV08", codebook.Args{"course": 90, "speed": 12}),
		codebook.Coded("MNV06", nil),
		codebook.Free("Fishing fleet to the north.", "en"),
	)
	if err != nil {
		panic(err)
	}
	body, _ := m.Encode()
	fmt.Println(string(body))
	received, err := c.Decode(body)
	if err != nil {
		panic(err)
	}
	text, _ := c.RenderText(received, "zh-Hans")
	fmt.Print(text)
	// Output:
	// {"codebook":"hotline-cues/1","items":[{"code":"MNV08","params":{"course":90,"speed":12}},{"code":"MNV06"},{"free":"Fishing fleet to the north.","lang":"en"}]}
	// MNV08 我船航向090°，航速12节。
	// MNV06 我船拟向右转向。
	// 【自由文本，en】Fishing fleet to the north.
}
