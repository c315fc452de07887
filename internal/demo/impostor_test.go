package demo

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"hotline/internal/home"
	"hotline/internal/link"
	"hotline/internal/ops"
	"hotline/internal/stationdir"
)

// TestRetiredKeyImpostorProcesses: two real hotline run processes. CHN
// rotates its keys; later CHN is down and an attacker who kept CHN's key
// before answers at CHN's address with it. USA refuses it (only a peer's
// current key speaks for it), raises an alarm, sends it nothing, and its
// FLASH stays queued rather than shown delivered (security review item 1).
func TestRetiredKeyImpostorProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	root := t.TempDir()
	p, err := NewPair(ctx, root, binary, map[string]string{"ops": "staff"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	usa := p.A.Client()
	if _, err := usa.Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "IMMEDIATE", Text: "before"}); err != nil {
		t.Fatal(err)
	}
	out := hotlineCLI(t, "key", "rotate", "--dir", p.B.Dir, "--as", "signal officer", "--json")
	var rot ops.RotationView
	if err := json.Unmarshal([]byte(out), &rot); err != nil {
		t.Fatalf("key rotate printed %q: %v", out, err)
	}
	if err := WaitFor(ctx, usa, time.Minute, func() (bool, error) {
		ps, err := usa.Peers(ctx)
		return err == nil && len(ps) == 1 && ps[0].Fingerprint == rot.Fingerprint, err
	}); err != nil {
		t.Fatalf("USA did not follow CHN's rotation: %v", err)
	}
	card, err := stationdir.ReadCard(p.B.Dir)
	if err != nil {
		t.Fatal(err)
	}
	retired, err := home.LoadKeys(filepath.Join(p.B.Dir, "keys", "retired", "0"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.B.Stop(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}

	// The impostor, at CHN's address, with CHN's key before the rotation.
	cert, err := link.Certificate("CHN", retired.Sign)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", card.Endpoints[0])
	if err != nil {
		t.Fatalf("listening at CHN's address: %v", err)
	}
	defer ln.Close()
	var handshakes, bytes atomic.Int64
	go func() {
		cfg := &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAnyClientCert, MinVersion: tls.VersionTLS13}
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := tls.Server(c, cfg)
				tc.SetDeadline(time.Now().Add(5 * time.Second))
				if tc.Handshake() == nil {
					handshakes.Add(1)
					n, _ := io.Copy(io.Discard, tc)
					bytes.Add(n)
				}
			}()
		}
	}()

	m, err := usa.Send(ctx, ops.SendRequest{Channel: "ops", Precedence: "FLASH", Text: "for CHN only"})
	if err != nil {
		t.Fatal(err)
	}
	if err := WaitFor(ctx, usa, time.Minute, func() (bool, error) {
		return len(alertsWith(t, ctx, usa, "presented key")) > 0, nil
	}); err != nil {
		t.Fatalf("USA raised no alarm for the retired key at CHN's address: %v", err)
	}
	// USA tries again (its dialer backs off and redials): each try is
	// refused the same way, and nothing reaches the impostor meanwhile.
	if err := WaitFor(ctx, usa, time.Minute, func() (bool, error) {
		st, err := usa.Status(ctx)
		return err == nil && st.Refused["wrong peer key"] >= 2, err
	}); err != nil {
		t.Fatalf("USA did not try CHN's address again: %v", err)
	}
	outbox, err := usa.Outbox(ctx, "ops")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outbox {
		if o.ID == m.ID && o.Status != "queued" {
			t.Errorf("USA shows the FLASH %s to the holder of CHN's retired key", o.Status)
		}
	}
	if n := bytes.Load(); n > 0 {
		t.Errorf("USA sent %d bytes to the holder of CHN's retired key (%d handshakes)", n, handshakes.Load())
	}
}
