// Command hotline runs and operates a Hotline station, and a relay.
//
// Every verb takes --dir (default $HOTLINE_DIR; for the relay verbs,
// $HOTLINE_RELAY_DIR); verbs that print data take --json. Exit status is
// 0 on success; otherwise one line on stderr says what was wrong.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"hotline/internal/api"
	"hotline/internal/badrequest"
	"hotline/internal/console"
	"hotline/internal/deconflict"
	"hotline/internal/demo"
	"hotline/internal/envelope"
	"hotline/internal/home"
	"hotline/internal/identity"
	"hotline/internal/linkemu"
	"hotline/internal/ops"
	"hotline/internal/relay"
	"hotline/internal/sim"
	"hotline/internal/station"
	"hotline/internal/stationdir"
	"hotline/internal/transcript"
)

// A verb is one command of hotline. Its flags function declares the
// verb's flags, which are required and its positional arguments, and
// returns the action that runs the verb once they are parsed: dispatch
// parses and then acts, and usage builds the verb's synopsis from the same
// declarations without acting.
type verb struct {
	name  string
	help  string // one line; empty for the Help of the operation (ops.All) the verb does
	flags func(*flags) action
}

// An action runs a verb whose flags are parsed, given its positional
// arguments.
type action func(ctx context.Context, args []string) error

var verbs = []verb{
	{"init", "create a station", cmdInit},
	{"api tls", "serve the API and the console over HTTPS from the next hotline run, or over plain HTTP again", cmdAPITLS},
	{"card add-relay", "list a relay in this station's card (then give peers the new card)", cmdAddRelay},
	{"card remove-relay", "take a relay off this station's card (then give peers the new card)", cmdRemoveRelay},
	{"card", "print this station's signed card", cmdCard},
	{"fingerprint", "print this station's fingerprint, to read aloud", cmdFingerprint},
	{"peer add", "", cmdPeerAdd},
	{"peer list", "list pinned peers and their key history", cmdPeerList},
	{"peer introduce", "write this station's signed introduction of a peer it pinned by fingerprint, for a third station that pinned this one", cmdPeerIntroduce},
	{"key rotate", "change this station's keys, signed by the old key; peers follow", cmdKeyRotate},
	{"key revoke", "change this station's keys because the old one may be compromised; peers refuse it from then on", cmdKeyRevoke},
	{"peer replace", "", cmdPeerReplace},
	{"key list", "list a station's key history (this station's by default)", cmdKeyList},
	{"channel propose", "", cmdPropose},
	{"channel accept", "", cmdAccept},
	{"channel withdraw", "", cmdWithdraw},
	{"channel suspend", "", cmdSuspend},
	{"channel resume", "", cmdResume},
	{"channel checks", "answer rate and time to answer of a channel's checks over the last day, week and month", cmdChecks},
	{"escalations", "list the deadline ladder steps taken", cmdEscalations},
	{"bundle export", "write what a peer lacks to a file carried by hand", cmdBundleExport},
	{"bundle import", "", cmdBundleImport},
	{"channel list", "list channels", cmdChannelList},
	{"run", "run the station: peer listener, dialers, local API, /metrics, /healthz, /readyz", cmdRun},
	{"send", "send a message: a text, standard phrases, the message a finding suggests, or each line of standard input", cmdSend},
	{"inbox", "list received messages", cmdInbox},
	{"outbox", "list sent messages and their status", cmdOutbox},
	{"codebook list", "list the standard phrases", cmdCodebookList},
	{"codebook add", "", cmdCodebookAdd},
	{"codebook books", "list the codebooks this station has: the embedded one and the extensions loaded", cmdCodebookBooks},
	{"codebook show", "show a standard phrase and its parameters", cmdCodebookShow},
	{"notice send", "", cmdNoticeSend},
	{"notice show", "show a notice or message sent to several parties: each party's delivery, acknowledgement and deadline ladder", cmdNoticeShow},
	{"notice list", "list the 200 newest acts sent to several parties at once (send --to, notice send --to), newest first", cmdNoticeList},
	{"group set", "name a group of pinned peers, to address them at once with --to", cmdGroupSet},
	{"group list", "list the groups of peers", cmdGroupList},
	{"group remove", "remove a group of peers", cmdGroupRemove},
	{"report encounter", "", cmdReportEncounter},
	{"incident open", "open an incident", incidentVerb(deconflict.Open)},
	{"incident acknowledge", "acknowledge the other party's incident", incidentVerb(deconflict.Acknowledge)},
	{"incident discuss", "add to an incident's discussion (rejects a proposed outcome)", incidentVerb(deconflict.Discuss)},
	{"incident link", "link entries to an incident", incidentVerb(deconflict.Link)},
	{"incident close", "propose or agree an incident's outcome", incidentVerb(deconflict.Close)},
	{"incident list", "list incidents and their state", cmdIncidentList},
	{"plan add", "add a planned activity this station keeps to itself, checked against the peers' notices", cmdPlanAdd},
	{"plan list", "list planned activities", cmdPlanList},
	{"findings", "list what the deconfliction checks found, each with a suggested message", cmdFindings},
	{"incident show", "show an incident's state and timeline", cmdIncidentShow},
	{"incident report", "write an incident's after-action report, one HTML file with its timeline, map and proofs of inclusion", cmdIncidentReport},
	{"ack", "", cmdAck},
	{"call start", "place a call on a channel: a signed request, with the station's media offer when it runs, that the peer answers", cmdCallStart},
	{"call answer", "answer the peer's call, on behalf of a person", callAct("answer", ops.Ops.AnswerCall)},
	{"call decline", "decline the peer's call, with a reason", callAct("decline", ops.Ops.DeclineCall)},
	{"call end", "end a call, answered or still ringing", callAct("end", ops.Ops.EndCall)},
	{"call list", "list calls and their state", cmdCallList},
	{"call media", "connect a WebRTC offer (a file, or standard input) to a call's audio at the running station; prints the answer", cmdCallMedia},
	{"call recording", "write this station's recording of its side of a call (an Ogg Opus file), checked against the hash in its signed entry", cmdCallRecording},
	{"status", "show channels, peers and refusals", cmdStatus},
	{"operator add", "add a console operator; the password is read from standard input unless --password-file", cmdOperatorAdd},
	{"operator list", "list console operators", cmdOperatorList},
	{"operator remove", "remove a console operator and end their sessions", cmdOperatorRemove},
	{"operator unlock", "end the wait of a console operator's name after failed logins", cmdOperatorUnlock},
	{"alerts", "list alerts", cmdAlerts},
	{"export", "write a channel's audit bundle", cmdExport},
	{"backup", "write a consistent copy of the station (keys included), also while it runs", cmdBackup},
	{"restore", "create a station directory from a backup", cmdRestore},
	{"verify", "check an audit bundle offline", cmdVerify},
	{"relay init", "create a relay", cmdRelayInit},
	{"relay card", "print the relay's signed card", cmdRelayCard},
	{"relay allow", "let a station use the relay", cmdRelayAllow},
	{"relay disallow", "take a station off the relay's allowed list; the mail waiting for it is deleted", cmdRelayDisallow},
	{"relay list", "list the allowed stations with their pending mail, and the relay's counters", cmdRelayList},
	{"relay run", "run the relay", cmdRelayRun},
	{"relay", "run the relay (the same as relay run)", cmdRelay},
	{"doctor", "check permissions, keys, clock, disk, store and reachability of peers and relays, and say what to fix", cmdDoctor},
	{"install", "print a systemd unit for the station", cmdInstall},
	{"demo", "two stations, three channels, a short crisis and a call, on loopback", cmdDemo},
	{"bench", "measure latency and throughput between two stations on loopback", cmdBench},
	{"sim", "simulate networks of stations under faults and check the invariants", cmdSim},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := dispatch(ctx, os.Args[1:])
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		msg := badrequest.Message(err)
		fmt.Fprintln(os.Stderr, "hotline: "+strings.ReplaceAll(msg, "\n", "; "))
		os.Exit(1)
	}
}

func dispatch(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(os.Stdout)
		if len(args) == 0 {
			return errors.New("no verb given")
		}
		return nil
	}
	for _, v := range verbs {
		words := strings.Fields(v.name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == v.name {
			return v.run(ctx, args[len(words):])
		}
	}
	return unknownVerb(args)
}

