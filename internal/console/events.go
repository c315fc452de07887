package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"hotline/internal/protocol"
)

// events streams the station's notifications, and the console's own (its
// alerts raised or acknowledged), to a logged-in browser as server-sent
// events: the same subscription the JSON API's event stream uses. The page fetches what changed when one arrives; nothing polls.
// The stream ends when the session expires (the browser then finds it
// must log in again) or the station stops.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	se, err := s.current(r)
	if err != nil {
		if errors.Is(err, errNoSession) {
			writeJSON(w, http.StatusUnauthorized, errorBody{Error: err.Error()})
			return
		}
		writeError(w, err)
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, errors.New("streaming unsupported"))
		return
	}
	notes, cancel := s.cfg.Subscribe()
	defer cancel()
	own, cancelOwn := s.hub.subscribe()
	defer cancelOwn()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	// retry: how soon the browser reconnects after losing the station.
	fmt.Fprint(w, "retry: 2000\n: connected\n\n")
	fl.Flush()
	send := func(n protocol.Notify) {
		data, _ := json.Marshal(map[string]string{"what": n.What, "channel": n.Channel, "entry": n.Entry})
		fmt.Fprintf(w, "data: %s\n\n", data)
		fl.Flush()
	}
	expire := time.NewTimer(se.ExpiresAt.Sub(s.cfg.Now()))
	defer expire.Stop()
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	for {
		select {
		case n := <-notes:
			send(n)
		case n := <-own:
			send(n)
		case <-tick.C:
			fmt.Fprint(w, ": keepalive\n\n")
			fl.Flush()
		case <-expire.C:
			return
		case <-r.Context().Done():
			return
		case <-s.cfg.Done:
			return
		}
	}
}
