package protocol

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/cryptobyte"

	"hotline/internal/envelope"
	"hotline/internal/wire"
)

// Version is the protocol version a station states when it connects.
// Version 2 seals bodies under key epochs (HLE2 envelopes), which a
// version 1 station cannot open. Version 3 adds the ahead and durable
// frames, which a version 2 station refuses as unknown: both stations of
// a pair move to it together. Version 4 receipts are C2SP cosignature/v1
// signatures, with the receiver's time (transcript.Cosigner), which a
// version 3 station refuses as not signed by its peer (a version 4
// station still takes the plain receipts it stored before); its entries
// are envelope version 3 (a key for each entry); and it moves the
// checkpoint of entries sent ahead from the ahead frame, which carries
// none, to the durable frame: an author signs no checkpoint over entries
// before they are durable (docs/PROTOCOL.md, "Sent ahead").
const Version = 4

// MaxFrame is the largest frame a station reads, in bytes (wire.MaxFrame,
// which the relay reads too).
const MaxFrame = wire.MaxFrame

// ErrFrame marks a frame that does not decode.
var ErrFrame = errors.New("malformed frame")

// FrameType is the first byte of a frame. The layouts are in
// docs/PROTOCOL.md, section "Frames".
type FrameType uint8

// Frame types.
const (
	FrameHello      FrameType = 1 // dialer → acceptor: protocol version
	FrameStatus     FrameType = 2 // acceptor → dialer: what it holds of the dialer's logs
	FrameEntries    FrameType = 3 // author → receiver: consecutive entries and a checkpoint
	FrameReceipt    FrameType = 4 // receiver → author: a cosigned checkpoint
	FrameResend     FrameType = 5 // receiver → author: send again from an index
	FrameError      FrameType = 6 // either way: why the connection is refused
	FrameProbe      FrameType = 7 // either way: a machine-answered link test on a channel
	FrameProbeReply FrameType = 8 // the answer, with the answerer's clock
	FrameFetch      FrameType = 9 // author → receiver: send my own log back from an index (after a restore)
	// Version 3: entries sent while the author's write of them is under
	// way, held by the receiver until the durable frame says they are
	// written (docs/PROTOCOL.md, "Sent ahead"). Version 4: the ahead
	// frame carries no checkpoint; the durable frame does.
	FrameAhead   FrameType = 10 // author → receiver: as entries with no checkpoint, not yet durable at the author
	FrameDurable FrameType = 11 // author → receiver: the entries sent ahead up to an index are durable, and their checkpoint
)

func (t FrameType) String() string {
	switch t {
	case FrameHello:
		return "hello"
	case FrameStatus:
		return "status"
	case FrameEntries:
		return "entries"
	case FrameReceipt:
		return "receipt"
	case FrameResend:
		return "resend"
	case FrameFetch:
		return "fetch"
	case FrameAhead:
		return "ahead"
	case FrameDurable:
		return "durable"
	case FrameError:
		return "error"
	case FrameProbe:
		return "probe"
	case FrameProbeReply:
		return "probe-reply"
	}
	return fmt.Sprintf("frame(%d)", uint8(t))
}

// Frame is a decoded frame. Which fields are set depends on Type.
type Frame struct {
	Type       FrameType
	Version    uint16      // hello, status
	Channel    string      // entries, receipt, resend
	Author     string      // entries, receipt, resend: whose log
	Checkpoint []byte      // entries, durable: signed by the author (ahead: none); receipt: cosigned
	Entries    [][]byte    // entries: exact envelope bytes
	From       uint64      // resend, fetch; durable: the last index durable
	Logs       []LogStatus // status
	Text       string      // error
	Seq        uint64      // probe, probe-reply
	Time       time.Time   // probe, probe-reply: the tester's clock when it sent the test
	PeerTime   time.Time   // probe-reply: the answerer's clock
}

// LogStatus says how much of one log a receiver holds durably, with its
// latest receipt for it.
type LogStatus struct {
	Channel string
	Author  string
	Size    uint64
	Receipt []byte
}

func addString(b *cryptobyte.Builder, s string) {
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(s)) })
}

func addBytes16(b *cryptobyte.Builder, p []byte) {
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(p) })
}

