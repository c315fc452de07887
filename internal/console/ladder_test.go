package console_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"hotline/internal/ops"
	"hotline/internal/station"
)

// agree has USA propose a channel and CHN accept it, and waits until it
// is active at USA.
func agree(t *testing.T, usa, chn *station.Station, req ops.ProposeRequest) {
	t.Helper()
	ctx := t.Context()
	if _, err := usa.Propose(ctx, req); err != nil {
		t.Fatal(err)
	}
	waitFor(t, chn, "the proposal of "+req.Channel, func() bool {
		cs, _ := chn.Channels(ctx)
		for _, c := range cs {
			if c.ID == req.Channel {
				return true
			}
		}
		return false
	})
	if _, err := chn.Accept(ctx, req.Channel); err != nil {
		t.Fatal(err)
	}
	waitFor(t, usa, "the acceptance of "+req.Channel, func() bool { return stateOf(t, usa, req.Channel).Agreement == "active" })
}

// item returns a message's item in a channel's conversation as HTML.
func item(t *testing.T, b *browser, ch, id string) string {
	t.Helper()
	r := b.do(t, "GET", "/console/frag/conversation/"+ch, "")
	if r.code != 200 {
		t.Fatalf("conversation of %s: %d %s", ch, r.code, r.body)
	}
	m := regexp.MustCompile(`(?s)<li class="msg [^"]*" id="m-` + regexp.QuoteMeta(id) + `".*?\n</li>`).FindString(r.body)
	if m == "" {
		t.Fatalf("no message %s in the conversation of %s:\n%s", id, ch, r.body)
	}
	return m
}

// fragment is an entry id as html/template writes it in a link's fragment.
func fragment(id string) string { return strings.ReplaceAll(id, "/", "%2f") }

// TestLadder: an unacknowledged message shows its acknowledgement
// deadline counting down and the steps of its ladder still to come; as
// the station takes them they are shown with their times; the forward
// links to the message it sent up, which links back to its original, on
// both stations' consoles.
func TestLadder(t *testing.T) {
	usa, chn := pair(t, "usa-chn-staff")
	agree(t, usa, chn, ops.ProposeRequest{Peer: "CHN", Channel: "usa-chn-unit", Level: "unit", EscalateTo: "usa-chn-staff",
		Deadlines: map[string]string{"PRIORITY": "1s"}, Delivery: map[string]string{"PRIORITY": "500ms"}})
	du, dc := newDesk(t, usa), newDesk(t, chn)
	bu, bc := du.login(t, "dora"), dc.login(t, "dora")
	ctx := t.Context()

	m, err := usa.Send(ctx, ops.SendRequest{Channel: "usa-chn-unit", Precedence: "PRIORITY", Text: "Say your intentions"})
	if err != nil {
		t.Fatal(err)
	}
	li := item(t, bu, "usa-chn-unit", m.ID)
	due := m.AckDue.UTC().Format(time.RFC3339Nano)
	if !strings.Contains(li, `<span class="countdown" data-due="`+due+`">`) {
		t.Errorf("the acknowledgement deadline does not count down:\n%s", li)
	}
	for step := 2; step <= 4; step++ {
		if !regexp.MustCompile(fmt.Sprintf(`<li data-step="%d" class="planned">[^\n]*data-due=`, step)).MatchString(li) {
			t.Errorf("step %d is not shown as planned with its time:\n%s", step, li)
		}
	}

	// The station climbs the ladder: reminded at 1s, supervisor at 1.5s,
	// forwarded at 2s.
	waitFor(t, usa, "the forward", func() bool {
		xs, _ := usa.Escalations(ctx, "usa-chn-unit")
		return len(xs) >= 3
	})
	fwd, err := usa.Outbox(ctx, "usa-chn-staff")
	if err != nil || len(fwd) != 1 || fwd[0].EscalatedFrom != m.ID {
		t.Fatalf("USA's outbox on the staff channel: %+v %v", fwd, err)
	}
	li = item(t, bu, "usa-chn-unit", m.ID)
	got := text(li)
	for _, want := range []string{"✓ acknowledgement deadline: peer reminded", "reminded CHN", "✓ supervisor alerted", "✓ forwarded to the channel above", "forwarded as " + fwd[0].ID} {
		if !strings.Contains(got, want) {
			t.Errorf("the ladder does not show %q: %s", want, got)
		}
	}
	if strings.Contains(li, `class="planned"`) {
		t.Errorf("steps still planned after the last one:\n%s", li)
	}
	if !strings.Contains(li, `<a href="/console/channel/usa-chn-staff#m-`+fragment(fwd[0].ID)+`">`) {
		t.Errorf("the forward does not link to the message it sent:\n%s", li)
	}
	link := `<a href="/console/channel/usa-chn-unit#m-` + fragment(m.ID) + `">` + m.ID + `</a>`
	if up := item(t, bu, "usa-chn-staff", fwd[0].ID); !strings.Contains(up, link) || !strings.Contains(up, "Say your intentions") {
		t.Errorf("the forwarded message does not link to its original:\n%s", up)
	}

	// At CHN: its own deadline for the original passed; the forwarded
	// message arrives linked to the original.
	waitFor(t, chn, "the forward at CHN", func() bool {
		in, _ := chn.Inbox(ctx, "usa-chn-staff")
		return len(in) == 1
	})
	if got := text(item(t, bc, "usa-chn-unit", m.ID)); !strings.Contains(got, "✓ our acknowledgement deadline") || !strings.Contains(got, "overdue here") {
		t.Errorf("CHN's view of the late message: %s", got)
	}
	if up := item(t, bc, "usa-chn-staff", fwd[0].ID); !strings.Contains(up, link) || !strings.Contains(up, `data-ack="`+fwd[0].ID+`"`) {
		t.Errorf("CHN's view of the forwarded message:\n%s", up)
	}
	// Acknowledging the forward stops the original's ladder: nothing is
	// planned any more.
	if r := bc.do(t, "POST", "/console/api/ack", jsonBody(map[string]string{"id": fwd[0].ID})); r.code != 200 {
		t.Fatalf("ack: %d %s", r.code, r.body)
	}
	waitFor(t, usa, "the acknowledgement of the original", func() bool {
		out, _ := usa.Outbox(context.Background(), "usa-chn-unit")
		return len(out) == 1 && out[0].Acknowledged
	})
	if li := item(t, bu, "usa-chn-unit", m.ID); !strings.Contains(li, `data-status="acknowledged"`) || strings.Contains(li, "data-due") {
		t.Errorf("the original after the forward's acknowledgement:\n%s", li)
	}
}
