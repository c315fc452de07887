package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"hotline/internal/api"
	"hotline/internal/station"
	"hotline/internal/transcript"
)

// Options configure the demo.
type Options struct {
	Dir  string // where to create the stations; empty for a new temporary folder
	Keep bool   // leave the stations running
	Out  io.Writer
}

const (
	staffChannel  = "usa-chn-staff"
	leaderChannel = "usa-chn-leaders"
)

// Run plays a short crisis between two stations run as real processes.
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
	p, err := NewPair(ctx, root, bin, map[string]string{staffChannel: "staff", leaderChannel: "leader"})
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
	step("USA station created, fingerprint %s", p.A.Fingerprint)
	step("CHN station created, fingerprint %s", p.B.Fingerprint)
	step("each signal officer pinned the other's card after reading the fingerprint aloud")
	step("USA proposed %s (staff) and %s (leader); CHN accepted both: charters carry both signatures", staffChannel, leaderChannel)

	// A FLASH from USA, seen at once by CHN.
	sent := time.Now()
	m, err := usa.Send(ctx, station.SendRequest{Channel: staffChannel, Precedence: "FLASH",
		Text: "Unplanned encounter: USS Example and PLAN Example 2 nm apart at 16-12N 112-30E. Request your unit alter course to starboard.", Lang: "en"})
	if err != nil {
		return err
	}
	step("USA duty officer sent FLASH %s (durable at USA in %s)", m.ID, time.Since(sent).Round(time.Microsecond))
	if err := WaitFor(ctx, chn, 20*time.Second, func() (bool, error) {
		in, err := chn.Inbox(ctx, staffChannel)
		return len(in) > 0, err
	}); err != nil {
		return fmt.Errorf("CHN did not receive the FLASH: %w", err)
	}
	in, _ := chn.Inbox(ctx, staffChannel)
	step("CHN received %s [%s]: %q", in[0].ID, in[0].Precedence, in[0].Text)
	if err := waitStatus(ctx, usa, m.ID, "delivered", "acknowledged"); err != nil {
		return err
	}
	step("USA sees %s delivered: CHN's cosigned checkpoint is the receipt", m.ID)

	acked, err := chn.Ack(ctx, in[0].ID, "Cdr. Li Wei")
	if err != nil {
		return err
	}
	step("CHN duty officer %s acknowledged %s", acked.AckBy, acked.ID)
	if err := waitStatus(ctx, usa, m.ID, "acknowledged"); err != nil {
		return err
	}
	out, _ := usa.Outbox(ctx, staffChannel)
	step("USA sees %s acknowledged by %s at %s UTC", out[0].ID, out[0].AckBy, out[0].AckAt.Format("15:04:05.000"))

	reply, err := chn.Send(ctx, station.SendRequest{Channel: staffChannel, Precedence: "IMMEDIATE",
		Text: "收到。我舰将向右转向，保持安全距离。 Received. Our unit is altering course to starboard and will keep a safe distance.", Lang: "zh-Hans"})
	if err != nil {
		return err
	}
	step("CHN sent IMMEDIATE reply %s", reply.ID)
	if err := WaitFor(ctx, usa, 20*time.Second, func() (bool, error) {
		in, err := usa.Inbox(ctx, staffChannel)
		return len(in) > 0, err
	}); err != nil {
		return fmt.Errorf("USA did not receive the reply: %w", err)
	}
	uin, _ := usa.Inbox(ctx, staffChannel)
	step("USA received %s: %q", uin[0].ID, uin[0].Text)
	if _, err := usa.Ack(ctx, uin[0].ID, "Lt. Cdr. Smith"); err != nil {
		return err
	}
	if err := waitStatus(ctx, chn, reply.ID, "acknowledged"); err != nil {
		return err
	}
	step("CHN sees its reply acknowledged by Lt. Cdr. Smith")

	lm, err := usa.Send(ctx, station.SendRequest{Channel: leaderChannel, Precedence: "PRIORITY",
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
		for _, ch := range []string{staffChannel, leaderChannel} {
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
		fmt.Fprintf(w, "Stop them with: pkill -f 'hotline run --dir %s'\n", root)
	} else if o.Dir == "" {
		defer os.RemoveAll(root)
	}
	return nil
}

// waitStatus waits until one of this station's messages has one of the
// wanted statuses.
func waitStatus(ctx context.Context, c *api.Client, id string, want ...string) error {
	ch, _, _, err := station.ParseID(id)
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
