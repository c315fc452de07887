package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"hotline/internal/ops"
	"hotline/internal/stationdir"
	"hotline/internal/transcript"
)

// binary is the hotline command built once for every test.
var binary string

func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "hotline-cmd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(tmp, "hotline")
	build := exec.Command("go", "build", "-buildvcs=false", "-o", binary, ".")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(tmp)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(tmp)
	if demoDir != "" {
		os.RemoveAll(demoDir)
	}
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

// hotline runs the binary with args, without HOTLINE_DIR from the
// environment.
func hotline(t *testing.T, args ...string) result {
	t.Helper()
	return hotlineIn(t, "", args...)
}

// hotlineIn runs the binary with stdin as its standard input.
func hotlineIn(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "HOTLINE_DIR=") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Stdin = strings.NewReader(stdin)
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("hotline %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("hotline %s: timed out", strings.Join(args, " "))
	}
	return r
}

// mustRun runs a command that must succeed and returns its stdout.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	r := hotline(t, args...)
	if r.code != 0 {
		t.Fatalf("hotline %s: exit %d: %s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// checkFailed asserts a failure reported the documented way: non-zero exit,
// nothing on stdout, exactly one line on stderr starting "hotline: " that
// contains every want.
func checkFailed(t *testing.T, args []string, r result, wants ...string) {
	t.Helper()
	cmd := "hotline " + strings.Join(args, " ")
	if len(cmd) > 200 {
		cmd = cmd[:200] + "..."
	}
	if r.code == 0 {
		t.Errorf("%s: exit 0, want failure (stdout %q)", cmd, r.stdout)
		return
	}
	if r.stdout != "" {
		t.Errorf("%s: printed %q on stdout", cmd, r.stdout)
	}
	if strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") || !strings.HasPrefix(r.stderr, "hotline: ") {
		t.Errorf("%s: stderr %q, want one line starting with \"hotline: \"", cmd, r.stderr)
		return
	}
	for _, w := range wants {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("%s: stderr %q does not mention %q", cmd, r.stderr, w)
		}
	}
}

var (
	demoOnce sync.Once
	demoDir  string
	demoRes  result
)

// demoRun runs hotline demo once; its stations (stopped) and transcripts
// stay in the returned folder for the other tests (TestMain removes it).
func demoRun(t *testing.T) (string, result) {
	t.Helper()
	demoOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hotline-demo-test-")
		if err != nil {
			t.Fatal(err)
		}
		demoDir = dir
		demoRes = hotline(t, "demo", "--in", dir)
	})
	if demoDir == "" {
		t.Fatal("demo folder was not created")
	}
	if demoRes.code != 0 {
		t.Fatalf("hotline demo: exit %d\nstdout %s\nstderr %s", demoRes.code, demoRes.stdout, demoRes.stderr)
	}
	return demoDir, demoRes
}

// TestDemo: the demo plays the South China Sea scenario of issue 7 and
// ends with six verified transcripts (three channels, two stations).
func TestDemo(t *testing.T) {
	dir, r := demoRun(t)
	if n := strings.Count(r.stdout, "verified offline"); n != 6 {
		t.Errorf("demo printed \"verified offline\" %d times, want 6:\n%s", n, r.stdout)
	}
	bundles, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(bundles) != 6 {
		t.Errorf("demo left %d transcripts, want 6: %v", len(bundles), bundles)
	}
	for _, want := range []string{
		"CHN notified live fire",                              // the notice
		"FINDING 1 on usa-chn-theatre: this station's plan 1", // the overlap, at USA
		"发现1（usa-chn-theatre）：本方通报",                           // and at CHN, in Chinese
		"REQ01 请告知你方意图。",                                      // standard phrases, each side in its language
		"REQ04 Keep clear of the area centred on",
		"reported an UNSAFE encounter",
		"predicts DDG-00 and Frigate 548 pass",
		"CHN sent FLASH",
		"step 2: reminded USA", "step 3: supervisor alerted", "step 4: forwarded as usa-chn-staff/CHN/", // the ladder
		"CHN sees its FLASH acknowledged by",
		"USA shows incident usa-chn-theatre/CHN/", "CHN shows incident usa-chn-theatre/CHN/",
		"closed, resolved: 5 steps, closed by USA and CHN",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the demo does not show %q:\n%s", want, r.stdout)
		}
	}
	var took time.Duration
	if i := strings.LastIndex(r.stdout, "demo finished in "); i < 0 {
		t.Error("the demo did not say how long it took")
	} else if took, _ = time.ParseDuration(strings.TrimSpace(r.stdout[i+len("demo finished in "):])); took > time.Minute {
		t.Errorf("the demo took %s; keep it under a minute", took)
	}
}

func TestVerifyBundles(t *testing.T) {
	dir, _ := demoRun(t)
	bundles, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(bundles) == 0 {
		t.Fatal("no transcripts")
	}
	for _, b := range bundles {
		out := mustRun(t, "verify", b)
		if !strings.Contains(out, ": verified") || !strings.Contains(out, "USA") || !strings.Contains(out, "CHN") {
			t.Errorf("verify %s: %q", b, out)
		}
		var rep transcript.Report
		if err := json.Unmarshal([]byte(mustRun(t, "verify", "--json", b)), &rep); err != nil || len(rep.Logs) != 2 {
			t.Errorf("verify --json %s: %+v, %v", b, rep, err)
		}
	}
}

// flipEntryByte returns the bundle with one character changed in the middle
// of the base64 text of one entry (to another base64 character, so the
// file is still a well-formed bundle whose entry bytes differ).
func flipEntryByte(t *testing.T, data []byte, log, entry int) []byte {
	t.Helper()
	var b transcript.Bundle
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(b.Logs[log].Entries[entry]) // "base64..."
	i := bytes.Index(data, raw)
	if i < 0 || bytes.Count(data, raw) != 1 {
		t.Fatal("entry not found once in the file")
	}
	pos := i + len(raw)/2
	out := bytes.Clone(data)
	if out[pos] == 'A' {
		out[pos] = 'B'
	} else {
		out[pos] = 'A'
	}
	return out
}

