package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
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
	d := &demo{o: o, w: o.Out, start: time.Now()}
	if err := d.setUp(ctx); err != nil {
		return err
	}
	defer func() { d.leave(err) }()
	d.introduce()
	for _, step := range []func(context.Context) error{
		d.planTransit,
		d.notifyLiveFire,
		d.notifyTransit,
		d.exchangePhrases,
		d.reportEncounter,
		d.sendFlash,
		d.acknowledgeFlash,
		d.placeCall,
		d.missCall,
		d.answerFlash,
		d.runIncident,
		d.showIncident,
		d.messageLeaders,
		d.exportTranscripts,
	} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	d.finish()
	// A temporary folder is removed when Run returns, before the stations
	// stop.
	if !o.Keep && o.Dir == "" {
		defer os.RemoveAll(d.root)
	}
	return nil
}

// demo is what the demo's steps share: where it writes, the two stations,
// and what one step leaves for the next.
type demo struct {
	o     Options
	w     io.Writer
	start time.Time
	root  string
	p     *Pair
	// usa and chn are the two stations' API clients.
	usa, chn *api.Client
	// t0 is the hour the activities are planned from.
	t0 time.Time
	// plan is USA's planned transit.
	plan int64
	// usaFindings and chnFindings are each station's findings so far.
	usaFindings, chnFindings []ops.FindingView
	// flash is CHN's FLASH, and sent is when it was sent.
	flash *ops.MessageView
	sent  time.Time
	// fwd is the FLASH as forwarded to USA's staff channel.
	fwd ops.MessageView
	// incident is the incident CHN opens.
	incident string
}

// step prints one step of the story, stamped with the time since the
// start.
func (d *demo) step(format string, args ...any) {
	fmt.Fprintf(d.w, "[%6.3fs] %s\n", time.Since(d.start).Seconds(), fmt.Sprintf(format, args...))
}

// show prints text a station shows, indented under the step.
func (d *demo) show(text string) {
	for _, l := range strings.Split(text, "\n") {
		fmt.Fprintf(d.w, "           %s\n", l)
	}
}

// setUp makes the folder and the two stations. Each station pins the
// other's card. USA proposes the three channels and CHN accepts them.
func (d *demo) setUp(ctx context.Context) error {
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	d.root = d.o.Dir
	if d.root == "" {
		if d.root, err = os.MkdirTemp("", "hotline-demo-"); err != nil {
			return err
		}
	}
	fmt.Fprintf(d.w, "Hotline demo: two stations on loopback, in %s\n\n", d.root)
	d.p, err = NewPairWith(ctx, d.root, bin, map[string]string{staffChannel: "staff", leaderChannel: "leader"}, PairOptions{
		Proposals: []ops.ProposeRequest{{Channel: theatreChannel, Level: "theatre", EscalateTo: staffChannel,
			Deadlines: map[string]string{"FLASH": flashDeadline.String()}, Delivery: map[string]string{"FLASH": "2s"}}},
	})
	if err != nil {
		return err
	}
	d.usa, d.chn = d.p.A.Client(), d.p.B.Client()
	return nil
}

// leave keeps the stations running if asked to and the demo succeeded.
// Otherwise it stops them.
func (d *demo) leave(err error) {
	if d.o.Keep && err == nil {
		d.p.A.Detach()
		d.p.B.Detach()
		return
	}
	d.p.Stop()
}

// introduce tells how the stations were set up.
func (d *demo) introduce() {
	d.step("USA station created, fingerprint %s", d.p.A.Fingerprint)
	d.step("CHN station created, fingerprint %s", d.p.B.Fingerprint)
	d.step("each signal officer pinned the other's card after reading the fingerprint aloud")
	d.step("USA proposed %s (leader), %s (staff) and %s (theatre: FLASH acknowledged within %s, else escalated to %s); CHN accepted all three",
		leaderChannel, staffChannel, theatreChannel, flashDeadline, staffChannel)
}

