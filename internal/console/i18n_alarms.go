package console

// The words of the alarm board (alarms.go, shelve.go), in both languages
// (merged into catalogs; TestCatalogsComplete checks both have every key).
var alarmCatalogs = map[string]map[string]string{
	"en": {
		"alarms_active": "Active alarms", "alarms_shelved": "Shelved", "alarms_history": "History: cleared or acknowledged",
		"alarm_count": "×%d", "alarm_chattering": "chattering", "alarm_not_acked": "%d cleared before anyone acknowledged them",
		"alarm_ack_label": "Acknowledge the alarms of %s", "alarm_path_back": "a path to the peer was up again at %s",
		"shelve": "Shelve…", "shelve_for": "For", "shelve_reason": "Reason", "shelve_submit": "Shelve", "shelve_label": "Shelve the alarms of %s",
		"shelve_15m": "15 minutes", "shelve_1h": "1 hour", "shelve_4h": "4 hours", "shelve_12h": "12 hours",
		"shelved_by": "shelved by %s until %s:", "unshelve": "Unshelve", "unshelve_label": "Unshelve the alarms of %s",
		"alarm_rate":  "Alarm rate per operator position",
		"rate_alarms": "Alarms", "rate_per10": "Mean per 10 minutes", "rate_peak": "Most in 10 minutes", "rate_against": "Against EEMUA 191",
		"rate_hour": "last hour", "rate_day": "last day", "rate_ok": "acceptable", "rate_high": "above the benchmark", "rate_flood": "FLOOD",
		"rate_benchmark": "EEMUA 191: about one alarm per 10 minutes per operator is acceptable; more than 10 in 10 minutes is a flood. Alarms are what take over the screen; warnings and notices are not counted.",
		"cleared_title":  "Channel %s was DOWN, and is back.",
		"cleared_text":   "A path came back at %s, before anyone acknowledged the alarm (%d times).",
	},
	"zh": {
		"alarms_active": "当前警报", "alarms_shelved": "已搁置", "alarms_history": "历史：已解除或已确认",
		"alarm_count": "共 %d 次", "alarm_chattering": "频繁振荡", "alarm_not_acked": "%d 次在无人确认前已解除",
		"alarm_ack_label": "确认 %s 的警报", "alarm_path_back": "%s 通往对方的通路已恢复",
		"shelve": "搁置…", "shelve_for": "时长", "shelve_reason": "理由", "shelve_submit": "搁置", "shelve_label": "搁置 %s 的警报",
		"shelve_15m": "15 分钟", "shelve_1h": "1 小时", "shelve_4h": "4 小时", "shelve_12h": "12 小时",
		"shelved_by": "已由 %s 搁置至 %s：", "unshelve": "取消搁置", "unshelve_label": "取消搁置 %s 的警报",
		"alarm_rate":  "每个操作席位的警报率",
		"rate_alarms": "警报数", "rate_per10": "平均每 10 分钟", "rate_peak": "10 分钟内最多", "rate_against": "对照 EEMUA 191",
		"rate_hour": "最近一小时", "rate_day": "最近一天", "rate_ok": "可接受", "rate_high": "高于基准", "rate_flood": "警报泛滥",
		"rate_benchmark": "EEMUA 191：每名操作员约每 10 分钟一次警报为可接受；10 分钟内超过 10 次即为警报泛滥。只计接管屏幕的警报，不计警告和通知。",
		"cleared_title":  "信道 %s 曾中断，现已恢复。",
		"cleared_text":   "%s 通路已恢复，此前无人确认该警报（共 %d 次）。",
	},
}

func init() {
	for lang, m := range alarmCatalogs {
		for k, v := range m {
			catalogs[lang][k] = v
		}
	}
}
