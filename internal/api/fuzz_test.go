package api

import (
	"bytes"
	"hotline/internal/strictjson/strictjsontest"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"hotline/internal/operator"
	"hotline/internal/station"
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
	func() any { return &station.ProposeRequest{} },
	func() any { return &station.SendRequest{} },
	func() any {
		return &struct {
			ID string `json:"id"`
			By string `json:"by"`
		}{}
	},
	func() any { return &station.SuspendRequest{} },
	func() any { return &station.CodedRequest{} },
	func() any { return &station.NoticeRequest{} },
	func() any { return &station.ReportRequest{} },
	func() any { return &station.IncidentRequest{} },
	func() any { return &station.PlanRequest{} },
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
