package ops

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"hotline/internal/badrequest"
	"hotline/internal/wire"
)

// OfflineFormat names the offline bundle format (docs/PROTOCOL.md,
// "Offline path").
const OfflineFormat = "hotline-offline/v1"

// MaxOffline bounds the size of an offline bundle file.
const MaxOffline = 256 << 20

// MaxOfflineFrames bounds the frames of an offline bundle. A bundle that
// BundleExport writes holds, for each channel with the peer, entries frames
// of 256 entries (fewer in the last one, and a new frame at a key change)
// and one receipt frame. An entry has at least 150 bytes, so the entries
// frames of 256 entries that fit in MaxOffline number about 5,000. The rest
// of the cap leaves two or three frames for each of 20,000 channels, far
// more than two stations keep.
const MaxOfflineFrames = 1 << 16

// maxRun bounds the bytes of a bundle the reader holds at once: a JSON
// token or a run of white space. The longest token a bundle needs is a
// frame of wire.MaxFrame bytes in base64, with its quotes.
var maxRun = base64.StdEncoding.EncodedLen(wire.MaxFrame) + 2

// OfflineBundle carries, by hand, what a live connection would: the
// sender's entries the receiver has not receipted, and the sender's
// receipts of the receiver's logs, as protocol frames. Every entry,
// checkpoint and receipt in it is signed.
type OfflineBundle struct {
	Format    string    `json:"format"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	CreatedAt time.Time `json:"created_at"`
	Frames    [][]byte  `json:"frames"` // base64 in JSON
}

// ImportView reports an import.
type ImportView struct {
	From    string `json:"from"`
	Frames  int    `json:"frames"`
	Entries int    `json:"entries"` // new entries taken; 0 when imported before
	Refused int    `json:"refused"`
}

// ParseOffline reads an offline bundle held in memory strictly
// (ReadOffline), frames included.
func ParseOffline(data []byte) (*OfflineBundle, error) {
	frames := [][]byte{}
	b, _, err := ReadOffline(bytes.NewReader(data), func(f []byte) error {
		frames = append(frames, f)
		return nil
	})
	if err != nil {
		return nil, err
	}
	b.Frames = frames
	return b, nil
}

// ReadOffline reads an offline bundle from r strictly, as a stream. It
// gives each frame to each, in order, as soon as the frame is read, and
// stops at the first error each returns. It returns the bundle without
// its frames, and the number of frames.
//
// It holds one frame at a time, so its memory is bounded by the largest
// frame, whatever the size of the bundle or its number of frames. It
// refuses, at the byte or frame where it finds it: more than MaxOffline
// bytes, more than MaxOfflineFrames frames, a frame of 0 bytes or more
// than wire.MaxFrame, a JSON token or white space longer than a frame
// can be, anything but one JSON object, a field other than those of
// OfflineBundle (exact names, each at most once), data after the object,
// another format, and a bundle that does not name both stations. Its
// own errors are badrequest.Err. An error of r comes wrapped, and one of
// each as it is.
func ReadOffline(r io.Reader, each func(frame []byte) error) (*OfflineBundle, int, error) {
	return readOffline(r, MaxOffline, each)
}

// readOffline is ReadOffline with size for MaxOffline.
func readOffline(r io.Reader, size int64, each func(frame []byte) error) (*OfflineBundle, int, error) {
	l := &limited{r: r, size: size}
	d := json.NewDecoder(l)
	d.UseNumber() // a number is refused; it need not be parsed first
	rd := &offlineReader{l: l, d: d}
	b, n, err := rd.read(each)
	if err != nil {
		return nil, n, err
	}
	switch {
	case b.Format != OfflineFormat:
		return nil, n, badrequest.New("offline bundle: format %q, want %q", b.Format, OfflineFormat)
	case b.From == "" || b.To == "":
		return nil, n, badrequest.New("offline bundle: from and to must be named")
	}
	return b, n, nil
}

// offlineReader is one reading of a bundle.
type offlineReader struct {
	l *limited
	d *json.Decoder
}

// token reads the next JSON token; where says what it is, for errors.
func (rd *offlineReader) token(where string) (json.Token, error) {
	t, err := rd.d.Token()
	if err != nil {
		return nil, rd.explain(where, err)
	}
	return t, nil
}

// explain says an error of the decoder as the bundle's: r's error
// wrapped, and any other as a bad request naming what was being read.
func (rd *offlineReader) explain(where string, err error) error {
	var lim *limitError
	switch {
	case errors.As(err, &lim):
		return badrequest.New("offline bundle: reading %s: %v", where, lim)
	case rd.l.readErr != nil && errors.Is(err, rd.l.readErr):
		return fmt.Errorf("offline bundle: %w", err)
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return badrequest.New("offline bundle: reading %s: the file ends", where)
	}
	return badrequest.New("offline bundle: reading %s: %v", where, err)
}

// str reads a field whose value is a string or null ("").
func (rd *offlineReader) str(name string) (string, error) {
	t, err := rd.token(name)
	if err != nil {
		return "", err
	}
	switch v := t.(type) {
	case string:
		return v, nil
	case nil:
		return "", nil
	}
	return "", badrequest.New("offline bundle: %s is %s, not a string", name, kind(t))
}

func (rd *offlineReader) read(each func([]byte) error) (*OfflineBundle, int, error) {
	b := &OfflineBundle{}
	t, err := rd.token("the start")
	if err != nil {
		return nil, 0, err
	}
	if t != json.Delim('{') {
		return nil, 0, badrequest.New("offline bundle: %s, not a JSON object", kind(t))
	}
	seen := map[string]bool{}
	n := 0
	for rd.d.More() {
		t, err := rd.token("a field name")
		if err != nil {
			return nil, n, err
		}
		key := t.(string) // json.Decoder gives only strings for object keys
		if seen[key] {
			return nil, n, badrequest.New("offline bundle: field %q given twice", key)
		}
		seen[key] = true
		switch key {
		case "format":
			if b.Format, err = rd.str(key); err == nil && b.Format != OfflineFormat {
				// Said at once: the rest is not read as this version.
				return nil, n, badrequest.New("offline bundle: format %q, want %q", b.Format, OfflineFormat)
			}
		case "from":
			b.From, err = rd.str(key)
		case "to":
			b.To, err = rd.str(key)
		case "created_at":
			var s string
			if s, err = rd.str(key); err == nil && s != "" {
				if perr := b.CreatedAt.UnmarshalText([]byte(s)); perr != nil {
					err = badrequest.New("offline bundle: created_at: %v", perr)
				}
			}
		case "frames":
			n, err = rd.frames(each)
		default:
			return nil, n, badrequest.New("offline bundle: unknown field %q", key)
		}
		if err != nil {
			return nil, n, err
		}
	}
	if _, err := rd.token("the end of the object"); err != nil {
		return nil, n, err
	}
	switch t, err := rd.d.Token(); {
	case err == io.EOF:
		return b, n, nil
	case err == nil:
		return nil, n, badrequest.New("offline bundle: data after the JSON object (%s)", kind(t))
	default:
		return nil, n, rd.explain("after the JSON object", err)
	}
}

// frames reads the frames array, giving each frame to each.
func (rd *offlineReader) frames(each func([]byte) error) (int, error) {
	t, err := rd.token("frames")
	if err != nil || t == nil {
		return 0, err
	}
	if t != json.Delim('[') {
		return 0, badrequest.New("offline bundle: frames is %s, not an array", kind(t))
	}
	n := 0
	for rd.d.More() {
		n++
		if n > MaxOfflineFrames {
			return n, badrequest.New("offline bundle: more than %d frames, the limit (refused at frame %d)", MaxOfflineFrames, n)
		}
		t, err := rd.token(fmt.Sprintf("frame %d", n))
		if err != nil {
			return n, err
		}
		var s string
		switch v := t.(type) {
		case string:
			s = v
		case nil:
		default:
			return n, badrequest.New("offline bundle: frame %d is %s, not a string", n, kind(t))
		}
		f, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return n, badrequest.New("offline bundle: frame %d: %v", n, err)
		}
		if len(f) == 0 || len(f) > wire.MaxFrame {
			return n, badrequest.New("offline bundle: frame %d has %d bytes, limit %d", n, len(f), wire.MaxFrame)
		}
		if err := each(f); err != nil {
			return n, err
		}
	}
	_, err = rd.token("the end of the frames")
	return n, err
}

// kind names what a JSON token is, for errors.
func kind(t json.Token) string {
	switch v := t.(type) {
	case json.Delim:
		if v == '[' {
			return "an array"
		}
		if v == '{' {
			return "an object"
		}
		return fmt.Sprintf("%q", string(v))
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", t)
}

// limited passes a bundle's bytes on to json.Decoder, counting them. It
// stops at the first byte that makes the bundle larger than size, or that
// makes a run without a JSON delimiter outside a string (a token, or white
// space) longer than maxRun. The decoder holds at most one such run, and
// so at most a frame and what it has read ahead.
type limited struct {
	r       io.Reader
	size    int64 // the most bytes passed on
	n       int64 // bytes passed on
	run     int   // bytes since the last delimiter outside a string
	str     bool  // in a string
	esc     bool  // in a string, after a backslash
	limit   error // the limit a byte broke
	readErr error // the first error of r, but io.EOF
}

// limitError is a limit a bundle broke, at a byte.
type limitError struct {
	at   int64 // the byte, from 0
	run  bool  // a run without a delimiter, not the size of the bundle
	size int64 // the size the bundle is limited to
}

func (e *limitError) Error() string {
	if e.run {
		return fmt.Sprintf("more than %d bytes without a JSON delimiter at byte %d (a frame has at most %d bytes, %d in base64)",
			maxRun, e.at, wire.MaxFrame, maxRun-2)
	}
	return fmt.Sprintf("more than %d bytes, the limit", e.size)
}

func (l *limited) Read(p []byte) (int, error) {
	if l.limit != nil {
		return 0, l.limit
	}
	n, err := l.r.Read(p)
	if err != nil && err != io.EOF && l.readErr == nil {
		l.readErr = err
	}
	for i := 0; i < n; i++ {
		if l.str && !l.esc {
			// The body of a string, up to its end or an escape, at once.
			j := bytes.IndexAny(p[i:n], `"\`)
			if j < 0 {
				j = n - i
			}
			if l.run+j > maxRun {
				return l.stop(i+maxRun-l.run, true)
			}
			l.run += j
			if i += j; i == n {
				break
			}
		}
		switch c := p[i]; {
		case l.esc:
			l.esc = false
		case l.str:
			l.esc = c == '\\'
			l.str = c != '"'
		case c == '"':
			l.str = true
		case c == '{' || c == '}' || c == '[' || c == ']' || c == ',' || c == ':':
			l.run = 0
			continue
		}
		if l.run++; l.run > maxRun {
			return l.stop(i, true)
		}
	}
	if l.n+int64(n) > l.size {
		return l.stop(int(l.size-l.n), false)
	}
	l.n += int64(n)
	return n, err
}

// stop passes on the first i bytes of the last read and ends the reading
// at the limit they reach.
func (l *limited) stop(i int, run bool) (int, error) {
	if l.n+int64(i) > l.size {
		i, run = int(l.size-l.n), false
	}
	l.limit = &limitError{at: l.n + int64(i), run: run, size: l.size}
	l.n += int64(i)
	return i, l.limit
}
