package station

// Call recordings (docs/CALLS.md, "Recording"). When a channel's charter
// says call-recording, the station records the audio its own side sends
// in each call: the Opus packets from its console's browser, as they
// go to the other station, into an Ogg Opus file. The file is encrypted
// as it is written (age, its file key sealed with HPKE to this station's
// own key, so that only the station's keys open it) under recordings/ in
// the station's directory. When the call ends, the SHA-256 of the Ogg
// file and its length go into this station's signed end entry (or, if
// the other party ended the call, a leave entry), so that whoever is
// shown the recording later can check it is the one made during the
// call.

import (
	"crypto/hpke"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"filippo.io/age"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4/pkg/media/oggwriter"

	"hotline/internal/call"
	"hotline/internal/identity"
	"hotline/internal/media"
)

// recordingsDir is where the station keeps its recordings.
const recordingsDir = "recordings"

// recordingFile is the name of a call's recording.
func recordingFile(id string) string { return strings.ReplaceAll(id, "/", "_") + ".ogg.age" }

// callRecorder writes one call's recording.
type callRecorder struct {
	mu      sync.Mutex
	path    string
	f       *os.File
	enc     io.WriteCloser // age
	sum     hash.Hash
	n       int64
	ogg     *oggwriter.Writer
	tracks  [media.Seats]*oggwriter.Track
	packets int
	failed  error
	done    bool
}

// oggCounter counts and hashes the Ogg bytes on their way to encryption.
type oggCounter struct{ r *callRecorder }

func (c oggCounter) Write(p []byte) (int, error) {
	c.r.sum.Write(p)
	c.r.n += int64(len(p))
	return c.r.enc.Write(p)
}

// newRecorder opens the recording of call id, encrypted to this
// station's current key.
func (s *Station) newRecorder(id string) (*callRecorder, error) {
	dir := filepath.Join(s.Dir, recordingsDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("recordings: %w", err)
	}
	path := filepath.Join(dir, recordingFile(id))
	f, err := os.OpenFile(path+".part", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("recordings: %w", err)
	}
	keys, _ := s.Identity()
	enc, err := age.Encrypt(f, hpkeRecipient{keys.KEM.PublicKey()})
	if err != nil {
		f.Close()
		os.Remove(path + ".part")
		return nil, fmt.Errorf("recordings: %w", err)
	}
	return &callRecorder{path: path, f: f, enc: enc, sum: sha256.New()}, nil
}

// WriteRTP records one packet its side sent, from the participant on
// seat: each seat is a logical stream of the Ogg file (serial seat+1), so
// that two voices are never interleaved in one. A packet that is not
// Opus the Ogg writer can frame is skipped.
func (r *callRecorder) WriteRTP(seat int, p *rtp.Packet) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done || r.failed != nil {
		return r.failed
	}
	if seat < 0 || seat >= media.Seats {
		return fmt.Errorf("no seat %d", seat)
	}
	if r.ogg == nil {
		w, err := oggwriter.NewWriter(oggCounter{r})
		for i := 0; err == nil && i < media.Seats; i++ {
			r.tracks[i], err = w.NewTrack(uint32(i+1), oggwriter.WithSerial(uint32(i+1)))
		}
		if err != nil {
			r.failed = err
			return err
		}
		r.ogg = w
	}
	q := *p
	q.SSRC = uint32(seat + 1) // whatever the browser's stream: its seat's
	if err := r.tracks[seat].WriteRTP(&q); err != nil {
		return err
	}
	r.packets++
	return nil
}

// finish closes the recording and names it: nil if nothing was recorded
// (the file is then removed).
func (r *callRecorder) finish() (*call.Recording, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return nil, errors.New("the recording is finished already")
	}
	r.done = true
	var err error
	if r.ogg != nil {
		err = r.ogg.Close()
	}
	err = errors.Join(err, r.enc.Close(), r.f.Sync(), r.f.Close())
	if err == nil && r.failed != nil {
		err = r.failed
	}
	if err != nil || r.packets == 0 {
		os.Remove(r.path + ".part")
		return nil, err
	}
	if err := os.Rename(r.path+".part", r.path); err != nil {
		return nil, err
	}
	if d, err := os.Open(filepath.Dir(r.path)); err == nil {
		d.Sync()
		d.Close()
	}
	return &call.Recording{SHA256: hex.EncodeToString(r.sum.Sum(nil)), Bytes: r.n}, nil
}

// readRecording decrypts call id's recording with any of this station's
// keys, current or retired, and checks it against the signed entry's
// hash and length.
func (s *Station) readRecording(id string, want call.Recording) ([]byte, error) {
	path := filepath.Join(s.Dir, recordingsDir, recordingFile(id))
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("the recording of call %s is not in this station's directory (%s)", id, filepath.Join(recordingsDir, recordingFile(id)))
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	keys, _ := s.openKeys()
	ids := make([]age.Identity, 0, len(keys))
	for _, k := range keys {
		ids = append(ids, hpkeIdentity{k})
	}
	r, err := age.Decrypt(f, ids...)
	if err != nil {
		return nil, fmt.Errorf("the recording of call %s does not open with this station's keys: %w", id, err)
	}
	ogg, err := io.ReadAll(io.LimitReader(r, want.Bytes+1))
	if err != nil {
		return nil, fmt.Errorf("the recording of call %s is damaged: %w", id, err)
	}
	sum := sha256.Sum256(ogg)
	if got := hex.EncodeToString(sum[:]); got != want.SHA256 || int64(len(ogg)) != want.Bytes {
		return nil, fmt.Errorf("the recording of call %s is not the one this station's signed entry names: it has %d bytes, SHA-256 %s; the entry says %d bytes, %s",
			id, len(ogg), got, want.Bytes, want.SHA256)
	}
	return ogg, nil
}

// The age stanza that carries a recording's file key, sealed with HPKE
// to the station's KEM key: "hotline-hpke" ENC, the body the sealed key.
const stanzaType = "hotline-hpke"

var (
	recKDF  = hpke.HKDFSHA256()
	recAEAD = hpke.ChaCha20Poly1305()
	recInfo = []byte("hotline call recording v1")
)

type hpkeRecipient struct{ pub hpke.PublicKey }

func (r hpkeRecipient) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	enc, sender, err := hpke.NewSender(r.pub, recKDF, recAEAD, recInfo)
	if err != nil {
		return nil, err
	}
	ct, err := sender.Seal(nil, fileKey)
	if err != nil {
		return nil, err
	}
	return []*age.Stanza{{Type: stanzaType, Args: []string{base64.RawStdEncoding.EncodeToString(enc)}, Body: ct}}, nil
}

type hpkeIdentity struct{ k *identity.Keys }

func (i hpkeIdentity) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	for _, st := range stanzas {
		if st.Type != stanzaType || len(st.Args) != 1 {
			continue
		}
		enc, err := base64.RawStdEncoding.DecodeString(st.Args[0])
		if err != nil {
			continue
		}
		r, err := hpke.NewRecipient(enc, i.k.KEM, recKDF, recAEAD, recInfo)
		if err != nil {
			continue
		}
		if key, err := r.Open(nil, st.Body); err == nil {
			return key, nil
		}
	}
	return nil, age.ErrIncorrectIdentity
}

// ReadRecording is this station's recording of a call (desk.Station).
func (s *Station) ReadRecording(id string, want call.Recording) ([]byte, error) {
	return s.readRecording(id, want)
}
