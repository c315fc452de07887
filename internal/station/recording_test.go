package station

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"hotline/internal/badrequest"
	"hotline/internal/ops"
	"hotline/internal/protocol"
	"hotline/internal/stationdir"
	"hotline/internal/transcript"
)

// opus is a payload a browser might send: a TOC byte of one 20 ms CELT
// frame, then text, so that a test can find who said it in a recording.
func opus(s string) string { return "\xfc" + s }

// TestCallRecording: a channel whose charter says call-recording. USA
// calls, CHN answers, both officers talk, USA hangs up. Each station
// holds an encrypted recording of its own side's audio, and names it in
// a signed entry of its log (USA in its end entry, CHN in a leave entry
// once the end arrived), which both stations list. Each station gives
// back its own recording as an Ogg Opus file that holds what its side
// said and nothing of the other's, matching the signed hash. A recording
// altered on disk, or replaced by another one sealed to the same key, is
// refused; a call on a channel that does not record has none. Both
// transcripts verify with the recordings' entries in them.
func TestCallRecording(t *testing.T) {
	ctx := context.Background()
	usa, chn := benchPair(t)
	const ch = "recorded"
	notes, cancel := chn.Subscribe()
	defer cancel()
	if _, err := usa.Propose(ctx, ops.ProposeRequest{Peer: "CHN", Channel: ch, Level: "theatre", CallRecording: true}); err != nil {
		t.Fatal(err)
	}
	waitNote(t, notes, func(n protocol.Notify) bool { return n.What == "channel" && n.Channel == ch })
	an, cancelA := usa.Subscribe()
	defer cancelA()
	if _, err := chn.Accept(ctx, ch); err != nil {
		t.Fatal(err)
	}
	waitNote(t, an, func(n protocol.Notify) bool { return n.What == "channel" && n.Channel == ch })
	for _, st := range []*Station{usa, chn} {
		cs, err := st.Channels(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if c.ID == ch && !c.CallRecording {
				t.Fatalf("%s shows channel %s without call recording: %+v", st.Cfg.Name, ch, c)
			}
		}
	}

	c, err := usa.StartCall(ctx, ops.StartCallRequest{Channel: ch, As: "Cdr. Hale"})
	if err != nil {
		t.Fatal(err)
	}
	ub := attachBrowser(t, usa, c.ID)
	waitCall(t, chn, ch, c.ID, "the call ringing", func(v ops.CallView) bool { return v.State == "ringing" })
	if _, err := chn.AnswerCall(ctx, ops.CallActRequest{ID: c.ID, As: "Col. Li"}); err != nil {
		t.Fatal(err)
	}
	cb := attachBrowser(t, chn, c.ID)
	waitCall(t, usa, ch, c.ID, "media connected", func(v ops.CallView) bool { return mediaState(v) == "connected" })
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; ub.Heard(opus("chn-said-")) < 20 || cb.Heard(opus("usa-said-")) < 20; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("USA heard %d, CHN %d", ub.Heard(opus("chn-said-")), cb.Heard(opus("usa-said-")))
		}
		ub.Speak(opus(fmt.Sprintf("usa-said-%d", i)))
		cb.Speak(opus(fmt.Sprintf("chn-said-%d", i)))
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := usa.EndCall(ctx, ops.CallActRequest{ID: c.ID, As: "Cdr. Hale"}); err != nil {
		t.Fatal(err)
	}
	var recs []ops.CallRecordingView
	for _, st := range []*Station{usa, chn} {
		v := waitCall(t, st, ch, c.ID, "both recordings named", func(v ops.CallView) bool { return v.State == "ended" && len(v.Recordings) == 2 })
		if recs != nil && fmt.Sprint(recs) != fmt.Sprint(v.Recordings) {
			t.Fatalf("USA lists recordings %+v, CHN %+v", recs, v.Recordings)
		}
		recs = v.Recordings
	}
	byStation := map[string]ops.CallRecordingView{}
	for _, r := range recs {
		byStation[r.Station] = r
	}
	if !strings.HasPrefix(byStation["USA"].Entry, ch+"/USA/") || !strings.HasPrefix(byStation["CHN"].Entry, ch+"/CHN/") {
		t.Fatalf("recordings named by %+v", recs)
	}

	for _, x := range []struct {
		st          *Station
		own, other  string
		fromThePeer string
	}{{usa, "usa-said-", "chn-said-", "CHN"}, {chn, "chn-said-", "usa-said-", "USA"}} {
		name := x.st.Cfg.Name
		f, err := x.st.CallRecording(ctx, ops.CallRecordingRequest{ID: c.ID})
		if err != nil {
			t.Fatalf("%s's recording: %v", name, err)
		}
		sum := sha256.Sum256(f.Ogg)
		if hex.EncodeToString(sum[:]) != byStation[name].SHA256 || int64(len(f.Ogg)) != byStation[name].Bytes || f.Station != name {
			t.Fatalf("%s's recording: %d bytes, sha256 %x; signed %+v", name, len(f.Ogg), sum, byStation[name])
		}
		if !bytes.HasPrefix(f.Ogg, []byte("OggS")) || !bytes.Contains(f.Ogg, []byte("OpusHead")) {
			t.Fatalf("%s's recording is not Ogg Opus: %q", name, f.Ogg[:min(64, len(f.Ogg))])
		}
		if n := bytes.Count(f.Ogg, []byte(x.own)); n < 20 || bytes.Contains(f.Ogg, []byte(x.other)) {
			t.Fatalf("%s's recording holds %d of its own packets, and the other side's: %v", name, n, bytes.Contains(f.Ogg, []byte(x.other)))
		}
		// On disk it is encrypted.
		path := filepath.Join(x.st.Dir, recordingsDir, recordingFile(c.ID))
		disk, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(disk, []byte("age-encryption.org/v1\n")) || bytes.Contains(disk, []byte(x.own)) {
			t.Fatalf("%s's recording on disk is not encrypted", name)
		}
		// The other station's key does not open it.
		other := map[string]*Station{"USA": chn, "CHN": usa}[name]
		if _, err := age.Decrypt(bytes.NewReader(disk), hpkeIdentity{other.Keys}); err == nil {
			t.Fatalf("%s's recording opens with %s's key", name, other.Cfg.Name)
		}
	}

	// Altered on disk: refused, naming what is wrong.
	path := filepath.Join(usa.Dir, recordingsDir, recordingFile(c.ID))
	good, _ := os.ReadFile(path)
	bad := bytes.Clone(good)
	bad[len(bad)-20] ^= 1
	os.WriteFile(path, bad, 0o600)
	if _, err := usa.CallRecording(ctx, ops.CallRecordingRequest{ID: c.ID}); !badrequest.Is(err) || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("an altered recording: %v", err)
	}
	// Replaced by another recording, genuinely sealed to USA's key.
	var forged bytes.Buffer
	w, _ := age.Encrypt(&forged, hpkeRecipient{usa.Keys.KEM.PublicKey()})
	w.Write([]byte("OggS another recording"))
	w.Close()
	os.WriteFile(path, forged.Bytes(), 0o600)
	if _, err := usa.CallRecording(ctx, ops.CallRecordingRequest{ID: c.ID}); !badrequest.Is(err) || !strings.Contains(err.Error(), "not the one this station's signed entry names") {
		t.Errorf("a replaced recording: %v", err)
	}
	os.Remove(path)
	if _, err := usa.CallRecording(ctx, ops.CallRecordingRequest{ID: c.ID}); !badrequest.Is(err) || !strings.Contains(err.Error(), "not in this station's directory") {
		t.Errorf("a missing recording: %v", err)
	}
	os.WriteFile(path, good, 0o600)
	if _, err := usa.CallRecording(ctx, ops.CallRecordingRequest{ID: c.ID}); err != nil {
		t.Errorf("the recording put back: %v", err)
	}

	// A backup holds the recording; the station restored from it gives
	// it back, checked against the signed hash.
	backup := filepath.Join(t.TempDir(), "usa.backup")
	if err := stationdir.Backup(ctx, usa.Dir, backup); err != nil {
		t.Fatal(err)
	}
	bf, err := os.Open(backup)
	if err != nil {
		t.Fatal(err)
	}
	restored := filepath.Join(t.TempDir(), "usa")
	if err := stationdir.Restore(ctx, restored, bf); err != nil {
		t.Fatal(err)
	}
	bf.Close()
	if got, _ := os.ReadFile(filepath.Join(restored, recordingsDir, recordingFile(c.ID))); !bytes.Equal(got, good) {
		t.Fatal("the restored directory does not hold the recording")
	}
	rs, err := Open(ctx, restored, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if f, err := rs.CallRecording(ctx, ops.CallRecordingRequest{ID: c.ID}); err != nil || f.SHA256 != byStation["USA"].SHA256 {
		t.Errorf("the restored station's recording: %v", err)
	}
	rs.Close()

	// A call on a channel that does not record: none named, none kept.
	d, err := usa.StartCall(ctx, ops.StartCallRequest{Channel: "bench", As: "Cdr. Hale"})
	if err != nil {
		t.Fatal(err)
	}
	attachBrowser(t, usa, d.ID)
	if _, err := usa.EndCall(ctx, ops.CallActRequest{ID: d.ID, As: "Cdr. Hale"}); err != nil {
		t.Fatal(err)
	}
	if v := callOf(t, usa, "bench", d.ID); len(v.Recordings) != 0 {
		t.Errorf("a call on a channel that does not record: %+v", v.Recordings)
	}
	if _, err := usa.CallRecording(ctx, ops.CallRecordingRequest{ID: d.ID}); !badrequest.Is(err) || !strings.Contains(err.Error(), "names a recording") {
		t.Errorf("the recording of a call not recorded: %v", err)
	}
	if _, err := os.Stat(filepath.Join(usa.Dir, recordingsDir, recordingFile(d.ID))); err == nil {
		t.Error("a recording was kept for a channel that does not record")
	}

	// Both transcripts hold the recordings' entries, and verify.
	for _, st := range []*Station{usa, chn} {
		b, err := st.Export(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := transcript.Verify(b); err != nil {
			t.Errorf("%s's transcript: %v", st.Cfg.Name, err)
		}
	}
}
