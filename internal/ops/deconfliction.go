package ops

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"hotline/internal/codebook"
	"hotline/internal/deconflict"
)

// Deconfliction is what operators do with standard phrases, notices of
// activities, encounter reports and incidents.
type Deconfliction interface {
	SendCoded(ctx context.Context, r CodedRequest) (*MessageView, error)
	SendNotice(ctx context.Context, r NoticeRequest) (*MessageView, error)
	SendReport(ctx context.Context, r ReportRequest) (*MessageView, error)
	Incident(ctx context.Context, r IncidentRequest) (*IncidentView, error)
	Incidents(ctx context.Context, channel string) ([]IncidentView, error)
	AddPlan(ctx context.Context, r PlanRequest) (*PlanView, error)
	Plans(ctx context.Context) ([]PlanView, error)
	Findings(ctx context.Context) ([]FindingView, error)
	AddCodebook(ctx context.Context, file []byte) (*CodebookView, error)
	Codebooks(ctx context.Context) ([]CodebookView, error)
	Codebook(ctx context.Context, name string) (*CodebookPhrases, error)
}

// CodedItem is one item of a coded message: a code with its parameter
// values, or free text with its language. Values are given as JSON
// (Params) or as a person types them (Args: "90", "16.5,112.25",
// "2026-05-01T14:30Z"), each parameter once.
type CodedItem struct {
	Code   string                     `json:"code,omitempty"`
	Params map[string]json.RawMessage `json:"params,omitempty"`
	Args   map[string]string          `json:"args,omitempty"`
	Free   string                     `json:"free,omitempty"`
	Lang   string                     `json:"lang,omitempty"`
}

// CodedRequest sends a coded message: Items, or the message a finding
// suggests (Finding; Channel then defaults to the finding's).
type CodedRequest struct {
	Channel    string      `json:"channel"`
	Precedence string      `json:"precedence"`
	Items      []CodedItem `json:"items,omitempty"`
	Finding    int64       `json:"finding,omitempty"`
}

// CodedView is a coded message with its items rendered in each language
// of the channel's codebook.
type CodedView struct {
	Codebook string                `json:"codebook"`
	Items    []codebook.Item       `json:"items"`
	Lines    map[string][]LineView `json:"lines"` // language → one line per item
}

// LineView is one rendered item.
type LineView struct {
	Code string `json:"code,omitempty"` // "" for free text
	Text string `json:"text"`
	Lang string `json:"lang"`           // the language Text is in
	Free bool   `json:"free,omitempty"` // the sender's own words, not rendered from the codebook
}

// NoticeRequest sends a notice of an activity.
type NoticeRequest struct {
	Channel    string `json:"channel"`
	Precedence string `json:"precedence,omitempty"` // default PRIORITY
	// Notice is the body (docs/DECONFLICTION.md, "Notices of activities"),
	// decoded strictly; or Plan names a planned activity to notify as it
	// stands (it is then checked as this notice, not again as a plan).
	Notice json.RawMessage `json:"notice,omitempty"`
	Plan   int64           `json:"plan,omitempty"`
}

// ReportRequest sends an encounter report.
type ReportRequest struct {
	Channel    string `json:"channel"`
	Precedence string `json:"precedence,omitempty"` // default IMMEDIATE
	// Report is the body (docs/DECONFLICTION.md, "Encounter reports"),
	// decoded strictly; the messages said on scene may instead be given
	// in Said, with values as for a coded message.
	Report json.RawMessage `json:"report"`
	Said   []SaidRequest   `json:"said,omitempty"`
}

// SaidRequest is a coded message said on scene.
type SaidRequest struct {
	Time  time.Time   `json:"time"`
	By    string      `json:"by"` // "own" or "other"
	Items []CodedItem `json:"items"`
}

// IncidentRequest writes an incident entry: opens an incident on a
// channel, or acts on one. The station fills in prev (the latest applied
// step it holds) and refuses a step the lifecycle does not allow now.
type IncidentRequest struct {
	Action     string   `json:"action"`             // open, acknowledge, discuss, link, close
	Channel    string   `json:"channel,omitempty"`  // open: the channel
	Incident   string   `json:"incident,omitempty"` // other actions: the opening entry's id
	Title      string   `json:"title,omitempty"`    // open
	Note       string   `json:"note,omitempty"`
	Lang       string   `json:"lang,omitempty"`    // of the title and note
	Links      []string `json:"links,omitempty"`   // ids of entries it is about
	Outcome    string   `json:"outcome,omitempty"` // close
	Precedence string   `json:"precedence,omitempty"`
	// By names the person acting. When set, the peer's entries of the
	// incident that nobody here has acknowledged are acknowledged in
	// their name: acting on an incident answers what it says.
	By string `json:"by,omitempty"`
	// Finding opens the incident about a finding: it links the entries
	// the finding is about, and titles it if Title is empty (in Lang).
	Finding int64 `json:"finding,omitempty"`
}

