package console

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"hotline/internal/operator"
	"hotline/internal/ops"
	"hotline/internal/stationdir"
	"hotline/internal/strictjson/strictjsontest"
)

// requestBodies makes a fresh value of each type a console route decodes
// its body into, in the order FuzzRequestBody's kind byte picks them.
var requestBodies = []func() any{
	func() any {
		return &struct {
			Name     string `json:"name"`
			Password string `json:"password"`
		}{}
	},
	func() any {
		return &struct {
			Lang string `json:"lang"`
		}{}
	},
	func() any { return &ops.SendRequest{} },
	func() any {
		return &struct {
			ID string `json:"id"`
		}{}
	},
	func() any {
		return &struct {
			Reason string `json:"reason"`
		}{}
	},
	func() any { return &ops.ProposeRequest{} },
	func() any {
		return &struct {
			Card        string `json:"card"`
			Fingerprint string `json:"fingerprint"`
		}{}
	},
	func() any { return &operator.AddRequest{} },
	func() any {
		return &struct {
			Keys []string `json:"keys"`
		}{}
	},
	func() any { return &ops.GroupRequest{} },
	func() any { return &ops.GroupRef{} },
	// Last: its notice is raw JSON, kept as sent, so it is compared by
	// its encoding.
	func() any { return &ops.BroadcastRequest{} },
}

func decodeBody(data []byte, v any) error {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/console/x", bytes.NewReader(data))
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	return readJSON(r, v)
}

// FuzzRequestBody checks the console's request body decoder for every
// request type: it never panics; it refuses with ErrBadRequest naming the
// request body, or a MaxBytesError for a body over the limit; and what it
// accepts encodes and decodes again to the same value.
func FuzzRequestBody(f *testing.F) {
	f.Add(uint8(0), []byte(`{"name":"duty","password":"correct horse"}`))
	f.Add(uint8(2), []byte(`{"channel":"usa-chn-staff","precedence":"FLASH","text":"hello"}`))
	f.Add(uint8(8), []byte(`{"keys":["a","b"]}`))
	f.Add(uint8(5), []byte(`{"peer":"CHN","channel":"c","level":"staff","deadlines":{"FLASH":"5m"}}`))
	f.Add(uint8(8), []byte(`{"keys":`+strings.Repeat("[", 20000)+`}`))
	f.Add(uint8(0), []byte(`{"name":"`+strings.Repeat("A", maxBody)+`"}`))
	f.Add(uint8(3), []byte(`{"id":"x"}{"id":"y"}`))
	f.Add(uint8(11), []byte(`{"to":["all","Allies","CHN"],"level":"staff","precedence":"FLASH","text":"to several parties"}`))
	f.Add(uint8(11), []byte(`{"to":["CHN"],"notice": { "kind" : "live_fire" }}`))
	f.Add(uint8(9), []byte(`{"name":"Allies","peers":["CHN","RUS"]}`))
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		k := int(kind) % len(requestBodies)
		strictjsontest.Body(t, data, maxBody, requestBodies[k], decodeBody, k == len(requestBodies)-1)
	})
}

// FuzzHostHeader: the console answers to a Host header only when its name
// is a loopback one or one of the station's; every name that
// console_hosts takes is answered to, on any port, in any case.
func FuzzHostHeader(f *testing.F) {
	for _, s := range []string{"127.0.0.1:8443", "[::1]:1", "localhost", "LOCALHOST.:80", "hotline.watch.example:443", "evil.example",
		"127.0.0.1.nip.io", "0x7f000001", "[::ffff:127.0.0.1]:1", "[fe80::1%25eth0]:1", ":80", "[", "hotline.watch.example.evil"} {
		f.Add(s)
	}
	station := newHosts([]string{"hotline.watch.example", "10.0.0.5"})
	f.Fuzz(func(t *testing.T, h string) {
		name := hostName(h)
		if station.allowed(h) {
			ip := net.ParseIP(name)
			if name != "localhost" && name != "hotline.watch.example" && name != "10.0.0.5" && (ip == nil || !ip.IsLoopback()) {
				t.Fatalf("Host %q (name %q) is answered to", h, name)
			}
		}
		n, err := stationdir.ParseConsoleHost(h)
		if err != nil {
			return
		}
		mine := newHosts([]string{n})
		host := n
		if strings.Contains(n, ":") {
			host = "[" + n + "]"
		}
		for _, v := range []string{host, host + ":8443", strings.ToUpper(host) + ":1"} {
			if !mine.allowed(v) {
				t.Fatalf("console_hosts %q (%q) is not answered to as %q", h, n, v)
			}
		}
	})
}
