package console

import (
	"fmt"
	"strings"

	"hotline/internal/ops"
	"hotline/internal/situation"
)

// Station alerts are written by the core in English, with the format and
// the arguments they were written from (ops.AlertView). The console shows
// each in its operator's language: alertFormats holds, for every format
// the station writes, the same sentence in each other language, with the
// arguments by position (%[n]s; every argument is kept as text). Names,
// channel ids, precedences, durations and the details of a refused frame
// stay as written. TestAlertFormatsTranslated fails when a format the
// station writes has no translation here.
var alertFormats = map[string]map[string]string{
	"zh": {
		// Deadlines, reminders and the ladder.
		"%s %s from %s is not acknowledged and its deadline (%s) has passed":               "来自 %[3]s 的 %[1]s 消息 %[2]s 尚未确认，确认时限（%[4]s）已过",
		"%s %s is not acknowledged after %s and cannot climb: %v":                          "%[1]s 消息 %[2]s 在 %[3]s 后仍未确认，且无法上报：%[4]s",
		"%s %s is not acknowledged after %s: %s":                                           "%[1]s 消息 %[2]s 在 %[3]s 后仍未确认：%[4]s",
		"%s %s is not acknowledged by %s within %s: %s":                                    "%[1]s 消息 %[2]s 未在 %[4]s 内得到 %[3]s 的确认：%[5]s",
		"%s %s is not delivered: no receipt from %s within %s":                             "%[1]s 消息 %[2]s 未送达：%[4]s 内未收到 %[3]s 的回执",
		"%s %s is still not acknowledged by %s after %s: a supervisor must act":            "%[1]s 消息 %[2]s 在 %[4]s 后仍未得到 %[3]s 的确认：需要值班主管处置",
		"%s reminds: %d of its entries on %s await acknowledgement here (first: %s/%s/%d)": "%[1]s 提醒：频道 %[3]s 上有 %[2]s 条来自对方的条目等待本站确认（第一条：%[4]s/%[5]s/%[6]s）",
		"could not remind %s: %v":                                                          "无法向 %[1]s 发送提醒：%[2]s",

		// Suspension, checks and dormancy.
		"%s SUSPENDED channel %s (by %s): %s":                             "%[1]s 已暂停频道 %[2]s（操作人 %[3]s）：%[4]s",
		"%s resumed channel %s (by %s) %s":                                "%[1]s 已恢复频道 %[2]s（操作人 %[3]s）%[4]s",
		"%s answered the check on %s: the channel is no longer dormant":   "%[1]s 已应答频道 %[2]s 上的通信检查：频道不再处于休眠状态",
		"%s is dormant: nobody at %s answered check %s/%s/%d within %s":   "%[1]s 处于休眠状态：%[2]s 无人在 %[6]s 内应答检查 %[3]s/%[4]s/%[5]s",
		"check %s from %s is not answered and its window (%s) has passed": "来自 %[2]s 的检查 %[1]s 未应答，应答时限（%[3]s）已过",
		"could not issue the operator check on %s: %v":                    "无法在频道 %[1]s 上发出值班员检查：%[2]s",
		"the clock of %s is %s from this station's (link test on %s): the times it reports are its own; order and deadlines do not depend on them": "%[1]s 的时钟与本站相差 %[2]s（频道 %[3]s 的链路测试）：对方报告的时间以其自身时钟为准；顺序和时限不受影响",

		// Paths and sending.
		"%s path to %s closed: nothing heard for %s": "通往 %[2]s 的 %[1]s 路径已关闭：%[3]s 内未收到任何信号",
		"sending stopped on %s: %s":                  "频道 %[1]s 已停止发送：%[2]s",
		"%s reports: %s":                             "%[1]s 报告：%[2]s",

		// Restored from a backup: fetching the log back.
		"%s holds %d entries of this station's log %s, which holds only %d (restored from an old backup?): fetching them back before appending": "%[1]s 持有本站日志 %[3]s 的 %[2]s 条条目，而本站只有 %[4]s 条（是否从旧备份恢复？）：追加新条目前先取回这些条目",
		"%s holds no more of this station's log %s than this station (%d entries): appending again after the restore":                           "%[1]s 持有的本站日志 %[2]s 不多于本站（%[3]s 条）：恢复后继续追加",
		"recovered %d entries of this station's log %s from %s, checked against this station's signature and receipt: appending again from %d":  "已从 %[3]s 取回本站日志 %[2]s 的 %[1]s 条条目，已核对本站签名和回执：从第 %[4]s 条起继续追加",
		"could not read %s's log %s to send it back: %v": "无法读取 %[1]s 的日志 %[2]s 以便回传：%[3]s",
		"%s asks for log %s from entry %d, but had receipted entries up to %d: if it asks again, it lost entries it had stored, and they are sent again":                                                                                                                                                "%[1]s 请求日志 %[2]s 从第 %[3]s 条起重发，但已回执至第 %[4]s 条：如果再次请求，说明对方丢失了已存储的条目，将重新发送",
		"%d of the entries recovered on %s are acknowledgements this station wrote after its backup, sealed to %s: its messages they acknowledged show unacknowledged here; find them with hotline inbox --channel %s and acknowledge them again with hotline ack (%s keeps the first acknowledgement)": "在 %[2]s 上取回的条目中有 %[1]s 条是本站备份后写的确认，已加密给 %[3]s：它们所确认的对方消息在此显示为未确认；用 hotline inbox --channel %[4]s 找出并用 hotline ack 重新确认（%[5]s 保留第一次确认）",
		"this station suspended %s after its backup (entry %d, recovered from %s; the reason is sealed to it): the suspension stays in force until lifted with hotline channel resume":                                                                                                                  "本站在备份后暂停了 %[1]s（第 %[2]s 条，从 %[3]s 取回；原因已加密给对方）：暂停保持有效，直至用 hotline channel resume 解除",
		"restored from a backup: %s's status over a relay cannot end the hold on %s (it may answer a hello of the lost disk's, or be replayed by the relay): this station appends on it once it reaches %s directly; check the path with hotline doctor":                                                "已从备份恢复：%[1]s 经中继发来的状态不能解除 %[2]s 的暂停追加（它可能是对已丢失磁盘的 hello 的回复，或被中继重放）：本站直接连通 %[3]s 后才在其上追加；用 hotline doctor 检查路径",
		"restored from a backup: asking %s to send its log %s again from entry %d, in case this station held more of it before":                                                                                                                                                                         "已从备份恢复：请求 %[1]s 从第 %[3]s 条起重发其日志 %[2]s，以防本站恢复前持有更多条目",

		// Refused frames (the details of a refusal stay as written).
		"refused (%s): %s": "已拒绝（%[1]s）：%[2]s",
		"%s: protocol version %d is not compatible: %s speaks version %d": "%[1]s：协议版本 %[2]s 不兼容：%[3]s 使用版本 %[4]s",
		"%s acknowledges entry %d, which this station never wrote":        "%[1]s 确认了第 %[2]s 条条目，但本站从未写过该条目",
		"%s refused: %v":                                                               "%[1]s 被拒绝：%[2]s",
		"%s refused: channel %s is not active":                                         "%[1]s 被拒绝：频道 %[2]s 未启用",
		"%s sent back %s, beyond what it said it holds (%d)":                           "%[1]s 回传了 %[2]s，超出它所说持有的条目（%[3]s）",
		"%s sent entries for channel %s, which is with %s":                             "%[1]s 发送了频道 %[2]s 的条目，但该频道属于与 %[3]s 的通信",
		"%s sent entries ahead on a path other than a direct one: not held":            "%[1]s 经非直连路径预先发送条目：不予保留",
		"%s said entries of %s's log %s are durable":                                   "%[1]s 声称 %[2]s 的日志 %[3]s 中的条目已持久保存",
		"%s sent entries of %s's log %s":                                               "%[1]s 发送了 %[2]s 的日志 %[3]s 中的条目",
		"%s sent entries of %s's log %s, which is not fetching them":                   "%[1]s 发送了 %[2]s 的日志 %[3]s 中的条目，但本站并未请求取回",
		"%s withdrew its proposal of channel %s (by %s) %s":                            "%[1]s 撤回了其频道 %[2]s 的提议（%[3]s）%[4]s",
		"%s accepted channel %s after this station withdrew it: the withdrawal stands": "%[1]s 在本站撤回后接受了频道 %[2]s：撤回仍然有效",
		"%s refused: %s withdraws channel %s, which it did not propose or withdrew already (here it is %s, proposed by %s)":                      "%[1]s 被拒绝：%[2]s 撤回频道 %[3]s，但该频道并非其提议或已撤回（本站状态为 %[4]s，提议方 %[5]s）",
		"%s proposed channel %s, whose proposal by this station was withdrawn: its proposal waits for an operator here (hotline channel accept)": "%[1]s 提议了频道 %[2]s，本站对该频道的提议已撤回：其提议等待本站操作员处理（hotline channel accept）",
		"%s refused: a second withdrawal in one frame": "%[1]s 被拒绝：同一帧中出现第二次撤回",
		"%s withdrew its proposal of channel %s before this station's acceptance reached it: the channel is withdrawn on both sides (by %s) %s":                                                   "%[1]s 在本站的接受送达前撤回了频道 %[2]s 的提议：双方的该频道均已撤回（%[3]s）%[4]s",
		"%s withdrew its proposal of channel %s, which crossed this station's (by %s) %s: this station's proposal stands, for %s to accept":                                                       "%[1]s 撤回了与本站提议交叉的频道 %[2]s 提议（%[3]s）%[4]s：本站的提议仍然有效，待 %[5]s 接受",
		"%s and this station both proposed channel %s: neither can be accepted until one withdraws its proposal (hotline channel withdraw --channel %s, at the station whose proposal should go)": "%[1]s 与本站都提议了频道 %[2]s：须有一方撤回提议后才能接受（在应撤回提议的站点执行 hotline channel withdraw --channel %[3]s）",
		"entries from %s for %s refused: checkpoint: %v":                                                                    "已拒绝来自 %[1]s 的频道 %[2]s 条目：检查点：%[3]s",
		"entries from %s for %s refused: entry %d of the frame: %v":                                                         "已拒绝来自 %[1]s 的频道 %[2]s 条目：帧中第 %[3]s 条：%[4]s",
		"entries from %s for unknown channel %s refused":                                                                    "已拒绝来自 %[1]s 的未知频道 %[2]s 的条目",
		"entries from %s refused: %s is addressed to %s":                                                                    "已拒绝来自 %[1]s 的条目：%[2]s 的收件方是 %[3]s",
		"entries from %s refused: %s: %v":                                                                                   "已拒绝来自 %[1]s 的条目：%[2]s：%[3]s",
		"entry %d of this station's own log %s sent back by %s refused: %v":                                                 "已拒绝 %[3]s 回传的本站日志 %[2]s 第 %[1]s 条：%[4]s",
		"fetch from %s of %s/%s from %d is not valid (this station holds %d)":                                               "%[1]s 请求取回 %[2]s/%[3]s 从第 %[4]s 条起的条目，请求无效（本站持有 %[5]s 条）",
		"frame from %s refused: %v":                                                                                         "已拒绝来自 %[1]s 的帧：%[2]s",
		"frame from %s, which is not pinned":                                                                                "收到未固定的 %[1]s 发来的帧",
		"link test answer from %s for channel %s, which is not with it":                                                     "来自 %[1]s 的频道 %[2]s 链路测试应答，但该频道不属于与其的通信",
		"link test from %s for channel %s, which is not active with it":                                                     "来自 %[1]s 的频道 %[2]s 链路测试，但该频道未与其启用",
		"receipt from %s for unknown log %s/%s":                                                                             "来自 %[1]s 的回执指向未知日志 %[2]s/%[3]s",
		"resend request from %s for %s/%s is not valid":                                                                     "来自 %[1]s 的 %[2]s/%[3]s 重发请求无效",
		"status from %s claims %d entries of log %s, this station wrote %d, and no receipt signed by this station shows it": "%[1]s 的状态声称日志 %[3]s 有 %[2]s 条条目，而本站只写了 %[4]s 条，且没有本站签名的回执可以证明",
		"status from %s names log %s/%s":                                                                                    "%[1]s 的状态指向日志 %[2]s/%[3]s",
		"tamper alarm: checkpoint from %s for %s at size %d does not match the entries held (size %d)":                      "篡改警报：%[1]s 发来的频道 %[2]s 检查点（大小 %[3]s）与本站持有的条目（大小 %[4]s）不符",
		"tamper alarm: checkpoint from %s for %s says it held %d entries of this station's log with root %s, but this station's log has root %s there": "篡改警报：%[1]s 发来的频道 %[2]s 检查点声称其持有本站日志的 %[3]s 条条目、根为 %[4]s，但本站日志在该处的根为 %[5]s",

		// A key epoch's entry changed on disk.
		"tamper alarm: stored entry %s, which began the key epoch of its log, does not open (%v); entries of that log sealed under it are refused: restore this station from a backup": "篡改警报：本站存储的条目 %[1]s（其日志密钥纪元的起点）无法打开（%[2]s）；该日志中以此纪元密封的条目将被拒绝：请从备份恢复本站",

		// Key changes.
		"%s REVOKED its key (fingerprint %s) and now signs with fingerprint %s: anything signed later with the revoked key is refused":                                  "%[1]s 已吊销其密钥（指纹 %[2]s），现使用指纹 %[3]s 签名：此后用已吊销密钥签名的任何内容都将被拒绝",
		"%s re-pinned by fingerprint %s (by %s) after it lost its key %s: anything signed later with the lost key is refused":                                           "%[1]s 丢失密钥 %[4]s 后，已按指纹 %[2]s 重新固定（操作人 %[3]s）：此后用丢失密钥签名的任何内容都将被拒绝",
		"%s re-pinned this station by fingerprint %s (by %s), replacing the lost key %s":                                                                                "%[1]s 已按指纹 %[2]s 重新固定本站（操作人 %[3]s），替换丢失的密钥 %[4]s",
		"%s refused: a replacement record of %s, signed by %s's new key":                                                                                                "%[1]s 被拒绝：%[2]s 的替换记录由 %[3]s 的新密钥签名",
		"%s refused: signed by the card %s was re-pinned with, but not its statement of the lost key":                                                                   "%[1]s 被拒绝：由 %[2]s 重新固定所用的证书签名，但不是其丢失密钥声明",
		"%s's receipt for %d entries of %s was cosigned by a key it has since revoked: they are sent again, and count as delivered when %s's current key receipts them": "%[1]s 对 %[3]s 的 %[2]s 个条目的回执由其后来吊销的密钥联署：这些条目将重新发送，待 %[4]s 的当前密钥回执后才算送达",
		"%s lost entries %d to %d of %s that it had receipted (restored from a backup?): they are sent again from this station's disk":                                  "%[1]s 丢失了它已回执的 %[4]s 第 %[2]s 至 %[3]s 条（从备份恢复？）：本站将从磁盘重新发送",
		"could not read back this station's log %s to send %s again what it lacks: %v":                                                                                  "无法读回本站日志 %[1]s，以向 %[2]s 重新发送其缺少的条目：%[3]s",
		"%s (%s) acknowledges %s/%s/%d, which this station never wrote on %s":                                                                                           "%[1]s（%[2]s）确认了 %[3]s/%[4]s/%[5]s，但本站从未在 %[6]s 上写过该条目",
		"%s rotated its keys: fingerprint %s replaces %s (statement of %s, signed by the old key)":                                                                      "%[1]s 已更换密钥：指纹 %[2]s 取代 %[3]s（%[4]s 的声明，由旧密钥签名）",
		"tamper alarm: %s refused: it replaces %s's key %d by fingerprint %s, another of its logs by %s":                                                                "篡改警报：%[1]s 被拒绝：它将 %[2]s 的第 %[3]s 个密钥替换为指纹 %[4]s，而其另一日志替换为 %[5]s",
		"this station's keys were changed (%s, by %s): new fingerprint %s; key entries written on %d channels":                                                          "本站密钥已更换（%[1]s，操作人 %[2]s）：新指纹 %[3]s；已在 %[4]s 个频道写入密钥条目",

		// Deconfliction findings carry both languages (station, findings.go).
		findingFormat: "%[2]s",
	},
}

