package console_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"hotline/internal/demo"
	"hotline/internal/identity"
	"hotline/internal/netfault"
	"hotline/internal/operator"
	"hotline/internal/ops"
	"hotline/internal/transcript"
)

// toneWAV writes seconds of a sine tone at hz as a 48 kHz, 16-bit mono
// WAV file, for chromium's fake microphone.
func toneWAV(t *testing.T, path string, hz float64, seconds int) {
	t.Helper()
	const rate = 48000
	n := rate * seconds
	b := make([]byte, 44+2*n)
	copy(b[0:], "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+2*n))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1) // PCM
	binary.LittleEndian.PutUint16(b[22:], 1) // mono
	binary.LittleEndian.PutUint32(b[24:], rate)
	binary.LittleEndian.PutUint32(b[28:], rate*2)
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(2*n))
	for i := range n {
		v := int16(0.5 * math.MaxInt16 * math.Sin(2*math.Pi*hz*float64(i)/rate))
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(v))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// newCallBrowser is newBrowser with a fake microphone that plays wav, the
// permission to use it granted, and loopback allowed for WebRTC (the
// stations' media listen on 127.0.0.1).
func newCallBrowser(t *testing.T, ctx context.Context, wav string) context.Context {
	t.Helper()
	return newBrowser(t, ctx,
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-audio-capture", wav),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("disable-features", "WebRtcHideLocalIpsWithMdns"))
}

// heardTone is the strongest frequency (Hz) in the audio the page
// receives from its station, and its level (dBFS), read with a Web
// Audio analyser on the call's received stream over half a second.
const heardTone = `(async () => {
	const el = document.getElementById("call-audio");
	if (!el || !el.srcObject) return [0, -1000];
	if (!window.__analyser) {
		const ctx = new AudioContext();
		await ctx.resume();
		const an = ctx.createAnalyser();
		an.fftSize = 8192;
		ctx.createMediaStreamSource(el.srcObject).connect(an);
		window.__analyser = an;
	}
	const an = window.__analyser;
	await new Promise((r) => setTimeout(r, 500));
	const d = new Float32Array(an.frequencyBinCount);
	an.getFloatFrequencyData(d);
	let best = 1;
	for (let i = 2; i < d.length; i++) if (d[i] > d[best]) best = i;
	return [best * an.context.sampleRate / an.fftSize, d[best]];
})()`

// waitTone waits until the page hears a tone at hz (within 15 Hz, above
// -70 dBFS), and fails naming what it heard.
func waitTone(t *testing.T, ctx context.Context, who string, hz float64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var got []float64
	for time.Now().Before(deadline) {
		got = get(t, ctx, who+" listens", chromedp.Evaluate[[]float64](heardTone, chromedp.EvalAwaitPromise))
		if len(got) == 2 && math.Abs(got[0]-hz) < 15 && got[1] > -70 {
			t.Logf("%s hears %.0f Hz at %.0f dBFS", who, got[0], got[1])
			return
		}
	}
	t.Fatalf("%s never heard %.0f Hz; the strongest tone it receives is %v (Hz, dBFS)", who, hz, got)
}

// waitSilence waits until the page no longer hears a tone at hz.
func waitSilence(t *testing.T, ctx context.Context, who string, hz float64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var got []float64
	for time.Now().Before(deadline) {
		got = get(t, ctx, who+" listens", chromedp.Evaluate[[]float64](heardTone, chromedp.EvalAwaitPromise))
		if len(got) == 2 && (math.Abs(got[0]-hz) >= 15 || got[1] < -70) {
			t.Logf("%s hears no %.0f Hz (strongest %.0f Hz at %.0f dBFS)", who, hz, got[0], got[1])
			return
		}
	}
	t.Fatalf("%s still hears %.0f Hz: %v (Hz, dBFS)", who, hz, got)
}

// waitCallPage waits up to 30 seconds for a call's page to say its audio
// is in state (body's data-call), and fails with what the page and the
// station say.
func waitCallPage(t *testing.T, ctx context.Context, n *demo.Node, ch, who, state string) {
	t.Helper()
	start := time.Now()
	for time.Since(start) < 30*time.Second {
		if eval[string](t, ctx, `document.body.dataset.call || ""`) == state {
			t.Logf("%s: audio %s: %s", who, state, time.Since(start).Round(time.Millisecond))
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	cs, err := n.Client().Calls(ctx, ch)
	var media []string
	for _, c := range cs {
		media = append(media, fmt.Sprintf("%s %s media %+v", c.ID, c.State, c.Media))
	}
	t.Fatalf("%s: waited 30s for the audio %s; the page says %q (%q); %s lists %v (%v)", who, state,
		eval[string](t, ctx, `document.body.dataset.call || ""`), eval[string](t, ctx, `(document.getElementById("call-status") || {}).textContent || ""`),
		n.Name, media, err)
}

// TestCallAudioBothWays: two real stations (hotline run), two headless
// chromium consoles with fake microphones, one playing 440 Hz and the
// other 880 Hz. USA's officer presses Call on the channel's page and
// talks; CHN's officer opens the call and answers. Each page's analyser
// on the audio it receives from its station hears the other side's tone:
// browser → station → station → browser, both ways, each station taking
// DTLS only from the certificate the other's signed entry names. USA
// hangs up; both stations list the call ended, answered by CHN's officer,
// its media closed, and both transcripts verify.
func TestCallAudioBothWays(t *testing.T) {
	needChromium(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	p, _ := newCallPair(t, ctx, tmp, demo.PairOptions{})
	callBothWays(t, ctx, tmp, p, nil)
}

const callChannel = "usa-chn-staff"

func buildHotline(t *testing.T, ctx context.Context, tmp string) string {
	t.Helper()
	bin := filepath.Join(tmp, "hotline")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "hotline/cmd/hotline").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// callConsole is one operator's chromium console in a call test: the
// operator added at a station, a fake microphone playing a tone, logged
// in, every takeover acknowledged.
type callConsole struct {
	ctx context.Context
	url string
}

// consoles adds each operator at its station and opens a console for
// each, with a fake microphone playing its tone (Hz).
func consoles(t *testing.T, ctx context.Context, tmp string, ops ...struct {
	n   *demo.Node
	req operator.AddRequest
	hz  float64
}) []callConsole {
	t.Helper()
	var out []callConsole
	for _, o := range ops {
		if _, err := o.n.Client().AddOperator(ctx, o.req); err != nil {
			t.Fatal(err)
		}
		wav := filepath.Join(tmp, fmt.Sprintf("%s-%.0f.wav", o.req.Name, o.hz))
		toneWAV(t, wav, o.hz, 10)
		c := callConsole{ctx: newCallBrowser(t, ctx, wav), url: base(t, o.n)}
		logIn(t, c.ctx, c.url, o.req.Name)
		ackTakeovers(t, c.ctx)
		out = append(out, c)
	}
	return out
}

// op is an operator of a call test: at station n, playing hz.
func op(n *demo.Node, name, lang, as string, hz float64) struct {
	n   *demo.Node
	req operator.AddRequest
	hz  float64
} {
	return struct {
		n   *demo.Node
		req operator.AddRequest
		hz  float64
	}{n, operator.AddRequest{Name: name, Role: "duty", Password: password, Lang: lang, As: as}, hz}
}

// placeCall presses a call button (#call-start or #call-start-video) on
// the channel's page, then Talk on the call's page, and returns the
// call's id.
func placeCall(t *testing.T, c callConsole, button string) string {
	t.Helper()
	run(t, c.ctx, "USA calls",
		chromedp.Navigate(c.url+"/console/channel/"+callChannel),
		chromedp.WaitVisible(css("#"+button)),
		scriptReady,
		chromedp.Evaluate[chromedp.Void](`document.getElementById("`+button+`").click()`),
		chromedp.WaitVisible(css("#call-talk")),
		scriptReady,
	)
	id, ok := strings.CutPrefix(eval[string](t, c.ctx, `location.pathname`), "/console/call/")
	if !ok || !strings.HasPrefix(id, callChannel+"/USA/") {
		t.Fatalf("after the call button, USA's console is at %s", id)
	}
	run(t, c.ctx, "USA talks", chromedp.Evaluate[chromedp.Void](`document.getElementById("call-talk").click()`))
	return id
}

// openCall opens a call's page on a console and presses button there
// (call-answer, call-talk).
func openCall(t *testing.T, c callConsole, id, button, what string) {
	t.Helper()
	run(t, c.ctx, what,
		chromedp.Navigate(c.url+"/console/call/"+id),
		chromedp.WaitVisible(css("#"+button)),
		scriptReady,
		chromedp.Evaluate[chromedp.Void](`document.getElementById("`+button+`").click()`),
	)
}

// waitSees waits until a station lists call id (with video, if video).
func waitSees(t *testing.T, ctx context.Context, n *demo.Node, id string, video bool) {
	t.Helper()
	if err := demo.WaitFor(ctx, n.Client(), 30*time.Second, func() (bool, error) {
		cs, err := n.Client().Calls(ctx, callChannel)
		return err == nil && len(cs) == 1 && cs[0].ID == id && (cs[0].Video || !video), nil
	}); err != nil {
		t.Fatalf("%s never listed call %s (video %v): %v", n.Name, id, video, err)
	}
}

// newCallPair builds the binary and starts two stations with the call
// channel.
func newCallPair(t *testing.T, ctx context.Context, tmp string, o demo.PairOptions) (*demo.Pair, string) {
	t.Helper()
	bin := buildHotline(t, ctx, tmp)
	p, err := demo.NewPairWith(ctx, filepath.Join(tmp, "stations"), bin, map[string]string{callChannel: "staff"}, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p, bin
}

// callBothWays places a call from USA's console, answers it in CHN's,
// hears each side's tone at the other, runs during (if set) while the
// call is up and hears the tones again after it, then hangs up and checks
// both stations' records and transcripts.
func callBothWays(t *testing.T, ctx context.Context, tmp string, p *demo.Pair, during func(a, b context.Context)) {
	const ch = callChannel
	cs := consoles(t, ctx, tmp, op(p.B, "wang", "zh", "Col. Li", 880), op(p.A, "alice", "", "Cdr. Hale", 440))
	b, a := cs[0].ctx, cs[1].ctx
	urlB := cs[0].url

	// USA places the call from the channel's page and talks while it rings.
	id := placeCall(t, cs[1], "call-start")
	waitCallPage(t, a, p.A, ch, "USA's console", "connected")

	// CHN's console, on its board, rings: the call takes over the screen,
	// in Chinese, with the alarm; its button opens the call, answered.
	if err := demo.WaitFor(ctx, p.B.Client(), 30*time.Second, func() (bool, error) {
		cs, err := p.B.Client().Calls(ctx, ch)
		return err == nil && len(cs) == 1 && cs[0].ID == id && cs[0].State == "ringing", nil
	}); err != nil {
		t.Fatalf("CHN never saw call %s ringing: %v", id, err)
	}
	run(t, b, "CHN's console rings",
		chromedp.Navigate(urlB+"/console/"),
		chromedp.WaitVisible(css(`#takeover [data-takeover="call:`+id+`"]`)),
	)
	if title := eval[string](t, b, `document.getElementById("tk-title").textContent`); title != "FLASH 级来电" {
		t.Errorf("the call's takeover at CHN says %q", title)
	}
	// The page's script moves the focus once the takeover is drawn.
	run(t, b, "the call's takeover holds the focus",
		chromedp.Poll[chromedp.Void](`document.activeElement && document.activeElement.id === "takeover-ack"`, chromedp.WithPollingTimeout(10*time.Second)))
	run(t, b, "CHN answers",
		chromedp.Evaluate[chromedp.Void](`document.getElementById("takeover-ack").click()`),
		chromedp.WaitVisible(css("#call-answer")),
		scriptReady,
		chromedp.Evaluate[chromedp.Void](`document.getElementById("call-answer").click()`),
	)
	waitCallPage(t, b, p.B, ch, "CHN's console", "connected")

	waitTone(t, a, "USA's console", 880)
	waitTone(t, b, "CHN's console", 440)
	if during != nil {
		during(a, b)
		waitTone(t, a, "USA's console", 880)
		waitTone(t, b, "CHN's console", 440)
	}
	// The in-call view, drawn again every second: the duration runs, the
	// path is shown in the operator's language.
	run(t, a, "USA's call page shows the duration and the path",
		chromedp.Poll[chromedp.Void](`(document.getElementById("call-elapsed") || {}).textContent !== undefined && /^\d+:\d\d$/.test(document.getElementById("call-elapsed").textContent) && (document.getElementById("call-path") || {}).textContent`, chromedp.WithPollingTimeout(10*time.Second)))
	if during == nil {
		if got := eval[string](t, b, `document.getElementById("call-path").textContent`); got != "直连对方站" {
			t.Errorf("CHN's call page shows the path as %q", got)
		}
	}
	// Mute silences USA's microphone at CHN; unmute brings it back.
	run(t, a, "USA mutes", chromedp.Evaluate[chromedp.Void](`document.getElementById("call-mute").click()`))
	waitSilence(t, b, "CHN's console", 440)
	run(t, a, "USA unmutes", chromedp.Evaluate[chromedp.Void](`document.getElementById("call-mute").click()`))
	waitTone(t, b, "CHN's console", 440)

	// Both stations' media connected, with the peer's signed certificate.
	for _, n := range []*demo.Node{p.A, p.B} {
		cs, err := n.Client().Calls(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != 1 || cs[0].Media == nil || cs[0].Media.State != "connected" || cs[0].Media.Console != "connected" ||
			cs[0].Media.FromPeer == 0 || cs[0].Media.ToPeer == 0 || cs[0].Media.PeerFingerprint == "" {
			t.Errorf("%s lists %+v, media %+v", n.Name, cs, cs[0].Media)
		}
	}

	run(t, a, "USA hangs up", chromedp.Evaluate[chromedp.Void](`document.getElementById("call-hangup").click()`))
	waitCallPage(t, a, p.A, ch, "USA's console", "ended")
	for _, n := range []*demo.Node{p.A, p.B} {
		if err := demo.WaitFor(ctx, n.Client(), 30*time.Second, func() (bool, error) {
			cs, err := n.Client().Calls(ctx, ch)
			return err == nil && len(cs) == 1 && cs[0].State == "ended" && cs[0].AnsweredBy == "Col. Li" &&
				cs[0].Media != nil && cs[0].Media.State == "closed", nil
		}); err != nil {
			cs, _ := n.Client().Calls(ctx, ch)
			t.Fatalf("%s: the call is not listed ended and closed: %+v (%v)", n.Name, cs, err)
		}
	}
	// Both signed transcripts hold the call's entries, and verify.
	for _, n := range []*demo.Node{p.A, p.B} {
		b, err := n.Client().Export(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := transcript.Verify(b); err != nil {
			t.Errorf("%s's transcript: %v", n.Name, err)
		}
	}

}

// scriptReady waits for the page's deferred script to have run (it marks
// the body with the state of its event stream), so that a button clicked
// next has its handler.
var scriptReady = chromedp.Poll[chromedp.Void](`!!document.body.dataset.connection`, chromedp.WithPollingTimeout(10*time.Second))

// freeUDP returns a loopback UDP address nothing listens on, below the
// ephemeral range (so that no outgoing socket takes it meanwhile).
func freeUDP(t *testing.T) string {
	t.Helper()
	for range 200 {
		port := 10000 + rand.IntN(20000)
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		if err != nil {
			continue
		}
		c.Close()
		// The relay's media listens on UDP at its mail port: that must be
		// free for TCP too.
		ln, err := net.Listen("tcp", c.LocalAddr().String())
		if err != nil {
			continue
		}
		ln.Close()
		return c.LocalAddr().String()
	}
	t.Fatal("no free port")
	return ""
}

// TestCallAudioFailover: TestCallAudioBothWays with a relay (hotline relay,
// a real process) listed in both stations' cards, and the stations' media
// reaching each other over a UDP wire (each advertises its end with
// media_advertise) that the test cuts while both officers talk. The
// call goes on through the relay: each console hears the other's tone
// again after the cut, both stations list the call's media on the relay,
// and the relay forwarded the packets; the call then ends and both
// transcripts verify as before.
func TestCallAudioFailover(t *testing.T) {
	needChromium(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	bin := buildHotline(t, ctx, tmp)
	wire, err := netfault.NewWire()
	if err != nil {
		t.Fatal(err)
	}
	defer wire.Close()

	relayDir, relayAddr := filepath.Join(tmp, "relay"), freeUDP(t)
	if out, err := exec.CommandContext(ctx, bin, "relay", "init", "--dir", relayDir, "--name", "NEUTRAL", "--listen", relayAddr).CombinedOutput(); err != nil {
		t.Fatalf("relay init: %v\n%s", err, out)
	}
	rcardText, err := os.ReadFile(filepath.Join(relayDir, "card"))
	if err != nil {
		t.Fatal(err)
	}
	rcard, err := identity.ParseCard(rcardText)
	if err != nil {
		t.Fatal(err)
	}
	mediaAt := map[string]string{"USA": freeUDP(t), "CHN": freeUDP(t)}
	advertise := map[string]string{"USA": wire.AAddr(), "CHN": wire.BAddr()}
	p, err := demo.NewPairWith(ctx, filepath.Join(tmp, "stations"), bin, map[string]string{callChannel: "staff"}, demo.PairOptions{
		Prepare: func(n *demo.Node) error {
			if out, err := exec.CommandContext(ctx, bin, "card", "add-relay", "--dir", n.Dir, "--card", filepath.Join(relayDir, "card"), "--fingerprint", rcard.Fingerprint()).CombinedOutput(); err != nil {
				return fmt.Errorf("card add-relay: %v\n%s", err, out)
			}
			if out, err := exec.CommandContext(ctx, bin, "relay", "allow", "--dir", relayDir, "--card", filepath.Join(n.Dir, "card"), "--fingerprint", n.Fingerprint).CombinedOutput(); err != nil {
				return fmt.Errorf("relay allow: %v\n%s", err, out)
			}
			return editJSON(filepath.Join(n.Dir, "config.json"), func(c map[string]any) {
				c["media_listen"], c["media_advertise"] = mediaAt[n.Name], advertise[n.Name]
			})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	if err := wire.Join(mediaAt["USA"], mediaAt["CHN"]); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(relayDir, "relay.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	rp := exec.Command(bin, "relay", "run", "--dir", relayDir)
	rp.Stdout, rp.Stderr = logf, logf
	if err := rp.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { rp.Process.Signal(syscall.SIGTERM); rp.Wait() }()
	// Each station has the relay as a path to the other before the call.
	for _, n := range []*demo.Node{p.A, p.B} {
		if err := demo.WaitFor(ctx, n.Client(), 30*time.Second, func() (bool, error) {
			cs, err := n.Client().Channels(ctx)
			for _, c := range cs {
				for _, path := range c.Paths {
					if c.ID == callChannel && path.Name == "relay" && path.Up {
						return true, nil
					}
				}
			}
			return false, err
		}); err != nil {
			t.Fatalf("%s never had the relay path up: %v", n.Name, err)
		}
	}

	callBothWays(t, ctx, tmp, p, func(a, b context.Context) {
		media := func(n *demo.Node) *ops.CallMediaView {
			cs, err := n.Client().Calls(ctx, callChannel)
			if err != nil || len(cs) != 1 {
				t.Fatalf("%s lists %+v, %v", n.Name, cs, err)
			}
			return cs[0].Media
		}
		before := map[string]uint64{}
		for _, n := range []*demo.Node{p.A, p.B} {
			m := media(n)
			if m == nil || m.Path != "direct" || m.Failovers != 0 {
				t.Fatalf("%s: before the cut the media is %+v, want direct", n.Name, m)
			}
			before[n.Name] = m.FromPeer
		}
		wire.Cut()
		t.Log("the direct media path is cut")
		for _, n := range []*demo.Node{p.A, p.B} {
			if err := demo.WaitFor(ctx, n.Client(), 30*time.Second, func() (bool, error) {
				m := media(n)
				return m != nil && m.Path == "relay" && m.Via == "NEUTRAL" && m.FromPeer > before[n.Name]+100, nil
			}); err != nil {
				t.Fatalf("%s: the call's media did not go on over the relay: %+v", n.Name, media(n))
			}
			m := media(n)
			t.Logf("%s: media on the relay, %d failover(s), longest gap in the audio %.0f ms", n.Name, m.Failovers, m.MaxGapMS)
		}
		for _, c := range []struct {
			ctx  context.Context
			who  string
			want string
		}{{a, "USA", "through relay NEUTRAL (the direct path is down) · 1 failover(s)"}, {b, "CHN", "经中继 NEUTRAL（直连路径中断） · 切换 1 次"}} {
			run(t, c.ctx, c.who+"'s call page shows the relay",
				chromedp.Poll[chromedp.Void](fmt.Sprintf(`(document.getElementById("call-path") || {}).textContent === %q`, c.want), chromedp.WithPollingTimeout(10*time.Second)))
		}
		if _, lost := wire.Counts(); lost == 0 {
			t.Fatal("the cut wire dropped nothing")
		}
	})
}

func editJSON(path string, edit func(map[string]any)) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var c map[string]any
	if err := json.Unmarshal(data, &c); err != nil {
		return err
	}
	edit(c)
	if data, err = json.MarshalIndent(c, "", "  "); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// heardLevels is the level (dBFS) at each of the frequencies in the mix
// of every voice the page receives (each on an audio element of its
// own), read with a Web Audio analyser over half a second.
func heardLevels(t *testing.T, ctx context.Context, who string, freqs ...float64) []float64 {
	t.Helper()
	js := fmt.Sprintf(`(async (freqs) => {
	if (!window.__mix) {
		const ctx = new AudioContext();
		await ctx.resume();
		const an = ctx.createAnalyser();
		an.fftSize = 8192;
		window.__mix = { ctx, an, seen: new Set() };
	}
	const m = window.__mix;
	document.querySelectorAll("audio[data-voice]").forEach((el) => {
		if (el.srcObject && !m.seen.has(el)) {
			m.seen.add(el);
			m.ctx.createMediaStreamSource(el.srcObject).connect(m.an);
		}
	});
	await new Promise((r) => setTimeout(r, 500));
	const d = new Float32Array(m.an.frequencyBinCount);
	m.an.getFloatFrequencyData(d);
	return freqs.map((f) => {
		const i = Math.round(f * m.an.fftSize / m.ctx.sampleRate);
		return Math.max(d[i - 1], d[i], d[i + 1]);
	});
})(%s)`, mustJSON(t, freqs))
	return get(t, ctx, who+" listens", chromedp.Evaluate[[]float64](js, chromedp.EvalAwaitPromise))
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitHears waits until the page hears every tone of hz (above -70
// dBFS each) in what it receives, and fails naming the levels.
func waitHears(t *testing.T, ctx context.Context, who string, hz ...float64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var got []float64
	for time.Now().Before(deadline) {
		got = heardLevels(t, ctx, who, hz...)
		ok := len(got) == len(hz)
		for _, l := range got {
			ok = ok && l > -70
		}
		if ok {
			t.Logf("%s hears %v Hz at %v dBFS", who, hz, got)
			return
		}
	}
	t.Fatalf("%s does not hear all of %v Hz: levels %v dBFS", who, hz, got)
}

// TestCallInterpreter: USA's officer calls; CHN's officer answers in one
// console and CHN's interpreter joins from another console of CHN's
// station (three headless chromium, playing 440, 880 and 660 Hz). Each
// hears the two others: USA hears CHN's officer and interpreter (two
// seats on the trunk, each its own stream), the interpreter hears USA
// and its own officer (forwarded by CHN's station), CHN's officer hears
// USA and the interpreter. Both stations list the three participants,
// from the join entries; the call's pages show them.
func TestCallInterpreter(t *testing.T) {
	needChromium(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	p, _ := newCallPair(t, ctx, tmp, demo.PairOptions{})
	const ch = callChannel
	cons := consoles(t, ctx, tmp, op(p.A, "alice", "", "Cdr. Hale", 440), op(p.B, "wang", "zh", "Col. Li", 880),
		op(p.B, "zhao", "zh", "Interpreter Zhao", 660))
	usa, li, zhao := cons[0].ctx, cons[1].ctx, cons[2].ctx
	id := placeCall(t, cons[0], "call-start")
	waitSees(t, ctx, p.B, id, false)
	openCall(t, cons[1], id, "call-answer", "CHN's officer answers")
	waitCallPage(t, li, p.B, ch, "CHN's officer", "connected")
	openCall(t, cons[2], id, "call-talk", "CHN's interpreter joins")
	waitCallPage(t, zhao, p.B, ch, "CHN's interpreter", "connected")

	waitHears(t, usa, "USA's officer", 880, 660)
	waitHears(t, zhao, "CHN's interpreter", 440, 880)
	waitHears(t, li, "CHN's officer", 440, 660)

	want := []ops.CallParticipantView{{Station: "USA", Name: "Cdr. Hale", Present: true}, {Station: "CHN", Name: "Col. Li", Present: true},
		{Station: "CHN", Name: "Interpreter Zhao", Present: true}}
	for _, n := range []*demo.Node{p.A, p.B} {
		if err := demo.WaitFor(ctx, n.Client(), 30*time.Second, func() (bool, error) {
			cs, err := n.Client().Calls(ctx, ch)
			return err == nil && len(cs) == 1 && fmt.Sprint(cs[0].Participants) == fmt.Sprint(want), nil
		}); err != nil {
			cs, _ := n.Client().Calls(ctx, ch)
			t.Fatalf("%s lists participants %+v, want %+v", n.Name, cs, want)
		}
	}
	cs, _ := p.B.Client().Calls(ctx, ch)
	if m := cs[0].Media; m == nil || len(m.Seats) != 2 || m.Seats[0].Who != "Col. Li" || m.Seats[1].Who != "Interpreter Zhao" {
		t.Errorf("CHN's seats: %+v", m)
	}
	run(t, usa, "USA's call page lists the interpreter",
		chromedp.Poll[chromedp.Void](`(document.getElementById("call-participants") || {}).textContent?.includes("CHN · Interpreter Zhao")`, chromedp.WithPollingTimeout(10*time.Second)))

	run(t, usa, "USA hangs up", chromedp.Evaluate[chromedp.Void](`document.getElementById("call-hangup").click()`))
	for _, n := range []*demo.Node{p.A, p.B} {
		if err := demo.WaitFor(ctx, n.Client(), 30*time.Second, func() (bool, error) {
			cs, err := n.Client().Calls(ctx, ch)
			return err == nil && len(cs) == 1 && cs[0].State == "ended", nil
		}); err != nil {
			t.Fatalf("%s: the call did not end: %v", n.Name, err)
		}
	}
}

// TestCallVideo: USA's officer presses Video call; CHN's officer answers
// with video. Chromium's fake cameras send VP8 through both stations: each
// page decodes the other's picture (frames counted by the browser), both
// stations list the media with video and packets both ways; Camera off
// disables the camera track USA's browser sends (it then sends black
// frames; whether those reach CHN is not checked).
func TestCallVideo(t *testing.T) {
	needChromium(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	p, _ := newCallPair(t, ctx, tmp, demo.PairOptions{})
	const ch = callChannel
	cons := consoles(t, ctx, tmp, op(p.A, "alice", "", "Cdr. Hale", 440), op(p.B, "wang", "zh", "Col. Li", 880))
	usa, chn := cons[0].ctx, cons[1].ctx
	id := placeCall(t, cons[0], "call-start-video")
	waitSees(t, ctx, p.B, id, true)
	openCall(t, cons[1], id, "call-answer", "CHN answers with video")
	waitCallPage(t, chn, p.B, ch, "CHN's console", "connected")
	frames := `(() => { let n = 0; document.querySelectorAll("video[data-picture]").forEach((v) => { if (v.videoWidth > 0) n = Math.max(n, v.getVideoPlaybackQuality().totalVideoFrames); }); return n; })()`
	for _, b := range []struct {
		ctx context.Context
		who string
	}{{usa, "USA's console"}, {chn, "CHN's console"}} {
		run(t, b.ctx, b.who+" decodes the other's picture",
			chromedp.Poll[chromedp.Void](frames+` > 30`, chromedp.WithPollingTimeout(30*time.Second)))
		t.Logf("%s decoded %d frames", b.who, eval[int](t, b.ctx, frames))
	}
	for _, n := range []*demo.Node{p.A, p.B} {
		cs, err := n.Client().Calls(ctx, ch)
		if err != nil || len(cs) != 1 || cs[0].Media == nil || !cs[0].Media.Video || cs[0].Media.VideoFromPeer == 0 || cs[0].Media.VideoToPeer == 0 {
			t.Fatalf("%s lists %+v (%v)", n.Name, cs, err)
		}
	}
	// Camera off disables the track the browser sends.
	run(t, usa, "USA turns its camera off", chromedp.Evaluate[chromedp.Void](`document.getElementById("call-camera").click()`))
	if got := eval[string](t, usa, `document.getElementById("call-camera").getAttribute("aria-pressed")`); got != "true" {
		t.Errorf("the camera button says pressed=%s", got)
	}
	if on := eval[bool](t, usa, `document.getElementById("call-self").srcObject.getVideoTracks().some((t) => t.enabled)`); on {
		t.Error("after Camera off, the camera's track is still enabled")
	}
	run(t, usa, "USA hangs up", chromedp.Evaluate[chromedp.Void](`document.getElementById("call-hangup").click()`))
}
