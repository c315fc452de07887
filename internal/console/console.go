// Package console is the duty officer's web console, served by hotline run
// on the API listener under /console/. Pages are drawn on the server
// (html/template, every peer-supplied string escaped); a small script of
// our own, embedded with the rest, keeps them live from server-sent events,
// counts deadlines down, and sounds the alarm with the Web Audio API.
// Nothing is fetched from anywhere else.
//
// Operators log in with a name and password (internal/operator); the
// session is a random secret in an HTTP-only, Secure, SameSite=Strict
// cookie whose hash is stored with an expiry. Every state-changing request
// passes net/http's cross-origin protection, is checked against the
// operator's role on the server, and is written to the audit trail with
// who, what, when and from where. The console answers only to the
// station's own names in the Host header. See docs/CONSOLE.md.
package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"hotline/internal/badrequest"
	"hotline/internal/operator"
	"hotline/internal/ops"
	"hotline/internal/protocol"
	"hotline/internal/store"
)

// Config is what the console needs from the station.
type Config struct {
	Ops       ops.Ops
	Subscribe func() (<-chan protocol.Notify, func()) // the station's notifications, as the API's event stream gets them
	// Wake is the station's Wake: a channel woken by the notifications a
	// filter accepts, none lost. The console's own alerts follow it.
	Wake      func(filter func(protocol.Notify) bool) (<-chan struct{}, func())
	Done      <-chan struct{} // closed when the station stops
	Operators *operator.Registry
	Station   string // this station's name, for the title bar
	// Hosts are the names and addresses, besides loopback ones, that the
	// console answers to in a request's Host header: the API's listen
	// address, the names in its certificate, console_hosts
	// (stationdir.Config.ConsoleNames).
	Hosts []string

	SessionTTL time.Duration    // default 12h: a long watch
	DownAfter  time.Duration    // default DefaultDownAfter: a channel down this long takes over the screen
	Now        func() time.Time // default time.Now
	Log        *slog.Logger
}

// DefaultSessionTTL is how long a login lasts.
const DefaultSessionTTL = 12 * time.Hour

// CookieName is the session cookie.
const CookieName = "hotline_session"

// Limits on request bodies.
const (
	maxBody   = 64 << 10 // JSON requests
	maxBundle = 64 << 20 // a transcript bundle uploaded to verify
)

// Server is the console's HTTP handler.
type Server struct {
	cfg     Config
	mux     *http.ServeMux
	handler http.Handler
	hosts   hosts // the names the console answers to
	hub     hub   // the console's own notifications

	// opRoutes are the actions that do one of the station's operations,
	// each with its operation, as routes registered them.
	opRoutes []opRoute

	alarmCache alarmCache   // the station's alerts as the alarm board reads them
	ackGen     atomic.Int64 // acknowledgements made on this console, for the cache

	mu        sync.Mutex
	downSince map[string]time.Time // channels seen down, since when
	upSince   map[string]time.Time // peers with a path up, since the console saw one come up
	shelves   map[string]shelf     // alarm groups shelved, by group ID (kept in memory: a restart ends every shelf)
	floor     int64                // station alerts up to this ID need no person
}

// New returns the console for a station.
func New(cfg Config) *Server {
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.DownAfter <= 0 {
		cfg.DownAfter = DefaultDownAfter
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), hosts: newHosts(cfg.Hosts), downSince: map[string]time.Time{}, shelves: map[string]shelf{}, upSince: map[string]time.Time{}}
	s.routes()
	if cfg.Wake != nil && cfg.Done != nil {
		wake, cancel := cfg.Wake(stateMayChange)
		go s.watch(wake, cancel)
	}
	if cfg.Done != nil {
		go s.flushRefusals()
	}
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.refuse(r, operator.RefuseCrossOrigin, r.URL.Path, "cross-origin request refused")
		writeJSON(w, http.StatusForbidden, errorBody{Error: "cross-origin request refused"})
	}))
	s.handler = cop.Handler(s.mux)
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	if r.TLS != nil {
		// Served over HTTPS (hotline api tls): browsers keep to it.
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	if !s.hosts.allowed(r.Host) {
		s.refuseHost(w, r)
		return
	}
	s.handler.ServeHTTP(w, r)
}

// session is a logged-in operator on one request.
type session struct {
	store.Session
	op *store.Operator
}

