// Package api is the station's local JSON API over HTTP, and a client for
// it. The CLI and the console use it while hotline run owns the station.
// Every request carries the bearer token kept in the station directory; the
// listener is on loopback, or anywhere over HTTPS when config.json names a
// certificate and key (stationdir.CheckAPIListen, ServerTLS).
//
// Every operation of the table ops.All has its route (docs/API.md lists
// them): a GET takes its request in the query, a POST in a JSON body, and
// a {name} in the path is the request's field of that name. Besides them,
// under /api/v1:
//
//	POST messages/stream    SendRequest lines → answer lines, pipelined (stream.go)
//	GET  events             server-sent events: received, delivered, acknowledged, channel, alert, escalation, link
//	GET  operators          []operator.View   POST operators operator.AddRequest
//	DELETE operators/{name}
//	POST operators/{name}/unlock
//
// The bearer token stands for whoever owns the station directory: the
// operator routes are how hotline operator works while hotline run owns
// the station, and they are in the audit trail with no operator name.
package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"hotline/internal/badrequest"
	"hotline/internal/operator"
	"hotline/internal/ops"
	"hotline/internal/quiet"
	"hotline/internal/station"
	"hotline/internal/stationdir"
)

// MaxBody bounds request bodies.
const MaxBody = 1 << 20

// Server serves the API for one station.
type Server struct {
	st        *station.Station
	token     string
	mux       *http.ServeMux
	operators *operator.Registry
}

// NewServer returns the API handler for st.
func NewServer(st *station.Station, token string) *Server {
	s := &Server{st: st, token: token, mux: http.NewServeMux(), operators: &operator.Registry{Store: st.Store}}
	h := func(pattern string, f func(w http.ResponseWriter, r *http.Request) (any, error)) {
		s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
			v, err := f(w, r)
			if err != nil {
				writeError(w, err)
				return
			}
			if v != nil {
				writeJSON(w, http.StatusOK, v)
			}
		})
	}
	for _, op := range ops.All {
		s.mux.HandleFunc(op.Method+" "+op.Path, s.serveOp(op))
	}
	s.mux.HandleFunc("GET /api/v1/events", s.events)
	s.mux.HandleFunc("POST /api/v1/messages/stream", s.sendStream)
	local := func(r *http.Request) operator.Actor { return operator.Actor{Addr: "api " + r.RemoteAddr} }
	h("GET /api/v1/operators", func(w http.ResponseWriter, r *http.Request) (any, error) { return s.operators.List(r.Context()) })
	h("POST /api/v1/operators", func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req operator.AddRequest
		if err := readJSON(r, &req); err != nil {
			return nil, err
		}
		return s.operators.Add(r.Context(), local(r), req)
	})
	h("DELETE /api/v1/operators/{name}", func(w http.ResponseWriter, r *http.Request) (any, error) {
		return struct{}{}, s.operators.Remove(r.Context(), local(r), r.PathValue("name"))
	})
	h("POST /api/v1/operators/{name}/unlock", func(w http.ResponseWriter, r *http.Request) (any, error) {
		return struct{}{}, s.operators.Unlock(r.Context(), local(r), r.PathValue("name"))
	})
	return s
}

// Operators is the operator registry the API uses; the console shares it.
func (s *Server) Operators() *operator.Registry { return s.operators }

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !authorized(r, s.token) {
		// Close rather than read the body first, as net/http's HTTP/1
		// server would: a send stream's body has no end to read to.
		if r.ProtoMajor == 1 && r.ContentLength != 0 {
			w.Header().Set("Connection", "close")
		}
		writeJSON(w, http.StatusUnauthorized, errorBody{Error: "missing or wrong API token (see api-token in the station directory)"})
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, errors.New("streaming unsupported"))
		return
	}
	ch, cancel := s.st.Subscribe()
	defer cancel()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": connected\n\n")
	fl.Flush()
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	for {
		select {
		case n := <-ch:
			data, _ := json.Marshal(map[string]string{"what": n.What, "channel": n.Channel, "entry": n.Entry})
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", n.What, data)
			fl.Flush()
		case <-tick.C:
			fmt.Fprint(w, ": keepalive\n\n")
			fl.Flush()
		case <-r.Context().Done():
			return
		case <-s.st.Done():
			return
		}
	}
}

type errorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	writeJSON(w, errorStatus(err), errorBody{Error: errorMessage(err)})
}

// errorStatus is the HTTP status that answers err.
func errorStatus(err error) int {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ops.ErrDiskFull):
		return http.StatusInsufficientStorage
	case errors.Is(err, badrequest.Err):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// errorMessage is what the client is told of err.
func errorMessage(err error) string {
	return badrequest.Message(err)
}

func readJSON(r *http.Request, v any) error {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return bodyError(err)
	}
	if err := decodeStrict(data, v); err != nil {
		return fmt.Errorf("%w: request body: %v", badrequest.Err, err)
	}
	return nil
}

// bodyError is the error of a request body that could not be read: too
// large (413), or the asker's fault.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	return badrequest.New("request body: %v", err)
}

// decodeStrict decodes exactly one JSON value with no unknown fields.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("more than one JSON value")
	}
	return nil
}

// HeaderTimeout bounds the TLS handshake and the request headers of a
// connection to the API and console listener; BodyTimeout bounds the
// request body. A client that sends a byte a second is closed after them
// rather than holding a connection for as long as it likes. Server-sent
// events (requests without a body) run for as long as the client reads.
const (
	HeaderTimeout = 10 * time.Second
	BodyTimeout   = 30 * time.Second
)

// BodyDeadline gives a request with a body BodyTimeout to send all of it:
// a read past that fails (the handler answers 400 naming the request
// body), and the deadline is lifted once the body has been read, so that
// a handler may take its time after it. http.Server's ReadTimeout would
// also end the server-sent event streams, which is why it is not used.
func BodyDeadline(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			rc := http.NewResponseController(w)
			if rc.SetReadDeadline(time.Now().Add(BodyTimeout)) == nil {
				r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
			}
		}
		h.ServeHTTP(w, r)
	})
}

type deadlineBody struct {
	io.ReadCloser
	rc     *http.ResponseController
	lifted bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.lifted {
		b.lifted = true
		b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// ServerTLS returns the TLS configuration of a station's API listener,
// nil when it is configured for plain HTTP (on loopback only).
func ServerTLS(dir string, cfg *stationdir.Config) (*tls.Config, error) {
	if !cfg.APIHTTPS() {
		return nil, nil
	}
	cert, err := cfg.APICertificate(dir)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// Serve serves the API on addr until ctx is done: over HTTPS with tc, or
// in plain HTTP, which it refuses on an address other than loopback. It
// calls ready with the bound address once listening.
func Serve(ctx context.Context, addr string, h http.Handler, tc *tls.Config, ready func(net.Addr)) error {
	if err := stationdir.CheckAPIListen(addr, tc != nil); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("API listener: %w", err)
	}
	// net/http logs each failed TLS handshake: anyone who can reach the
	// port could fill the log with them.
	errs := quiet.New(slog.New(slog.NewTextHandler(os.Stderr, nil))).StdLogger()
	srv := &http.Server{Handler: BodyDeadline(h), ReadHeaderTimeout: HeaderTimeout, IdleTimeout: 2 * time.Minute, TLSConfig: tc, ErrorLog: errs}
	if ready != nil {
		ready(ln.Addr())
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if tc != nil {
		err = srv.ServeTLS(ln, "", "")
	} else {
		err = srv.Serve(ln)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
