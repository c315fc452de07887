package console

import (
	"regexp"
	"strings"
	"time"

	"hotline/internal/operator"
	"hotline/internal/ops"
)

// BoardOrder ranks channels as the board does and returns their ids in
// board order.
func BoardOrder(views []ops.ChannelView, in, out []ops.MessageView, now time.Time) []string {
	rows := make([]boardRow, len(views))
	byID := map[string]*boardRow{}
	for i, v := range views {
		rows[i] = newRow(v)
		byID[v.ID] = &rows[i]
	}
	for i := range in {
		byID[in[i].Channel].received(&in[i])
	}
	for i := range out {
		byID[out[i].Channel].sent(&out[i])
	}
	for i := range rows {
		rows[i].rankAt(now)
	}
	sortBoard(rows)
	var ids []string
	for _, r := range rows {
		ids = append(ids, r.ID)
	}
	return ids
}

// Catalogs exposes the message catalogs to the tests.
func Catalogs() map[string]map[string]string { return catalogs }

// TemplateKeys lists every key the templates and the script ask for.
func TemplateKeys() []string {
	data, _ := assets.ReadFile("assets/pages.html")
	var keys []string
	for _, m := range regexp.MustCompile(`\.T "([a-z_]+)"`).FindAllStringSubmatch(string(data), -1) {
		keys = append(keys, m[1])
	}
	for _, r := range operator.Roles {
		keys = append(keys, "role_"+r)
	}
	for _, s := range strings.Fields("queued delivered received acknowledged") {
		keys = append(keys, "status_"+s)
	}
	for _, s := range strings.Fields("refused not_written queued delivered acknowledged") {
		keys = append(keys, "bstatus_"+s)
	}
	for _, st := range strings.Fields("active degraded down dormant suspended proposed incoming withdrawn") {
		keys = append(keys, "state_"+st)
	}
	for _, st := range strings.Fields("1 2 3 4 dormant overdue_here") {
		keys = append(keys, "step_"+st)
	}
	for _, l := range strings.Fields("alarm warning notice supervisor down") {
		keys = append(keys, "alert_"+l)
	}
	for _, r := range strings.Fields("hour day ok high flood") {
		keys = append(keys, "rate_"+r)
	}
	for r := range ranges {
		keys = append(keys, r)
	}
	return append(keys, scriptKeys...)
}

// OpRoute is a console action and the operation it does.
type OpRoute = opRoute

// OpRoutes lists the console's actions that do one of the station's
// operations, as the server registered them.
func (s *Server) OpRoutes() []OpRoute { return s.opRoutes }

// AlertFormats exposes the translations of the station's alert formats.
func AlertFormats() map[string]map[string]string { return alertFormats }
