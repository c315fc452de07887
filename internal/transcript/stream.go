package transcript

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"hotline/internal/strictjson"
)

// ErrOrder marks a bundle whose fields are not in the order hotline
// export writes them, so that it cannot be checked as it streams:
// CheckSeeker then reads it whole.
var ErrOrder = errors.New("the bundle's fields are not in the order hotline export writes them")

// CheckSeeker verifies the bundle r holds (a file, say): as it streams
// (CheckStream), or, if its fields are in another order, read whole
// (ReadBundle, at most MaxBundle bytes).
func CheckSeeker(f io.ReadSeeker, opts Options) (*Checked, error) {
	c, err := CheckStream(f, opts)
	if !errors.Is(err, ErrOrder) {
		return c, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	b, err := ReadBundle(f)
	if err != nil {
		return nil, err
	}
	return Check(b, opts)
}

// CheckStream reads and verifies a bundle from r as it streams: each
// entry is decoded, checked and dropped, so that memory grows by the
// tlog hashes (about 64 bytes an entry), not by the entries. It reads
// the bundle as strictly as ReadBundle: exact field names, each at most
// once, no null, nothing after the object, at most MaxBundle bytes. The
// fields must come in the order hotline export writes them (the logs
// after the cards and the charter; in each log, the entries last), or it
// returns ErrOrder.
func CheckStream(r io.Reader, opts Options) (*Checked, error) {
	lr := &io.LimitedReader{R: r, N: MaxBundle + 1}
	s := &streamer{dec: json.NewDecoder(lr)}
	c, err := s.bundle(opts)
	if lr.N <= 0 {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrBundle, MaxBundle)
	}
	if s.v != nil {
		s.v.stop()
	}
	if err != nil && !errors.Is(err, ErrBundle) && !errors.Is(err, ErrOrder) {
		err = fmt.Errorf("%w: %v", ErrBundle, err)
	}
	return c, err
}

type streamer struct {
	dec *json.Decoder
	v   *verifier
}

// bundle reads the top-level object.
func (s *streamer) bundle(opts Options) (*Checked, error) {
	if err := s.delim('{'); err != nil {
		return nil, err
	}
	var h head
	var export string
	seen := map[string]bool{}
	for s.dec.More() {
		name, err := s.name(seen, "format", "channel", "exported_by", "exported_at", "export", "cards", "charter", "logs")
		if err != nil {
			return nil, err
		}
		switch name {
		case "format":
			if h.Format, err = s.str(name); err == nil && h.Format != BundleFormat && h.Format != BundleFormatV1 {
				err = fmt.Errorf("%w: format %q, want %q (or %q)", ErrBundle, h.Format, BundleFormat, BundleFormatV1)
			}
		case "channel":
			h.Channel, err = s.str(name)
		case "exported_by":
			h.ExportedBy, err = s.str(name)
		case "exported_at":
			var at string
			if at, err = s.str(name); err == nil {
				if h.ExportedAt, err = time.Parse(time.RFC3339Nano, at); err != nil {
					err = fmt.Errorf("exported_at: %v", err)
				}
			}
		case "export":
			export, err = s.str(name)
		case "cards":
			h.Cards, err = s.strs(name)
		case "charter":
			h.Charter, err = s.str(name)
		case "logs":
			for _, need := range []string{"format", "channel", "exported_by", "exported_at", "cards", "charter"} {
				if !seen[need] {
					return nil, fmt.Errorf("%w: logs come before %s", ErrOrder, need)
				}
			}
			if s.v, err = newVerifier(h); err == nil {
				err = s.logs()
			}
		}
		if err != nil {
			return nil, err
		}
	}
	for _, need := range []string{"format", "channel", "exported_by", "exported_at", "cards", "charter", "logs"} {
		if !seen[need] {
			return nil, fmt.Errorf("%w: no %s", ErrBundle, need)
		}
	}
	if err := s.delim('}'); err != nil {
		return nil, err
	}
	if _, err := s.dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the bundle's JSON object", ErrBundle)
	}
	return s.v.finish(export, opts)
}

