package station

// The station's call media (docs/CALLS.md, "Media"): while the station
// runs, an internal/media engine on config.json's media_listen, given to
// the desk through desk.Media, and a watcher that tells it what the call
// entries say.

import (
	"context"
	"errors"

	"hotline/internal/badrequest"
	"hotline/internal/call"
	"hotline/internal/desk"
	"hotline/internal/media"
	"hotline/internal/ops"
)

// startMedia opens the media engine and hands it to the desk; the
// returned function takes it back and closes it.
func (s *Station) startMedia(ctx context.Context) (func(), error) {
	o := media.Options{Log: s.Log, Advertise: s.Cfg.MediaAdvertise}
	if r := s.relaysOf(); r != nil {
		o.Relays = mediaRelays{r}
	}
	eng, err := media.Listen(s.Cfg.MediaAddr(), o)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.media = eng
	s.mu.Unlock()
	eng.OnLeft(func(call, who string) {
		go s.Desk.ParticipantLeft(ctx, call, who)
	})
	s.Desk.SetMedia(deskMedia{eng, s})
	s.Log.Info("call media listening", "addr", eng.Addr().String())
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		s.WatchMedia(ctx)
	}()
	return func() {
		s.Desk.SetMedia(nil)
		// A call recorded while the station stops: its file is kept,
		// whole, but no signed entry names it.
		s.recMu.Lock()
		recs := s.recorders
		s.recorders = map[string]*callRecorder{}
		s.recMu.Unlock()
		for id, r := range recs {
			rec, err := r.finish()
			s.Log.Warn("the station stopped during a recorded call: its recording is kept, but no signed entry names it", "call", id, "recording", rec, "err", err)
		}
		s.mu.Lock()
		s.media = nil
		s.mu.Unlock()
		eng.Close()
	}, nil
}

// MediaAddr is where the station's call media listens, nil when it is
// not running.
func (s *Station) MediaAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.media == nil {
		return ""
	}
	return s.media.Addr().String()
}

// mediaCount reads a count of the media engine, 0 while it is not
// running.
func (s *Station) mediaCount(f func(*media.Engine) uint64) float64 {
	s.mu.Lock()
	e := s.media
	s.mu.Unlock()
	if e == nil {
		return 0
	}
	return float64(f(e))
}

// deskMedia is the engine as the desk asks it: its errors that are the
// asker's marked so.
type deskMedia struct {
	e *media.Engine
	s *Station
}

func asked(err error) error {
	if errors.Is(err, media.ErrSDP) || errors.Is(err, media.ErrNoMedia) || errors.Is(err, media.ErrState) {
		return badrequest.New("%v", err)
	}
	return err
}

type offer struct {
	c   *media.Call
	sdp string
}

func (o offer) SDP() string                               { return o.sdp }
func (o offer) Bind(call string) error                    { return o.c.Bind(call) }
func (o offer) Drop()                                     { o.c.Drop() }
func (m deskMedia) Accept(id, a string, video bool) error { return m.e.Accept(id, a, video) }
func (m deskMedia) Fail(id, reason string)                { m.e.Fail(id, reason) }
func (m deskMedia) End(id, reason string)                 { m.e.End(id, reason) }
func (m deskMedia) Live() []string                        { return m.e.Live() }

// Record starts a call's recording (recording.go), once.
func (m deskMedia) Record(id string) error {
	s := m.s
	s.recMu.Lock()
	defer s.recMu.Unlock()
	if _, ok := s.recorders[id]; ok {
		return nil
	}
	r, err := s.newRecorder(id)
	if err != nil {
		return err
	}
	if err := m.e.Record(id, r); err != nil {
		r.finish()
		return err
	}
	s.recorders[id] = r
	return nil
}

// Limit sets the charter's limits on a call.
func (m deskMedia) Limit(id string, kbps int, noVideo bool) error {
	return asked(m.e.Limit(id, kbps, noVideo))
}

// Recording lists the calls being recorded.
func (m deskMedia) Recording() []string {
	s := m.s
	s.recMu.Lock()
	defer s.recMu.Unlock()
	out := make([]string, 0, len(s.recorders))
	for id := range s.recorders {
		out = append(out, id)
	}
	return out
}

// FinishRecording closes a call's recording and names it.
func (m deskMedia) FinishRecording(id string) (*call.Recording, error) {
	s := m.s
	s.recMu.Lock()
	r, ok := s.recorders[id]
	delete(s.recorders, id)
	s.recMu.Unlock()
	if !ok {
		return nil, nil
	}
	m.e.Record(id, nil)
	return r.finish()
}

func (m deskMedia) Offer(ctx context.Context, peer string, video bool) (desk.MediaOffer, error) {
	c, sdp, err := m.e.Offer(ctx, peer, video)
	if err != nil {
		return nil, err
	}
	return offer{c, sdp}, nil
}

func (m deskMedia) Answer(ctx context.Context, id, peer, o string, video bool) (string, error) {
	a, err := m.e.Answer(ctx, id, peer, o, video)
	return a, asked(err)
}

func (m deskMedia) Attach(ctx context.Context, id, who, o string) (string, error) {
	a, err := m.e.Attach(ctx, id, who, o)
	return a, asked(err)
}

func (m deskMedia) View(id string) (ops.CallMediaView, bool) {
	v, ok := m.e.View(id)
	if !ok {
		return ops.CallMediaView{}, false
	}
	mv := ops.CallMediaView{State: v.State, Reason: v.Reason, Console: v.Console, PeerFingerprint: v.Peer,
		FromPeer: v.FromPeer, ToPeer: v.ToPeer, Dropped: v.Dropped, Path: v.Path, Via: v.Via, Failovers: v.Failovers,
		MaxGapMS: float64(v.MaxGap.Microseconds()) / 1000, Video: v.Video, VideoFromPeer: v.VideoFromPeer, VideoToPeer: v.VideoToPeer}
	for _, p := range v.Participants {
		mv.Seats = append(mv.Seats, ops.CallSeatView{Who: p.Who, Seat: p.Seat, State: p.State})
	}
	return mv, true
}
