package netfault

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// echo serves an echo server on loopback and returns its address.
func echo(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

func proxy(t *testing.T) *Proxy {
	p, err := Listen(echo(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// roundTrip sends msg through the proxy and reads as many bytes back.
func roundTrip(t *testing.T, c net.Conn, msg []byte) ([]byte, error) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(msg); err != nil {
		return nil, err
	}
	got := make([]byte, len(msg))
	_, err := io.ReadFull(c, got)
	return got, err
}

func TestScheduleDelayAndStall(t *testing.T) {
	p := proxy(t)
	stop := p.Run(Schedule{Seed: 1, Delay: 10 * time.Millisecond, StallEvery: 100 * time.Millisecond, StallFor: 100 * time.Millisecond})
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	began := time.Now()
	for i := range 15 {
		msg := []byte{byte(i), 'x', 'y'}
		got, err := roundTrip(t, c, msg)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("round trip %d: %q, %v", i, got, err)
		}
	}
	stop()
	n := p.Counts()
	if n["delay"] == 0 || n["stall"] == 0 || time.Since(began) < 100*time.Millisecond {
		t.Fatalf("counts %v after %s: no delay or stall", n, time.Since(began))
	}
}

func TestScheduleCutAndCorrupt(t *testing.T) {
	p := proxy(t)
	stop := p.Run(Schedule{Seed: 2, CutEvery: 100 * time.Millisecond})
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := roundTrip(t, c, []byte("ping")); err != nil {
			break // cut
		}
		if time.Now().After(deadline) {
			t.Fatal("the connection was never cut")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.Close()
	stop()
	if p.Counts()["cut"] == 0 {
		t.Fatalf("counts %v", p.Counts())
	}
	// A new connection goes through; then every chunk may be damaged.
	stop = p.Run(Schedule{Seed: 3, CorruptEvery: time.Millisecond})
	defer stop()
	time.Sleep(20 * time.Millisecond)
	c, err = net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := []byte("a message that will not come back as it went")
	got, err := roundTrip(t, c, msg)
	if err != nil || bytes.Equal(got, msg) || p.Counts()["corrupt"] == 0 {
		t.Fatalf("got %q, %v, counts %v", got, err, p.Counts())
	}
}
