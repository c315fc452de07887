package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"hotline/internal/api"
	"hotline/internal/ops"
)

// TestSendStream sends many messages on one stream without waiting for
// any: each is answered, in order, with the index it was given, which
// follows the order of the sends; a refused send is answered with its
// error and the stream goes on; and the peer receives them all, in order.
func TestSendStream(t *testing.T) {
	usa, chn := startPair(t)
	agree(t, usa, chn, staff)
	ctx := context.Background()
	s, err := usa.c.SendStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	var sends []*api.StreamedSend
	for i := range n {
		if i == n/2 {
			bad := s.Send(ops.SendRequest{Channel: staff, Precedence: "URGENT", Text: "refused"})
			sends = append(sends, bad)
		}
		sends = append(sends, s.Send(ops.SendRequest{Channel: staff, Precedence: "ROUTINE", Text: fmt.Sprintf("track %03d", i)}))
	}
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	var last uint64
	var texts []string
	for i, p := range sends {
		m, err := p.Wait(ctx)
		if i == n/2 {
			var ae *api.Error
			if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || !strings.Contains(ae.Message, "URGENT") {
				t.Errorf("the send with precedence URGENT: %+v, %v; want a 400 naming it", m, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if m.Index <= last || m.Status != "queued" || m.Channel != staff || m.From != "USA" {
			t.Fatalf("send %d answered %+v after index %d", i, m, last)
		}
		last = m.Index
		texts = append(texts, m.Text)
	}
	for i, tx := range texts {
		if want := fmt.Sprintf("track %03d", i); tx != want {
			t.Fatalf("answer %d is for %q, want %q: answers out of order", i, tx, want)
		}
	}
	// The peer has them all, once each, in the order they were sent.
	waitFor(t, "CHN to receive the stream", func() (bool, error) {
		in, err := chn.c.Inbox(ctx, staff)
		if err != nil || len(in) < n {
			return false, err
		}
		if len(in) > n {
			return false, fmt.Errorf("CHN has %d messages, want %d", len(in), n)
		}
		for i, m := range in {
			if want := fmt.Sprintf("track %03d", i); m.Text != want {
				return false, fmt.Errorf("CHN's message %d is %q, want %q", i, m.Text, want)
			}
		}
		return true, nil
	}, chn.st)
	// A send after Close is refused by the client, not sent.
	if _, err := s.Send(ops.SendRequest{Channel: staff, Precedence: "FLASH", Text: "late"}).Wait(ctx); err == nil {
		t.Error("a send after Close was accepted")
	}
}

// streamLines posts body to the send stream in one piece and returns the
// answers.
func streamLines(t *testing.T, n *node, auth string, body []byte) (int, []map[string]any) {
	t.Helper()
	req, err := http.NewRequest("POST", n.srv.URL+"/api/v1/messages/stream", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := n.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []map[string]any
	if resp.StatusCode != http.StatusOK { // one JSON error, not a stream
		var a map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
			t.Fatalf("%s: %v", resp.Status, err)
		}
		return resp.StatusCode, append(out, a)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var a map[string]any
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("answer %q is not JSON: %v", sc.Bytes(), err)
		}
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// TestSendStreamBadLines: a line that is not one SendRequest is answered
// with an error naming the line and what is wrong with it, the lines before
// it are answered first, and nothing after it is read or sent.
func TestSendStreamBadLines(t *testing.T) {
	usa, chn := startPair(t)
	agree(t, usa, chn, staff)
	ctx := context.Background()
	good := string(mustJSON(t, ops.SendRequest{Channel: staff, Precedence: "FLASH", Text: "first"}))
	after := string(mustJSON(t, ops.SendRequest{Channel: staff, Precedence: "FLASH", Text: "after the bad line"}))
	long := string(mustJSON(t, ops.SendRequest{Channel: staff, Precedence: "FLASH", Text: strings.Repeat("x", api.MaxBody)}))
	for _, c := range []struct {
		name   string
		bad    string
		want   []string
		status int
	}{
		{"unknown field", `{"channel":"` + staff + `","precedence":"FLASH","text":"x","by":"me"}`, []string{"line 3", "unknown field", "by"}, http.StatusBadRequest},
		{"not JSON", `channel=` + staff, []string{"line 3", "invalid character"}, http.StatusBadRequest},
		{"two values", `{"channel":"x"} {"channel":"y"}`, []string{"line 3", "more than one JSON value"}, http.StatusBadRequest},
		{"wrong type", `{"channel":7}`, []string{"line 3", "cannot unmarshal number", "channel"}, http.StatusBadRequest},
		{"over the limit", long, []string{"line 3", "longer than"}, http.StatusRequestEntityTooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			before, err := usa.c.Outbox(ctx, staff)
			if err != nil {
				t.Fatal(err)
			}
			code, answers := streamLines(t, usa, "Bearer "+usa.token, []byte(good+"\n\n"+c.bad+"\n"+after+"\n"))
			if code != http.StatusOK || len(answers) != 2 {
				t.Fatalf("%d, answers %v; want 200 and two answers", code, answers)
			}
			if m, _ := answers[0]["message"].(map[string]any); m == nil || m["text"] != "first" {
				t.Errorf("first answer %v, want the message", answers[0])
			}
			msg, _ := answers[1]["error"].(string)
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			if answers[1]["status"] != float64(c.status) || strings.HasPrefix(msg, "bad request") {
				t.Errorf("second answer %v, want status %d and no internal prefix", answers[1], c.status)
			}
			out, err := usa.c.Outbox(ctx, staff)
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != len(before)+1 || out[len(out)-1].Text != "first" {
				t.Errorf("outbox went from %d to %d messages; want only the line before the bad one added", len(before), len(out))
			}
		})
	}
	// Without the token, nothing is read. The messages the cases above
	// sent are delivered first, so that none changes state meanwhile.
	waitFor(t, "the messages above to be delivered", func() (bool, error) {
		out, err := usa.c.Outbox(ctx, staff)
		for _, m := range out {
			if m.Status == "queued" {
				return false, err
			}
		}
		return err == nil, err
	}, usa.st, chn.st)
	before := stateOf(t, usa)
	code, answers := streamLines(t, usa, "", []byte(good+"\n"))
	if code != http.StatusUnauthorized || len(answers) != 1 || !strings.Contains(fmt.Sprint(answers[0]["error"]), "token") {
		t.Errorf("no token: %d %v, want 401 naming the token", code, answers)
	}
	assertUnchanged(t, usa, before, "a stream without the token")
	// A client's stream to a station that refuses it says why.
	bad := api.Dial(usa.c.Base, "wrong", usa.c.HTTP)
	if _, err := bad.SendStream(ctx); err == nil || !strings.Contains(err.Error(), "token") {
		t.Errorf("SendStream with a wrong token: %v", err)
	}
}

// TestSendStreamEndsPending: when the stream ends under them (here the
// station's API goes away), sends still waiting are answered with an
// error, not left hanging, and later sends are refused.
func TestSendStreamEndsPending(t *testing.T) {
	usa := newNode(t, "USA", "127.0.0.1:0")
	ctx := context.Background()
	s, err := usa.c.SendStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Refused at once (no such channel): the stream works.
	if _, err := s.Send(ops.SendRequest{Channel: staff, Precedence: "FLASH", Text: "hi"}).Wait(ctx); err == nil || !strings.Contains(err.Error(), "unknown channel") {
		t.Fatalf("send on an unknown channel: %v", err)
	}
	usa.srv.CloseClientConnections()
	p := s.Send(ops.SendRequest{Channel: staff, Precedence: "FLASH", Text: "hi"})
	if _, err := p.Wait(ctx); err == nil || !strings.Contains(err.Error(), "send stream") {
		t.Errorf("a send on a stream whose connection closed: %v", err)
	}
	if err := s.Close(ctx); err == nil {
		t.Error("Close of a stream that ended reports nothing")
	}
}

// TestSendStreamClientDone: a client that sends its lines and shuts its
// side of the connection (the end of a request body of known length) gets
// every one answered as sent, as they were: a send once queued is the
// station's to answer, whatever becomes of the request.
func TestSendStreamClientDone(t *testing.T) {
	usa, chn := startPair(t)
	agree(t, usa, chn, staff)
	const n = 200
	var body strings.Builder
	for i := range n {
		body.WriteString(string(mustJSON(t, ops.SendRequest{Channel: staff, Precedence: "ROUTINE", Text: fmt.Sprintf("m%d", i)})) + "\n")
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(usa.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/messages/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s", usa.token, body.Len(), body.String())
	conn.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	got := 0
	for sc.Scan() {
		var a struct {
			Message *ops.MessageView `json:"message"`
			Error   string           `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil || a.Message == nil || a.Message.Text != fmt.Sprintf("m%d", got) {
			t.Fatalf("answer %d: %s (%v); want message m%d", got, sc.Bytes(), err, got)
		}
		got++
	}
	if got != n {
		t.Errorf("%d answers, want %d", got, n)
	}
}

// TestSendStreamIdle: a stream with nothing to send is kept open by the
// client's blank lines; one whose client says nothing is closed by the
// station once what it read is answered.
func TestSendStreamIdle(t *testing.T) {
	const idle = time.Second // the client's blank lines go every quarter of it
	api.SetStreamIdle(t, idle)
	usa, chn := startPair(t)
	agree(t, usa, chn, staff)
	ctx := context.Background()
	s, err := usa.c.SendStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := s.Send(ops.SendRequest{Channel: staff, Precedence: "FLASH", Text: "still here"}).Wait(ctx); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		time.Sleep(5 * idle / 2) // longer than the idle limit
	}
	if err := s.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}

	// A client that writes one line and then nothing.
	pr, pw := io.Pipe()
	req, err := http.NewRequest("POST", usa.srv.URL+"/api/v1/messages/stream", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+usa.token)
	go pw.Write(append(mustJSON(t, ops.SendRequest{Channel: staff, Precedence: "FLASH", Text: "then silence"}), '\n'))
	resp, err := usa.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	defer pw.Close()
	data, err := io.ReadAll(resp.Body) // ends when the station closes the stream
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(string(data)), "\n"); len(lines) != 1 || !strings.Contains(lines[0], `"then silence"`) {
		t.Errorf("answers of a stream gone silent: %q; want the one message and nothing else", data)
	}
}
