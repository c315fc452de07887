// Package call gives meaning to the entries of a call's signalling
// (docs/CALLS.md, "Signalling"): a request placed to the other party, its
// answer or decline, its end, and the participants who join or leave on a
// side. Each is a signed entry in a channel's log like any message. The
// bodies are decoded strictly here; the core carries them without knowing
// what they say (BodyKinds). A call's id is the id of its request entry,
// CHANNEL/AUTHOR/INDEX. The package holds no state: a call's state is
// folded from the entries of both logs (Fold).
package call

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"hotline/internal/envelope"
	"hotline/internal/strictjson"
)

// MaxBody is the largest call body decoded, in bytes.
const MaxBody = 24 << 10

// MaxSDP is the longest session description a request or an answer
// carries, in bytes: four seats of audio and four of video take about
// 6 KiB with a few candidates.
const MaxSDP = 16 << 10

// MaxName is the longest name of a person, in bytes.
const MaxName = 128

// MaxReason is the longest reason for a decline, in bytes.
const MaxReason = 1024

// ErrBody marks a call body that is not valid.
var ErrBody = errors.New("call body is not valid")

// Ref is a call's id: the request entry's channel, author and index.
type Ref struct {
	Channel string
	Author  string
	Index   uint64
}

func (r Ref) String() string { return fmt.Sprintf("%s/%s/%d", r.Channel, r.Author, r.Index) }

// ParseRef reads a call id CHANNEL/AUTHOR/INDEX.
func ParseRef(s string) (Ref, error) {
	parts := strings.Split(s, "/")
	if len(parts) == 3 && parts[0] != "" && parts[1] != "" && len(parts[0]) <= 64 && len(parts[1]) <= 64 {
		if n, err := strconv.ParseUint(parts[2], 10, 64); err == nil && n > 0 && strconv.FormatUint(n, 10) == parts[2] {
			return Ref{Channel: parts[0], Author: parts[1], Index: n}, nil
		}
	}
	return Ref{}, fmt.Errorf("call id %q is not CHANNEL/STATION/INDEX", s)
}

// Request places a call to the other party of the channel. The entry's
// own id is the call's id; its precedence is the call's.
type Request struct {
	// Caller is the name, for the record, of the person who calls.
	Caller string `json:"caller"`
	// Video says whether the caller asks for video.
	Video bool `json:"video,omitempty"`
	// Back names a call of the other party that this one returns: the
	// request acknowledges it, as an answer would.
	Back string `json:"back,omitempty"`
	// Media is the calling station's media offer, nil when the station
	// placed the call without media (it was not running its media).
	Media *Media `json:"media,omitempty"`

	back *Ref
}

// Media is a station's leg of a call between the two stations: its
// WebRTC session description (an offer in a request, an answer in an
// answer), which names its DTLS certificate's SHA-256 fingerprint, its
// ICE credentials and its host candidates. Signed and sealed in the
// entry, it binds the call's media to the station's pinned identity: the
// other station takes DTLS only from the certificate named here.
type Media struct {
	SDP string `json:"sdp"`

	fingerprint string
}

// Fingerprint is the SHA-256 fingerprint of the DTLS certificate the
// description names, as hex pairs joined by colons, in upper case.
func (m *Media) Fingerprint() string { return m.fingerprint }

// BackRef is the call this request returns, nil if none.
func (r *Request) BackRef() *Ref { return r.back }

// Answer is a person's answer to a call of the other party.
type Answer struct {
	Call  string `json:"call"`
	By    string `json:"by"`
	Video bool   `json:"video,omitempty"`
	// Media is the answering station's media answer, nil when the
	// request carried no offer or the station answered without media.
	Media *Media `json:"media,omitempty"`

	ref Ref
}

// Decline is a person's refusal of a call of the other party.
type Decline struct {
	Call   string `json:"call"`
	By     string `json:"by"`
	Reason string `json:"reason,omitempty"`

	ref Ref
}

// End ends a call; either party may write it.
type End struct {
	Call string `json:"call"`
	By   string `json:"by"`
	// Recording is the author's recording of its own side's audio, when
	// the channel's charter asks for one (docs/CALLS.md, "Recording").
	Recording *Recording `json:"recording,omitempty"`

	ref Ref
}

// Recording names a station's recording of the audio its side sent in a
// call: the SHA-256 of the Ogg Opus file and its length. The station
// keeps the file encrypted; whoever is shown it later can check that it
// is the one made during the call.
type Recording struct {
	SHA256 string `json:"sha256"` // lower-case hex
	Bytes  int64  `json:"bytes"`
}

func checkRecording(what string, r *Recording) error {
	if r == nil {
		return nil
	}
	if len(r.SHA256) != 64 || strings.Trim(r.SHA256, "0123456789abcdef") != "" {
		return fmt.Errorf("%w: %s: sha256 %q is not 64 lower-case hex digits", ErrBody, what, r.SHA256)
	}
	if r.Bytes <= 0 {
		return fmt.Errorf("%w: %s: %d bytes", ErrBody, what, r.Bytes)
	}
	return nil
}

