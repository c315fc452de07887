package console

import (
	"fmt"
	"net"
	"net/http"
	"strings"

	"hotline/internal/operator"
)

// hosts are the names the console answers to. A page of another site can
// make its own name point at the station (DNS rebinding): the browser
// then sends the console requests with that site's name in the Host
// header and lets the page read the answers. The console answers only to
// its own names, so such a page reaches nothing, not even the login.
type hosts map[string]bool

// newHosts keeps names as hostName leaves a request's Host header, so
// that the two compare.
func newHosts(names []string) hosts {
	h := hosts{}
	for _, n := range names {
		h[hostName(n)] = true
	}
	return h
}

// hostName is the name in a Host header: without the port or the
// brackets of an IPv6 address, in lower case, without a final dot, and
// an IP address in its canonical form.
func hostName(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if ip := net.ParseIP(host); ip != nil {
		return ip.String()
	}
	return host
}

// allowed reports whether the console answers to a Host header: a
// loopback address, localhost, or one of the station's names.
func (h hosts) allowed(host string) bool {
	name := hostName(host)
	if name == "localhost" || h[name] {
		return true
	}
	ip := net.ParseIP(name)
	return ip != nil && ip.IsLoopback()
}

// refuseHost answers a request whose Host header is not one of the
// station's names.
func (s *Server) refuseHost(w http.ResponseWriter, r *http.Request) {
	s.refuse(r, operator.RefuseHost, r.Host, "Host header is not a name of this station")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusMisdirectedRequest)
	fmt.Fprintf(w, "This console does not answer to the name %q. It answers to loopback addresses, its listen address, the names in its certificate and the names in console_hosts in the station's config.json. If this is a name of the station, add it there and restart hotline run.\n", clip(r.Host))
}
