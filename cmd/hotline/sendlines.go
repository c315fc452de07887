package main

// hotline send --lines: each line of standard input sent as one message,
// many in flight, in the order of the lines.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"hotline/internal/api"
	"hotline/internal/badrequest"
	"hotline/internal/ops"
	"hotline/internal/station"
)

// maxLine bounds a line's text; a longer line is refused.
const maxLine = 1 << 20

// An inputLine is a line of the input to send, by its number.
type inputLine struct {
	n    int
	text string
	err  error // the line could not be read whole
}

// A pendingSend is a line's message on its way: done is closed once it is
// durable (m) or has failed (err).
type pendingSend struct {
	n    int
	done chan struct{}
	m    *ops.MessageView
	err  error
}

// A sender starts sending req, the message of p's line, and closes p.done
// when the send is over.
type sender func(req ops.SendRequest, p *pendingSend)

// sendLines sends each line of in as the text of one message like r, many
// in flight and appended in the order of the lines: on one send stream
// when hotline run owns the station, else queued to the station opened
// here. It prints each message's id (or the message, one JSON object a
// line) in the order of the lines as each is durable, skips blank lines,
// and goes on past a line refused for what it says; it fails, naming the
// first such line, if any was. Any other failure (the stream or the
// station gone, a full disk, an interrupt) stops it reading: it reports
// the sends already made and fails saying why.
func sendLines(ctx context.Context, dir string, in io.Reader, r ops.SendRequest, asJSON bool) error {
	return withStation(ctx, dir, func(st *station.Station) error {
		return sendPipelined(ctx, in, r, asJSON, queueOn(ctx, st))
	}, func(c *api.Client) error {
		s, err := c.SendStream(ctx)
		if err != nil {
			return err
		}
		defer s.Close(context.WithoutCancel(ctx))
		return sendPipelined(ctx, in, r, asJSON, streamOn(ctx, s))
	})
}

// queueOn sends on the station opened here: each message is queued, and
// waited for apart.
func queueOn(ctx context.Context, st *station.Station) sender {
	return func(req ops.SendRequest, p *pendingSend) {
		q, err := st.QueueSend(context.WithoutCancel(ctx), req)
		if err != nil {
			p.err = err
			close(p.done)
			return
		}
		go func() {
			p.m, p.err = q.Wait()
			close(p.done)
		}()
	}
}

// streamOn sends on s, a send stream to the API of hotline run.
func streamOn(ctx context.Context, s *api.SendStream) sender {
	return func(req ops.SendRequest, p *pendingSend) {
		sp := s.Send(req)
		go func() {
			p.m, p.err = sp.Wait(context.WithoutCancel(ctx))
			close(p.done)
		}()
	}
}

// sendPipelined reads in's lines and sends each with send, up to
// api.StreamWindow of them in flight, and reports each in the order of the
// lines as it is over (see sendLines). Once a send fails for another
// reason than its line, or ctx is done, it reads no further line but
// waits for those in flight.
func sendPipelined(ctx context.Context, in io.Reader, r ops.SendRequest, asJSON bool, send sender) error {
	lines := make(chan inputLine)
	go readLines(in, lines)
	var fifo []*pendingSend
	var t sendTally
	reading := lines
	for reading != nil || len(fifo) > 0 {
		var head chan struct{}
		if len(fifo) > 0 {
			head = fifo[0].done
		}
		take := reading
		if len(fifo) >= api.StreamWindow {
			take = nil
		}
		select {
		case l, ok := <-take:
			if !ok {
				reading = nil
				continue
			}
			fifo = append(fifo, startLine(l, r, send))
		case <-head:
			p := fifo[0]
			fifo = fifo[1:]
			if err := t.report(p, asJSON); err != nil {
				return err
			}
			if t.stopped != nil {
				reading = nil
			}
		case <-ctx.Done():
			t.stop(ctx.Err())
			reading = nil
			ctx = context.WithoutCancel(ctx) // answer what is queued
		}
	}
	return t.result()
}

// readLines sends in's lines to lines, numbered from 1, and closes lines at
// the end of in. It skips blank lines; a line longer than maxLine, or a
// failure to read, comes as the line's error.
func readLines(in io.Reader, lines chan<- inputLine) {
	defer close(lines)
	br := bufio.NewReaderSize(in, 64<<10)
	for n := 1; ; n++ {
		line, err := readLine(br)
		if len(line) == 0 && err != nil {
			if err != io.EOF {
				lines <- inputLine{n: n, err: fmt.Errorf("standard input: %w", err)}
			}
			return
		}
		text := strings.TrimSuffix(string(line), "\n")
		if len(text) > maxLine {
			lines <- inputLine{n: n, err: fmt.Errorf("%w: longer than %d bytes", badrequest.Err, maxLine)}
			continue
		}
		if strings.TrimSpace(text) != "" {
			lines <- inputLine{n: n, text: text}
		}
	}
}

// readLine reads a line of br with its newline, keeping no more of it than
// needed to know it is longer than maxLine, and the error that ended it.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(line) <= maxLine {
			line = append(line, frag...)
		}
		if err != bufio.ErrBufferFull {
			return line, err
		}
	}
}

// startLine sends l as the text of a message like r, or, if l could not be
// read, fails it at once.
func startLine(l inputLine, r ops.SendRequest, send sender) *pendingSend {
	p := &pendingSend{n: l.n, done: make(chan struct{})}
	if p.err = l.err; p.err != nil {
		close(p.done)
		return p
	}
	req := r
	req.Text = l.text
	send(req, p)
	return p
}

// sendTally counts the lines sent and refused, and keeps the first line
// refused and why sending stopped, if it did.
type sendTally struct {
	sent, refused  int
	first, stopped error
}

// stop records why sending stopped, unless it already had.
func (t *sendTally) stop(err error) {
	if t.stopped == nil {
		t.stopped = err
	}
}

// report counts p, whose send is over, and prints its message if it was
// sent; it fails only if it cannot print.
func (t *sendTally) report(p *pendingSend, asJSON bool) error {
	switch {
	case p.err != nil && !lineRefused(p.err):
		t.stop(fmt.Errorf("line %d: %s", p.n, userError(p.err)))
		return nil
	case p.err != nil:
		t.refused++
		if t.first == nil {
			t.first = fmt.Errorf("line %d: %s", p.n, userError(p.err))
		}
		return nil
	}
	t.sent++
	if asJSON {
		b, err := json.Marshal(p.m)
		if err != nil {
			return err
		}
		fmt.Printf("%s\n", b)
	} else {
		fmt.Println(p.m.ID)
	}
	return nil
}

// lineRefused says whether err refuses a line for what it says (a bad
// request, too large), after which sending goes on.
func lineRefused(err error) bool {
	var ae *api.Error
	return errors.Is(err, badrequest.Err) ||
		errors.As(err, &ae) && (ae.Status == http.StatusBadRequest || ae.Status == http.StatusRequestEntityTooLarge)
}

// result is the outcome of sending the lines: nil if every line was sent.
func (t *sendTally) result() error {
	switch {
	case t.stopped != nil && t.refused > 0:
		return fmt.Errorf("send: %d sent, %d refused (the first, %v), then stopped: %v", t.sent, t.refused, t.first, t.stopped)
	case t.stopped != nil:
		return fmt.Errorf("send: %d sent, then stopped: %v", t.sent, t.stopped)
	case t.first != nil:
		return fmt.Errorf("send: %d sent, %d refused; %v", t.sent, t.refused, t.first)
	}
	return nil
}