// findingFormat is the format of a deconfliction finding's alert: its
// arguments are the finding in English and in Chinese.
const findingFormat = ops.AlertFindingFormat

// alertText returns a station alert in the given language: translated
// when its format has a translation in that language, as written
// otherwise.
func alertText(lang string, a ops.AlertView) string {
	f, ok := alertFormats[lang][a.Format]
	if !ok || a.Format == "" {
		return a.Text
	}
	args := make([]any, len(a.Args))
	for i, s := range a.Args {
		args[i] = stepDetail(lang, s) // what the ladder did, named in an alert
	}
	text := fmt.Sprintf(f, args...)
	if strings.Contains(text, "%!") {
		return a.Text // arguments that do not fit: never show a broken sentence
	}
	return text
}

// stepDetails are the station's words for what it did at a step of a
// message's ladder (protocol.Core.ladderStep), in each other language: a
// detail is one of these, or one of them followed by a name or an id
// (the prefixes ending in a space or a colon).
var stepDetails = map[string]map[string]string{
	"zh": {
		"overdue here":                           "本站已逾期",
		"not delivered":                          "未送达",
		"not reminded: the channel is suspended": "未提醒：频道已暂停",
		"supervisor alerted":                     "已通知值班主管",
		"reminded ":                              "已提醒 ",
		"forwarded as ":                          "已转发为 ",
		"not forwarded: ":                        "未转发：",
	},
}

