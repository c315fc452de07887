package station

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hotline/internal/badrequest"
	"hotline/internal/call"
	"hotline/internal/media/mediatest"
	"hotline/internal/ops"
	"hotline/internal/stationdir"
	"hotline/internal/store"
)

// waitCall waits until a station lists call id as ok says.
func waitCall(t *testing.T, st *Station, ch, id, what string, ok func(ops.CallView) bool) ops.CallView {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		cs, err := st.Calls(context.Background(), ch)
		if err != nil {
			t.Fatal(err)
		}
		var c ops.CallView
		for _, x := range cs {
			if x.ID == id {
				c = x
			}
		}
		if c.ID == id && ok(c) {
			return c
		}
		if time.Now().After(deadline) {
			m := "none"
			if c.Media != nil {
				m = c.Media.State + " " + c.Media.Reason
			}
			t.Fatalf("%s: waited 30s for %s on call %s; it is %s, media %s", st.Cfg.Name, what, id, c.State, m)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func mediaState(c ops.CallView) string {
	if c.Media == nil {
		return ""
	}
	return c.Media.State
}

// attachBrowser connects a browser to a call at a station through the
// operation the console and the API use.
func attachBrowser(t *testing.T, st *Station, id string) *mediatest.Browser {
	t.Helper()
	b := mediatest.New(t)
	a, err := st.CallMedia(context.Background(), ops.CallMediaRequest{ID: id, SDP: b.Offer()})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != id {
		t.Fatalf("answer for %s, want %s", a.ID, id)
	}
	b.Answered(a.SDP)
	return b
}

// TestCallMedia: two running stations on loopback. USA places a call (its
// media offer in the signed request), CHN answers (its answer in the
// signed answer); the stations' media connect directly, each checking
// the other's DTLS certificate against the signed entry; each station's
// browser attaches, and what each says is heard at the other. Hanging up
// closes the media at both. The fingerprints each station checked are
// the ones in the stored, signed entries.
func TestCallMedia(t *testing.T) {
	ctx := context.Background()
	usa, chn := benchPair(t)
	const ch = "bench"
	c, err := usa.StartCall(ctx, ops.StartCallRequest{Channel: ch, As: "Cdr. Hale"})
	if err != nil {
		t.Fatal(err)
	}
	if mediaState(*c) != "offered" {
		t.Fatalf("started call's media: %+v", c.Media)
	}
	// USA's officer attaches while it rings.
	ub := attachBrowser(t, usa, c.ID)
	waitCall(t, chn, ch, c.ID, "the call ringing", func(v ops.CallView) bool { return v.State == "ringing" })
	if _, err := chn.CallMedia(ctx, ops.CallMediaRequest{ID: c.ID, SDP: mediatest.New(t).Offer()}); !badrequest.Is(err) || !strings.Contains(err.Error(), "answer it first") {
		t.Errorf("CHN attaching before it answered: %v", err)
	}
	a, err := chn.AnswerCall(ctx, ops.CallActRequest{ID: c.ID, As: "Col. Li"})
	if err != nil {
		t.Fatal(err)
	}
	if a.State != "answered" || a.Media == nil {
		t.Fatalf("answered: %+v", a)
	}
	cb := attachBrowser(t, chn, c.ID)
	u := waitCall(t, usa, ch, c.ID, "media connected", func(v ops.CallView) bool { return mediaState(v) == "connected" })
	k := waitCall(t, chn, ch, c.ID, "media connected", func(v ops.CallView) bool { return mediaState(v) == "connected" })
	mediatest.Talk(t, ub, cb)

	// Each station checked the certificate its peer's signed entry names.
	signed := func(st *Station, kind string) string {
		ms, err := st.Store.Messages(ctx, store.Query{Channel: ch, Kinds: call.Kinds})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			b, err := call.Decode(m.Kind, m.Body)
			if err != nil {
				t.Fatal(err)
			}
			switch b := b.(type) {
			case *call.Request:
				if kind == "request" {
					return b.Media.Fingerprint()
				}
			case *call.Answer:
				if kind == "answer" {
					return b.Media.Fingerprint()
				}
			}
		}
		t.Fatalf("%s holds no %s", st.Cfg.Name, kind)
		return ""
	}
	if u.Media.PeerFingerprint != signed(usa, "answer") || k.Media.PeerFingerprint != signed(chn, "request") || u.Media.PeerFingerprint == k.Media.PeerFingerprint {
		t.Errorf("USA checked %s (signed answer %s); CHN checked %s (signed request %s)",
			u.Media.PeerFingerprint, signed(usa, "answer"), k.Media.PeerFingerprint, signed(chn, "request"))
	}
	u = callOf(t, usa, ch, c.ID)
	if u.Media.Console != "connected" || u.Media.ToPeer < 10 || u.Media.FromPeer < 10 {
		t.Errorf("USA's media: %+v", u.Media)
	}

	// The media's counters are scraped: nothing refused, nothing dropped.
	m := scrape(t, usa)
	for _, name := range []string{"hotline_call_media_refused_total", "hotline_call_media_dropped_total"} {
		if v, ok := m[name]; !ok || v != 0 {
			t.Errorf("%s = %v (exported %v), want 0", name, v, ok)
		}
	}

	// A second participant joins at USA, an interpreter from another
	// console: a seat of its own, and a join entry both stations list.
	ib := mediatest.New(t)
	ia, err := usa.CallMedia(ctx, ops.CallMediaRequest{ID: c.ID, SDP: ib.Offer(), As: "Interpreter Ross"})
	if err != nil {
		t.Fatal(err)
	}
	ib.Answered(ia.SDP)
	for _, st := range []*Station{usa, chn} {
		v := waitCall(t, st, ch, c.ID, "every participant listed", func(v ops.CallView) bool { return len(v.Participants) == 3 })
		if p := v.Participants; p[0] != (ops.CallParticipantView{Station: "USA", Name: "USA console", Present: true}) ||
			p[1] != (ops.CallParticipantView{Station: "CHN", Name: "CHN console", Present: true}) ||
			p[2] != (ops.CallParticipantView{Station: "USA", Name: "Interpreter Ross", Present: true}) {
			t.Errorf("%s lists participants %+v", st.Cfg.Name, p)
		}
	}
	if v := callOf(t, usa, ch, c.ID); len(v.Media.Seats) != 2 || v.Media.Seats[1].Who != "Interpreter Ross" || v.Media.Seats[1].Seat != 1 {
		t.Errorf("USA's seats: %+v", v.Media.Seats)
	}
	// Its browser goes away: a leave entry, the call goes on.
	ib.PC.Close()
	for _, st := range []*Station{usa, chn} {
		waitCall(t, st, ch, c.ID, "the interpreter gone", func(v ops.CallView) bool {
			return len(v.Participants) == 3 && !v.Participants[2].Present && v.Participants[0].Present && v.State == "answered"
		})
	}
	if _, err := usa.CallMedia(ctx, ops.CallMediaRequest{ID: c.ID, SDP: mediatest.New(t).Offer(), As: "Hale\u202e"}); !badrequest.Is(err) || !strings.Contains(err.Error(), "U+202E") {
		t.Errorf("a participant named with an invisible character: %v", err)
	}

	// USA hangs up: its media closes at once, CHN's once the end arrives.
	if _, err := usa.EndCall(ctx, ops.CallActRequest{ID: c.ID, As: "Cdr. Hale"}); err != nil {
		t.Fatal(err)
	}
	waitCall(t, usa, ch, c.ID, "media closed", func(v ops.CallView) bool { return mediaState(v) == "closed" })
	waitCall(t, chn, ch, c.ID, "the call ended and its media closed", func(v ops.CallView) bool {
		return v.State == "ended" && mediaState(v) == "closed"
	})
	if _, err := chn.CallMedia(ctx, ops.CallMediaRequest{ID: c.ID, SDP: mediatest.New(t).Offer()}); !badrequest.Is(err) || !strings.Contains(err.Error(), "ended") {
		t.Errorf("attaching to an ended call: %v", err)
	}
}

// TestCallMediaBadInput: a browser's offer that is not SDP or carries no
// audio, an unknown call, a declined call, and a station not running its
// media: each refused as the asker's error, naming what is wrong; the
// call is still there to talk on afterwards.
func TestCallMediaBadInput(t *testing.T) {
	ctx := context.Background()
	usa, chn := benchPair(t)
	const ch = "bench"
	c, err := usa.StartCall(ctx, ops.StartCallRequest{Channel: ch, As: "Cdr. Hale"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, id, sdp, want string }{
		{"not SDP", c.ID, "hello", "v=0"},
		{"empty", c.ID, "", "empty"},
		{"no audio", c.ID, "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=fingerprint:sha-256 " + strings.Repeat("AB:", 31) + "AB\r\n", "audio"},
		{"unknown call", ch + "/USA/999", mediatest.New(t).Offer(), "no call"},
		{"bad id", "nonsense", mediatest.New(t).Offer(), "CHANNEL/STATION/INDEX"},
		{"unknown channel", "nowhere/USA/1", mediatest.New(t).Offer(), "unknown channel"},
	} {
		if _, err := usa.CallMedia(ctx, ops.CallMediaRequest{ID: tc.id, SDP: tc.sdp}); !badrequest.Is(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want a bad request naming %q", tc.name, err, tc.want)
		}
	}
	// Declined: nothing to talk on, and USA's media closes.
	d, err := usa.StartCall(ctx, ops.StartCallRequest{Channel: ch, As: "Cdr. Hale"})
	if err != nil {
		t.Fatal(err)
	}
	waitCall(t, chn, ch, d.ID, "ringing", func(v ops.CallView) bool { return v.State == "ringing" })
	if _, err := chn.DeclineCall(ctx, ops.CallActRequest{ID: d.ID, As: "Col. Li", Reason: "busy"}); err != nil {
		t.Fatal(err)
	}
	waitCall(t, usa, ch, d.ID, "declined, media closed", func(v ops.CallView) bool { return v.State == "declined" && mediaState(v) == "closed" })
	if _, err := usa.CallMedia(ctx, ops.CallMediaRequest{ID: d.ID, SDP: mediatest.New(t).Offer()}); !badrequest.Is(err) || !strings.Contains(err.Error(), "declined") {
		t.Errorf("attaching to a declined call: %v", err)
	}
	// The first call still connects and carries audio.
	ub := attachBrowser(t, usa, c.ID)
	waitCall(t, chn, ch, c.ID, "ringing", func(v ops.CallView) bool { return v.State == "ringing" })
	if _, err := chn.AnswerCall(ctx, ops.CallActRequest{ID: c.ID, As: "Col. Li"}); err != nil {
		t.Fatal(err)
	}
	cb := attachBrowser(t, chn, c.ID)
	mediatest.Talk(t, ub, cb)

	// CHN answers a call without media (its media stopped): USA's media
	// for it closes, saying why; the call is answered on both records.
	e, err := usa.StartCall(ctx, ops.StartCallRequest{Channel: ch, As: "Cdr. Hale"})
	if err != nil {
		t.Fatal(err)
	}
	waitCall(t, chn, ch, e.ID, "ringing", func(v ops.CallView) bool { return v.State == "ringing" })
	chn.SetMedia(nil)
	if a, err := chn.AnswerCall(ctx, ops.CallActRequest{ID: e.ID, As: "Col. Li"}); err != nil || a.State != "answered" || a.Media != nil {
		t.Fatalf("answer without media: %+v %v", a, err)
	}
	waitCall(t, usa, ch, e.ID, "media closed for an answer without media", func(v ops.CallView) bool {
		return v.State == "answered" && mediaState(v) == "closed" && strings.Contains(v.Media.Reason, "answered without media")
	})
	if _, err := chn.CallMedia(ctx, ops.CallMediaRequest{ID: e.ID, SDP: mediatest.New(t).Offer()}); !badrequest.Is(err) || !strings.Contains(err.Error(), "hotline run") {
		t.Errorf("CHN without media: %v", err)
	}

	// A station opened but not running has no media: a call is placed
	// without an offer, and a browser is refused with the reason.
	usa.SetMedia(nil)
	if _, err := usa.CallMedia(ctx, ops.CallMediaRequest{ID: c.ID, SDP: mediatest.New(t).Offer()}); !badrequest.Is(err) || !strings.Contains(err.Error(), "hotline run") {
		t.Errorf("no media: %v", err)
	}
	plain, err := usa.StartCall(ctx, ops.StartCallRequest{Channel: ch, As: "Cdr. Hale"})
	if err != nil {
		t.Fatal(err)
	}
	if plain.Media != nil {
		t.Errorf("a call placed without media has media: %+v", plain.Media)
	}
}

// TestMediaListenTaken: a media_listen address another socket holds stops
// Run, naming the address and the reason; the default takes the host of
// peer_listen with any port.
func TestMediaListenTaken(t *testing.T) {
	ctx := context.Background()
	held, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	dir := filepath.Join(t.TempDir(), "USA")
	if _, err := stationdir.Init(ctx, stationdir.InitOptions{Dir: dir, Name: "USA", Party: "USA", PeerListen: "127.0.0.1:0", APIListen: "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := stationdir.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.MediaAddr(); got != "127.0.0.1:0" {
		t.Errorf("default media address %q, want the host of peer_listen with any port", got)
	}
	path := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	m["media_listen"] = held.LocalAddr().String()
	if data, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := Open(ctx, dir, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = st.Run(runCtx)
	if err == nil || !strings.Contains(err.Error(), "call media on "+held.LocalAddr().String()) || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("Run with media_listen taken: %v", err)
	}
	if st.MediaAddr() != "" {
		t.Errorf("media listening at %s after Run failed", st.MediaAddr())
	}
}
