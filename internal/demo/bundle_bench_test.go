package demo

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var (
	bundleMessages = flag.Int("bundle.messages", 20000, "texts of 1,000 bytes in the bundle BenchmarkBundleImport imports")
	bundleBinary   = flag.String("bundle.binary", "", "the hotline binary BenchmarkBundleImport imports with (default: this tree's), to compare another build")
)

// cli runs hotline with stdin and fails b if it fails.
func cli(b *testing.B, bin, stdin string, args ...string) string {
	b.Helper()
	cmd := exec.CommandContext(b.Context(), bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("hotline %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// BenchmarkBundleImport times `hotline bundle import` as a real process on
// a station it opens itself, and reads its peak resident memory (rusage).
// USA and CHN, never running, agree a channel by bundles; USA sends
// -bundle.messages texts of 1,000 bytes (send --lines) and exports its
// bundle for CHN; a fresh copy of CHN's directory imports it, and then
// imports it again. -bundle.binary imports with another build, on the
// same stations and bundle.
//
//	go test ./internal/demo -run '^$' -bench BundleImport -benchtime 1x -v
func BenchmarkBundleImport(b *testing.B) {
	imp := binary
	if *bundleBinary != "" {
		imp = *bundleBinary
	}
	root := b.TempDir()
	dirs := map[string]string{}
	for i, name := range []string{"USA", "CHN"} {
		dirs[name] = filepath.Join(root, strings.ToLower(name))
		cli(b, binary, "", "init", "--dir", dirs[name], "--name", name, "--party", name, "--peer-listen", fmt.Sprintf("127.0.0.1:%d", 1+i))
	}
	for _, pin := range [][2]string{{"USA", "CHN"}, {"CHN", "USA"}} {
		fp := strings.TrimSpace(cli(b, binary, "", "fingerprint", "--dir", dirs[pin[1]]))
		cli(b, binary, "", "peer", "add", "--dir", dirs[pin[0]], "--card", filepath.Join(dirs[pin[1]], "card"), "--fingerprint", fp)
	}
	carry := func(from, to string) {
		file := filepath.Join(root, from+"-"+to+".bundle")
		cli(b, binary, "", "bundle", "export", "--dir", dirs[from], "--peer", to, "--out", file)
		cli(b, binary, "", "bundle", "import", "--dir", dirs[to], file)
	}
	const ch = "usa-chn-ops"
	cli(b, binary, "", "channel", "propose", "--dir", dirs["USA"], "--peer", "CHN", "--channel", ch, "--level", "staff")
	carry("USA", "CHN")
	cli(b, binary, "", "channel", "accept", "--dir", dirs["CHN"], "--channel", ch)
	carry("CHN", "USA")
	rng := rand.New(rand.NewPCG(1, 2))
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "
	var lines strings.Builder
	for i := range *bundleMessages {
		fmt.Fprintf(&lines, "position report %05d ", i)
		for range 980 {
			lines.WriteByte(letters[rng.IntN(len(letters))])
		}
		lines.WriteByte('\n')
	}
	cli(b, binary, lines.String(), "send", "--dir", dirs["USA"], "--channel", ch, "--precedence", "ROUTINE", "--lines")
	bundle := filepath.Join(root, "big.bundle")
	cli(b, binary, "", "bundle", "export", "--dir", dirs["USA"], "--peer", "CHN", "--out", bundle)
	fi, err := os.Stat(bundle)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("bundle of %d texts: %.1f MiB", *bundleMessages, float64(fi.Size())/(1<<20))

	for i := 0; b.Loop(); i++ {
		dir := filepath.Join(root, fmt.Sprintf("chn-%d", i))
		cli(b, "cp", "", "-a", dirs["CHN"], dir)
		for _, run := range []string{"first", "again"} {
			cmd := exec.CommandContext(b.Context(), imp, "bundle", "import", "--dir", dir, bundle)
			start := time.Now()
			out, err := cmd.CombinedOutput()
			wall := time.Since(start)
			if err != nil {
				b.Fatalf("import: %v\n%s", err, out)
			}
			ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
			user := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			rss := float64(ru.Maxrss) / 1024
			b.Logf("%s import: %.2f s wall, %.2f s CPU, %.1f MiB peak resident: %s", run, wall.Seconds(), user.Seconds(), rss, strings.TrimSpace(string(out)))
			b.ReportMetric(wall.Seconds(), run+"-s")
			b.ReportMetric(user.Seconds(), run+"-cpu-s")
			b.ReportMetric(rss, run+"-MiB")
		}
	}
}