// planTransit begins the activities. USA plans a transit north past the
// Paracels. It keeps the plan to itself for now.
func (d *demo) planTransit(ctx context.Context) error {
	d.t0 = time.Now().UTC().Truncate(time.Minute).Add(time.Hour)
	plan, err := d.usa.AddPlan(ctx, ops.PlanRequest{Plan: noticeBody("transit", transitArea, "0,60", d.t0.Add(3*time.Hour), d.t0.Add(9*time.Hour),
		"DDG-00", "Transit north", "en")})
	if err != nil {
		return err
	}
	d.plan = plan.ID
	d.step("USA planned a transit by DDG-00 (plan %d), kept to itself for now:", plan.ID)
	d.show(plan.Rendered["en"])
	return nil
}

// notifyLiveFire: CHN notifies live fire south of Hainan over the same
// hours. USA reads the notice and acknowledges it. USA's station finds
// the conflict with its plan.
func (d *demo) notifyLiveFire(ctx context.Context) error {
	fire, err := d.chn.SendNotice(ctx, ops.NoticeRequest{Channel: theatreChannel,
		Notice: noticeBody("live_fire", fireArea, "0,8000", d.t0, d.t0.Add(8*time.Hour), "Destroyer 173", "海上实弹射击", "zh-Hans")})
	if err != nil {
		return err
	}
	d.step("CHN notified live fire, %s; USA reads it in English, rendered from its fields:", fire.ID)
	got, err := waitMessage(ctx, d.usa, theatreChannel, fire.ID)
	if err != nil {
		return err
	}
	d.show(got.Rendered["en"])
	if _, err := d.usa.Ack(ctx, fire.ID, "Lt. Cdr. Smith"); err != nil {
		return err
	}
	if d.usaFindings, err = waitFindings(ctx, d.usa, 1); err != nil {
		return fmt.Errorf("USA found no conflict: %w", err)
	}
	d.step("USA's station checked its plan against the notice and raised an ALARM:")
	d.show(d.usaFindings[0].Text["en"])
	return nil
}

// notifyTransit: USA notifies its planned transit. CHN acknowledges it.
// CHN's station finds the conflict with its live fire.
func (d *demo) notifyTransit(ctx context.Context) error {
	transit, err := d.usa.SendNotice(ctx, ops.NoticeRequest{Channel: theatreChannel, Plan: d.plan})
	if err != nil {
		return err
	}
	if _, err := waitMessage(ctx, d.chn, theatreChannel, transit.ID); err != nil {
		return err
	}
	if _, err := d.chn.Ack(ctx, transit.ID, "Cdr. Li Wei"); err != nil {
		return err
	}
	d.step("USA notified its transit, %s; CHN acknowledged it", transit.ID)
	if d.chnFindings, err = waitFindings(ctx, d.chn, 1); err != nil {
		return fmt.Errorf("CHN found no conflict: %w", err)
	}
	d.step("CHN's station checked its live fire against it and raised an ALARM, in Chinese:")
	d.show(d.chnFindings[0].Text["zh-Hans"])
	return nil
}

// exchangePhrases: each side sends in standard phrases what its finding
// suggests. Each reads the other's in its own language, from the codes.
// USA then answers that it will keep clear and postpone its activity.
func (d *demo) exchangePhrases(ctx context.Context) error {
	if err := d.say(ctx, d.usa, d.chn, "USA", "CHN", "zh-Hans", ops.CodedRequest{Precedence: "IMMEDIATE", Finding: d.usaFindings[0].ID}, "Cdr. Li Wei"); err != nil {
		return err
	}
	if err := d.say(ctx, d.chn, d.usa, "CHN", "USA", "en", ops.CodedRequest{Precedence: "IMMEDIATE", Finding: d.chnFindings[0].ID}, "Lt. Cdr. Smith"); err != nil {
		return err
	}
	return d.say(ctx, d.usa, d.chn, "USA", "CHN", "zh-Hans", ops.CodedRequest{Channel: theatreChannel, Precedence: "IMMEDIATE", Items: []ops.CodedItem{
		{Code: "ANS12"}, {Code: "ANS16", Args: map[string]string{"time": d.t0.Add(8 * time.Hour).Format(time.RFC3339)}}}}, "Cdr. Li Wei")
}

