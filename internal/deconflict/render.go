package deconflict

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"hotline/internal/codebook"
)

// Summaries write an entry for a person in English ("en") or Simplified
// Chinese ("zh-Hans"), from its fields: like coded messages, each side
// reads the entry in its own language, never a translation carried in it.
// Free text (titles, descriptions, notes) is shown as written, quoted and
// marked with its language.

func zh(lang string) bool { return lang == "zh-Hans" }

// FormatTime writes t (UTC, to the minute) as the codebook writes times.
func FormatTime(t time.Time, lang string) string {
	t = t.UTC()
	if zh(lang) {
		return t.Format("2006年1月2日15:04（UTC）")
	}
	return t.Format("15:04 UTC 2 January 2006")
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// free marks text a person wrote, with its language.
func free(text, textLang, lang string) string {
	if zh(lang) {
		return "“" + text + "”（自由文本，" + textLang + "）"
	}
	return "“" + text + "” (free text, " + textLang + ")"
}

// Text describes the area in lang.
func (a *Area) Text(lang string) string {
	switch {
	case a.Circle != nil && zh(lang):
		return fmt.Sprintf("以%s为中心、半径%s海里的圆", a.Circle.Center.Format(lang), num(a.Circle.RadiusNM))
	case a.Circle != nil:
		return fmt.Sprintf("a circle of %s NM around %s", num(a.Circle.RadiusNM), a.Circle.Center.Format(lang))
	}
	vs := make([]string, len(a.Polygon))
	for i, v := range a.Polygon {
		vs[i] = v.Format(lang)
	}
	if zh(lang) {
		return "顶点依次为" + strings.Join(vs, "，") + "的多边形"
	}
	return "the polygon " + strings.Join(vs, " – ")
}

// Text describes the band in lang; nil is every height and depth.
func (b *Band) Text(lang string) string {
	switch {
	case b == nil && zh(lang):
		return "所有高度和深度"
	case b == nil:
		return "all heights and depths"
	case zh(lang):
		return fmt.Sprintf("高度%s米至%s米", num(b.LowM), num(b.HighM))
	}
	return fmt.Sprintf("from %s m to %s m", num(b.LowM), num(b.HighM))
}

// Text describes the window in lang.
func (w Window) Text(lang string) string {
	if zh(lang) {
		return FormatTime(w.From, lang) + "至" + FormatTime(w.To, lang)
	}
	return "from " + FormatTime(w.From, lang) + " to " + FormatTime(w.To, lang)
}

// Summary writes the notice in lang.
func (n *Notice) Summary(lang string) string {
	var b strings.Builder
	if zh(lang) {
		b.WriteString("活动通报：" + n.Kind.Text(lang))
		if n.Title != "" {
			b.WriteString(" " + free(n.Title, n.Lang, lang))
		}
		fmt.Fprintf(&b, "；区域：%s；%s；时间：%s；单位：%s；联络频道：%s。", n.Area.Text(lang), n.Band.Text(lang),
			n.Window.Text(lang), strings.Join(n.Units, "、"), n.Call)
		if n.Description != "" {
			b.WriteString("说明：" + free(n.Description, n.Lang, lang))
		}
		if n.Replaces != nil {
			b.WriteString("（修订" + n.Replaces.String() + "）")
		}
		return b.String()
	}
	b.WriteString("Notice of " + n.Kind.Text(lang))
	if n.Title != "" {
		b.WriteString(" " + free(n.Title, n.Lang, lang))
	}
	fmt.Fprintf(&b, ": %s, %s, %s; units %s; call on %s.", n.Area.Text(lang), n.Band.Text(lang),
		n.Window.Text(lang), strings.Join(n.Units, ", "), n.Call)
	if n.Description != "" {
		b.WriteString(" " + free(n.Description, n.Lang, lang))
	}
	if n.Replaces != nil {
		b.WriteString(" (amends " + n.Replaces.String() + ")")
	}
	return b.String()
}

func (t *Track) text(lang string) string {
	if zh(lang) {
		return fmt.Sprintf("%s位于%s，航向%03.0f°，航速%s节", t.Unit, t.Position.Format(lang), t.Course, num(t.SpeedKn))
	}
	return fmt.Sprintf("%s at %s, course %03.0f°, speed %s knots", t.Unit, t.Position.Format(lang), t.Course, num(t.SpeedKn))
}

// Summary writes the report in lang: the tracks, the closest approach
// observed and how many messages were exchanged on scene (cb renders
// them; see Report.Said).
func (r *Report) Summary(lang string) string {
	var b strings.Builder
	if zh(lang) {
		fmt.Fprintf(&b, "相遇报告，%s：%s；%s；观测到的最近会遇距离%s海里，时间%s", FormatTime(r.Time, lang),
			r.Own.text(lang), r.Other.text(lang), num(r.CPA.DistanceNM), FormatTime(r.CPA.Time, lang))
		if r.Unsafe {
			b.WriteString("；报告方认为不安全")
		}
		if len(r.Said) > 0 {
			fmt.Fprintf(&b, "；现场交换标准用语%d条", len(r.Said))
		}
		b.WriteString("。")
		if r.Description != "" {
			b.WriteString(free(r.Description, r.Lang, lang))
		}
		return b.String()
	}
	fmt.Fprintf(&b, "Encounter at %s: %s; %s; closest approach observed %s NM at %s", FormatTime(r.Time, lang),
		r.Own.text(lang), r.Other.text(lang), num(r.CPA.DistanceNM), FormatTime(r.CPA.Time, lang))
	if r.Unsafe {
		b.WriteString("; UNSAFE in the reporter's judgement")
	}
	if len(r.Said) > 0 {
		fmt.Fprintf(&b, "; %d standard message(s) exchanged on scene", len(r.Said))
	}
	b.WriteString(".")
	if r.Description != "" {
		b.WriteString(" " + free(r.Description, r.Lang, lang))
	}
	return b.String()
}

var stateText = map[State][2]string{
	StateOpen:         {"open", "已开启"},
	StateAcknowledged: {"acknowledged", "已确认"},
	StateDiscussion:   {"under discussion", "讨论中"},
	StateClosing:      {"closing", "待结案"},
	StateClosed:       {"closed", "已结案"},
}

// Text names the state in lang.
func (s State) Text(lang string) string {
	t, ok := stateText[s]
	switch {
	case !ok:
		return string(s)
	case zh(lang):
		return t[1]
	}
	return t[0]
}

var outcomeText = map[Outcome][2]string{
	Resolved: {"resolved", "已解决"}, Unresolved: {"unresolved", "未解决"},
	Referred: {"referred", "已移交上级"}, Withdrawn: {"withdrawn", "已撤回"},
}

// Text names the outcome in lang.
func (o Outcome) Text(lang string) string {
	t, ok := outcomeText[o]
	switch {
	case !ok:
		return string(o)
	case zh(lang):
		return t[1]
	}
	return t[0]
}

var actionText = map[Action][2]string{
	Open: {"opens", "开启"}, Acknowledge: {"acknowledges", "确认"}, Discuss: {"discusses", "讨论"},
	Link: {"links entries to", "关联条目至"}, Close: {"closes", "结案"},
}

// Summary writes the incident entry in lang.
func (b *IncidentBody) Summary(lang string) string {
	var s strings.Builder
	a := actionText[b.Action]
	if zh(lang) {
		if b.Action == Open {
			s.WriteString("开启事件：" + free(b.Title, b.Lang, lang))
		} else {
			fmt.Fprintf(&s, "%s事件%s", a[1], b.Incident)
		}
		if b.Outcome != "" {
			s.WriteString("，结果：" + b.Outcome.Text(lang))
		}
		if b.Note != "" {
			s.WriteString("；" + free(b.Note, b.Lang, lang))
		}
		if len(b.Links) > 0 {
			fmt.Fprintf(&s, "；关联%d个条目", len(b.Links))
		}
		return s.String()
	}
	if b.Action == Open {
		s.WriteString("Opens an incident: " + free(b.Title, b.Lang, lang))
	} else {
		fmt.Fprintf(&s, "%s%s incident %s", strings.ToUpper(a[0][:1]), a[0][1:], b.Incident)
	}
	if b.Outcome != "" {
		s.WriteString(" as " + b.Outcome.Text(lang))
	}
	if b.Note != "" {
		s.WriteString(": " + free(b.Note, b.Lang, lang))
	}
	if len(b.Links) > 0 {
		fmt.Fprintf(&s, " (%d linked entries)", len(b.Links))
	}
	return s.String()
}

// MessageText writes a coded message in every language of cb, one item a
// line, each language after the other: for a place that carries text only
// (an escalation entry forwarding a coded message to the channel above).
func MessageText(cb *codebook.Codebook, m *codebook.Message) string {
	var parts []string
	for _, l := range cb.Languages() {
		if t, err := cb.RenderText(m, l); err == nil {
			parts = append(parts, strings.TrimSuffix(t, "\n"))
		}
	}
	return strings.Join(parts, "\n")
}
