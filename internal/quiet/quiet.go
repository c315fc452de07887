// Package quiet bounds what a flood can write to a log. Anyone who can
// reach a port can make a station refuse a connection; each refusal
// logged as a line of its own lets them fill the disk and bury what
// matters. A quiet Logger writes each kind of message at most once an
// interval, with the number left out since.
package quiet

import (
	"context"
	"log"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Every is how often a Logger writes the same message by default.
const Every = time.Minute

// Logger writes each message (by its text, not its arguments) at most
// once every Every; the next one written says how many were left out.
// It holds one entry per distinct message, so messages must be constant
// text with the details as arguments.
type Logger struct {
	log   *slog.Logger
	every time.Duration
	now   func() time.Time

	mu   sync.Mutex
	last map[string]time.Time
	left map[string]int
}

// New returns a quiet Logger writing to log.
func New(log *slog.Logger) *Logger {
	return &Logger{log: log, every: Every, now: time.Now, last: map[string]time.Time{}, left: map[string]int{}}
}

// Warn writes msg at level warn, unless it was written less than Every
// ago; then it is counted.
func (q *Logger) Warn(msg string, args ...any) { q.write(slog.LevelWarn, msg, args) }

// Error writes msg at level error, under the same bound.
func (q *Logger) Error(msg string, args ...any) { q.write(slog.LevelError, msg, args) }

// maxKinds bounds the messages a Logger tells apart: past it, messages
// it has not seen share one bound, so that varied text cannot grow it.
const maxKinds = 256

func (q *Logger) write(level slog.Level, msg string, args []any) {
	now := q.now()
	q.mu.Lock()
	key := msg
	if _, seen := q.last[key]; !seen && len(q.last) >= maxKinds {
		key = "(other messages)"
		args = append(args, "message", msg)
	}
	if last, ok := q.last[key]; ok && now.Sub(last) < q.every {
		q.left[key]++
		q.mu.Unlock()
		return
	}
	left := q.left[key]
	q.last[key], q.left[key] = now, 0
	q.mu.Unlock()
	if left > 0 {
		args = append(args, "left_out", left, "since", q.every.String())
	}
	q.log.Log(context.Background(), level, key, args...)
}

// StdLogger is a *log.Logger for http.Server.ErrorLog: each line it is
// given is written through q as a warning, its text up to the first
// colon being the message (net/http writes "http: TLS handshake error
// from ADDR: ...").
func (q *Logger) StdLogger() *log.Logger { return log.New(stdWriter{q}, "", 0) }

type stdWriter struct{ q *Logger }

func (w stdWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	msg := line
	if i := strings.Index(line, " from "); i > 0 {
		msg = line[:i]
	} else if i := strings.Index(line, ": "); i > 0 {
		msg = line[:i]
	}
	w.q.Warn(msg, "detail", line)
	return len(p), nil
}
