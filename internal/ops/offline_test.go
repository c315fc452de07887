package ops

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"hotline/internal/badrequest"
	"hotline/internal/wire"
)

// stream is a bundle made as it is read: a head, n times the same frame,
// and a tail. It lets a test read bundles of any size or number of frames
// without holding them.
type stream struct {
	parts [][]byte // head, first frame, each further frame, tail
	n     int      // frames left to give
	cur   []byte   // what is left of the part being read
	state int      // 0 head, 1 frames, 2 tail, 3 done
}

// newStream is a bundle from USA to CHN of n copies of frame; extra is put
// in the object after the frames.
func newStream(n int, frame []byte, extra string) *stream {
	q := `"` + base64.StdEncoding.EncodeToString(frame) + `"`
	head := fmt.Sprintf(`{"format":%q,"from":"USA","to":"CHN","created_at":"2026-11-25T10:00:00Z","frames":[`, OfflineFormat)
	return &stream{parts: [][]byte{[]byte(head), []byte(q), []byte("," + q), []byte("]" + extra + "}\n")}, n: n, cur: []byte(head)}
}

func (s *stream) Read(p []byte) (int, error) {
	total := 0
	for total < len(p) {
		if len(s.cur) == 0 {
			switch {
			case s.state == 0 && s.n > 0:
				s.state, s.cur = 1, s.parts[1]
				s.n--
			case s.state <= 1 && s.n > 0:
				s.cur = s.parts[2]
				s.n--
			case s.state <= 1:
				s.state, s.cur = 2, s.parts[3]
			default:
				if total == 0 {
					return 0, io.EOF
				}
				return total, nil
			}
		}
		c := copy(p[total:], s.cur)
		s.cur = s.cur[c:]
		total += c
	}
	return total, nil
}

// readAll reads a bundle and keeps nothing of its frames but their count
// and sizes.
func readAll(r io.Reader) (*OfflineBundle, []int, error) {
	var sizes []int
	b, n, err := ReadOffline(r, func(f []byte) error {
		sizes = append(sizes, len(f))
		return nil
	})
	if err == nil && n != len(sizes) {
		err = fmt.Errorf("ReadOffline counted %d frames, gave %d", n, len(sizes))
	}
	return b, sizes, err
}

// TestReadOfflineRefuses: each limit of a bundle, and each way it can be
// malformed, is refused with an error that names it and, for a frame, its
// number.
func TestReadOfflineRefuses(t *testing.T) {
	head := fmt.Sprintf(`{"format":%q,"from":"USA","to":"CHN",`, OfflineFormat)
	ok := head + `"frames":["AQ=="]}`
	big := strings.Repeat("A", maxRun)
	cases := []struct {
		name string
		r    io.Reader
		want string
	}{
		{"a frame more than the limit", newStream(MaxOfflineFrames+1, []byte{4}, ""),
			"more than 65536 frames, the limit (refused at frame 65537)"},
		{"a million frames", newStream(1_000_000, []byte{4}, ""),
			"more than 65536 frames, the limit (refused at frame 65537)"},
		{"a frame longer in the file than a frame can be", strings.NewReader(head + `"frames":["AQ==","` + big + `"]}`),
			"reading frame 2: more than 5592410 bytes without a JSON delimiter"},
		{"a frame of one byte over the limit", newStream(1, make([]byte, wire.MaxFrame+1), ""),
			"frame 1 has 4194305 bytes, limit 4194304"},
		{"an empty frame", strings.NewReader(head + `"frames":["AQ==",""]}`), "frame 2 has 0 bytes"},
		{"a null frame", strings.NewReader(head + `"frames":[null]}`), "frame 1 has 0 bytes"},
		{"a frame not in base64", strings.NewReader(head + `"frames":["AQ==","A"]}`), "frame 2: illegal base64"},
		{"a frame that is a number", strings.NewReader(head + `"frames":[1]}`), "frame 1 is a number, not a string"},
		{"frames nested", strings.NewReader(head + `"frames":` + strings.Repeat("[", 100000)), "frame 1 is an array, not a string"},
		{"frames not an array", strings.NewReader(head + `"frames":{}}`), "frames is an object, not an array"},
		{"white space longer than a frame", strings.NewReader(head + `"frames":["AQ=="` + strings.Repeat(" ", maxRun+1) + `]}`),
			"without a JSON delimiter"},
		{"a number longer than a frame", strings.NewReader(`{"from":` + strings.Repeat("1", maxRun+1) + `}`),
			"without a JSON delimiter"},
		{"an unknown field", strings.NewReader(head + `"frames":[],"signature":"x"}`), `unknown field "signature"`},
		{"a field named in capitals", strings.NewReader(head + `"Frames":[]}`), `unknown field "Frames"`},
		{"a field twice", strings.NewReader(head + `"frames":[],"to":"RUS"}`), `field "to" given twice`},
		{"trailing data", strings.NewReader(ok + ` x`), "after the JSON object: invalid character 'x'"},
		{"a second object", strings.NewReader(ok + ` {}`), "data after the JSON object (an object)"},
		{"trailing data after a million frames", newStream(MaxOfflineFrames, []byte{4}, "}"), "after the JSON object"},
		{"not an object", strings.NewReader(`["AQ=="]`), "an array, not a JSON object"},
		{"empty", strings.NewReader(``), "reading the start: the file ends"},
		{"cut short", strings.NewReader(ok[:len(ok)-5]), "the file ends"},
		{"another format", strings.NewReader(`{"format":"hotline-offline/v0","frames":["AQ=="]}`), `format "hotline-offline/v0", want "hotline-offline/v1"`},
		{"no format", strings.NewReader(`{"from":"USA","to":"CHN","frames":[]}`), `format "", want`},
		{"no recipient", strings.NewReader(fmt.Sprintf(`{"format":%q,"from":"USA","frames":[]}`, OfflineFormat)), "from and to must be named"},
		{"a sender that is not a string", strings.NewReader(fmt.Sprintf(`{"format":%q,"from":["USA"]}`, OfflineFormat)), "from is an array, not a string"},
		{"a bad time", strings.NewReader(head + `"created_at":"yesterday","frames":[]}`), "created_at: parsing time"},
	}
	for _, c := range cases {
		_, _, err := readAll(c.r)
		if err == nil || !badrequest.Is(err) || !strings.Contains(err.Error(), "offline bundle") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want a bad request naming %q", c.name, err, c.want)
		}
	}
}