// Join says that a participant on the author's side joined a call.
type Join struct {
	Call        string `json:"call"`
	Participant string `json:"participant"`

	ref Ref
}

// Leave says that a participant on the author's side left a call.
type Leave struct {
	Call        string `json:"call"`
	Participant string `json:"participant"`
	// Recording is the author's recording of its own side's audio, when
	// the call ended by the other party's end entry.
	Recording *Recording `json:"recording,omitempty"`

	ref Ref
}

// Ref is the call the entry refers to.
func (b *Answer) Ref() Ref  { return b.ref }
func (b *Decline) Ref() Ref { return b.ref }
func (b *End) Ref() Ref     { return b.ref }
func (b *Join) Ref() Ref    { return b.ref }
func (b *Leave) Ref() Ref   { return b.ref }

// Visible refuses a person's text that would not show as written: empty
// text when required, text over limit bytes or not UTF-8, control
// characters, invisible formatting characters (Unicode Cf: the
// bidirectional overrides, zero widths, joiners) and line and paragraph
// separators. It refuses what protocol.Visible refuses, and newlines too:
// a name or a reason is one line.
func Visible(what, s string, limit int, required bool) error {
	switch {
	case required && strings.TrimSpace(s) == "":
		return fmt.Errorf("%w: %s is empty", ErrBody, what)
	case len(s) > limit:
		return fmt.Errorf("%w: %s has %d bytes, limit %d", ErrBody, what, len(s), limit)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrBody, what)
	}
	for i, r := range s {
		if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) {
			return fmt.Errorf("%w: %s holds the invisible character U+%04X at byte %d: remove it (it can make text show other than it reads)", ErrBody, what, r, i)
		}
	}
	return nil
}

// checkMedia checks a media description as far as text goes: lines of
// printable ASCII ended by CRLF, beginning with v=0, within MaxSDP, and
// exactly one DTLS fingerprint, SHA-256. What the description offers is
// for the media engine to judge.
func checkMedia(what string, m *Media) error {
	if m == nil {
		return nil
	}
	fp, err := SDPFingerprint(m.SDP)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBody, what, err)
	}
	m.fingerprint = fp
	return nil
}

// SDPFingerprint checks a session description's text (lines of printable
// ASCII ended by CRLF, beginning with v=0, within MaxSDP) and returns the
// one DTLS certificate fingerprint it names: SHA-256, 32 hex pairs joined
// by colons, in upper case. A description naming none, several, or
// another hash is refused: the peer's certificate must be bound to one
// value.
func SDPFingerprint(sdp string) (string, error) { return BrowserFingerprint(sdp, MaxSDP) }

// BrowserFingerprint is SDPFingerprint with another bound on the length:
// for a browser's offer to its own station, which never goes in an
// entry.
func BrowserFingerprint(sdp string, limit int) (string, error) {
	switch {
	case sdp == "":
		return "", errors.New("the session description is empty")
	case len(sdp) > limit:
		return "", fmt.Errorf("the session description has %d bytes, limit %d", len(sdp), limit)
	case !strings.HasPrefix(sdp, "v=0\r\n"):
		return "", errors.New("the session description does not begin with v=0 and CRLF")
	case !strings.HasSuffix(sdp, "\r\n"):
		return "", errors.New("the session description's last line is not ended by CRLF")
	}
	var fps []string
	lines := strings.Split(strings.TrimSuffix(sdp, "\r\n"), "\r\n")
	for i, l := range lines {
		if l == "" {
			return "", fmt.Errorf("the session description's line %d is empty", i+1)
		}
		for j := 0; j < len(l); j++ {
			if l[j] < 0x20 || l[j] > 0x7e {
				return "", fmt.Errorf("the session description's line %d holds the byte 0x%02x: only printable ASCII is taken", i+1, l[j])
			}
		}
		if v, ok := strings.CutPrefix(l, "a=fingerprint:"); ok {
			fps = append(fps, v)
		}
	}
	if len(fps) == 0 {
		return "", errors.New("the session description names no DTLS fingerprint")
	}
	fp := fps[0]
	for _, o := range fps[1:] {
		if !strings.EqualFold(o, fp) {
			return "", errors.New("the session description names more than one DTLS fingerprint")
		}
	}
	hash, value, ok := strings.Cut(fp, " ")
	if !ok || !strings.EqualFold(hash, "sha-256") {
		return "", fmt.Errorf("the DTLS fingerprint %q is not sha-256", fp)
	}
	value = strings.ToUpper(value)
	if len(value) != 32*3-1 {
		return "", fmt.Errorf("the DTLS fingerprint %q is not 32 hex pairs joined by colons", fp)
	}
	for i := 0; i < len(value); i++ {
		c := value[i]
		if i%3 == 2 {
			if c != ':' {
				return "", fmt.Errorf("the DTLS fingerprint %q is not 32 hex pairs joined by colons", fp)
			}
		} else if !('0' <= c && c <= '9' || 'A' <= c && c <= 'F') {
			return "", fmt.Errorf("the DTLS fingerprint %q is not 32 hex pairs joined by colons", fp)
		}
	}
	return value, nil
}