// unknownVerb says that args name no verb: it quotes the words that
// could be one (not the flags after them) and suggests the nearest verb.
func unknownVerb(args []string) error {
	var words []string
	for _, a := range args[:min(2, len(args))] {
		if strings.HasPrefix(a, "-") {
			break
		}
		words = append(words, a)
	}
	given := strings.Join(words, " ")
	if given == "" {
		return fmt.Errorf("no verb given before %q (run hotline help)", args[0])
	}
	// A whole verb first (peer ad → peer add), then its first word alone
	// (chanel → channel); only within two edits.
	best, bestD := "", 3
	for _, whole := range []bool{true, false} {
		for _, v := range verbs {
			cand := v.name
			if !whole {
				cand = strings.Fields(v.name)[0]
			}
			w := given
			if n := len(strings.Fields(cand)); n < len(words) {
				w = strings.Join(words[:n], " ")
			}
			if d := editDistance(w, cand); d < bestD {
				best, bestD = cand, d
			}
		}
		if best != "" {
			break
		}
	}
	if best != "" && bestD == 0 {
		// The first word names a group of verbs: list them.
		var group []string
		for _, v := range verbs {
			if strings.HasPrefix(v.name, best+" ") {
				group = append(group, v.name)
			}
		}
		return fmt.Errorf("unknown verb %q: %s has %s (run hotline help)", given, best, strings.Join(group, ", "))
	}
	if best != "" {
		return fmt.Errorf("unknown verb %q: did you mean %q? (run hotline help)", given, best)
	}
	return fmt.Errorf("unknown verb %q (run hotline help)", given)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur := make([]int, len(rb)+1)
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(rb)]
}

// run declares the verb's flags, parses args and acts; with --help it
// describes the verb instead.
func (v verb) run(ctx context.Context, args []string) error {
	f := newFlags(v.name)
	act := v.flags(f)
	rest, err := f.parse(args)
	if errors.Is(err, flag.ErrHelp) {
		verbUsage(os.Stdout, v, f)
		return err
	}
	if err != nil {
		return err
	}
	return act(ctx, rest)
}

// withOps runs f against the station in dir: through its API when hotline
// run owns it, otherwise by opening it here.
func withOps(ctx context.Context, dir string, f func(ops.Ops) error) error {
	return withStation(ctx, dir,
		func(st *station.Station) error { return f(st) },
		func(c *api.Client) error { return f(c) })
}

// withStation runs local on the station in dir, opened here, or remote on
// the API of the hotline run that owns it.
func withStation(ctx context.Context, dir string, local func(*station.Station) error, remote func(*api.Client) error) error {
	st, err := station.Open(ctx, dir, quietLogger())
	if errors.Is(err, stationdir.ErrLocked) {
		// Either hotline run owns the station (use its API) or another
		// short command has it open for a moment.
		c, cerr := api.NewClient(dir)
		if cerr == nil {
			if _, statErr := os.Stat(filepath.Join(dir, api.AddrFile)); statErr != nil {
				cerr = statErr
			} else {
				pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				_, cerr = c.Status(pctx)
				cancel()
			}
		}
		if cerr != nil {
			if _, err := os.Stat(filepath.Join(dir, station.StandbyFile)); err == nil {
				// The hotline run here stands by: the station is active
				// on another machine.
				return fmt.Errorf("%w; run this command on the machine whose hotline run is active", station.ErrStandby)
			}
			return fmt.Errorf("station %s is in use by another hotline command and no hotline run answers; try again", dir)
		}
		return remote(c)
	}
	if errors.Is(err, station.ErrStandby) {
		return fmt.Errorf("%w; run this command on the machine whose hotline run is active", err)
	}
	if err != nil {
		return err
	}
	ferr := local(st)
	if err := st.Close(); err != nil && ferr == nil {
		ferr = err
	}
	return ferr
}

