package afteraction

import (
	"bytes"
	_ "embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"strings"
	"time"

	"hotline/internal/codebook"
	"hotline/internal/ops"
	"hotline/internal/situation"
)

//go:embed report.html
var reportHTML string

var tmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"utc": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
	"hex": func(b []byte) string { return hex.EncodeToString(b) },
	"deref": func(t *time.Time) time.Time {
		if t == nil {
			return time.Time{}
		}
		return *t
	},
}).Parse(reportHTML))

// view is what the template gets.
type view struct {
	*Report
	Lang    string // "en" or "zh-Hans"
	T       map[string]string
	Map     template.HTML
	Bounds  string
	Data    template.HTML // the report as JSON in a data block
	Changes []ops.IncidentStepView
}

// Text is an entry written in the report's language: the station's
// rendering from its codes and fields, never a translation.
func (v *view) Text(e Entry) string {
	if e.Message != nil {
		if t := e.Message.Rendered[v.Lang]; t != "" {
			return t
		}
		return e.Message.Text
	}
	if e.Step != nil {
		return e.Step.Rendered[v.Lang]
	}
	return ""
}

// Codes lists the standard phrases an entry carries: its own items, and
// for a report those said on scene.
func (v *view) Codes(e Entry) string {
	if e.Message == nil {
		return ""
	}
	var out []string
	if c := e.Message.Coded; c != nil {
		for _, it := range c.Items {
			out = append(out, codeOf(it))
		}
	}
	if r := e.Message.Report; r != nil {
		for _, s := range r.Said {
			for _, it := range s.Message.Items {
				out = append(out, codeOf(it))
			}
		}
	}
	return strings.Join(out, " ")
}

func codeOf(it codebook.Item) string {
	if it.Code == "" {
		return "[" + it.Lang + "]"
	}
	return it.Code
}

// Kind names an entry's kind, or its incident action.
func (v *view) Kind(e Entry) string {
	if e.Step != nil {
		return v.T["kind_incident"] + ": " + v.T["action_"+e.Step.Action]
	}
	if e.Message != nil {
		if k, ok := v.T["kind_"+e.Message.Kind]; ok {
			return k
		}
		return e.Message.Kind
	}
	return "—"
}

// State names an incident state.
func (v *view) State(s string) string {
	if t, ok := v.T["state_"+s]; ok {
		return t
	}
	return s
}