func parseCall(what, s string) (Ref, error) {
	r, err := ParseRef(s)
	if err != nil {
		return Ref{}, fmt.Errorf("%w: %s: %v", ErrBody, what, err)
	}
	return r, nil
}

func decode(what string, p []byte, v any) error {
	if err := strictjson.Decode(p, v, MaxBody); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// DecodeRequest parses and checks a call request body.
func DecodeRequest(p []byte) (*Request, error) {
	var b Request
	if err := decode("call request", p, &b); err != nil {
		return nil, err
	}
	if err := Visible("call request: caller", b.Caller, MaxName, true); err != nil {
		return nil, err
	}
	if err := checkMedia("call request: media", b.Media); err != nil {
		return nil, err
	}
	if b.Back != "" {
		r, err := parseCall("call request: back", b.Back)
		if err != nil {
			return nil, err
		}
		b.back = &r
	}
	return &b, nil
}

// DecodeAnswer parses and checks a call answer body.
func DecodeAnswer(p []byte) (*Answer, error) {
	var b Answer
	if err := decode("call answer", p, &b); err != nil {
		return nil, err
	}
	var err error
	if b.ref, err = parseCall("call answer: call", b.Call); err != nil {
		return nil, err
	}
	if err := Visible("call answer: by", b.By, MaxName, true); err != nil {
		return nil, err
	}
	if err := checkMedia("call answer: media", b.Media); err != nil {
		return nil, err
	}
	return &b, nil
}

// DecodeDecline parses and checks a call decline body.
func DecodeDecline(p []byte) (*Decline, error) {
	var b Decline
	if err := decode("call decline", p, &b); err != nil {
		return nil, err
	}
	var err error
	if b.ref, err = parseCall("call decline: call", b.Call); err != nil {
		return nil, err
	}
	if err := Visible("call decline: by", b.By, MaxName, true); err != nil {
		return nil, err
	}
	if err := Visible("call decline: reason", b.Reason, MaxReason, false); err != nil {
		return nil, err
	}
	return &b, nil
}

// DecodeEnd parses and checks a call end body.
func DecodeEnd(p []byte) (*End, error) {
	var b End
	if err := decode("call end", p, &b); err != nil {
		return nil, err
	}
	var err error
	if b.ref, err = parseCall("call end: call", b.Call); err != nil {
		return nil, err
	}
	if err := Visible("call end: by", b.By, MaxName, true); err != nil {
		return nil, err
	}
	if err := checkRecording("call end: recording", b.Recording); err != nil {
		return nil, err
	}
	return &b, nil
}

// DecodeJoin parses and checks a call join body.
func DecodeJoin(p []byte) (*Join, error) {
	var b Join
	if err := decode("call join", p, &b); err != nil {
		return nil, err
	}
	var err error
	if b.ref, err = parseCall("call join: call", b.Call); err != nil {
		return nil, err
	}
	if err := Visible("call join: participant", b.Participant, MaxName, true); err != nil {
		return nil, err
	}
	return &b, nil
}

// DecodeLeave parses and checks a call leave body.
func DecodeLeave(p []byte) (*Leave, error) {
	var b Leave
	if err := decode("call leave", p, &b); err != nil {
		return nil, err
	}
	var err error
	if b.ref, err = parseCall("call leave: call", b.Call); err != nil {
		return nil, err
	}
	if err := Visible("call leave: participant", b.Participant, MaxName, true); err != nil {
		return nil, err
	}
	if err := checkRecording("call leave: recording", b.Recording); err != nil {
		return nil, err
	}
	return &b, nil
}

// Decode parses and checks the body of a call entry of the given kind.
func Decode(kind envelope.Kind, p []byte) (any, error) {
	switch kind {
	case envelope.CallRequest:
		return DecodeRequest(p)
	case envelope.CallAnswer:
		return DecodeAnswer(p)
	case envelope.CallDecline:
		return DecodeDecline(p)
	case envelope.CallEnd:
		return DecodeEnd(p)
	case envelope.CallJoin:
		return DecodeJoin(p)
	case envelope.CallLeave:
		return DecodeLeave(p)
	}
	return nil, fmt.Errorf("%s is not a call entry kind", kind)
}

// Kinds are the call entry kinds, in wire order.
var Kinds = []envelope.Kind{envelope.CallRequest, envelope.CallAnswer, envelope.CallDecline,
	envelope.CallEnd, envelope.CallJoin, envelope.CallLeave}

// RefOf is the call a decoded body refers to: the call a request
// returns (nil if none), or the call an answer, decline, end, join or
// leave names.
func RefOf(body any) *Ref {
	var r Ref
	switch b := body.(type) {
	case *Request:
		return b.back
	case *Answer:
		r = b.ref
	case *Decline:
		r = b.ref
	case *End:
		r = b.ref
	case *Join:
		r = b.ref
	case *Leave:
		r = b.ref
	default:
		return nil
	}
	return &r
}
