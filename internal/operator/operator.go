// Package operator holds the people who use a station's console: their
// roles and what each role may do, password hashing (argon2id), login with
// a backoff after failures, and the audit trail of operator actions, with
// the refusals that need no login aggregated. Records live in the
// station's store (store.Console); this package decides what they mean.
//
// The role table is the one in docs/CONSOLE.md; the server enforces it on
// every request, whatever the browser shows.
package operator

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"hotline/internal/badrequest"
	"hotline/internal/store"
)

// Permission is one kind of action in the console.
type Permission string

// Permissions.
const (
	Read       Permission = "read"       // the board, channels, messages, station alerts
	Send       Permission = "send"       // compose and send a message
	Ack        Permission = "ack"        // acknowledge a received message
	Suspend    Permission = "suspend"    // suspend and resume a channel
	Escalate   Permission = "escalate"   // handle escalations
	Channels   Permission = "channels"   // propose and accept channels
	Peers      Permission = "peers"      // pin peers
	Operators  Permission = "operators"  // add, remove and unlock operators
	AuditTrail Permission = "audit"      // read the operator audit trail
	Transcript Permission = "transcript" // export and verify transcripts
	Report     Permission = "report"     // an incident's after-action report
	Shelve     Permission = "shelve"     // shelve a nuisance alarm group for a while, with a reason
)

// Roles lists the roles in the order they are shown.
var Roles = []string{store.RoleDuty, store.RoleSupervisor, store.RoleAdmin, store.RoleAuditor}

// grants is what each role may do. Duty officers talk; supervisors talk
// and decide about the channel itself; admins configure; auditors only
// look. Nobody but the duty roles speaks for the station.
var grants = map[string][]Permission{
	store.RoleDuty:       {Read, Send, Ack},
	store.RoleSupervisor: {Read, Send, Ack, Suspend, Escalate, Shelve, AuditTrail, Transcript, Report},
	store.RoleAdmin:      {Read, Channels, Peers, Operators, AuditTrail, Transcript},
	store.RoleAuditor:    {Read, AuditTrail, Transcript, Report},
}

// Allowed reports whether role may do p.
func Allowed(role string, p Permission) bool {
	for _, g := range grants[role] {
		if g == p {
			return true
		}
	}
	return false
}

// Grants lists what role may do.
func Grants(role string) []Permission { return append([]Permission(nil), grants[role]...) }

// Languages the console speaks.
var Languages = []string{"en", "zh"}

// Errors. Bad input wraps badrequest.Err, as everywhere else.
//
// ErrBadLogin is every failed login: a name nobody has, a wrong password,
// an attempt that came before the backoff let it. Its text is all a
// client is told, whatever failed; what failed is in the audit trail.
var ErrBadLogin = errors.New("login refused: wrong name or password, or too many recent failures (wait up to a minute)")

func bad(format string, args ...any) error { return badrequest.New(format, args...) }

// CheckRole returns an error naming the roles when role is not one.
func CheckRole(role string) error {
	if _, ok := grants[role]; !ok {
		return bad("role %q is not one of %s", role, strings.Join(Roles, ", "))
	}
	return nil
}

// CheckLang returns an error when lang is not a console language.
func CheckLang(lang string) error {
	for _, l := range Languages {
		if l == lang {
			return nil
		}
	}
	return bad("language %q is not one of %s", lang, strings.Join(Languages, ", "))
}

// MaxName bounds an operator's name in bytes.
const MaxName = 64

// CheckName accepts 1-64 bytes of printable UTF-8 (any script: operators
// write their names as they do), without leading or trailing space and
// without "/".
func CheckName(name string) error {
	switch {
	case name == "":
		return bad("operator name is empty")
	case len(name) > MaxName:
		return bad("operator name is %d bytes, more than %d", len(name), MaxName)
	case !utf8.ValidString(name):
		return bad("operator name is not valid UTF-8")
	case strings.TrimSpace(name) != name:
		return bad("operator name %q starts or ends with a space", name)
	case strings.Contains(name, "/"):
		return bad("operator name %q contains /", name)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return bad("operator name %q contains a control or invisible character (%U)", name, r)
		}
	}
	return nil
}

// Password bounds, in characters and bytes.
const (
	MinPassword = 12
	MaxPassword = 1024
)

