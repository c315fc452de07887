package call

import (
	"time"

	"hotline/internal/envelope"
)

// State is where a call stands at a station.
type State string

// The states of a call.
const (
	Ringing  State = "ringing"  // requested; not answered, declined or ended, and its deadline has not passed
	Answered State = "answered" // a person of the called party answered it
	Declined State = "declined" // a person of the called party declined it
	Missed   State = "missed"   // its acknowledgement deadline passed unanswered, or it was called back
	Ended    State = "ended"    // ended by either party, after an answer or while it rang
)

// Entry is one call entry as a station holds it.
type Entry struct {
	Ref        Ref // the entry itself
	Kind       envelope.Kind
	Precedence envelope.Precedence
	SentAt     time.Time // the author's clock, from the header
	StoredAt   time.Time // this station's clock
	Body       any       // decoded
}

// Call is a call folded from the entries of both logs.
type Call struct {
	ID          Ref
	Precedence  envelope.Precedence
	Caller      string
	Video       bool
	State       State
	RequestedAt time.Time // the caller's clock
	StoredAt    time.Time // when this station stored the request
	AnsweredAt  time.Time // the answerer's clock; zero if not answered
	AnsweredBy  string
	DeclinedBy  string
	Reason      string
	EndedAt     time.Time // the ender's clock; zero if not ended
	EndedBy     string
	Back        *Ref // the call this one returns
	ReturnedBy  *Ref // the call back that returned this one
	// Participants are who joined on each side, in order of joining,
	// and whether they are still in the call.
	Participants []Participant
	// Recordings are the stations' recordings of their own side's audio,
	// from their signed end or leave entries.
	Recordings []Recorded
	Due        time.Time
	// Offer and Answer are the stations' media descriptions from the
	// signed request and answer, nil where the entry carried none.
	Offer, Answer *Media
}

// Participant is a person who joined a call on a station's side.
type Participant struct {
	Station string
	Name    string
	Present bool // joined and has not left
}

// Recorded is a station's recording as its signed entry names it.
type Recorded struct {
	Station string
	Entry   Ref // the end or leave entry that names it
	Recording
}

// Fold folds call entries, in the order this station stored them, into
// calls, in the order they were requested. deadline is the acknowledgement
// deadline of a precedence on a channel; a call still ringing at now
// whose deadline (counted from its storing here) has passed is missed.
// Entries that do not fit a call (an answer to no call this station
// holds, a second answer, a decline after an answer) change nothing.
func Fold(entries []Entry, now time.Time, deadline func(channel string, p envelope.Precedence) time.Duration) []Call {
	var order []Ref
	calls := map[Ref]*Call{}
	// Every request first: what refers to a call was written after it,
	// though two logs' entries stored at one instant may come in either
	// order.
	for _, e := range entries {
		if b, ok := e.Body.(*Request); ok {
			c := &Call{ID: e.Ref, Precedence: e.Precedence, Caller: b.Caller, Video: b.Video, State: Ringing,
				RequestedAt: e.SentAt, StoredAt: e.StoredAt, Back: b.back, Offer: b.Media}
			c.Due = e.StoredAt.Add(deadline(e.Ref.Channel, e.Precedence))
			calls[e.Ref] = c
			order = append(order, e.Ref)
		}
	}
	for _, e := range entries {
		if b, ok := e.Body.(*Request); ok {
			if b.back != nil {
				if o := calls[*b.back]; o != nil && o.ID.Author != e.Ref.Author && o.State == Ringing {
					id := e.Ref
					o.State, o.ReturnedBy = Missed, &id
				}
			}
			continue
		}
		r := RefOf(e.Body)
		if r == nil {
			continue
		}
		c := calls[*r]
		if c == nil {
			continue
		}
		open := c.State == Ringing || c.State == Missed && c.ReturnedBy == nil
		callee := e.Ref.Author != c.ID.Author
		switch b := e.Body.(type) {
		case *Answer:
			if open && callee {
				c.State, c.AnsweredAt, c.AnsweredBy, c.Video = Answered, e.SentAt, b.By, c.Video && b.Video
				c.Answer = b.Media
			}
		case *Decline:
			if open && callee {
				c.State, c.DeclinedBy, c.Reason = Declined, b.By, b.Reason
			}
		case *End:
			if open || c.State == Answered {
				c.State, c.EndedAt, c.EndedBy = Ended, e.SentAt, b.By
			}
			c.recorded(e.Ref, b.Recording)
		case *Join:
			if open || c.State == Answered {
				c.join(e.Ref.Author, b.Participant)
			}
		case *Leave:
			c.recorded(e.Ref, b.Recording)
			for i := range c.Participants {
				if p := &c.Participants[i]; p.Station == e.Ref.Author && p.Name == b.Participant {
					p.Present = false
				}
			}
		}
	}
	out := make([]Call, 0, len(order))
	for _, r := range order {
		c := calls[r]
		if c.State == Ringing && !now.Before(c.Due) {
			c.State = Missed
		}
		out = append(out, *c)
	}
	return out
}

// recorded notes a station's recording, the first its entries name.
func (c *Call) recorded(entry Ref, r *Recording) {
	if r == nil {
		return
	}
	for _, x := range c.Recordings {
		if x.Station == entry.Author {
			return
		}
	}
	c.Recordings = append(c.Recordings, Recorded{Station: entry.Author, Entry: entry, Recording: *r})
}

// join notes a person joining on a station's side (again, after leaving).
func (c *Call) join(station, name string) {
	for i := range c.Participants {
		if p := &c.Participants[i]; p.Station == station && p.Name == name {
			p.Present = true
			return
		}
	}
	c.Participants = append(c.Participants, Participant{Station: station, Name: name, Present: true})
}
