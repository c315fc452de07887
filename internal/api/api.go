// Package api is the station's local JSON API over HTTP, and a client for
// it. The CLI and the console use it while hotline run owns the station.
// Every request carries the bearer token kept in the station directory; the
// listener is on loopback, or anywhere over HTTPS when config.json names a
// certificate and key (stationdir.CheckAPIListen, ServerTLS).
//
// Routes (all under /api/v1):
//
//	GET  card               the station's signed card (text)
//	GET  status             StatusView
//	GET  peers              []PeerView        POST peers {card, fingerprint}
//	GET  channels           []ChannelView     POST channels ProposeRequest
//	POST channels/{id}/accept
//	POST messages           SendRequest → MessageView, once durable
//	POST messages/stream    SendRequest lines → answer lines, pipelined (stream.go)
//	GET  inbox?channel=     []MessageView
//	GET  outbox?channel=    []MessageView
//	POST ack {id, by}       MessageView
//	GET  export?channel=    transcript bundle
//	GET  alerts?after=      []Alert
//	POST coded              CodedRequest → MessageView (standard phrases)
//	POST notices            NoticeRequest → MessageView
//	POST reports            ReportRequest → MessageView
//	GET  incidents?channel= []IncidentView    POST incidents IncidentRequest → IncidentView
//	GET  plans              []PlanView        POST plans PlanRequest → PlanView
//	GET  findings           []FindingView
//	GET  codebooks          []CodebookView    POST codebooks {file (base64)} → CodebookView
//	GET  codebooks/phrases?codebook=          CodebookPhrases
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
	"net"
	"net/http"
	"strconv"
	"time"

	"hotline/internal/badrequest"
	"hotline/internal/codebook"
	"hotline/internal/operator"
	"hotline/internal/ops"
	"hotline/internal/record"
	"hotline/internal/station"
	"hotline/internal/stationdir"
)

// MaxBody bounds request bodies.
const MaxBody = 1 << 20

// Server serves the API for one station.
type Server struct {
	st    *station.Station
	token string
	mux   *http.ServeMux
	ops   *operator.Registry
}