func TestVerifyRefuses(t *testing.T) {
	dir, _ := demoRun(t)
	orig, err := os.ReadFile(filepath.Join(dir, "usa-chn-staff-USA.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ log, entry int }{{0, 0}, {0, 1}, {1, 2}} {
		tampered := flipEntryByte(t, orig, c.log, c.entry)
		file := filepath.Join(t.TempDir(), "tampered.json")
		if err := os.WriteFile(file, tampered, 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"verify", file}
		checkFailed(t, args, hotline(t, args...), "tampered.json", "does not verify")
		if data, _ := os.ReadFile(file); !bytes.Equal(data, tampered) {
			t.Error("verify changed the bundle file")
		}
	}
	missing := filepath.Join(t.TempDir(), "missing.json")
	args := []string{"verify", missing}
	checkFailed(t, args, hotline(t, args...), "missing.json", "no such file")
	args = []string{"verify"}
	checkFailed(t, args, hotline(t, args...), "bundle file")
}

// TestVerifyTwoExports verifies both parties' exports of a channel
// together, with and without pins, as an auditor would.
func TestVerifyTwoExports(t *testing.T) {
	dir, _ := demoRun(t)
	a, b := filepath.Join(dir, "usa-chn-theatre-USA.json"), filepath.Join(dir, "usa-chn-theatre-CHN.json")
	out := mustRun(t, "verify", a, b)
	for _, want := range []string{"usa-chn-theatre-USA.json and " + b + " agree", "exported by USA and by CHN", "log of USA: ", "log of CHN: ",
		"(signed by the exporter)", "fingerprints not checked against pins"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify A B: no %q in\n%s", want, out)
		}
	}
	var both struct {
		Bundles    []transcript.Report
		Comparison transcript.Comparison
	}
	if err := json.Unmarshal([]byte(mustRun(t, "verify", "--json", a, b)), &both); err != nil || len(both.Bundles) != 2 || len(both.Comparison.Logs) != 2 {
		t.Fatalf("verify --json A B: %+v, %v", both, err)
	}
	fps := map[string]string{}
	for _, l := range both.Bundles[0].Logs {
		fps[l.Author] = l.Fingerprints[0]
	}
	out = mustRun(t, "verify", "--pin", "USA="+fps["USA"], "--pin", "CHN="+strings.ToLower(fps["CHN"]), a)
	if strings.Count(out, "(matches the pin)") != 2 || strings.Contains(out, "not checked against pins") {
		t.Errorf("verify with pins:\n%s", out)
	}
	pins := filepath.Join(t.TempDir(), "pins")
	if err := os.WriteFile(pins, []byte("# read aloud at pairing\nUSA "+fps["USA"]+"\nCHN="+fps["CHN"]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out = mustRun(t, "verify", "--pins", pins, b); strings.Count(out, "(matches the pin)") != 2 {
		t.Errorf("verify --pins:\n%s", out)
	}
	args := []string{"verify", "--pin", "CHN=" + fps["USA"], a}
	checkFailed(t, args, hotline(t, args...), "CHN's keys in the bundle", "do not match the fingerprint pinned for it")
	args = []string{"verify", "--pin", "CHN", a}
	checkFailed(t, args, hotline(t, args...), `"CHN" is not NAME=FINGERPRINT`)
	args = []string{"verify", "--pin", "CHN=ABCD-EFGH", a}
	checkFailed(t, args, hotline(t, args...), "has 8 characters, want 32")
	args = []string{"verify", "--pin", "RUS=" + fps["USA"], a}
	checkFailed(t, args, hotline(t, args...), "pinned for RUS, which is not a party")
	args = []string{"verify", filepath.Join(dir, "usa-chn-staff-USA.json"), b}
	checkFailed(t, args, hotline(t, args...), "the bundles are of channels usa-chn-staff and usa-chn-theatre")
}

// TestExportDisclose: a party shows a mediator one warning and its
// acknowledgement, and nothing else: the bundle discloses those two
// entries, verify prints them, and a changed text or key is refused.
func TestExportDisclose(t *testing.T) {
	dir, _ := demoRun(t)
	file := filepath.Join(t.TempDir(), "disclosed.json")
	out := mustRun(t, "export", "--dir", filepath.Join(dir, "usa"), "--channel", "usa-chn-staff", "--out", file,
		"--disclose", "usa-chn-staff/USA/3,usa-chn-staff/CHN/4")
	if !strings.Contains(out, "2 disclosed: anyone holding the file can read them") {
		t.Errorf("export --disclose: %s", out)
	}
	out = mustRun(t, "verify", file)
	for _, want := range []string{
		`disclosed usa-chn-staff/USA/3: IMMEDIATE text at `, `"DDG-00 is altering course to starboard and will keep 2 NM from your units."`,
		`disclosed usa-chn-staff/CHN/4: IMMEDIATE ack at `, `acknowledges usa-chn-staff/USA/3, by "Sr. Col. Zhang (staff)"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("verify of the disclosed bundle: no %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "usa-chn-staff/CHN/2:") || strings.Contains(out, "usa-chn-staff/CHN/3:") {
		t.Error("an entry not disclosed is shown")
	}
	if !strings.Contains(out, "disclosed usa-chn-staff/USA/1: PRIORITY agreement at ") || !strings.Contains(out, "carries the bundle's charter (checked)") ||
		strings.Contains(out, "nothing ties it") {
		t.Errorf("entry 1 of each log, the charter, is not disclosed and checked:\n%s", out)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	third := func(b *transcript.Bundle) *transcript.Disclosure {
		for i := range b.Logs[0].Disclosed {
			if b.Logs[0].Disclosed[i].Index == 3 {
				return &b.Logs[0].Disclosed[i]
			}
		}
		t.Fatal("USA/3 is not disclosed")
		return nil
	}
	for _, tt := range []struct {
		name string
		edit func(b *transcript.Bundle)
		want string
	}{
		{"text changed", func(b *transcript.Bundle) {
			d := third(b)
			d.Body = strings.Replace(d.Body, "2 NM", "20 NM", 1)
		}, "usa-chn-staff/USA/3: the body the bundle discloses is not the entry's"},
		{"key changed", func(b *transcript.Bundle) { third(b).Key[5] ^= 1 }, "usa-chn-staff/USA/3 is disclosed with a key that does not open it"},
		{"key of another entry", func(b *transcript.Bundle) { third(b).Index = 2 }, "usa-chn-staff/USA/2 is disclosed with a key that does not open it"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var c transcript.Bundle
			if err := json.Unmarshal(data, &c); err != nil {
				t.Fatal(err)
			}
			tt.edit(&c)
			bent, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			f := filepath.Join(t.TempDir(), "bent.json")
			if err := os.WriteFile(f, bent, 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{"verify", f}
			checkFailed(t, args, hotline(t, args...), tt.want)
		})
	}
	args := []string{"export", "--dir", filepath.Join(dir, "usa"), "--channel", "usa-chn-staff", "--out", file, "--disclose", "usa-chn-theatre/USA/1"}
	checkFailed(t, args, hotline(t, args...), `cannot disclose "usa-chn-theatre/USA/1": not an entry of channel usa-chn-staff`)
}

// TestVerifyRefusesExporterTricks edits a real export as its exporter
// could, and checks that verify refuses each with what is wrong.
func TestVerifyRefusesExporterTricks(t *testing.T) {
	dir, _ := demoRun(t)
	orig, err := os.ReadFile(filepath.Join(dir, "usa-chn-theatre-USA.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		edit func(m map[string]any)
		want string
	}{
		{"peer's log emptied", func(m map[string]any) {
			l := m["logs"].([]any)[1].(map[string]any)
			l["entries"] = []any{}
			delete(l, "checkpoint")
			delete(l, "keys")
		}, "CHN's log has no entries"},
		{"own log emptied", func(m map[string]any) {
			l := m["logs"].([]any)[0].(map[string]any)
			l["entries"] = []any{}
			delete(l, "checkpoint")
		}, "USA's log has no entries"},
		{"both checkpoints removed", func(m map[string]any) {
			for _, l := range m["logs"].([]any) {
				delete(l.(map[string]any), "checkpoint")
			}
		}, "CHN's log has no checkpoint"},
		{"exported_by changed", func(m map[string]any) { m["exported_by"] = "CHN" }, `exported_by is "CHN"`},
		{"exported_at changed", func(m map[string]any) { m["exported_at"] = "2026-01-01T00:00:00Z" }, "the export statement says"},
		{"export statement removed", func(m map[string]any) { delete(m, "export") }, "no export statement"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(orig, &m); err != nil {
				t.Fatal(err)
			}
			tt.edit(m)
			data, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(t.TempDir(), "bent.json")
			if err := os.WriteFile(file, data, 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{"verify", file}
			checkFailed(t, args, hotline(t, args...), "bent.json", tt.want)
		})
	}
}

// stationState is what a station shows of itself through the CLI: its
// peers, channels with their log sizes, and its outbox with each status.
func stationState(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	for _, verb := range [][]string{{"status"}, {"outbox"}} {
		b.WriteString(mustRun(t, append(verb, "--dir", dir, "--json")...))
	}
	return b.String()
}

// filesOf hashes every file of a station directory but its lock.
func filesOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if d.IsDir() || d.Name() == "lock" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := d.Info()
		out[p] = fmt.Sprintf("%x %v", sha256.Sum256(data), fi.Mode())
		return nil
	})
	return out
}

func TestBadInput(t *testing.T) {
	dir, _ := demoRun(t)
	usa, chn := filepath.Join(dir, "usa"), filepath.Join(dir, "chn")
	usaCard, err := stationdir.ReadCard(usa)
	if err != nil {
		t.Fatal(err)
	}
	chnCard, err := stationdir.ReadCard(chn)
	if err != nil {
		t.Fatal(err)
	}
	// A third station that has pinned nobody.
	rus := filepath.Join(t.TempDir(), "rus")
	mustRun(t, "init", "--dir", rus, "--name", "RUS", "--party", "RUS", "--peer-listen", "127.0.0.1:7443")
	rusCard, err := stationdir.ReadCard(rus)
	if err != nil {
		t.Fatal(err)
	}
	newDir := filepath.Join(t.TempDir(), "new")
	const staff = "usa-chn-staff"
	garbage := filepath.Join(t.TempDir(), "garbage.bundle")
	os.WriteFile(garbage, []byte(`{"format":"hotline-offline/v0","from":"CHN","to":"USA","frames":[]}`), 0o644)
	forOther := filepath.Join(t.TempDir(), "other.bundle")
	os.WriteFile(forOther, []byte(`{"format":"hotline-offline/v1","from":"CHN","to":"RUS","created_at":"2026-01-01T00:00:00Z","frames":[]}`), 0o644)
	// A backup of USA with one byte of its store flipped.
	flipped := filepath.Join(t.TempDir(), "usa.backup")
	mustRun(t, "backup", "--dir", usa, "--out", flipped)
	flipStoreByte(t, flipped)
	badFrame := filepath.Join(t.TempDir(), "frame.bundle")
	os.WriteFile(badFrame, []byte(`{"format":"hotline-offline/v1","from":"CHN","to":"USA","created_at":"2026-01-01T00:00:00Z","frames":["AQAB"]}`), 0o644)

	loosePW := filepath.Join(t.TempDir(), "db.pw")
	os.WriteFile(loosePW, []byte("pw\n"), 0o644)
	os.Chmod(loosePW, 0o644)

	cases := []struct {
		dir   string // station that must not change ("" for none)
		args  []string
		wants []string
	}{
		{"", []string{"frobnicate"}, []string{`unknown verb "frobnicate"`}},
		{"", []string{"peer", "frob", "--dir", usa}, []string{`unknown verb "peer frob"`}},
		{usa, []string{"send", "--bogus"}, []string{"send", "-bogus"}},
		{usa, []string{"send", "--dir", usa, "--channel", staff, "--precedence", "FLASH", "--text", "hi", "--bogus"}, []string{"-bogus"}},
		{usa, []string{"send", "--dir", usa, "--channel", staff, "--precedence", "FLASH", "--text", "hi", "extra"}, []string{`unexpected argument "extra"`}},
		{usa, []string{"send", "--dir", usa}, []string{"missing --channel, --precedence, --text"}},
		{usa, []string{"send", "--dir", usa, "--channel", staff, "--text", "hi"}, []string{"missing --precedence"}},
		{usa, []string{"peer", "add", "--dir", usa}, []string{"missing --card, --fingerprint"}},
		{usa, []string{"channel", "propose", "--dir", usa, "--peer", "CHN"}, []string{"missing --channel, --level"}},
		{usa, []string{"channel", "accept", "--dir", usa}, []string{"missing --channel"}},
		{usa, []string{"ack", "--dir", usa}, []string{"missing --id"}},
		{usa, []string{"export", "--dir", usa, "--channel", staff}, []string{"missing --out"}},
		{"", []string{"init", "--dir", newDir, "--name", "NEW"}, []string{"missing --party, --peer-listen"}},
		{"", []string{"init", "--dir", newDir, "--name", "NEW", "--party", "NEW", "--peer-listen", "nowhere"}, []string{"--peer-listen", "nowhere"}},
		{"", []string{"init", "--dir", newDir, "--name", "NEW", "--party", "NEW", "--peer-listen", "127.0.0.1:7443", "--store", "mysql://db/x"}, []string{"unknown engine", "mysql"}},
		{"", []string{"init", "--dir", newDir, "--name", "NEW", "--party", "NEW", "--peer-listen", "127.0.0.1:7443", "--store", "postgres://%zz"}, []string{"PostgreSQL URL"}},
		{"", []string{"init", "--dir", newDir, "--name", "NEW", "--party", "NEW", "--peer-listen", "127.0.0.1:7443", "--store", "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=3"}, []string{"connecting to PostgreSQL"}},
		{"", []string{"init", "--dir", newDir, "--name", "NEW", "--party", "NEW", "--peer-listen", "127.0.0.1:7443", "--store", "postgres://hotline@127.0.0.1:1/none", "--store-password-file", filepath.Join(dir, "no-such.pw")}, []string{"no-such.pw", "does not exist"}},
		{"", []string{"init", "--dir", newDir, "--name", "NEW", "--party", "NEW", "--peer-listen", "127.0.0.1:7443", "--store", "postgres://hotline@127.0.0.1:1/none", "--store-password-file", loosePW}, []string{"mode 0644", "chmod 600 " + loosePW}},
		{"", []string{"init", "--dir", newDir, "--name", "NEW", "--party", "NEW", "--peer-listen", "127.0.0.1:7443", "--store", "postgres://hotline:pw@127.0.0.1:1/none", "--store-password-file", loosePW}, []string{"keep the password in the file alone"}},
		{"", []string{"restore", "--dir", newDir, flipped}, []string{"hotline.db does not match its SHA-256"}},
		{usa, []string{"send", "--dir", usa, "--channel", staff, "--precedence", "URGENT", "--text", "hi"}, []string{"URGENT", "FLASH"}},
		{usa, []string{"send", "--dir", usa, "--channel", "usa-rus-staff", "--precedence", "FLASH", "--text", "hi"}, []string{"unknown channel", "usa-rus-staff"}},
		{usa, []string{"channel", "propose", "--dir", usa, "--peer", "CHN", "--channel", "usa-chn-new", "--level", "captain"}, []string{"captain", "staff"}},
		{usa, []string{"channel", "propose", "--dir", usa, "--peer", "CHN", "--channel", "usa-chn-new", "--level", "staff", "--deadline", "FLASH"}, []string{"--deadline", "FLASH"}},
		{usa, []string{"ack", "--dir", usa, "--id", staff + "/USA/2"}, []string{"own message"}},
		{usa, []string{"ack", "--dir", usa, "--id", "garbage"}, []string{"garbage", "CHANNEL/STATION/INDEX"}},
		{rus, []string{"peer", "add", "--dir", rus, "--card", filepath.Join(chn, "card"), "--fingerprint", usaCard.Fingerprint()},
			[]string{"does not have the fingerprint given", "do not pin"}},
		{rus, []string{"peer", "add", "--dir", rus, "--card", filepath.Join(dir, "no-such-card"), "--fingerprint", chnCard.Fingerprint()}, []string{"no-such-card"}},
		{usa, []string{"init", "--dir", usa, "--name", "USA", "--party", "USA", "--peer-listen", "127.0.0.1:7443"}, []string{usa, "already holds a station"}},
		{usa, []string{"init", "--dir", usa, "--name", "OTHER", "--party", "OTHER", "--peer-listen", "127.0.0.1:7443"}, []string{"already holds a station"}},
		{"", []string{"status", "--dir", filepath.Join(dir, "nowhere")}, []string{"nowhere", "not a station directory"}},
		{usa, []string{"channel", "suspend", "--dir", usa, "--channel", staff}, []string{"missing --reason"}},
		{usa, []string{"channel", "suspend", "--dir", usa, "--channel", "usa-rus-staff", "--reason", "x"}, []string{"unknown channel", "usa-rus-staff"}},
		{usa, []string{"channel", "resume", "--dir", usa, "--channel", staff}, []string{"not suspended by this station"}},
		{usa, []string{"channel", "checks", "--dir", usa}, []string{"missing --channel"}},
		{usa, []string{"bundle", "export", "--dir", usa, "--peer", "RUS", "--out", filepath.Join(t.TempDir(), "x")}, []string{"RUS", "not pinned"}},
		{usa, []string{"bundle", "import", "--dir", usa, garbage}, []string{"hotline-offline/v0", "format"}},
		{usa, []string{"bundle", "import", "--dir", usa, forOther}, []string{"for RUS, not this station"}},
		{usa, []string{"bundle", "import", "--dir", usa, badFrame}, []string{"frame 1 of the bundle", "hello"}},
		{usa, []string{"bundle", "import", "--dir", usa}, []string{"give the bundle file"}},
		{usa, []string{"bundle", "import", "--dir", usa, filepath.Join(dir, "nope.bundle")}, []string{"nope.bundle"}},
		{usa, []string{"channel", "checks", "--dir", usa, "--channel", "nowhere"}, []string{"unknown channel", "nowhere"}},
		{usa, []string{"channel", "propose", "--dir", usa, "--peer", "CHN", "--channel", "usa-chn-new", "--level", "unit", "--escalate-to", "usa-rus-staff"}, []string{"usa-rus-staff", "to escalate to"}},
		{usa, []string{"channel", "propose", "--dir", usa, "--peer", "CHN", "--channel", "usa-chn-new", "--level", "leader", "--escalate-to", staff}, []string{"not above leader"}},
		{usa, []string{"channel", "propose", "--dir", usa, "--peer", "CHN", "--channel", "usa-chn-new", "--level", "unit", "--check-every", "1h", "--check-window", "2h"}, []string{"check window 2h0m0s", "at most the interval"}},
		{usa, []string{"channel", "propose", "--dir", usa, "--peer", "CHN", "--channel", "usa-chn-new", "--level", "unit", "--link-test", "soon"}, []string{"link test", "soon"}},
		{usa, []string{"channel", "propose", "--dir", usa, "--peer", "CHN", "--channel", "usa-chn-new", "--level", "unit", "--delivery", "FLASH=-1m"}, []string{"delivery deadline for FLASH"}},
		// To several parties at once.
		{usa, []string{"send", "--dir", usa, "--to", "RUS,VNM", "--precedence", "FLASH", "--text", "x"}, []string{"sent to nobody", "RUS: not a pinned peer or a group", "VNM"}},
		{usa, []string{"send", "--dir", usa, "--to", "CHN,", "--precedence", "FLASH", "--text", "x"}, []string{"an empty name"}},
		{usa, []string{"send", "--dir", usa, "--to", "CHN", "--channel", staff, "--precedence", "FLASH", "--text", "x"}, []string{"--channel or --to, not both"}},
		{usa, []string{"send", "--dir", usa, "--to", "CHN", "--level", "admiral", "--precedence", "FLASH", "--text", "x"}, []string{"level", "admiral"}},
		{usa, []string{"send", "--dir", usa, "--to", "CHN", "--level", "staff", "--precedence", "FLASH"}, []string{"missing --text"}},
		{usa, []string{"send", "--dir", usa, "--to", "CHN", "--level", "staff", "--precedence", "FLASH", "--code", "MNV06"}, []string{"--to sends one --text"}},
		{usa, []string{"send", "--dir", usa, "--channel", staff, "--level", "staff", "--precedence", "FLASH", "--text", "x"}, []string{"--level chooses the parties' channels with --to"}},
		{usa, []string{"group", "set", "--dir", usa, "--name", "SCS navies", "--peers", "CHN,VNM"}, []string{`"VNM" is not a pinned peer`}},
		{usa, []string{"group", "set", "--dir", usa, "--name", "a,b", "--peers", "CHN"}, []string{"comma"}},
		{usa, []string{"group", "remove", "--dir", usa, "--name", "nobody"}, []string{`no group "nobody"`}},
		{usa, []string{"notice", "show", "--dir", usa, "--id", "b-00000000000000zz"}, []string{"16 lowercase hex digits"}},
		{usa, []string{"notice", "send", "--dir", usa, "--to", "CHN", "--level", "staff", "--kind", "transit", "--circle", "17,111,5", "--from", "2026-05-01T00:00Z", "--until", "2026-05-01T08:00Z", "--units", "DDG-00", "--replaces", "b-0000000000000000"}, []string{"replaces", "no broadcast b-0000000000000000"}},
		{usa, []string{"notice", "send", "--dir", usa, "--to", "2026-05-01T08:00Z", "--until", "2026-05-01T09:00Z", "--channel", staff, "--kind", "transit", "--circle", "17,111,5", "--from", "2026-05-01T00:00Z", "--units", "DDG-00"}, []string{"give the end time once"}},
		// Standard phrases, notices, reports and incidents.
		{usa, []string{"send", "--dir", usa, "--channel", staff, "--precedence", "FLASH", "--code", "MNV99"}, []string{"items[0]", "MNV99", "unknown code"}},
		{usa, []string{"send", "--dir", usa, "--channel", staff, "--precedence", "FLASH", "--code", "MNV06", "--code", "MNV09", "--param", "course=east"}, []string{"items[1] (MNV09)", "parameter course", "east"}},
		{usa, []string{"send", "--dir", usa, "--channel", staff, "--precedence", "FLASH", "--code", "MNV09", "--param", "course=360"}, []string{"MNV09", "parameter course", "360 is out of range"}},
		{usa, []string{"send", "--dir", usa, "--channel", staff, "--precedence", "FLASH", "--code", "MNV09"}, []string{"MNV09", "parameter course", "missing parameter"}},
		{usa, []string{"send", "--dir", usa, "--channel", staff, "--precedence", "FLASH", "--code", "MNV06", "--param", "speed=3"}, []string{"MNV06", "parameter speed"}},
		{usa, []string{"send", "--dir", usa, "--channel", staff, "--precedence", "FLASH", "--param", "course=9", "--code", "MNV09"}, []string{"before any --code"}},
		{usa, []string{"send", "--dir", usa, "--channel", staff, "--precedence", "FLASH", "--code", "MNV09", "--param", "course"}, []string{"NAME=VALUE"}},
		{usa, []string{"send", "--dir", usa, "--channel", staff, "--precedence", "FLASH", "--code", "MNV06", "--text", "hi"}, []string{"not both"}},
		{usa, []string{"send", "--dir", usa, "--channel", staff, "--code", "MNV06"}, []string{"missing --precedence"}},
		{usa, []string{"notice", "send", "--dir", usa, "--channel", staff}, []string{"missing --kind, --from, --until, --circle or --polygon, --units"}},
		{usa, []string{"notice", "send", "--dir", usa, "--channel", staff, "--kind", "party", "--circle", "17,111,5", "--from", "2026-05-01T00:00Z", "--to", "2026-05-01T08:00Z", "--units", "DDG-00"}, []string{"--kind", "party"}},
		{usa, []string{"notice", "send", "--dir", usa, "--channel", staff, "--kind", "transit", "--circle", "17,111,5", "--from", "2026-05-01T08:00Z", "--to", "2026-05-01T00:00Z", "--units", "DDG-00"}, []string{"window", "before it starts"}},
		{usa, []string{"notice", "send", "--dir", usa, "--channel", staff, "--kind", "transit", "--circle", "95,111,5", "--from", "2026-05-01T00:00Z", "--to", "2026-05-01T08:00Z", "--units", "DDG-00"}, []string{"area", "latitude 95"}},
		{usa, []string{"notice", "send", "--dir", usa, "--channel", staff, "--kind", "transit", "--circle", "17,111", "--from", "2026-05-01T00:00Z", "--to", "2026-05-01T08:00Z", "--units", "DDG-00"}, []string{"--circle", "LAT,LON,RADIUS_NM"}},
		{usa, []string{"notice", "send", "--dir", usa, "--channel", staff, "--kind", "transit", "--polygon", "17,110;18,111;17,111;18,110", "--from", "2026-05-01T00:00Z", "--to", "2026-05-01T08:00Z", "--units", "DDG-00"}, []string{"area", "crosses itself"}},
		{usa, []string{"notice", "send", "--dir", usa, "--channel", staff, "--kind", "transit", "--circle", "17,111,5", "--from", "tomorrow", "--to", "2026-05-01T08:00Z", "--units", "DDG-00"}, []string{"--from", "tomorrow"}},
		{usa, []string{"notice", "send", "--dir", usa, "--channel", "usa-rus-staff", "--kind", "transit", "--circle", "17,111,5", "--from", "2026-05-01T00:00Z", "--to", "2026-05-01T08:00Z", "--units", "DDG-00"}, []string{"unknown channel", "usa-rus-staff"}},
		{usa, []string{"report", "encounter", "--dir", usa, "--channel", staff}, []string{"missing --cpa-distance, --cpa-time, --other-course"}},
		{usa, append([]string{"report", "encounter", "--dir", usa, "--channel", staff}, encounterFlags("--own-course", "400")...), []string{"own", "course 400"}},
		{usa, append([]string{"report", "encounter", "--dir", usa, "--channel", staff}, encounterFlags("--said", "2026-05-01T03:11Z;own;MNV99")...), []string{"said[0]", "MNV99"}},
		{usa, []string{"incident", "open", "--dir", usa, "--channel", staff}, []string{"missing --title"}},
		{usa, []string{"incident", "close", "--dir", usa, "--id", staff + "/CHN/1", "--outcome", "resolved"}, []string{"no incident was opened"}},
		{usa, []string{"incident", "close", "--dir", usa, "--id", staff + "/CHN/1"}, []string{"missing --outcome"}},
		{"", []string{"codebook", "show", "NOPE1"}, []string{"unknown code", "NOPE1"}},
		{"", []string{"codebook", "list", "--category", "fishing"}, []string{"--category", "fishing"}},
		{"", []string{"bench", "--warmup", "-1"}, []string{"--warmup must not be negative", "-1"}},
		{"", []string{"bench", "--latency", "0"}, []string{"--latency must be positive"}},
		{usa, []string{"inbox", "--dir", usa, "--lang", "fr"}, []string{"--lang", "fr"}},
		{usa, []string{"plan", "add", "--dir", usa, "--channel", staff, "--kind", "transit"}, []string{"missing --from, --until, --circle or --polygon, --units"}},
		{usa, []string{"plan", "add", "--dir", usa, "--channel", staff, "--kind", "transit", "--circle", "17,111,0", "--from", "2026-05-01T00:00Z", "--to", "2026-05-01T08:00Z", "--units", "DDG-00"}, []string{"area", "radius_nm 0"}},
		{usa, []string{"notice", "send", "--dir", usa, "--channel", staff, "--plan", "5"}, []string{"no plan 5"}},
		{usa, []string{"notice", "send", "--dir", usa, "--channel", staff, "--plan", "5", "--kind", "transit"}, []string{"--plan gives the activity"}},
		{usa, []string{"send", "--dir", usa, "--precedence", "FLASH", "--finding", "99"}, []string{"no finding 99"}},
		{usa, []string{"incident", "open", "--dir", usa, "--finding", "99"}, []string{"no finding 99"}},
		{usa, []string{"findings", "--dir", usa, "--lang", "fr"}, []string{"--lang", "fr"}},
		// Key changes.
		{usa, []string{"key", "revoke", "--dir", usa}, []string{"missing --reason"}},
		{usa, []string{"key", "rotate", "--dir", usa, "--as", ""}, []string{"say who orders the key change"}},
		{usa, []string{"key", "list", "--dir", usa, "--station", "RUS"}, []string{"unknown peer", "RUS"}},
		{usa, []string{"peer", "replace", "--dir", usa}, []string{"missing --card, --fingerprint"}},
		{usa, []string{"peer", "replace", "--dir", usa, "--card", filepath.Join(chn, "card"), "--fingerprint", usaCard.Fingerprint()},
			[]string{"does not have the fingerprint given", "do not pin"}},
		{usa, []string{"peer", "replace", "--dir", usa, "--card", filepath.Join(chn, "card"), "--fingerprint", chnCard.Fingerprint()}, []string{"a key CHN already had"}},
		{usa, []string{"peer", "replace", "--dir", usa, "--card", filepath.Join(rus, "card"), "--fingerprint", rusCard.Fingerprint()}, []string{"RUS", "not pinned", "peer add"}},
	}
	// Every case must leave its station as it was at the start.
	states, files := map[string]string{}, map[string]map[string]string{}
	for _, d := range []string{usa, rus} {
		states[d], files[d] = stationState(t, d), filesOf(t, d)
	}
	for _, c := range cases {
		checkFailed(t, c.args, hotline(t, c.args...), c.wants...)
		if c.dir != "" {
			before := states[c.dir]
			if after := stationState(t, c.dir); after != before {
				t.Errorf("hotline %s changed the station:\nbefore %s\nafter %s", strings.Join(c.args, " "), before, after)
			}
			for _, f := range []string{"config.json", "card", "api-token", "keys/signing.key", "keys/kem.key"} {
				p := filepath.Join(c.dir, f)
				if after := filesOf(t, c.dir)[p]; after != files[c.dir][p] {
					t.Errorf("hotline %s changed %s", strings.Join(c.args, " "), f)
				}
			}
		}
	}
	if _, err := os.Stat(newDir); err == nil {
		t.Errorf("a failed init left %s behind", newDir)
	}
}

func TestKeyReadableByOthers(t *testing.T) {
	for _, key := range []string{"signing.key", "kem.key"} {
		dir := filepath.Join(t.TempDir(), "usa")
		mustRun(t, "init", "--dir", dir, "--name", "USA", "--party", "USA", "--peer-listen", "127.0.0.1:7443")
		p := filepath.Join(dir, "keys", key)
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
		files := filesOf(t, dir)
		for _, args := range [][]string{{"status", "--dir", dir}, {"peer", "list", "--dir", dir}, {"run", "--dir", dir}} {
			checkFailed(t, args, hotline(t, args...), "chmod 600", p)
		}
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, %v; the station must not change it", key, fi.Mode(), err)
		}
		after := filesOf(t, dir)
		for f, h := range files {
			if after[f] != h {
				t.Errorf("%s changed", f)
			}
		}
		if len(after) != len(files) {
			t.Errorf("files before %d, after %d", len(files), len(after))
		}
	}
}

// TestStationBusy: while another short-lived command has the station open,
// a second one must say so, not report a failed API call.
func TestStationBusy(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "usa")
	mustRun(t, "init", "--dir", dir, "--name", "USA", "--party", "USA", "--peer-listen", "127.0.0.1:7443")
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	args := []string{"status", "--dir", dir}
	checkFailed(t, args, hotline(t, args...), "in use")
}

// copyStation copies a stopped station's directory.
func copyStation(t *testing.T, from string) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), filepath.Base(from))
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		if d.Name() == "lock" || d.Name() == "api.addr" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fi, _ := d.Info()
		return os.WriteFile(dst, data, fi.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
	return to
}

// TestMessageListsAreInert: message text (which for the inbox comes from
// the peer) must not reach the operator's terminal as control characters or
// as extra lines that look like other messages.
func TestMessageListsAreInert(t *testing.T) {
	dir, _ := demoRun(t)
	usa := copyStation(t, filepath.Join(dir, "usa"))
	// Control characters are refused when a message is written (and when
	// a peer's entry arrives), so that they never reach a terminal.
	escapes := "ok\x1b[2J\x1b[H"
	checkFailed(t, []string{"send", "--text", escapes}, hotline(t, "send", "--dir", usa, "--channel", "usa-chn-staff", "--precedence", "ROUTINE", "--text", escapes),
		"invisible character U+001B")
	// A newline is text; printed, it must not make a line of its own.
	forged := "ok\nusa-chn-staff/USA/9  FLASH  acknowledged by Adm. Nobody"
	mustRun(t, "send", "--dir", usa, "--channel", "usa-chn-staff", "--precedence", "ROUTINE", "--text", forged)
	out := mustRun(t, "outbox", "--dir", usa, "--channel", "usa-chn-staff")
	var ms []json.RawMessage
	if err := json.Unmarshal([]byte(mustRun(t, "outbox", "--dir", usa, "--channel", "usa-chn-staff", "--json")), &ms); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsRune(out, '\x1b') {
		t.Errorf("outbox printed an escape character: %q", out)
	}
	if lines := strings.Count(out, "\n"); lines != 1+len(ms) {
		t.Errorf("outbox printed %d lines for %d messages: %q", lines, len(ms), out)
	}
}

// TestStatusJSON: status --json shows every channel with at least its id
// (channel), state and paths, each path with its health; offline, the
// direct path is down.
func TestStatusJSON(t *testing.T) {
	dir, _ := demoRun(t)
	usa := copyStation(t, filepath.Join(dir, "usa"))
	out := mustRun(t, "status", "--dir", usa, "--json")
	var st struct {
		Channels []map[string]any `json:"channels"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if len(st.Channels) != 3 {
		t.Fatalf("%d channels, want 3:\n%s", len(st.Channels), out)
	}
	for _, c := range st.Channels {
		paths, _ := c["paths"].([]any)
		if c["channel"] == "" || c["state"] != "down" || len(paths) != 1 {
			t.Fatalf("channel %+v: want an id, state down (no station running) and one path", c)
		}
		p := paths[0].(map[string]any)
		if p["name"] != "direct" || p["up"] != false {
			t.Errorf("path %+v: want direct, down", p)
		}
	}
	// Suspension offline: the channel reads as suspended, with the reason.
	mustRun(t, "channel", "suspend", "--dir", usa, "--channel", "usa-chn-staff", "--reason", "exercise of the suspension procedure", "--as", "Duty")
	out = mustRun(t, "status", "--dir", usa)
	if !strings.Contains(out, "usa-chn-staff SUSPENDED by USA") || !strings.Contains(out, "exercise of the suspension procedure") {
		t.Errorf("status after suspend:\n%s", out)
	}
	r := hotline(t, "send", "--dir", usa, "--channel", "usa-chn-staff", "--precedence", "ROUTINE", "--text", "x")
	checkFailed(t, []string{"send"}, r, "suspended", "exercise of the suspension procedure")
	mustRun(t, "channel", "resume", "--dir", usa, "--channel", "usa-chn-staff", "--as", "Duty")
	mustRun(t, "send", "--dir", usa, "--channel", "usa-chn-staff", "--precedence", "ROUTINE", "--text", "x")
}

// encounterFlags are the flags of a well-formed encounter report, with
// one flag changed or added.
func encounterFlags(flag, value string) []string {
	args := []string{"--time", "2026-05-01T03:10Z", "--own-unit", "DDG-00", "--own-position", "16.9,112.2", "--own-course", "45",
		"--own-speed", "14", "--other-unit", "Frigate 548", "--other-position", "16.905,112.2296", "--other-course", "300",
		"--other-speed", "18", "--cpa-distance", "0.3", "--cpa-time", "2026-05-01T03:14Z"}
	for i := 0; i < len(args); i += 2 {
		if args[i] == flag {
			args[i+1] = value
			return args
		}
	}
	return append(args, flag, value)
}

// TestDeconflictionVerbs: the codebook, coded messages shown in the
// operator's language, a notice, a report and an incident, through the
// CLI on a station that is not running.
func TestDeconflictionVerbs(t *testing.T) {
	dir, _ := demoRun(t)
	usa := copyStation(t, filepath.Join(dir, "usa"))
	const staff = "usa-chn-staff"
	if out := mustRun(t, "codebook", "list", "--category", "answer", "--lang", "zh"); !strings.Contains(out, "ANS03") || !strings.Contains(out, "我方将照办。") || strings.Contains(out, "MNV01") {
		t.Errorf("codebook list --category answer --lang zh:\n%s", out)
	}
	if out := mustRun(t, "codebook", "show", "MNV08"); !strings.Contains(out, "My course is {course} and my speed is {speed}.") || !strings.Contains(out, "--param speed=") {
		t.Errorf("codebook show MNV08:\n%s", out)
	}
	var cb struct {
		Ref     string            `json:"ref"`
		Phrases []json.RawMessage `json:"phrases"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "codebook", "list", "--json")), &cb); err != nil || !strings.HasPrefix(cb.Ref, "hotline-cues/1 sha256:") || len(cb.Phrases) < 100 {
		t.Errorf("codebook list --json: %s, %d phrases, %v", cb.Ref, len(cb.Phrases), err)
	}

	id := strings.TrimSpace(mustRun(t, "send", "--dir", usa, "--channel", staff, "--precedence", "IMMEDIATE",
		"--code", "MNV08", "--param", "course=90", "--param", "speed=12", "--code", "MNV06", "--free", "Fishing fleet to the north.", "--lang", "en"))
	zh := mustRun(t, "outbox", "--dir", usa, "--channel", staff, "--lang", "zh")
	if !strings.Contains(zh, id) || !strings.Contains(zh, "MNV08 我船航向090°，航速12节。 / MNV06 我船拟向右转向。 / 【自由文本，en】Fishing fleet to the north.") {
		t.Errorf("outbox --lang zh:\n%s", zh)
	}
	t.Setenv("LANG", "zh_CN.UTF-8")
	if out := mustRun(t, "outbox", "--dir", usa, "--channel", staff); !strings.Contains(out, "我船拟向右转向") {
		t.Errorf("outbox with LANG=zh_CN does not show Chinese:\n%s", out)
	}
	t.Setenv("LANG", "C")
	if out := mustRun(t, "outbox", "--dir", usa, "--channel", staff); !strings.Contains(out, "MNV06 I intend to alter course to starboard.") {
		t.Errorf("outbox with LANG=C does not show English:\n%s", out)
	}
	var ms []ops.MessageView
	if err := json.Unmarshal([]byte(mustRun(t, "outbox", "--dir", usa, "--channel", staff, "--json")), &ms); err != nil {
		t.Fatal(err)
	}
	last := ms[len(ms)-1]
	if last.Kind != "coded" || last.Coded == nil || last.Coded.Codebook != "hotline-cues/1" || len(last.Coded.Lines["zh-Hans"]) != 3 {
		t.Errorf("outbox --json: %+v", last)
	}

	notice := strings.TrimSpace(mustRun(t, "notice", "send", "--dir", usa, "--channel", staff, "--kind", "transit",
		"--polygon", "16.2,111.9;16.35,112.05;18.05,110.55;17.9,110.4", "--band", "0,60", "--from", "2026-05-01T03:00Z", "--to", "2026-05-01T09:00Z",
		"--units", "DDG-00", "--title", "北上过航", "--lang", "zh-Hans"))
	report := strings.TrimSpace(mustRun(t, append([]string{"report", "encounter", "--dir", usa, "--channel", staff, "--unsafe",
		"--said", "2026-05-01T03:11Z;other;MNV09;course=270", "--description", "Crossed ahead.", "--lang", "en"}, encounterFlags("--time", "2026-05-01T03:10Z")...)...))
	out := mustRun(t, "outbox", "--dir", usa, "--channel", staff, "--lang", "zh")
	if !strings.Contains(out, "活动通报：过航 “北上过航”（自由文本，zh-Hans）") || !strings.Contains(out, "03:11 对方： MNV09 我船拟转向至航向270°。") {
		t.Errorf("outbox --lang zh with a notice and a report:\n%s", out)
	}
	inc := strings.TrimSpace(mustRun(t, "incident", "open", "--dir", usa, "--channel", staff, "--title", "Unsafe crossing", "--lang", "en",
		"--link", notice, "--link", report))
	if !strings.HasPrefix(inc, "incident "+staff+"/USA/") || !strings.HasSuffix(inc, ": open") {
		t.Errorf("incident open: %q", inc)
	}
	incID := strings.TrimSuffix(strings.TrimPrefix(inc, "incident "), ": open")
	if out := mustRun(t, "incident", "list", "--dir", usa, "--channel", staff); !strings.Contains(out, incID) || !strings.Contains(out, "Unsafe crossing") {
		t.Errorf("incident list:\n%s", out)
	}
	show := mustRun(t, "incident", "show", "--dir", usa, "--id", incID, "--lang", "zh")
	if !strings.Contains(show, "已开启") || !strings.Contains(show, notice+"  notice  活动通报") || !strings.Contains(show, report+"  report  相遇报告") {
		t.Errorf("incident show --lang zh:\n%s", show)
	}
	// The other party has not acknowledged it, so it can only be withdrawn.
	r := hotline(t, "incident", "close", "--dir", usa, "--id", incID, "--outcome", "resolved")
	checkFailed(t, []string{"incident", "close"}, r, "only its opener may close it, as withdrawn")
	mustRun(t, "incident", "close", "--dir", usa, "--id", incID, "--outcome", "withdrawn")
	var vs []ops.IncidentView
	if err := json.Unmarshal([]byte(mustRun(t, "incident", "list", "--dir", usa, "--channel", staff, "--json")), &vs); err != nil || len(vs) != 1 || vs[0].State != "closed" || vs[0].Outcome != "withdrawn" {
		t.Errorf("incident list --json: %+v, %v", vs, err)
	}
	// The after-action report, offline: USA's entries were never
	// receipted (the station is a copy, not running), so each says why it
	// has no proof.
	file := filepath.Join(t.TempDir(), "report.html")
	out = mustRun(t, "incident", "report", "--dir", usa, "--incident", incID, "--out", file)
	if !strings.Contains(out, "wrote "+file+": incident "+incID+", 4 entries, 0 with proofs of inclusion") {
		t.Errorf("incident report: %s", out)
	}
	doc, err := os.ReadFile(file)
	if err != nil || !strings.Contains(string(doc), "this entry is not receipted yet") || !strings.Contains(string(doc), "Unsafe crossing") {
		t.Errorf("the report: %v", err)
	}
	r = hotline(t, "incident", "report", "--dir", usa, "--incident", incID)
	checkFailed(t, []string{"incident", "report"}, r, "missing --out")
	r = hotline(t, "incident", "report", "--dir", usa, "--incident", "nonsense", "--out", file)
	checkFailed(t, []string{"incident", "report"}, r, `message id "nonsense" is not CHANNEL/STATION/INDEX`)
}

// flipStoreByte flips one byte in the middle of the store inside a backup
// file.
func flipStoreByte(t *testing.T, file string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(data))
	var off int64
	for {
		hdr, err := tr.Next()
		if err != nil {
			t.Fatalf("no hotline.db in the backup: %v", err)
		}
		if hdr.Name == "hotline.db" {
			data[off+512+hdr.Size/2] ^= 0x01
			break
		}
		off += 512 + (hdr.Size+511)/512*512
	}
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