func (se *session) actor(r *http.Request) operator.Actor {
	return operator.Actor{Name: se.op.Name, Addr: r.RemoteAddr}
}

func (s *Server) audit(r *http.Request, se *session, action, target, outcome, detail string) {
	who := operator.Actor{Addr: r.RemoteAddr}
	if se != nil {
		who.Name = se.op.Name
	}
	if err := s.cfg.Operators.Record(context.WithoutCancel(r.Context()), who, action, clip(target), outcome, clip(detail)); err != nil {
		s.cfg.Log.Error("audit trail write failed", "action", action, "err", err)
	}
}

// refuse records a request refused before anyone logged in. The registry
// aggregates these records, so that a flood of them costs the audit trail
// a bounded number of records (operator.Refuse).
func (s *Server) refuse(r *http.Request, kind, target, detail string) {
	err := s.cfg.Operators.Refuse(context.WithoutCancel(r.Context()), operator.Refusal{Kind: kind, Addr: r.RemoteAddr, Target: target, Detail: detail})
	if err != nil {
		s.cfg.Log.Error("audit trail write failed", "action", kind, "err", err)
	}
}

// flushRefusals writes the counts of the refusals aggregated in the audit
// trail once their interval has ended, until the station stops. It keeps
// the real time: the registry decides on its own clock what has ended.
func (s *Server) flushRefusals() {
	t := time.NewTicker(operator.RefusalInterval / 6)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := s.cfg.Operators.FlushRefusals(context.Background()); err != nil {
				s.cfg.Log.Error("audit trail write failed", "action", "refusals", "err", err)
			}
		case <-s.cfg.Done:
			return
		}
	}
}

// newSecret returns a session secret for the cookie and its stored ID.
func newSecret() (secret, id string) {
	b := make([]byte, 32)
	rand.Read(b)
	secret = base64.RawURLEncoding.EncodeToString(b)
	return secret, sessionID(secret)
}

func sessionID(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

var errNoSession = errors.New("not logged in")

// errForbidden marks an action the operator's role may not take.
var errForbidden = errors.New("forbidden")

// current returns the request's session, or errNoSession when there is
// none, it is unknown, it expired or its operator is gone.
func (s *Server) current(r *http.Request) (*session, error) {
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return nil, errNoSession
	}
	ctx := r.Context()
	st, err := s.cfg.Operators.Store.Session(ctx, sessionID(c.Value))
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoSession
	}
	if err != nil {
		return nil, err
	}
	if !s.cfg.Now().Before(st.ExpiresAt) {
		s.cfg.Operators.Store.RemoveSession(ctx, st.ID)
		return nil, fmt.Errorf("%w: the session expired", errNoSession)
	}
	op, err := s.cfg.Operators.Store.Operator(ctx, st.Operator)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoSession
	}
	if err != nil {
		return nil, err
	}
	return &session{Session: *st, op: op}, nil
}

func (s *Server) setCookie(w http.ResponseWriter, secret string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: secret, Path: "/console/", MaxAge: maxAge,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
}

// page wraps a handler for a page: without a session it sends the browser
// to the login page; without the permission it shows why not.
func (s *Server) page(perm operator.Permission, f func(w http.ResponseWriter, r *http.Request, se *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		se, err := s.current(r)
		if errors.Is(err, errNoSession) {
			http.Redirect(w, r, "/console/login", http.StatusSeeOther)
			return
		}
		if err != nil {
			http.Error(w, "station: "+err.Error(), http.StatusInternalServerError)
			return
		}
		if !operator.Allowed(se.op.Role, perm) {
			s.audit(r, se, "view", r.URL.Path, "refused", fmt.Sprintf("role %s may not %s", se.op.Role, perm))
			d := s.data("refused", se)
			d.Refused = string(perm)
			s.renderCode(w, http.StatusForbidden, "refused-page", d)
			return
		}
		f(w, r, se)
	}
}

// action wraps a JSON handler: it needs a session and the permission, and
// what it did (or was refused) goes into the audit trail as action, with
// the target and detail it returns.
type result struct {
	body    any
	target  string
	detail  string
	audited bool                        // the handler wrote its own audit records
	write   func(w http.ResponseWriter) // writes the answer itself, instead of body as JSON
}