// TestReadOfflineTooLarge: a bundle over its size limit is refused at the
// byte past it, whatever it holds. The limit is made 1 MiB here, rather
// than MaxOffline, so that the test reads 1 MiB and not 256.
func TestReadOfflineTooLarge(t *testing.T) {
	frame := make([]byte, 3<<10) // 4 KiB in base64
	var given int
	_, _, err := readOffline(newStream(1000, frame, ""), 1<<20, func([]byte) error {
		given++
		return nil
	})
	if err == nil || !badrequest.Is(err) || !strings.Contains(err.Error(), "reading frame 256: more than 1048576 bytes, the limit") {
		t.Fatalf("a bundle of 4 MiB with a limit of 1 MiB: %v; want a refusal naming the limit and the frame", err)
	}
	if given != 255 {
		t.Errorf("%d frames given before the refusal, want the 255 before the one the limit cuts", given)
	}
}

// failing fails after what it gives.
type failing struct {
	r   io.Reader
	err error
}

func (f failing) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		err = f.err
	}
	return n, err
}

// TestReadOfflineReaderError: an error of the reader is returned as it is,
// not as a bad request: the API answers a body too large with 413.
func TestReadOfflineReaderError(t *testing.T) {
	gone := errors.New("connection reset")
	_, _, err := readAll(failing{strings.NewReader(`{"format":"hotline-offline/v1","frames":["AQ==","AQ`), gone})
	if !errors.Is(err, gone) || badrequest.Is(err) {
		t.Errorf("reader failing: %v; want its error, not a bad request", err)
	}
	stop := errors.New("stop")
	_, n, err := ReadOffline(newStream(10, []byte{4}, ""), func([]byte) error { return stop })
	if err != stop || n != 1 {
		t.Errorf("each failing at the first frame: %v after %d frames; want its error after 1", err, n)
	}
}

// TestParseOfflineAsJSON: a bundle as BundleExport writes it reads back
// the same, frames and all.
func TestParseOfflineAsJSON(t *testing.T) {
	want := &OfflineBundle{Format: OfflineFormat, From: "USA", To: "CHN", CreatedAt: time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.UTC),
		Frames: [][]byte{{4, 1, 'x'}, bytes.Repeat([]byte{0xfe}, 1000), make([]byte, wire.MaxFrame)}}
	data, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseOffline(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.Format != want.Format || got.From != want.From || got.To != want.To || !got.CreatedAt.Equal(want.CreatedAt) || len(got.Frames) != len(want.Frames) {
		t.Fatalf("read back %+v", got)
	}
	for i := range want.Frames {
		if !bytes.Equal(got.Frames[i], want.Frames[i]) {
			t.Errorf("frame %d differs", i+1)
		}
	}
}

