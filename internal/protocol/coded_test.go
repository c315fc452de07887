package protocol

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"hotline/internal/call"
	"hotline/internal/channel"
	"hotline/internal/codebook"
	"hotline/internal/deconflict"
	"hotline/internal/envelope"
	"hotline/internal/transcript"
)

// codedBody builds a coded message body with the embedded codebook.
func codedBody(t *testing.T, items ...codebook.Item) *codebook.Message {
	t.Helper()
	m, err := codebook.Default().NewMessage(items...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestCodedMessages: a coded message travels like a text: delivered,
// waiting for a person's acknowledgement on both sides, the ladder
// stopped by it; the charter names the embedded codebook.
func TestCodedMessages(t *testing.T) {
	s := newSim(t, 21)
	a, b := s.nodes[0], s.nodes[1]
	for _, n := range s.nodes {
		cs := n.core.channels["ops"]
		if cs.charter.Codebook != codebook.Default().Ref() || cs.codebook != codebook.Default() {
			t.Fatalf("%s: channel ops names codebook %s", n.name, cs.charter.Codebook)
		}
	}
	m := codedBody(t, codebook.Coded("MNV08", codebook.Args{"course": 90, "speed": 12}), codebook.Coded("MNV06", nil),
		codebook.Free("Fishing fleet to the north.", "en"))
	d := s.send(a, "ops", envelope.Coded, envelope.Immediate, m)
	if d.Err != nil {
		t.Fatal(d.Err)
	}
	got := b.disk.entries["ops/ALPHA"]
	last := got[len(got)-1]
	if last.Kind != envelope.Coded || last.ID() != d.Result.Entry {
		t.Fatalf("BRAVO's last entry of ALPHA's log: %s %s, want coded %s", last.ID(), last.Kind, d.Result.Entry)
	}
	if s.info(a, "ops").AwaitingPeer != 1 || s.info(b, "ops").AwaitingHere != 1 {
		t.Fatal("a coded message does not wait for a person's acknowledgement")
	}
	if d := s.send(b, "ops", envelope.Ack, envelope.Immediate, AckBody{Of: last.Index, By: "Cdr. Li"}); d.Err != nil {
		t.Fatal(d.Err)
	}
	if s.info(a, "ops").AwaitingPeer != 0 || s.info(b, "ops").AwaitingHere != 0 {
		t.Fatal("the acknowledgement did not stop the wait")
	}
	// Notices, reports and incident entries go the same way.
	notice := &deconflict.Notice{Kind: deconflict.LiveFire, Area: deconflict.Area{Circle: &deconflict.Circle{Center: codebook.Position{Lat: 17, Lon: 111}, RadiusNM: 20}},
		Window: deconflict.Window{From: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)},
		Units:  []string{"Destroyer 173"}, Call: "ops"}
	for _, e := range []struct {
		kind envelope.Kind
		body any
	}{
		{envelope.Notice, notice},
		{envelope.Incident, &deconflict.IncidentBody{Action: deconflict.Open, Title: "Live fire near the lane", Lang: "en"}},
	} {
		if d := s.send(a, "ops", e.kind, envelope.Priority, e.body); d.Err != nil {
			t.Fatalf("%s: %v", e.kind, d.Err)
		}
	}
	if n := s.info(b, "ops").AwaitingHere; n != 2 {
		t.Fatalf("BRAVO awaits %d entries, want the notice and the incident", n)
	}
	checkInvariants(t, s)
}

// TestCodedRefused: a message with an unknown code or a parameter of the
// wrong type is refused where it is written, naming the code and the
// parameter, and nothing is written; so is an incident entry about
// another channel.
func TestCodedRefused(t *testing.T) {
	s := newSim(t, 22)
	a := s.nodes[0]
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	tests := []struct {
		name  string
		kind  envelope.Kind
		body  any
		wants []string
		is    error
	}{
		{"unknown code", envelope.Coded, codebook.Message{Codebook: "hotline-cues/1", Items: []codebook.Item{{Code: "MNV99"}}},
			[]string{"items[0]", "MNV99"}, codebook.ErrUnknownCode},
		{"parameter of the wrong type", envelope.Coded, codebook.Message{Codebook: "hotline-cues/1",
			Items: []codebook.Item{{Code: "MNV08", Params: map[string]json.RawMessage{"course": raw(`"east"`), "speed": raw("12")}}}},
			[]string{"MNV08", "parameter course"}, codebook.ErrParamValue},
		{"parameter out of range", envelope.Coded, codebook.Message{Codebook: "hotline-cues/1",
			Items: []codebook.Item{{Code: "MNV08", Params: map[string]json.RawMessage{"course": raw("360"), "speed": raw("12")}}}},
			[]string{"MNV08", "parameter course", "360"}, codebook.ErrParamValue},
		{"another codebook", envelope.Coded, codebook.Message{Codebook: "hotline-cues/2", Items: []codebook.Item{{Code: "MNV06"}}},
			[]string{"hotline-cues/2"}, codebook.ErrMismatch},
		{"notice ending before it starts", envelope.Notice, json.RawMessage(`{"kind":"transit","area":{"circle":{"center":{"lat":17,"lon":111},"radius_nm":5}},` +
			`"window":{"from":"2026-05-01T08:00:00Z","to":"2026-05-01T00:00:00Z"},"units":["DDG-00"],"call":"ops"}`),
			[]string{"window", "before it starts"}, deconflict.ErrNotice},
		{"incident about another channel", envelope.Incident, deconflict.IncidentBody{Action: deconflict.Acknowledge,
			Incident: &deconflict.EntryRef{Channel: "leaders", Author: "BRAVO", Index: 2}, Prev: &deconflict.EntryRef{Channel: "leaders", Author: "BRAVO", Index: 2}},
			[]string{"leaders/BRAVO/2", "another channel"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(a.disk.entries["ops/ALPHA"])
			d := s.send(a, "ops", tt.kind, envelope.Priority, tt.body)
			if d.Err == nil {
				t.Fatal("accepted")
			}
			if tt.is != nil && !errors.Is(d.Err, tt.is) {
				t.Errorf("error %v is not %v", d.Err, tt.is)
			}
			for _, w := range tt.wants {
				if !strings.Contains(d.Err.Error(), w) {
					t.Errorf("error %q does not name %q", d.Err, w)
				}
			}
			if after := len(a.disk.entries["ops/ALPHA"]); after != before {
				t.Errorf("%d entries written", after-before)
			}
		})
	}
}

// TestCodedRefusedOnReceipt: a peer whose entry carries a code the
// channel's codebook lacks (a station that does not check) is refused on
// receipt, naming the code, and nothing is stored.
func TestCodedRefusedOnReceipt(t *testing.T) {
	s := newSim(t, 23)
	a, b := s.nodes[0], s.nodes[1]
	s.settle(10000)
	next := uint64(len(a.disk.entries["ops/ALPHA"]) + 1)
	body := []byte(`{"codebook":"hotline-cues/1","items":[{"code":"MNV08","params":{"course":"east","speed":12}}]}`)
	raw, err := envelope.Seal(envelope.Header{Channel: "ops", Author: "ALPHA", Recipient: "BRAVO", Index: next,
		Precedence: envelope.Flash, Kind: envelope.Coded, Time: s.now}, body, b.keys.KEM.PublicKey(), a.keys.Sign)
	if err != nil {
		t.Fatal(err)
	}
	data := entriesFrame(t, a, "ops", raw)
	before := snapshotDisk(b)
	s.dial(a)
	s.step(b, FrameIn{Peer: "ALPHA", Conn: a.out, Data: data})
	if b.core.Stats.Refused["bad body"] != 1 {
		t.Fatalf("refused %v, want one bad body", b.core.Stats.Refused)
	}
	if alerted(b, "alarm", "parameter course") != 1 || alerted(b, "alarm", "MNV08") != 1 {
		t.Errorf("the alarm does not name the code and parameter: %+v", b.alerts)
	}
	s.net = nil
	s.settle(10000)
	if after := snapshotDisk(b); string(after) != string(before) {
		t.Error("the refused entry changed what is stored")
	}
}

// entriesFrame wraps entries in an entries frame with the author's
// checkpoint over its stored log for ch followed by them.
func entriesFrame(t *testing.T, author *simNode, ch string, entries ...[]byte) []byte {
	t.Helper()
	tree := transcript.NewTree()
	for _, e := range author.disk.entries[ch+"/"+author.name] {
		tree.Append(e.Raw)
	}
	for _, e := range entries {
		tree.Append(e)
	}
	cp, err := transcript.SignCheckpoint(transcript.Checkpoint{Origin: transcript.Origin(ch, author.name), Size: tree.Size(), Root: tree.Root()}, author.keys.Signer())
	if err != nil {
		t.Fatal(err)
	}
	return (&Frame{Type: FrameEntries, Channel: ch, Author: author.name, Checkpoint: cp, Entries: entries}).Encode()
}

// TestUnknownCodebook: a station proposes only with a codebook it has, and
// refuses a proposal naming one it lacks, with an alarm naming it; the
// channel does not appear.
func TestUnknownCodebook(t *testing.T) {
	s := newSim(t, 24)
	a, b := s.nodes[0], s.nodes[1]
	other := codebook.Ref{Version: "hotline-cues/2", Hash: "sha256:" + strings.Repeat("ab", 32)}
	req := s.request(a, func(id uint64) Event {
		return Propose{ID: id, Channel: "new", Peer: "BRAVO", Level: channel.Unit, Codebook: other}
	})
	s.settle(1000)
	if err := a.done[req].Err; !errors.Is(err, codebook.ErrMismatch) || !strings.Contains(err.Error(), "hotline-cues/2") {
		t.Fatalf("proposing with an unknown codebook: %v", err)
	}
	if a.core.channels["new"] != nil {
		t.Fatal("the refused proposal made a channel")
	}

	// ALPHA's station signs such a proposal anyway (another binary).
	ch := &channel.Charter{ID: "new", Level: channel.Unit, Proposer: "ALPHA", Acceptor: "BRAVO", Codebook: other}
	if err := channel.Propose(ch, a.keys.Signer()); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(AgreementBody{Charter: string(ch.Text)})
	raw, err := envelope.Seal(envelope.Header{Channel: "new", Author: "ALPHA", Recipient: "BRAVO", Index: 1,
		Precedence: envelope.Priority, Kind: envelope.Agreement, Time: s.now}, body, b.keys.KEM.PublicKey(), a.keys.Sign)
	if err != nil {
		t.Fatal(err)
	}
	s.dial(a)
	s.step(b, FrameIn{Peer: "ALPHA", Conn: a.out, Data: entriesFrame(t, a, "new", raw)})
	if b.core.Stats.Refused["bad agreement"] != 1 {
		t.Fatalf("refused %v, want one bad agreement", b.core.Stats.Refused)
	}
	if alerted(b, "alarm", "names codebook hotline-cues/2") != 1 {
		t.Errorf("no alarm naming the codebook: %+v", b.alerts)
	}
	if b.core.channels["new"] != nil {
		t.Fatal("the proposal made a channel")
	}
}

// TestCodedFlashClimbs: an unacknowledged coded FLASH climbs the ladder
// like a text; the escalation entry carries the phrases rendered in every
// language of the codebook.
func TestCodedFlashClimbs(t *testing.T) {
	s := newLadderSim(t, false)
	a, b := s.nodes[0], s.nodes[1]
	d := s.send(a, "patrol", envelope.Coded, envelope.Flash, codedBody(t, codebook.Coded("MNV06", nil)))
	if d.Err != nil {
		t.Fatal(d.Err)
	}
	s.until(d.Result.At.Add(20*time.Minute + time.Second))
	ops := b.disk.entries["ops/ALPHA"]
	fwd := ops[len(ops)-1]
	var eb EscalationBody
	if err := json.Unmarshal(fwd.Body, &eb); err != nil || fwd.Kind != envelope.Escalation || eb.From != d.Result.Entry {
		t.Fatalf("forwarded entry: kind %s, body %+v (%v)", fwd.Kind, eb, err)
	}
	if eb.Text != "MNV06 I intend to alter course to starboard.\nMNV06 我船拟向右转向。" {
		t.Errorf("forwarded text %q", eb.Text)
	}
}

// TestDecodeBodyDeconfliction: the new kinds decode strictly and name the
// field at fault.
func TestDecodeBodyDeconfliction(t *testing.T) {
	tests := []struct {
		kind envelope.Kind
		body string
		want string
	}{
		{envelope.Coded, `{"codebook":"hotline-cues/1","items":[{"code":"XYZ01"}]}`, "items[0] (XYZ01): unknown code"},
		{envelope.Coded, `{"codebook":"hotline-cues/1","items":[{"code":"MNV08","params":{"course":90}}]}`, "parameter speed: missing parameter"},
		{envelope.Coded, `{"codebook":"hotline-cues/1","items":[{"code":"MNV06"}],"extra":1}`, "extra"},
		{envelope.Coded, `{"codebook":"hotline-cues/1","items":[{"free":"hi"}]}`, "language"},
		{envelope.Notice, `{"kind":"party"}`, "notice is not valid"},
		{envelope.Report, `{}`, "encounter report is not valid"},
		{envelope.Incident, `{"action":"open"}`, "title"},
		{envelope.Incident, `{"action":"close","incident":{"channel":"ops","author":"A","index":1},"prev":{"channel":"ops","author":"A","index":1}}`, "outcome"},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String()+" "+tt.want, func(t *testing.T) {
			_, err := testBodies.Decode(tt.kind, []byte(tt.body), codebook.Default())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("DecodeBody(%s, %s) = %v, want an error about %q", tt.kind, tt.body, err, tt.want)
			}
		})
	}
	if _, err := testBodies.Decode(envelope.Coded, []byte(`{"codebook":"hotline-cues/1","items":[{"code":"MNV06"}]}`), nil); err == nil ||
		!strings.Contains(err.Error(), "does not have the channel's codebook") {
		t.Errorf("a coded message on a channel without a codebook here: %v", err)
	}
}

