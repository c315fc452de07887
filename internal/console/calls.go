package console

// Calls on the console (docs/CALLS.md, "Media"): a call's page, placing a
// call from a channel's page, answering, hanging up, and connecting the
// browser's audio to this station. The browser speaks WebRTC to its own
// station only; the station carries the audio to the peer station.

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"hotline/internal/badrequest"
	"hotline/internal/operator"
	"hotline/internal/ops"
)

// callRoutes are the call's page and the acts on calls.
func (s *Server) callRoutes() {
	s.mux.HandleFunc("GET /console/call/{id...}", s.page(operator.Read, s.callPage))
	s.opAction("POST /console/api/calls", ops.StartCall.Op, "call.start", s.startCall)
	s.opAction("POST /console/api/calls/answer", ops.AnswerCall.Op, "call.answer", s.callAct(func(o ops.Ops, r *http.Request, q ops.CallActRequest) (*ops.CallView, error) {
		return o.AnswerCall(r.Context(), q)
	}))
	s.opAction("POST /console/api/calls/end", ops.EndCall.Op, "call.end", s.callAct(func(o ops.Ops, r *http.Request, q ops.CallActRequest) (*ops.CallView, error) {
		return o.EndCall(r.Context(), q)
	}))
	s.opAction("POST /console/api/calls/media", ops.CallMedia.Op, "call.media", s.callMedia)
}

// findCall returns the call with id as this station lists it.
func (s *Server) findCall(r *http.Request, id string) (*ops.CallView, error) {
	ch, _, ok := strings.Cut(id, "/")
	if !ok {
		return nil, badrequest.New("call id %q is not CHANNEL/STATION/INDEX", id)
	}
	cs, err := s.cfg.Ops.Calls(r.Context(), ch)
	if err != nil {
		return nil, err
	}
	for i := range cs {
		if cs[i].ID == id {
			return &cs[i], nil
		}
	}
	return nil, badrequest.New("no call %s here", id)
}

func (s *Server) callPage(w http.ResponseWriter, r *http.Request, se *session) {
	d := s.data("call", se)
	c, err := s.findCall(r, r.PathValue("id"))
	if err == nil {
		err = s.fillTakeover(r.Context(), d)
	}
	if err != nil {
		s.failPage(w, se, err)
		return
	}
	d.Call = c
	// The page of a call ringing here is where it is answered: that call
	// does not cover it.
	d.Takeover = slices.DeleteFunc(d.Takeover, func(t takeoverItem) bool { return t.Key == "call:"+c.ID })
	own := c.From == s.cfg.Station
	open := c.State == "ringing" || c.State == "missed" && c.ReturnedBy == ""
	d.CallCanAnswer = !own && open && d.Can(ops.AnswerCall.Op.Permission)
	d.CallCanTalk = c.Media != nil && (own && open || c.State == "answered") && d.Can(ops.CallMedia.Op.Permission)
	d.CallCanEnd = (c.State == "answered" || own && open) && d.Can(ops.EndCall.Op.Permission)
	s.render(w, "call-page", d)
}

func (s *Server) startCall(r *http.Request, se *session) (result, error) {
	var req ops.StartCallRequest
	if err := readJSON(r, &req); err != nil {
		return result{}, err
	}
	req.As = operator.RecordName(se.op)
	res := result{target: req.Channel, detail: req.Precedence}
	c, err := s.cfg.Ops.StartCall(r.Context(), req)
	if err != nil {
		return res, err
	}
	return result{body: c, target: c.ID, detail: c.Precedence + " on " + c.Channel}, nil
}

// callAct answers or ends the call named in the body, in the operator's
// name.
func (s *Server) callAct(do func(ops.Ops, *http.Request, ops.CallActRequest) (*ops.CallView, error)) func(r *http.Request, se *session) (result, error) {
	return func(r *http.Request, se *session) (result, error) {
		var req struct {
			ID    string `json:"id"`
			Video bool   `json:"video,omitempty"` // answering: with video
		}
		if err := readJSON(r, &req); err != nil {
			return result{}, err
		}
		c, err := do(s.cfg.Ops, r, ops.CallActRequest{ID: req.ID, As: operator.RecordName(se.op), Video: req.Video})
		if err != nil {
			return result{target: req.ID}, err
		}
		return result{body: c, target: c.ID, detail: c.State}, nil
	}
}

func (s *Server) callMedia(r *http.Request, se *session) (result, error) {
	var req ops.CallMediaRequest
	if err := readJSON(r, &req); err != nil {
		return result{}, err
	}
	req.As = operator.RecordName(se.op)
	a, err := s.cfg.Ops.CallMedia(r.Context(), req)
	return result{body: a, target: req.ID}, err
}

// missedCalls are the other party's calls that nobody answered here and
// that no call back has returned, newest first: they stay on the board
// until someone calls back.
func (s *Server) missedCalls(ctx context.Context) ([]ops.CallView, error) {
	cs, err := s.cfg.Ops.Calls(ctx, "")
	if err != nil {
		return nil, err
	}
	var out []ops.CallView
	for _, c := range cs {
		if c.From != s.cfg.Station && c.State == "missed" && c.ReturnedBy == "" {
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b ops.CallView) int { return b.RequestedAt.Compare(a.RequestedAt) })
	return out, nil
}