// Encode serializes f.
func (f *Frame) Encode() []byte {
	b := cryptobyte.NewBuilder(nil)
	b.AddUint8(uint8(f.Type))
	switch f.Type {
	case FrameHello:
		b.AddUint16(f.Version)
	case FrameStatus:
		b.AddUint16(f.Version)
		b.AddUint16(uint16(len(f.Logs)))
		for _, l := range f.Logs {
			addString(b, l.Channel)
			addString(b, l.Author)
			b.AddUint64(l.Size)
			addBytes16(b, l.Receipt)
		}
	case FrameEntries, FrameAhead:
		addString(b, f.Channel)
		addString(b, f.Author)
		addBytes16(b, f.Checkpoint)
		b.AddUint16(uint16(len(f.Entries)))
		for _, e := range f.Entries {
			b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(e) })
		}
	case FrameReceipt:
		addString(b, f.Channel)
		addString(b, f.Author)
		addBytes16(b, f.Checkpoint)
	case FrameResend, FrameFetch, FrameDurable:
		addString(b, f.Channel)
		addString(b, f.Author)
		b.AddUint64(f.From)
		if f.Type == FrameDurable {
			addBytes16(b, f.Checkpoint)
		}
	case FrameError:
		text := f.Text
		if len(text) > 1024 {
			text = text[:1024]
		}
		addBytes16(b, []byte(text))
	case FrameProbe, FrameProbeReply:
		addString(b, f.Channel)
		b.AddUint64(f.Seq)
		b.AddUint64(uint64(f.Time.UnixNano()))
		if f.Type == FrameProbeReply {
			b.AddUint64(uint64(f.PeerTime.UnixNano()))
		}
	}
	out, err := b.Bytes()
	if err != nil {
		panic(err) // lengths are bounded by construction
	}
	return out
}

// DecodeFrame parses a frame. It checks structure and limits only;
// signatures and meaning are the core's business.
func DecodeFrame(p []byte) (*Frame, error) {
	if len(p) > MaxFrame {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrFrame, len(p), MaxFrame)
	}
	s := cryptobyte.String(p)
	var t uint8
	if !s.ReadUint8(&t) {
		return nil, fmt.Errorf("%w: empty", ErrFrame)
	}
	f := &Frame{Type: FrameType(t)}
	readString := func(out *string) bool {
		var v cryptobyte.String
		if !s.ReadUint8LengthPrefixed(&v) {
			return false
		}
		*out = string(v)
		return true
	}
	readBytes16 := func(out *[]byte) bool {
		var v cryptobyte.String
		if !s.ReadUint16LengthPrefixed(&v) {
			return false
		}
		*out = []byte(v)
		return true
	}
	ok := true
	switch f.Type {
	case FrameHello:
		ok = s.ReadUint16(&f.Version)
	case FrameStatus:
		var n uint16
		ok = s.ReadUint16(&f.Version) && s.ReadUint16(&n)
		for i := 0; ok && i < int(n); i++ {
			var l LogStatus
			ok = readString(&l.Channel) && readString(&l.Author) && s.ReadUint64(&l.Size) && readBytes16(&l.Receipt)
			f.Logs = append(f.Logs, l)
		}
	case FrameEntries, FrameAhead:
		var n uint16
		ok = readString(&f.Channel) && readString(&f.Author) && readBytes16(&f.Checkpoint) && s.ReadUint16(&n)
		if ok && n == 0 {
			return nil, fmt.Errorf("%w: %s frame with no entries", ErrFrame, f.Type)
		}
		if ok && f.Type == FrameAhead && len(f.Checkpoint) > 0 {
			// Entries sent ahead are not durable at their author: it
			// signs no checkpoint over them until they are.
			return nil, fmt.Errorf("%w: ahead frame with a checkpoint", ErrFrame)
		}
		if f.Type == FrameAhead {
			f.Checkpoint = nil
		}
		for i := 0; ok && i < int(n); i++ {
			var e cryptobyte.String
			ok = s.ReadUint24LengthPrefixed(&e)
			if ok && len(e) > envelope.MaxSize {
				return nil, fmt.Errorf("%w: entry %d has %d bytes: %w", ErrFrame, i, len(e), envelope.ErrTooLarge)
			}
			f.Entries = append(f.Entries, []byte(e))
		}
	case FrameReceipt:
		ok = readString(&f.Channel) && readString(&f.Author) && readBytes16(&f.Checkpoint)
	case FrameResend, FrameFetch, FrameDurable:
		ok = readString(&f.Channel) && readString(&f.Author) && s.ReadUint64(&f.From)
		if ok && f.Type == FrameDurable {
			ok = readBytes16(&f.Checkpoint)
		}
	case FrameError:
		var text []byte
		ok = readBytes16(&text)
		f.Text = string(text)
	case FrameProbe, FrameProbeReply:
		var t, pt uint64
		ok = readString(&f.Channel) && s.ReadUint64(&f.Seq) && s.ReadUint64(&t)
		if ok && f.Type == FrameProbeReply {
			ok = s.ReadUint64(&pt)
			f.PeerTime = time.Unix(0, int64(pt))
		}
		f.Time = time.Unix(0, int64(t))
	default:
		return nil, fmt.Errorf("%w: unknown type %d", ErrFrame, t)
	}
	if !ok {
		return nil, fmt.Errorf("%w: truncated %s frame", ErrFrame, f.Type)
	}
	if !s.Empty() {
		return nil, fmt.Errorf("%w: %d trailing bytes after %s frame", ErrFrame, len(s), f.Type)
	}
	return f, nil
}
