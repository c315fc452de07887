package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"hotline/internal/badrequest"
	"hotline/internal/operator"
	"hotline/internal/ops"
	"hotline/internal/strictjson/strictjsontest"
)

// requestBodies makes a fresh value of each type a route decodes its body
// into, in the order FuzzRequestBody's kind byte picks them: the JSON
// request of every operation of the table, and the operators'.
var requestBodies = func() []func() any {
	var out []func() any
	for _, op := range ops.All {
		if op.Method == http.MethodPost && !op.RawRequest {
			out = append(out, op.NewRequest)
		}
	}
	return append(out, func() any { return &operator.AddRequest{} })
}()

// decodeBody runs readJSON on data as the server does: behind MaxBody.
func decodeBody(data []byte, v any) error {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/api/v1/x", bytes.NewReader(data))
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	return readJSON(r, v)
}

// FuzzRequestBody checks the API's request body decoder for every request
// type: it never panics; it refuses with ErrBadRequest (a 400 naming the
// request body) or a MaxBytesError (413); and what it accepts encodes and
// decodes again to the same value.
func FuzzRequestBody(f *testing.F) {
	f.Add(uint8(2), []byte(`{"channel":"usa-chn-staff","precedence":"FLASH","text":"hello","lang":"en"}`))
	f.Add(uint8(1), []byte(`{"peer":"CHN","channel":"c","level":"staff","deadlines":{"FLASH":"5m"},"flash_exempt":true}`))
	f.Add(uint8(6), []byte(`{"channel":"c","notice":{"kind":"exercise","area":[[1,2],[3,4]]}}`))
	f.Add(uint8(5), []byte(`{"channel":"c","precedence":"ROUTINE","items":[{"code":"X","params":{"a":"b"}}]}`))
	f.Add(uint8(2), []byte(`{"channel":"c"} {"channel":"d"}`))
	f.Add(uint8(2), []byte(`{"channel":"c","text":"a","unknown":1}`))
	f.Add(uint8(6), []byte(`{"channel":"c","notice":`+strings.Repeat("[", 20000)+`}`))
	f.Add(uint8(0), []byte(`{"card":"`+strings.Repeat("A", MaxBody)+`"}`))
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		strictjsontest.Body(t, data, MaxBody, requestBodies[int(kind)%len(requestBodies)], decodeBody, true)
	})
}

// getOps are the operations that take their request in the query.
var getOps = func() []*ops.Op {
	var out []*ops.Op
	for _, op := range ops.All {
		if op.Method == http.MethodGet {
			out = append(out, op)
		}
	}
	return out
}()

// FuzzQuery checks how a GET operation's request is read from its query
// and path: it never panics; it refuses with a bad request; and what it
// accepts, written back as the client writes it, reads again the same.
func FuzzQuery(f *testing.F) {
	f.Add(uint8(0), "channel=usa-chn-staff", "x")
	f.Add(uint8(1), "after=12", "x")
	f.Add(uint8(1), "after=twelve", "x")
	f.Add(uint8(2), "channel=a&channel=b", "x")
	f.Add(uint8(3), "nothing=1", "c%2Fd")
	f.Add(uint8(4), "station=%ZZ", "x")
	f.Fuzz(func(t *testing.T, kind uint8, query, pathValue string) {
		op := getOps[int(kind)%len(getOps)]
		r := httptest.NewRequest(http.MethodGet, "/api/v1/x", nil)
		r.URL.RawQuery = query
		for _, name := range pathNames(op.Path) {
			r.SetPathValue(name, pathValue)
		}
		req, err := readRequest(r, op)
		if err != nil {
			if !errors.Is(err, badrequest.Err) {
				t.Fatalf("%s ?%s: %v, not a bad request", op.Name, query, err)
			}
			return
		}
		again := httptest.NewRequest(http.MethodGet, "/api/v1/x"+writeQuery(req, pathNames(op.Path)), nil)
		for _, name := range pathNames(op.Path) {
			again.SetPathValue(name, pathValue)
		}
		req2, err := readRequest(again, op)
		if err != nil {
			t.Fatalf("%s: %#v written as %q is refused: %v", op.Name, req, again.URL.RawQuery, err)
		}
		if !reflect.DeepEqual(req, req2) {
			t.Fatalf("%s: %#v read back as %#v", op.Name, req, req2)
		}
	})
}

// FuzzStreamLines checks how a send stream's body is cut into lines and
// each line decoded: it never panics; every line is at most the limit and
// holds no newline; a body with no over-long line comes back whole from
// its lines; a line over the limit is refused as such, and only when
// there is one; and a line decodeStrict accepts encodes and decodes again
// to the same request. A small buffer and limit reach the paths a line
// longer than the reader's buffer takes.
func FuzzStreamLines(f *testing.F) {
	f.Add([]byte(`{"channel":"usa-chn-staff","precedence":"FLASH","text":"hello"}` + "\n"))
	f.Add([]byte("{\"channel\":\"c\"}\n\n{\"channel\":\"d\"}"))
	f.Add([]byte(`{"channel":"c","text":"` + strings.Repeat("x", 100) + `"}` + "\n"))
	f.Add([]byte("\n\n\r\n"))
	f.Add([]byte(`{"channel":"c"} {"channel":"d"}` + "\n" + `{"by":1}`))
	const limit = 64
	f.Fuzz(func(t *testing.T, body []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(body), 16)
		var got []byte
		for {
			line, err := readLine(br, limit)
			if err == io.EOF {
				break
			}
			if err != nil {
				if !strings.Contains(err.Error(), "longer than 64 bytes") {
					t.Fatalf("readLine: %v", err)
				}
				rest := body[len(got):]
				if i := bytes.IndexByte(rest, '\n'); i >= 0 && i <= limit || i < 0 && len(rest) <= limit {
					t.Fatalf("refused as too long: a line of %d bytes", i)
				}
				return
			}
			if len(line) > limit || bytes.IndexByte(line, '\n') >= 0 {
				t.Fatalf("line of %d bytes %q", len(line), line)
			}
			got = append(append(got, line...), '\n')
			var req ops.SendRequest
			if decodeStrict(line, &req) == nil {
				again, err := json.Marshal(req)
				if err != nil {
					t.Fatal(err)
				}
				var req2 ops.SendRequest
				if err := decodeStrict(again, &req2); err != nil || req2 != req {
					t.Fatalf("%q decoded to %+v, which encodes to %s and decodes to %+v, %v", line, req, again, req2, err)
				}
			}
		}
		if want := body; !bytes.Equal(got, want) && !bytes.Equal(got, append(bytes.Clone(want), '\n')) {
			t.Fatalf("lines %q of body %q", got, body)
		}
	})
}
