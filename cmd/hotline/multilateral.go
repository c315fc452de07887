package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"hotline/internal/home"
	"hotline/internal/ops"
	"hotline/internal/strictjson"
)

// splitTo splits a --to list: "all", group and peer names separated by
// commas (a group's name may hold spaces).
func splitTo(s string) []string {
	var out []string
	for _, n := range strings.Split(s, ",") {
		out = append(out, strings.TrimSpace(n))
	}
	return out
}

// sendBroadcast sends r and prints the broadcast: its id and, per party,
// the entry written or why none was. It fails (exit 1) when a party was
// refused, after printing what was sent.
func sendBroadcast(ctx context.Context, f *flags, verb string, r ops.BroadcastRequest) error {
	return withOps(ctx, *f.dir, func(o ops.Ops) error {
		b, err := o.Broadcast(ctx, r)
		if err != nil {
			return err
		}
		if *f.json {
			if err := printJSON(b); err != nil {
				return err
			}
		} else {
			fmt.Println(b.ID)
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PARTY\tCHANNEL\tENTRY\tREFUSED")
			for _, p := range b.Parties {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", inert(p.Peer), dash(p.Channel), dash(p.Entry), inert(p.Refused))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
		return refusedParties(verb, b)
	})
}

// refusedParties is the error that names the parties a broadcast was not
// sent to, nil if it went to all.
func refusedParties(verb string, b *ops.BroadcastView) error {
	var refused []string
	for _, p := range b.Parties {
		if p.Refused != "" {
			refused = append(refused, inert(p.Peer)+" ("+inert(p.Refused)+")")
		}
	}
	if len(refused) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %s sent to %d of %d parties; not to %s", verb, b.ID, len(b.Parties)-len(refused), len(b.Parties), strings.Join(refused, ", "))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return inert(s)
}

func cmdNoticeShow(f *flags) action {
	f.printsJSON()
	id := f.String("id", "", "the broadcast's `ID` (b-…, as notice send --to or send --to printed it)")
	f.require("id")
	return func(ctx context.Context, _ []string) error {
		return show(ctx, f, func(o ops.Ops) (*ops.BroadcastView, error) { return o.BroadcastShow(ctx, *id) },
			func(b *ops.BroadcastView) error {
				fmt.Printf("%s: %s %s %q, %s, to %s\n", b.ID, b.Precedence, b.Kind, inert(b.Summary), b.At.UTC().Format(time.RFC3339), inert(b.To))
				parties := "parties"
				if len(b.Parties) == 1 {
					parties = "party"
				}
				fmt.Printf("%d %s: %d sent, %d delivered, %d acknowledged, %d overdue, %d refused\n",
					len(b.Parties), parties, b.Sent, b.Delivered, b.Acknowledged, b.Overdue, b.Refused)
				tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "PARTY\tCHANNEL\tSTATUS\tDELIVERED (UTC)\tACKNOWLEDGED (UTC)\tDUE (UTC)\tLADDER")
				for _, p := range b.Parties {
					status := p.Status
					if p.Overdue {
						status += ", OVERDUE"
					}
					if p.Refused != "" {
						status += ": " + p.Refused
					}
					acked, due := "-", "-"
					if p.AckAt != nil {
						acked = inert(p.AckBy) + " " + stamp(p.AckAt)
					}
					if p.AckDue != nil {
						due = stamp(p.AckDue)
					}
					var ladder []string
					for _, x := range p.Ladder {
						ladder = append(ladder, x.Name+" "+stamp(&x.At))
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", inert(p.Peer), dash(p.Channel), inert(status),
						stamp(p.DeliveredAt), acked, due, dash(strings.Join(ladder, "; ")))
				}
				return tw.Flush()
			})
	}
}

// stamp is a time as the tables show it, "-" for none.
func stamp(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.DateTime)
}

func cmdNoticeList(f *flags) action {
	f.printsJSON()
	return func(ctx context.Context, _ []string) error {
		return show(ctx, f, func(o ops.Ops) ([]ops.BroadcastView, error) { return o.Broadcasts(ctx) },
			func(bs []ops.BroadcastView) error {
				tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSENT (UTC)\tPRECEDENCE\tKIND\tTO\tPARTIES\tDELIVERED\tACKNOWLEDGED\tOVERDUE\tREFUSED\tSUMMARY")
				for _, b := range bs {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", b.ID, b.At.UTC().Format(time.DateTime), b.Precedence, b.Kind,
						inert(b.To), len(b.Parties), b.Delivered, b.Acknowledged, b.Overdue, b.Refused, inert(b.Summary))
				}
				return tw.Flush()
			})
	}
}