// say sends standard phrases from one side to the other on the theatre
// channel. It shows them as the other side reads them, in lang. The other
// side acknowledges them if ackBy is given.
func (d *demo) say(ctx context.Context, from, to *api.Client, fromName, toName, lang string, r ops.CodedRequest, ackBy string) error {
	m, err := from.SendCoded(ctx, r)
	if err != nil {
		return err
	}
	got, err := waitMessage(ctx, to, theatreChannel, m.ID)
	if err != nil {
		return err
	}
	d.step("%s sent %s %s; %s reads it in %s:", fromName, m.Precedence, m.ID, toName, map[string]string{"en": "English", "zh-Hans": "Chinese"}[lang])
	d.show(got.Rendered[lang])
	if ackBy != "" {
		if _, err := to.Ack(ctx, m.ID, ackBy); err != nil {
			return err
		}
	}
	return nil
}

// reportEncounter: meanwhile, east of the firing area, a frigate and the
// destroyer meet at close quarters. CHN reports the encounter. USA reads
// the report and acknowledges it. Both stations predict the closest
// approach.
func (d *demo) reportEncounter(ctx context.Context) error {
	at := time.Now().UTC().Truncate(time.Minute)
	rep, err := d.chn.SendReport(ctx, ops.ReportRequest{Channel: theatreChannel, Report: reportBody(at),
		Said: []ops.SaidRequest{{Time: at.Add(time.Minute), By: "own", Items: []ops.CodedItem{{Code: "SAF16"}}}}})
	if err != nil {
		return err
	}
	d.step("meanwhile, east of the area, CHN's frigate reported an UNSAFE encounter with DDG-00, %s; USA reads:", rep.ID)
	got, err := waitMessage(ctx, d.usa, theatreChannel, rep.ID)
	if err != nil {
		return err
	}
	d.show(got.Rendered["en"])
	if _, err := d.usa.Ack(ctx, rep.ID, "Lt. Cdr. Smith"); err != nil {
		return err
	}
	if d.usaFindings, err = waitFindings(ctx, d.usa, 2); err != nil {
		return err
	}
	if d.chnFindings, err = waitFindings(ctx, d.chn, 2); err != nil {
		return err
	}
	d.step("both stations predicted the closest approach from the reported tracks, each from its own ship's side:")
	d.show("USA: " + d.usaFindings[1].Text["en"])
	d.show("CHN: " + d.chnFindings[1].Text["zh-Hans"])
	return nil
}

// sendFlash: CHN sends a FLASH. Nobody at USA answers it. CHN's station
// climbs the ladder until it forwards the FLASH to USA's staff channel.
func (d *demo) sendFlash(ctx context.Context) error {
	flash, err := d.chn.SendCoded(ctx, ops.CodedRequest{Channel: theatreChannel, Precedence: "FLASH",
		Items: []ops.CodedItem{{Code: "SAF10"}, {Code: "REQ11", Args: map[string]string{"distance": "2"}}}})
	if err != nil {
		return err
	}
	d.flash, d.sent = flash, time.Now()
	d.step("CHN sent FLASH %s: %s", flash.ID, strings.ReplaceAll(flash.Rendered["en"], "\n", " "))
	if err := WaitFor(ctx, d.usa, 30*time.Second, func() (bool, error) {
		in, err := d.usa.Inbox(ctx, staffChannel)
		for _, m := range in {
			if m.EscalatedFrom == flash.ID {
				d.fwd = m
				return true, nil
			}
		}
		return false, err
	}); err != nil {
		return fmt.Errorf("the FLASH was not forwarded: %w", err)
	}
	d.step("nobody at USA answered; CHN's station took the ladder's steps:")
	return d.showLadder(ctx)
}

