package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"hotline/internal/ops"
	"hotline/internal/protocol"
)

// SendStream is a pipelined send (POST /api/v1/messages/stream): many
// sends in flight on one connection, appended and answered in the order
// they were made. It is safe for concurrent use.
type SendStream struct {
	body *io.PipeWriter
	resp *http.Response

	mu      sync.Mutex
	out     []byte          // lines not yet written
	waiting []*StreamedSend // sends not yet answered, oldest first
	writing bool            // a Send or Close is writing out; others leave their lines to it
	wrote   time.Time       // when a line was last written
	closing bool
	err     error         // why the stream ended, once it has
	read    chan struct{} // closed once every answer is read
}

// StreamedSend is one send of a SendStream.
type StreamedSend struct {
	done chan struct{}
	msg  *ops.MessageView
	err  error
}

// Wait returns the message once its entry is durable at the station, or
// why it was refused or the stream ended first.
func (p *StreamedSend) Wait(ctx context.Context) (*ops.MessageView, error) {
	select {
	case <-p.done:
		return p.msg, p.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// errStreamClosed answers a send made after Close.
var errStreamClosed = errors.New("send stream: closed")

// SendStream opens a send stream. It lasts until Close, ctx is done, or the
// station ends it (a line it could not read, or StreamIdle without a send).
func (c *Client) SendStream(ctx context.Context) (*SendStream, error) {
	pr, pw := io.Pipe()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Base+"/api/v1/messages/stream", pr)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		pw.Close()
		return nil, fmt.Errorf("station API at %s: %w", c.Base, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		pw.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
		var eb errorBody
		if json.Unmarshal(data, &eb) == nil && eb.Error != "" {
			return nil, &Error{Status: resp.StatusCode, Message: eb.Error}
		}
		return nil, &Error{Status: resp.StatusCode, Message: fmt.Sprintf("station API: %s", resp.Status)}
	}
	s := &SendStream{body: pw, resp: resp, read: make(chan struct{}), wrote: time.Now()}
	go s.readLoop()
	go s.keepOpen()
	return s, nil
}

// Send queues r on the stream and returns; Wait on the result gives the
// station's answer. It returns at once unless it writes the lines queued
// and the station's window is full: then it waits for room. Text the
// station would refuse is refused here, as the station would, so that
// the stream goes on.
func (s *SendStream) Send(r ops.SendRequest) *StreamedSend {
	p := &StreamedSend{done: make(chan struct{})}
	if err := protocol.CheckText(r.Text); err != nil {
		p.err = &Error{Status: http.StatusBadRequest, Message: err.Error()}
		close(p.done)
		return p
	}
	line, err := json.Marshal(r)
	if err != nil {
		p.err = err
		close(p.done)
		return p
	}
	s.mu.Lock()
	if s.closing || s.err != nil {
		p.err = s.err
		if p.err == nil {
			p.err = errStreamClosed
		}
		s.mu.Unlock()
		close(p.done)
		return p
	}
	s.out = append(append(s.out, line...), '\n')
	s.waiting = append(s.waiting, p)
	s.writeOut() // unlocks
	return p
}

// Close sends no more, waits for the answers to what was sent, and
// returns why the stream ended early, if it did.
func (s *SendStream) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.writeOut() // unlocks
	select {
	case <-s.read:
	case <-ctx.Done():
		s.resp.Body.Close()
		<-s.read
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// writeOut, called with s.mu held, writes the lines queued, and then any
// queued meanwhile, unless another call is at it already: that one writes
// them. Lines queued together go in one write. The last writer out of a
// closing stream ends the request body. It unlocks s.mu.
func (s *SendStream) writeOut() {
	if s.writing {
		s.mu.Unlock()
		return
	}
	s.writing = true
	var buf []byte
	for {
		if s.err != nil || s.closing && len(s.out) == 0 {
			s.writing = false
			s.mu.Unlock()
			s.body.Close()
			return
		}
		if len(s.out) == 0 {
			s.writing = false
			s.mu.Unlock()
			return
		}
		buf, s.out = s.out, buf[:0]
		s.wrote = time.Now()
		s.mu.Unlock()
		_, err := s.body.Write(buf)
		if err != nil {
			s.end(fmt.Errorf("send stream: writing: %w", err))
		}
		s.mu.Lock()
	}
}

// keepOpen writes a blank line when nothing was written for StreamIdle/4,
// so that the station keeps a stream open that has nothing to send for a
// while, until the stream is over.
func (s *SendStream) keepOpen() {
	t := time.NewTicker(streamIdle / 4)
	defer t.Stop()
	for {
		select {
		case <-s.read:
			return
		case <-t.C:
		}
		s.mu.Lock()
		if s.closing || s.err != nil || time.Since(s.wrote) < streamIdle/4 {
			s.mu.Unlock()
			continue
		}
		s.out = append(s.out, '\n')
		s.writeOut() // unlocks
	}
}

// readLoop reads the answers, each to the oldest send not yet answered.
func (s *SendStream) readLoop() {
	defer close(s.read)
	defer s.resp.Body.Close()
	sc := bufio.NewScanner(s.resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4*MaxBody)
	for sc.Scan() {
		var a streamAnswer
		err := json.Unmarshal(sc.Bytes(), &a)
		s.mu.Lock()
		if len(s.waiting) == 0 {
			s.mu.Unlock()
			s.end(errors.New("send stream: the station answered a send that was not made"))
			return
		}
		p := s.waiting[0]
		s.waiting = s.waiting[1:]
		s.mu.Unlock()
		switch {
		case err != nil:
			p.err = fmt.Errorf("send stream: an answer the client cannot read: %v", err)
		case a.Error != "":
			p.err = &Error{Status: a.Status, Message: a.Error}
		case a.Message == nil:
			p.err = errors.New("send stream: an answer with neither a message nor an error")
		default:
			p.msg = a.Message
		}
		close(p.done)
	}
	err := sc.Err()
	s.mu.Lock()
	finished := err == nil && s.closing && len(s.waiting) == 0 && len(s.out) == 0
	s.mu.Unlock()
	switch {
	case finished:
		return
	case err == nil:
		err = errors.New("send stream: the station ended the stream")
	default:
		err = fmt.Errorf("send stream: %w", err)
	}
	s.end(err)
}

// end records why the stream ended, if nothing did before, and answers
// every send still waiting with it.
func (s *SendStream) end(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	waiting := s.waiting
	s.waiting = nil
	err = s.err
	s.mu.Unlock()
	for _, p := range waiting {
		p.err = err
		close(p.done)
	}
	s.body.CloseWithError(err)
}
