package demo

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"hotline/internal/ops"
)

// meshNames are the eight parties of TestMeshBroadcast.
var meshNames = []string{"USA", "CHN", "JPN", "PHL", "VNM", "MYS", "IDN", "AUS"}

// TestMeshBroadcast runs eight stations as real processes in a full mesh
// (28 channels). USA notifies every party of an exercise in one act: each
// party receives its own copy on its own channel with USA, naming that
// channel to call and the common id, and a person there acknowledges it;
// USA's notice show then has all seven delivered and acknowledged, by
// whom. A text to a group reaches the group's members and no one else.
func TestMeshBroadcast(t *testing.T) {
	if testing.Short() {
		t.Skip("eight stations as processes")
	}
	ctx := t.Context()
	m, err := NewMesh(ctx, t.TempDir(), binary, meshNames, "staff", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	usa, others := m.Nodes[0], m.Nodes[1:]

	out := hotlineCLI(t, "notice", "send", "--dir", usa.Dir, "--to", "all", "--precedence", "IMMEDIATE", "--kind", "live_fire",
		"--circle", "16.5,112.5,15", "--from", "2030-05-01T00:00Z", "--until", "2030-05-01T06:00Z", "--units", "DDG-00,CG-1", "--title", "Live fire")
	id := strings.Fields(out)[0]
	if !strings.HasPrefix(id, "b-") {
		t.Fatalf("notice send --to all printed:\n%s", out)
	}
	for _, n := range others {
		ch := MeshChannel(usa.Name, n.Name)
		var got *ops.MessageView
		if err := WaitFor(ctx, n.Client(), time.Minute, func() (bool, error) {
			ms, err := n.Client().Inbox(ctx, ch)
			for _, msg := range ms {
				if msg.Broadcast == id {
					got = &msg
				}
			}
			return got != nil, err
		}); err != nil {
			t.Fatalf("%s never received broadcast %s on %s: %v", n.Name, id, ch, err)
		}
		if got.Kind != "notice" || got.Notice == nil || got.Notice.Call != ch || got.Notice.Broadcast != id || got.Notice.Title != "Live fire" || got.Precedence != "IMMEDIATE" {
			t.Errorf("%s's copy: %+v (notice %+v)", n.Name, got, got.Notice)
		}
		if _, err := n.Client().Ack(ctx, got.ID, "duty-"+strings.ToLower(n.Name)); err != nil {
			t.Fatal(err)
		}
	}
	var b *ops.BroadcastView
	if err := WaitFor(ctx, usa.Client(), time.Minute, func() (bool, error) {
		b, err = usa.Client().BroadcastShow(ctx, id)
		return err == nil && b.Acknowledged == len(others), err
	}); err != nil {
		t.Fatalf("USA's view of %s: %+v: %v", id, b, err)
	}
	if b.Sent != 7 || b.Delivered != 7 || b.Refused != 0 || b.Overdue != 0 || len(b.Parties) != 7 {
		t.Errorf("notice show: %d parties, sent %d, delivered %d, refused %d, overdue %d", len(b.Parties), b.Sent, b.Delivered, b.Refused, b.Overdue)
	}
	seen := map[string]bool{}
	for _, p := range b.Parties {
		seen[p.Peer] = true
		if p.Channel != MeshChannel(usa.Name, p.Peer) || p.Status != "acknowledged" || p.AckBy != "duty-"+strings.ToLower(p.Peer) || p.DeliveredAt == nil || p.AckAt == nil {
			t.Errorf("party %+v", p)
		}
	}
	for _, n := range others {
		if !seen[n.Name] {
			t.Errorf("notice show lacks %s", n.Name)
		}
	}
	table := hotlineCLI(t, "notice", "show", "--dir", usa.Dir, "--id", id)
	if !strings.Contains(table, "7 parties: 7 sent, 7 delivered, 7 acknowledged, 0 overdue, 0 refused") || !strings.Contains(table, "duty-aus") {
		t.Errorf("notice show:\n%s", table)
	}

	// An incident about the notice: its after-action report shows the
	// whole set, as USA holds it.
	var copyCHN string
	for _, p := range b.Parties {
		if p.Peer == "CHN" {
			copyCHN = p.Entry
		}
	}
	opened := hotlineCLI(t, "incident", "open", "--dir", usa.Dir, "--channel", MeshChannel("USA", "CHN"), "--title", "Fishing fleet in the live-fire area", "--lang", "en", "--link", copyCHN)
	inc := strings.TrimSuffix(strings.Fields(opened)[1], ":")
	report := filepath.Join(t.TempDir(), "incident.html")
	hotlineCLI(t, "incident", "report", "--dir", usa.Dir, "--incident", inc, "--out", report)
	html, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), "one copy of broadcast "+id) || !strings.Contains(string(html), `<table id="b-`+id+`">`) || strings.Count(string(html), "duty-") < len(others) {
		t.Errorf("the after-action report does not show broadcast %s and its %d parties", id, len(others))
	}

	// A group: a text reaches its members only.
	hotlineCLI(t, "group", "set", "--dir", usa.Dir, "--name", "SCS navies", "--peers", "PHL,VNM,MYS")
	var sent ops.BroadcastView
	if err := json.Unmarshal([]byte(hotlineCLI(t, "send", "--dir", usa.Dir, "--to", "SCS navies", "--precedence", "FLASH", "--text", "Hold position.", "--json")), &sent); err != nil {
		t.Fatal(err)
	}
	var to []string
	for _, p := range sent.Parties {
		to = append(to, p.Peer)
	}
	if fmt.Sprint(to) != "[MYS PHL VNM]" || sent.Sent != 3 {
		t.Errorf("send --to \"SCS navies\": %+v", sent)
	}
	for _, n := range others {
		want := slices.Contains(to, n.Name)
		if err := WaitFor(ctx, usa.Client(), time.Minute, func() (bool, error) {
			if !want {
				return true, nil
			}
			v, err := usa.Client().BroadcastShow(ctx, sent.ID)
			return err == nil && v.Delivered == 3, err
		}); err != nil {
			t.Fatal(err)
		}
		ms, err := n.Client().Inbox(ctx, MeshChannel(usa.Name, n.Name))
		if err != nil {
			t.Fatal(err)
		}
		has := slices.ContainsFunc(ms, func(m ops.MessageView) bool { return m.Broadcast == sent.ID })
		if has != want {
			t.Errorf("%s holds the group's text: %v, want %v", n.Name, has, want)
		}
	}
	// The set as transcripts: each channel's bundle with its party's copy
	// disclosed, each verified offline on its own.
	dir := filepath.Join(t.TempDir(), "set")
	hotlineCLI(t, "export", "--dir", usa.Dir, "--broadcast", sent.ID, "--out", dir)
	for _, p := range sent.Parties {
		out := hotlineCLI(t, "verify", filepath.Join(dir, p.Channel+".json"))
		if !strings.Contains(out, "disclosed "+p.Entry) || !strings.Contains(out, `"Hold position." (one copy of broadcast `+sent.ID) {
			t.Errorf("verify of %s's bundle:\n%s", p.Peer, out)
		}
	}
}