// stepDetail returns a ladder step's detail in the given language: the
// station's phrase translated, the name, id or reason after it as
// written.
func stepDetail(lang, detail string) string {
	tr := stepDetails[lang]
	if s, ok := tr[detail]; ok {
		return s
	}
	for en, s := range tr {
		if (strings.HasSuffix(en, " ") || strings.HasSuffix(en, ": ")) && strings.HasPrefix(detail, en) {
			return s + detail[len(en):]
		}
	}
	return detail
}

// filterFormats are the ways a time filter of the map can be wrong
// (situation.FilterError), in each other language, with the field names
// they name.
var filterFormats = map[string]map[string]string{
	"zh": {
		"%s %q: the year must be 2000-2199":                              "%[1]s %[2]q：年份须在 2000 至 2199 之间",
		"%s %q is not a time like 2026-05-01T14:30Z (UTC) or 2026-05-01": "%[1]s %[2]q 不是有效时间，应形如 2026-05-01T14:30Z（UTC）或 2026-05-01",
		"give from and to, or hours, not both":                           "请填写起止时间或前后小时数，不要同时填写",
		"hours %q is not a whole number from 1 to %s":                    "小时数 %[1]q 不是 1 至 %[2]s 之间的整数",
		"from %s is not before to %s":                                    "起始时间 %[1]s 不早于结束时间 %[2]s",
		"from":                                                           "起始时间",
		"to":                                                             "结束时间",
		"time filter is not valid: ":                                     "时间筛选无效：",
	},
}

// filterText says what was wrong with a time filter in the given
// language.
func filterText(lang string, e *situation.FilterError) string {
	tr, ok := filterFormats[lang]
	f, known := tr[e.Format]
	if !ok || !known {
		return e.Error()
	}
	args := make([]any, len(e.Args))
	for i, a := range e.Args {
		if w, ok := tr[a]; ok {
			a = w
		}
		args[i] = a
	}
	return tr["time filter is not valid: "] + fmt.Sprintf(f, args...)
}