// showLadder shows the steps CHN's station took for the FLASH. It also
// shows the alarms USA's station raised about the FLASH.
func (d *demo) showLadder(ctx context.Context) error {
	xs, err := d.chn.Escalations(ctx, theatreChannel)
	if err != nil {
		return err
	}
	for _, x := range xs {
		if fmt.Sprintf("%s/%s/%d", x.Channel, x.Author, x.Index) == d.flash.ID {
			d.show(fmt.Sprintf("+%.1fs step %d: %s", x.At.Sub(d.sent).Seconds(), x.Step, x.Detail))
		}
	}
	alerts, err := d.usa.Alerts(ctx, 0)
	if err != nil {
		return err
	}
	for _, a := range alerts {
		if strings.Contains(a.Text, d.flash.ID) {
			d.show("USA ALARM: " + a.Text)
		}
	}
	return nil
}

// acknowledgeFlash: USA's staff duty officer acknowledges the forwarded
// FLASH. CHN then sees its FLASH acknowledged.
func (d *demo) acknowledgeFlash(ctx context.Context) error {
	d.step("USA's staff channel received the FLASH forwarded, %s:", d.fwd.ID)
	d.show(d.fwd.Text)
	if _, err := d.usa.Ack(ctx, d.fwd.ID, "Capt. Jones (staff)"); err != nil {
		return err
	}
	d.step("USA's staff duty officer acknowledged the forwarded FLASH %s on %s", d.fwd.ID, staffChannel)
	if err := waitStatus(ctx, d.chn, d.flash.ID, "acknowledged"); err != nil {
		return err
	}
	out, _ := d.chn.Outbox(ctx, theatreChannel)
	for _, m := range out {
		if m.ID == d.flash.ID {
			d.step("CHN sees its FLASH acknowledged by %s", m.AckBy)
		}
	}
	return nil
}

// answerFlash: USA's staff answers on the staff channel. CHN's staff
// acknowledges the answer. USA then tells CHN by FLASH, in standard
// phrases, that DDG-00 turns to starboard and keeps 2 NM away.
// placeCall: USA's theatre commander calls CHN. CHN's station rings, its
// officer answers, the two stations' media connect under the
// certificates their signed entries name, and USA hangs up; the call is
// on both records.
func (d *demo) placeCall(ctx context.Context) error {
	c, err := d.usa.StartCall(ctx, ops.StartCallRequest{Channel: theatreChannel, As: "Capt. Jones"})
	if err != nil {
		return err
	}
	ringing, err := waitCall(ctx, d.chn, c.ID, "ringing")
	if err != nil {
		return err
	}
	d.step("USA called CHN, %s %s by %s; CHN's station rang", c.Precedence, c.ID, ringing.Caller)
	if _, err := d.chn.AnswerCall(ctx, ops.CallActRequest{ID: c.ID, As: "Sr. Col. Zhang"}); err != nil {
		return err
	}
	for _, s := range []struct {
		name string
		c    *api.Client
	}{{"USA", d.usa}, {"CHN", d.chn}} {
		v, err := waitCall(ctx, s.c, c.ID, "answered")
		if err != nil {
			return err
		}
		if v.Media == nil {
			d.step("%s: answered by %s; no media at this station", s.name, v.AnsweredBy)
			continue
		}
		if v, err = waitMedia(ctx, s.c, c.ID); err != nil {
			return err
		}
		other := map[string]string{"USA": "CHN", "CHN": "USA"}[s.name]
		d.step("%s: answered by %s; media %s end to end with %s's station, whose DTLS certificate (%s…) is the one its signed call entry names",
			s.name, v.AnsweredBy, v.Media.State, other, v.Media.PeerFingerprint[:23])
	}
	if _, err := d.usa.EndCall(ctx, ops.CallActRequest{ID: c.ID, As: "Capt. Jones"}); err != nil {
		return err
	}
	if _, err := waitCall(ctx, d.chn, c.ID, "ended"); err != nil {
		return err
	}
	d.step("USA hung up; both records hold the call: requested, received, answered, ended")
	return nil
}