// show runs op against the station in f's directory and prints its result
// as JSON with --json, or with text otherwise.
func show[T any](ctx context.Context, f *flags, op func(ops.Ops) (T, error), text func(T) error) error {
	return withOps(ctx, *f.dir, func(o ops.Ops) error {
		v, err := op(o)
		if err != nil {
			return err
		}
		if *f.json {
			return printJSON(v)
		}
		return text(v)
	})
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func cmdInit(f *flags) action {
	f.printsJSON()
	name := f.String("name", "", "station `NAME`")
	party := f.String("party", "", "party `CODE`, e.g. USA")
	peer := f.String("peer-listen", "", "`HOST:PORT` to listen on for peers")
	apiAddr := f.String("api-listen", "127.0.0.1:0", "`HOST:PORT` of the local API")
	var endpoints multi
	f.Var(&endpoints, "endpoint", "`HOST:PORT` peers dial (default --peer-listen)")
	storeSpec := f.String("store", "sqlite:hotline.db", "`STORE`: sqlite:FILE in the station directory, or a postgres:// URL of a database for this station alone")
	storePW := f.String("store-password-file", "", "`FILE` (mode 0600) holding the PostgreSQL password, kept out of config.json (recorded as store_password_file)")
	tlsCert := f.String("tls-cert", "", "PEM certificate (chain) `FILE` to serve the API and the console over HTTPS")
	tlsKey := f.String("tls-key", "", "PEM private key `FILE` of --tls-cert")
	f.require("dir", "name", "party", "peer-listen")
	return func(ctx context.Context, _ []string) error {
		card, err := stationdir.Init(ctx, stationdir.InitOptions{Dir: *f.dir, Name: *name, Party: *party, PeerListen: *peer, APIListen: *apiAddr,
			Endpoints: endpoints, Store: *storeSpec, StorePasswordFile: *storePW, APITLSCert: *tlsCert, APITLSKey: *tlsKey})
		if err != nil {
			return err
		}
		if *f.json {
			return printJSON(map[string]any{"name": card.Name, "party": card.Party, "fingerprint": card.Fingerprint(), "card": filepath.Join(*f.dir, "card")})
		}
		fmt.Printf("station %s (%s) created in %s\nfingerprint %s\ncard %s\n", card.Name, card.Party, *f.dir, card.Fingerprint(), filepath.Join(*f.dir, "card"))
		return nil
	}
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }
func (m *multi) repeated()          {}

func ownCard(dir string) (*identity.Card, error) {
	if _, err := stationdir.LoadConfig(dir); err != nil {
		return nil, err
	}
	return stationdir.ReadCard(dir)
}

func cmdCard(f *flags) action {
	f.printsJSON()
	return func(ctx context.Context, _ []string) error {
		c, err := ownCard(*f.dir)
		if err != nil {
			return err
		}
		if *f.json {
			return printJSON(map[string]any{"name": c.Name, "party": c.Party, "endpoints": c.Endpoints, "fingerprint": c.Fingerprint(), "card": string(c.Text)})
		}
		_, err = os.Stdout.Write(c.Text)
		return err
	}
}

func cmdFingerprint(f *flags) action {
	f.printsJSON()
	return func(ctx context.Context, _ []string) error {
		c, err := ownCard(*f.dir)
		if err != nil {
			return err
		}
		if *f.json {
			return printJSON(map[string]string{"name": c.Name, "fingerprint": c.Fingerprint()})
		}
		fmt.Println(c.Fingerprint())
		return nil
	}
}

func cmdPeerAdd(f *flags) action {
	f.printsJSON()
	cardFile := f.String("card", "", "the peer's card `FILE`")
	fp := f.String("fingerprint", "", "the fingerprint `FP` the peer read to you")
	intro := f.String("introduction", "", "pin on a pinned peer's signed introduction `FILE` (hotline peer introduce) instead of a fingerprint read aloud")
	by := f.String("by", "", "with --introduction: who takes the introducer's word, `NAME` (without it, the introduction is shown and nothing pinned)")
	f.needs("card fingerprint", "introduction")
	return func(ctx context.Context, _ []string) error {
		if *intro != "" {
			if *cardFile != "" || *fp != "" {
				return errors.New("peer add: an --introduction carries the card and vouches for the fingerprint: give no --card or --fingerprint with it")
			}
			return addIntroduced(ctx, f, *intro, *by)
		}
		if *by != "" {
			return errors.New("peer add: --by names who takes an --introduction's word")
		}
		if err := required("peer add", map[string]string{"card": *cardFile, "fingerprint": *fp}); err != nil {
			return err
		}
		text, err := os.ReadFile(*cardFile)
		if err != nil {
			return fmt.Errorf("peer add: %w", err)
		}
		return show(ctx, f, func(o ops.Ops) (*ops.PeerView, error) { return o.AddPeer(ctx, text, *fp) },
			func(p *ops.PeerView) error {
				fmt.Printf("pinned %s (%s), fingerprint %s\n", p.Name, p.Party, p.Fingerprint)
				return nil
			})
	}
}

func cmdPeerList(f *flags) action {
	f.printsJSON()
	return func(ctx context.Context, _ []string) error {
		return show(ctx, f, func(o ops.Ops) ([]ops.PeerView, error) { return o.Peers(ctx) },
			func(ps []ops.PeerView) error {
				tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tPARTY\tFINGERPRINT\tCONNECTED\tENDPOINTS")
				for _, p := range ps {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\n", p.Name, p.Party, p.Fingerprint, p.Connected, strings.Join(p.Endpoints, " "))
					if p.IntroducedBy != "" {
						fmt.Fprintf(tw, "  introduced by %s, taken by %s\t\t\t\t\n", p.IntroducedBy, inert(p.ConfirmedBy))
					}
					if len(p.Keys) > 1 {
						for _, k := range p.Keys {
							fmt.Fprintf(tw, "  key %d\t%s\t%s\t%s\t\n", k.Seq, keyState(k), k.Fingerprint, k.At.UTC().Format(time.RFC3339))
						}
					}
				}
				return tw.Flush()
			})
	}
}

func cmdPropose(f *flags) action {
	f.printsJSON()
	peer := f.String("peer", "", "the peer station's `NAME`")
	ch := f.String("channel", "", "channel `ID`")
	level := f.String("level", "", "`LEVEL`: leader, minister, staff, theatre or unit")
	deadlines := f.String("deadline", "", "acknowledgement `DEADLINES`, e.g. FLASH=5m,IMMEDIATE=20m")
	delivery := f.String("delivery", "", "delivery `DEADLINES`, e.g. FLASH=30s,IMMEDIATE=2m")
	up := f.String("escalate-to", "", "the higher channel `ID` with the same peer that late messages climb to")
	exempt := f.Bool("flash-exempt", false, "FLASH traffic passes a suspension")
	record := f.Bool("call-recording", false, "each station keeps an encrypted recording of its own side's call audio, named by hash in its signed entries")
	linkTest := f.String("link-test", "", "`INTERVAL` of machine-answered link tests (default 10s)")
	checkEvery := f.String("check-every", "", "`INTERVAL` of operator checks (default 1h)")
	checkWindow := f.String("check-window", "", "`DURATION` a person has to answer a check (default 10m)")
	book := f.String("codebook", "", "the codebook of standard phrases, `REF`: its reference or version (hotline codebook books; default: the embedded one)")
	f.require("peer", "channel", "level")
	return func(ctx context.Context, _ []string) error {
		req := ops.ProposeRequest{Peer: *peer, Channel: *ch, Level: *level, Deadlines: map[string]string{}, Delivery: map[string]string{},
			EscalateTo: *up, FlashExempt: *exempt, CallRecording: *record, LinkTest: *linkTest, CheckEvery: *checkEvery, CheckWindow: *checkWindow, Codebook: *book}
		for _, o := range []struct {
			flag, v string
			into    map[string]string
		}{{"deadline", *deadlines, req.Deadlines}, {"delivery", *delivery, req.Delivery}} {
			if o.v == "" {
				continue
			}
			for _, kv := range strings.Split(o.v, ",") {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return fmt.Errorf("channel propose: --%s %q is not PRECEDENCE=DURATION", o.flag, kv)
				}
				o.into[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
		return show(ctx, f, func(o ops.Ops) (*ops.ChannelView, error) { return o.Propose(ctx, req) },
			func(c *ops.ChannelView) error {
				fmt.Printf("proposed channel %s (%s) to %s; it is active once %s accepts\n", c.ID, c.Level, c.Peer, c.Peer)
				return nil
			})
	}
}

func cmdAccept(f *flags) action {
	f.printsJSON()
	ch := f.String("channel", "", "channel `ID`")
	f.require("channel")
	return func(ctx context.Context, _ []string) error {
		return show(ctx, f, func(o ops.Ops) (*ops.ChannelView, error) { return o.Accept(ctx, *ch) },
			func(c *ops.ChannelView) error {
				fmt.Printf("accepted channel %s (%s) with %s\n", c.ID, c.Level, c.Peer)
				return nil
			})
	}
}

func cmdWithdraw(f *flags) action {
	f.printsJSON()
	ch := f.String("channel", "", "channel `ID`")
	reason := f.String("reason", "", "why, as the peer will read it: `TEXT`")
	as := f.String("as", defaultOperator(), "who decided it: `NAME`")
	f.require("channel")
	return func(ctx context.Context, _ []string) error {
		req := ops.WithdrawRequest{Channel: *ch, Reason: *reason, By: *as}
		return show(ctx, f, func(o ops.Ops) (*ops.ChannelView, error) { return o.Withdraw(ctx, req) },
			func(c *ops.ChannelView) error {
				fmt.Printf("withdrew channel %s, proposed to %s; %s follows the withdrawal when it next hears from this station\n", c.ID, c.Peer, c.Peer)
				return nil
			})
	}
}

func cmdSuspend(f *flags) action { return suspendOrResume(f, true) }
func cmdResume(f *flags) action  { return suspendOrResume(f, false) }

func suspendOrResume(f *flags, suspend bool) action {
	f.printsJSON()
	ch := f.String("channel", "", "channel `ID`")
	reason := f.String("reason", "", "why, as both parties will read it: `TEXT`")
	as := f.String("as", defaultOperator(), "who decided it: `NAME`")
	f.require("channel")
	if suspend {
		f.require("reason")
	}
	return func(ctx context.Context, _ []string) error {
		req := ops.SuspendRequest{Channel: *ch, Reason: *reason, By: *as}
		return show(ctx, f, func(o ops.Ops) (*ops.ChannelView, error) {
			if suspend {
				return o.Suspend(ctx, req)
			}
			return o.Resume(ctx, req)
		}, func(c *ops.ChannelView) error {
			fmt.Printf("channel %s is %s\n", c.ID, c.State)
			for _, s := range c.Suspensions {
				fmt.Printf("  suspended by %s at %s: %s\n", s.By, s.At.UTC().Format(time.RFC3339), inert(s.Reason))
			}
			return nil
		})
	}
}

func cmdChecks(f *flags) action {
	f.printsJSON()
	ch := f.String("channel", "", "channel `ID`")
	f.require("channel")
	return func(ctx context.Context, _ []string) error {
		return show(ctx, f, func(o ops.Ops) (*ops.ChecksView, error) { return o.Checks(ctx, *ch) },
			func(v *ops.ChecksView) error {
				tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "PERIOD	CHECKS	ANSWERED	RATE	MEAN ANSWER	LINK TESTS	ANSWERED	RATE	MEAN RTT")
				pct := func(r *float64) string {
					if r == nil {
						return "-"
					}
					return fmt.Sprintf("%.1f%%", *r*100)
				}
				for _, p := range v.Periods {
					rtt := "-"
					if p.LinkMeanRTTms != nil {
						rtt = fmt.Sprintf("%.1fms", *p.LinkMeanRTTms)
					}
					fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%d\t%d\t%s\t%s\n", p.Period, p.Checks, p.Answered, pct(p.AnswerRate),
						cmp.Or(p.MeanAnswer, "-"), p.LinkTests, p.LinkAnswered, pct(p.LinkRate), rtt)
				}
				return tw.Flush()
			})
	}
}

func cmdEscalations(f *flags) action {
	f.printsJSON()
	ch := f.String("channel", "", "channel `ID` (default: all)")
	return func(ctx context.Context, _ []string) error {
		return show(ctx, f, func(o ops.Ops) (*[]ops.EscalationView, error) {
			xs, err := o.Escalations(ctx, *ch)
			return &xs, err
		}, func(xs *[]ops.EscalationView) error {
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "AT\tENTRY\tSTEP\tDETAIL")
			for _, x := range *xs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", x.At.UTC().Format(time.RFC3339), x.Entry, x.Name, inert(x.Detail))
			}
			return tw.Flush()
		})
	}
}

// cmdAPITLS sets or removes the API's certificate and key. The station
// must be stopped: hotline run reads them when it starts.
func cmdAPITLS(f *flags) action {
	f.printsJSON()
	cert := f.String("cert", "", "PEM certificate (chain) `FILE`")
	key := f.String("key", "", "PEM private key `FILE`")
	off := f.Bool("off", false, "serve plain HTTP again (on a loopback address only)")
	f.needs("cert key", "off")
	return func(ctx context.Context, _ []string) error {
		if *off != (*cert == "" || *key == "") || *off && (*cert != "" || *key != "") {
			return errors.New("api tls: give --cert and --key, or --off")
		}
		cfg, err := stationdir.SetAPITLS(*f.dir, *cert, *key)
		if err != nil {
			return err
		}
		if *f.json {
			return printJSON(map[string]any{"https": cfg.APIHTTPS(), "api_listen": cfg.APIListen, "cert": cfg.APITLSCert, "key": cfg.APITLSKey})
		}
		if cfg.APIHTTPS() {
			fmt.Printf("the API and the console will be served over HTTPS on %s (certificate %s) from the next hotline run\n", cfg.APIListen, cfg.APITLSCert)
		} else {
			fmt.Printf("the API and the console will be served over plain HTTP on %s from the next hotline run\n", cfg.APIListen)
		}
		return nil
	}
}

