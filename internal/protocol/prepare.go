package protocol

import (
	"crypto/ed25519"

	"golang.org/x/mod/sumdb/note"

	"hotline/internal/envelope"
	"hotline/internal/identity"
	"hotline/internal/transcript"
)

// Prepared is the pure, costly part of handling a frame, done before the
// frame reaches the core: decoding it and, for an entries frame, parsing
// every entry, verifying its signature and opening its body, and verifying
// the checkpoint's signature (for a durable frame, only that: the
// entries it makes durable were prepared when they came ahead). The station
// does it on the connection's own goroutine, so that several frames are
// checked in parallel while the core's loop goes on; the core makes the
// same checks itself for a frame that comes without it (the simulator's).
type Prepared struct {
	Frame   *Frame
	Err     error    // why the frame does not decode
	Entries []Opened // for an entries frame, one per entry
	key     ed25519.PublicKey
	// The entries frame's checkpoint, opened with key as its author's
	// (transcript.OpenCheckpoint); the core takes it when that is the key
	// the checkpoint must be signed with.
	cp    *note.Note
	cpErr error
	cpSet bool
}

// Opened is one entry as prepared.
type Opened struct {
	Env     *envelope.Envelope
	Err     error // parse or signature error
	Body    []byte
	OpenErr error // the body does not open
	opened  bool  // Body and OpenErr are set
	// Epoch is the key epoch the entry begins, if it begins one and it
	// opened. An entry that continues an epoch is opened by the core,
	// which knows the log's epoch (a symmetric open, cheap).
	Epoch *envelope.Epoch
}

// Prepare decodes data from the peer whose signing key is peerKey and
// checks and opens its entries with self's keys.
func Prepare(data []byte, peerKey ed25519.PublicKey, self *identity.Keys) *Prepared {
	pre := &Prepared{key: peerKey}
	pre.Frame, pre.Err = DecodeFrame(data)
	if pre.Err != nil || pre.Frame.Type != FrameEntries && pre.Frame.Type != FrameAhead && pre.Frame.Type != FrameDurable {
		return pre
	}
	// The checkpoint's signature too, here rather than in the core's loop.
	if f := pre.Frame; len(f.Checkpoint) > 0 && f.Author != self.Name {
		if v, err := peerVerifier(f.Author, peerKey); err == nil {
			_, pre.cp, pre.cpErr = transcript.OpenCheckpoint(f.Checkpoint, v)
			pre.cpSet = true
		}
	}
	if pre.Frame.Type == FrameDurable {
		return pre
	}
	pre.Entries = make([]Opened, len(pre.Frame.Entries))
	for i, raw := range pre.Frame.Entries {
		o := &pre.Entries[i]
		o.Env, o.Err = envelope.Parse(raw)
		if o.Err == nil {
			o.Err = o.Env.Verify(peerKey)
		}
		if o.Err == nil && o.Env.BeginsEpoch() {
			o.Body, o.Epoch, o.OpenErr = o.Env.OpenBeginning(self.KEM)
			o.opened = true
		}
	}
	return pre
}

// checkEntry returns entry i of an entries frame, parsed and verified:
// from pre when it was prepared against this peer's key, checked here
// otherwise (and then not yet opened: see open).
func checkEntry(pre *Prepared, peerKey ed25519.PublicKey, f *Frame, i int) Opened {
	if pre != nil && pre.key.Equal(peerKey) && i < len(pre.Entries) {
		return pre.Entries[i]
	}
	var o Opened
	o.Env, o.Err = envelope.Parse(f.Entries[i])
	if o.Err == nil {
		o.Err = o.Env.Verify(peerKey)
	}
	return o
}

// peerVerifier is the note verifier of name's key, for a name from a
// frame (which may not be a valid one).
func peerVerifier(name string, key ed25519.PublicKey) (note.Verifier, error) {
	vkey, err := note.NewEd25519VerifierKey(name, key)
	if err != nil {
		return nil, err
	}
	return note.NewVerifier(vkey)
}

// openCheckpoint opens an entries frame's checkpoint with v, the verifier
// of key: from pre when it was prepared with that key.
func openCheckpoint(pre *Prepared, f *Frame, key ed25519.PublicKey, v note.Verifier) (*note.Note, error) {
	if pre != nil && pre.Frame == f && pre.cpSet && pre.key.Equal(key) {
		return pre.cp, pre.cpErr
	}
	_, n, err := transcript.OpenCheckpoint(f.Checkpoint, v)
	return n, err
}

// open returns the body of an entry that carries its encapsulation,
// opening it now with self's keys if it was not prepared.
func (o *Opened) open(self *identity.Keys) ([]byte, error) {
	if !o.opened {
		o.Body, o.Epoch, o.OpenErr = o.Env.OpenBeginning(self.KEM)
		o.opened = true
	}
	return o.Body, o.OpenErr
}