// HTML writes the report as one self-contained document in lang ("en",
// "zh" or "zh-Hans"; anything else is English).
func (r *Report) HTML(lang string) ([]byte, error) {
	lang = situation.Lang(lang)
	v := &view{Report: r, Lang: lang, T: catalogs[lang]}
	var msgs []ops.MessageView
	for _, e := range r.Entries {
		if e.Message != nil {
			msgs = append(msgs, *e.Message)
		}
	}
	for _, st := range r.Incident.Timeline {
		if st.Applied && st.From != st.To {
			v.Changes = append(v.Changes, st)
		}
	}
	pic := situation.Build(r.Station, msgs, []ops.IncidentView{r.Incident}, nil, situation.Filter{}, lang, situation.Links{
		Entry: func(id string) string { return "#e-" + id },
	})
	m := pic.Map(900)
	v.Bounds = m.Bounds.String()
	v.Map = template.HTML(m.SVG(v.T["map"], fmt.Sprintf(v.T["map_desc"], v.Bounds), pic.Layers))
	data, err := r.Data()
	if err != nil {
		return nil, err
	}
	// json escapes <, > and & in strings: nothing in it can close the element.
	v.Data = template.HTML(`<script type="application/json" id="hotline-report">` + string(data) + `</script>`)
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var catalogs = map[string]map[string]string{
	"en": {
		"lang": "en", "title": "After-action report", "incident": "Incident", "channel": "Channel", "opener": "Opened by",
		"state": "State", "outcome": "Outcome", "proposed_by": "proposed by %s", "made": "Made by station %s at %s from the entries it holds.",
		"lifecycle": "Lifecycle", "timeline": "Timeline", "map": "Map of the incident", "map_desc": "Notices, reports and the incident, %s",
		"when": "Author's time", "stored": "Stored here", "author": "Author", "kind": "Kind", "text": "Text (in English, from the codes and fields)",
		"codes": "Codes", "ack": "Acknowledged", "ack_by": "by %s at %s", "not_acked": "not yet", "entry": "Entry",
		"not_applied": "not applied: %s", "proofs": "Proofs of inclusion", "leaf_index": "Leaf index", "leaf_hash": "Leaf hash (SHA-256(0x00 ‖ entry))",
		"tree_size": "Tree size", "proof": "Inclusion proof (RFC 6962), leaf to root", "envelope": "Entry bytes (base64)", "unproven": "No proof",
		"checkpoints": "Checkpoints", "checkpoint_of": "Log of %s: %d entries held; checkpoint of size %d, root %s, signed by %s and cosigned by the other party:",
		"no_checkpoint": "Log of %s: %d entries held; no cosigned checkpoint.", "receipt_time": "Cosigned by the other party at %s, by its clock, under its signature (C2SP cosignature/v1).", "cards": "Station cards (the keys that signed)", "charter": "Charter",
		"how": "How to check this report offline", "empty_proof": "(empty: the tree has one leaf, its root is the leaf hash)",
		"from_to": "%s → %s", "data": "The report as data (JSON, format “hotline after-action report v1”) is in this file, in the element with id hotline-report.",
		"kind_text": "Message", "kind_coded": "Coded message", "kind_notice": "Notice", "kind_report": "Encounter report", "kind_incident": "Incident entry",
		"kind_check": "Check", "kind_escalation": "Forwarded message",
		"one_copy": "one copy of broadcast %s, sent to several parties", "broadcasts": "Sent to several parties",
		"broadcasts_desc": "Entries of this station above that it sent to several parties in one act: each party's copy is an entry on its own channel, proven by that channel's transcript (hotline export --broadcast), as the station recorded them when the report was made.",
		"party":           "Party", "delivered": "Delivered (the party's receipt)", "refused": "not sent: %s", "overdue": "overdue",
		"action_open": "open", "action_acknowledge": "acknowledge", "action_discuss": "discuss", "action_link": "link", "action_close": "close",
		"state_open": "open", "state_acknowledged": "acknowledged", "state_under_discussion": "under discussion", "state_closing": "closing", "state_closed": "closed",
		"none": "—",
	},
	"zh-Hans": {
		"lang": "zh-Hans", "title": "事后报告", "incident": "事件", "channel": "信道", "opener": "发起方",
		"state": "状态", "outcome": "结果", "proposed_by": "由 %s 提出", "made": "由站点 %s 于 %s 根据其所持条目生成。",
		"lifecycle": "生命周期", "timeline": "时间线", "map": "事件地图", "map_desc": "通报、报告和事件，%s",
		"when": "作者时间", "stored": "本站存储时间", "author": "作者", "kind": "类型", "text": "内容（中文，依据代码和字段生成）",
		"codes": "代码", "ack": "确认", "ack_by": "由 %s 于 %s", "not_acked": "尚未确认", "entry": "条目",
		"not_applied": "未生效：%s", "proofs": "包含证明", "leaf_index": "叶索引", "leaf_hash": "叶哈希（SHA-256(0x00 ‖ 条目)）",
		"tree_size": "树大小", "proof": "包含证明（RFC 6962），自叶至根", "envelope": "条目字节（base64）", "unproven": "无证明",
		"checkpoints": "检查点", "checkpoint_of": "%s 的日志：本站持有 %d 个条目；检查点大小 %d，根 %s，由 %s 签名并由另一方副署：",
		"no_checkpoint": "%s 的日志：本站持有 %d 个条目；尚无副署检查点。", "receipt_time": "另一方于 %s 副署（按其时钟，以其签名；C2SP cosignature/v1）。", "cards": "站点名片（签名所用密钥）", "charter": "信道章程",
		"how": "如何离线核验本报告", "empty_proof": "（空：树只有一个叶，根即叶哈希）",
		"from_to": "%s → %s", "data": "本文件中 id 为 hotline-report 的元素含有报告数据（JSON，格式“hotline after-action report v1”）。",
		"kind_text": "消息", "kind_coded": "代码消息", "kind_notice": "活动通报", "kind_report": "相遇报告", "kind_incident": "事件条目",
		"kind_check": "检查", "kind_escalation": "转发消息",
		"one_copy": "多方通报 %s 的一份副本（发往多个当事方）", "broadcasts": "发往多个当事方",
		"broadcasts_desc": "上列条目中本站一次发往多个当事方的条目：各当事方的副本是其各自信道上的一个条目，由该信道的记录证明（hotline export --broadcast）；此处为生成报告时本站的记录。",
		"party":           "当事方", "delivered": "已送达（对方回执）", "refused": "未发送：%s", "overdue": "已逾期",
		"action_open": "发起", "action_acknowledge": "确认", "action_discuss": "讨论", "action_link": "关联", "action_close": "关闭",
		"state_open": "已发起", "state_acknowledged": "已确认", "state_under_discussion": "讨论中", "state_closing": "待关闭", "state_closed": "已关闭",
		"none": "—",
	},
}
