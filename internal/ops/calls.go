package ops

import (
	"context"
	"time"
)

// CallOps is what may be asked of a station's calls (docs/CALLS.md):
// place one, answer, decline or end one, and list them; each act is a
// signed entry in the channel's log. CallMedia connects a browser's
// WebRTC to the station for a call's audio.
type CallOps interface {
	StartCall(ctx context.Context, r StartCallRequest) (*CallView, error)
	AnswerCall(ctx context.Context, r CallActRequest) (*CallView, error)
	DeclineCall(ctx context.Context, r CallActRequest) (*CallView, error)
	EndCall(ctx context.Context, r CallActRequest) (*CallView, error)
	Calls(ctx context.Context, channel string) ([]CallView, error)
	CallMedia(ctx context.Context, r CallMediaRequest) (*CallMediaAnswer, error)
	CallRecording(ctx context.Context, r CallRecordingRequest) (*CallRecordingFile, error)
}

// CallMediaRequest is a browser's WebRTC offer for a call's audio at its
// own station.
type CallMediaRequest struct {
	ID  string `json:"id"`  // the call's id
	SDP string `json:"sdp"` // the browser's offer, its candidates in it
	// As names the participant for the record (a join entry); the same
	// name again replaces that participant's browser. Default: the
	// station's console.
	As string `json:"as,omitempty"`
}

// CallMediaAnswer is the station's answer to a browser's offer.
type CallMediaAnswer struct {
	ID  string `json:"id"`
	SDP string `json:"sdp"`
}

// CallMediaView is a call's media at this station: its leg to the other
// station and the console's leg.
type CallMediaView struct {
	// State of the leg to the other station: offered, connecting,
	// connected, refused (the other station presented a DTLS certificate
	// other than its signed entry names), failed or closed.
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
	// Console is the state of the browser's leg, "" when none attached.
	Console string `json:"console,omitempty"`
	// PeerFingerprint is the SHA-256 fingerprint of the other station's
	// DTLS certificate, as its signed entry names it.
	PeerFingerprint string `json:"peer_fingerprint,omitempty"`
	// RTP packets forwarded from the other station to the console, from
	// the console to the other station, and dropped over the bounds.
	FromPeer uint64 `json:"from_peer"`
	ToPeer   uint64 `json:"to_peer"`
	Dropped  uint64 `json:"dropped"`
	// Path is what the media to the other station goes over now:
	// "direct" or "relay" (Via names the relay), "" once closed.
	// Failovers counts how often it went to a relay during the call's
	// life at this station; MaxGapMS is the longest wait between two
	// packets from the other station, in milliseconds.
	Path      string  `json:"path,omitempty"`
	Via       string  `json:"via,omitempty"`
	Failovers uint64  `json:"failovers"`
	MaxGapMS  float64 `json:"max_gap_ms"`
	// Seats are the browsers attached at this station now: who, their
	// seat (their stream to the other station), their connection.
	Seats []CallSeatView `json:"seats,omitempty"`
	// Video: the call's media carries video (both parties chose it);
	// its packets forwarded from the other station and to it.
	Video         bool   `json:"video"`
	VideoFromPeer uint64 `json:"video_from_peer"`
	VideoToPeer   uint64 `json:"video_to_peer"`
}

// CallSeatView is a participant's browser attached at this station.
type CallSeatView struct {
	Who   string `json:"who"`
	Seat  int    `json:"seat"`
	State string `json:"state"`
}

// StartCallRequest places a call to the other party of a channel.
type StartCallRequest struct {
	Channel    string `json:"channel"`
	Precedence string `json:"precedence,omitempty"` // default FLASH
	Video      bool   `json:"video,omitempty"`
	// As is the name, for the record, of the person who calls.
	As string `json:"as"`
	// Back is the other party's call this one returns, "" for none.
	Back string `json:"back,omitempty"`
}

// CallActRequest answers, declines or ends a call.
type CallActRequest struct {
	ID     string `json:"id"` // the call's id: its request entry's
	As     string `json:"as"` // who acts, for the record
	Reason string `json:"reason,omitempty"`
	Video  bool   `json:"video,omitempty"` // answering: whether video is accepted
}

// CallView is a call as this station holds it, folded from both logs.
type CallView struct {
	ID          string     `json:"id"` // the request entry's id
	Channel     string     `json:"channel"`
	From        string     `json:"from"` // the calling station
	Caller      string     `json:"caller"`
	Precedence  string     `json:"precedence"`
	State       string     `json:"state"` // ringing, answered, declined, missed or ended
	Video       bool       `json:"video"`
	RequestedAt time.Time  `json:"requested_at"` // the caller's clock
	Due         time.Time  `json:"due"`          // the answer's deadline, on this station's clock
	AnsweredAt  *time.Time `json:"answered_at"`  // the answerer's clock
	AnsweredBy  string     `json:"answered_by"`
	DeclinedBy  string     `json:"declined_by,omitempty"`
	Reason      string     `json:"reason,omitempty"`
	EndedAt     *time.Time `json:"ended_at"` // the ender's clock
	EndedBy     string     `json:"ended_by,omitempty"`
	Back        string     `json:"back,omitempty"`        // the call this one returns
	ReturnedBy  string     `json:"returned_by,omitempty"` // the call back that returned this one
	// Media is the call's media at this station, nil when it has none
	// (placed or answered without media, or before the station's media
	// last started).
	Media *CallMediaView `json:"media,omitempty"`
	// Recordings are each station's recording of its own side's audio,
	// as its signed end or leave entry names it (charter
	// call-recording).
	Recordings []CallRecordingView `json:"recordings,omitempty"`
	// Participants are who joined on each side (the join and leave
	// entries), and whether they are still in the call.
	Participants []CallParticipantView `json:"participants,omitempty"`
}

// CallParticipantView is a person who joined a call on a station's side.
type CallParticipantView struct {
	Station string `json:"station"`
	Name    string `json:"name"`
	Present bool   `json:"present"`
}

// CallRecordingView is a station's recording of a call as its signed
// entry names it.
type CallRecordingView struct {
	Station string `json:"station"`
	Entry   string `json:"entry"`  // the end or leave entry that names it
	SHA256  string `json:"sha256"` // of the Ogg Opus file
	Bytes   int64  `json:"bytes"`
}

// CallRecordingRequest asks for this station's recording of a call.
type CallRecordingRequest struct {
	ID string `json:"id"`
}

// CallRecordingFile is this station's recording of a call, decrypted,
// checked against the hash its signed entry names.
type CallRecordingFile struct {
	CallRecordingView
	ID  string `json:"id"`  // the call
	Ogg []byte `json:"ogg"` // the Ogg Opus file
}
