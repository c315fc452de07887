package deconflict_test

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"hotline/internal/deconflict"
)

const channel = "red-blue.theatre"

func ref(author string, index uint64) deconflict.EntryRef {
	return deconflict.EntryRef{Channel: channel, Author: author, Index: index}
}

// story builds incident events: each step is written by an author at an
// index, after prev (nil: the opening entry itself).
type story struct {
	open   deconflict.EntryRef
	events []deconflict.Event
}

func newStory(opener string, index uint64, links ...deconflict.EntryRef) *story {
	s := &story{open: ref(opener, index)}
	s.events = append(s.events, deconflict.Event{Entry: s.open, Time: t0, Body: &deconflict.IncidentBody{
		Action: deconflict.Open, Title: "Unsafe crossing ahead of Frigate 548", Lang: "en", Links: links}})
	return s
}

func (s *story) add(author string, index uint64, prev deconflict.EntryRef, action deconflict.Action, outcome deconflict.Outcome, links ...deconflict.EntryRef) deconflict.EntryRef {
	e := ref(author, index)
	s.events = append(s.events, deconflict.Event{Entry: e, Time: t0.Add(time.Duration(len(s.events)) * time.Minute), Body: &deconflict.IncidentBody{
		Action: action, Incident: &s.open, Prev: &prev, Outcome: outcome, Links: links}})
	return e
}

func (s *story) fold(t *testing.T) *deconflict.Incident {
	t.Helper()
	inc, err := deconflict.Fold(s.events)
	if err != nil {
		t.Fatal(err)
	}
	return inc
}

func TestIncidentLifecycle(t *testing.T) {
	report := ref("red", 6)
	s := newStory("red", 7, report)
	// blue/2 is blue's acknowledgement entry of the report, linked here.
	ack := s.add("blue", 3, s.open, deconflict.Acknowledge, "", ref("blue", 2), s.open)
	d1 := s.add("red", 8, ack, deconflict.Discuss, "", ref("red", 9))
	d2 := s.add("blue", 5, d1, deconflict.Discuss, "", ref("blue", 4))
	lk := s.add("blue", 6, d2, deconflict.Link, "", ref("blue", 7))
	c1 := s.add("red", 10, lk, deconflict.Close, deconflict.Resolved)
	c2 := s.add("blue", 8, c1, deconflict.Close, deconflict.Resolved)

	inc := s.fold(t)
	if inc.State != deconflict.StateClosed || inc.Outcome != deconflict.Resolved || inc.ClosingBy != "red" || inc.Opener != "red" || inc.ID != s.open {
		t.Fatalf("incident %+v", inc)
	}
	wantStates := []deconflict.State{deconflict.StateOpen, deconflict.StateAcknowledged, deconflict.StateDiscussion,
		deconflict.StateDiscussion, deconflict.StateDiscussion, deconflict.StateClosing, deconflict.StateClosed}
	for i, st := range inc.Timeline {
		if !st.Applied || st.To != wantStates[i] {
			t.Errorf("step %d %s: applied %v, to %s, want %s (%s)", i, st.Entry, st.Applied, st.To, wantStates[i], st.Why)
		}
	}
	wantLinks := []deconflict.EntryRef{s.open, report, ack, ref("blue", 2), d1, ref("red", 9), d2, ref("blue", 4), lk, ref("blue", 7), c1, c2}
	if got := inc.Links(); !reflect.DeepEqual(got, wantLinks) {
		t.Errorf("Links:\n got %v\nwant %v", got, wantLinks)
	}
}