// CheckPassword accepts passwords of 12 characters up to 1024 bytes.
func CheckPassword(pw string) error {
	if n := utf8.RuneCountInString(pw); n < MinPassword {
		return bad("password is %d characters; use at least %d", n, MinPassword)
	}
	if len(pw) > MaxPassword {
		return bad("password is more than %d bytes", MaxPassword)
	}
	return nil
}

// argon2id parameters: the OWASP recommendation (19 MiB, 2 passes, 1
// lane). They are written into each hash, so raising them later leaves old
// hashes readable.
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

var b64 = base64.RawStdEncoding

// Hash returns an argon2id hash of password in the PHC string format.
func Hash(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify reports whether password matches hash, comparing in constant time.
// A malformed hash never matches.
func Verify(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 1<<20 || t == 0 || t > 16 || p == 0 {
		return false
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 64 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummy is hashed against when a login names nobody, so that a wrong name
// takes as long as a wrong password. Making it measures a password check:
// the first guess of how long a refused attempt should take.
var dummy = sync.OnceValues(func() (string, time.Duration) {
	start := time.Now()
	h, _ := Hash("not a password of anyone's")
	return h, time.Since(start)
})

// Actor is who does something, for the audit trail.
type Actor struct {
	Name string // operator name; "" for the station directory's owner at the command line
	Addr string // remote address, or "local"
}

// Local is the owner of the station directory, at the command line.
var Local = Actor{Name: "", Addr: "local"}

// View is an operator as listed (no password hash). FailedLogins and
// LockedUntil are the backoff of the operator's name in this process: the
// failed logins counted against it, and until when its next attempt
// waits. Nobody is locked out any longer; the names are kept for the
// clients that read them.
type View struct {
	Name         string    `json:"name"`
	Role         string    `json:"role"`
	Lang         string    `json:"lang"`
	CreatedAt    time.Time `json:"created_at"`
	FailedLogins int       `json:"failed_logins"`
	LockedUntil  time.Time `json:"locked_until,omitzero"`
	// RecordName is what the operator's acts carry to the other party.
	RecordName string `json:"record_name"`
}

func (r *Registry) view(o store.Operator) View {
	v := View{Name: o.Name, Role: o.Role, Lang: o.Lang, CreatedAt: o.CreatedAt, RecordName: RecordName(&o)}
	v.FailedLogins, v.LockedUntil = r.gate.state(o.Name, r.now())
	return v
}

// AddRequest adds an operator.
type AddRequest struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	Password string `json:"password"`
	Lang     string `json:"lang,omitempty"` // default en
	// As is the name the operator's acts carry to the other party; ""
	// for the title of the role (see RecordName).
	As string `json:"as,omitempty"`
}

// roleTitles are what an operator's acts carry to the other party when
// the operator chose no name for the record.
var roleTitles = map[string]string{store.RoleDuty: "duty officer", store.RoleSupervisor: "supervisor",
	store.RoleAdmin: "administrator", store.RoleAuditor: "auditor"}

// RecordName is the name o's acts carry to the other party (who
// acknowledged a message, who suspended a channel): the one chosen for
// the record, or the title of o's role. Never the login name, which is
// this station's own business and half of what a guesser needs.
func RecordName(o *store.Operator) string {
	if o.RecordName != "" {
		return o.RecordName
	}
	if t, ok := roleTitles[o.Role]; ok {
		return t
	}
	return "operator"
}

// CheckRecordName checks the name an operator chose for the record: 1 to
// 64 bytes of text that shows as it reads, and not the login name.
func CheckRecordName(login, as string) error {
	if as == "" {
		return nil
	}
	if len(as) > 64 || !utf8.ValidString(as) || strings.TrimSpace(as) != as {
		return bad("the name for the record must be 1 to 64 bytes of UTF-8 without leading or trailing spaces")
	}
	for _, r := range as {
		if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) {
			return bad("the name for the record holds the invisible character U+%04X", r)
		}
	}
	if as == login {
		return bad("the name for the record must not be the login name %q: the other party would learn it", login)
	}
	return nil
}

// Registry manages operators in a store and writes the audit trail.
type Registry struct {
	Store store.Console
	Now   func() time.Time // time.Now when nil; the backoff and the audit trail's times follow it

	login    sync.Mutex // one password check at a time: bounds argon2's memory
	gate     gate       // the backoff of names and addresses
	refusals refusals   // refusals aggregated for the audit trail
	checks   atomic.Int64
	checkNs  atomic.Int64 // how long a login that checked a password took, a running average
}

func (r *Registry) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

// Record appends to the audit trail. A trail that cannot be written is the
// station's failure and is returned; callers refuse the action then.
func (r *Registry) Record(ctx context.Context, who Actor, action, target, outcome, detail string) error {
	_, err := r.Store.AppendAudit(ctx, store.AuditRecord{At: r.now(), Operator: who.Name, Action: action, Target: target, Outcome: outcome, Detail: detail, Addr: who.Addr})
	return err
}

// Outcome names how an action ended for the audit trail.
func Outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, badrequest.Err), errors.Is(err, ErrBadLogin):
		return "refused"
	default:
		return "failed"
	}
}

