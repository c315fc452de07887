package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"hotline/internal/afteraction"
	"hotline/internal/api"
	"hotline/internal/ops"
	"hotline/internal/transcript"
)

// cliJSON runs the real CLI with --json and decodes what it prints.
func cliJSON[T any](t *testing.T, args ...string) T {
	t.Helper()
	var v T
	out := hotlineCLI(t, append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("hotline %s --json: %v\n%s", strings.Join(args, " "), err, out)
	}
	return v
}

// incidentIn waits until a station holds the incident in the state and returns it.
func incidentIn(t *testing.T, ctx context.Context, c *api.Client, ch, id, state string) ops.IncidentView {
	t.Helper()
	var got ops.IncidentView
	if err := WaitFor(ctx, c, 30*time.Second, func() (bool, error) {
		vs, err := c.Incidents(ctx, ch)
		for _, v := range vs {
			if v.ID == id {
				got = v
				return v.State == state, err
			}
		}
		return false, err
	}); err != nil {
		t.Fatalf("incident %s did not reach %s (it is %s): %v", id, state, got.State, err)
	}
	return got
}

// TestDeconflictionEndToEnd runs issue 7's scenario across two real
// stations (hotline run processes), operated with the real CLI: a live
// fire notice from CHN overlaps a transit USA planned and raises a finding
// at USA; USA notifies the transit and CHN finds the same from its side;
// standard phrases, each read in the other's language, resolve it; the
// incident opened from the finding is acknowledged, discussed and closed
// with both signatures, and both stations show it closed, resolved, with
// the same timeline.
func TestDeconflictionEndToEnd(t *testing.T) {
	begun := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	const ch = "usa-chn-theatre"
	p, err := NewPair(ctx, t.TempDir(), binary, map[string]string{ch: "theatre"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	usa, chn := p.A.Client(), p.B.Client()
	t0 := time.Now().UTC().Truncate(time.Minute).Add(time.Hour)
	at := func(h int) string { return t0.Add(time.Duration(h) * time.Hour).Format("2006-01-02T15:04Z") }

	// USA plans a transit north through the Paracels; nobody else knows.
	plan := cliJSON[ops.PlanView](t, "plan", "add", "--dir", p.A.Dir, "--channel", ch, "--kind", "transit",
		"--polygon", "16.2,111.9;16.35,112.05;18.05,110.55;17.9,110.4", "--band", "0,60", "--from", at(3), "--to", at(9),
		"--units", "DDG-00", "--title", "Transit north", "--lang", "en")
	if plan.ID != 1 || len(plan.Findings) != 0 {
		t.Fatalf("plan add: %+v", plan)
	}

	// CHN notifies live fire south of Hainan.
	fire := strings.TrimSpace(hotlineCLI(t, "notice", "send", "--dir", p.B.Dir, "--channel", ch, "--kind", "live_fire",
		"--polygon", "17.5,110.5;17.5,111.5;17,111.5;17,110.5", "--band", "0,8000", "--from", at(0), "--to", at(8),
		"--units", "Destroyer 173,Frigate 548", "--title", "海上实弹射击", "--lang", "zh-Hans"))

	// USA's station finds the overlap when the notice arrives.
	var fs []ops.FindingView
	if err := WaitFor(ctx, usa, 30*time.Second, func() (bool, error) {
		fs, err = usa.Findings(ctx)
		return len(fs) == 1, err
	}); err != nil {
		t.Fatalf("USA found nothing: %v", err)
	}
	if f := fs[0]; f.Rule != "overlap" || f.Planned != "plan 1" || f.Notified != fire || f.DistanceNM != 0 ||
		!f.From.Equal(t0.Add(3*time.Hour)) || !f.To.Equal(t0.Add(8*time.Hour)) {
		t.Fatalf("USA's finding: %+v", f)
	}
	if out := hotlineCLI(t, "findings", "--dir", p.A.Dir, "--lang", "en"); !strings.Contains(out, "FINDING 1 on "+ch) || !strings.Contains(out, "Suggested: ACT16") {
		t.Errorf("hotline findings at USA:\n%s", out)
	}
	if out := hotlineCLI(t, "alerts", "--dir", p.A.Dir); !strings.Contains(out, "ALARM    FINDING 1 on "+ch) {
		t.Errorf("no alarm for the finding at USA:\n%s", out)
	}

	// USA notifies the transit; CHN's station finds it against its fire.
	transit := strings.TrimSpace(hotlineCLI(t, "notice", "send", "--dir", p.A.Dir, "--channel", ch, "--plan", "1"))
	var cfs []ops.FindingView
	if err := WaitFor(ctx, chn, 30*time.Second, func() (bool, error) {
		cfs, err = chn.Findings(ctx)
		return len(cfs) == 1, err
	}); err != nil {
		t.Fatalf("CHN found nothing: %v", err)
	}
	if f := cfs[0]; f.Planned != fire || f.Notified != transit || !strings.HasPrefix(f.Text["zh-Hans"], "发现1（"+ch+"）") {
		t.Fatalf("CHN's finding: %+v", f)
	}
	if out := hotlineCLI(t, "findings", "--dir", p.B.Dir, "--lang", "zh"); !strings.Contains(out, "建议发送：REQ04 请远离以北纬") {
		t.Errorf("hotline findings at CHN:\n%s", out)
	}
	if fs, _ := usa.Findings(ctx); len(fs) != 1 {
		t.Errorf("USA found its own notified plan again: %+v", fs)
	}

	// The standard phrases: each side sends what its finding suggests and
	// reads the other's in its own language; USA agrees to keep clear.
	exchange := func(from, to *Node, args []string, wantRead string) string {
		t.Helper()
		id := strings.TrimSpace(hotlineCLI(t, append([]string{"send", "--dir", from.Dir, "--precedence", "IMMEDIATE"}, args...)...))
		if err := WaitFor(ctx, to.Client(), 30*time.Second, func() (bool, error) {
			in, err := to.Client().Inbox(ctx, ch)
			return slices.ContainsFunc(in, func(m ops.MessageView) bool { return m.ID == id }), err
		}); err != nil {
			t.Fatalf("%s did not receive %s: %v", to.Name, id, err)
		}
		lang := "en"
		if to == p.B {
			lang = "zh"
		}
		if out := hotlineCLI(t, "inbox", "--dir", to.Dir, "--channel", ch, "--lang", lang); !strings.Contains(out, wantRead) {
			t.Errorf("%s reads %s as:\n%s", to.Name, id, out)
		}
		hotlineCLI(t, "ack", "--dir", to.Dir, "--id", id, "--as", "duty officer")
		return id
	}
	exchange(p.A, p.B, []string{"--finding", "1"}, "REQ01 请告知你方意图。")
	exchange(p.B, p.A, []string{"--finding", "1"}, "ACT08 Live firing will take place from")
	agreed := exchange(p.A, p.B, []string{"--channel", ch, "--code", "ANS12", "--code", "ANS16", "--param", "time=" + at(8)}, "ANS12 我方将远离该区域。")

	// The incident, opened from the finding.
	inc := cliJSON[ops.IncidentView](t, "incident", "open", "--dir", p.A.Dir, "--finding", "1", "--lang", "en", "--as", "Lt. Cdr. Smith")
	if inc.State != "open" || !slices.Contains(inc.Links, fire) {
		t.Fatalf("incident open: %+v", inc)
	}
	id := inc.ID
	incidentIn(t, ctx, chn, ch, id, "open")
	hotlineCLI(t, "incident", "acknowledge", "--dir", p.B.Dir, "--id", id, "--as", "Cdr. Li Wei")
	incidentIn(t, ctx, usa, ch, id, "acknowledged")
	hotlineCLI(t, "incident", "discuss", "--dir", p.A.Dir, "--id", id, "--note", "Our transit waits until the firing ends.",
		"--lang", "en", "--link", agreed, "--as", "Lt. Cdr. Smith")
	incidentIn(t, ctx, chn, ch, id, "under_discussion")
	hotlineCLI(t, "incident", "close", "--dir", p.B.Dir, "--id", id, "--outcome", "resolved", "--note", "确认。", "--lang", "zh-Hans", "--as", "Cdr. Li Wei")
	incidentIn(t, ctx, usa, ch, id, "closing")
	hotlineCLI(t, "incident", "close", "--dir", p.A.Dir, "--id", id, "--outcome", "resolved", "--as", "Lt. Cdr. Smith")
	views := map[string]ops.IncidentView{}
	for _, n := range []*Node{p.A, p.B} {
		incidentIn(t, ctx, n.Client(), ch, id, "closed")
		views[n.Name] = cliJSON[ops.IncidentView](t, "incident", "show", "--dir", n.Dir, "--id", id)
	}
	u, c := views["USA"], views["CHN"]
	if u.Outcome != "resolved" || c.Outcome != "resolved" || len(u.Timeline) != 5 {
		t.Errorf("closed as %q at USA, %q at CHN; %d steps", u.Outcome, c.Outcome, len(u.Timeline))
	}
	signed := map[string]bool{}
	for i, s := range u.Timeline {
		if o := c.Timeline[i]; s.Entry != o.Entry || s.Applied != o.Applied || s.To != o.To {
			t.Errorf("step %d: USA %+v, CHN %+v", i, s, o)
		}
		if s.Action == "close" && s.Applied {
			signed[s.By] = true
		}
	}
	if !signed["USA"] || !signed["CHN"] {
		t.Errorf("closed without both signatures: %+v", u.Timeline)
	}
	if !slices.Contains(u.Links, agreed) || !slices.Contains(c.Links, transit) {
		t.Errorf("the timeline does not link the messages about it: %v", u.Links)
	}
	if out := hotlineCLI(t, "incident", "show", "--dir", p.B.Dir, "--id", id, "--lang", "zh"); !strings.Contains(out, "state: 已结案, 已解决") {
		t.Errorf("incident show at CHN:\n%s", out)
	}

	// Every step is in both signed transcripts, which verify.
	for _, n := range []*Node{p.A, p.B} {
		b, err := n.Client().Export(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := transcript.Verify(b); err != nil {
			t.Errorf("%s's transcript: %v", n.Name, err)
		}
	}

	// The after-action report, written with the CLI through the running
	// station's API once both logs are receipted: every step and every
	// entry it links, each with its proof of inclusion, which verifies
	// against the author's checkpoint.
	for _, n := range []*Node{p.A, p.B} {
		c := n.Client()
		if err := WaitFor(ctx, c, 30*time.Second, func() (bool, error) {
			cs, err := c.Channels(ctx)
			return err == nil && len(cs) == 1 && cs[0].Delivered == cs[0].Written, err
		}); err != nil {
			t.Fatalf("%s's entries not all receipted: %v", n.Name, err)
		}
	}
	file := filepath.Join(t.TempDir(), "incident.html")
	out := hotlineCLI(t, "incident", "report", "--dir", p.B.Dir, "--incident", id, "--out", file, "--lang", "zh")
	doc, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := afteraction.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	want := len(c.Timeline)
	for _, l := range c.Links {
		if !slices.ContainsFunc(c.Timeline, func(s ops.IncidentStepView) bool { return s.Entry == l }) {
			want++
		}
	}
	if len(rep.Entries) != want || rep.Proven() != want || !strings.Contains(out, fmt.Sprintf("%d entries, %d with proofs of inclusion", want, want)) {
		t.Errorf("report: %d entries, %d proven, want %d: %s", len(rep.Entries), rep.Proven(), want, out)
	}
	roots := map[string][]byte{}
	for _, l := range rep.Logs {
		roots[l.Author] = l.Root
		// Each receipt says when the other party's station cosigned it:
		// during this test, by its clock.
		if l.Checkpoint != "" && (l.ReceiptTime.Before(begun.Add(-time.Second)) || l.ReceiptTime.After(time.Now())) {
			t.Errorf("log of %s: receipt time %v, not during the test (from %v)", l.Author, l.ReceiptTime, begun)
		}
	}
	if !strings.Contains(string(doc), "另一方于 ") {
		t.Error("the report does not show when the other party cosigned")
	}
	for _, e := range rep.Entries {
		if err := transcript.VerifyInclusion(transcript.LeafHash(e.Envelope), e.LeafIndex, e.TreeSize, e.Proof, roots[e.Author]); err != nil {
			t.Errorf("entry %s: %v", e.ID, err)
		}
	}
	if !strings.Contains(string(doc), "事后报告") || strings.Contains(string(doc), "https://") {
		t.Error("the report is not in Chinese, or refers outside itself")
	}
	bad, err := exec.CommandContext(ctx, binary, "incident", "report", "--dir", p.B.Dir, "--incident", ch+"/USA/999", "--out", file).CombinedOutput()
	if err == nil || !strings.Contains(string(bad), "no such incident: "+ch+"/USA/999") {
		t.Errorf("report of an unknown incident: %v %s", err, bad)
	}
}
