// Package store defines what a station keeps on its own disk and the one
// interface every storage engine implements. Nothing above this package
// knows which engine is in use; storetest holds the conformance suite that
// each engine must pass.
//
// A Batch is applied atomically and durably: when Apply returns nil, every
// record in it survives a crash or power loss. The protocol core issues a
// receipt only after the batch holding the entries has been applied.
package store

import (
	"context"
	"errors"
	"time"

	"hotline/internal/envelope"
)

// ErrNotFound is returned by lookups that find nothing.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a batch would overwrite an entry already
// stored at the same position with different bytes. Logs are append-only.
var ErrConflict = errors.New("conflicts with a stored entry")

// Channel states.
const (
	ProposedOut = "proposed" // this station proposed, waiting for the peer
	ProposedIn  = "incoming" // the peer proposed, waiting for an operator here
	Active      = "active"   // both signatures held
)

// Peer is a pinned station.
type Peer struct {
	Name        string
	Party       string
	Card        []byte // the signed card, as received
	Fingerprint string
	AddedAt     time.Time
}

// Channel is a channel with one peer and its charter.
type Channel struct {
	ID        string
	Peer      string
	Level     string
	State     string
	Proposer  string
	Charter   []byte // signed note: one signature when proposed, two when agreed
	CreatedAt time.Time
	UpdatedAt time.Time
	// Suspensions in force, one per party at most.
	Suspensions []Suspension
	// LastCheck is this station's latest operator check on the channel
	// (index in its own log and when it was written), zero if none.
	LastCheck   uint64
	LastCheckAt time.Time
}

// Suspension is a party's signed suspension of a channel: the entry that
// made it and its reason.
type Suspension struct {
	By     string    `json:"by"`    // the station that suspended
	Index  uint64    `json:"index"` // its suspend entry in that station's log
	Reason string    `json:"reason"`
	At     time.Time `json:"at"` // the suspending station's clock
}

// Entry is one envelope in a log, with what the station learned from it.
type Entry struct {
	Channel    string
	Author     string
	Index      uint64
	Kind       envelope.Kind
	Precedence envelope.Precedence
	SenderTime time.Time // the author's clock, from the header
	StoredAt   time.Time // this station's clock when it stored the entry
	Raw        []byte    // the exact envelope bytes
	Body       []byte    // the opened body (JSON); this station's own disk is trusted
	Root       []byte    // the log's root hash after this entry
}

// ID is the entry's name on both stations.
func (e *Entry) ID() string {
	h := envelope.Header{Channel: e.Channel, Author: e.Author, Index: e.Index}
	return h.ID()
}

// Log is the state of one author's log for one channel.
type Log struct {
	Channel string
	Author  string
	Size    uint64
	Hashes  [][]byte // compact range of the Merkle tree, see transcript.Tree
	// Checkpoint is the latest checkpoint signed by the author, if any.
	Checkpoint []byte
	// Receipt is the latest checkpoint cosigned by the receiver: every
	// entry up to ReceiptSize is delivered.
	Receipt     []byte
	ReceiptSize uint64
	// EpochFrom is, for a peer's log, the index of the entry that began
	// the body key epoch in force after the last entry: later entries
	// that begin no epoch open with its key, which the station derives
	// from that entry again when it starts. 0 for this station's own
	// logs, and until an entry that begins one. A record with 0 leaves
	// the stored value.
	EpochFrom uint64
}

// Receipt records a cosigned checkpoint for a log.
type Receipt struct {
	Channel string
	Author  string
	Size    uint64
	Note    []byte
}

// Ack records that the peer (or this station) acknowledged an entry.
type Ack struct {
	Channel   string
	Author    string // author of the acknowledged entry
	Index     uint64 // index of the acknowledged entry
	AckAuthor string
	AckIndex  uint64 // the acknowledgement's own entry
	By        string // the operator who acknowledged
	At        time.Time
}

// Alert is something a person must see: a tamper alarm, a refused peer.
type Alert struct {
	ID      int64
	At      time.Time
	Level   string // "alarm" or "warning"
	Channel string
	Peer    string
	Text    string // in English, as written
	// Format and Args are what Text was written from (fmt verbs, each
	// argument as text), so that a console can show the alert in its
	// operator's language; an alert written before they were kept has
	// none.
	Format string
	Args   []string
}

// AlertFindingFormat is the Format of a deconfliction finding's alert;
// its Args are the finding in English and in Chinese.
const AlertFindingFormat = "deconfliction finding"

// Escalation steps of an entry's deadline ladder.
const (
	StepUndelivered = 1 // the delivery deadline passed without a receipt (author's side)
	StepOverdue     = 2 // the acknowledgement deadline passed: the author reminded, the receiver alarmed
	StepSupervisor  = 3 // half a deadline later: the author's supervisor alerted
	StepForwarded   = 4 // a whole deadline later: forwarded to the channel above
)

// Escalation records one step of an entry's deadline ladder, taken by
// this station.
type Escalation struct {
	Channel string
	Author  string // author of the entry that is late
	Index   uint64
	Step    int
	At      time.Time
	Detail  string // what was done, e.g. the entry it was forwarded as
}

