package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"hotline/internal/api"
	"hotline/internal/codebook"
	"hotline/internal/ops"
	"hotline/internal/store/postgres/pgtest"
)

// The documents whose commands TestDocsCommands runs, from the module's
// root.
var commandDocs = []string{"README.md", "docs/OPERATIONS.md"}

// docBlocksNotShell are the fenced blocks of those documents, untagged or
// tagged as shell, that are not commands, by how their first line
// begins, and what they are. (A block tagged with another language, json
// or yaml say, holds no commands.)
var docBlocksNotShell = map[string]string{
	"refused (disk full):":         "an alarm's text (TestDiskFills, internal/demo)",
	"refused (peer quota):":        "an alarm's text (internal/station)",
	"USA reports:":                 "a warning's text at the peer",
	"hotline: disk full:":          "an error the command line prints (TestDiskFills)",
	"hotline: bundle import":       "an error the command line prints",
	"scrape_configs:":              "a Prometheus configuration",
	"POST /api/v1/messages/stream": "an HTTP request of the API's send stream (internal/api tests it)",
	"hotline backup manifest v1":   "the manifest a backup holds",
	"ExecStart=":                   "lines of a systemd unit; its command, hotline relay --dir, is run from the prose",
}

// docsNotRun are the commands of those documents that TestDocsCommands
// does not run, each with the reason. A command the documents show that is
// neither run nor listed here fails the test, and so does an entry here
// that the documents no longer show.
var docsNotRun = map[string]string{
	"go test ./...": "runs every test, this one included (.ci/run runs it)",
	"useradd --system --home-dir /var/lib/hotline --shell /usr/sbin/nologin hotline": "adds a system user to the machine that runs the tests",
	"systemctl daemon-reload":              "needs systemd as the machine's init, and changes its services",
	"systemctl enable --now hotline":       "needs systemd as the machine's init, and changes its services",
	"journalctl -u hotline -f":             "follows systemd's journal without end",
	"hotline bench --link PROFILE":         "names the profile's place, not one; internal/demo's TestLinkProfiles runs the stations over each profile",
	"sudo hotline bench --link satcom":     "runs two stations over an emulated satellite link for minutes (docs/BENCHMARKS.md, \"Real links\"); internal/demo's TestLinkProfiles runs them over each profile",
	"hotline channel suspend --reason ...": "prose naming the verb, without a channel; the whole command is run from OPERATIONS.md, \"Suspend and resume\"",
}

// docCommand is a command a document shows: a line of a fenced block
// (continued lines joined, a trailing comment dropped) or an inline code
// span that gives a hotline verb arguments, its white space collapsed.
type docCommand struct {
	where string // FILE:LINE
	text  string
	ran   bool
}

// readDocCommands reads the commands of commandDocs and checks that each
// fenced block is commands or listed in docBlocksNotShell.
func readDocCommands(t *testing.T) []*docCommand {
	t.Helper()
	var cmds []*docCommand
	seenBlocks := map[string]bool{}
	span := regexp.MustCompile("`([^`]+)`")
	for _, file := range commandDocs {
		data, err := os.ReadFile(filepath.Join("..", "..", file))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(data), "\n")
		prose := make([]string, len(lines))
		var block []int
		in, shell := false, false
		for i, l := range lines {
			if fence, ok := strings.CutPrefix(strings.TrimSpace(l), "```"); ok {
				if in && shell {
					cmds = append(cmds, blockCommands(t, file, lines, block, seenBlocks)...)
				}
				// A block tagged with another language (json, yaml...)
				// holds no commands.
				in, shell, block = !in, slices.Contains([]string{"", "sh", "shell", "bash", "console"}, fence), nil
				continue
			}
			if in {
				block = append(block, i)
			} else {
				prose[i] = l
			}
		}
		if in {
			t.Fatalf("%s: a fenced block is not closed", file)
		}
		text := strings.Join(prose, "\n")
		for _, m := range span.FindAllStringSubmatchIndex(text, -1) {
			c := strings.Join(strings.Fields(text[m[2]:m[3]]), " ")
			if commandSpan(c) {
				cmds = append(cmds, &docCommand{where: fmt.Sprintf("%s:%d", file, strings.Count(text[:m[0]], "\n")+1), text: c})
			}
		}
	}
	for prefix := range docBlocksNotShell {
		if !seenBlocks[prefix] {
			t.Errorf("no block of %v begins with %q any more: remove it from docBlocksNotShell", commandDocs, prefix)
		}
	}
	return cmds
}

// blockCommands are the commands of a fenced block (the line numbers of
// its lines in lines), or none if it is one of docBlocksNotShell.
func blockCommands(t *testing.T, file string, lines []string, block []int, seen map[string]bool) []*docCommand {
	var cmds []*docCommand
	cont := false
	for _, i := range block {
		l := strings.TrimSpace(lines[i])
		if l == "" {
			continue
		}
		if len(cmds) == 0 && !cont {
			for prefix := range docBlocksNotShell {
				if strings.HasPrefix(l, prefix) {
					seen[prefix] = true
					return nil
				}
			}
		}
		next := strings.HasSuffix(l, "\\") || strings.HasSuffix(l, "|")
		l = strings.TrimSuffix(l, "\\")
		if cont {
			cmds[len(cmds)-1].text += " " + l
		} else if !strings.HasPrefix(l, "#") {
			cmds = append(cmds, &docCommand{where: fmt.Sprintf("%s:%d", file, i+1), text: l})
		}
		cont = next && !strings.HasPrefix(l, "#")
	}
	for _, c := range cmds {
		c.text = strings.Join(strings.Fields(dropComment(c.text)), " ")
	}
	return cmds
}

// dropComment cuts a shell comment (" #" outside quotes) off a line.
func dropComment(l string) string {
	var quote rune
	for i, r := range l {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == '#' && i > 0 && (l[i-1] == ' ' || l[i-1] == '\t'):
			return l[:i]
		}
	}
	return l
}

// commandSpan says whether an inline code span is a command: hotline and
// a verb given arguments (not a verb named in passing).
func commandSpan(s string) bool {
	words := strings.Fields(s)
	if len(words) < 2 || words[0] != "hotline" {
		return false
	}
	words = words[1:]
	longest := 0
	for _, v := range verbs {
		vw := strings.Fields(v.name)
		if len(vw) > longest && len(vw) <= len(words) && slices.Equal(vw, words[:len(vw)]) {
			longest = len(vw)
		}
	}
	return len(words) > longest
}

// docStation is a station (or relay) directory the documents' commands
// act on: /var/lib/hotline and "--dir …" in them stand for it.
type docStation struct {
	name string
	dir  string
	peer string // HOST:PORT for peers (the relay's listener, for a relay)
	api  string // HOST:PORT of its API
	proc *docProc
}

// docProc is a command the test runs in the background.
type docProc struct {
	name     string
	cmd      *exec.Cmd
	log      string
	done     chan struct{}
	err      error
	stopping bool // stopped by the test
}

// docRun runs the documents' commands, in a working directory of its own
// (where the cards, files and bundles they name are), against the binary
// under test: the shell finds it as hotline.
type docRun struct {
	t        *testing.T
	ctx      context.Context
	work     string
	cmds     []*docCommand
	relay    *docStation
	restored string
	procs    []*docProc
}

