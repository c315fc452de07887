package quiet

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// A flood of the same message writes one line an interval, and the next
// line says how many were left out; other messages are not held back.
func TestFloodIsBounded(t *testing.T) {
	var buf bytes.Buffer
	q := New(slog.New(slog.NewTextHandler(&buf, nil)))
	now := time.Unix(0, 0)
	q.now = func() time.Time { return now }
	for i := range 10000 {
		q.Warn("inbound handshake failed", "remote", i)
	}
	q.Warn("something else")
	if n := strings.Count(buf.String(), "\n"); n != 2 {
		t.Fatalf("10,000 refusals and one other message wrote %d lines:\n%s", n, buf.String())
	}
	now = now.Add(Every)
	q.Warn("inbound handshake failed", "remote", "last")
	if !strings.Contains(buf.String(), "left_out=9999") {
		t.Fatalf("the next line does not count what was left out:\n%s", buf.String())
	}
}

func TestStdLogger(t *testing.T) {
	var buf bytes.Buffer
	q := New(slog.New(slog.NewTextHandler(&buf, nil)))
	l := q.StdLogger()
	for i := range 500 {
		l.Printf("http: TLS handshake error from 10.0.0.%d:5000: EOF", i%250)
	}
	if n := strings.Count(buf.String(), "\n"); n != 1 {
		t.Fatalf("500 handshake errors wrote %d lines", n)
	}
}

// Varied text cannot grow a Logger: past maxKinds distinct messages, the
// rest share one bound.
func TestVariedMessagesAreBounded(t *testing.T) {
	var buf bytes.Buffer
	q := New(slog.New(slog.NewTextHandler(&buf, nil)))
	for i := range 10000 {
		q.Warn(fmt.Sprintf("message %d", i))
	}
	if n := strings.Count(buf.String(), "\n"); n != maxKinds+1 {
		t.Fatalf("10,000 distinct messages wrote %d lines, want %d", n, maxKinds+1)
	}
	if len(q.last) > maxKinds+1 {
		t.Fatalf("the logger holds %d messages", len(q.last))
	}
}
