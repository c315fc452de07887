package console

// The words of the Broadcasts pages (broadcasts.go), in both languages
// (merged into catalogs; TestCatalogsComplete checks both have every key).
var broadcastCatalogs = map[string]map[string]string{
	"en": {
		"broadcasts": "Broadcasts", "broadcast": "Broadcast", "bc_list": "Sent to several parties",
		"no_broadcasts": "Nothing sent to several parties yet.", "bc_all": "All broadcasts",
		"bc_compose": "Send to several parties", "bc_to": "To", "bc_to_all": "Every party (all pinned peers)",
		"bc_to_everyone": "every party", "bc_to_groups": "Groups", "bc_to_peers": "Peers", "bc_no_peers": "No pinned peers.",
		"bc_level_any": "— each party's one channel —", "bc_level_hint": "Only needed when a party has several channels: the one at this level.",
		"bc_send": "Send to all chosen", "bc_send_hint": "One entry on each party's own channel. Ctrl+Enter sends. A party that cannot be sent to is named on the next page, with why; the others still go.",
		"bc_kind": "Kind", "bc_summary": "Summary", "bc_parties": "Parties", "bc_delivered": "Delivered", "bc_acknowledged": "Acknowledged",
		"bc_overdue": "Overdue", "bc_refused": "Not sent", "bc_where": "Where it stands",
		"bc_counts": "%d parties: %d delivered, %d acknowledged", "bc_n_overdue": "%d overdue", "bc_n_refused": "%d not sent",
		"bc_party_table": "Each party's copy", "bc_party": "Party", "bc_delivered_at": "Delivered at", "bc_their_clock": "(their clock, signed receipt)",
		"bc_due": "Acknowledgement due", "bc_why": "Why:",
		"bstatus_refused": "not sent", "bstatus_not_written": "not written (the station stopped)", "bstatus_queued": "queued",
		"bstatus_delivered": "delivered", "bstatus_acknowledged": "acknowledged",
		"bc_sent_several": "sent to several parties at once", "bc_received": "%s sent this to several parties at once, each on its own channel:",
		"groups": "Groups of peers", "no_groups": "No groups yet.", "group_name": "Group", "group_peers": "Peers",
		"group_set": "Name a group", "group_save": "Save the group", "group_hint": "A group of the same name is replaced.",
		"group_remove_label": "Remove the group %s",
		"groups_cli":         "Groups can also be managed on the station's machine: hotline group set, list and remove.",
	},
	"zh": {
		"broadcasts": "多方通报", "broadcast": "多方通报", "bc_list": "已发给多方的消息",
		"no_broadcasts": "尚未向多方发送过消息。", "bc_all": "全部多方通报",
		"bc_compose": "发给多方", "bc_to": "收件方", "bc_to_all": "所有对方（全部已固定对端）",
		"bc_to_everyone": "所有对方", "bc_to_groups": "组", "bc_to_peers": "对端", "bc_no_peers": "没有已固定的对端。",
		"bc_level_any": "— 各方唯一的信道 —", "bc_level_hint": "仅当某一方有多个信道时需要：使用该级别的信道。",
		"bc_send": "发给所选各方", "bc_send_hint": "在每一方各自的信道上各写一条。Ctrl+Enter 发送。无法发送的对方会在下一页列出并说明原因；其他各方照常发送。",
		"bc_kind": "类型", "bc_summary": "摘要", "bc_parties": "对方数", "bc_delivered": "已送达", "bc_acknowledged": "已确认",
		"bc_overdue": "已超时", "bc_refused": "未发送", "bc_where": "当前状态",
		"bc_counts": "共 %d 方：%d 方已送达，%d 方已确认", "bc_n_overdue": "%d 方已超时", "bc_n_refused": "%d 方未发送",
		"bc_party_table": "各方副本", "bc_party": "对方", "bc_delivered_at": "送达时间", "bc_their_clock": "（对方时钟，已签名回执）",
		"bc_due": "确认时限", "bc_why": "原因：",
		"bstatus_refused": "未发送", "bstatus_not_written": "未写入（本站已停止）", "bstatus_queued": "排队中",
		"bstatus_delivered": "已送达", "bstatus_acknowledged": "已确认",
		"bc_sent_several": "同时发给多方", "bc_received": "%s 将此消息同时发给多方，各在其自己的信道上：",
		"groups": "对端组", "no_groups": "尚无组。", "group_name": "组", "group_peers": "对端",
		"group_set": "命名一个组", "group_save": "保存组", "group_hint": "同名的组将被替换。",
		"group_remove_label": "删除组 %s",
		"groups_cli":         "也可在本站机器上管理组：hotline group set、list 和 remove。",
	},
}

func init() {
	for lang, m := range broadcastCatalogs {
		for k, v := range m {
			catalogs[lang][k] = v
		}
	}
}