// take marks the documents' commands with this text run, and fails the
// test if there is none: the test must follow the documents.
func (d *docRun) take(text string) {
	d.t.Helper()
	found := false
	for _, c := range d.cmds {
		if c.text == text {
			c.ran, found = true, true
		}
	}
	if !found {
		d.t.Fatalf("the documents no longer show `%s`: change TestDocsCommands to run what they show now", text)
	}
}

var (
	docOptional = regexp.MustCompile(`\[(--[^\]]*)\]`)
	docPeerPort = regexp.MustCompile(`[\w.-]+:7443\b`)
	docAPIPort  = regexp.MustCompile(`[\w.-]+:7080\b`)
	docRelay    = regexp.MustCompile(`[\w.-]+:7444\b`)
)

// expand makes a command of the documents one to run here, on station s:
// the substitutions given (old, new, ...) first, then the station's
// directory for /var/lib/hotline and "--dir …", the relay's for
// /var/lib/hotline-relay, free ports for 7443 (peers), 7080 (the API) and
// 7444 (the relay), and optional flags ([--json]) given.
func (d *docRun) expand(s *docStation, text string, subs ...string) string {
	for i := 0; i+1 < len(subs); i += 2 {
		if !strings.Contains(text, subs[i]) {
			d.t.Fatalf("`%s` does not hold %q, which the test replaces", text, subs[i])
		}
		text = strings.ReplaceAll(text, subs[i], subs[i+1])
	}
	if d.relay != nil {
		text = strings.ReplaceAll(text, "/var/lib/hotline-relay", d.relay.dir)
		text = docRelay.ReplaceAllString(text, d.relay.peer)
	}
	if d.restored != "" {
		text = strings.ReplaceAll(text, "/var/lib/hotline-restored", d.restored)
	}
	if s != nil {
		text = strings.ReplaceAll(text, "/var/lib/hotline", s.dir)
		text = strings.ReplaceAll(text, "--dir …", "--dir "+s.dir)
		text = strings.ReplaceAll(text, "--dir ...", "--dir "+s.dir)
		text = docPeerPort.ReplaceAllString(text, s.peer)
		text = docAPIPort.ReplaceAllString(text, s.api)
	}
	return docOptional.ReplaceAllString(text, "$1")
}

// shell is a command for bash in the working directory, the binary
// under test first on the PATH, $HOTLINE_DIR the station's (for the
// commands that leave out --dir).
func (d *docRun) shell(s *docStation, line string) *exec.Cmd {
	cmd := exec.CommandContext(d.ctx, "bash", "-c", "set -o pipefail; "+line)
	cmd.Dir = d.work
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "HOTLINE_DIR=") && !strings.HasPrefix(e, "HOTLINE_RELAY_DIR=") && !strings.HasPrefix(e, "PATH=") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(cmd.Env, "PATH="+filepath.Dir(binary)+string(os.PathListSeparator)+os.Getenv("PATH"))
	if s != nil {
		cmd.Env = append(cmd.Env, "HOTLINE_DIR="+s.dir)
	}
	if d.relay != nil {
		cmd.Env = append(cmd.Env, "HOTLINE_RELAY_DIR="+d.relay.dir)
	}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// sh runs the documents' command text on station s, with stdin, and
// returns what it did.
func (d *docRun) sh(s *docStation, stdin, text string, subs ...string) result {
	d.t.Helper()
	d.take(text)
	line := d.expand(s, text, subs...)
	cmd := d.shell(s, line)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		d.t.Fatalf("%s: %v", line, err)
	}
	if d.ctx.Err() != nil {
		d.t.Fatalf("%s: the test ran out of time", line)
	}
	return r
}

// ok runs a command that must succeed and returns its standard output.
func (d *docRun) ok(s *docStation, text string, subs ...string) string {
	d.t.Helper()
	return d.okIn(s, "", text, subs...)
}