// Add adds an operator. Nothing is stored when any field is wrong.
func (r *Registry) Add(ctx context.Context, who Actor, req AddRequest) (*View, error) {
	v, err := r.add(ctx, req)
	detail := "role " + req.Role
	if err != nil {
		detail = errDetail(err)
	}
	if aerr := r.Record(ctx, who, "operator.add", clip(req.Name), Outcome(err), detail); aerr != nil && err == nil {
		return nil, aerr
	}
	return v, err
}

func (r *Registry) add(ctx context.Context, req AddRequest) (*View, error) {
	if req.Lang == "" {
		req.Lang = "en"
	}
	if err := CheckName(req.Name); err != nil {
		return nil, err
	}
	if err := CheckRole(req.Role); err != nil {
		return nil, err
	}
	if err := CheckLang(req.Lang); err != nil {
		return nil, err
	}
	if err := CheckPassword(req.Password); err != nil {
		return nil, err
	}
	if err := CheckRecordName(req.Name, req.As); err != nil {
		return nil, err
	}
	h, err := Hash(req.Password)
	if err != nil {
		return nil, err
	}
	o := store.Operator{Name: req.Name, Role: req.Role, PasswordHash: h, Lang: req.Lang, CreatedAt: r.now(), RecordName: req.As}
	if err := r.Store.AddOperator(ctx, o); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, bad("operator %q already exists", req.Name)
		}
		return nil, err
	}
	v := r.view(o)
	return &v, nil
}

// List lists operators by name.
func (r *Registry) List(ctx context.Context) ([]View, error) {
	os, err := r.Store.Operators(ctx)
	if err != nil {
		return nil, err
	}
	out := []View{}
	for _, o := range os {
		out = append(out, r.view(o))
	}
	return out, nil
}

// Remove removes an operator and ends their sessions.
func (r *Registry) Remove(ctx context.Context, who Actor, name string) error {
	err := r.Store.RemoveOperator(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		err = bad("no operator %q", name)
	}
	if aerr := r.Record(ctx, who, "operator.remove", clip(name), Outcome(err), errDetail(err)); aerr != nil && err == nil {
		return aerr
	}
	return err
}

// Unlock forgets the failed logins of an operator's name: the next
// attempt does not wait for them. It also clears the lockout an earlier
// version of the station may have stored.
func (r *Registry) Unlock(ctx context.Context, who Actor, name string) error {
	err := r.update(ctx, name, func(o *store.Operator) error {
		o.FailedLogins, o.LockedUntil = 0, time.Time{}
		return nil
	})
	if err == nil {
		r.gate.clear(name)
	}
	if aerr := r.Record(ctx, who, "operator.unlock", clip(name), Outcome(err), errDetail(err)); aerr != nil && err == nil {
		return aerr
	}
	return err
}

// SetLang sets the operator's interface language.
func (r *Registry) SetLang(ctx context.Context, who Actor, lang string) error {
	err := CheckLang(lang)
	if err == nil {
		err = r.update(ctx, who.Name, func(o *store.Operator) error { o.Lang = lang; return nil })
	}
	if aerr := r.Record(ctx, who, "lang", lang, Outcome(err), errDetail(err)); aerr != nil && err == nil {
		return aerr
	}
	return err
}

