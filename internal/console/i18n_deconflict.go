package console

// The words of the map, the incidents and the deconfliction cards, in
// both languages (merged into catalogs; TestCatalogsComplete checks both
// have every key).
var deconflictCatalogs = map[string]map[string]string{
	"en": {
		"incidents": "Incidents", "incident": "Incident", "map": "Map", "map_desc": "Notices of activities, encounter reports, findings and incidents, %s",
		"map_view": "Zoom and pan the map", "map_zoom_in": "Zoom in", "map_zoom_out": "Zoom out", "map_whole": "Whole map",
		"map_pan_w": "Move the view west", "map_pan_n": "Move the view north", "map_pan_s": "Move the view south", "map_pan_e": "Move the view east",
		"map_view_hint": "Or the mouse wheel to zoom, and drag to move.",
		"filter_from":   "From", "filter_to": "To", "filter_or": "or", "filter_hours": "Now ± hours", "filter_apply": "Show", "filter_clear": "All times",
		"filter_hint": "Times in UTC, like 2026-05-01T14:30Z or 2026-05-01; or a number of hours either side of now. What was active at any time in the window is shown.",
		"map_shown":   "Shown:", "map_credit": "Coastlines: Natural Earth 1:50m (public domain).", "map_list": "On the map",
		"map_nothing": "Nothing in this window.", "findings": "Findings", "suggested": "Suggested message (never sent by itself)",
		"free_text": "[free text, %s]", "on_map": "on the map", "no_findings": "No findings in this window.",
		"opener": "Opened by", "opened": "Opened", "entries": "Steps / entries", "no_incidents": "No incidents.",
		"proposed_by": "proposed by %s", "aar": "After-action report", "aar_hint": "(one HTML file with the timeline, the map and proofs of inclusion; printable)",
		"timeline": "Timeline", "not_applied": "not applied: %s", "linked": "Entries it is about", "no_linked": "None held here.",
		"open_incident": "the incident",
		"inc_open":      "open", "inc_acknowledged": "acknowledged", "inc_under_discussion": "under discussion", "inc_closing": "closing", "inc_closed": "closed",
		"outcome_resolved": "resolved", "outcome_unresolved": "unresolved", "outcome_referred": "referred", "outcome_withdrawn": "withdrawn",
		"action_open": "opened", "action_acknowledge": "acknowledged", "action_discuss": "discussed", "action_link": "linked", "action_close": "close",
		"kind_text": "message", "kind_coded": "coded message", "kind_notice": "notice of activity", "kind_report": "encounter report", "kind_incident": "incident entry",
	},
	"zh": {
		"incidents": "事件", "incident": "事件", "map": "地图", "map_desc": "活动通报、相遇报告、检查结果和事件，%s",
		"map_view": "缩放和平移地图", "map_zoom_in": "放大", "map_zoom_out": "缩小", "map_whole": "全图",
		"map_pan_w": "视图向西移动", "map_pan_n": "视图向北移动", "map_pan_s": "视图向南移动", "map_pan_e": "视图向东移动",
		"map_view_hint": "也可用鼠标滚轮缩放，拖动以移动。",
		"filter_from":   "自", "filter_to": "至", "filter_or": "或", "filter_hours": "当前时间前后小时数", "filter_apply": "显示", "filter_clear": "全部时间",
		"filter_hint": "时间为 UTC，如 2026-05-01T14:30Z 或 2026-05-01；或填写当前时间前后的小时数。显示在该时段内任一时刻有效的内容。",
		"map_shown":   "显示范围：", "map_credit": "海岸线：Natural Earth 1:50m（公有领域）。", "map_list": "地图上的内容",
		"map_nothing": "该时段内没有内容。", "findings": "检查结果", "suggested": "建议发送的消息（不会自动发送）",
		"free_text": "【自由文本，%s】", "on_map": "在地图上查看", "no_findings": "该时段内没有检查结果。",
		"opener": "发起方", "opened": "发起时间", "entries": "步骤 / 条目", "no_incidents": "尚无事件。",
		"proposed_by": "由 %s 提出", "aar": "事后报告", "aar_hint": "（单个 HTML 文件，含时间线、地图和包含证明；可打印）",
		"timeline": "时间线", "not_applied": "未生效：%s", "linked": "相关条目", "no_linked": "本站未持有。",
		"open_incident": "查看事件",
		"inc_open":      "已发起", "inc_acknowledged": "已确认", "inc_under_discussion": "讨论中", "inc_closing": "待关闭", "inc_closed": "已关闭",
		"outcome_resolved": "已解决", "outcome_unresolved": "未解决", "outcome_referred": "已移交", "outcome_withdrawn": "已撤回",
		"action_open": "发起", "action_acknowledge": "确认", "action_discuss": "讨论", "action_link": "关联", "action_close": "关闭",
		"kind_text": "消息", "kind_coded": "代码消息", "kind_notice": "活动通报", "kind_report": "相遇报告", "kind_incident": "事件条目",
	},
}

func init() {
	for lang, m := range deconflictCatalogs {
		for k, v := range m {
			catalogs[lang][k] = v
		}
	}
}