// heapInUse is the heap's objects, live or not yet collected, in bytes.
func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestReadOfflineMemory: reading a bundle holds one frame at a time. With
// the collector keeping the heap within a tenth of what is live, the heap
// in use while a bundle is read stays within a small multiple of its
// largest frame, whatever its size or number of frames: under 2 MiB more
// for a million tiny frames (refused at the limit), under 32 MiB more for
// 64 MiB of 4 MiB frames (85 MiB in the file).
func TestReadOfflineMemory(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	for _, c := range []struct {
		name  string
		r     io.Reader
		bound uint64
		ok    bool
	}{
		{"a million tiny frames", newStream(1_000_000, []byte{4, 1, 'x', 3, 'C', 'H', 'N', 0, 0}, ""), 2 << 20, false},
		{"16 frames of 4 MiB", newStream(16, make([]byte, wire.MaxFrame), ""), 32 << 20, true},
	} {
		runtime.GC()
		base := heapInUse()
		var peak uint64
		frames := 0
		_, n, err := ReadOffline(c.r, func(f []byte) error {
			frames++
			if frames%1000 == 1 || len(f) > 1<<20 {
				peak = max(peak, heapInUse())
			}
			return nil
		})
		if (err == nil) != c.ok {
			t.Errorf("%s: %v after %d frames", c.name, err, n)
		}
		t.Logf("%s: %d frames read, heap %.1f MiB at most, %.1f MiB before", c.name, n, float64(peak)/(1<<20), float64(base)/(1<<20))
		if peak > base+c.bound {
			t.Errorf("%s: the heap went from %d to %d bytes; want at most %d more", c.name, base, peak, c.bound)
		}
	}
}

// refStop is where limited must stop data with runs of at most run bytes:
// the index of the first byte that makes one longer, or -1. It is the
// plain account of the rule, one byte at a time.
func refStop(data []byte, run int) int {
	n, str, esc := 0, false, false
	for i, c := range data {
		switch {
		case esc:
			esc = false
		case str:
			esc = c == '\\'
			str = c != '"'
		case c == '"':
			str = true
		case strings.IndexByte("{}[],:", c) >= 0:
			n = 0
			continue
		}
		if n++; n > run {
			return i
		}
	}
	return -1
}

// chunked gives r's bytes in reads of the sizes sizes gives, in turn.
type chunked struct {
	r     io.Reader
	sizes []byte
	i     int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.sizes) > 0 {
		n := int(c.sizes[c.i%len(c.sizes)])%23 + 1
		c.i++
		p = p[:min(len(p), n)]
	}
	return c.r.Read(p)
}

// FuzzLimited checks the reader that bounds what json.Decoder holds
// against refStop, with runs of at most a few bytes, a size limit of a few
// hundred, and the input in reads of the sizes the fuzzer picks: it passes
// on exactly the bytes before the first that breaks a rule, and then stops
// with a limitError that names the rule and the byte.
func FuzzLimited(f *testing.F) {
	f.Add([]byte(`{"format":"hotline-offline/v1","frames":["AQ==","AAAAAAAA"]}`), uint8(6), uint8(200), []byte{3, 1})
	f.Add([]byte(`{"a":"x\"y\\\\","b":   1234567  }`), uint8(5), uint8(20), []byte{1})
	f.Add([]byte(`"\\\"\\"`), uint8(2), uint8(255), []byte{})
	f.Add([]byte(`["abc\`), uint8(1), uint8(3), []byte{7, 0})
	f.Fuzz(func(t *testing.T, data []byte, run, size uint8, sizes []byte) {
		saved := maxRun
		defer func() { maxRun = saved }()
		maxRun = int(run%16) + 1
		want, wantRun := refStop(data, maxRun), true
		if (want < 0 || want > int(size)) && len(data) > int(size) {
			want, wantRun = int(size), false
		}
		got, err := io.ReadAll(&limited{r: &chunked{r: bytes.NewReader(data), sizes: sizes}, size: int64(size)})
		var lim *limitError
		switch {
		case want < 0 && err != nil:
			t.Fatalf("%q with runs up to %d, size up to %d: %v", data, maxRun, size, err)
		case want < 0 && !bytes.Equal(got, data):
			t.Fatalf("%q passed on as %q", data, got)
		case want >= 0 && (!errors.As(err, &lim) || lim.run != wantRun || lim.at != int64(want)):
			t.Fatalf("%q with runs up to %d, size up to %d: %v, want a stop at byte %d (a run: %v)", data, maxRun, size, err, want, wantRun)
		case want >= 0 && !bytes.Equal(got, data[:want]):
			t.Fatalf("%q passed on %q, want %q", data, got, data[:want])
		}
	})
}