// missCall: CHN's theatre officer calls USA and nobody at USA answers.
// The call climbs the theatre channel's ladder as a FLASH message does:
// CHN's station reminds USA, alerts its supervisor, and forwards it to
// USA's staff channel. USA lists it missed; its staff officer calls back,
// which returns it and stops the ladder; CHN answers and hangs up.
func (d *demo) missCall(ctx context.Context) error {
	c, err := d.chn.StartCall(ctx, ops.StartCallRequest{Channel: theatreChannel, As: "Sr. Col. Zhang"})
	if err != nil {
		return err
	}
	sent := time.Now()
	if _, err := waitCall(ctx, d.usa, c.ID, "ringing"); err != nil {
		return err
	}
	d.step("CHN called USA, %s %s; USA's station rang and nobody answered", c.Precedence, c.ID)
	var fwd ops.MessageView
	if err := WaitFor(ctx, d.usa, 60*time.Second, func() (bool, error) {
		in, err := d.usa.Inbox(ctx, staffChannel)
		for _, m := range in {
			if m.EscalatedFrom == c.ID {
				fwd = m
				return true, nil
			}
		}
		return false, err
	}); err != nil {
		return fmt.Errorf("the missed call was not forwarded: %w", err)
	}
	xs, err := d.chn.Escalations(ctx, theatreChannel)
	if err != nil {
		return err
	}
	d.step("the call climbed the theatre channel's FLASH ladder at CHN's station:")
	for _, x := range xs {
		if fmt.Sprintf("%s/%s/%d", x.Channel, x.Author, x.Index) == c.ID {
			d.show(fmt.Sprintf("+%.1fs step %d: %s", x.At.Sub(sent).Seconds(), x.Step, x.Detail))
		}
	}
	d.step("USA's staff channel received it forwarded, %s: %s", fwd.ID, fwd.Text)
	if _, err := waitCall(ctx, d.usa, c.ID, "missed"); err != nil {
		return err
	}
	back, err := d.usa.StartCall(ctx, ops.StartCallRequest{Channel: theatreChannel, As: "Capt. Jones (staff)", Back: c.ID})
	if err != nil {
		return err
	}
	returned, err := waitCall(ctx, d.chn, c.ID, "missed")
	if err != nil {
		return err
	}
	if err := WaitFor(ctx, d.chn, 30*time.Second, func() (bool, error) {
		cs, err := d.chn.Calls(ctx, theatreChannel)
		for _, x := range cs {
			if x.ID == c.ID && x.ReturnedBy == back.ID {
				returned = &x
				return true, nil
			}
		}
		return false, err
	}); err != nil {
		return fmt.Errorf("the call back %s did not return %s at CHN: %w", back.ID, c.ID, err)
	}
	d.step("USA lists %s missed; its staff officer called back, %s, which CHN's record shows returned it (%s)", c.ID, back.ID, returned.ReturnedBy)
	if _, err := d.chn.AnswerCall(ctx, ops.CallActRequest{ID: back.ID, As: "Sr. Col. Zhang"}); err != nil {
		return err
	}
	if _, err := d.chn.EndCall(ctx, ops.CallActRequest{ID: back.ID, As: "Sr. Col. Zhang"}); err != nil {
		return err
	}
	if _, err := waitCall(ctx, d.usa, back.ID, "ended"); err != nil {
		return err
	}
	d.step("CHN answered the call back and hung up; both records hold the missed call, its ladder and the call back")
	return nil
}

// waitCall waits until a station lists the call in the state.
func waitCall(ctx context.Context, c *api.Client, id, state string) (*ops.CallView, error) {
	ch, _, _ := strings.Cut(id, "/")
	var got *ops.CallView
	err := WaitFor(ctx, c, 30*time.Second, func() (bool, error) {
		cs, err := c.Calls(ctx, ch)
		for i := range cs {
			if cs[i].ID == id && cs[i].State == state {
				got = &cs[i]
			}
		}
		return got != nil, err
	})
	if err != nil {
		return nil, fmt.Errorf("call %s never %s: %w", id, state, err)
	}
	return got, nil
}