// IncidentView is an incident as both parties derive it from its entries
// (deconflict.Fold).
type IncidentView struct {
	ID        string             `json:"id"` // the opening entry
	Channel   string             `json:"channel"`
	Opener    string             `json:"opener"`
	Title     string             `json:"title"`
	Lang      string             `json:"lang,omitempty"`
	State     string             `json:"state"`
	Outcome   string             `json:"outcome,omitempty"`    // proposed (closing) or agreed (closed)
	ClosingBy string             `json:"closing_by,omitempty"` // who proposed the outcome
	Timeline  []IncidentStepView `json:"timeline"`             // applied steps in order, then the others
	Links     []string           `json:"links"`                // every entry the applied steps carry or link
	Linked    []MessageView      `json:"linked"`               // those of them held here, as messages
}

// IncidentStepView is one incident entry in the timeline.
type IncidentStepView struct {
	Entry    string            `json:"entry"`
	By       string            `json:"by"`
	At       time.Time         `json:"at"` // the author's clock
	Action   string            `json:"action"`
	Applied  bool              `json:"applied"`
	From     string            `json:"from,omitempty"`
	To       string            `json:"to,omitempty"`
	Why      string            `json:"why,omitempty"` // why it was not applied
	Outcome  string            `json:"outcome,omitempty"`
	Rendered map[string]string `json:"rendered"`
}

// PlanRequest adds a planned activity: one this station keeps to itself
// (until it notifies it, hotline notice send --plan) and checks like a
// notice against the peers' notices.
type PlanRequest struct {
	// Plan is a notice body (docs/DECONFLICTION.md, "Notices of
	// activities"), decoded strictly; its call names the channel it
	// would be notified on.
	Plan json.RawMessage `json:"plan"`
}

// PlanView is a planned activity.
type PlanView struct {
	ID       int64              `json:"id"`
	AddedAt  time.Time          `json:"added_at"`
	Plan     *deconflict.Notice `json:"plan"`
	Notice   string             `json:"notice,omitempty"` // the notice entry it was notified as
	Rendered map[string]string  `json:"rendered"`
	// Findings are those the checks made when the plan was added.
	Findings []FindingView `json:"findings,omitempty"`
}

// AlertFindingFormat is the Format of a deconfliction finding's alert;
// its Args are the finding in English and in Chinese.
const AlertFindingFormat = "deconfliction finding"

// FindingView is a finding: the danger, where, how close, when, and a
// coded message to send about it.
type FindingView struct {
	ID      int64     `json:"id"`
	Rule    string    `json:"rule"` // "overlap" or "approach"
	FoundAt time.Time `json:"found_at"`
	Channel string    `json:"channel"` // the channel to raise it on
	Peer    string    `json:"peer"`
	// Overlap: this station's activity (a plan, "plan N", or its own
	// notice) and the peer's notice it comes too close to.
	Planned          string             `json:"planned,omitempty"`
	Notified         string             `json:"notified,omitempty"`
	PlannedActivity  *deconflict.Notice `json:"planned_activity,omitempty"`
	NotifiedActivity *deconflict.Notice `json:"notified_activity,omitempty"`
	// Approach: the report, and the closest approach its tracks predict
	// from this station's unit's side.
	Report   string        `json:"report,omitempty"`
	Approach *ApproachView `json:"approach,omitempty"`
	// Where to show it, how far apart (0 when the areas overlap), and
	// when: both active (From-To), or the gap between them (Gap).
	Where      codebook.Position `json:"where"`
	DistanceNM float64           `json:"distance_nm"`
	From       time.Time         `json:"from"`
	To         time.Time         `json:"to"`
	Gap        string            `json:"gap,omitempty"`
	// Suggest is a coded message this station's operators may send on
	// Channel (hotline send --finding ID); never sent by itself.
	Suggest *CodedView `json:"suggest,omitempty"`
	// Text is the finding in each language.
	Text map[string]string `json:"text"`
}

// ApproachView is a predicted closest point of approach.
type ApproachView struct {
	Own        string            `json:"own"` // this station's unit
	Other      string            `json:"other"`
	At         time.Time         `json:"at"` // predicted from
	RangeNM    float64           `json:"range_nm"`
	Bearing    float64           `json:"bearing"`  // degrees true from own to other
	Relative   float64           `json:"relative"` // from own's heading to other
	Aspect     float64           `json:"aspect"`   // from other's heading to own
	Time       time.Time         `json:"time"`     // of the closest approach
	TCPA       string            `json:"tcpa"`
	DistanceNM float64           `json:"distance_nm"`
	OwnAt      codebook.Position `json:"own_at"`
	OtherAt    codebook.Position `json:"other_at"`
}

// CodebookView describes a codebook a station has.
type CodebookView struct {
	Ref      string    `json:"ref"` // version and hash, as a charter names it
	Version  string    `json:"version"`
	Hash     string    `json:"hash"`
	Phrases  int       `json:"phrases"`
	Embedded bool      `json:"embedded"`
	AddedAt  time.Time `json:"added_at,omitzero"`
}

// CodebookPhrases is a codebook with its phrases.
type CodebookPhrases struct {
	CodebookView
	Languages  []string            `json:"languages"`
	Categories []codebook.Category `json:"categories"`
	Phrases    []codebook.Phrase   `json:"phrases"`
}

// Text is the message on one line in lang, each item after its code; ""
// for no message.
func (c *CodedView) Text(lang string) string {
	if c == nil {
		return ""
	}
	var parts []string
	for _, l := range c.Lines[lang] {
		parts = append(parts, l.Code+" "+l.Text)
	}
	return strings.Join(parts, " ")
}
