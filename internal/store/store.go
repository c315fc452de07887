// Package store defines what a station keeps on its own disk and the one
// interface every storage engine implements. Nothing above this package
// knows which engine is in use; storetest holds the conformance suite that
// each engine must pass.
//
// It persists the core's records (internal/record). A record.Batch is
// applied atomically and durably: when Apply returns nil, every
// record in it survives a crash or power loss. The protocol core issues a
// receipt only after the batch holding the entries has been applied.
package store

import (
	"context"
	"errors"
	"time"

	"hotline/internal/envelope"
	"hotline/internal/record"
)

// ErrNotFound is returned by lookups that find nothing.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a batch would overwrite an entry already
// stored at the same position with different bytes. Logs are append-only.
var ErrConflict = errors.New("conflicts with a stored entry")

// CheckStats summarizes a channel's communication checks since a time.
type CheckStats struct {
	// Operator checks this station issued, how many a person answered,
	// and the total time they took.
	Checks, Answered int64
	AnswerTime       time.Duration
	// Link tests sent, answered and their total round-trip time.
	Probes, ProbesAnswered int64
	ProbeRTT               time.Duration
}

// Query selects messages.
type Query struct {
	Channel string // "" for every channel
	Author  string // "" for every author
	// ExcludeAuthor leaves out one author's entries (this station's, for an inbox).
	ExcludeAuthor string
	Kind          envelope.Kind
	Kinds         []envelope.Kind // any of these kinds (with Kind: that one too)
	Since         uint64          // only entries with Index > Since (with Channel and Author set)
	Limit         int             // 0 for no limit
}

// Message is an entry with its delivery and acknowledgement state.
type Message struct {
	record.Entry
	Delivered bool // the receiver's cosignature covers it
	// ReceiptAt is when the receiver first held it, by the time of the
	// earliest receipt that covers it (zero if none carries a time).
	ReceiptAt time.Time
	Ack       *record.Ack // nil until acknowledged
}

// Store is a station's durable state. Implementations are safe for use by
// several goroutines.
type Store interface {
	// Apply writes the batch atomically and durably.
	Apply(ctx context.Context, b *record.Batch) error
	// Load returns what the station needs to resume; self is this station's name.
	Load(ctx context.Context, self string) (*record.Snapshot, error)
	// Entries returns entries from..to (inclusive) of one log, in order.
	Entries(ctx context.Context, channel, author string, from, to uint64) ([]record.Entry, error)
	// Messages returns entries matching q, oldest first, with their state.
	Messages(ctx context.Context, q Query) ([]Message, error)
	// Log returns the state of one log.
	Log(ctx context.Context, channel, author string) (*record.Log, error)
	// Keys returns the key chains (station "" for all), by station and Seq.
	Keys(ctx context.Context, station string) ([]record.Key, error)
	// EpochKeys returns the keys of a log's body key epochs, in order.
	EpochKeys(ctx context.Context, channel, author string) ([]record.EpochKey, error)
	// Peers and Channels list what is pinned and agreed.
	Peers(ctx context.Context) ([]record.Peer, error)
	Channels(ctx context.Context) ([]record.Channel, error)
	// Alerts returns alerts with an ID greater than after, oldest first.
	Alerts(ctx context.Context, after int64) ([]record.Alert, error)
	// Escalations returns the ladder steps taken on a channel ("" for
	// all), oldest first.
	Escalations(ctx context.Context, channel string) ([]record.Escalation, error)
	// CheckStats summarizes a channel's checks since a time; self is this
	// station's name (whose operator checks are counted).
	CheckStats(ctx context.Context, channel, self string, since time.Time) (*CheckStats, error)
	Console
	Deconfliction
	Multilateral
	Close() error
}