func cmdAddRelay(f *flags) action {
	f.printsJSON()
	card := f.String("card", "", "the relay's card `FILE`")
	fp := f.String("fingerprint", "", "the relay's fingerprint `FP`, as read by its operator")
	f.require("card", "fingerprint")
	return func(ctx context.Context, _ []string) error {
		text, err := os.ReadFile(*card)
		if err != nil {
			return fmt.Errorf("card add-relay: %w", err)
		}
		c, err := stationdir.AddRelay(ctx, *f.dir, text, *fp)
		if err != nil {
			if errors.Is(err, stationdir.ErrLocked) {
				return fmt.Errorf("card add-relay: stop hotline run first: %w", err)
			}
			return fmt.Errorf("card add-relay: %w", err)
		}
		if *f.json {
			return printJSON(map[string]any{"card": string(c.Text), "relays": len(c.Relays)})
		}
		fmt.Printf("%s's card now lists %d relay(s); give the new card (%s) to each peer: hotline peer add --card FILE --fingerprint %s\n",
			c.Name, len(c.Relays), filepath.Join(*f.dir, "card"), c.Fingerprint())
		return nil
	}
}

func cmdRemoveRelay(f *flags) action {
	f.printsJSON()
	name := f.String("relay", "", "the relay's `NAME`, as the card lists it")
	f.require("relay")
	return func(ctx context.Context, _ []string) error {
		c, err := stationdir.RemoveRelay(ctx, *f.dir, *name)
		if err != nil {
			if errors.Is(err, stationdir.ErrLocked) {
				return fmt.Errorf("card remove-relay: stop hotline run first: %w", err)
			}
			return fmt.Errorf("card remove-relay: %w", err)
		}
		if *f.json {
			return printJSON(map[string]any{"card": string(c.Text), "relays": len(c.Relays)})
		}
		fmt.Printf("%s's card now lists %d relay(s), not %s; give the new card (%s) to each peer: hotline peer add --card FILE --fingerprint %s\n",
			c.Name, len(c.Relays), *name, filepath.Join(*f.dir, "card"), c.Fingerprint())
		return nil
	}
}

func cmdBundleExport(f *flags) action {
	f.printsJSON()
	peer := f.String("peer", "", "the peer station's `NAME`")
	out := f.String("out", "", "`FILE` to write")
	f.require("peer", "out")
	return func(ctx context.Context, _ []string) error {
		return withOps(ctx, *f.dir, func(o ops.Ops) error {
			b, err := o.BundleExport(ctx, *peer)
			if err != nil {
				return err
			}
			data, err := json.Marshal(b)
			if err != nil {
				return err
			}
			if err := home.WriteFile(*out, append(data, '\n'), 0o644); err != nil {
				return fmt.Errorf("bundle export: %w", err)
			}
			if *f.json {
				return printJSON(map[string]any{"file": *out, "to": b.To, "frames": len(b.Frames)})
			}
			fmt.Printf("wrote %s: %d frames for %s\n", *out, len(b.Frames), b.To)
			return nil
		})
	}
}

func cmdBundleImport(f *flags) action {
	f.printsJSON()
	f.arg("FILE")
	return func(ctx context.Context, rest []string) error {
		if len(rest) != 1 {
			return errors.New("bundle import: give the bundle file")
		}
		// The file goes to the station as it is read, never held whole: the
		// station reads it as a stream (ops.ReadOffline).
		file, err := os.Open(rest[0])
		if err != nil {
			return fmt.Errorf("bundle import: %w", err)
		}
		defer file.Close()
		if fi, err := file.Stat(); err != nil {
			return fmt.Errorf("bundle import: %w", err)
		} else if fi.Size() > ops.MaxOffline {
			return fmt.Errorf("bundle import %s: %w", rest[0], badrequest.New("offline bundle has %d bytes, limit %d", fi.Size(), ops.MaxOffline))
		}
		return show(ctx, f, func(o ops.Ops) (*ops.ImportView, error) {
			v, err := o.BundleImport(ctx, file)
			if err != nil {
				return nil, fmt.Errorf("bundle import %s: %w", rest[0], err)
			}
			return v, nil
		}, func(v *ops.ImportView) error {
			fmt.Printf("imported %s from %s: %d frames, %d new entries\n", rest[0], v.From, v.Frames, v.Entries)
			if v.Refused > 0 {
				fmt.Printf("%d refused (see hotline alerts)\n", v.Refused)
			}
			return nil
		})
	}
}

func cmdChannelList(f *flags) action {
	f.printsJSON()
	return func(ctx context.Context, _ []string) error {
		return show(ctx, f, func(o ops.Ops) ([]ops.ChannelView, error) { return o.Channels(ctx) },
			func(cs []ops.ChannelView) error {
				tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "CHANNEL\tPEER\tLEVEL\tSTATE\tWRITTEN\tDELIVERED\tRECEIVED")
				for _, c := range cs {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\n", c.ID, c.Peer, c.Level, c.State, c.Written, c.Delivered, c.Received)
				}
				return tw.Flush()
			})
	}
}

func cmdRun(f *flags) action {
	format := f.String("log-format", "", "`json|text` (default: json unless stderr is a terminal)")
	level := f.String("log-level", "info", "`LEVEL`: debug, info, warn or error (debug adds a line per entry stored)")
	return func(ctx context.Context, _ []string) error {
		log, err := newLogger(os.Stderr, *format, *level)
		if err != nil {
			return err
		}
		return runStation(ctx, *f.dir, log)
	}
}

// newLogger makes the process logger: JSON for journald and log
// collectors, text for a person at a terminal.
func newLogger(w *os.File, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q is not one of debug, info, warn, error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "" {
		format = "json"
		if term.IsTerminal(int(w.Fd())) {
			format = "text"
		}
	}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q is not json or text", format)
}

// runStation owns the station until ctx is done (SIGINT, SIGTERM) or it
// fails: peer listener and dialers, the local API and the console on one
// listener, and api.addr for the CLI. On a store several machines share
// (PostgreSQL), it first stands by, listening on nothing, until it holds
// the station's lease; it stops, with an error, the moment it loses it.
func runStation(ctx context.Context, dir string, log *slog.Logger) error {
	// HTTPS, or plain HTTP on loopback only: checked before anything starts.
	cfg, err := stationdir.LoadConfig(dir)
	if err != nil {
		return err
	}
	tc, err := api.ServerTLS(dir, cfg)
	if err != nil {
		return err
	}
	if err := stationdir.CheckAPIListen(cfg.APIListen, tc != nil); err != nil {
		return err
	}
	consoleNames, err := cfg.ConsoleNames(dir)
	if err != nil {
		return err
	}
	st, err := station.OpenStandby(ctx, dir, log)
	if errors.Is(err, stationdir.ErrLocked) {
		return fmt.Errorf("%s: %w (is hotline run already running?)", dir, err)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while standing by
		}
		return err
	}
	defer st.Close()
	tok, err := stationdir.ReadToken(dir)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer os.Remove(filepath.Join(dir, api.AddrFile))
	errs := make(chan error, 2)
	go func() { errs <- st.Run(ctx) }()
	apiSrv := api.NewServer(st, tok)
	// Written before the store closes: the counts of refusals not yet in
	// the audit trail.
	defer apiSrv.Operators().FlushAllRefusals(context.WithoutCancel(ctx))
	if err := st.RegisterMetrics(apiSrv.Operators().Collector()); err != nil {
		return err
	}
	// One listener: the JSON API under /api/, the console everywhere else.
	mux := http.NewServeMux()
	mux.Handle("/api/", apiSrv)
	mux.Handle("GET /metrics", api.RequireToken(tok, st.MetricsHandler()))
	health := api.Health(st, tok)
	mux.Handle("GET /healthz", health)
	mux.Handle("GET /readyz", health)
	downAfter, _ := cfg.DownAfter() // checked by LoadConfig
	mux.Handle("/", console.New(console.Config{Ops: st, Subscribe: st.Subscribe, Wake: st.Wake, Done: st.Done(), Operators: apiSrv.Operators(),
		Station: st.Cfg.Name, Log: st.Log.With("component", "console"), DownAfter: downAfter, Hosts: consoleNames}))
	go func() {
		errs <- api.Serve(ctx, st.Cfg.APIListen, mux, tc, func(a net.Addr) {
			st.Log.Info("API listening", "addr", a.String(), "https", tc != nil)
			// Written whole, so that a reader never finds it empty (the
			// CLI and tests look for it while it is written).
			if err := home.WriteFile(filepath.Join(dir, api.AddrFile), []byte(a.String()+"\n"), 0o600); err != nil {
				errs <- err
			}
		})
	}()
	select {
	case <-ctx.Done():
		return nil
	case <-st.Done():
		return fmt.Errorf("station stopped: %v", st.Err())
	case err := <-errs:
		if err != nil {
			return err
		}
		return nil
	}
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func cmdSend(f *flags) action {
	f.printsJSON()
	ch := f.String("channel", "", "channel `ID`")
	to := f.String("to", "", "send a --text to several parties at once: `all|GROUP|NAME,...`, one message on each party's channel, linked by one id (notice show --id)")
	level := f.String("level", "", "with --to: each party's channel at this `LEVEL`, for a party with several")
	prec := f.String("precedence", "", "`PRECEDENCE`: FLASH, IMMEDIATE, PRIORITY or ROUTINE")
	text := f.String("text", "", "message `TEXT`")
	lang := f.String("lang", "", "language `TAG` of the text or free text, e.g. en or zh-Hans")
	var coded codedFlags
	coded.register(f)
	finding := f.Int64("finding", 0, "send the message finding `N` suggests (hotline findings); --channel defaults to the finding's")
	lines := f.Bool("lines", false, "send each line of standard input as one message, many in flight, in order; prints each id (--json: each message, one per line)")
	// Which of them are needed depends on the others, so the verb checks.
	f.needs("channel", "to")
	f.needs("precedence")
	f.needs("text", "code", "free", "finding", "lines")
	return func(ctx context.Context, _ []string) error {
		if *to != "" {
			switch {
			case *ch != "":
				return fmt.Errorf("send: %v", errToOne)
			case *lines || len(coded.items) > 0 || *finding != 0:
				return errors.New("send: --to sends one --text to several parties; standard phrases, findings and --lines go on one --channel")
			}
			if err := required("send", map[string]string{"precedence": *prec, "text": *text}); err != nil {
				return err
			}
			return sendBroadcast(ctx, f, "send", ops.BroadcastRequest{To: splitTo(*to), Level: *level, Precedence: *prec, Text: *text, Lang: *lang})
		}
		if *level != "" {
			return errors.New("send: --level chooses the parties' channels with --to")
		}
		if *lines {
			if *text != "" || len(coded.items) > 0 || *finding != 0 {
				return errors.New("send: --lines takes the texts from standard input: give no --text, --code, --free or --finding with it")
			}
			if err := required("send", map[string]string{"channel": *ch, "precedence": *prec}); err != nil {
				return err
			}
			return sendLines(ctx, *f.dir, os.Stdin, ops.SendRequest{Channel: *ch, Precedence: *prec, Lang: *lang}, *f.json)
		}
		if len(coded.items) > 0 || *finding != 0 {
			if *text != "" {
				return errors.New("send: give --text or standard phrases (--code, --free, --finding), not both")
			}
			need := map[string]string{"precedence": *prec}
			if *finding == 0 {
				need["channel"] = *ch
			}
			if err := required("send", need); err != nil {
				return err
			}
			coded.setLang(textLang(*lang))
			return show(ctx, f, func(o ops.Ops) (*ops.MessageView, error) {
				return o.SendCoded(ctx, ops.CodedRequest{Channel: *ch, Precedence: *prec, Items: coded.items, Finding: *finding})
			}, func(m *ops.MessageView) error {
				fmt.Println(m.ID)
				return nil
			})
		}
		if err := required("send", map[string]string{"channel": *ch, "precedence": *prec, "text": *text}); err != nil {
			return err
		}
		return show(ctx, f, func(o ops.Ops) (*ops.MessageView, error) {
			return o.Send(ctx, ops.SendRequest{Channel: *ch, Precedence: *prec, Text: *text, Lang: *lang})
		},
			func(m *ops.MessageView) error {
				fmt.Println(m.ID)
				return nil
			})

	}
}

