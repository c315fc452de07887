package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"hotline/internal/operator"
	"hotline/internal/ops"
	"hotline/internal/strictjson/strictjsontest"
)

// requestBodies makes a fresh value of each type a route decodes its body
// into, in the order FuzzRequestBody's kind byte picks them.
var requestBodies = []func() any{
	func() any {
		return &struct {
			Card        string `json:"card"`
			Fingerprint string `json:"fingerprint"`
		}{}
	},
	func() any { return &ops.ProposeRequest{} },
	func() any { return &ops.SendRequest{} },
	func() any {
		return &struct {
			ID string `json:"id"`
			By string `json:"by"`
		}{}
	},
	func() any { return &ops.SuspendRequest{} },
	func() any { return &ops.CodedRequest{} },
	func() any { return &ops.NoticeRequest{} },
	func() any { return &ops.ReportRequest{} },
	func() any { return &ops.IncidentRequest{} },
	func() any { return &ops.PlanRequest{} },
	func() any { return &operator.AddRequest{} },
}

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