// ProbeStat counts a channel's machine-answered link tests in one hour.
type ProbeStat struct {
	Channel  string
	Hour     time.Time // start of the hour, UTC
	Sent     int64
	Answered int64
	RTT      time.Duration // sum over answered tests
}

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

// Key is one link of a station's key chain (this station's or a peer's):
// its card of sequence number Seq, from 0 (the card first pinned, or made
// at init) up, and how it came to replace key Seq-1. See docs/PROTOCOL.md,
// "Key rotation".
type Key struct {
	Station     string
	Seq         int
	Card        []byte // the signed card
	Fingerprint string
	// Reason is "initial" for Seq 0, "rotate" or "revoke" for a signed
	// rotation statement (revoke: key Seq-1 is revoked), "replace" for a
	// peer re-pinned by fingerprint after it lost its key (key Seq-1 is
	// revoked).
	Reason    string
	Statement []byte // the rotation statement; empty for initial and replace
	At        time.Time
	Detail    string // who did it, for a replacement and this station's own rotations
}

// LogKey says that the entries of a log from index From on are signed by
// its author's key Seq; a log with no LogKey is signed by key 0.
type LogKey struct {
	Channel string
	Author  string
	From    uint64
	Seq     int
}

// Batch is a set of records applied atomically and durably.
type Batch struct {
	Keys        []Key
	LogKeys     []LogKey
	Peers       []Peer
	Channels    []Channel
	Entries     []Entry
	Logs        []Log // upsert size and hashes; a nil Checkpoint keeps the stored one
	Receipts    []Receipt
	Acks        []Ack
	Alerts      []Alert
	Escalations []Escalation
	Probes      []ProbeStat // added to what is stored for the channel and hour
}

// Empty reports whether b holds nothing.
func (b *Batch) Empty() bool {
	return len(b.Keys)+len(b.LogKeys)+len(b.Peers)+len(b.Channels)+len(b.Entries)+len(b.Logs)+len(b.Receipts)+len(b.Acks)+len(b.Alerts)+
		len(b.Escalations)+len(b.Probes) == 0
}

// Merge appends o's records to b.
func (b *Batch) Merge(o *Batch) {
	b.Keys = append(b.Keys, o.Keys...)
	b.LogKeys = append(b.LogKeys, o.LogKeys...)
	b.Peers = append(b.Peers, o.Peers...)
	b.Channels = append(b.Channels, o.Channels...)
	b.Entries = append(b.Entries, o.Entries...)
	b.Logs = append(b.Logs, o.Logs...)
	b.Receipts = append(b.Receipts, o.Receipts...)
	b.Acks = append(b.Acks, o.Acks...)
	b.Alerts = append(b.Alerts, o.Alerts...)
	b.Escalations = append(b.Escalations, o.Escalations...)
	b.Probes = append(b.Probes, o.Probes...)
}

// Snapshot is what a station needs to resume: every peer, channel and log,
// and the entries of its own logs that the peer has not yet receipted.
type Snapshot struct {
	Peers       []Peer
	Channels    []Channel
	Logs        []Log
	Undelivered []Entry // entries by Self past their log's ReceiptSize, in log order
	// Outstanding are the entries of either author that wait for a
	// person's acknowledgement (kinds that need one, no ack stored) and
	// whose deadline ladder is not finished, in stored order; Escalations
	// are the steps already taken for them.
	Outstanding []Entry
	Escalations []Escalation
	// Keys are every station's key chain, by station and Seq; LogKeys
	// where each log's key changes, by channel, author and From.
	Keys    []Key
	LogKeys []LogKey
	// EpochEntries are, for each log with an EpochFrom, that entry.
	EpochEntries []Entry
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
	Entry
	Delivered bool // the receiver's cosignature covers it
	Ack       *Ack // nil until acknowledged
}

// Store is a station's durable state. Implementations are safe for use by
// several goroutines.
type Store interface {
	// Apply writes the batch atomically and durably.
	Apply(ctx context.Context, b *Batch) error
	// Load returns what the station needs to resume; self is this station's name.
	Load(ctx context.Context, self string) (*Snapshot, error)
	// Entries returns entries from..to (inclusive) of one log, in order.
	Entries(ctx context.Context, channel, author string, from, to uint64) ([]Entry, error)
	// Messages returns entries matching q, oldest first, with their state.
	Messages(ctx context.Context, q Query) ([]Message, error)
	// Log returns the state of one log.
	Log(ctx context.Context, channel, author string) (*Log, error)
	// Keys returns the key chains (station "" for all), by station and Seq.
	Keys(ctx context.Context, station string) ([]Key, error)
	// Peers and Channels list what is pinned and agreed.
	Peers(ctx context.Context) ([]Peer, error)
	Channels(ctx context.Context) ([]Channel, error)
	// Alerts returns alerts with an ID greater than after, oldest first.
	Alerts(ctx context.Context, after int64) ([]Alert, error)
	// Escalations returns the ladder steps taken on a channel ("" for
	// all), oldest first.
	Escalations(ctx context.Context, channel string) ([]Escalation, error)
	// CheckStats summarizes a channel's checks since a time; self is this
	// station's name (whose operator checks are counted).
	CheckStats(ctx context.Context, channel, self string, since time.Time) (*CheckStats, error)
	Console
	Deconfliction
	Close() error
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