// NewServer returns the API handler for st.
func NewServer(st *station.Station, token string) *Server {
	s := &Server{st: st, token: token, mux: http.NewServeMux(), ops: &operator.Registry{Store: st.Store}}
	h := func(pattern string, f func(w http.ResponseWriter, r *http.Request) (any, error)) {
		s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
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
	h("GET /api/v1/card", func(w http.ResponseWriter, r *http.Request) (any, error) {
		c, err := st.Card(r.Context())
		if err != nil {
			return nil, err
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(c)
		return nil, nil
	})
	h("GET /api/v1/status", func(w http.ResponseWriter, r *http.Request) (any, error) { return st.Status(r.Context()) })
	h("GET /api/v1/peers", func(w http.ResponseWriter, r *http.Request) (any, error) { return st.Peers(r.Context()) })
	h("POST /api/v1/peers", func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req struct {
			Card        string `json:"card"`
			Fingerprint string `json:"fingerprint"`
		}
		if err := readJSON(r, &req); err != nil {
			return nil, err
		}
		return st.AddPeer(r.Context(), []byte(req.Card), req.Fingerprint)
	})
	h("GET /api/v1/channels", func(w http.ResponseWriter, r *http.Request) (any, error) { return st.Channels(r.Context()) })
	h("POST /api/v1/channels", func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req ops.ProposeRequest
		if err := readJSON(r, &req); err != nil {
			return nil, err
		}
		return st.Propose(r.Context(), req)
	})
	h("POST /api/v1/channels/{id}/accept", func(w http.ResponseWriter, r *http.Request) (any, error) {
		return st.Accept(r.Context(), r.PathValue("id"))
	})
	h("POST /api/v1/messages", func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req ops.SendRequest
		if err := readJSON(r, &req); err != nil {
			return nil, err
		}
		return st.Send(r.Context(), req)
	})
	h("GET /api/v1/inbox", func(w http.ResponseWriter, r *http.Request) (any, error) {
		return st.Inbox(r.Context(), r.URL.Query().Get("channel"))
	})
	h("GET /api/v1/outbox", func(w http.ResponseWriter, r *http.Request) (any, error) {
		return st.Outbox(r.Context(), r.URL.Query().Get("channel"))
	})
	h("POST /api/v1/ack", func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req struct {
			ID string `json:"id"`
			By string `json:"by"`
		}
		if err := readJSON(r, &req); err != nil {
			return nil, err
		}
		return st.Ack(r.Context(), req.ID, req.By)
	})
	h("GET /api/v1/export", func(w http.ResponseWriter, r *http.Request) (any, error) {
		return st.Export(r.Context(), r.URL.Query().Get("channel"))
	})
	h("GET /api/v1/alerts", func(w http.ResponseWriter, r *http.Request) (any, error) {
		after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
		a, err := st.Alerts(r.Context(), after)
		if a == nil {
			a = []record.Alert{}
		}
		return a, err
	})
	suspend := func(resume bool) func(w http.ResponseWriter, r *http.Request) (any, error) {
		return func(w http.ResponseWriter, r *http.Request) (any, error) {
			var req ops.SuspendRequest
			if err := readJSON(r, &req); err != nil {
				return nil, err
			}
			if req.Channel != "" && req.Channel != r.PathValue("id") {
				return nil, fmt.Errorf("%w: body names channel %q, path %q", badrequest.Err, req.Channel, r.PathValue("id"))
			}
			req.Channel = r.PathValue("id")
			if resume {
				return st.Resume(r.Context(), req)
			}
			return st.Suspend(r.Context(), req)
		}
	}
	h("POST /api/v1/channels/{id}/suspend", suspend(false))
	h("POST /api/v1/channels/{id}/resume", suspend(true))
	h("GET /api/v1/channels/{id}/checks", func(w http.ResponseWriter, r *http.Request) (any, error) {
		return st.Checks(r.Context(), r.PathValue("id"))
	})
	h("GET /api/v1/escalations", func(w http.ResponseWriter, r *http.Request) (any, error) {
		return st.Escalations(r.Context(), r.URL.Query().Get("channel"))
	})
	h("POST /api/v1/key/rotate", func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req ops.KeyRequest
		if err := readJSON(r, &req); err != nil {
			return nil, err
		}
		return st.RotateKeys(r.Context(), req)
	})
	h("POST /api/v1/peers/replace", func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req struct {
			Card        string `json:"card"`
			Fingerprint string `json:"fingerprint"`
			By          string `json:"by"`
		}
		if err := readJSON(r, &req); err != nil {
			return nil, err
		}
		return st.ReplacePeer(r.Context(), []byte(req.Card), req.Fingerprint, req.By)
	})
	h("GET /api/v1/keys", func(w http.ResponseWriter, r *http.Request) (any, error) {
		return st.KeyHistory(r.Context(), r.URL.Query().Get("station"))
	})
	h("GET /api/v1/bundle", func(w http.ResponseWriter, r *http.Request) (any, error) {
		return st.BundleExport(r.Context(), r.URL.Query().Get("peer"))
	})
	h("POST /api/v1/bundle", func(w http.ResponseWriter, r *http.Request) (any, error) {
		r.Body = http.MaxBytesReader(w, r.Body, ops.MaxOffline)
		data, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		return st.BundleImport(r.Context(), data)
	})
	h("POST /api/v1/coded", func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req ops.CodedRequest
		if err := readJSON(r, &req); err != nil {
			return nil, err
		}
		return st.SendCoded(r.Context(), req)
	})
	h("POST /api/v1/notices", func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req ops.NoticeRequest
		if err := readJSON(r, &req); err != nil {
			return nil, err
		}
		return st.SendNotice(r.Context(), req)
	})
	h("POST /api/v1/reports", func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req ops.ReportRequest
		if err := readJSON(r, &req); err != nil {
			return nil, err
		}
		return st.SendReport(r.Context(), req)
	})
	h("GET /api/v1/incidents", func(w http.ResponseWriter, r *http.Request) (any, error) {
		return st.Incidents(r.Context(), r.URL.Query().Get("channel"))
	})
	h("POST /api/v1/incidents", func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req ops.IncidentRequest
		if err := readJSON(r, &req); err != nil {
			return nil, err
		}
		return st.Incident(r.Context(), req)
	})
	h("GET /api/v1/plans", func(w http.ResponseWriter, r *http.Request) (any, error) { return st.Plans(r.Context()) })
	h("POST /api/v1/plans", func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req ops.PlanRequest
		if err := readJSON(r, &req); err != nil {
			return nil, err
		}
		return st.AddPlan(r.Context(), req)
	})
	h("GET /api/v1/findings", func(w http.ResponseWriter, r *http.Request) (any, error) { return st.Findings(r.Context()) })
	h("GET /api/v1/codebooks", func(w http.ResponseWriter, r *http.Request) (any, error) { return st.Codebooks(r.Context()) })
	h("GET /api/v1/codebooks/phrases", func(w http.ResponseWriter, r *http.Request) (any, error) {
		return st.Codebook(r.Context(), r.URL.Query().Get("codebook"))
	})
	h("POST /api/v1/codebooks", func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req struct {
			File []byte `json:"file"`
		}
		if err := readJSON(r, &req); err != nil {
			return nil, err
		}
		return st.AddCodebook(r.Context(), req.File)
	})
	s.mux.HandleFunc("GET /api/v1/events", s.events)
	s.mux.HandleFunc("POST /api/v1/messages/stream", s.sendStream)
	local := func(r *http.Request) operator.Actor { return operator.Actor{Addr: "api " + r.RemoteAddr} }
	h("GET /api/v1/operators", func(w http.ResponseWriter, r *http.Request) (any, error) { return s.ops.List(r.Context()) })
	h("POST /api/v1/operators", func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req operator.AddRequest
		if err := readJSON(r, &req); err != nil {
			return nil, err
		}
		return s.ops.Add(r.Context(), local(r), req)
	})
	h("DELETE /api/v1/operators/{name}", func(w http.ResponseWriter, r *http.Request) (any, error) {
		return struct{}{}, s.ops.Remove(r.Context(), local(r), r.PathValue("name"))
	})
	h("POST /api/v1/operators/{name}/unlock", func(w http.ResponseWriter, r *http.Request) (any, error) {
		return struct{}{}, s.ops.Unlock(r.Context(), local(r), r.PathValue("name"))
	})
	return s
}

// Operators is the operator registry the API uses; the console shares it.
func (s *Server) Operators() *operator.Registry { return s.ops }

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
	switch r.URL.Path {
	case "/api/v1/bundle": // an offline bundle has a limit of its own
	case "/api/v1/messages/stream": // each line has the limit (sendStream)
	case "/api/v1/codebooks": // a codebook file, in base64
		r.Body = http.MaxBytesReader(w, r.Body, codebook.MaxFile/3*4+1024)
	default:
		r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
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
	case errors.Is(err, station.ErrDiskFull):
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
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return fmt.Errorf("%w: request body: %v", badrequest.Err, err)
	}
	if err := decodeStrict(data, v); err != nil {
		return fmt.Errorf("%w: request body: %v", badrequest.Err, err)
	}
	return nil
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
	srv := &http.Server{Handler: BodyDeadline(h), ReadHeaderTimeout: HeaderTimeout, IdleTimeout: 2 * time.Minute, TLSConfig: tc}
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
