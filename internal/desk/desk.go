// Package desk does what people and programs ask of a running station
// (ops.Ops): channels, messages and their acknowledgements, transcripts,
// the station's status and alerts, and deconfliction (coded messages,
// notices, reports, incidents, plans and the checks that compare them).
// It reads the store and asks the station's loop for the rest through a
// small interface (Station); it owns no connection, timer or file. The
// running process (package station) makes one Desk and embeds it, so
// that the station's process and its operations are separate rooms.
package desk

import (
	"context"
	"log/slog"
	"net"
	"sync"

	"hotline/internal/call"
	"hotline/internal/codebook"
	"hotline/internal/identity"
	"hotline/internal/ops"
	"hotline/internal/protocol"
	"hotline/internal/store"
)

// Station is what the desk asks of the running process.
type Station interface {
	// Call gives the core an event and waits for its result: for a
	// write, until it is durable.
	Call(ctx context.Context, build func(id uint64) protocol.Event) (protocol.Result, error)
	// InLoop runs f on the loop that owns the core, and waits for it.
	InLoop(ctx context.Context, f func(*protocol.Core)) error
	// Notify tells the station's subscribers (the console, the API's
	// event stream).
	Notify(notes ...protocol.Notify)
	// Identity is the station's current keys and card.
	Identity() (*identity.Keys, *identity.Card)
	// Connected names the peers a path is up to.
	Connected(ctx context.Context) map[string]bool
	// PeerAddr is where the station listens for peers, nil if nowhere.
	PeerAddr() net.Addr
	// Books are the codebooks the station has, the embedded one first.
	Books() []*codebook.Codebook
	// KeyHistory is a station's key history (this station's for "").
	KeyHistory(ctx context.Context, station string) ([]ops.KeyView, error)
	// RelaysRefusing are the relays that refused this station when it
	// last dialed them.
	RelaysRefusing() []ops.RelayRefusalView
	// ReadRecording is this station's recording of a call, decrypted
	// and checked against the hash and length its signed entry names.
	ReadRecording(call string, want call.Recording) ([]byte, error)
}

// Desk does the operations of one station.
type Desk struct {
	st          Station
	db          store.Store
	name, party string
	log         *slog.Logger
	done        <-chan struct{} // closed when the station stops

	ackMu  sync.Mutex // serializes Ack
	callMu sync.Mutex // serializes the acts on calls, so that two operators cannot both answer one
	// The deconfliction checks (findings.go): one pass at a time, kicked
	// when a notice or report arrives.
	detectMu   sync.Mutex
	detectKick chan struct{}
	// The station's media (calls.go): nil while it carries none; the
	// watcher that tells it what the call entries say, kicked when one
	// arrives.
	mediaMu   sync.Mutex
	media     Media
	mediaKick chan struct{}
}

// New returns the desk of station name (of party) whose records are in db.
// done is closed when the station stops.
func New(st Station, db store.Store, name, party string, log *slog.Logger, done <-chan struct{}) *Desk {
	return &Desk{st: st, db: db, name: name, party: party, log: log, done: done, detectKick: make(chan struct{}, 1), mediaKick: make(chan struct{}, 1)}
}