// userError is err as the CLI tells it, without the station's internal
// "bad request" prefix.
func userError(err error) string {
	return badrequest.Message(err)
}

// printMessages lists messages; coded messages, notices, reports and
// incident entries in lang, rendered from their codes and fields.
func printMessages(ms []ops.MessageView, asJSON bool, lang string) error {
	if asJSON {
		return printJSON(ms)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPRECEDENCE\tKIND\tSTATUS\tSENT (UTC)\tTEXT")
	for _, m := range ms {
		status := m.Status
		if m.Acknowledged {
			status += " by " + m.AckBy
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.Precedence, m.Kind, inert(status), m.SentAt.Format(time.DateTime), inert(rendered(m, lang)))
	}
	return tw.Flush()
}

// inert makes text from a peer safe for a terminal: control characters
// (escape sequences, newlines that would forge rows) are shown escaped.
func inert(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			fmt.Fprintf(&b, "\\u%04x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func cmdInbox(f *flags) action  { return listMessages(f) }
func cmdOutbox(f *flags) action { return listMessages(f) }

// listMessages is the inbox or the outbox, as f's name says.
func listMessages(f *flags) action {
	which := f.Name()
	f.printsJSON()
	ch := f.String("channel", "", "only this channel `ID`")
	langFlag := f.String("lang", "", "language to show coded messages, notices, reports and incidents in: `en|zh` (default from $LANG)")
	return func(ctx context.Context, _ []string) error {
		lang, err := viewLang(which, *langFlag)
		if err != nil {
			return err
		}
		return withOps(ctx, *f.dir, func(o ops.Ops) error {
			list := o.Inbox
			if which == "outbox" {
				list = o.Outbox
			}
			ms, err := list(ctx, *ch)
			if err != nil {
				return err
			}
			return printMessages(ms, *f.json, lang)
		})
	}
}

func cmdAck(f *flags) action {
	f.printsJSON()
	id := f.String("id", "", "message `ID`, CHANNEL/STATION/INDEX")
	as := f.String("as", defaultOperator(), "who acknowledges: `NAME`")
	f.require("id")
	return func(ctx context.Context, _ []string) error {
		// The acknowledgement's time is the station's clock (this
		// machine's) in milliseconds: one made by this command is not
		// before asked.
		asked := time.Now().Truncate(time.Millisecond)
		return withOps(ctx, *f.dir, func(o ops.Ops) error {
			m, err := o.Ack(ctx, *id, *as)
			if err != nil {
				return err
			}
			// Acknowledging again returns the first acknowledgement. Under
			// another name, the acknowledgement asked for was not made:
			// say who made it and when, and fail (exit 1). The same name
			// again is a repeat (a retry, say): said so, and not a failure.
			at := ""
			if m.AckAt != nil {
				at = " at " + m.AckAt.UTC().Format(time.RFC3339)
			}
			if m.AckBy != *as {
				return fmt.Errorf("ack: %s was already acknowledged by %s%s; nothing changed", m.ID, inert(m.AckBy), at)
			}
			if *f.json {
				return printJSON(m)
			}
			if m.AckAt != nil && m.AckAt.Before(asked) {
				fmt.Printf("%s was already acknowledged by %s%s; nothing changed\n", m.ID, inert(m.AckBy), at)
				return nil
			}
			fmt.Printf("%s acknowledged by %s\n", m.ID, inert(m.AckBy))
			return nil
		})
	}
}

// defaultOperator is who acts when --as is not given: $HOTLINE_OPERATOR,
// else "duty officer". Never the login ($USER): the name goes to the
// other party.
func defaultOperator() string {
	if u := os.Getenv("HOTLINE_OPERATOR"); u != "" {
		return u
	}
	return "duty officer"
}

func cmdStatus(f *flags) action {
	f.printsJSON()
	return func(ctx context.Context, _ []string) error {
		return show(ctx, f, func(o ops.Ops) (*ops.StatusView, error) { return o.Status(ctx) },
			func(s *ops.StatusView) error {
				fmt.Printf("station %s (%s)  fingerprint %s\n", s.Station, s.Party, s.Fingerprint)
				tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "CHANNEL\tPEER\tSTATE\tPATHS\tWRITTEN\tDELIVERED\tRECEIVED\tAWAITING PEER\tAWAITING HERE")
				for _, c := range s.Channels {
					var paths []string
					for _, p := range c.Paths {
						h := p.Name + ":down"
						if p.Up {
							h = p.Name + ":up"
							if p.RTTms != nil {
								h += fmt.Sprintf("(%.1fms)", *p.RTTms)
							}
						}
						paths = append(paths, h)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\n", c.ID, c.Peer, c.State, strings.Join(paths, " "),
						c.Written, c.Delivered, c.Received, c.AwaitingPeer, c.AwaitingHere)
				}
				tw.Flush()
				for _, c := range s.Channels {
					for _, x := range c.Suspensions {
						fmt.Printf("%s SUSPENDED by %s at %s: %s\n", c.ID, x.By, x.At.UTC().Format(time.RFC3339), inert(x.Reason))
					}
					if c.Dormant {
						fmt.Printf("%s DORMANT: the latest operator check (%s) went unanswered\n", c.ID, c.LastCheck)
					}
					if c.Blocked != "" {
						fmt.Printf("%s BLOCKED: %s\n", c.ID, c.Blocked)
					}
					for _, t := range c.Troubles {
						fmt.Printf("%s %s: %s\n    what to do: %s\n", c.ID, strings.ToUpper(c.State), inert(t.Reason), inert(t.Action))
					}
				}
				for _, r := range s.RelaysRefusing {
					fmt.Printf("relay %s at %s REFUSES this station since %s: %s\n", r.Relay, r.Addr, r.Since.UTC().Format(time.RFC3339), inert(r.Error))
				}
				for k, v := range s.Refused {
					fmt.Printf("refused %s: %d\n", k, v)
				}
				if s.AheadConflicts > 0 {
					fmt.Printf("ahead conflicts: %d (entries a peer sent ahead over what is held here, dropped: not an equivocation)\n", s.AheadConflicts)
				}
				return nil
			})
	}
}

func cmdAlerts(f *flags) action {
	f.printsJSON()
	return func(ctx context.Context, _ []string) error {
		return show(ctx, f, func(o ops.Ops) ([]ops.AlertView, error) { return o.Alerts(ctx, 0) },
			func(as []ops.AlertView) error {
				for _, a := range as {
					fmt.Printf("%s  %-7s  %s\n", a.At.Format(time.DateTime), strings.ToUpper(a.Level), inert(a.Text))
				}
				return nil
			})
	}
}

func cmdExport(f *flags) action {
	ch := f.String("channel", "", "channel `ID`")
	bc := f.String("broadcast", "", "write the bundle of every channel a broadcast `ID` (b-…) went on, each disclosing that party's copy, into the directory --out")
	out := f.String("out", "", "bundle `FILE` to write (with --broadcast, a directory)")
	disclose := f.String("disclose", "", "entries to reveal to whoever reads the bundle, each alone: `ID[,ID...]` (CHANNEL/AUTHOR/INDEX)")
	f.needs("channel", "broadcast")
	f.require("out")
	return func(ctx context.Context, _ []string) error {
		if *bc != "" {
			if *ch != "" || *disclose != "" {
				return errors.New("export: --broadcast exports each of its channels and discloses its copies: give no --channel or --disclose with it")
			}
			return exportBroadcast(ctx, f, *bc, *out)
		}
		if *ch == "" {
			return errors.New("export: missing --channel or --broadcast")
		}
		var ids []string
		if *disclose != "" {
			ids = strings.Split(*disclose, ",")
		}
		return withOps(ctx, *f.dir, func(o ops.Ops) error {
			b, err := o.Export(ctx, *ch, ids...)
			if err != nil {
				return err
			}
			data, err := json.MarshalIndent(b, "", "  ")
			if err != nil {
				return err
			}
			if err := home.WriteFile(*out, append(data, '\n'), 0o644); err != nil {
				return err
			}
			fmt.Printf("wrote %s: channel %s, %d + %d entries", *out, b.Channel, len(b.Logs[0].Entries), len(b.Logs[1].Entries))
			if len(ids) > 0 {
				fmt.Printf(", %d disclosed: anyone holding the file can read them", len(ids))
			}
			fmt.Println()
			return nil
		})
	}
}

func cmdBackup(f *flags) action {
	out := f.String("out", "", "backup `FILE` to write (mode 0600: it holds the private keys)")
	f.require("dir", "out")
	return func(ctx context.Context, _ []string) error {
		if err := stationdir.Backup(ctx, *f.dir, *out); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		fmt.Printf("wrote %s\n", *out)
		return nil
	}
}

func cmdRestore(f *flags) action {
	f.needs("dir")
	f.arg("FILE")
	return func(ctx context.Context, rest []string) error {
		if len(rest) != 1 || *f.dir == "" {
			return errors.New("restore: give --dir NEWDIR and the backup file")
		}
		file, err := os.Open(rest[0])
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		defer file.Close()
		if err := stationdir.Restore(ctx, *f.dir, file); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		card, err := stationdir.ReadCard(*f.dir)
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		fmt.Printf("restored station %s (fingerprint %s) into %s; it resumes from the moment of the backup\n", card.Name, card.Fingerprint(), *f.dir)
		return nil
	}
}

func cmdVerify(f *flags) action {
	f.printsJSON()
	var pins multi
	f.Var(&pins, "pin", "`NAME=FINGERPRINT` known out of band: NAME must have a key of that fingerprint in the bundle (repeatable)")
	pinsFile := f.String("pins", "", "`FILE` of pins, one \"NAME FINGERPRINT\" (or NAME=FINGERPRINT) a line; # begins a comment")
	f.arg("FILE")
	f.arg("[OTHER]")
	return func(ctx context.Context, rest []string) error {
		if len(rest) == 0 {
			return errors.New("verify: give the bundle file (or the two parties' bundle files of one channel)")
		}
		opts, err := verifyPins(pins, *pinsFile)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		var checked []*transcript.Checked
		var reps []*transcript.Report
		for _, name := range rest {
			c, err := checkFile(name, opts)
			if err != nil {
				return fmt.Errorf("verify %s: %w", name, err)
			}
			checked, reps = append(checked, c), append(reps, c.Report)
		}
		var cmp *transcript.Comparison
		if len(rest) == 2 {
			if cmp, err = transcript.Compare(checked[0], checked[1]); err != nil {
				return fmt.Errorf("verify %s %s: %w", rest[0], rest[1], err)
			}
		}
		if *f.json {
			if cmp != nil {
				return printJSON(map[string]any{"bundles": reps, "comparison": cmp})
			}
			return printJSON(reps[0])
		}
		for i, rep := range reps {
			printVerdict(rest[i], rep, len(opts.Pins) > 0, cmp != nil)
		}
		if cmp != nil {
			fmt.Printf("%s and %s agree: channel %s, exported by %s and by %s\n", rest[0], rest[1], cmp.Channel, cmp.Exporters[0], cmp.Exporters[1])
			for _, l := range cmp.Logs {
				fmt.Printf("  log of %s: %s\n", l.Author, l.Summary)
			}
		}
		return nil
	}
}

// disclosedText says what a disclosed entry's body says: its text, or
// what it acknowledges, or else its JSON.
func disclosedText(rep *transcript.Report, d transcript.Disclosed) string {
	var b struct {
		Text      *string `json:"text"`
		Of        uint64  `json:"of"`
		By        string  `json:"by"`
		Broadcast string  `json:"broadcast"`
	}
	if err := json.Unmarshal([]byte(d.Body), &b); err == nil {
		switch {
		case d.Kind == envelope.Agreement.String():
			return "carries the bundle's charter (checked)"
		case d.Kind == envelope.Ack.String() && b.Of > 0:
			other := rep.Parties[0]
			if other == d.Author {
				other = rep.Parties[1]
			}
			return fmt.Sprintf("acknowledges %s/%s/%d, by %q", rep.Channel, other, b.Of, b.By)
		case b.Text != nil && b.Broadcast != "":
			return fmt.Sprintf("%q (one copy of broadcast %s, sent to several parties)", *b.Text, b.Broadcast)
		case b.Text != nil:
			return strconv.Quote(*b.Text)
		}
	}
	return d.Body
}

// checkFile verifies the bundle in a file, as it streams.
func checkFile(name string, opts transcript.Options) (*transcript.Checked, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return transcript.CheckSeeker(f, opts)
}

// verifyPins gathers the pins of --pin and --pins.
func verifyPins(pins []string, file string) (transcript.Options, error) {
	opts := transcript.Options{Pins: map[string]string{}}
	add := func(where, line string) error {
		name, fp, ok := strings.Cut(line, "=")
		if !ok {
			name, fp, ok = strings.Cut(line, " ")
		}
		name, fp = strings.TrimSpace(name), strings.TrimSpace(fp)
		if !ok || name == "" || fp == "" {
			return fmt.Errorf("%s: %q is not NAME=FINGERPRINT", where, line)
		}
		if err := identity.CheckFingerprint(fp); err != nil {
			return fmt.Errorf("%s: %s: %w", where, name, err)
		}
		if old, dup := opts.Pins[name]; dup && !identity.SameFingerprint(old, fp) {
			return fmt.Errorf("%s: two different fingerprints pinned for %s", where, name)
		}
		opts.Pins[name] = fp
		return nil
	}
	for _, p := range pins {
		if err := add("--pin", p); err != nil {
			return opts, err
		}
	}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return opts, fmt.Errorf("--pins: %w", err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			line, _, _ = strings.Cut(line, "#")
			if strings.TrimSpace(line) == "" {
				continue
			}
			if err := add(fmt.Sprintf("%s line %d", file, i+1), strings.TrimSpace(line)); err != nil {
				return opts, err
			}
		}
	}
	return opts, nil
}

// printVerdict prints a bundle's report: the verdict, each log, and what
// it does not prove.
func printVerdict(name string, rep *transcript.Report, pinned, compared bool) {
	signed := "signed by the exporter"
	if !rep.ExportSigned {
		signed = "not signed"
	}
	fmt.Printf("%s: channel %s between %s, exported by %s at %s (%s): %s\n", name, rep.Channel, strings.Join(rep.Parties, " and "),
		rep.ExportedBy, rep.ExportedAt.UTC().Format(time.RFC3339), signed, rep.Verdict)
	for _, l := range rep.Logs {
		at := ""
		if !l.ReceiptTime.IsZero() {
			at = " at " + l.ReceiptTime.UTC().Format(time.RFC3339) + " (the other party's clock, under its signature)"
		}
		fmt.Printf("  log of %s: %d entries, %d receipted by the other party%s, root %x\n", l.Author, l.Entries, l.Receipted, at, l.Root)
		for i, fp := range l.Fingerprints {
			mark := ""
			if l.Pinned == i+1 {
				mark = " (matches the pin)"
			}
			fmt.Printf("    key %d: %s%s\n", i+1, fp, mark)
		}
		for _, lim := range l.Limits {
			fmt.Printf("    not proven: %s\n", lim)
		}
		for _, d := range l.Disclosed {
			fmt.Printf("    disclosed %s: %s %s at %s (%s's clock): %s\n", d.ID, d.Precedence, d.Kind, d.Time.UTC().Format(time.RFC3339), d.Author, disclosedText(rep, d))
		}
	}
	for _, lim := range rep.Limits {
		fmt.Printf("  not proven: %s\n", lim)
	}
	if !pinned {
		fmt.Println("  fingerprints not checked against pins known out of band: give --pin NAME=FINGERPRINT or --pins FILE")
	}
	if !compared {
		fmt.Printf("  one export cannot show what its exporter left out after the last checkpoint the other party signed: verify it together with the other party's export of %s\n", rep.Channel)
	}
}

func cmdRelayInit(f *flags) action {
	f.relayDir()
	f.printsJSON()
	name := f.String("name", "", "relay `NAME`")
	party := f.String("party", "RELAY", "party `CODE` on the relay's card")
	listen := f.String("listen", "", "`HOST:PORT` stations connect to")
	var endpoints multi
	f.Var(&endpoints, "endpoint", "`HOST:PORT` stations dial (default --listen)")
	expiry := f.Duration("expiry", relay.DefaultExpiry, "`DURATION` undeleted mail is kept")
	f.require("dir", "name", "listen")
	return func(ctx context.Context, _ []string) error {
		if *expiry <= 0 {
			return fmt.Errorf("relay init: --expiry %s is not positive", *expiry)
		}
		card, err := relay.Init(ctx, relay.InitOptions{Dir: *f.dir, Name: *name, Party: *party, Listen: *listen, Endpoints: endpoints, Expiry: *expiry})
		if err != nil {
			return fmt.Errorf("relay init: %w", err)
		}
		if *f.json {
			return printJSON(map[string]any{"name": card.Name, "party": card.Party, "fingerprint": card.Fingerprint(), "card": filepath.Join(*f.dir, "card")})
		}
		fmt.Printf("relay %s (%s) created in %s\nfingerprint %s\ncard %s\n", card.Name, card.Party, *f.dir, card.Fingerprint(), filepath.Join(*f.dir, "card"))
		return nil
	}
}

func cmdRelayCard(f *flags) action {
	f.relayDir()
	f.printsJSON()
	return func(ctx context.Context, _ []string) error {
		if _, err := relay.LoadConfig(*f.dir); err != nil {
			return err
		}
		c, err := relay.ReadCard(*f.dir)
		if err != nil {
			return err
		}
		if *f.json {
			return printJSON(map[string]any{"name": c.Name, "party": c.Party, "endpoints": c.Endpoints, "fingerprint": c.Fingerprint(), "card": string(c.Text)})
		}
		_, err = os.Stdout.Write(c.Text)
		return err
	}
}

func cmdRelayAllow(f *flags) action {
	f.relayDir()
	f.printsJSON()
	cardFile := f.String("card", "", "the station's card `FILE`")
	fp := f.String("fingerprint", "", "the fingerprint `FP` the station's officer read to you")
	replace := f.Bool("replace", false, "the station lost its key: its new card replaces the one allowed under its name")
	f.require("dir", "card", "fingerprint")
	return func(ctx context.Context, _ []string) error {
		text, err := os.ReadFile(*cardFile)
		if err != nil {
			return fmt.Errorf("relay allow: %w", err)
		}
		allow := relay.Allow
		if *replace {
			allow = relay.AllowReplacing
		}
		v, err := allow(ctx, *f.dir, text, *fp)
		if err != nil {
			return fmt.Errorf("relay allow: %w", err)
		}
		if *f.json {
			return printJSON(v)
		}
		fmt.Printf("allowed %s (%s), fingerprint %s\n", v.Name, v.Party, v.Fingerprint)
		return nil
	}
}

func cmdRelayDisallow(f *flags) action {
	f.relayDir()
	f.printsJSON()
	name := f.String("station", "", "the station's `NAME`, as relay list shows it")
	f.require("dir", "station")
	return func(ctx context.Context, _ []string) error {
		v, err := relay.Disallow(ctx, *f.dir, *name)
		if err != nil {
			return fmt.Errorf("relay disallow: %w", err)
		}
		if *f.json {
			return printJSON(v)
		}
		fmt.Printf("disallowed %s (fingerprint %s); %d message(s) waiting for it deleted\n", v.Name, v.Fingerprint, v.MailDeleted)
		return nil
	}
}

func cmdRelayList(f *flags) action {
	f.relayDir()
	f.printsJSON()
	return func(ctx context.Context, _ []string) error {
		s, err := relay.List(ctx, *f.dir)
		if err != nil {
			return err
		}
		if *f.json {
			return printJSON(s)
		}
		fmt.Printf("relay %s (%s)  fingerprint %s  listen %s  expiry %s\n", s.Name, s.Party, s.Fingerprint, s.Listen, s.Expiry)
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "STATION\tPARTY\tFINGERPRINT\tPENDING\tPENDING BYTES\tDEPOSITED\tDEPOSITED BYTES\tLAST SEEN (UTC)")
		for _, v := range s.Stations {
			seen := "never"
			if v.LastSeen != nil {
				seen = v.LastSeen.Format(time.DateTime)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%d/%d\t%d/%d\t%d/%d\t%s\n", v.Name, v.Party, v.Fingerprint,
				v.Pending.Messages, v.Pending.QuotaMessages, v.Pending.Bytes, v.Pending.QuotaBytes,
				v.Deposited.Messages, v.Deposited.QuotaMessages, v.Deposited.Bytes, v.Deposited.QuotaBytes, seen)
		}
		tw.Flush()
		c := s.Counters
		fmt.Printf("deposits %d (%d bytes), picked up %d, expired %d, connections %d\n", c.Deposits, c.DepositedBytes, c.PickedUp, c.Expired, c.Connections)
		reasons := make([]string, 0, len(c.Refused))
		for k := range c.Refused {
			reasons = append(reasons, k)
		}
		sort.Strings(reasons)
		for _, k := range reasons {
			fmt.Printf("refused %s: %d\n", k, c.Refused[k])
		}
		return nil
	}
}

