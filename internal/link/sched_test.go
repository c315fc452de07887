package link

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"slices"
	"testing"
	"time"

	"hotline/internal/linkemu"
)

// queued returns a connection whose writer does not run, for the
// scheduler's order alone.
func queued() *Conn {
	return &Conn{byName: map[string]*stream{}, wake: make(chan struct{}, 1), closed: make(chan struct{})}
}

func drain(k *Conn) []string {
	var out []string
	for {
		f, ok, _ := k.next()
		if !ok {
			return out
		}
		out = append(out, string(f.Data))
	}
}

// TestSchedule: control frames go first; a stream with an urgent frame
// goes before streams without, up to and including that frame; a
// stream's frames never change order; otherwise frames leave as queued.
func TestSchedule(t *testing.T) {
	k := queued()
	k.SendOut(Out{Data: []byte("r1"), Stream: "routine"})
	k.SendOut(Out{Data: []byte("r2"), Stream: "routine"})
	k.SendOut(Out{Data: []byte("f-before"), Stream: "flash"})
	k.SendOut(Out{Data: []byte("f1"), Stream: "flash", Urgent: true})
	k.SendOut(Out{Data: []byte("probe"), Stream: ""})
	k.SendOut(Out{Data: []byte("r3"), Stream: "routine"})
	k.SendOut(Out{Data: []byte("f-after"), Stream: "flash"})
	k.Send([]byte("receipt"), false)
	got := drain(k)
	want := []string{"probe", "receipt", "f-before", "f1", "r1", "r2", "r3", "f-after"}
	if !slices.Equal(got, want) {
		t.Errorf("sent in order %v, want %v", got, want)
	}
	if k.waiting() != 0 {
		t.Errorf("%d frames left", k.waiting())
	}
}

// TestScheduleFull: a queue that overflows closes the connection rather
// than block the core.
func TestScheduleFull(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	k := &Conn{c: a, byName: map[string]*stream{}, wake: make(chan struct{}, 1), closed: make(chan struct{})}
	for i := range QueueSize + 1 {
		k.SendOut(Out{Data: []byte{1}, Stream: fmt.Sprint(i % 3)})
	}
	select {
	case <-k.Closed():
	default:
		t.Fatal("a full queue did not close the connection")
	}
}

// TestUrgentPassesBacklog: over a real TCP connection through an
// emulated 64 kbit/s link with a 600 ms round trip, a FLASH frame queued
// behind 96 KiB of ROUTINE frames (12 seconds of the link) arrives before
// most of them: the writer keeps the backlog out of the kernel, where
// nothing could pass it.
func TestUrgentPassesBacklog(t *testing.T) {
	if err := linkemu.Available(); err != nil {
		t.Skip(err)
	}
	p := linkemu.Profile{Name: "t", RTT: 600 * time.Millisecond, Rate: 64_000, Queue: 8 << 10, MTU: 1500}
	tb, err := linkemu.NewTestbed(fmt.Sprintf("lk%d", os.Getpid()), p, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	ln, err := tb.B.Listen("tcp4", tb.AddrB+":9100")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	order := make(chan []string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			order <- nil
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		var got []string
		for len(got) < 97 {
			f, err := ReadFrame(r)
			if err != nil {
				break
			}
			got = append(got, string(f[:min(len(f), 8)]))
		}
		order <- got
	}()
	c, err := tb.A.DialContext(t.Context(), "tcp4", tb.AddrB+":9100")
	if err != nil {
		t.Fatal(err)
	}
	k := NewConn(c)
	defer k.Close()
	for i := range 96 {
		b := make([]byte, 1024)
		copy(b, fmt.Sprintf("r%03d", i))
		k.SendOut(Out{Data: b, Stream: "routine"})
	}
	// The backlog on its way: the writer has handed the kernel its first
	// frames (and, paced, kept the rest).
	for deadline := time.Now().Add(30 * time.Second); k.waiting() == 96; {
		if time.Now().After(deadline) {
			t.Fatal("the writer took none of the backlog")
		}
		time.Sleep(10 * time.Millisecond)
	}
	k.SendOut(Out{Data: []byte("FLASH"), Stream: "flash", Urgent: true})
	var got []string
	select {
	case got = <-order:
	case <-time.After(2 * time.Minute):
		t.Fatal("the frames did not arrive")
	}
	at := slices.Index(got, "FLASH")
	if at < 0 {
		t.Fatalf("the FLASH frame never arrived: %v", got)
	}
	if at > 48 {
		t.Errorf("the FLASH frame arrived after %d of the 96 ROUTINE frames queued before it", at)
	}
	rate, rtt := k.Rate()
	t.Logf("FLASH arrived after %d ROUTINE frames; the path measured %.0f bytes/s, least round trip %v", at, rate, rtt)
}