func cmdGroupSet(f *flags) action {
	f.printsJSON()
	name := f.String("name", "", "the group's `NAME` (spaces allowed, no comma)")
	peers := f.String("peers", "", "the pinned peers in it: `NAME,NAME,...`")
	f.require("name", "peers")
	return func(ctx context.Context, _ []string) error {
		return show(ctx, f, func(o ops.Ops) (*ops.GroupView, error) {
			return o.SetGroup(ctx, ops.GroupRequest{Name: *name, Peers: splitTo(*peers)})
		}, func(g *ops.GroupView) error {
			fmt.Printf("group %s: %s\n", inert(g.Name), strings.Join(g.Peers, ", "))
			return nil
		})
	}
}

func cmdGroupRemove(f *flags) action {
	f.printsJSON()
	name := f.String("name", "", "the group's `NAME`")
	f.require("name")
	return func(ctx context.Context, _ []string) error {
		return show(ctx, f, func(o ops.Ops) (*ops.GroupView, error) { return o.RemoveGroup(ctx, *name) },
			func(g *ops.GroupView) error {
				fmt.Printf("group %s removed (it held %s)\n", inert(g.Name), strings.Join(g.Peers, ", "))
				return nil
			})
	}
}

func cmdGroupList(f *flags) action {
	f.printsJSON()
	return func(ctx context.Context, _ []string) error {
		return show(ctx, f, func(o ops.Ops) ([]ops.GroupView, error) { return o.Groups(ctx) },
			func(gs []ops.GroupView) error {
				tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "GROUP\tPEERS\tUPDATED (UTC)")
				for _, g := range gs {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", inert(g.Name), strings.Join(g.Peers, ","), g.UpdatedAt.UTC().Format(time.DateTime))
				}
				return tw.Flush()
			})
	}
}

var errToOne = errors.New("give --channel or --to, not both")

func cmdPeerIntroduce(f *flags) action {
	peer := f.String("peer", "", "the pinned peer `NAME` to introduce")
	out := f.String("out", "", "write the introduction to `FILE` (default standard output)")
	f.require("peer")
	return func(ctx context.Context, _ []string) error {
		return withOps(ctx, *f.dir, func(o ops.Ops) error {
			in, err := o.IntroducePeer(ctx, *peer)
			if err != nil {
				return err
			}
			data, err := json.MarshalIndent(in, "", "  ")
			if err != nil {
				return err
			}
			data = append(data, '\n')
			if *out == "" {
				_, err = os.Stdout.Write(data)
				return err
			}
			if err := os.WriteFile(*out, data, 0o644); err != nil {
				return fmt.Errorf("peer introduce: %w", err)
			}
			fmt.Printf("wrote the introduction of %s to %s\n", *peer, *out)
			return nil
		})
	}
}

// addIntroduced pins the peer an introduction file vouches for, or,
// without by, says what it vouches for and pins nothing.
func addIntroduced(ctx context.Context, f *flags, file, by string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("peer add: %w", err)
	}
	if len(data) > ops.MaxIntroductionFile {
		return fmt.Errorf("peer add: %s: %d bytes, an introduction is at most %d", file, len(data), ops.MaxIntroductionFile)
	}
	var r ops.IntroducedRequest
	if err := strictjson.Decode(data, &r.IntroductionFile, ops.MaxIntroductionFile); err != nil {
		return fmt.Errorf("peer add: %s is not an introduction: %v", file, err)
	}
	r.By = by
	return show(ctx, f, func(o ops.Ops) (*ops.PeerView, error) { return o.AddIntroduced(ctx, r) },
		func(p *ops.PeerView) error {
			fmt.Printf("pinned %s (%s), fingerprint %s, on %s's introduction, taken by %s\n", p.Name, p.Party, p.Fingerprint, p.IntroducedBy, inert(p.ConfirmedBy))
			return nil
		})
}

// exportBroadcast writes, into dir, the audit bundle of each channel a
// broadcast went on, disclosing that party's copy: the set of copies,
// each provable on its own channel's transcript.
func exportBroadcast(ctx context.Context, f *flags, id, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return withOps(ctx, *f.dir, func(o ops.Ops) error {
		b, err := o.BroadcastShow(ctx, id)
		if err != nil {
			return err
		}
		n := 0
		for _, p := range b.Parties {
			if p.Entry == "" {
				continue
			}
			bundle, err := o.Export(ctx, p.Channel, p.Entry)
			if err != nil {
				return fmt.Errorf("export of %s: %w", p.Channel, err)
			}
			data, err := json.MarshalIndent(bundle, "", "  ")
			if err != nil {
				return err
			}
			name := filepath.Join(dir, p.Channel+".json")
			if err := home.WriteFile(name, append(data, '\n'), 0o644); err != nil {
				return err
			}
			fmt.Printf("wrote %s: %s's copy %s disclosed\n", name, inert(p.Peer), p.Entry)
			n++
		}
		if n == 0 {
			return fmt.Errorf("export: broadcast %s has no copy written", id)
		}
		return nil
	})
}
