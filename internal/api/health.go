package api

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"hotline/internal/station"
)

// RequireToken serves h only to requests that carry the bearer token.
// /metrics is served this way: its series name peers, paths and channel
// counts, which are the station's business.
func RequireToken(token string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !authorized(r, token) {
			writeJSON(w, http.StatusUnauthorized, errorBody{Error: "missing or wrong API token (see api-token in the station directory)"})
			return
		}
		h.ServeHTTP(w, r)
	})
}

func authorized(r *http.Request, token string) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(tok), []byte(token)) == 1
}

// Health serves /healthz (live) and /readyz (ready) without the token, so
// that systemd, a load balancer or a watchdog can ask without holding a
// secret. They tell only whether the station is up and which check
// failed, in words that name no peer, channel or message: the details
// (error texts naming files) are for a caller with the token.
func Health(st *station.Station, token string) http.Handler {
	mux := http.NewServeMux()
	serve := func(ready bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			h := st.Health(r.Context())
			ok := h.Live
			if ready {
				ok = h.Ready
			}
			code := http.StatusOK
			if !ok {
				code = http.StatusServiceUnavailable
			}
			if !authorized(r, token) {
				for i := range h.Checks {
					h.Checks[i].Detail = ""
				}
			}
			writeJSON(w, code, h)
		}
	}
	mux.HandleFunc("GET /healthz", serve(false))
	mux.HandleFunc("GET /readyz", serve(true))
	return mux
}