// waitMedia waits until a call's media to the other station is
// connected, or refused, or failed.
func waitMedia(ctx context.Context, c *api.Client, id string) (*ops.CallView, error) {
	ch, _, _ := strings.Cut(id, "/")
	var got *ops.CallView
	err := WaitFor(ctx, c, 30*time.Second, func() (bool, error) {
		cs, err := c.Calls(ctx, ch)
		for i := range cs {
			if m := cs[i].Media; cs[i].ID == id && m != nil && (m.State == "connected" || m.State == "refused" || m.State == "failed") {
				got = &cs[i]
			}
		}
		return got != nil, err
	})
	if err != nil {
		return nil, fmt.Errorf("the media of call %s never connected: %w", id, err)
	}
	return got, nil
}

func (d *demo) answerFlash(ctx context.Context) error {
	reply, err := d.usa.Send(ctx, ops.SendRequest{Channel: staffChannel, Precedence: "IMMEDIATE",
		Text: "DDG-00 is altering course to starboard and will keep 2 NM from your units.", Lang: "en"})
	if err != nil {
		return err
	}
	if _, err := waitMessage(ctx, d.chn, staffChannel, reply.ID); err != nil {
		return err
	}
	if _, err := d.chn.Ack(ctx, reply.ID, "Sr. Col. Zhang (staff)"); err != nil {
		return err
	}
	return d.say(ctx, d.usa, d.chn, "USA", "CHN", "zh-Hans", ops.CodedRequest{Channel: theatreChannel, Precedence: "FLASH", Items: []ops.CodedItem{
		{Code: "MNV06"}, {Code: "MNV20", Args: map[string]string{"distance": "2"}}}}, "Cdr. Li Wei")
}

// runIncident: CHN opens an incident from its finding on the encounter.
// USA acknowledges it, CHN discusses it, and both close it.
func (d *demo) runIncident(ctx context.Context) error {
	inc, err := d.chn.Incident(ctx, ops.IncidentRequest{Action: "open", Finding: d.chnFindings[1].ID, Lang: "en", By: "Cdr. Li Wei"})
	if err != nil {
		return err
	}
	d.incident = inc.ID
	d.step("CHN opened incident %s: %q", inc.ID, inc.Title)
	steps := []struct {
		by   *api.Client
		name string
		r    ops.IncidentRequest
		then string
	}{
		{d.usa, "USA", ops.IncidentRequest{Action: "acknowledge", By: "Lt. Cdr. Smith"}, "acknowledged"},
		{d.chn, "CHN", ops.IncidentRequest{Action: "discuss", Note: "双方舰艇保持2海里以上距离。", Lang: "zh-Hans", By: "Cdr. Li Wei"}, "under_discussion"},
		{d.usa, "USA", ops.IncidentRequest{Action: "close", Outcome: "resolved", Note: "Agreed: 2 NM.", Lang: "en", By: "Lt. Cdr. Smith"}, "closing"},
		{d.chn, "CHN", ops.IncidentRequest{Action: "close", Outcome: "resolved", By: "Cdr. Li Wei"}, "closed"},
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
		d.step("%s: %s → incident %s", s.name, s.r.Action, strings.ReplaceAll(v.State, "_", " "))
		other := d.chn
		if s.by == d.chn {
			other = d.usa
		}
		if err := waitIncident(ctx, other, inc.ID, s.then); err != nil {
			return err
		}
	}
	return nil
}

// showIncident shows the closed incident as each station holds it.
func (d *demo) showIncident(ctx context.Context) error {
	for _, n := range []*Node{d.p.A, d.p.B} {
		vs, err := n.Client().Incidents(ctx, theatreChannel)
		if err != nil {
			return err
		}
		for _, v := range vs {
			if v.ID == d.incident {
				applied, signed := 0, []string{}
				for _, s := range v.Timeline {
					if s.Applied {
						applied++
					}
					if s.Applied && s.Action == "close" {
						signed = append(signed, s.By)
					}
				}
				d.step("%s shows incident %s %s, %s: %d steps, closed by %s; it links %d entries",
					n.Name, v.ID, v.State, v.Outcome, applied, strings.Join(signed, " and "), len(v.Links))
			}
		}
	}
	return nil
}

