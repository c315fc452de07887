package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"hotline/internal/media"
	"hotline/internal/ops"
)

// The call verbs (docs/CALLS.md): signalling and records, and call media
// to connect any WebRTC peer's offer to a call's audio at the running
// station (the console's browser does the same through the API).

func cmdCallStart(f *flags) action {
	f.printsJSON()
	ch := f.String("channel", "", "channel `ID`")
	prec := f.String("precedence", "FLASH", "`PRECEDENCE`: FLASH, IMMEDIATE, PRIORITY or ROUTINE")
	video := f.Bool("video", false, "ask for video")
	as := f.String("as", defaultOperator(), "who calls: `NAME`")
	back := f.String("back", "", "the peer's call `ID` this one returns")
	f.require("channel")
	return func(ctx context.Context, _ []string) error {
		return show(ctx, f, func(o ops.Ops) (*ops.CallView, error) {
			return o.StartCall(ctx, ops.StartCallRequest{Channel: *ch, Precedence: *prec, Video: *video, As: *as, Back: *back})
		}, func(c *ops.CallView) error {
			fmt.Println(c.ID)
			return nil
		})
	}
}

// callAct is the verb that answers, declines or ends a call.
func callAct(what string, do func(ops.Ops, context.Context, ops.CallActRequest) (*ops.CallView, error)) func(*flags) action {
	return func(f *flags) action {
		f.printsJSON()
		id := f.String("id", "", "the call's `ID`, CHANNEL/STATION/INDEX of its request")
		as := f.String("as", defaultOperator(), "who "+what+"s: `NAME`")
		var reason *string
		var withVideo *bool
		switch what {
		case "decline":
			reason = f.String("reason", "", "why: `TEXT`")
		case "answer":
			withVideo = f.Bool("video", false, "accept video")
		}
		f.require("id")
		return func(ctx context.Context, _ []string) error {
			r := ops.CallActRequest{ID: *id, As: *as}
			if reason != nil {
				r.Reason = *reason
			}
			if withVideo != nil {
				r.Video = *withVideo
			}
			return show(ctx, f, func(o ops.Ops) (*ops.CallView, error) { return do(o, ctx, r) },
				func(c *ops.CallView) error {
					fmt.Printf("%s %s\n", c.ID, c.State)
					return nil
				})
		}
	}
}

func cmdCallList(f *flags) action {
	f.printsJSON()
	ch := f.String("channel", "", "only this channel `ID`")
	return func(ctx context.Context, _ []string) error {
		return show(ctx, f, func(o ops.Ops) ([]ops.CallView, error) { return o.Calls(ctx, *ch) },
			func(cs []ops.CallView) error {
				tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "CALL\tPRECEDENCE\tSTATE\tCALLER\tREQUESTED\tANSWERED BY\tENDED")
				for _, c := range cs {
					ended := "-"
					if c.EndedAt != nil {
						ended = c.EndedAt.UTC().Format(time.RFC3339)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Precedence, c.State, inert(c.Caller),
						c.RequestedAt.UTC().Format(time.RFC3339), cmpOr(inert(c.AnsweredBy), "-"), ended)
				}
				return tw.Flush()
			})
	}
}

func cmdCallMedia(f *flags) action {
	f.printsJSON()
	id := f.String("id", "", "the call's `ID`, CHANNEL/STATION/INDEX of its request")
	file := f.String("sdp", "", "read the WebRTC offer from `FILE` (default: standard input)")
	as := f.String("as", defaultOperator(), "the participant's `NAME` for the record (a join entry); the same name again replaces that participant's browser")
	f.require("id")
	return func(ctx context.Context, _ []string) error {
		in := io.Reader(os.Stdin)
		if *file != "" {
			fh, err := os.Open(*file)
			if err != nil {
				return err
			}
			defer fh.Close()
			in = fh
		}
		offer, err := io.ReadAll(io.LimitReader(in, media.MaxBrowserSDP+1))
		if err != nil {
			return err
		}
		return show(ctx, f, func(o ops.Ops) (*ops.CallMediaAnswer, error) {
			return o.CallMedia(ctx, ops.CallMediaRequest{ID: *id, SDP: string(offer), As: *as})
		}, func(a *ops.CallMediaAnswer) error {
			_, err := io.WriteString(os.Stdout, a.SDP)
			return err
		})
	}
}

func cmdCallRecording(f *flags) action {
	f.printsJSON()
	id := f.String("id", "", "the call's `ID`, CHANNEL/STATION/INDEX of its request")
	out := f.String("out", "", "write the Ogg Opus file to `FILE` (it must not exist; - for standard output)")
	f.require("id", "out")
	return func(ctx context.Context, _ []string) error {
		if *out != "-" {
			if _, err := os.Lstat(*out); err == nil {
				return fmt.Errorf("--out %s exists: name a new file", *out)
			}
		}
		return withOps(ctx, *f.dir, func(o ops.Ops) error {
			r, err := o.CallRecording(ctx, ops.CallRecordingRequest{ID: *id})
			if err != nil {
				return err
			}
			if *out == "-" {
				_, err = os.Stdout.Write(r.Ogg)
				return err
			}
			fh, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return err
			}
			if _, err := fh.Write(r.Ogg); err != nil {
				fh.Close()
				os.Remove(*out)
				return err
			}
			if err := fh.Close(); err != nil {
				return err
			}
			if *f.json {
				return printJSON(r.CallRecordingView)
			}
			fmt.Printf("%s: %s's recording of its side, %d bytes, SHA-256 %s, as its signed entry %s names it; written to %s\n",
				r.ID, r.Station, r.Bytes, r.SHA256, r.Entry, *out)
			return nil
		})
	}
}