// Multilateral is what a station keeps of its acts addressed to several
// parties at once: the groups of peers it names, and each broadcast with
// the entry it wrote for each party or why it wrote none. The entries are
// the record; these rows only find them again. They never leave the
// station.
type Multilateral interface {
	// SetGroup stores a group of peers, replacing one of that name.
	SetGroup(ctx context.Context, g Group) error
	// RemoveGroup removes a group; ErrNotFound if there is none.
	RemoveGroup(ctx context.Context, name string) error
	// Groups lists the groups by name.
	Groups(ctx context.Context) ([]Group, error)
	// AddBroadcast stores a broadcast with its parties; ErrConflict if
	// its ID is taken.
	AddBroadcast(ctx context.Context, b Broadcast) error
	// SetBroadcastParty records the entry written for a party of a
	// broadcast, or why none was (the party's Channel, Entry and Refused
	// replace what was stored); ErrNotFound if the broadcast does not
	// list the party.
	SetBroadcastParty(ctx context.Context, id string, p BroadcastParty) error
	// Broadcast returns one broadcast with its parties in the order
	// added; ErrNotFound if there is none.
	Broadcast(ctx context.Context, id string) (*Broadcast, error)
	// Broadcasts lists broadcasts, newest first, at most limit (0: all),
	// each with its parties.
	Broadcasts(ctx context.Context, limit int) ([]Broadcast, error)
	// AddIntroduction keeps the introduction a peer was pinned on,
	// replacing one kept for that peer.
	AddIntroduction(ctx context.Context, in Introduction) error
	// Introductions lists the introductions kept, by peer.
	Introductions(ctx context.Context) ([]Introduction, error)
}

// Introduction is the evidence a peer was pinned on: another peer's
// signed introduction (identity.Introduction), and the person here who
// took its word.
type Introduction struct {
	Peer        string
	Introducer  string
	Statement   []byte // the signed introduction
	ConfirmedBy string
	At          time.Time // when it was taken here
}

// Group is a named set of peers that operators can address at once.
type Group struct {
	Name      string
	Peers     []string // sorted
	UpdatedAt time.Time
}

// Broadcast is one act sent to several parties: an entry of the same
// kind and body on each party's channel, each body carrying ID.
type Broadcast struct {
	ID         string
	Kind       string // "text" or "notice"
	Precedence string
	At         time.Time
	To         string // as it was addressed: "all", group and peer names
	Summary    string // the text, or the notice's title or kind
	Parties    []BroadcastParty
}

// BroadcastParty is one party of a broadcast: the channel and entry it
// was sent as, or why it was not sent.
type BroadcastParty struct {
	Peer    string
	Channel string // "" if no channel was chosen
	Entry   string // the entry's ID once written
	Refused string // why nothing was written for the party
}

// Deconfliction is what a station keeps of its own planning: the
// activities it plans (kept to itself until it notifies them) and the
// findings of its checks against the peers' notices (docs/DECONFLICTION.md).
// These records never leave the station and are not part of any
// transcript.
type Deconfliction interface {
	// AddPlan stores a planned activity and returns its ID (increasing;
	// the plan's own ID is ignored).
	AddPlan(ctx context.Context, p Plan) (int64, error)
	// Plans lists planned activities by ID.
	Plans(ctx context.Context) ([]Plan, error)
	// SetPlanNotice records the notice entry a plan was notified as;
	// ErrNotFound if there is no such plan, ErrConflict if it was
	// notified already.
	SetPlanNotice(ctx context.Context, id int64, entry string) error
	// AddFinding stores a finding unless one with the same Key is stored.
	// It returns the stored finding's ID and whether this call added it.
	AddFinding(ctx context.Context, f Finding) (id int64, added bool, err error)
	// Findings lists findings by ID.
	Findings(ctx context.Context) ([]Finding, error)
	// AddCodebook stores a codebook extension file under the reference of
	// the codebook it makes, unless one is stored under that reference;
	// it reports whether this call added it.
	AddCodebook(ctx context.Context, c CodebookFile) (added bool, err error)
	// Codebooks lists the stored extension files in the order added.
	Codebooks(ctx context.Context) ([]CodebookFile, error)
}

// CodebookFile is a codebook extension a station loaded: the file, and
// the reference (version and hash) of the codebook it makes.
type CodebookFile struct {
	Ref     string
	File    []byte
	AddedAt time.Time
}

// Plan is an activity this station plans: a notice body it has not sent
// (or has sent as Notice).
type Plan struct {
	ID      int64
	AddedAt time.Time
	Body    []byte // a notice body (JSON)
	Notice  string // the notice entry it was notified as, "" if none
}

// Finding is what a check found: two activities that come too close, or
// two tracks predicted to pass too close.
type Finding struct {
	ID      int64
	Key     string // names the pair checked, so that a finding is stored once
	Rule    string // "overlap" or "approach"
	FoundAt time.Time
	Channel string // where to raise it with the peer
	Peer    string
	Body    []byte // the station's own encoding of the details (JSON)
}