func (s *Server) action(perm operator.Permission, name string, f func(r *http.Request, se *session) (result, error)) http.HandlerFunc {
	return s.actionLimit(perm, name, maxBody, f)
}

// actionLimit is action with a bound on the request body.
func (s *Server) actionLimit(perm operator.Permission, name string, limit int64, f func(r *http.Request, se *session) (result, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		se, err := s.current(r)
		if err != nil {
			if errors.Is(err, errNoSession) {
				writeJSON(w, http.StatusUnauthorized, errorBody{Error: err.Error() + " (log in again)"})
				return
			}
			writeError(w, err)
			return
		}
		if !operator.Allowed(se.op.Role, perm) {
			msg := fmt.Sprintf("role %s may not %s", se.op.Role, perm)
			s.audit(r, se, name, r.PathValue("id"), "refused", msg)
			writeJSON(w, http.StatusForbidden, errorBody{Error: msg})
			return
		}
		res, err := f(r, se)
		if name != "" && !res.audited {
			detail := res.detail
			if err != nil {
				detail = errText(err)
			}
			s.audit(r, se, name, res.target, operator.Outcome(err), detail)
		}
		if err != nil {
			if r.Method == http.MethodGet && strings.Contains(r.Header.Get("Accept"), "text/html") {
				// A browser opening a document (an after-action report):
				// a page in the operator's language.
				s.failPage(w, se, err)
				return
			}
			writeError(w, err)
			return
		}
		if res.write != nil {
			res.write(w)
			return
		}
		if res.body == nil {
			res.body = struct{}{}
		}
		writeJSON(w, http.StatusOK, res.body)
	}
}

type errorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func errText(err error) string {
	s := badrequest.Message(err)
	return strings.TrimPrefix(s, errForbidden.Error()+": ")
}

func writeError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		code = http.StatusRequestEntityTooLarge
		err = fmt.Errorf("request body is larger than %d bytes", mbe.Limit)
	case errors.Is(err, badrequest.Err):
		code = http.StatusBadRequest
	case errors.Is(err, errForbidden):
		code = http.StatusForbidden
	}
	writeJSON(w, code, errorBody{Error: errText(err)})
}

// readJSON decodes exactly one JSON object with known fields.
func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return fmt.Errorf("%w: request body: %v", badrequest.Err, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: request body: more than one JSON value", badrequest.Err)
	}
	return nil
}

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: %s", badrequest.Err, fmt.Sprintf(format, args...))
}

func clip(s string) string {
	if len(s) <= 300 {
		return s
	}
	cut := 300
	for cut > 0 && s[cut]&0xc0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}

// login checks the name and password and starts a session. Every failed
// login gets the same answer; the registry takes care that it also takes
// about the same time, and that guesses slow down (operator.Registry.Login).
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	var req struct {
		Name     string `json:"name"`
		Password string `json:"password"`
	}
	if err := readJSON(r, &req); err != nil {
		s.refuse(r, operator.RefuseLogin, "", errText(err))
		writeError(w, err)
		return
	}
	op, err := s.cfg.Operators.Login(r.Context(), req.Name, req.Password, r.RemoteAddr)
	switch {
	case errors.Is(err, operator.ErrBadLogin):
		writeJSON(w, http.StatusUnauthorized, errorBody{Error: operator.ErrBadLogin.Error()})
		return
	case err != nil:
		writeError(w, err)
		return
	}
	ctx := r.Context()
	now := s.cfg.Now().UTC()
	s.cfg.Operators.Store.RemoveExpiredSessions(ctx, now)
	secret, id := newSecret()
	if err := s.cfg.Operators.Store.AddSession(ctx, store.Session{ID: id, Operator: op.Name, CreatedAt: now, ExpiresAt: now.Add(s.cfg.SessionTTL), Addr: r.RemoteAddr}); err != nil {
		writeError(w, err)
		return
	}
	s.setCookie(w, secret, int(s.cfg.SessionTTL.Seconds()))
	writeJSON(w, http.StatusOK, map[string]string{"name": op.Name, "role": op.Role, "lang": op.Lang})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	se, err := s.current(r)
	if err == nil {
		s.cfg.Operators.Store.RemoveSession(r.Context(), se.ID)
		s.audit(r, se, "logout", "", "ok", "")
	}
	s.setCookie(w, "", -1)
	writeJSON(w, http.StatusOK, struct{}{})
}
