package deconflict

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"hotline/internal/strictjson"
)

// Action is what an incident entry does.
type Action string

// Actions.
const (
	Open        Action = "open"        // starts an incident, about the linked entries
	Acknowledge Action = "acknowledge" // the other party accepts that the incident exists
	Discuss     Action = "discuss"     // adds to the discussion; rejects a proposed outcome
	Link        Action = "link"        // attaches more entries, changing nothing else
	Close       Action = "close"       // proposes an outcome, or agrees to the one proposed
)

// Actions lists every action.
var Actions = []Action{Open, Acknowledge, Discuss, Link, Close}

// Outcome is how an incident ended.
type Outcome string

// Outcomes.
const (
	Resolved   Outcome = "resolved"   // both parties consider the matter settled
	Unresolved Outcome = "unresolved" // both agree to close it without agreement
	Referred   Outcome = "referred"   // passed to a higher channel
	Withdrawn  Outcome = "withdrawn"  // the opener withdrew it before it was acknowledged
)

// Outcomes lists every outcome.
var Outcomes = []Outcome{Resolved, Unresolved, Referred, Withdrawn}

// State is where an incident is in its lifecycle.
type State string

// States.
const (
	StateOpen         State = "open"
	StateAcknowledged State = "acknowledged"
	StateDiscussion   State = "under_discussion"
	StateClosing      State = "closing" // one party proposed an outcome; the other has not agreed
	StateClosed       State = "closed"
)

// IncidentBody is the body of an incident entry.
//
// Every entry but the opening one names the incident (the entry that
// opened it) and Prev, the latest entry of the incident its author had
// seen. The two parties write to separate logs with no shared order;
// Prev makes the order causal, so both fold the same entries to the same
// incident (see Fold).
type IncidentBody struct {
	Action   Action     `json:"action"`
	Incident *EntryRef  `json:"incident,omitempty"`
	Prev     *EntryRef  `json:"prev,omitempty"`
	Title    string     `json:"title,omitempty"` // open: required
	Note     string     `json:"note,omitempty"`
	Lang     string     `json:"lang,omitempty"` // of Title and Note, as written
	Links    []EntryRef `json:"links,omitempty"`
	Outcome  Outcome    `json:"outcome,omitempty"` // close: required
}

// DecodeIncident parses and checks an incident entry's body.
func DecodeIncident(p []byte) (*IncidentBody, error) {
	var b IncidentBody
	if err := strictjson.Decode(p, &b, MaxBody); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIncident, err)
	}
	if err := b.Check(); err != nil {
		return nil, err
	}
	if len(b.Links) == 0 {
		b.Links = nil // "links": [] and no links are the same
	}
	return &b, nil
}

// Encode returns the body's JSON.
func (b *IncidentBody) Encode() ([]byte, error) { return json.Marshal(b) }

// Check reports the first field of b that is not valid.
func (b *IncidentBody) Check() error {
	bad := func(field string, err error) error { return fieldError(ErrIncident, field, err) }
	if !slices.Contains(Actions, b.Action) {
		return bad("action", fmt.Errorf("%q is not one of %v", b.Action, Actions))
	}
	if b.Action == Open {
		if b.Incident != nil || b.Prev != nil {
			return bad("incident", fmt.Errorf("an opening entry names no incident or prev: it is the incident"))
		}
		if b.Title == "" {
			return bad("title", fmt.Errorf("an incident needs a title"))
		}
	} else {
		if b.Incident == nil || b.Prev == nil {
			return bad("incident", fmt.Errorf("a %s entry names the incident and prev, the latest entry of it seen", b.Action))
		}
		if err := b.Incident.check(); err != nil {
			return bad("incident", err)
		}
		if err := b.Prev.check(); err != nil {
			return bad("prev", err)
		}
		if b.Title != "" {
			return bad("title", fmt.Errorf("only the opening entry has a title"))
		}
	}
	if b.Title != "" {
		if err := checkFree(b.Title, MaxTitle, false); err != nil {
			return bad("title", err)
		}
	}
	if b.Note != "" {
		if err := checkFree(b.Note, MaxText, true); err != nil {
			return bad("note", err)
		}
	}
	if err := checkLang(b.Lang, b.Title, b.Note); err != nil {
		return bad("lang", err)
	}
	if len(b.Links) > MaxLinks {
		return bad("links", fmt.Errorf("%d links, limit %d", len(b.Links), MaxLinks))
	}
	for i, l := range b.Links {
		if err := l.check(); err != nil {
			return bad(fmt.Sprintf("links[%d]", i), err)
		}
	}
	if b.Action == Link && len(b.Links) == 0 {
		return bad("links", fmt.Errorf("a link entry links at least one entry"))
	}
	switch {
	case b.Action == Close && !slices.Contains(Outcomes, b.Outcome):
		return bad("outcome", fmt.Errorf("%q is not one of %v", b.Outcome, Outcomes))
	case b.Action != Close && b.Outcome != "":
		return bad("outcome", fmt.Errorf("only a close entry has an outcome"))
	}
	return nil
}

