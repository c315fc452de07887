package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"hotline/internal/badrequest"
	"hotline/internal/ops"
	"hotline/internal/station"
)

// Pipelined sends: POST /api/v1/messages/stream.
//
// The request body is a stream of SendRequest objects, one per line
// (newline-delimited JSON); the response, 200 as soon as the stream is
// open, is one line per request, in the order the requests came:
//
//	{"message": MessageView}            once the entry is durable here
//	{"error": "...", "status": 400}     a send refused, with the status POST messages would answer
//
// Messages are appended in the order of their lines, and a client may
// have about StreamWindow of them unanswered: past that the station stops
// reading until answers are taken. A refused send does not end the
// stream; a line that is not one JSON SendRequest does, after the answers
// to the lines before it, since nothing after it can be trusted to be
// where the client meant it; so does a line over MaxBody bytes (status
// 413). A blank line sends nothing and keeps the stream open: each line
// must come within StreamIdle of the one before, or the station closes
// the stream once the lines it read are answered (SendStream sends a
// blank line when it has had nothing to send for StreamIdle/4). A client
// that takes no answers for StreamIdle is closed too.
//
// It is the same send as POST messages, for a program that sends many at
// a time: one connection and one request for all of them, where POST
// messages costs an HTTP request and a JSON document each way for every
// message.

// StreamWindow is how many sends a stream may have unanswered.
const StreamWindow = 1024

// StreamIdle is how long a stream may go without a line from its client.
const StreamIdle = 2 * time.Minute

// streamIdle is StreamIdle, shorter in tests.
var streamIdle = StreamIdle

// streamAnswer is one line of a send stream's response.
type streamAnswer struct {
	Message *ops.MessageView `json:"message,omitempty"`
	Error   string           `json:"error,omitempty"`
	Status  int              `json:"status,omitempty"`
}

// streamed is one line of a send stream, in the order it was read: a
// queued send, or why the line was refused.
type streamed struct {
	send *station.QueuedSend
	err  error
	last bool // the line was not a request: nothing after it is read
}

func (s *Server) sendStream(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	if err := rc.EnableFullDuplex(); err != nil {
		w.Header().Set("Connection", "close")
		writeError(w, fmt.Errorf("send stream: %w", err))
		return
	}
	rc.SetReadDeadline(time.Now().Add(streamIdle))
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	// An HTTP/1 connection ends with the stream: its deadlines are the
	// stream's, and a rest of the body may be left unread.
	if r.ProtoMajor == 1 {
		w.Header().Set("Connection", "close")
	}
	w.WriteHeader(http.StatusOK)
	if rc.Flush() != nil {
		return
	}
	// A send once queued is the station's to answer, whatever becomes of
	// the request: its context ends when the client shuts its side, and
	// an answer of "canceled" for a message appended would be a lie.
	lines := make(chan streamed, StreamWindow)
	go s.readSends(context.WithoutCancel(r.Context()), r.Body, rc, lines)
	defer func() {
		// Stop the reader and wait for it: the body must not be read
		// once the handler has returned.
		rc.SetReadDeadline(time.Now())
		for range lines {
		}
	}()

	bw := bufio.NewWriterSize(w, 32<<10)
	enc := json.NewEncoder(bw)
	flush := func() bool {
		// A client that stops reading its answers holds the stream no
		// longer than one that stops writing.
		rc.SetWriteDeadline(time.Now().Add(streamIdle))
		return bw.Flush() == nil && rc.Flush() == nil
	}
	for l := range lines {
		a := streamAnswer{}
		err := l.err
		if l.send != nil {
			// Write what is answered before waiting for what is not.
			if !l.send.Ready() && !flush() {
				return
			}
			a.Message, err = l.send.Wait()
		}
		if err != nil {
			a = streamAnswer{Error: errorMessage(err), Status: errorStatus(err)}
		}
		if enc.Encode(a) != nil {
			return
		}
		if len(lines) == 0 && !flush() {
			return
		}
	}
	flush()
}

// errLineTooLong answers a line over the limit, as a body over it is
// answered (413).
var errLineTooLong = &http.MaxBytesError{Limit: MaxBody}

// readSends reads a stream's lines and queues their sends with ctx, in
// order, until the body ends or fails (a read past StreamIdle without a
// line, the client gone, the handler gone: the lines read whole are
// answered, nothing more) or a line is not a request; then it closes
// lines. A blank line
// keeps the stream open and sends nothing. At most StreamWindow lines
// wait for their answers: lines has that capacity, and the handler takes
// a line only to answer it.
func (s *Server) readSends(ctx context.Context, body io.Reader, rc *http.ResponseController, lines chan<- streamed) {
	defer close(lines)
	br := bufio.NewReaderSize(body, 64<<10)
	for n := 1; ; n++ {
		line, err := readLine(br, MaxBody)
		var l streamed
		switch {
		case errors.Is(err, errLineTooLong):
			l = streamed{err: fmt.Errorf("line %d: %w", n, err), last: true}
		case err != nil: // the end of the body; the connection failed, or went silent
			return
		default:
			rc.SetReadDeadline(time.Now().Add(streamIdle))
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			var req ops.SendRequest
			if err := decodeStrict(line, &req); err != nil {
				l = streamed{err: fmt.Errorf("%w: line %d: %v", badrequest.Err, n, err), last: true}
			} else {
				l.send, l.err = s.st.QueueSend(ctx, req)
			}
		}
		// Once queued, a send is answered: this waits for room in the
		// window, however long.
		lines <- l
		if l.last {
			return
		}
	}
}

// readLine reads one line of at most limit bytes, without its newline.
// A last line without a newline counts; io.EOF means no line was left.
func readLine(br *bufio.Reader, limit int) ([]byte, error) {
	tooLong := fmt.Errorf("longer than %d bytes: %w", limit, errLineTooLong)
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		line = append(line, frag...)
		if len(line) > limit+1 {
			return nil, tooLong
		}
		switch {
		case err == nil:
			line = line[:len(line)-1]
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF && len(line) > 0:
		case err == io.EOF:
			return nil, io.EOF
		default:
			return nil, fmt.Errorf("reading the request: %v", err)
		}
		if len(line) > limit {
			return nil, tooLong
		}
		return line, nil
	}
}