// messageLeaders: USA asks on the leaders' channel for a call to review
// the encounter.
func (d *demo) messageLeaders(ctx context.Context) error {
	lm, err := d.usa.Send(ctx, ops.SendRequest{Channel: leaderChannel, Precedence: "PRIORITY",
		Text: "The Secretary requests a call with the Minister at 0800Z to review the encounter.", Lang: "en"})
	if err != nil {
		return err
	}
	if err := waitStatus(ctx, d.usa, lm.ID, "delivered", "acknowledged"); err != nil {
		return err
	}
	d.step("USA sent PRIORITY %s on the leaders' channel; delivered", lm.ID)
	return nil
}

// exportTranscripts: both sides export their transcripts into the demo's
// folder. Anyone can verify them offline. The demo verifies each one.
func (d *demo) exportTranscripts(ctx context.Context) error {
	for _, n := range []*Node{d.p.A, d.p.B} {
		for _, ch := range []string{leaderChannel, staffChannel, theatreChannel} {
			b, err := n.Client().Export(ctx, ch)
			if err != nil {
				return err
			}
			file := filepath.Join(d.root, fmt.Sprintf("%s-%s.json", ch, n.Name))
			data, _ := json.MarshalIndent(b, "", "  ")
			if err := os.WriteFile(file, data, 0o644); err != nil {
				return err
			}
			rep, err := transcript.Verify(b)
			if err != nil {
				return fmt.Errorf("transcript of %s exported by %s: %w", ch, n.Name, err)
			}
			d.step("%s exported %s: verified offline (%s: %d entries, %d receipted; %s: %d entries, %d receipted)",
				n.Name, filepath.Base(file), rep.Logs[0].Author, rep.Logs[0].Entries, rep.Logs[0].Receipted,
				rep.Logs[1].Author, rep.Logs[1].Entries, rep.Logs[1].Receipted)
		}
	}
	return nil
}

// finish says how long the demo took. If the stations are kept, it says
// how to reach and stop them.
func (d *demo) finish() {
	fmt.Fprintf(d.w, "\ndemo finished in %s\n", time.Since(d.start).Round(time.Millisecond))
	if !d.o.Keep {
		return
	}
	exe, _ := os.Executable()
	onPath, _ := exec.LookPath("hotline")
	cmd := commandName(exe, onPath)
	fmt.Fprintf(d.w, "\nThe stations are still running:\n")
	var pids []string
	for _, n := range []*Node{d.p.A, d.p.B} {
		fmt.Fprintf(d.w, "  %s (process %d): %s status --dir %s   (API %s, token in %s)\n", n.Name, n.PID(), cmd, n.Dir, n.Client().Base, filepath.Join(n.Dir, "api-token"))
		pids = append(pids, strconv.Itoa(n.PID()))
	}
	fmt.Fprintf(d.w, "Try: %s findings --dir %s --lang zh; %s incident list --dir %s\n", cmd, d.p.B.Dir, cmd, d.p.A.Dir)
	fmt.Fprintf(d.w, "Stop them with: kill %s\n", strings.Join(pids, " "))
}

// commandName is how a person runs this binary again, exe being its path
// and onPath what the shell finds as hotline: hotline if that is this
// binary; go run ./cmd/hotline if go run built it (in a go-build
// temporary directory, gone once it exits); otherwise its path.
func commandName(exe, onPath string) string {
	if exe == "" {
		return "hotline"
	}
	if onPath != "" {
		a, errA := os.Stat(exe)
		b, errB := os.Stat(onPath)
		if errA == nil && errB == nil && os.SameFile(a, b) {
			return "hotline"
		}
	}
	dir := filepath.ToSlash(filepath.Dir(exe))
	if strings.HasSuffix(dir, "/exe") && strings.Contains(dir, "/go-build") {
		return "go run ./cmd/hotline"
	}
	if strings.ContainsAny(exe, " \t\n'\"\\$`;&|<>()*?[]#~!{}") {
		return "'" + strings.ReplaceAll(exe, "'", `'\''`) + "'"
	}
	return exe
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
