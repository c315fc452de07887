package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"hotline/internal/ops"
)

// TestBroadcastVerbs sends to several parties from a station of the
// demo (USA, which has pinned CHN, with three channels): groups, --to with
// a level, a party unknown and one whose channel is suspended refused by
// name while the others go, and notice show's table.
func TestBroadcastVerbs(t *testing.T) {
	dir, _ := demoRun(t)
	usa := copyStation(t, filepath.Join(dir, "usa"))
	window := []string{"--kind", "exercise", "--circle", "17,112,20", "--from", "2030-05-01T00:00Z", "--until", "2030-05-02T00:00Z", "--units", "CG-1"}

	// A group names pinned peers only; nothing changes when it does not.
	checkFailed(t, nil, hotline(t, "group", "set", "--dir", usa, "--name", "SCS navies", "--peers", "CHN,VNM"), `"VNM" is not a pinned peer`, "nothing changed")
	checkFailed(t, nil, hotline(t, "group", "set", "--dir", usa, "--name", "all", "--peers", "CHN"), `"all" is taken`)
	checkFailed(t, nil, hotline(t, "group", "set", "--dir", usa, "--name", "CHN", "--peers", "CHN"), "a pinned peer's name")
	if out := mustRun(t, "group", "list", "--dir", usa); strings.Contains(out, "SCS") {
		t.Errorf("a refused group was stored:\n%s", out)
	}
	if out := mustRun(t, "group", "set", "--dir", usa, "--name", "SCS navies", "--peers", "CHN"); !strings.Contains(out, "group SCS navies: CHN") {
		t.Errorf("group set: %s", out)
	}

	// CHN has three channels: without a level it is refused, named with
	// them, and since no party is left nothing is sent.
	r := hotline(t, "send", "--dir", usa, "--to", "all", "--precedence", "FLASH", "--text", "Hold position.")
	checkFailed(t, nil, r, "sent to nobody", "CHN: 3 channels", "usa-chn-staff (staff)", "give a level")
	// An unknown name is refused by name; CHN, through the group, gets
	// its copy on its staff channel. The exit status says not all went.
	r = hotline(t, "send", "--dir", usa, "--to", "SCS navies,RUS", "--level", "staff", "--precedence", "FLASH", "--text", "Hold position.")
	if r.code == 0 || !strings.Contains(r.stderr, "sent to 1 of 2 parties; not to RUS (not a pinned peer or a group)") {
		t.Errorf("send --to with an unknown party: exit %d, stderr %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	id := lines[0]
	if !strings.HasPrefix(id, "b-") || len(lines) != 4 || !strings.Contains(lines[2], "usa-chn-staff/USA/") {
		t.Fatalf("send --to printed:\n%s", r.stdout)
	}
	var msgs []ops.MessageView
	if err := json.Unmarshal([]byte(mustRun(t, "outbox", "--dir", usa, "--channel", "usa-chn-staff", "--json")), &msgs); err != nil {
		t.Fatal(err)
	}
	if last := msgs[len(msgs)-1]; last.Broadcast != id || last.Text != "Hold position." || last.Precedence != "FLASH" {
		t.Errorf("the copy on usa-chn-staff: %+v, want broadcast %s", last, id)
	}
	var b ops.BroadcastView
	if err := json.Unmarshal([]byte(mustRun(t, "notice", "show", "--dir", usa, "--id", id, "--json")), &b); err != nil {
		t.Fatal(err)
	}
	if b.Kind != "text" || b.To != "SCS navies,RUS" || len(b.Parties) != 2 || b.Sent != 1 || b.Refused != 1 ||
		b.Parties[0].Peer != "CHN" || b.Parties[0].Status != "queued" || b.Parties[0].AckDue == nil || b.Parties[1].Status != "refused" {
		t.Errorf("notice show --json: %+v", b)
	}
	out := mustRun(t, "notice", "show", "--dir", usa, "--id", id)
	for _, want := range []string{id + ": FLASH text \"Hold position.\"", "2 parties: 1 sent, 0 delivered, 0 acknowledged, 0 overdue, 1 refused", "CHN", "usa-chn-staff", "queued", "RUS", "refused: not a pinned peer or a group"} {
		if !strings.Contains(out, want) {
			t.Errorf("notice show lacks %q:\n%s", want, out)
		}
	}

	// A notice to several parties: each copy names its party's channel
	// to call; --call, which names one, is refused.
	checkFailed(t, nil, hotline(t, append([]string{"notice", "send", "--dir", usa, "--to", "CHN", "--level", "theatre", "--call", "usa-chn-staff"}, window...)...), "--call names one channel")
	checkFailed(t, nil, hotline(t, append([]string{"notice", "send", "--dir", usa, "--to", "CHN", "--channel", "usa-chn-staff"}, window...)...), "--channel or --to, not both")
	nid := strings.Fields(mustRun(t, append([]string{"notice", "send", "--dir", usa, "--to", "CHN", "--level", "theatre", "--title", "Exercise"}, window...)...))[0]
	if err := json.Unmarshal([]byte(mustRun(t, "outbox", "--dir", usa, "--channel", "usa-chn-theatre", "--json")), &msgs); err != nil {
		t.Fatal(err)
	}
	if last := msgs[len(msgs)-1]; last.Broadcast != nid || last.Notice == nil || last.Notice.Call != "usa-chn-theatre" || last.Notice.Broadcast != nid {
		t.Errorf("the notice's copy: %+v", last)
	}
	// Its amendment replaces CHN's copy of it.
	aid := strings.Fields(mustRun(t, append([]string{"notice", "send", "--dir", usa, "--to", "CHN", "--level", "theatre", "--title", "Exercise, amended", "--replaces", nid}, window...)...))[0]
	if err := json.Unmarshal([]byte(mustRun(t, "outbox", "--dir", usa, "--channel", "usa-chn-theatre", "--json")), &msgs); err != nil {
		t.Fatal(err)
	}
	if last, prev := msgs[len(msgs)-1], msgs[len(msgs)-2]; last.Broadcast != aid || last.Notice.Replaces == nil || last.Notice.Replaces.String() != prev.ID {
		t.Errorf("the amendment %+v does not replace %s", last.Notice, prev.ID)
	}
	// The end time by its earlier name still reads as one.
	mustRun(t, "notice", "send", "--dir", usa, "--channel", "usa-chn-theatre", "--kind", "exercise", "--circle", "17,112,20",
		"--from", "2030-05-01T00:00Z", "--to", "2030-05-02T00:00Z", "--units", "CG-1")

	// A suspended channel's party is refused with the reason.
	mustRun(t, "channel", "suspend", "--dir", usa, "--channel", "usa-chn-leaders", "--reason", "protest")
	checkFailed(t, nil, hotline(t, "send", "--dir", usa, "--to", "CHN", "--level", "leader", "--precedence", "FLASH", "--text", "x"),
		"sent to nobody", "usa-chn-leaders is suspended by USA: protest")

	list := mustRun(t, "notice", "list", "--dir", usa)
	if !strings.Contains(list, id) || !strings.Contains(list, nid) || strings.Index(list, aid) > strings.Index(list, nid) {
		t.Errorf("notice list, newest first:\n%s", list)
	}
	checkFailed(t, nil, hotline(t, "notice", "show", "--dir", usa, "--id", "b-0000000000000000"), "no broadcast b-0000000000000000")
	checkFailed(t, nil, hotline(t, "notice", "show", "--dir", usa, "--id", "nonsense"), "b- and 16 hex digits")
	if out := mustRun(t, "group", "remove", "--dir", usa, "--name", "SCS navies"); !strings.Contains(out, "removed") {
		t.Errorf("group remove: %s", out)
	}
	checkFailed(t, nil, hotline(t, "send", "--dir", usa, "--to", "SCS navies", "--precedence", "FLASH", "--text", "x"), "not a pinned peer or a group")
}
