package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"hotline/internal/ops"
)

func freeLoopback(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestRelayRefusalDegrades, with real processes: USA's and CHN's cards
// list a relay that allows CHN but not USA. The channel between them is
// agreed over the direct path, and USA's status shows it degraded, with
// a trouble naming the relay that refuses USA and what to do, and the
// relay among those refusing it; doctor fails on the relay (it speaks the
// relay protocol, not only TLS, so the refusal shows) and on what status
// shows, with the fix, and exits 1.
func TestRelayRefusalDegrades(t *testing.T) {
	root := t.TempDir()
	rdir, usa, chn := filepath.Join(root, "relay"), filepath.Join(root, "usa"), filepath.Join(root, "chn")
	mustRun(t, "relay", "init", "--dir", rdir, "--name", "NEUTRAL", "--listen", freeLoopback(t))
	relay := exec.Command(binary, "relay", "run", "--dir", rdir)
	relay.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var rlog bytes.Buffer
	relay.Stderr = &rlog
	if err := relay.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		relay.Process.Signal(syscall.SIGTERM)
		relay.Wait()
	}()
	var rst struct{ Fingerprint string }
	if err := json.Unmarshal([]byte(mustRun(t, "relay", "list", "--dir", rdir, "--json")), &rst); err != nil || rst.Fingerprint == "" {
		t.Fatalf("relay list: %+v %v", rst, err)
	}
	rfp := rst.Fingerprint
	rcard := filepath.Join(root, "relay.card")
	if err := os.WriteFile(rcard, []byte(mustRun(t, "relay", "card", "--dir", rdir)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct{ dir, name string }{{usa, "USA"}, {chn, "CHN"}} {
		mustRun(t, "init", "--dir", s.dir, "--name", s.name, "--party", s.name, "--peer-listen", freeLoopback(t), "--api-listen", "127.0.0.1:0")
		mustRun(t, "card", "add-relay", "--dir", s.dir, "--card", rcard, "--fingerprint", rfp)
	}
	fps := map[string]string{}
	for _, d := range []string{usa, chn} {
		fps[d] = strings.TrimSpace(mustRun(t, "fingerprint", "--dir", d))
	}
	mustRun(t, "relay", "allow", "--dir", rdir, "--card", filepath.Join(chn, "card"), "--fingerprint", fps[chn])
	mustRun(t, "peer", "add", "--dir", usa, "--card", filepath.Join(chn, "card"), "--fingerprint", fps[chn])
	mustRun(t, "peer", "add", "--dir", chn, "--card", filepath.Join(usa, "card"), "--fingerprint", fps[usa])
	_, stopUSA := startRun(t, usa)
	defer stopUSA()
	_, stopCHN := startRun(t, chn)
	defer stopCHN()
	mustRun(t, "channel", "propose", "--dir", chn, "--peer", "USA", "--channel", "ops", "--level", "staff")
	status := func() ops.StatusView {
		t.Helper()
		var s ops.StatusView
		if err := json.Unmarshal([]byte(mustRun(t, "status", "--dir", usa, "--json")), &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	deadline := time.Now().Add(time.Minute)
	for len(status().Channels) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the proposal never reached USA")
		}
		time.Sleep(100 * time.Millisecond)
	}
	mustRun(t, "channel", "accept", "--dir", usa, "--channel", "ops")
	var s ops.StatusView
	var relayTrouble *ops.TroubleView
	for deadline = time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		s = status()
		relayTrouble = nil
		for i, tr := range s.Channels[0].Troubles {
			if tr.Kind == "relay" {
				relayTrouble = &s.Channels[0].Troubles[i]
			}
		}
		// Down (no path up yet) outranks degraded: wait for the direct
		// path, with the relay still refusing.
		if s.Channels[0].Agreement == "active" && relayTrouble != nil && s.Channels[0].State != "down" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("USA's status never showed the relay refusing it: %+v", s)
		}
	}
	if s.Channels[0].State != "degraded" || !strings.Contains(relayTrouble.Reason, "relay NEUTRAL") || !strings.Contains(relayTrouble.Reason, "refuses this station") ||
		!strings.Contains(relayTrouble.Action, "hotline relay allow") || !strings.Contains(relayTrouble.Action, fps[usa]) {
		t.Errorf("USA's channel: %s, trouble %+v", s.Channels[0].State, relayTrouble)
	}
	if len(s.RelaysRefusing) != 1 || s.RelaysRefusing[0].Relay != "NEUTRAL" || !s.RelaysRefusing[0].Own {
		t.Errorf("relays refusing USA: %+v", s.RelaysRefusing)
	}
	text := mustRun(t, "status", "--dir", usa)
	for _, want := range []string{"ops DEGRADED: relay NEUTRAL", "what to do: read this station's fingerprint", "relay NEUTRAL at"} {
		if !strings.Contains(text, want) {
			t.Errorf("status does not say %q:\n%s", want, text)
		}
	}
	r := hotline(t, "doctor", "--dir", usa, "--json")
	var ds []map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &ds); err != nil {
		t.Fatalf("doctor --json: %v\n%s\n%s", err, r.stdout, r.stderr)
	}
	found := map[string]bool{}
	for _, d := range ds {
		switch {
		case d["check"] == "reach" && d["status"] == "fail" && strings.Contains(d["detail"], "relay NEUTRAL (own)") && strings.Contains(d["detail"], "refuses this station"):
			found["reach"] = strings.Contains(d["fix"], "hotline relay allow")
		case d["check"] == "status" && d["status"] == "fail" && strings.Contains(d["detail"], "channel ops with CHN is degraded: relay NEUTRAL"):
			found["status"] = strings.Contains(d["fix"], "hotline relay allow")
		case d["check"] == "reach" && d["status"] == "ok" && strings.Contains(d["detail"], "relay NEUTRAL"):
			t.Errorf("doctor says the refusing relay is fine: %v", d)
		}
	}
	if r.code != 1 || !found["reach"] || !found["status"] {
		t.Errorf("doctor: exit %d, found %v:\n%s", r.code, found, r.stdout)
	}
	// CHN, allowed on the relay, has nothing of the kind.
	var cs ops.StatusView
	if err := json.Unmarshal([]byte(mustRun(t, "status", "--dir", chn, "--json")), &cs); err != nil {
		t.Fatal(err)
	}
	if len(cs.RelaysRefusing) != 0 {
		t.Errorf("relays refusing CHN: %+v", cs.RelaysRefusing)
	}
}
