package linkemu

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// testbed makes two namespaces joined by a link under p, or skips the
// test saying why it cannot.
func testbed(t *testing.T, p Profile) *Testbed {
	t.Helper()
	if err := Available(); err != nil {
		t.Skip(err)
	}
	tb, err := NewTestbed(fmt.Sprintf("le%d", os.Getpid()), p, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tb.Close(); err != nil {
			t.Error(err)
		}
	})
	return tb
}

// TestTestbedUDP: real UDP between two namespaces crosses the link: no
// round trip is shorter than the profile's, and every datagram comes
// back whole, the link counting what it carried.
func TestTestbedUDP(t *testing.T) {
	p := Profile{Name: "t", RTT: 100 * time.Millisecond, Jitter: 5 * time.Millisecond, MTU: 1500}
	tb := testbed(t, p)
	echo, err := tb.B.ListenPacket("udp4", tb.AddrB+":9000")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := echo.ReadFrom(buf)
			if err != nil {
				return
			}
			echo.WriteTo(buf[:n], from)
		}
	}()
	c, err := tb.A.DialContext(t.Context(), "udp4", tb.AddrB+":9000")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 2048)
	for i := range 10 {
		msg := []byte(fmt.Sprintf("ping %d", i))
		start := time.Now()
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if rtt := time.Since(start); rtt < p.RTT-2*p.Jitter {
			t.Errorf("round trip %v, shorter than the link's %v", rtt, p.RTT)
		}
		if !bytes.Equal(buf[:n], msg) {
			t.Fatalf("echo %q, want %q", buf[:n], msg)
		}
	}
	ab, ba := tb.Link.Stats()
	if ab.Packets < 10 || ba.Packets < 10 {
		t.Errorf("the link carried %d and %d packets, fewer than the 10 each way sent", ab.Packets, ba.Packets)
	}
}

// TestTestbedTCP: a TCP stream through a slow, lossy link in bursts
// arrives whole and in order (TCP repairs the losses), and no faster
// than the link's rate allows.
func TestTestbedTCP(t *testing.T) {
	p := Profile{Name: "t", RTT: 200 * time.Millisecond, Loss: 0.02, Burst: 3, Rate: 2_000_000, Queue: 64 << 10, MTU: 1500}
	tb := testbed(t, p)
	ln, err := tb.B.Listen("tcp4", tb.AddrB+":9001")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	data := make([]byte, 256<<10)
	rand.Read(data)
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		got <- b
	}()
	start := time.Now()
	c, err := tb.A.DialContext(t.Context(), "tcp4", tb.AddrB+":9001")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(data); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	var b []byte
	select {
	case b = <-got:
	case <-time.After(2 * time.Minute):
		t.Fatal("the stream did not arrive")
	}
	c.Close()
	took := time.Since(start)
	if !bytes.Equal(b, data) {
		t.Fatalf("received %d bytes, not the %d sent", len(b), len(data))
	}
	if least := p.Serialise(len(data)); took < least {
		t.Errorf("%d bytes took %v, faster than the link's rate allows (%v)", len(data), took, least)
	}
	if ab, _ := tb.Link.Stats(); ab.Lost == 0 {
		t.Error("the link lost nothing: TCP met no loss")
	}
}

// TestTestbedSetMTU: setting a profile with a smaller MTU lowers the
// devices' MTU, so a new TCP connection's segments fit the link.
func TestTestbedSetMTU(t *testing.T) {
	tb := testbed(t, Profile{Name: "t", MTU: 1500})
	if err := tb.Set(Profile{Name: "u", RTT: 20 * time.Millisecond, MTU: 576}); err != nil {
		t.Fatal(err)
	}
	ln, err := tb.B.Listen("tcp4", tb.AddrB+":9002")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- -1
			return
		}
		n, _ := io.Copy(io.Discard, c)
		c.Close()
		done <- n
	}()
	c, err := tb.A.DialContext(t.Context(), "tcp4", tb.AddrB+":9002")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	if n := <-done; n != 64<<10 {
		t.Fatalf("received %d bytes of %d", n, 64<<10)
	}
	c.Close()
	if ab, _ := tb.Link.Stats(); ab.OversizeDrop != 0 || ab.Packets < (64<<10)/536 {
		t.Errorf("after the MTU went to 576: %d packets over it, %d carried", ab.OversizeDrop, ab.Packets)
	}
}