func cmdRelayRun(f *flags) action { return runRelay(f) }

// cmdRelay is hotline relay --dir DIR: the runner under the group's name.
func cmdRelay(f *flags) action {
	f.group = true
	return runRelay(f)
}

// runRelay runs the relay until ctx is done (SIGINT, SIGTERM) or it fails.
func runRelay(f *flags) action {
	name := f.Name()
	f.relayDir()
	listen := f.String("listen", "", "`HOST:PORT` to listen on (default: the config's)")
	f.require("dir")
	return func(ctx context.Context, _ []string) error {
		if *listen != "" {
			if _, port, err := net.SplitHostPort(*listen); err != nil || port == "" {
				return fmt.Errorf("%s: --listen %q is not HOST:PORT", name, *listen)
			}
		}
		srv, err := relay.Open(ctx, *f.dir, relay.Options{Log: station.Logger()})
		if errors.Is(err, relay.ErrLocked) {
			return fmt.Errorf("%s: %w (is hotline relay already running?)", *f.dir, err)
		}
		if err != nil {
			return err
		}
		err = srv.Run(ctx, *listen)
		if cerr := srv.Close(); err == nil {
			err = cerr
		}
		return err
	}
}

func cmdDemo(f *flags) action {
	keep := f.Bool("keep", false, "leave the stations running and print how to reach them")
	dir := f.String("in", "", "`DIR` for the stations (default: a new temporary folder)")
	return func(ctx context.Context, _ []string) error {
		return demo.Run(ctx, demo.Options{Dir: *dir, Keep: *keep, Out: os.Stdout})
	}
}