// logs reads the logs array, each log into the verifier.
func (s *streamer) logs() error {
	if err := s.delim('['); err != nil {
		return err
	}
	for s.dec.More() {
		if err := s.log(); err != nil {
			return err
		}
	}
	return s.delim(']')
}

// log reads one log: its author, checkpoint and key statements, then its
// entries, one at a time.
func (s *streamer) log() error {
	if err := s.delim('{'); err != nil {
		return err
	}
	var author, checkpoint string
	var keys []BundleKey
	var disclosed []Disclosure
	seen := map[string]bool{}
	for s.dec.More() {
		name, err := s.name(seen, "author", "checkpoint", "keys", "disclosed", "entries")
		if err != nil {
			return err
		}
		switch name {
		case "author":
			author, err = s.str(name)
		case "checkpoint":
			checkpoint, err = s.str(name)
		case "keys":
			var raw json.RawMessage
			if err = s.dec.Decode(&raw); err == nil {
				err = strictjson.Decode(raw, &keys, MaxBundle)
			}
		case "disclosed":
			var raw json.RawMessage
			if err = s.dec.Decode(&raw); err == nil {
				err = strictjson.Decode(raw, &disclosed, MaxBundle)
			}
		case "entries":
			if !seen["author"] {
				return fmt.Errorf("%w: a log's entries come before its author", ErrOrder)
			}
			if err = s.v.beginLog(author, checkpoint, keys, disclosed); err == nil {
				err = s.entries()
			}
			if err == nil && s.dec.More() {
				return fmt.Errorf("%w: a log's entries come before its checkpoint, keys or disclosures", ErrOrder)
			}
		}
		if err != nil {
			return err
		}
	}
	if !seen["author"] || !seen["entries"] {
		return fmt.Errorf("%w: a log without its author or entries", ErrBundle)
	}
	if err := s.delim('}'); err != nil {
		return err
	}
	return s.v.endLog()
}

// entries reads a log's entries, each a base64 string.
func (s *streamer) entries() error {
	if err := s.delim('['); err != nil {
		return err
	}
	for i := 1; s.dec.More(); i++ {
		t, err := s.dec.Token()
		if err != nil {
			return err
		}
		str, ok := t.(string)
		if !ok {
			return fmt.Errorf("%w: entry %d of %s's log is %v, not a base64 string", ErrBundle, i, s.v.log.author, t)
		}
		raw, err := base64.StdEncoding.DecodeString(str)
		if err != nil {
			return fmt.Errorf("%w: entry %d of %s's log: %v", ErrBundle, i, s.v.log.author, err)
		}
		if err := s.v.entry(raw); err != nil {
			return err
		}
	}
	return s.delim(']')
}

// name reads an object member's name: one of names, and not seen before.
func (s *streamer) name(seen map[string]bool, names ...string) (string, error) {
	t, err := s.dec.Token()
	if err != nil {
		return "", err
	}
	name, _ := t.(string)
	if !slices.Contains(names, name) {
		return "", fmt.Errorf("%w: unknown field %q", ErrBundle, name)
	}
	if seen[name] {
		return "", fmt.Errorf("%w: field %q given twice", ErrBundle, name)
	}
	seen[name] = true
	return name, nil
}

// str reads a string value.
func (s *streamer) str(name string) (string, error) {
	t, err := s.dec.Token()
	if err != nil {
		return "", err
	}
	v, ok := t.(string)
	if !ok {
		return "", fmt.Errorf("%w: %s is %v, not a string", ErrBundle, name, t)
	}
	return v, nil
}

// strs reads an array of strings.
func (s *streamer) strs(name string) ([]string, error) {
	if err := s.delim('['); err != nil {
		return nil, err
	}
	var out []string
	for s.dec.More() {
		v, err := s.str(name)
		if err != nil {
			return nil, err
		}
		if len(out) == 16 {
			return nil, fmt.Errorf("%w: more than 16 %s", ErrBundle, name)
		}
		out = append(out, v)
	}
	return out, s.delim(']')
}

// delim reads the delimiter d.
func (s *streamer) delim(d json.Delim) error {
	t, err := s.dec.Token()
	if err != nil {
		return err
	}
	if t != d {
		return fmt.Errorf("%w: %v where %v was expected", ErrBundle, t, d)
	}
	return nil
}