// TestIncidentTransitions checks which steps the lifecycle refuses: each
// case is a story whose last step must not be applied, for the reason
// given, leaving the state given.
func TestIncidentTransitions(t *testing.T) {
	type step struct {
		author  string
		action  deconflict.Action
		outcome deconflict.Outcome
	}
	tests := []struct {
		name  string
		steps []step // after red opens; each follows the one before
		state deconflict.State
		why   string // "" when the last step applies
	}{
		{"opener acknowledges", []step{{"red", deconflict.Acknowledge, ""}}, deconflict.StateOpen, "the other party acknowledges, not the opener"},
		{"acknowledged twice", []step{{"blue", deconflict.Acknowledge, ""}, {"blue", deconflict.Acknowledge, ""}}, deconflict.StateAcknowledged, "it was already acknowledged"},
		{"discussed before acknowledged", []step{{"red", deconflict.Discuss, ""}}, deconflict.StateOpen, "the other party has not acknowledged it yet"},
		{"closed by the other before acknowledged", []step{{"blue", deconflict.Close, deconflict.Resolved}}, deconflict.StateOpen, "before it is acknowledged, only its opener may close it, as withdrawn"},
		{"opener withdraws", []step{{"red", deconflict.Close, deconflict.Withdrawn}}, deconflict.StateClosed, ""},
		{"withdrawn after acknowledged", []step{{"blue", deconflict.Acknowledge, ""}, {"red", deconflict.Close, deconflict.Withdrawn}}, deconflict.StateAcknowledged, "an acknowledged incident is not withdrawn"},
		{"closing needs the other party", []step{{"blue", deconflict.Acknowledge, ""}, {"red", deconflict.Close, deconflict.Resolved}, {"red", deconflict.Close, deconflict.Resolved}}, deconflict.StateClosing, ""},
		{"counter-proposal", []step{{"blue", deconflict.Acknowledge, ""}, {"red", deconflict.Close, deconflict.Resolved}, {"blue", deconflict.Close, deconflict.Unresolved}}, deconflict.StateClosing, ""},
		{"counter-proposal agreed", []step{{"blue", deconflict.Acknowledge, ""}, {"red", deconflict.Close, deconflict.Resolved}, {"blue", deconflict.Close, deconflict.Unresolved}, {"red", deconflict.Close, deconflict.Unresolved}}, deconflict.StateClosed, ""},
		{"proposal rejected by discussion", []step{{"blue", deconflict.Acknowledge, ""}, {"red", deconflict.Close, deconflict.Referred}, {"blue", deconflict.Discuss, ""}}, deconflict.StateDiscussion, ""},
		{"anything after closed", []step{{"red", deconflict.Close, deconflict.Withdrawn}, {"blue", deconflict.Acknowledge, ""}}, deconflict.StateClosed, "the incident is closed"},
		{"link after closed", []step{{"red", deconflict.Close, deconflict.Withdrawn}, {"red", deconflict.Link, ""}}, deconflict.StateClosed, "the incident is closed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStory("red", 1)
			prev, idx := s.open, map[string]uint64{"red": 1, "blue": 0}
			for _, st := range tc.steps {
				idx[st.author]++
				var links []deconflict.EntryRef
				if st.action == deconflict.Link {
					links = []deconflict.EntryRef{ref("blue", 99)}
				}
				prev = s.add(st.author, idx[st.author], prev, st.action, st.outcome, links...)
			}
			inc := s.fold(t)
			if inc.State != tc.state {
				t.Errorf("state %s, want %s", inc.State, tc.state)
			}
			var last deconflict.Step
			for _, st := range inc.Timeline {
				if st.Entry == prev {
					last = st
				}
			}
			if tc.why == "" {
				if !last.Applied {
					t.Errorf("last step not applied: %s", last.Why)
				}
				return
			}
			if last.Applied || !strings.Contains(last.Why, tc.why) {
				t.Errorf("last step applied %v, why %q, want %q", last.Applied, last.Why, tc.why)
			}
		})
	}
}

// TestIncidentConcurrent has both parties act on the same state at once:
// red proposes to close while blue adds to the discussion. The opener's
// step wins on both sides; blue's is superseded, and so is what blue wrote
// after it, until blue acts again from the state both now see.
func TestIncidentConcurrent(t *testing.T) {
	s := newStory("red", 1)
	ack := s.add("blue", 1, s.open, deconflict.Acknowledge, "")
	closing := s.add("red", 2, ack, deconflict.Close, deconflict.Resolved)
	talk := s.add("blue", 2, ack, deconflict.Discuss, "")
	more := s.add("blue", 3, talk, deconflict.Link, "", ref("blue", 9))
	s.add("blue", 4, closing, deconflict.Close, deconflict.Resolved)

	inc := s.fold(t)
	if inc.State != deconflict.StateClosed || inc.Outcome != deconflict.Resolved {
		t.Fatalf("state %s %s", inc.State, inc.Outcome)
	}
	why := map[deconflict.EntryRef]string{}
	for _, st := range inc.Timeline {
		if !st.Applied {
			why[st.Entry] = st.Why
		}
	}
	if why[talk] != "superseded by red-blue.theatre/red/2" {
		t.Errorf("blue's discussion: %q", why[talk])
	}
	if why[more] != "follows red-blue.theatre/blue/2, which was not applied" {
		t.Errorf("blue's link: %q", why[more])
	}

	// Whatever order the entries arrive in, both sides fold the same.
	rng := rand.New(rand.NewPCG(3, 4))
	for range 50 {
		shuffled := append([]deconflict.Event(nil), s.events...)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		got, err := deconflict.Fold(shuffled)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, inc) {
			t.Fatalf("folded in another order:\n got %+v\nwant %+v", got, inc)
		}
	}
}

func TestFoldErrors(t *testing.T) {
	s := newStory("red", 1)
	s.add("blue", 1, s.open, deconflict.Acknowledge, "")
	other := newStory("red", 5)
	tests := []struct {
		name   string
		events []deconflict.Event
		want   string
	}{
		{"no opening", s.events[1:], "no opening entry"},
		{"two openings", append(append([]deconflict.Event(nil), s.events...), other.events[0]), "two opening entries"},
		{"another incident", append(append([]deconflict.Event(nil), other.events...), s.events[1]), "is about incident red-blue.theatre/red/1, not red-blue.theatre/red/5"},
		{"given twice", append(append([]deconflict.Event(nil), s.events...), s.events[1]), "entry red-blue.theatre/blue/1 given twice"},
		{"no body", []deconflict.Event{{Entry: ref("red", 1)}}, "has no body"},
		{"invalid body", []deconflict.Event{{Entry: ref("red", 1), Body: &deconflict.IncidentBody{Action: deconflict.Open}}}, "title: an incident needs a title"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := deconflict.Fold(tc.events)
			if !errors.Is(err, deconflict.ErrIncident) {
				t.Fatalf("error %v, want ErrIncident", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}
