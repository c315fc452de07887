package main

import (
	"encoding/json"
	"fmt"
	"os"
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

// TestPeerIntroduction: JPN, which pinned CHN and VNM by fingerprint,
// introduces CHN to VNM, which pinned JPN only. VNM is shown what the
// introduction vouches for and pins nothing until a person takes JPN's
// word; then CHN is pinned and listed as introduced. Introductions that
// are tampered with, forged, of another card, or passed on second-hand
// are refused and change nothing.
func TestPeerIntroduction(t *testing.T) {
	root := t.TempDir()
	dirs := map[string]string{}
	for i, name := range []string{"JPN", "CHN", "VNM", "PHL"} {
		dirs[name] = filepath.Join(root, strings.ToLower(name))
		mustRun(t, "init", "--dir", dirs[name], "--name", name, "--party", name, "--peer-listen", fmt.Sprintf("127.0.0.1:%d", 7450+i))
	}
	fp := func(name string) string { return strings.TrimSpace(mustRun(t, "fingerprint", "--dir", dirs[name])) }
	pin := func(who, whom string) {
		mustRun(t, "peer", "add", "--dir", dirs[who], "--card", filepath.Join(dirs[whom], "card"), "--fingerprint", fp(whom))
	}
	pin("JPN", "CHN")
	pin("JPN", "VNM")
	pin("VNM", "JPN")
	pin("PHL", "CHN")
	pin("VNM", "PHL")

	intro := filepath.Join(root, "chn.intro")
	mustRun(t, "peer", "introduce", "--dir", dirs["JPN"], "--peer", "CHN", "--out", intro)
	data, err := os.ReadFile(intro)
	if err != nil {
		t.Fatal(err)
	}
	var file ops.IntroductionFile
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	write := func(f ops.IntroductionFile) string {
		p := filepath.Join(t.TempDir(), "x.intro")
		b, _ := json.Marshal(f)
		os.WriteFile(p, b, 0o644)
		return p
	}
	before := stationState(t, dirs["VNM"])
	// Shown, not pinned, until a person decides.
	checkFailed(t, nil, hotline(t, "peer", "add", "--dir", dirs["VNM"], "--introduction", intro),
		"JPN introduces CHN (party CHN, fingerprint "+fp("CHN")+")", "which JPN pinned on", "give who decides (--by NAME)")
	// A fingerprint changed in the signed text, another station's card,
	// an introduction signed by a key that is not JPN's, one by a station
	// VNM has not pinned.
	tampered := file
	tampered.Introduction = strings.Replace(file.Introduction, fp("CHN"), fp("PHL"), 1)
	other := file
	other.Card = mustReadFile(t, filepath.Join(dirs["PHL"], "card"))
	forged := file
	phlIntro := filepath.Join(root, "phl-chn.intro")
	mustRun(t, "peer", "introduce", "--dir", dirs["PHL"], "--peer", "CHN", "--out", phlIntro)
	var phl ops.IntroductionFile
	json.Unmarshal([]byte(mustReadFile(t, phlIntro)), &phl)
	forged.Introduction = strings.Replace(phl.Introduction, "introducer PHL", "introducer JPN", 1)
	for _, c := range []struct {
		file  string
		wants []string
	}{
		{write(tampered), []string{"introduction is not valid", "not signed by JPN's pinned key"}},
		{write(other), []string{"the card is PHL's, the introduction is of CHN"}},
		{write(forged), []string{"not signed by JPN's pinned key"}},
		{write(ops.IntroductionFile{Format: "x", Card: file.Card, Introduction: file.Introduction}), []string{"format"}},
	} {
		checkFailed(t, nil, hotline(t, "peer", "add", "--dir", dirs["VNM"], "--introduction", c.file, "--by", "Lt Cdr Wu"), c.wants...)
	}
	checkFailed(t, nil, hotline(t, "peer", "add", "--dir", dirs["CHN"], "--introduction", intro, "--by", "x"), "not a peer pinned here")
	if after := stationState(t, dirs["VNM"]); after != before {
		t.Errorf("refused introductions changed VNM:\nbefore %s\nafter %s", before, after)
	}

	out := mustRun(t, "peer", "add", "--dir", dirs["VNM"], "--introduction", intro, "--by", "Lt Cdr Wu")
	if !strings.Contains(out, "pinned CHN (CHN), fingerprint "+fp("CHN")+", on JPN's introduction, taken by Lt Cdr Wu") {
		t.Errorf("peer add --introduction: %s", out)
	}
	if list := mustRun(t, "peer", "list", "--dir", dirs["VNM"]); !strings.Contains(list, "introduced by JPN, taken by Lt Cdr Wu") {
		t.Errorf("peer list does not show the introduction:\n%s", list)
	}
	// VNM has only JPN's word for CHN: it does not pass it on.
	checkFailed(t, nil, hotline(t, "peer", "introduce", "--dir", dirs["VNM"], "--peer", "CHN"), "on JPN's introduction", "only a station that read it")
	checkFailed(t, nil, hotline(t, "peer", "introduce", "--dir", dirs["VNM"], "--peer", "RUS"), `"RUS" is not a pinned peer`)
}

func mustReadFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