func cmdBench(f *flags) action {
	f.printsJSON()
	n := f.Int("messages", 2000, "`N` messages in the throughput run")
	lat := f.Int("latency", 300, "`N` messages in each latency run")
	warmup := f.Int("warmup", 50, "`N` messages sent one at a time before measuring, not recorded (as bench/jetstream does)")
	size := f.Int("size", 256, "message text size in `BYTES`")
	soak := f.Duration("soak", 0, "also run this `DURATION` sampling memory, e.g. 10m")
	via := f.String("send", demo.SendStream, "`HOW` the client sends: "+demo.SendStream+" (pipelined, POST messages/stream) or "+demo.SendRequests+" (one POST messages each)")
	link := f.String("link", "", "run the stations in two network namespaces joined by an emulated link of `PROFILE` ("+strings.Join(linkemu.Names(), ", ")+"; needs root)")
	flashN := f.Int("flash", 0, "with --link: `N` FLASH messages measured behind a ROUTINE backlog, each way (default: by profile)")
	backlog := f.Int("backlog", 0, "with --link: `N` ROUTINE messages caught up after an outage (default: by profile)")
	idle := f.Duration("idle", 30*time.Second, "with --link: how long the channels are left idle to measure their traffic, `DURATION`")
	seed := f.Uint64("seed", 1, "with --link: the `SEED` of the link's losses and jitter")
	return func(ctx context.Context, _ []string) error {
		given := map[string]bool{}
		f.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
		if *link != "" {
			for _, n := range []string{"messages", "warmup", "soak", "send"} {
				if given[n] {
					return fmt.Errorf("bench: --%s is not used with --link", n)
				}
			}
			if _, err := linkemu.Named(*link); err != nil {
				return fmt.Errorf("bench: %w", err)
			}
			if *lat < 1 || *flashN < 0 || *backlog < 0 || *size < 1 || *size > 32<<10 || *idle <= 0 {
				return errors.New("bench: --latency must be positive, --flash and --backlog not negative, --size 1..32768, --idle positive")
			}
			o := demo.LinkBenchOptions{Profile: *link, Flash: *flashN, Backlog: *backlog, Idle: *idle, Size: *size, Seed: *seed, JSON: *f.json, Out: os.Stdout, Progress: os.Stderr}
			if given["latency"] {
				o.Latency = *lat
			}
			return demo.BenchLink(ctx, o)
		}
		for _, n := range []string{"flash", "backlog", "idle", "seed"} {
			if given[n] {
				return fmt.Errorf("bench: --%s is used only with --link", n)
			}
		}
		if *via != demo.SendStream && *via != demo.SendRequests {
			return fmt.Errorf("bench: --send is %s or %s, got %q", demo.SendStream, demo.SendRequests, *via)
		}
		if *n < 1 || *lat < 1 || *size < 1 || *size > 32<<10 {
			return errors.New("bench: --messages and --latency must be positive, --size 1..32768")
		}
		if *warmup < 0 {
			return fmt.Errorf("bench: --warmup must not be negative, got %d", *warmup)
		}
		return demo.Bench(ctx, demo.BenchOptions{Messages: *n, LatencyMessages: *lat, Warmup: *warmup, Size: *size, Duration: *soak, Send: *via, JSON: *f.json, Out: os.Stdout})
	}
}