func (r *Registry) update(ctx context.Context, name string, f func(*store.Operator) error) error {
	r.login.Lock()
	defer r.login.Unlock()
	o, err := r.Store.Operator(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return bad("no operator %q", name)
	}
	if err != nil {
		return err
	}
	if err := f(o); err != nil {
		return err
	}
	return r.Store.UpdateOperator(ctx, *o)
}

// Login checks a name and password. Every failure is ErrBadLogin, the
// same error whatever failed. Before a password is hashed the attempt
// takes its slot in the backoff of the name and of addr (the remote
// address); an attempt that comes before the backoff lets it is refused
// without a check, after as long as a check takes. A successful login has
// its own audit record; failures are aggregated (Refuse).
func (r *Registry) Login(ctx context.Context, name, password, addr string) (*store.Operator, error) {
	start := time.Now()
	if until, ok := r.gate.take(name, addr, r.now()); !ok {
		r.pad(ctx, start)
		r.refuseLogin(ctx, name, addr, nil, fmt.Sprintf("too many failed logins for this name or from this address; the next try waits until %s UTC", until.UTC().Format(time.TimeOnly)))
		return nil, ErrBadLogin
	}
	o, why, err := r.checkLogin(ctx, name, password)
	r.observe(time.Since(start))
	if err != nil {
		return nil, err // the store failed, not the login: the charge stays
	}
	if why != "" {
		r.refuseLogin(ctx, name, addr, o, why)
		return nil, ErrBadLogin
	}
	r.gate.succeeded(name, addr)
	if err := r.Record(ctx, Actor{Name: name, Addr: addr}, "login", clip(name), "ok", ""); err != nil {
		return nil, err
	}
	return o, nil
}

func (r *Registry) refuseLogin(ctx context.Context, name, addr string, o *store.Operator, why string) {
	f := Refusal{Kind: RefuseLogin, Addr: addr, Target: name, Detail: why}
	if o != nil {
		f.Operator = o.Name
	}
	// A trail that cannot be written does not change the answer: the
	// login failed either way.
	r.Refuse(ctx, f)
}

// checkLogin hashes the password against the operator's hash, or against
// a dummy when there is no such operator. It returns why the login failed
// ("" when it did not) with the operator when there is one.
func (r *Registry) checkLogin(ctx context.Context, name, password string) (*store.Operator, string, error) {
	r.login.Lock()
	defer r.login.Unlock()
	r.checks.Add(1)
	d, _ := dummy()
	if len(name) > MaxName || len(password) > MaxPassword {
		Verify(d, "")
		return nil, "name or password too long", nil
	}
	o, err := r.Store.Operator(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		Verify(d, password)
		return nil, "no operator by this name", nil
	}
	if err != nil {
		return nil, "", err
	}
	if !Verify(o.PasswordHash, password) {
		return o, "wrong password", nil
	}
	return o, "", nil
}

// PasswordChecks is how many passwords Login has hashed (a dummy's too).
func (r *Registry) PasswordChecks() int64 { return r.checks.Load() }

// observe adds the duration of a login that checked a password to the
// running average that refused attempts wait for.
func (r *Registry) observe(d time.Duration) {
	for {
		old := r.checkNs.Load()
		avg := int64(d)
		if old != 0 {
			avg = old + (int64(d)-old)/8
		}
		if r.checkNs.CompareAndSwap(old, avg) {
			return
		}
	}
}

// maxPad bounds the wait of a refused attempt: checks queued behind many
// others take long, and a refused attempt need not wait as long as those.
const maxPad = time.Second

// pad makes an attempt refused without a check take as long as a check:
// the answer's timing then does not say whether a password was checked.
// It waits on a timer, using no processor and little memory.
func (r *Registry) pad(ctx context.Context, start time.Time) {
	d := time.Duration(r.checkNs.Load())
	if d == 0 {
		_, d = dummy()
	}
	d = min(d, maxPad) - time.Since(start)
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func errDetail(err error) string {
	if err == nil {
		return ""
	}
	return badrequest.Message(err)
}

// clip bounds what goes into the audit trail from untrusted input.
func clip(s string) string {
	if len(s) <= 200 {
		return s
	}
	cut := 200
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
