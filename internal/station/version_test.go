package station_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hotline/internal/home"
	"hotline/internal/link"
	"hotline/internal/protocol"
)

// TestProtocolVersionRefused: a real, running station meets its genuine,
// pinned peer (its own keys, over real TLS) speaking another protocol
// version, once as the acceptor (the peer's hello) and once as the dialer
// (the peer's status). Each time it sends an error naming both versions,
// closes the connection, raises an alarm naming both (once: alarms of
// the same kind from the same peer are rate-limited), counts the refusal,
// and stores nothing from the peer.
func TestProtocolVersionRefused(t *testing.T) {
	ctx := t.Context()
	later := uint16(protocol.Version + 1)
	// CHN listens on a port of the test's, where a CHN of a later version
	// answers USA's dialer.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	usaDir, _ := initStation(t, "USA", "127.0.0.1:0")
	chnDir, chnCard := initStation(t, "CHN", "127.0.0.1:0", ln.Addr().String())
	usa := openStation(t, usaDir)
	if _, err := usa.AddPeer(ctx, chnCard.Text, chnCard.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	chnKeys, err := home.LoadKeys(filepath.Join(chnDir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := link.Certificate("CHN", chnKeys.Sign)
	if err != nil {
		t.Fatal(err)
	}
	before := take(t, usa)

	// USA dials CHN: CHN (later version) reads the hello and answers with
	// a status of its own version; USA must refuse it.
	fromUSA := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			fromUSA <- err.Error()
			return
		}
		defer c.Close()
		tc := tls.Server(c, link.ServerConfig(cert, func(k ed25519.PublicKey) (string, bool) {
			return "USA", k.Equal(usa.Keys.SignPublic())
		}))
		r := bufio.NewReader(tc)
		hello, err := link.ReadFrame(r)
		if err != nil {
			fromUSA <- "reading hello: " + err.Error()
			return
		}
		if f, err := protocol.DecodeFrame(hello); err != nil || f.Type != protocol.FrameHello || f.Version != protocol.Version {
			fromUSA <- fmt.Sprintf("USA's first frame: %+v, %v; want hello version %d", f, err, protocol.Version)
			return
		}
		if err := link.WriteFrame(tc, (&protocol.Frame{Type: protocol.FrameStatus, Version: later}).Encode()); err != nil {
			fromUSA <- err.Error()
			return
		}
		tc.SetReadDeadline(time.Now().Add(20 * time.Second))
		data, err := link.ReadFrame(r)
		if err != nil {
			fromUSA <- "reading USA's answer: " + err.Error()
			return
		}
		f, err := protocol.DecodeFrame(data)
		if err != nil || f.Type != protocol.FrameError {
			fromUSA <- fmt.Sprintf("USA answered %+v, %v; want an error frame", f, err)
			return
		}
		fromUSA <- f.Text
	}()
	addr := run(t, usa)
	var text string
	select {
	case text = <-fromUSA:
	case <-time.After(30 * time.Second):
		t.Fatal("USA never dialed CHN")
	}
	wantBoth := func(what, text string) {
		t.Helper()
		for _, want := range []string{fmt.Sprintf("protocol version %d", later), fmt.Sprintf("version %d", protocol.Version), "not compatible"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s %q does not say %q", what, text, want)
			}
		}
	}
	wantBoth("USA's error to a CHN of a later version", text)
	ln.Close() // USA's dialer finds nothing more there

	// CHN (later version) dials USA and says hello with its version.
	tc, err := link.Dial(ctx, addr, link.ClientConfig(cert, "USA", usa.Keys.SignPublic()))
	if err != nil {
		t.Fatalf("genuine CHN dialing USA: %v", err)
	}
	c := link.NewConn(tc)
	c.Send((&protocol.Frame{Type: protocol.FrameHello, Version: later}).Encode(), false)
	data, err := c.Read()
	if err != nil {
		t.Fatalf("reading USA's answer to a hello of version %d: %v", later, err)
	}
	f, err := protocol.DecodeFrame(data)
	if err != nil || f.Type != protocol.FrameError {
		t.Fatalf("USA answered a hello of version %d with %+v, %v; want an error frame", later, f, err)
	}
	wantBoth("USA's error to a hello of a later version", f.Text)
	if data, err := c.Read(); err == nil {
		t.Errorf("USA sent %q after refusing, want the connection closed", data)
	}
	c.Close()

	alarm := fmt.Sprintf("protocol version %d is not compatible", later)
	waitUntil(t, usa, "USA to count both refusals and record the alarm", func() bool {
		st, err := usa.Status(context.Background())
		return err == nil && st.Refused["protocol version"] == 2 && len(alertsContaining(t, usa, alarm)) > 0
	})
	alarms := alertsContaining(t, usa, alarm)
	// One alarm: the same refusal from the same peer is alerted at most
	// once a period (the count above has both).
	if len(alarms) != 1 {
		t.Fatalf("alerts naming the version: %+v, want 1", alarms)
	}
	for _, a := range alarms {
		wantBoth("alert", a.Text)
		if a.Level != "alarm" || a.Peer != "CHN" {
			t.Errorf("alert %+v: want an alarm about CHN", a)
		}
	}
	after := take(t, usa)
	if len(after.channels) != len(before.channels) || len(after.entries) != len(before.entries) || len(after.peers) != 1 {
		t.Errorf("after the refusals: %d channels, %d entries, %d peers; before %d, %d, 1",
			len(after.channels), len(after.entries), len(after.peers), len(before.channels), len(before.entries))
	}
}