// Console is what the duty officer's console keeps: the operators who may
// use it, their sessions and the audit trail of what they did. These
// records are the station's own business; they never leave it and are not
// part of any transcript.
type Console interface {
	// AddOperator adds an operator; ErrConflict if the name is taken.
	AddOperator(ctx context.Context, o Operator) error
	// UpdateOperator replaces an operator's role, password hash, language
	// and login state (not the name or creation time); ErrNotFound if
	// there is none.
	UpdateOperator(ctx context.Context, o Operator) error
	// Operator returns one operator; ErrNotFound if there is none.
	Operator(ctx context.Context, name string) (*Operator, error)
	// Operators lists operators by name.
	Operators(ctx context.Context) ([]Operator, error)
	// RemoveOperator removes an operator and every session of theirs;
	// ErrNotFound if there is none. The audit trail keeps their records.
	RemoveOperator(ctx context.Context, name string) error

	// AddSession stores a session; ErrConflict if the ID is taken,
	// ErrNotFound if the operator is not.
	AddSession(ctx context.Context, s Session) error
	// Session returns one session, expired or not; ErrNotFound if none.
	Session(ctx context.Context, id string) (*Session, error)
	// RemoveSession removes a session; removing a missing one is not an error.
	RemoveSession(ctx context.Context, id string) error
	// RemoveExpiredSessions removes sessions that expired at or before now
	// and says how many it removed.
	RemoveExpiredSessions(ctx context.Context, now time.Time) (int, error)

	// AppendAudit appends a record to the audit trail and returns its ID
	// (increasing; the record's own ID is ignored).
	AppendAudit(ctx context.Context, r AuditRecord) (int64, error)
	// Audit returns records matching q, newest first.
	Audit(ctx context.Context, q AuditQuery) ([]AuditRecord, error)

	// AddConsoleAlert stores an alert the console raised itself (Alert
	// zero), or an operator's acknowledgement of a station alert (Alert
	// set; Kind, Channel, Text and RaisedAt are then the station alert's,
	// whatever a holds; ErrNotFound if there is no such station alert).
	// It returns the record as stored: for a station alert acknowledged
	// before, the first acknowledgement, unchanged.
	AddConsoleAlert(ctx context.Context, a ConsoleAlert) (*ConsoleAlert, error)
	// AckConsoleAlert records who acknowledged one of the console's own
	// alerts and when; the first acknowledgement stands. ErrNotFound if
	// there is no such alert.
	AckConsoleAlert(ctx context.Context, id int64, by string, at time.Time) (*ConsoleAlert, error)
	// ClearConsoleAlerts records that the condition of the console's own
	// alerts of a kind on a channel ended at a time (those not cleared
	// yet), and says how many it cleared.
	ClearConsoleAlerts(ctx context.Context, kind, channel string, at time.Time) (int, error)
	// ConsoleAlerts returns records matching q, newest first.
	ConsoleAlerts(ctx context.Context, q ConsoleAlertQuery) ([]ConsoleAlert, error)
}

// Kinds of console alerts.
const (
	ConsoleAlertStation = "station" // an acknowledgement of a station alert
	ConsoleAlertDown    = "down"    // a channel with no path up for longer than the console allows
)

// ConsoleAlert is an alert as the duty officer's console keeps it: one it
// raised itself, or a station alert (Alert set) that an operator
// acknowledged on the console. The station's own alerts are never
// changed; only here is it recorded that a person acknowledged one.
type ConsoleAlert struct {
	ID        int64
	Alert     int64  // the station alert (Alert.ID) acknowledged; 0 for the console's own
	Kind      string // ConsoleAlertStation or ConsoleAlertDown
	Channel   string
	Text      string
	RaisedAt  time.Time // when the condition began (a station alert's own time)
	ClearedAt time.Time // when it ended; zero while it lasts (the console's own alerts)
	AckBy     string    // the operator who acknowledged it; "" until one does
	AckAt     time.Time
}

// ConsoleAlertQuery selects console alerts.
type ConsoleAlertQuery struct {
	Kind string // "" for every kind
	// Open keeps only alerts not acknowledged, or whose condition has not
	// ended.
	Open bool
	// AlertAfter keeps only acknowledgements of station alerts with an ID
	// greater than it (0: no bound).
	AlertAfter int64
	Limit      int // the newest Limit; 0 for no limit
}