// testBodies are the kinds a station registers beyond the protocol's own.
var testBodies = MustBodies(func() []BodyKind {
	var out []BodyKind
	for _, k := range deconflict.BodyKinds() {
		out = append(out, k)
	}
	for _, k := range call.BodyKinds() {
		out = append(out, k)
	}
	return out
}()...)

// testConfig gives a test's core what a station's has: the embedded
// codebook and the deconfliction kinds.
func testConfig(cfg Config) Config {
	cfg.Books = []channel.Book{codebook.Default()}
	cfg.Bodies = testBodies
	return cfg
}

// fakeKind registers a kind with the core, for TestNewBodiesRefuses.
type fakeKind struct{ kind envelope.Kind }

func (k fakeKind) Kind() envelope.Kind                         { return k.kind }
func (fakeKind) Decode(p []byte, _ channel.Book) (any, error)  { return string(p), nil }
func (fakeKind) Check(any, string) error                       { return nil }
func (fakeKind) Forward(any, channel.Book) (text, lang string) { return "", "" }

// TestNewBodiesRefuses: a kind the protocol owns cannot be registered over
// it, nor one kind twice; each refusal names the kind. Without a
// registration, a registered kind's bodies have no format.
func TestNewBodiesRefuses(t *testing.T) {
	for _, own := range []envelope.Kind{envelope.Text, envelope.Ack, envelope.Key, envelope.Escalation} {
		if _, err := NewBodies(fakeKind{own}); err == nil || !strings.Contains(err.Error(), own.String()) || !strings.Contains(err.Error(), "protocol's own") {
			t.Errorf("registering %s: %v, want a refusal naming it", own, err)
		}
	}
	if _, err := NewBodies(fakeKind{envelope.Notice}, fakeKind{envelope.Notice}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("registering notice twice: %v, want a refusal", err)
	}
	b, err := NewBodies(fakeKind{envelope.Notice})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := b.Decode(envelope.Notice, []byte("x"), nil); err != nil || v != "x" {
		t.Errorf("a registered kind decoded as %v, %v; want its own decoder's answer", v, err)
	}
	if _, err := DecodeBody(envelope.Notice, []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "no body format") {
		t.Errorf("DecodeBody of an unregistered kind = %v, want no body format", err)
	}
}