// Event is an incident entry as it appears in a transcript.
type Event struct {
	Entry EntryRef  // the entry; its author is who acted
	Time  time.Time // the author's clock: shown, never used for order
	Body  *IncidentBody
}

// Step is an event in an incident's timeline.
type Step struct {
	Event
	Applied  bool
	From, To State  // when applied
	Why      string // when not applied
}

// Incident is the state both parties derive from the incident's entries.
type Incident struct {
	ID        EntryRef // the opening entry
	Opener    string
	Title     string
	Lang      string
	State     State
	Outcome   Outcome // proposed (closing) or agreed (closed)
	ClosingBy string  // who proposed Outcome
	Timeline  []Step  // applied steps in order, then the others by author and index
}

// Fold derives an incident from its entries, given in any order: the
// opening entry and every entry naming it.
//
// Entries form a chain through Prev, starting at the opening entry. When
// several entries name the same Prev (the parties acted at once), the
// first allowed one wins: the opener's, then by author and index; the
// others are superseded and shown in the timeline, not applied, and their
// authors act again from the new state. An entry whose step the rules do
// not allow is likewise shown and not applied. So both parties, holding
// the same entries, derive the same incident whatever order the entries
// reached them in.
func Fold(events []Event) (*Incident, error) {
	var open *Event
	for i := range events {
		if events[i].Body == nil {
			return nil, fmt.Errorf("%w: entry %s has no body", ErrIncident, events[i].Entry)
		}
		if err := events[i].Body.Check(); err != nil {
			return nil, fmt.Errorf("entry %s: %w", events[i].Entry, err)
		}
		if events[i].Body.Action == Open {
			if open != nil {
				return nil, fmt.Errorf("%w: two opening entries, %s and %s", ErrIncident, open.Entry, events[i].Entry)
			}
			open = &events[i]
		}
	}
	if open == nil {
		return nil, fmt.Errorf("%w: no opening entry", ErrIncident)
	}
	inc := &Incident{ID: open.Entry, Opener: open.Entry.Author, Title: open.Body.Title, Lang: open.Body.Lang, State: StateOpen}
	inc.Timeline = append(inc.Timeline, Step{Event: *open, Applied: true, To: StateOpen})
	children := map[EntryRef][]Event{}
	seen := map[EntryRef]bool{open.Entry: true}
	for _, e := range events {
		if e.Body.Action == Open {
			continue
		}
		if *e.Body.Incident != open.Entry {
			return nil, fmt.Errorf("%w: entry %s is about incident %s, not %s", ErrIncident, e.Entry, e.Body.Incident, open.Entry)
		}
		if seen[e.Entry] {
			return nil, fmt.Errorf("%w: entry %s given twice", ErrIncident, e.Entry)
		}
		seen[e.Entry] = true
		children[*e.Body.Prev] = append(children[*e.Body.Prev], e)
	}
	var rest []Step
	for cur := open.Entry; ; {
		kids := children[cur]
		delete(children, cur)
		slices.SortFunc(kids, func(a, b Event) int {
			return cmp.Or(
				-cmp.Compare(btoi(a.Entry.Author == inc.Opener), btoi(b.Entry.Author == inc.Opener)),
				cmp.Compare(a.Entry.Author, b.Entry.Author),
				cmp.Compare(a.Entry.Index, b.Entry.Index),
				cmp.Compare(a.Entry.Channel, b.Entry.Channel))
		})
		var winner *Event
		for i := range kids {
			e := kids[i]
			if winner != nil {
				rest = append(rest, Step{Event: e, Why: "superseded by " + winner.Entry.String()})
				continue
			}
			from := inc.State
			if err := inc.apply(e); err != nil {
				rest = append(rest, Step{Event: e, Why: err.Error()})
				continue
			}
			winner = &kids[i]
			inc.Timeline = append(inc.Timeline, Step{Event: e, Applied: true, From: from, To: inc.State})
		}
		if winner == nil {
			break
		}
		cur = winner.Entry
	}
	for prev, kids := range children {
		for _, e := range kids {
			why := "follows " + prev.String() + ", which was not applied"
			if !seen[prev] {
				why = "follows " + prev.String() + ", which is not an entry of this incident"
			}
			rest = append(rest, Step{Event: e, Why: why})
		}
	}
	slices.SortFunc(rest, func(a, b Step) int {
		return cmp.Or(cmp.Compare(a.Entry.Author, b.Entry.Author), cmp.Compare(a.Entry.Index, b.Entry.Index), cmp.Compare(a.Entry.Channel, b.Entry.Channel))
	})
	inc.Timeline = append(inc.Timeline, rest...)
	return inc, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// apply makes the step e takes from the incident's state, or says why the
// lifecycle does not allow it.
func (inc *Incident) apply(e Event) error {
	by, b := e.Entry.Author, e.Body
	refuse := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s by %s in state %s: %s", ErrTransition, b.Action, by, inc.State, fmt.Sprintf(format, args...))
	}
	if inc.State == StateClosed {
		return refuse("the incident is closed")
	}
	switch b.Action {
	case Acknowledge:
		if inc.State != StateOpen {
			return refuse("it was already acknowledged")
		}
		if by == inc.Opener {
			return refuse("the other party acknowledges, not the opener")
		}
		inc.State = StateAcknowledged
	case Discuss:
		if inc.State == StateOpen {
			return refuse("the other party has not acknowledged it yet")
		}
		inc.State, inc.Outcome, inc.ClosingBy = StateDiscussion, "", ""
	case Link:
	case Close:
		switch {
		case inc.State == StateOpen && by == inc.Opener && b.Outcome == Withdrawn:
			inc.State, inc.Outcome, inc.ClosingBy = StateClosed, Withdrawn, by
		case inc.State == StateOpen:
			return refuse("before it is acknowledged, only its opener may close it, as withdrawn")
		case b.Outcome == Withdrawn:
			return refuse("an acknowledged incident is not withdrawn; close it as resolved, unresolved or referred")
		case inc.State == StateClosing && by != inc.ClosingBy && b.Outcome == inc.Outcome:
			inc.State = StateClosed
		default: // a proposal, a counter-proposal, or the proposer changing its mind
			inc.State, inc.Outcome, inc.ClosingBy = StateClosing, b.Outcome, by
		}
	default:
		return refuse("an incident is opened once")
	}
	return nil
}

// Links lists every entry the incident's applied steps carry or link, in
// timeline order, each once: the timeline of messages, reports and
// acknowledgements about it.
func (inc *Incident) Links() []EntryRef {
	var out []EntryRef
	seen := map[EntryRef]bool{}
	add := func(r EntryRef) {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	for _, s := range inc.Timeline {
		if !s.Applied {
			continue
		}
		add(s.Entry)
		for _, l := range s.Body.Links {
			add(l)
		}
	}
	return out
}