// Operator roles. What each may do is the console's to decide (see
// docs/CONSOLE.md); the store only keeps the name.
const (
	RoleDuty       = "duty"
	RoleSupervisor = "supervisor"
	RoleAdmin      = "admin"
	RoleAuditor    = "auditor"
)

// Operator is a person who may use the console.
type Operator struct {
	Name         string
	Role         string
	PasswordHash string // argon2id, in the PHC string format
	Lang         string // interface language: "en" or "zh"
	CreatedAt    time.Time
	FailedLogins int       // consecutive failed logins
	LockedUntil  time.Time // zero when not locked
	// RecordName is the name the operator's acts carry to the other
	// party (who acknowledged, who suspended); "" for the title of the
	// role. Never the login: that is this station's own business.
	RecordName string
}

// Session is a console login. ID is a hash of the secret the browser holds
// in its cookie; the secret itself is never stored.
type Session struct {
	ID        string
	Operator  string
	CreatedAt time.Time
	ExpiresAt time.Time
	Addr      string // where the login came from
}

// AuditRecord is one operator action: who, what, on what, when, from
// where, and how it ended.
type AuditRecord struct {
	ID       int64
	At       time.Time
	Operator string // "" when no operator could be named (a failed login for an unknown name is recorded with the name tried)
	Action   string // e.g. "login", "send", "ack", "operator.add"
	Target   string // channel, message id or operator name
	Outcome  string // "ok", "refused" (not allowed or bad input) or "failed"
	Detail   string
	Addr     string // remote address, or "local" for the command line
}

// AuditQuery selects audit records.
type AuditQuery struct {
	Operator string // "" for everyone
	Before   int64  // only records with ID < Before; 0 for no bound
	Limit    int    // 0 for no limit
}

// ErrFenced is returned by a write, or a lease renewal, of a process that
// no longer holds the station's lease: another process took it over (or
// holds it now), and this one must stop at once without writing again.
var ErrFenced = errors.New("fenced: the station's lease is held by another process")

// ErrLeaseHeld is returned by Leaser.Acquire while another process holds
// a lease that has not expired.
var ErrLeaseHeld = errors.New("the station's lease is held by another process")

// Lease is the right to be the one active process of a station whose
// store several processes (on several machines) share.
type Lease struct {
	Holder string // the process that holds it, e.g. "host/pid/random"
	// Token increases with every new holder; every write checks, in its
	// own transaction, that the stored token is still the writer's
	// (fencing).
	Token   uint64
	Expires time.Time // by the database's clock; informational
}

// KeyVault is a store that keeps the station's key files for its other
// machines, sealed by the station under a key-encryption key the store
// never sees (PostgreSQL, whose database the machines share; see
// internal/station/keyvault.go).
type KeyVault interface {
	// PutSealedKeys replaces what is kept; a write like any other, so it
	// fails with ErrFenced once another process holds the lease.
	PutSealedKeys(ctx context.Context, sealed []byte) error
	// SealedKeys returns what is kept, nil if nothing.
	SealedKeys(ctx context.Context) ([]byte, error)
}

// Leaser is a store that several processes may share, of which one at a
// time is active (PostgreSQL). A store that a single process owns
// (SQLite, under the station directory's lock) does not implement it.
//
// Once a process has acquired the lease through its Store, every Apply
// of that Store checks, inside its transaction, that the lease's token is
// still the one acquired, and fails with ErrFenced (writing nothing) if it
// is not. A Store that never acquired refuses to write while another
// process holds a live lease.
type Leaser interface {
	// Acquire takes the lease for holder if it is free or expired (or
	// already holder's), with a new token, for ttl. It returns
	// ErrLeaseHeld, with the current holder, while another process
	// holds it.
	Acquire(ctx context.Context, holder string, ttl time.Duration) (Lease, error)
	// Renew extends the lease acquired last for ttl; ErrFenced if another
	// process has taken it since.
	Renew(ctx context.Context, ttl time.Duration) (Lease, error)
	// Release lets the lease expire now, if it is still this store's, so
	// that a standby takes over at once.
	Release(ctx context.Context) error
	// Lease reads the stored lease.
	Lease(ctx context.Context) (Lease, error)
}