func (d *docRun) okIn(s *docStation, stdin, text string, subs ...string) string {
	d.t.Helper()
	r := d.sh(s, stdin, text, subs...)
	if r.code != 0 {
		d.t.Fatalf("`%s` as run here (%s): exit %d\nstdout %s\nstderr %s", text, d.expand(s, text, subs...), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// start runs a command of the documents that runs until stopped (a
// station, a relay) in the background, its output in a log file.
func (d *docRun) start(s *docStation, text string, subs ...string) *docProc {
	d.t.Helper()
	d.take(text)
	line := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(d.expand(s, text, subs...)), "&"))
	log, err := os.CreateTemp(d.work, s.name+"-*.log")
	if err != nil {
		d.t.Fatal(err)
	}
	cmd := d.shell(s, "exec "+line)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	log.Close()
	p := &docProc{name: s.name, cmd: cmd, log: log.Name(), done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	d.procs = append(d.procs, p)
	d.t.Cleanup(func() { p.stop() })
	return p
}

// stop stops the process as its operator would (SIGTERM) and waits for it.
func (p *docProc) stop() {
	p.stopping = true
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *docProc) output() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// until waits for cond, checking it every 100 ms, for as long as the test
// may run; what names what is awaited.
func (d *docRun) until(what string, cond func() bool) {
	d.t.Helper()
	for !cond() {
		for _, p := range d.procs {
			select {
			case <-p.done:
				if !p.stopping {
					d.t.Fatalf("waiting for %s: %s stopped: %v\n%s", what, p.name, p.err, p.output())
				}
			default:
			}
		}
		select {
		case <-d.ctx.Done():
			d.t.Fatalf("gave up waiting for %s", what)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// running waits until the hotline run of s answers on its API.
func (d *docRun) running(s *docStation) {
	d.t.Helper()
	d.until(s.name+" to run", func() bool {
		if _, err := os.Stat(filepath.Join(s.dir, api.AddrFile)); err != nil {
			return false
		}
		c, err := api.NewClient(s.dir)
		if err != nil {
			return false
		}
		ctx, cancel := context.WithTimeout(d.ctx, 2*time.Second)
		defer cancel()
		_, err = c.Status(ctx)
		return err == nil
	})
}

// view runs hotline VERB --dir DIR --json (not a command of the
// documents) and decodes what it prints into v.
func (d *docRun) view(s *docStation, v any, verb ...string) {
	d.t.Helper()
	out := mustRun(d.t, append(verb, "--dir", s.dir, "--json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		d.t.Fatalf("hotline %s --json: %v\n%s", strings.Join(verb, " "), err, out)
	}
}

func (d *docRun) channel(s *docStation, id string) ops.ChannelView {
	d.t.Helper()
	var cs []ops.ChannelView
	d.view(s, &cs, "channel", "list")
	for _, c := range cs {
		if c.ID == id {
			return c
		}
	}
	return ops.ChannelView{}
}

func (d *docRun) message(s *docStation, box, id string) *ops.MessageView {
	d.t.Helper()
	var ms []ops.MessageView
	d.view(s, &ms, box)
	for i := range ms {
		if ms[i].ID == id {
			return &ms[i]
		}
	}
	return nil
}

func (d *docRun) peerFingerprint(s *docStation, peer string) string {
	d.t.Helper()
	var ps []ops.PeerView
	d.view(s, &ps, "peer", "list")
	for _, p := range ps {
		if p.Name == peer {
			return p.Fingerprint
		}
	}
	return ""
}

func (d *docRun) copyFile(from, to string) {
	d.t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		d.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.work, to), b, 0o644); err != nil {
		d.t.Fatal(err)
	}
}

func (d *docRun) write(name, content string, mode os.FileMode) {
	d.t.Helper()
	if err := os.WriteFile(filepath.Join(d.work, name), []byte(content), mode); err != nil {
		d.t.Fatal(err)
	}
}

func (d *docRun) station(name string) *docStation {
	return &docStation{name: name, dir: filepath.Join(d.work, strings.ToLower(name)), peer: freeLoopback(d.t), api: freeLoopback(d.t)}
}

// docQuote is the text of the first code span of OPERATIONS.md that
// follows the words given, its white space collapsed.
func docQuote(t *testing.T, after string) string {
	t.Helper()
	data, err := os.ReadFile("../../docs/OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(data)), " ")
	_, rest, ok := strings.Cut(text, after)
	if !ok {
		t.Fatalf("docs/OPERATIONS.md no longer says %q", after)
	}
	_, rest, _ = strings.Cut(rest, "`")
	quote, _, _ := strings.Cut(rest, "`")
	return quote
}

// TestDocsCommands runs the commands of README.md and docs/OPERATIONS.md
// as they are written, in order, against the binary under test: every
// line of their fenced shell blocks and every inline command that gives a
// hotline verb arguments, with temporary directories for /var/lib/...,
// free ports for theirs, and the fingerprints, ids and files that the
// steps before made. Two stations are created, paired and run; they
// agree channels, send, acknowledge, export and verify, carry a bundle,
// back up and restore, run doctor, list a relay and reach each other
// over it too, change and revoke keys, lose one; a station on PostgreSQL is set up on
// two machines as OPERATIONS.md says, and the standby says what the
// documents say. A command the documents show that this test neither
// runs nor lists in docsNotRun, with the reason, fails it, so the
// documents cannot drift from what the binary does. It waits for
// conditions, never for a time.
func TestDocsCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("runs stations, a relay and PostgreSQL as real processes")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	d := &docRun{t: t, ctx: ctx, work: t.TempDir(), cmds: readDocCommands(t)}

	// Install: the documented build, run dry (go build -n: its -trimpath
	// and CGO_ENABLED=0 would compile every package again, minutes on a
	// cold build cache), and the same binary linked with the same
	// -ldflags from the packages TestMain built (-trimpath and cgo change
	// its size by under 1%), in the background; its size is checked
	// against what OPERATIONS.md says at the end.
	built := make(chan result, 1)
	go func() {
		const build = `CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o hotline ./cmd/hotline`
		var r result
		for _, line := range []string{
			strings.Replace(build, "go build", "go build -n", 1),
			`go build -buildvcs=false -ldflags="-s -w" -o ` + filepath.Join(d.work, "stripped") + ` ./cmd/hotline`,
		} {
			cmd := exec.CommandContext(ctx, "bash", "-c", line)
			cmd.Dir = filepath.Join("..", "..")
			if out, err := cmd.CombinedOutput(); err != nil {
				r = result{code: 1, stderr: fmt.Sprintf("%s: %v\n%s", line, err, out)}
				break
			}
		}
		built <- r
	}()
	d.take(`CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o hotline ./cmd/hotline`)

	// README: the demo (go run builds the binary TestMain built).
	d.take("go run ./cmd/hotline demo")
	demoRun(t)

	usa, chn := d.station("USA"), d.station("CHN")
	d.ok(usa, `hotline init --dir /var/lib/hotline --name USA --party USA --peer-listen 0.0.0.0:7443 --endpoint usa-hotline.mil.example:7443 --api-listen 127.0.0.1:7080`)
	d.ok(chn, `hotline init --dir /var/lib/hotline --name USA --party USA --peer-listen 0.0.0.0:7443 --endpoint usa-hotline.example:7443 --api-listen 127.0.0.1:7080`,
		"--name USA --party USA", "--name CHN --party CHN")
	fp := map[*docStation]string{}
	for _, s := range []*docStation{usa, chn} {
		fp[s] = strings.TrimSpace(d.ok(s, `hotline fingerprint --dir /var/lib/hotline`))
	}
	if again := strings.TrimSpace(d.ok(usa, `hotline fingerprint --dir …`)); again != fp[usa] {
		t.Fatalf("fingerprint printed %q, then %q", fp[usa], again)
	}
	d.copyFile(filepath.Join(usa.dir, "card"), "usa.card")
	d.copyFile(filepath.Join(chn.dir, "card"), "chn.card")
	const readmePeerAdd = `hotline peer add --dir /var/lib/hotline --card chn.card --fingerprint XAVA-4JM3-I4OA-A4EV-RWCL-CL7Q-U7RY-KA7H`
	d.ok(usa, readmePeerAdd, "XAVA-4JM3-I4OA-A4EV-RWCL-CL7Q-U7RY-KA7H", fp[chn])
	d.ok(chn, readmePeerAdd, "chn.card", "usa.card", "XAVA-4JM3-I4OA-A4EV-RWCL-CL7Q-U7RY-KA7H", fp[usa])
	d.ok(usa, `hotline peer add --dir … --card chn.card --fingerprint XAVA-4JM3-…`, "XAVA-4JM3-…", fp[chn]) // the same card again

	const readmeRun = `hotline run --dir /var/lib/hotline &`
	for _, s := range []*docStation{usa, chn} {
		s.proc = d.start(s, readmeRun)
	}
	for _, s := range []*docStation{usa, chn} {
		d.running(s)
	}

	// Channels: README's, OPERATIONS.md's inline one (as usa-chn-ops),
	// and its channel terms (usa-chn-patrol, escalating to staff).
	agreed := func(id string) {
		t.Helper()
		d.until(id+" active at both stations", func() bool {
			return d.channel(usa, id).Agreement == "active" && d.channel(chn, id).Agreement == "active"
		})
	}
	arrived := func(id string) {
		t.Helper()
		d.until("the proposal of "+id+" at CHN", func() bool { return d.channel(chn, id).Agreement == "incoming" })
	}
	d.ok(usa, `hotline channel propose --dir /var/lib/hotline --peer CHN --channel usa-chn-staff --level staff`)
	arrived("usa-chn-staff")
	d.ok(chn, `hotline channel accept --dir /var/lib/hotline --channel usa-chn-staff`)
	agreed("usa-chn-staff")
	d.ok(usa, `hotline channel propose --dir … --peer CHN --channel usa-chn-staff --level staff [--deadline FLASH=5m,IMMEDIATE=20m]`, "usa-chn-staff", "usa-chn-ops")
	arrived("usa-chn-ops")
	d.ok(chn, `hotline channel accept --dir … --channel usa-chn-staff`, "usa-chn-staff", "usa-chn-ops")
	d.ok(usa, `hotline channel propose --dir … --peer CHN --channel usa-chn-patrol --level unit --escalate-to usa-chn-staff --flash-exempt --deadline FLASH=5m,IMMEDIATE=20m --delivery FLASH=30s --link-test 10s --check-every 2h --check-window 15m`)
	mustRun(t, "channel", "propose", "--dir", usa.dir, "--peer", "CHN", "--channel", "usa-chn-theatre", "--level", "theatre")
	for _, id := range []string{"usa-chn-patrol", "usa-chn-theatre"} {
		arrived(id)
		mustRun(t, "channel", "accept", "--dir", chn.dir, "--channel", id)
	}
	for _, id := range []string{"usa-chn-ops", "usa-chn-patrol", "usa-chn-theatre"} {
		agreed(id)
	}
	// A proposal withdrawn: CHN follows, and refuses to accept it; the
	// refusals of bad requests change nothing.
	mustRun(t, "channel", "propose", "--dir", usa.dir, "--peer", "CHN", "--channel", "usa-chn-draft", "--level", "staff")
	arrived("usa-chn-draft")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"channel", "withdraw", "--dir", usa.dir, "--channel", "nope"}, "unknown channel"},
		{[]string{"channel", "withdraw", "--dir", chn.dir, "--channel", "usa-chn-draft"}, "proposed by USA, not by this station"},
		{[]string{"channel", "withdraw", "--dir", usa.dir, "--channel", "usa-chn-staff"}, "accepted by CHN already"},
		{[]string{"channel", "withdraw", "--dir", usa.dir}, "missing --channel"},
	} {
		checkFailed(t, c.args, hotline(t, c.args...), c.want)
	}
	if out := d.ok(usa, `hotline channel withdraw --dir … --channel usa-chn-draft --reason "wrong level" [--as "Maj. Lee"]`); !strings.Contains(out, "withdrew channel usa-chn-draft") {
		t.Errorf("withdraw printed %q", out)
	}
	d.until("usa-chn-draft withdrawn at CHN", func() bool { return d.channel(chn, "usa-chn-draft").Agreement == "withdrawn" })
	if c := d.channel(usa, "usa-chn-draft"); c.Agreement != "withdrawn" {
		t.Errorf("usa-chn-draft at USA is %s", c.Agreement)
	}
	args := []string{"channel", "accept", "--dir", chn.dir, "--channel", "usa-chn-draft"}
	checkFailed(t, args, hotline(t, args...), "USA withdrew its proposal of channel usa-chn-draft")
	args = []string{"channel", "withdraw", "--dir", usa.dir, "--channel", "usa-chn-draft", "--json"}
	checkFailed(t, args, hotline(t, args...), "withdrawn already")

	if c := d.channel(chn, "usa-chn-ops"); c.Deadlines["FLASH"] != "5m0s" || c.Deadlines["IMMEDIATE"] != "20m0s" {
		t.Errorf("usa-chn-ops, proposed with --deadline FLASH=5m,IMMEDIATE=20m, has the deadlines %v", c.Deadlines)
	}
	if c := d.channel(chn, "usa-chn-patrol"); c.EscalateTo != "usa-chn-staff" || !c.FlashExempt || c.CheckEvery != "2h0m0s" || c.CheckWindow != "15m0s" || c.LinkTest != "10s" || c.Delivery["FLASH"] != "30s" {
		t.Errorf("usa-chn-patrol's terms at CHN are not those proposed: %+v", c)
	}

	// README: send, the inbox, acknowledge, the outbox, export, verify.
	if out := d.ok(usa, `hotline send --dir /var/lib/hotline --channel usa-chn-staff --precedence FLASH --text "..."`); strings.TrimSpace(out) != "usa-chn-staff/USA/2" {
		t.Fatalf("the README acknowledges usa-chn-staff/USA/2, its FLASH; send printed %q", out)
	}
	d.write("reports.txt", "position report 1\nposition report 2\n\nposition report 3\n", 0o644)
	if out := d.ok(usa, `hotline send --dir /var/lib/hotline --channel usa-chn-staff --precedence ROUTINE --lines < reports.txt`); strings.Count(out, "usa-chn-staff/USA/") != 3 {
		t.Errorf("send --lines of three lines and a blank one printed %q", out)
	}
	d.until("usa-chn-staff/USA/2 at CHN", func() bool { return d.message(chn, "inbox", "usa-chn-staff/USA/2") != nil })
	if out := d.ok(chn, `hotline inbox --dir /var/lib/hotline --json`); !strings.Contains(out, `"usa-chn-staff/USA/2"`) {
		t.Errorf("CHN's inbox --json does not show usa-chn-staff/USA/2:\n%s", out)
	}
	if out := d.ok(chn, `hotline ack --dir /var/lib/hotline --id usa-chn-staff/USA/2 --as "Cdr. Li"`); out != "usa-chn-staff/USA/2 acknowledged by Cdr. Li\n" {
		t.Errorf("ack printed %q", out)
	}
	d.until("USA's outbox to show its FLASH acknowledged", func() bool {
		var ms []ops.MessageView
		json.Unmarshal([]byte(d.ok(usa, `hotline outbox --dir /var/lib/hotline --json`)), &ms)
		for _, m := range ms {
			if m.ID == "usa-chn-staff/USA/2" {
				return m.Status == "acknowledged" && m.AckBy == "Cdr. Li"
			}
		}
		return false
	})
	d.ok(usa, `hotline export --dir /var/lib/hotline --channel usa-chn-staff --out staff.json`)
	if out := d.ok(nil, `hotline verify staff.json`); !strings.Contains(out, "verified") {
		t.Errorf("verify staff.json printed %q", out)
	}
	d.ok(usa, `hotline export --dir … --channel ID --out FILE`, "ID", "usa-chn-ops", "FILE", "ops.json")
	if out := d.ok(nil, `hotline verify FILE`, "FILE", "ops.json"); !strings.Contains(out, "verified") {
		t.Errorf("verify ops.json printed %q", out)
	}

	// OPERATIONS.md: deadlines, checks, a message of CHN's acknowledged at USA.
	chnMsg := strings.TrimSpace(mustRun(t, "send", "--dir", chn.dir, "--channel", "usa-chn-staff", "--precedence", "PRIORITY", "--text", "Communication check from CHN"))
	d.until(chnMsg+" at USA", func() bool { return d.message(usa, "inbox", chnMsg) != nil })
	if out := d.ok(usa, `hotline inbox --dir … --channel usa-chn-staff`); !strings.Contains(out, chnMsg) {
		t.Errorf("USA's inbox does not show %s:\n%s", chnMsg, out)
	}
	if out := d.ok(usa, `hotline ack --dir … --id usa-chn-staff/CHN/57 --as "Lt. Wu"`, "usa-chn-staff/CHN/57", chnMsg); out != chnMsg+" acknowledged by Lt. Wu\n" {
		t.Errorf("ack printed %q", out)
	}
	d.ok(usa, `hotline escalations --dir … [--channel ID]`, "ID", "usa-chn-staff")
	if out := d.ok(usa, `hotline outbox --dir … --channel ID`, "ID", "usa-chn-staff"); !strings.Contains(out, "usa-chn-staff/USA/2") {
		t.Errorf("outbox --channel usa-chn-staff:\n%s", out)
	}
	d.ok(usa, `hotline channel checks --dir … --channel usa-chn-staff`)

	// Console operators, at USA (running) and, as the README has it, at CHN.
	const password = "a long enough password\n"
	d.okIn(usa, password, `hotline operator add --dir /var/lib/hotline --name wang --as "Lt. Cdr. Wang" --role duty --lang zh`)
	d.write("ann.pw", password, 0o600)
	d.ok(usa, `hotline operator add --dir /var/lib/hotline --name ann --role admin --password-file ann.pw`)
	if out := d.ok(usa, `hotline operator list --dir /var/lib/hotline`); !strings.Contains(out, "wang") || !strings.Contains(out, "ann") {
		t.Errorf("operator list:\n%s", out)
	}
	d.ok(usa, `hotline operator unlock --dir /var/lib/hotline --name wang`)
	d.ok(usa, `hotline operator remove --dir /var/lib/hotline --name ann`)
	d.okIn(chn, password, `hotline operator add --dir /var/lib/hotline --name ann --role duty`)

	// Standard phrases, notices and incidents, on usa-chn-theatre. The
	// documents' window (May 2026) would be past, and a past activity
	// finds nothing: it moves to tomorrow.
	day := time.Now().UTC().Add(24 * time.Hour).Format("2006-01-02")
	window := []string{"2026-05-01T03:00Z", day + "T03:00Z", "2026-05-01T09:00Z", day + "T09:00Z"}
	d.ok(nil, `hotline codebook list --lang zh --category request`)
	d.write("alpha-bravo-1.json", codebookExtension(), 0o644)
	if out := d.ok(usa, `hotline codebook add --dir … --file alpha-bravo-1.json`); !strings.Contains(out, "alpha-bravo/1") {
		t.Errorf("codebook add printed %q", out)
	}
	coded := strings.TrimSpace(d.ok(usa, `hotline send --dir … --channel usa-chn-theatre --precedence IMMEDIATE --code MNV08 --param course=090 --param speed=12`))
	d.until(coded+" at CHN", func() bool { return d.message(chn, "inbox", coded) != nil })
	if out := d.ok(chn, `hotline inbox --dir … --channel usa-chn-theatre --lang zh`); !strings.Contains(out, "航向") {
		t.Errorf("CHN's inbox in Chinese does not show MNV08 in Chinese:\n%s", out)
	}
	const planAdd = `hotline plan add --dir … --channel usa-chn-theatre --kind transit --polygon "16.2,111.9;16.35,112.05;18.05,110.55;17.9,110.4" --from 2026-05-01T03:00Z --until 2026-05-01T09:00Z --units DDG-00`
	const noticeSend = `hotline notice send --dir … --channel usa-chn-theatre --plan 1`
	d.ok(chn, planAdd, append([]string{"DDG-00", `"Frigate 548"`}, window...)...)
	chnNotice := strings.TrimSpace(d.ok(chn, noticeSend))
	d.until(chnNotice+" at USA", func() bool { return d.message(usa, "inbox", chnNotice) != nil })
	d.ok(usa, planAdd, window...)
	var findings []ops.FindingView
	d.until("a finding at USA", func() bool { d.view(usa, &findings, "findings"); return len(findings) > 0 })
	if out := d.ok(usa, `hotline findings --dir …`); !strings.Contains(out, "FINDING 1") {
		t.Errorf("findings at USA:\n%s", out)
	}
	d.ok(usa, `hotline send --dir … --finding 1 --precedence IMMEDIATE`)
	d.ok(usa, noticeSend)
	encounter := encounterFlags("--time", day+"T03:10Z")
	encounter[slices.Index(encounter, "--cpa-time")+1] = day + "T03:14Z"
	d.ok(usa, `hotline report encounter --dir … --channel usa-chn-theatre --time … --own-unit … --other-unit … --unsafe`,
		"--time … --own-unit … --other-unit …", strings.Join(quoteArgs(encounter), " "))
	d.until("a finding at CHN", func() bool { d.view(chn, &findings, "findings"); return len(findings) > 0 })
	opened := d.ok(chn, `hotline incident open --dir … --finding 1`)
	m := regexp.MustCompile(`^incident (usa-chn-theatre/CHN/\d+): open`).FindStringSubmatch(opened)
	if m == nil {
		t.Fatalf("incident open printed %q", opened)
	}
	id := m[1]
	state := func(s *docStation, want string) {
		t.Helper()
		d.until(id+" "+want+" at "+s.name, func() bool {
			var v ops.IncidentView
			r := hotline(t, "incident", "show", "--dir", s.dir, "--id", id, "--json")
			return r.code == 0 && json.Unmarshal([]byte(r.stdout), &v) == nil && v.State == want
		})
	}
	state(usa, "open")
	d.ok(usa, `hotline incident acknowledge --dir … --id usa-chn-theatre/CHN/10`, "usa-chn-theatre/CHN/10", id)
	d.ok(usa, `hotline incident discuss --dir … --id usa-chn-theatre/CHN/10 --note "…"`, "usa-chn-theatre/CHN/10", id)
	const closeIncident = `hotline incident close --dir … --id usa-chn-theatre/CHN/10 --outcome resolved`
	d.ok(usa, closeIncident, "usa-chn-theatre/CHN/10", id)
	state(chn, "closing")
	d.ok(chn, closeIncident, "usa-chn-theatre/CHN/10", id)
	state(usa, "closed")
	if out := d.ok(usa, `hotline incident show --dir … --id usa-chn-theatre/CHN/10`, "usa-chn-theatre/CHN/10", id); !strings.Contains(out, "closed") {
		t.Errorf("incident show:\n%s", out)
	}
	d.ok(usa, `hotline incident report --dir … --incident usa-chn-theatre/CHN/10 --out incident.html [--lang zh]`, "usa-chn-theatre/CHN/10", id)
	if b, err := os.ReadFile(filepath.Join(d.work, "incident.html")); err != nil || !bytes.Contains(b, []byte(id)) {
		t.Errorf("incident.html: %v", err)
	}

	// A multilateral network: JPN, which pinned USA only, takes USA's
	// introduction of CHN; USA addresses a group and every party.
	jpn := d.station("JPN")
	mustRun(t, "init", "--dir", jpn.dir, "--name", "JPN", "--party", "JPN", "--peer-listen", jpn.peer)
	mustRun(t, "peer", "add", "--dir", jpn.dir, "--card", filepath.Join(d.work, "usa.card"), "--fingerprint", fp[usa])
	d.ok(usa, `hotline peer introduce --dir … --peer CHN --out chn.intro`)
	if r := d.sh(jpn, "", `hotline peer add --dir … --introduction chn.intro`); r.code == 0 || !strings.Contains(r.stderr, "USA introduces CHN (party CHN, fingerprint "+fp[chn]+")") {
		t.Errorf("peer add --introduction without --by: exit %d, %s", r.code, r.stderr)
	}
	d.ok(jpn, `hotline peer add --dir … --introduction chn.intro --by "Cdr Sato"`)
	if out := d.ok(jpn, `hotline peer list --dir …`); !strings.Contains(out, "introduced by USA, taken by Cdr Sato") {
		t.Errorf("peer list at JPN:\n%s", out)
	}
	d.ok(usa, `hotline group set --dir … --name "SCS navies" --peers CHN`)
	if out := d.ok(usa, `hotline group list --dir …`); !strings.Contains(out, "SCS navies") {
		t.Errorf("group list:\n%s", out)
	}
	d.ok(usa, `hotline send --dir … --to "SCS navies" --level theatre --precedence FLASH --text "Hold position and report."`)
	broadcast := strings.Fields(d.ok(usa, `hotline notice send --dir … --to all --level theatre --kind live_fire --circle 16.5,112.5,15 --from 2026-05-01T00:00Z --until 2026-05-01T06:00Z --units DDG-00 --title "Live fire"`))[0]
	d.until(broadcast+" delivered to CHN", func() bool {
		var v ops.BroadcastView
		r := hotline(t, "notice", "show", "--dir", usa.dir, "--id", broadcast, "--json")
		return r.code == 0 && json.Unmarshal([]byte(r.stdout), &v) == nil && v.Delivered == 1
	})
	if out := d.ok(usa, `hotline notice show --dir … --id b-3f9a1c0e5d7b2468`, "b-3f9a1c0e5d7b2468", broadcast); !strings.Contains(out, "1 party: 1 sent, 1 delivered") {
		t.Errorf("notice show:\n%s", out)
	}
	if out := d.ok(usa, `hotline export --dir … --broadcast b-3f9a1c0e5d7b2468 --out set/`, "b-3f9a1c0e5d7b2468", broadcast); !strings.Contains(out, "usa-chn-theatre/USA/") {
		t.Errorf("export --broadcast:\n%s", out)
	}
	if out := mustRun(t, "verify", filepath.Join(d.work, "set", "usa-chn-theatre.json")); !strings.Contains(out, "disclosed usa-chn-theatre/USA/") {
		t.Errorf("verify of the set's bundle:\n%s", out)
	}
	if out := d.ok(usa, `hotline notice list --dir …`); strings.Count(out, "\n") != 3 {
		t.Errorf("notice list:\n%s", out)
	}
	if out := d.ok(usa, `producer | hotline send --dir … --channel usa-chn-theatre --precedence ROUTINE --lines [--json]`, "producer", `printf 'track 1\ntrack 2\n'`); strings.Count(out, "\n") != 2 {
		t.Errorf("send --lines --json of two lines printed:\n%s", out)
	}

	// Suspend and resume; calls; bundles carried by hand.
	d.ok(usa, `hotline channel suspend --dir … --channel usa-chn-staff --reason "…" --as "Minister"`)
	d.until("the suspension at CHN", func() bool { return d.channel(chn, "usa-chn-staff").State == "suspended" })
	d.ok(usa, `hotline channel resume --dir … --channel usa-chn-staff [--reason "…"] --as "Minister"`)
	d.until("usa-chn-staff resumed at CHN", func() bool { return d.channel(chn, "usa-chn-staff").State != "suspended" })
	callOf := func() string {
		t.Helper()
		call := strings.TrimSpace(d.ok(usa, `hotline call start --channel ID`, "ID", "usa-chn-staff"))
		d.until("call "+call+" at CHN", func() bool {
			var cs []ops.CallView
			d.view(chn, &cs, "call", "list")
			return slices.ContainsFunc(cs, func(c ops.CallView) bool { return c.ID == call })
		})
		return call
	}
	d.ok(chn, `hotline call answer|decline --id ID`, "answer|decline", "answer", "ID", callOf())
	d.ok(chn, `hotline call answer|decline --id ID`, "answer|decline", "decline", "ID", callOf())
	os.Mkdir(filepath.Join(d.work, "usb"), 0o700)
	d.ok(usa, `hotline bundle export --dir /var/lib/hotline --peer CHN --out /media/usb/usa-to-chn.bundle`, "/media/usb", filepath.Join(d.work, "usb"))
	d.ok(chn, `hotline bundle import --dir /var/lib/hotline /media/usb/usa-to-chn.bundle`, "/media/usb", filepath.Join(d.work, "usb"))
	d.ok(usa, `hotline bundle export --peer CHN --out f`)
	d.ok(chn, `hotline bundle import f`)

	// Watch: doctor and status of the running station.
	if r := d.sh(usa, "", `hotline doctor --dir /var/lib/hotline [--json]`); r.code != 0 {
		t.Errorf("doctor of the running USA: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var status ops.StatusView
	if err := json.Unmarshal([]byte(d.ok(usa, `hotline status --json`)), &status); err != nil || status.Station != "USA" || len(status.Channels) != 5 {
		t.Errorf("status --json: %v %+v", err, status)
	}
	d.ok(usa, `hotline channel list --json`)

	// Back up while it runs, restore elsewhere.
	os.Mkdir(filepath.Join(d.work, "secure"), 0o700)
	d.restored = filepath.Join(d.work, "usa-restored")
	d.ok(usa, `hotline backup --dir /var/lib/hotline --out /secure/usa-2026-11-25.backup`, "/secure", filepath.Join(d.work, "secure"))
	if out := d.ok(usa, `hotline restore --dir /var/lib/hotline-restored /secure/usa-2026-11-25.backup`, "/secure", filepath.Join(d.work, "secure")); !strings.Contains(out, "USA") || !strings.Contains(out, fp[usa]) {
		t.Errorf("restore does not name the station and its fingerprint %s: %q", fp[usa], out)
	}

	// As a systemd service: the directory made as root, the station
	// created in it (the dedicated user and sudo left out: the test adds
	// no user to the machine), the unit printed; systemd is not run.
	svc := d.station("SVC")
	d.ok(svc, `install -d -m 0700 -o hotline -g hotline /var/lib/hotline`, " -o hotline -g hotline", "")
	d.ok(svc, `sudo -u hotline hotline init --dir /var/lib/hotline --name USA …`, "sudo -u hotline ", "", "…", "--party USA --peer-listen 127.0.0.1:7443")
	if fi, err := os.Stat(svc.dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the station directory made by install -d and init: %v, %v", fi.Mode(), err)
	}
	unit := d.ok(svc, `hotline install --print-unit`)
	d.ok(svc, `hotline install --print-unit --dir /var/lib/hotline --user hotline > /etc/systemd/system/hotline.service`, "/etc/systemd/system", d.work)
	if b, _ := os.ReadFile(filepath.Join(d.work, "hotline.service")); !strings.Contains(string(b), "ExecStart=/usr/local/bin/hotline run --dir "+svc.dir) || !strings.Contains(string(b), "User=hotline") || string(b) != unit {
		t.Errorf("the unit written:\n%s\nthe unit printed:\n%s", b, unit)
	}

	// HTTPS for the console and the API, on a station of its own.
	tls := d.station("TLS")
	certDir := filepath.Join(d.work, "etc-hotline")
	os.Mkdir(certDir, 0o700)
	selfSigned(t, certDir, "console")
	d.ok(tls, `hotline init --dir /var/lib/hotline ... --api-listen 0.0.0.0:7080 --tls-cert /etc/hotline/console.pem --tls-key /etc/hotline/console.key`,
		"/var/lib/hotline ...", "/var/lib/hotline --name TLS --party USA --peer-listen 127.0.0.1:7443", "/etc/hotline", certDir)
	if cfg := configOf(t, tls.dir); cfg["api_tls_cert"] != filepath.Join(certDir, "console.pem") {
		t.Errorf("init --tls-cert: config %v", cfg)
	}
	d.ok(tls, `hotline api tls --dir /var/lib/hotline --cert /etc/hotline/console.pem --key /etc/hotline/console.key`, "/etc/hotline", certDir)
	d.ok(tls, `hotline api tls --dir /var/lib/hotline --off`)
	d.ok(tls, `hotline api tls --off`)
	if cfg := configOf(t, tls.dir); cfg["api_tls_cert"] != nil {
		t.Errorf("api tls --off left %v", cfg["api_tls_cert"])
	}

	// A relay, listed in both cards with the stations stopped.
	d.relay = &docStation{name: "RELAY", dir: filepath.Join(d.work, "relay"), peer: freeLoopback(t)}
	d.ok(d.relay, `hotline relay init --dir /var/lib/hotline-relay --name RELAY-CH --listen 0.0.0.0:7444 --endpoint relay.example.ch:7444 [--expiry 168h]`)
	d.write("relay-ch.card", d.ok(d.relay, `hotline relay card --dir …`), 0o644)
	rfp := relayFP(t, d.relay.dir)
	for _, s := range []*docStation{usa, chn} {
		s.proc.stop()
		d.ok(s, `hotline card add-relay --dir /var/lib/hotline --card relay-ch.card --fingerprint K4TQ-…`, "K4TQ-…", rfp)
	}
	d.copyFile(filepath.Join(usa.dir, "card"), "usa.card")
	d.copyFile(filepath.Join(chn.dir, "card"), "chn.card")
	const relayAllow = `hotline relay allow --dir /var/lib/hotline-relay --card usa.card --fingerprint EFEY-BOT6-…`
	d.ok(d.relay, relayAllow, "EFEY-BOT6-…", fp[usa])
	d.ok(d.relay, relayAllow, "usa.card", "chn.card", "EFEY-BOT6-…", fp[chn])
	const peerAddNew = `hotline peer add --dir /var/lib/hotline --card usa.card --fingerprint EFEY-BOT6-…`
	d.ok(chn, peerAddNew, "EFEY-BOT6-…", fp[usa])
	d.ok(usa, peerAddNew, "usa.card", "chn.card", "EFEY-BOT6-…", fp[chn])
	d.relay.proc = d.start(d.relay, `hotline relay --dir /var/lib/hotline-relay`)
	d.until("the relay to listen", func() bool {
		c, err := net.Dial("tcp", d.relay.peer)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	if r := d.sh(d.relay, "", `hotline relay run --dir …`); r.code == 0 || !strings.Contains(r.stderr, "already running") {
		t.Errorf("a second relay process on the relay's directory: exit %d, %s", r.code, r.stderr)
	}
	for _, s := range []*docStation{usa, chn} {
		s.proc = d.start(s, `hotline run --dir /var/lib/hotline`)
	}
	for _, s := range []*docStation{usa, chn} {
		d.running(s)
	}
	relayUp := func() bool {
		var st ops.StatusView
		d.view(usa, &st, "status")
		for _, c := range st.Channels {
			for _, p := range c.Paths {
				if p.Name == "relay" && p.Up {
					return true
				}
			}
		}
		return false
	}
	d.until("USA's relay path to CHN", relayUp)
	if out := d.ok(d.relay, `hotline relay list --dir … [--json]`); !strings.Contains(out, fp[usa]) || !strings.Contains(out, fp[chn]) {
		t.Errorf("relay list --json does not show both stations:\n%s", out)
	}

	// Keys: rotate, revoke, list; CHN follows each change by itself.
	follows := func(what string) string {
		t.Helper()
		now := strings.TrimSpace(mustRun(t, "fingerprint", "--dir", usa.dir))
		d.until("CHN to follow USA's "+what, func() bool { return d.peerFingerprint(chn, "USA") == now })
		return now
	}
	d.ok(usa, `hotline key rotate --dir /var/lib/hotline --as "Maj. Smith" [--note "annual change"]`)
	follows("rotation")
	d.ok(usa, `hotline key revoke --dir /var/lib/hotline --reason "laptop lost in transit" --as "Maj. Smith"`)
	follows("revocation")
	d.ok(usa, `hotline key revoke --reason ...`)
	follows("second revocation")
	if out := d.ok(usa, `hotline key list --dir /var/lib/hotline [--station CHN]`); !strings.Contains(out, fp[chn]) {
		t.Errorf("key list --station CHN does not show CHN's key:\n%s", out)
	}
	if out := d.ok(chn, `hotline peer list --dir /var/lib/hotline`); !strings.Contains(out, "REVOKED") {
		t.Errorf("CHN's peer list does not show USA's revoked keys:\n%s", out)
	}
	// A lost key: CHN re-pins USA by the fingerprint read aloud, the
	// relay allows the new card, and traffic moves again.
	d.ok(usa, `hotline key revoke --lost --reason TEXT`)
	lost := strings.TrimSpace(mustRun(t, "fingerprint", "--dir", usa.dir))
	d.copyFile(filepath.Join(usa.dir, "card"), "usa.card")
	d.ok(chn, `hotline peer replace --dir /var/lib/hotline --card usa.card --fingerprint NS5B-EE2X-… --as "Lt. Wang"`, "NS5B-EE2X-…", lost)
	d.ok(d.relay, `hotline relay allow --dir RELAYDIR --card usa.card --fingerprint FP --replace`, "RELAYDIR", d.relay.dir, "FP", lost)
	after := strings.TrimSpace(mustRun(t, "send", "--dir", usa.dir, "--channel", "usa-chn-staff", "--precedence", "FLASH", "--text", "after the lost key"))
	d.until(after+" at CHN", func() bool { return d.message(chn, "inbox", after) != nil })

	// Stop using the relay: USA takes it off its card (stopped), CHN
	// pins the new card, the relay's operator takes USA off its list;
	// bad input refused, changing nothing; traffic goes on directly.
	usa.proc.stop()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"card", "remove-relay", "--dir", usa.dir, "--relay", "NOPE"}, "relay NOPE is not in this station's card (it lists RELAY-CH)"},
		{[]string{"card", "remove-relay", "--dir", usa.dir}, "missing --relay"},
		{[]string{"relay", "disallow", "--dir", d.relay.dir, "--station", "NOPE"}, "no station named NOPE is allowed here (allowed: CHN, USA)"},
	} {
		checkFailed(t, c.args, hotline(t, c.args...), c.want)
	}
	if out := d.ok(usa, `hotline card remove-relay --dir /var/lib/hotline --relay RELAY-CH`); !strings.Contains(out, "now lists 0 relay(s), not RELAY-CH") {
		t.Errorf("card remove-relay printed %q", out)
	}
	args = []string{"card", "remove-relay", "--dir", usa.dir, "--relay", "RELAY-CH"}
	checkFailed(t, args, hotline(t, args...), "relay RELAY-CH is not in this station's card, which lists no relay")
	d.copyFile(filepath.Join(usa.dir, "card"), "usa.card")
	mustRun(t, "peer", "add", "--dir", chn.dir, "--card", filepath.Join(d.work, "usa.card"), "--fingerprint", lost)
	usa.proc = d.start(usa, `hotline run --dir /var/lib/hotline`)
	d.running(usa)
	if out := d.ok(d.relay, `hotline relay disallow --dir /var/lib/hotline-relay --station USA [--json]`); !strings.Contains(out, `"name": "USA"`) {
		t.Errorf("relay disallow --json printed %q", out)
	}
	if out := d.ok(d.relay, `hotline relay list --dir … [--json]`); strings.Contains(out, lost) || !strings.Contains(out, fp[chn]) {
		t.Errorf("relay list after USA was disallowed:\n%s", out)
	}
	for _, p := range [][2]*docStation{{usa, chn}, {chn, usa}} {
		id := strings.TrimSpace(mustRun(t, "send", "--dir", p[0].dir, "--channel", "usa-chn-staff", "--precedence", "FLASH", "--text", "without the relay"))
		d.until(id+" at "+p[1].name, func() bool { return d.message(p[1], "inbox", id) != nil })
	}

	// PostgreSQL on two machines (two directories here), the password in
	// a file as "The database password" says.
	docsPostgres(d)

	// Install: the build, and the sizes OPERATIONS.md gives, stripped and
	// plain (TestMain's build).
	if r := <-built; r.code != 0 {
		t.Errorf("the documented build: %s", r.stderr)
	} else {
		text := strings.Join(strings.Fields(docText(t)), " ")
		for _, c := range []struct{ file, said string }{
			{filepath.Join(d.work, "stripped"), `statically linked executable of about (\d+) MB`},
			{binary, "A plain `go build` [^.]*: about (\\d+) MB"},
		} {
			fi, err := os.Stat(c.file)
			said := regexp.MustCompile(c.said).FindStringSubmatch(text)
			if err != nil || said == nil {
				t.Errorf("%s: %v; OPERATIONS.md no longer says %q", c.file, err, c.said)
				continue
			}
			if mb, _ := strconv.ParseFloat(said[1], 64); abs(float64(fi.Size())/1e6-mb) > mb/10 {
				t.Errorf("OPERATIONS.md says %q; the binary has %d bytes (%.1f MB)", said[0], fi.Size(), float64(fi.Size())/1e6)
			}
		}
	}

	for _, p := range d.procs {
		select {
		case <-p.done:
			if !p.stopping {
				t.Errorf("%s stopped: %v\n%s", p.name, p.err, p.output())
			}
		default:
		}
	}

	// Every command of the documents was run, or is listed with the reason.
	for text := range docsNotRun {
		found := false
		for _, c := range d.cmds {
			if c.text == text {
				c.ran, found = true, true
			}
		}
		if !found {
			t.Errorf("docsNotRun lists `%s`, which the documents no longer show", text)
		}
	}
	t.Logf("%d commands of %v, %d listed as not run", len(d.cmds), commandDocs, len(docsNotRun))
	for _, c := range d.cmds {
		if !c.ran {
			t.Errorf("%s: `%s` is neither run by TestDocsCommands nor listed in docsNotRun with the reason", c.where, c.text)
		}
	}
}

// docsPostgres sets up a station on PostgreSQL on two machines as
// OPERATIONS.md says: the password file, init, the copy to the standby,
// both run; the standby logs and says what the documents quote; a clean
// stop of the active one hands the station over.
func docsPostgres(d *docRun) {
	t := d.t
	const password = "pg-password-of-the-docs-test"
	srv, err := pgtest.StartPassword(password)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL: %v", err)
		}
		t.Logf("PostgreSQL's commands are not run: %v", err)
		for _, c := range d.cmds {
			if strings.Contains(c.text, "store-password") || strings.Contains(c.text, "hotline-b") {
				c.ran = true
			}
		}
		return
	}
	t.Cleanup(srv.Stop)
	a, b := d.station("PG-A"), d.station("PG-B")
	if err := os.Mkdir(a.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	d.ok(a, `install -m 0600 -o hotline -g hotline /dev/null /var/lib/hotline/store-password`, " -o hotline -g hotline", "")
	d.okIn(a, password+"\n", `cat > /var/lib/hotline/store-password`)
	dsn := srv.FreshDB(t)
	d.ok(a, `hotline init --dir /var/lib/hotline --name USA --party USA --peer-listen 0.0.0.0:7443 --api-listen 127.0.0.1:7080 --endpoint hotline-a.mil.example:7443 --endpoint hotline-b.mil.example:7443 --store 'postgres://hotline@db.mil.example/hotline_usa?sslmode=verify-full' --store-password-file /var/lib/hotline/store-password`,
		"hotline-a.mil.example:7443", a.peer, "hotline-b.mil.example:7443", b.peer,
		"postgres://hotline@db.mil.example/hotline_usa?sslmode=verify-full", dsn)
	// The copy step, ssh to the standby left out.
	d.ok(b, `ssh root@hotline-b install -d -m 0700 -o hotline -g hotline /var/lib/hotline`, "ssh root@hotline-b ", "", " -o hotline -g hotline", "")
	d.ok(b, `tar -C /var/lib/hotline -cf - config.json card api-token store-password keys | ssh hotline@hotline-b tar -C /var/lib/hotline -xpf -`,
		"-C /var/lib/hotline -cf", "-C "+a.dir+" -cf", "ssh hotline@hotline-b ", "")
	// The standby listens on other ports: peer_listen and api_listen.
	cfg := configOf(t, b.dir)
	cfg["peer_listen"], cfg["api_listen"] = b.peer, b.api
	// The password file is at the same place on the standby: here, its
	// own directory.
	cfg["store_password_file"] = filepath.Join(b.dir, "store-password")
	js, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(filepath.Join(b.dir, "config.json"), js, 0o600); err != nil {
		t.Fatal(err)
	}
	// A standby file a killed standby left behind goes when the station
	// opens.
	if err := os.WriteFile(filepath.Join(a.dir, "standby"), []byte("1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a.proc = d.start(a, `hotline run --dir /var/lib/hotline &`)
	d.running(a)
	if _, err := os.Stat(filepath.Join(a.dir, "standby")); !os.IsNotExist(err) {
		t.Errorf("the active station's directory says it stands by: %v", err)
	}
	b.proc = d.start(b, `hotline run --dir /var/lib/hotline &`)
	logged := docQuote(t, "the others log")
	d.until("the standby to log "+logged, func() bool { return strings.Contains(b.proc.output(), logged) })
	said := docQuote(t, "does nothing and exits 1 with")
	if r := hotline(t, "status", "--dir", b.dir); r.code != 1 || r.stdout != "" || r.stderr != said+"\n" {
		t.Errorf("hotline status on the standby: exit %d, stdout %q, stderr %q; OPERATIONS.md says exit 1 and %q", r.code, r.stdout, r.stderr, said)
	}
	if _, err := os.Stat(filepath.Join(b.dir, "standby")); err != nil {
		t.Errorf("the standby's directory does not say it stands by: %v", err)
	}
	a.proc.stop()
	d.running(b)
	if _, err := os.Stat(filepath.Join(b.dir, "standby")); !os.IsNotExist(err) {
		t.Errorf("the standby took over and its directory still says it stands by: %v", err)
	}
}

// codebookExtension is an extension of the embedded codebook that both
// parties agreed, as a file.
func codebookExtension() string {
	return fmt.Sprintf(`{"format": "hotline codebook extension v1", "name": "alpha-bravo", "version": 1,
 "base": %q, "base_hash": %q, "title": {"en": "Alpha-Bravo additions", "zh-Hans": "甲乙双方补充用语"},
 "phrases": [{"code": "XAB01", "category": "safety", "params": [], "text": {"en": "Fishing vessels nearby.", "zh-Hans": "附近有渔船。"}}]}`,
		codebook.Default().Version(), codebook.Default().Hash())
}

// quoteArgs quotes each argument for the shell.
func quoteArgs(args []string) []string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return q
}

func docText(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../docs/OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