func cmdSim(f *flags) action {
	f.printsJSON()
	seeds := f.Int("seeds", 10, "how many seeds to run: `N`")
	first := f.Uint64("seed", 1, "the first `SEED`")
	hours := f.Float64("hours", 1, "simulated `HOURS` of traffic and faults per seed")
	stations := f.Int("stations", 2, "`N` stations in each network (every pair has its channels)")
	rate := f.Float64("rate", 0, "operator messages per station per simulated minute, `RATE` (default 6 for two stations, 2 for more)")
	faults := f.Float64("faults", 0, "`FAULTS` injected per simulated minute (default 2 per pair, at most 40; -1 for none)")
	workers := f.Int("workers", 0, "`N` seeds run at once (default: the number of CPUs)")
	restores := f.Bool("restores", false, "back stations up and restore them from backups of every age (a fault of its own)")
	return func(ctx context.Context, _ []string) error {
		if *seeds < 1 || *hours <= 0 || *stations < 2 || *stations > 99 {
			return errors.New("sim: --seeds must be at least 1, --hours positive, --stations 2 to 99")
		}
		cfg := sim.Config{Stations: *stations, Duration: time.Duration(*hours * float64(time.Hour)), Rate: *rate, Faults: *faults, Restores: *restores}
		reports := sim.Seeds(ctx, cfg, *first, *seeds, *workers, func(r *sim.Report) {
			if !*f.json {
				fmt.Println(r.Summary())
			}
		})
		t := sim.Total(reports)
		if *f.json {
			if err := json.NewEncoder(os.Stdout).Encode(t); err != nil {
				return err
			}
		} else {
			fmt.Print(t)
		}
		if len(t.Violations) > 0 {
			return fmt.Errorf("sim: %d invariant violation(s); the commands above replay them", len(t.Violations))
		}
		return ctx.Err()
	}
}

func cmdKeyRotate(f *flags) action {
	f.printsJSON()
	as := f.String("as", defaultOperator(), "who orders the change: `NAME`")
	note := f.String("note", "", "why, kept in this station's key history: `TEXT`")
	return func(ctx context.Context, _ []string) error {
		return keyChange(ctx, f, ops.KeyRequest{Reason: identity.ReasonRotate, By: *as, Note: *note})
	}
}

func cmdKeyRevoke(f *flags) action {
	f.printsJSON()
	as := f.String("as", defaultOperator(), "who orders the revocation: `NAME`")
	reason := f.String("reason", "", "why the key is revoked, kept in this station's key history: `TEXT`")
	lost := f.Bool("lost", false, "the old key is lost: no statement can be signed with it, and each peer re-pins this station by its new fingerprint")
	f.require("reason")
	return func(ctx context.Context, _ []string) error {
		kind := identity.ReasonRevoke
		if *lost {
			kind = identity.ReasonLost
		}
		return keyChange(ctx, f, ops.KeyRequest{Reason: kind, By: *as, Note: *reason})
	}
}

func keyChange(ctx context.Context, f *flags, req ops.KeyRequest) error {
	return show(ctx, f, func(o ops.Ops) (*ops.RotationView, error) { return o.RotateKeys(ctx, req) },
		func(v *ops.RotationView) error {
			verb := "rotated"
			switch v.Reason {
			case identity.ReasonRevoke:
				verb = "revoked the old key and changed"
			case identity.ReasonLost:
				verb = "declared the old key lost and changed"
			}
			fmt.Printf("%s %s its keys: fingerprint %s replaces %s\n", v.Station, verb, v.Fingerprint, v.OldFingerprint)
			if v.Reason == identity.ReasonLost {
				fmt.Printf("this station's card is rewritten; key entries signed by the new key went on %d channels\n", v.Channels)
				fmt.Println("peers refuse the new key until their signal officers run hotline peer replace with the new card and fingerprint;")
				fmt.Println("relays refuse it until their operators run hotline relay allow --card CARD --fingerprint FP --replace")
				return nil
			}
			fmt.Printf("key entries signed by the old key went on %d channels; peers follow them and this station's card is rewritten\n", v.Channels)
			fmt.Println("peers and relays follow the change by themselves, over every path (no new peer add or relay allow);")
			fmt.Println("read the new fingerprint to each peer's signal officer anyway")
			return nil
		})
}

func cmdKeyList(f *flags) action {
	f.printsJSON()
	name := f.String("station", "", "the station's `NAME` (this one by default)")
	return func(ctx context.Context, _ []string) error {
		return show(ctx, f, func(o ops.Ops) ([]ops.KeyView, error) {
			n := *name
			if n == "" {
				c, err := o.Card(ctx)
				if err != nil {
					return nil, err
				}
				card, err := identity.ParseCard(c)
				if err != nil {
					return nil, err
				}
				n = card.Name
			}
			return o.KeyHistory(ctx, n)
		}, func(ks []ops.KeyView) error {
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY\tSTATE\tFINGERPRINT\tSINCE\tHOW\tDETAIL")
			for _, k := range ks {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", k.Seq, keyState(k), k.Fingerprint, k.At.UTC().Format(time.RFC3339), k.Reason, inert(k.Detail))
			}
			return tw.Flush()
		})
	}
}

func keyState(k ops.KeyView) string {
	switch {
	case k.Current:
		return "current"
	case k.Revoked:
		return "REVOKED"
	}
	return "retired"
}

func cmdPeerReplace(f *flags) action {
	f.printsJSON()
	cardFile := f.String("card", "", "the peer's new card `FILE`")
	fp := f.String("fingerprint", "", "the new fingerprint `FP` the peer read to you")
	as := f.String("as", defaultOperator(), "who re-pins the peer: `NAME`")
	f.require("card", "fingerprint")
	return func(ctx context.Context, _ []string) error {
		text, err := os.ReadFile(*cardFile)
		if err != nil {
			return fmt.Errorf("peer replace: %w", err)
		}
		return show(ctx, f, func(o ops.Ops) (*ops.PeerView, error) { return o.ReplacePeer(ctx, text, *fp, *as) },
			func(p *ops.PeerView) error {
				fmt.Printf("re-pinned %s (%s), fingerprint %s; its lost key is revoked\n", p.Name, p.Party, p.Fingerprint)
				return nil
			})
	}
}
