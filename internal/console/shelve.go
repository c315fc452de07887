package console

import (
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"hotline/internal/operator"
	"hotline/internal/protocol"
)

// Shelving (ISA-18.2): a supervisor takes a nuisance alarm group off the
// active list for a set time, with a reason. While shelved its alarms
// are still recorded and counted in the rate, but take over nobody's
// screen; the board lists the shelf with who, why and until when. When
// the time ends, or a supervisor unshelves it, the group is back as it
// stands. Every shelving and unshelving (and every refusal) is in the
// audit trail. Shelves are kept in the memory of hotline run: a restart
// ends them, and the alarms come back.

// shelveAlarms shelves a group: {"group": ID, "for": "15m", "reason": …}.
func (s *Server) shelveAlarms(r *http.Request, se *session) (result, error) {
	var req struct {
		Group  string `json:"group"`
		For    string `json:"for"`
		Reason string `json:"reason"`
	}
	if err := readJSON(r, &req); err != nil {
		return result{}, err
	}
	res := result{target: req.Group}
	reason := strings.TrimSpace(req.Reason)
	switch {
	case reason == "":
		return res, bad("give the reason for shelving: what makes this alarm a nuisance")
	case len(reason) > maxReason || !utf8.ValidString(reason):
		return res, bad("the reason is up to %d bytes of text", maxReason)
	}
	d, err := time.ParseDuration(req.For)
	if err != nil {
		return res, bad("shelve for a time like 15m or 4h, not %q", req.For)
	}
	if d < minShelf || d > maxShelf {
		return res, bad("shelve for %s to %s, not %s", minShelf, maxShelf, d)
	}
	b, err := s.alarms(r.Context())
	if err != nil {
		return res, err
	}
	g := b.findGroup(req.Group)
	if g == nil {
		return res, bad("there is no alarm group %q on the board", req.Group)
	}
	now := s.cfg.Now().UTC()
	sh := shelf{Group: g.ID, Label: groupLabel(g), Until: now.Add(d), By: se.op.Name, Reason: reason, At: now}
	s.mu.Lock()
	s.shelves[g.ID] = sh
	s.mu.Unlock()
	// Tell the browsers when the shelf ends, so that the group is back
	// without a reload.
	time.AfterFunc(d, func() { s.hub.publish(protocol.Notify{What: "console-alert"}) })
	s.hub.publish(protocol.Notify{What: "console-alert"})
	res.body = map[string]any{"group": g.ID, "until": sh.Until}
	res.detail = fmt.Sprintf("shelved for %s, until %s: %s; reason: %s", d, utc(sh.Until), sh.Label, reason)
	return res, nil
}

// unshelveAlarms ends a group's shelf before its time: {"group": ID}.
func (s *Server) unshelveAlarms(r *http.Request, se *session) (result, error) {
	var req struct {
		Group string `json:"group"`
	}
	if err := readJSON(r, &req); err != nil {
		return result{}, err
	}
	res := result{target: req.Group}
	s.shelvesNow(s.cfg.Now())
	s.mu.Lock()
	sh, ok := s.shelves[req.Group]
	delete(s.shelves, req.Group)
	s.mu.Unlock()
	if !ok {
		return res, bad("alarm group %q is not shelved", req.Group)
	}
	s.hub.publish(protocol.Notify{What: "console-alert"})
	res.detail = fmt.Sprintf("unshelved (shelved by %s until %s): %s", sh.By, utc(sh.Until), sh.Label)
	return res, nil
}

// groupLabel names a group in the audit trail: its source and its
// latest text, in English.
func groupLabel(g *alarmGroup) string {
	if g.Source == "" {
		return g.Latest.Text
	}
	return "[" + g.Source + "] " + g.Latest.Text
}

// shelveRoutes registers shelving and unshelving, for those who may.
func (s *Server) shelveRoutes() {
	s.mux.HandleFunc("POST /console/api/alarms/shelve", s.action(operator.Shelve, "alarm.shelve", s.shelveAlarms))
	s.mux.HandleFunc("POST /console/api/alarms/unshelve", s.action(operator.Shelve, "alarm.unshelve", s.unshelveAlarms))
}
