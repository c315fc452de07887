package station

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"hotline/internal/badrequest"
	"hotline/internal/codebook"
	"hotline/internal/ops"
	"hotline/internal/protocol"
)

// extension is an agreed extension of the embedded codebook.
func extension(name string, version int, base *codebook.Codebook, code string) []byte {
	return fmt.Appendf(nil, `{"format": "hotline codebook extension v1", "name": %q, "version": %d,
 "base": %q, "base_hash": %q,
 "title": {"en": "Alpha-Bravo additions", "zh-Hans": "甲乙双方补充用语"},
 "categories": [{"id": "fishing", "text": {"en": "Fishing vessels", "zh-Hans": "渔船"}}],
 "phrases": [{"code": %q, "category": "fishing", "params": [{"name": "position", "type": "position"}],
   "text": {"en": "Fishing vessels are operating near {position}.", "zh-Hans": "{position}附近有渔船作业。"}}]}`,
		name, version, base.Version(), base.Hash(), code)
}

// TestCodebookExtension: an extension both parties load is a codebook a
// channel can be proposed with; the peer cannot accept it before it has
// loaded the same extension, and says which it lacks; a coded message
// with an extension code is rendered from the code in both languages at
// the receiver; the extension stays after a restart. Bad extension files
// are refused with what is wrong, and change nothing.
func TestCodebookExtension(t *testing.T) {
	usa, chn := logPair(t, quietLog(), quietLog())
	ctx := t.Context()
	ext := extension("alpha-bravo", 1, codebook.Default(), "XAB01")

	for _, c := range []struct {
		name string
		file []byte
		want string
	}{
		{"not JSON", []byte("{"), "invalid JSON"},
		{"another base", extension("alpha-bravo", 1, mustExtend(t, codebook.Default(), extension("other", 1, codebook.Default(), "XOT01")), "XAB01"),
			"which this station does not have"},
		{"a base code", extension("alpha-bravo", 1, codebook.Default(), "MNV01"), "already defined"},
		{"not an X code", extension("alpha-bravo", 1, codebook.Default(), "FSH01"), "extension codes begin with X"},
		{"a codebook, not an extension", codebook.DefaultFile(), "format"},
	} {
		_, err := usa.AddCodebook(ctx, c.file)
		if !errors.Is(err, badrequest.Err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: AddCodebook = %v, want a bad request saying %q", c.name, err, c.want)
		}
	}
	if bs, err := usa.Codebooks(ctx); err != nil || len(bs) != 1 || !bs[0].Embedded {
		t.Fatalf("codebooks after refused files: %+v, %v", bs, err)
	}

	v, err := usa.AddCodebook(ctx, ext)
	if err != nil {
		t.Fatal(err)
	}
	want := codebook.Default().Version() + "+alpha-bravo/1"
	if v.Version != want || v.Phrases != len(codebook.Default().Phrases())+1 || v.Embedded {
		t.Fatalf("added %+v, want version %s", v, want)
	}
	// Loading it again changes nothing.
	if again, err := usa.AddCodebook(ctx, ext); err != nil || again.Ref != v.Ref {
		t.Errorf("loading the extension again: %+v, %v", again, err)
	}
	if bs, _ := usa.Codebooks(ctx); len(bs) != 2 {
		t.Errorf("codebooks after loading one extension twice: %+v", bs)
	}
	if _, err := usa.Propose(ctx, ops.ProposeRequest{Peer: "CHN", Channel: "fishing", Level: "staff", Codebook: "no-such/1"}); !errors.Is(err, badrequest.Err) {
		t.Errorf("a proposal naming a codebook this station lacks: %v", err)
	}
	notes, cancel := chn.Subscribe()
	defer cancel()
	if _, err := usa.Propose(ctx, ops.ProposeRequest{Peer: "CHN", Channel: "fishing", Level: "staff", Codebook: want}); err != nil {
		t.Fatal(err)
	}
	// CHN lacks the extension: the proposal is refused with an alarm that
	// names the codebook, and nothing is stored.
	waitUntilAlert(t, chn, "fishing", want)
	if _, err := chn.Accept(ctx, "fishing"); err == nil {
		t.Fatal("CHN accepted a proposal it refused")
	}
	if _, err := chn.AddCodebook(ctx, ext); err != nil {
		t.Fatal(err)
	}
	// USA offers it again (no receipt), and now CHN takes it.
	waitNote(t, notes, func(n protocol.Notify) bool { return n.What == "channel" && n.Channel == "fishing" })
	an, cancelA := usa.Subscribe()
	defer cancelA()
	if _, err := chn.Accept(ctx, "fishing"); err != nil {
		t.Fatal(err)
	}
	waitNote(t, an, func(n protocol.Notify) bool { return n.What == "channel" && n.Channel == "fishing" })
	if c := channelOf(t, usa, "fishing"); c.Codebook != v.Ref {
		t.Errorf("the channel's codebook is %s, want %s", c.Codebook, v.Ref)
	}

	m, err := usa.SendCoded(ctx, ops.CodedRequest{Channel: "fishing", Precedence: "PRIORITY",
		Items: []ops.CodedItem{{Code: "XAB01", Args: map[string]string{"position": "16.5,112.25"}}}})
	if err != nil {
		t.Fatal(err)
	}
	// The same code on a channel with the embedded codebook is refused.
	if _, err := usa.SendCoded(ctx, ops.CodedRequest{Channel: "bench", Precedence: "PRIORITY",
		Items: []ops.CodedItem{{Code: "XAB01", Args: map[string]string{"position": "16.5,112.25"}}}}); !errors.Is(err, badrequest.Err) ||
		!strings.Contains(err.Error(), "unknown code XAB01 in codebook "+codebook.Default().Version()) {
		t.Errorf("an extension code on a channel without the extension: %v", err)
	}
	waitNote(t, notes, func(n protocol.Notify) bool { return n.What == "received" && n.Entry == m.ID })
	in := inboxOf(t, chn, "fishing", m.ID)
	if !strings.Contains(in.Rendered["en"], "Fishing vessels are operating near") || !strings.Contains(in.Rendered["zh-Hans"], "附近有渔船作业") {
		t.Errorf("CHN renders %v", in.Rendered)
	}

	// After a restart CHN still has the extension and renders with it.
	dir := chn.Dir
	chn.Close()
	again, err := Open(ctx, dir, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if bs, err := again.Codebooks(ctx); err != nil || len(bs) != 2 || bs[1].Version != want || bs[1].AddedAt.IsZero() {
		t.Errorf("codebooks after a restart: %+v, %v", bs, err)
	}
	if in := inboxOf(t, again, "fishing", m.ID); !strings.Contains(in.Rendered["zh-Hans"], "附近有渔船作业") {
		t.Errorf("after a restart CHN renders %v", in.Rendered)
	}
}

func mustExtend(t *testing.T, b *codebook.Codebook, file []byte) *codebook.Codebook {
	t.Helper()
	n, err := b.Extend(file)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func inboxOf(t *testing.T, st *Station, ch, id string) ops.MessageView {
	t.Helper()
	ms, err := st.Inbox(t.Context(), ch)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("%s not in %s's inbox of %s", id, st.Cfg.Name, ch)
	return ops.MessageView{}
}

// waitUntilAlert waits for an alert on a channel whose text holds want.
func waitUntilAlert(t *testing.T, st *Station, ch, want string) {
	t.Helper()
	notes, cancel := st.Subscribe()
	defer cancel()
	for {
		as, err := st.Alerts(t.Context(), 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			if a.Channel == ch && strings.Contains(a.Text, want) {
				return
			}
		}
		waitNote(t, notes, func(n protocol.Notify) bool { return n.What == "alert" })
	}
}
