package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"hotline/internal/api"
	"hotline/internal/ops"
	"hotline/internal/transcript"
)

// Options configure the demo.
type Options struct {
	Dir  string // where to create the stations; empty for a new temporary folder
	Keep bool   // leave the stations running
	Out  io.Writer
}

const (
	staffChannel   = "usa-chn-staff"
	leaderChannel  = "usa-chn-leaders"
	theatreChannel = "usa-chn-theatre"
	// flashDeadline is the theatre channel's FLASH acknowledgement
	// deadline: seconds, so that the whole ladder is seen.
	flashDeadline = 3 * time.Second
)

// Run plays a short South China Sea crisis between two stations run as
// real processes: a live-fire notice, a transit planned through it, the
// finding on both sides, standard phrases in both languages, an unsafe
// encounter, a FLASH nobody answers climbing its ladder, the
// acknowledgement, and an incident closed by both.
func Run(ctx context.Context, o Options) (err error) {
	start := time.Now()
	w := o.Out
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	root := o.Dir
	if root == "" {
		if root, err = os.MkdirTemp("", "hotline-demo-"); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "Hotline demo: two stations on loopback, in %s\n\n", root)
	p, err := NewPairWith(ctx, root, bin, map[string]string{staffChannel: "staff", leaderChannel: "leader"}, PairOptions{
		Proposals: []ops.ProposeRequest{{Channel: theatreChannel, Level: "theatre", EscalateTo: staffChannel,
			Deadlines: map[string]string{"FLASH": flashDeadline.String()}, Delivery: map[string]string{"FLASH": "2s"}}},
	})
	if err != nil {
		return err
	}
	defer func() {
		if o.Keep && err == nil {
			p.A.Detach()
			p.B.Detach()
			return
		}
		p.Stop()
	}()
	usa, chn := p.A.Client(), p.B.Client()
	step := func(format string, args ...any) {
		fmt.Fprintf(w, "[%6.3fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	// show prints text a station shows, indented under the step.
	show := func(text string) {
		for _, l := range strings.Split(text, "\n") {
			fmt.Fprintf(w, "           %s\n", l)
		}
	}
	step("USA station created, fingerprint %s", p.A.Fingerprint)
	step("CHN station created, fingerprint %s", p.B.Fingerprint)
	step("each signal officer pinned the other's card after reading the fingerprint aloud")
	step("USA proposed %s (leader), %s (staff) and %s (theatre: FLASH acknowledged within %s, else escalated to %s); CHN accepted all three",
		leaderChannel, staffChannel, theatreChannel, flashDeadline, staffChannel)

	// The activities: USA plans a transit north past the Paracels; CHN
	// notifies live fire south of Hainan over the same hours.
	t0 := time.Now().UTC().Truncate(time.Minute).Add(time.Hour)
	plan, err := usa.AddPlan(ctx, ops.PlanRequest{Plan: noticeBody("transit", transitArea, "0,60", t0.Add(3*time.Hour), t0.Add(9*time.Hour),
		"DDG-00", "Transit north", "en")})
	if err != nil {
		return err
	}
	step("USA planned a transit by DDG-00 (plan %d), kept to itself for now:", plan.ID)
	show(plan.Rendered["en"])
	fire, err := chn.SendNotice(ctx, ops.NoticeRequest{Channel: theatreChannel,
		Notice: noticeBody("live_fire", fireArea, "0,8000", t0, t0.Add(8*time.Hour), "Destroyer 173", "海上实弹射击", "zh-Hans")})
	if err != nil {
		return err
	}
	step("CHN notified live fire, %s; USA reads it in English, rendered from its fields:", fire.ID)
	got, err := waitMessage(ctx, usa, theatreChannel, fire.ID)
	if err != nil {
		return err
	}
	show(got.Rendered["en"])
	if _, err := usa.Ack(ctx, fire.ID, "Lt. Cdr. Smith"); err != nil {
		return err
	}
	fs, err := waitFindings(ctx, usa, 1)
	if err != nil {
		return fmt.Errorf("USA found no conflict: %w", err)
	}
	step("USA's station checked its plan against the notice and raised an ALARM:")
	show(fs[0].Text["en"])

	transit, err := usa.SendNotice(ctx, ops.NoticeRequest{Channel: theatreChannel, Plan: plan.ID})
	if err != nil {
		return err
	}
	if _, err := waitMessage(ctx, chn, theatreChannel, transit.ID); err != nil {
		return err
	}
	if _, err := chn.Ack(ctx, transit.ID, "Cdr. Li Wei"); err != nil {
		return err
	}
	step("USA notified its transit, %s; CHN acknowledged it", transit.ID)
	cfs, err := waitFindings(ctx, chn, 1)
	if err != nil {
		return fmt.Errorf("CHN found no conflict: %w", err)
	}
	step("CHN's station checked its live fire against it and raised an ALARM, in Chinese:")
	show(cfs[0].Text["zh-Hans"])

	// Standard phrases: each side sends what its finding suggests and
	// reads the other's in its own language, from the codes.
	say := func(from, to *api.Client, fromName, toName, lang string, r ops.CodedRequest, ackBy string) error {
		m, err := from.SendCoded(ctx, r)
		if err != nil {
			return err
		}
		got, err := waitMessage(ctx, to, theatreChannel, m.ID)
		if err != nil {
			return err
		}
		step("%s sent %s %s; %s reads it in %s:", fromName, m.Precedence, m.ID, toName, map[string]string{"en": "English", "zh-Hans": "Chinese"}[lang])
		show(got.Rendered[lang])
		if ackBy != "" {
			if _, err := to.Ack(ctx, m.ID, ackBy); err != nil {
				return err
			}
		}
		return nil
	}
	if err := say(usa, chn, "USA", "CHN", "zh-Hans", ops.CodedRequest{Precedence: "IMMEDIATE", Finding: fs[0].ID}, "Cdr. Li Wei"); err != nil {
		return err
	}
	if err := say(chn, usa, "CHN", "USA", "en", ops.CodedRequest{Precedence: "IMMEDIATE", Finding: cfs[0].ID}, "Lt. Cdr. Smith"); err != nil {
		return err
	}
	if err := say(usa, chn, "USA", "CHN", "zh-Hans", ops.CodedRequest{Channel: theatreChannel, Precedence: "IMMEDIATE", Items: []ops.CodedItem{
		{Code: "ANS12"}, {Code: "ANS16", Args: map[string]string{"time": t0.Add(8 * time.Hour).Format(time.RFC3339)}}}}, "Cdr. Li Wei"); err != nil {
		return err
	}

	// Meanwhile, east of the firing area, a frigate and the destroyer
	// meet at close quarters.
	at := time.Now().UTC().Truncate(time.Minute)
	rep, err := chn.SendReport(ctx, ops.ReportRequest{Channel: theatreChannel, Report: reportBody(at),
		Said: []ops.SaidRequest{{Time: at.Add(time.Minute), By: "own", Items: []ops.CodedItem{{Code: "SAF16"}}}}})
	if err != nil {
		return err
	}
	step("meanwhile, east of the area, CHN's frigate reported an UNSAFE encounter with DDG-00, %s; USA reads:", rep.ID)
	if got, err = waitMessage(ctx, usa, theatreChannel, rep.ID); err != nil {
		return err
	}
	show(got.Rendered["en"])
	if _, err := usa.Ack(ctx, rep.ID, "Lt. Cdr. Smith"); err != nil {
		return err
	}
	fs, err = waitFindings(ctx, usa, 2)
	if err != nil {
		return err
	}
	cfs, err = waitFindings(ctx, chn, 2)
	if err != nil {
		return err
	}
	step("both stations predicted the closest approach from the reported tracks, each from its own ship's side:")
	show("USA: " + fs[1].Text["en"])
	show("CHN: " + cfs[1].Text["zh-Hans"])

	// The FLASH: nobody at USA answers; CHN's station climbs the ladder.
	flash, err := chn.SendCoded(ctx, ops.CodedRequest{Channel: theatreChannel, Precedence: "FLASH",
		Items: []ops.CodedItem{{Code: "SAF10"}, {Code: "REQ11", Args: map[string]string{"distance": "2"}}}})
	if err != nil {
		return err
	}
	sent := time.Now()
	step("CHN sent FLASH %s: %s", flash.ID, strings.ReplaceAll(flash.Rendered["en"], "\n", " "))
	var fwd ops.MessageView
	if err := WaitFor(ctx, usa, 30*time.Second, func() (bool, error) {
		in, err := usa.Inbox(ctx, staffChannel)
		for _, m := range in {
			if m.EscalatedFrom == flash.ID {
				fwd = m
				return true, nil
			}
		}
		return false, err
	}); err != nil {
		return fmt.Errorf("the FLASH was not forwarded: %w", err)
	}
	step("nobody at USA answered; CHN's station took the ladder's steps:")
	xs, err := chn.Escalations(ctx, theatreChannel)
	if err != nil {
		return err
	}
	for _, x := range xs {
		if fmt.Sprintf("%s/%s/%d", x.Channel, x.Author, x.Index) == flash.ID {
			show(fmt.Sprintf("+%.1fs step %d: %s", x.At.Sub(sent).Seconds(), x.Step, x.Detail))
		}
	}
	alerts, err := usa.Alerts(ctx, 0)
	if err != nil {
		return err
	}
	for _, a := range alerts {
		if strings.Contains(a.Text, flash.ID) {
			show("USA ALARM: " + a.Text)
		}
	}
	step("USA's staff channel received the FLASH forwarded, %s:", fwd.ID)
	show(fwd.Text)
	if _, err := usa.Ack(ctx, fwd.ID, "Capt. Jones (staff)"); err != nil {
		return err
	}
	step("USA's staff duty officer acknowledged the forwarded FLASH %s on %s", fwd.ID, staffChannel)
	if err := waitStatus(ctx, chn, flash.ID, "acknowledged"); err != nil {
		return err
	}
	out, _ := chn.Outbox(ctx, theatreChannel)
	for _, m := range out {
		if m.ID == flash.ID {
			step("CHN sees its FLASH acknowledged by %s", m.AckBy)
		}
	}
	reply, err := usa.Send(ctx, ops.SendRequest{Channel: staffChannel, Precedence: "IMMEDIATE",
		Text: "DDG-00 is altering course to starboard and will keep 2 NM from your units.", Lang: "en"})
	if err != nil {
		return err
	}
	if _, err := waitMessage(ctx, chn, staffChannel, reply.ID); err != nil {
		return err
	}
	if _, err := chn.Ack(ctx, reply.ID, "Sr. Col. Zhang (staff)"); err != nil {
		return err
	}
	if err := say(usa, chn, "USA", "CHN", "zh-Hans", ops.CodedRequest{Channel: theatreChannel, Precedence: "FLASH", Items: []ops.CodedItem{
		{Code: "MNV06"}, {Code: "MNV20", Args: map[string]string{"distance": "2"}}}}, "Cdr. Li Wei"); err != nil {
		return err
	}

	// The incident, opened by CHN from its finding, closed by both.
	inc, err := chn.Incident(ctx, ops.IncidentRequest{Action: "open", Finding: cfs[1].ID, Lang: "en", By: "Cdr. Li Wei"})
	if err != nil {
		return err
	}
	step("CHN opened incident %s: %q", inc.ID, inc.Title)
	steps := []struct {
		by   *api.Client
		name string
		r    ops.IncidentRequest
		then string
	}{
		{usa, "USA", ops.IncidentRequest{Action: "acknowledge", By: "Lt. Cdr. Smith"}, "acknowledged"},
		{chn, "CHN", ops.IncidentRequest{Action: "discuss", Note: "双方舰艇保持2海里以上距离。", Lang: "zh-Hans", By: "Cdr. Li Wei"}, "under_discussion"},
		{usa, "USA", ops.IncidentRequest{Action: "close", Outcome: "resolved", Note: "Agreed: 2 NM.", Lang: "en", By: "Lt. Cdr. Smith"}, "closing"},
		{chn, "CHN", ops.IncidentRequest{Action: "close", Outcome: "resolved", By: "Cdr. Li Wei"}, "closed"},
	}
	for _, s := range steps {
		if err := waitIncident(ctx, s.by, inc.ID, ""); err != nil {
			return err
		}
		s.r.Incident = inc.ID
		v, err := s.by.Incident(ctx, s.r)
		if err != nil {
			return err
		}
		step("%s: %s → incident %s", s.name, s.r.Action, strings.ReplaceAll(v.State, "_", " "))
		other := chn
		if s.by == chn {
			other = usa
		}
		if err := waitIncident(ctx, other, inc.ID, s.then); err != nil {
			return err
		}
	}
	for _, n := range []*Node{p.A, p.B} {
		vs, err := n.Client().Incidents(ctx, theatreChannel)
		if err != nil {
			return err
		}
		for _, v := range vs {
			if v.ID == inc.ID {
				applied, signed := 0, []string{}
				for _, s := range v.Timeline {
					if s.Applied {
						applied++
					}
					if s.Applied && s.Action == "close" {
						signed = append(signed, s.By)
					}
				}
				step("%s shows incident %s %s, %s: %d steps, closed by %s; it links %d entries",
					n.Name, v.ID, v.State, v.Outcome, applied, strings.Join(signed, " and "), len(v.Links))
			}
		}
	}

	lm, err := usa.Send(ctx, ops.SendRequest{Channel: leaderChannel, Precedence: "PRIORITY",
		Text: "The Secretary requests a call with the Minister at 0800Z to review the encounter.", Lang: "en"})
	if err != nil {
		return err
	}
	if err := waitStatus(ctx, usa, lm.ID, "delivered", "acknowledged"); err != nil {
		return err
	}
	step("USA sent PRIORITY %s on the leaders' channel; delivered", lm.ID)

	// Both sides export their transcripts; anyone can verify them offline.
	for _, n := range []*Node{p.A, p.B} {
		for _, ch := range []string{leaderChannel, staffChannel, theatreChannel} {
			b, err := n.Client().Export(ctx, ch)
			if err != nil {
				return err
			}
			file := filepath.Join(root, fmt.Sprintf("%s-%s.json", ch, n.Name))
			data, _ := json.MarshalIndent(b, "", "  ")
			if err := os.WriteFile(file, data, 0o644); err != nil {
				return err
			}
			rep, err := transcript.Verify(b)
			if err != nil {
				return fmt.Errorf("transcript of %s exported by %s: %w", ch, n.Name, err)
			}
			step("%s exported %s: verified offline (%s: %d entries, %d receipted; %s: %d entries, %d receipted)",
				n.Name, filepath.Base(file), rep.Logs[0].Author, rep.Logs[0].Entries, rep.Logs[0].Receipted,
				rep.Logs[1].Author, rep.Logs[1].Entries, rep.Logs[1].Receipted)
		}
	}
	fmt.Fprintf(w, "\ndemo finished in %s\n", time.Since(start).Round(time.Millisecond))
	if o.Keep {
		fmt.Fprintf(w, "\nThe stations are still running:\n")
		for _, n := range []*Node{p.A, p.B} {
			fmt.Fprintf(w, "  %s: hotline status --dir %s   (API %s, token in %s)\n", n.Name, n.Dir, n.Client().Base, filepath.Join(n.Dir, "api-token"))
		}
		fmt.Fprintf(w, "Try: hotline findings --dir %s --lang zh; hotline incident list --dir %s\n", p.B.Dir, p.A.Dir)
		fmt.Fprintf(w, "Stop them with: pkill -f 'hotline run --dir %s'\n", root)
	} else if o.Dir == "" {
		defer os.RemoveAll(root)
	}
	return nil
}

// The scenario's areas: live fire south of Hainan, and a transit corridor
// from the Paracels towards the Qiongzhou approaches that crosses it.
const (
	fireArea    = `{"polygon":[{"lat":17.5,"lon":110.5},{"lat":17.5,"lon":111.5},{"lat":17,"lon":111.5},{"lat":17,"lon":110.5}]}`
	transitArea = `{"polygon":[{"lat":16.2,"lon":111.9},{"lat":16.35,"lon":112.05},{"lat":18.05,"lon":110.55},{"lat":17.9,"lon":110.4}]}`
)

func noticeBody(kind, area, band string, from, to time.Time, unit, title, lang string) json.RawMessage {
	low, high, _ := strings.Cut(band, ",")
	return json.RawMessage(fmt.Sprintf(`{"kind":%q,"title":%q,"lang":%q,"area":%s,"band":{"low_m":%s,"high_m":%s},`+
		`"window":{"from":%q,"to":%q},"units":[%q],"call":%q}`,
		kind, title, lang, area, low, high, from.Format(time.RFC3339), to.Format(time.RFC3339), unit, theatreChannel))
}

// reportBody is CHN's frigate's report: USA's destroyer, on its
// starboard bow, crossing ahead at close range.
func reportBody(at time.Time) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"time":%q,
		"own":{"unit":"Frigate 548","position":{"lat":16.9,"lon":112.2},"course":45,"speed_kn":14},
		"other":{"unit":"DDG-00","position":{"lat":16.905,"lon":112.2296},"course":300,"speed_kn":18},
		"cpa":{"distance_nm":0.3,"time":%q},"unsafe":true,
		"description":"驱逐舰从我舰前方近距离横越。","lang":"zh-Hans"}`, at.Format(time.RFC3339), at.Add(4*time.Minute).Format(time.RFC3339)))
}

// waitMessage waits until a station holds a message from its peer.
func waitMessage(ctx context.Context, c *api.Client, ch, id string) (ops.MessageView, error) {
	var got ops.MessageView
	err := WaitFor(ctx, c, 20*time.Second, func() (bool, error) {
		in, err := c.Inbox(ctx, ch)
		i := slices.IndexFunc(in, func(m ops.MessageView) bool { return m.ID == id })
		if i >= 0 {
			got = in[i]
		}
		return i >= 0, err
	})
	if err != nil {
		return got, fmt.Errorf("%s did not arrive: %w", id, err)
	}
	return got, nil
}

// waitFindings waits until a station has at least n findings.
func waitFindings(ctx context.Context, c *api.Client, n int) ([]ops.FindingView, error) {
	var fs []ops.FindingView
	err := WaitFor(ctx, c, 20*time.Second, func() (bool, error) {
		var err error
		fs, err = c.Findings(ctx)
		return len(fs) >= n, err
	})
	return fs, err
}

// waitIncident waits until a station holds an incident, in a state if
// one is given.
func waitIncident(ctx context.Context, c *api.Client, id, state string) error {
	return WaitFor(ctx, c, 20*time.Second, func() (bool, error) {
		ch, _, _, err := ops.ParseID(id)
		if err != nil {
			return false, err
		}
		vs, err := c.Incidents(ctx, ch)
		for _, v := range vs {
			if v.ID == id && (state == "" || v.State == state) {
				return true, nil
			}
		}
		return false, err
	})
}

// waitStatus waits until one of this station's messages has one of the
// wanted statuses.
func waitStatus(ctx context.Context, c *api.Client, id string, want ...string) error {
	ch, _, _, err := ops.ParseID(id)
	if err != nil {
		return err
	}
	return WaitFor(ctx, c, 20*time.Second, func() (bool, error) {
		out, err := c.Outbox(ctx, ch)
		for _, m := range out {
			if m.ID == id && slices.Contains(want, m.Status) {
				return true, nil
			}
		}
		return false, err
	})
}
