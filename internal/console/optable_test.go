package console_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"hotline/internal/console"
	"hotline/internal/operator"
	"hotline/internal/ops"
)

// opRoutes are the console's actions that do one of the station's
// operations: the route, and the operation's name in ops.All. An action
// added to the console that does an operation belongs here.
var opRoutes = map[string]string{
	"POST /console/api/send":                  "Send",
	"POST /console/api/ack":                   "Ack",
	"POST /console/api/channels/{id}/suspend": "Suspend",
	"POST /console/api/channels/{id}/resume":  "Resume",
	"POST /console/api/channels":              "Propose",
	"POST /console/api/channels/{id}/accept":  "Accept",
	"POST /console/api/peers":                 "AddPeer",
	"GET /console/api/export":                 "Export",
	"POST /console/api/verify":                "Export",
	"POST /console/api/calls":                 "StartCall",
	"POST /console/api/calls/answer":          "AnswerCall",
	"POST /console/api/calls/end":             "EndCall",
	"POST /console/api/calls/media":           "CallMedia",
	"POST /console/api/broadcasts":            "Broadcast",
	"POST /console/api/groups":                "SetGroup",
	"POST /console/api/groups/remove":         "RemoveGroup",
}

// TestActionsFollowTheTable: every console action that does one of the
// station's operations requires the permission of that operation's row
// in ops.All. The console lists these actions with their operations, and
// each is tried by every role. Then the rows are changed, and a console
// made after the change must enforce the new permissions. A permission
// written in the console instead of taken from the row fails here.
func TestActionsFollowTheTable(t *testing.T) {
	root := t.TempDir()
	usa, chn := openStation(t, root, "USA"), openStation(t, root, "CHN")
	go usa.Run(t.Context())
	go chn.Run(t.Context())

	d := newDesk(t, usa)
	routes := d.h.(*console.Server).OpRoutes()
	checkOpRoutes(t, routes)
	checkEnforced(t, d, routes)

	// The same actions after the rows change. The tests of this package
	// do not run in parallel, and the rows are put back when it ends.
	perms := []operator.Permission{operator.Send, operator.Ack, operator.Suspend, operator.Channels, operator.Peers, operator.Transcript}
	changed := map[*ops.Op]bool{}
	for _, r := range routes {
		if changed[r.Op] {
			continue
		}
		changed[r.Op] = true
		was := r.Op.Permission
		t.Cleanup(func() { r.Op.Permission = was })
		i := slices.Index(perms, operator.Permission(was))
		r.Op.Permission = string(perms[(i+1)%len(perms)])
	}
	checkEnforced(t, newDesk(t, chn), routes)
}

// checkOpRoutes compares the console's actions that do an operation with
// opRoutes, and finds each operation in ops.All.
func checkOpRoutes(t *testing.T, routes []console.OpRoute) {
	t.Helper()
	seen := map[string]bool{}
	for _, r := range routes {
		seen[r.Pattern] = true
		if !slices.Contains(ops.All, r.Op) {
			t.Errorf("%s does %s, which is not a row of ops.All", r.Pattern, r.Op.Name)
		}
		if want, ok := opRoutes[r.Pattern]; !ok {
			t.Errorf("%s does %s: add it to opRoutes", r.Pattern, r.Op.Name)
		} else if r.Op.Name != want {
			t.Errorf("%s does %s, want %s", r.Pattern, r.Op.Name, want)
		}
	}
	for p, name := range opRoutes {
		if !seen[p] {
			t.Errorf("%s (%s) is not among the console's actions that do an operation", p, name)
		}
	}
}

// checkEnforced tries every action as every role. A role that the row's
// permission allows gets past the check. Any other is refused, with the
// row's permission named. The body has an unknown field, so an action let
// through stops at reading it, or at the channel "none", which is no
// channel.
func checkEnforced(t *testing.T, d *desk, routes []console.OpRoute) {
	t.Helper()
	for role, name := range roleOps {
		b := d.login(t, name)
		for _, r := range routes {
			method, path, _ := strings.Cut(r.Pattern, " ")
			path = strings.ReplaceAll(path, "{id}", "none") + "?channel=none"
			perm := operator.Permission(r.Op.Permission)
			got := b.do(t, method, path, `{"unknown":1}`)
			refusal := fmt.Sprintf("role %s may not %s", role, perm)
			switch {
			case operator.Allowed(role, perm) && (got.code == http.StatusForbidden || strings.HasPrefix(got.errText(), "role ")):
				t.Errorf("%s %s as %s, allowed %s by %s's row: %d %s", method, path, role, perm, r.Op.Name, got.code, strings.TrimSpace(got.body))
			case !operator.Allowed(role, perm) && (got.code != http.StatusForbidden || got.errText() != refusal):
				t.Errorf("%s %s as %s: %d %s, want 403 %q from %s's row", method, path, role, got.code, strings.TrimSpace(got.body), refusal, r.Op.Name)
			}
		}
	}
}
