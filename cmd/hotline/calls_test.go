package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestCallVerbs: call start prints the call's id (with --json an object
// with its id, channel and state); call list --json lists it with every
// field of a call; acts the station must refuse fail the documented way
// and change nothing.
func TestCallVerbs(t *testing.T) {
	dir, _ := demoRun(t)
	usa := copyStation(t, filepath.Join(dir, "usa"))
	const staff = "usa-chn-staff"
	var started map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "call", "start", "--dir", usa, "--channel", staff, "--video", "--as", "Cdr. Hale", "--json")), &started); err != nil {
		t.Fatal(err)
	}
	id, _ := started["id"].(string)
	if !strings.HasPrefix(id, staff+"/USA/") || started["channel"] != staff || started["state"] != "ringing" {
		t.Fatalf("call start --json: %v", started)
	}
	second := strings.TrimSpace(mustRun(t, "call", "start", "--dir", usa, "--channel", staff, "--precedence", "ROUTINE"))
	if !strings.HasPrefix(second, staff+"/USA/") || second == id {
		t.Fatalf("call start printed %q", second)
	}
	var calls []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "call", "list", "--dir", usa, "--channel", staff, "--json")), &calls); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || calls[0]["id"] != id || calls[1]["id"] != second {
		t.Fatalf("call list --json: %v", calls)
	}
	for _, k := range []string{"id", "channel", "from", "precedence", "state", "requested_at", "answered_at", "answered_by", "ended_at", "video"} {
		if _, ok := calls[0][k]; !ok {
			t.Errorf("call list --json has no %q: %v", k, calls[0])
		}
	}
	if calls[0]["media"] != nil {
		t.Errorf("a call placed by a station that is not running has media: %v", calls[0]["media"])
	}
	if calls[0]["from"] != "USA" || calls[0]["precedence"] != "FLASH" || calls[0]["video"] != true || calls[1]["precedence"] != "ROUTINE" {
		t.Errorf("call list --json: %v", calls)
	}
	if out := mustRun(t, "call", "list", "--dir", usa); !strings.Contains(out, id) || !strings.Contains(out, "ringing") || !strings.Contains(out, "Cdr. Hale") {
		t.Errorf("call list:\n%s", out)
	}
	before := stationState(t, usa)
	for _, tt := range []struct {
		args  []string
		wants []string
	}{
		{[]string{"call", "start", "--dir", usa}, []string{"missing --channel"}},
		{[]string{"call", "start", "--dir", usa, "--channel", "usa-rus-staff"}, []string{"unknown channel", "usa-rus-staff"}},
		{[]string{"call", "answer", "--dir", usa}, []string{"missing --id"}},
		{[]string{"call", "answer", "--dir", usa, "--id", id}, []string{"this station's own"}},
		{[]string{"call", "answer", "--dir", usa, "--id", staff + "/CHN/999"}, []string{"no call"}},
		{[]string{"call", "decline", "--dir", usa, "--id", "garbage"}, []string{"garbage", "CHANNEL/STATION/INDEX"}},
		{[]string{"call", "list", "--dir", usa, "--channel", "usa-rus-staff"}, []string{"unknown channel"}},
		{[]string{"call", "media", "--dir", usa}, []string{"missing --id"}},
		{[]string{"call", "media", "--dir", usa, "--id", id, "--sdp", filepath.Join(t.TempDir(), "none.sdp")}, []string{"none.sdp", "no such file"}},
		// A station that is not running has no media to connect a browser to.
		{[]string{"call", "media", "--dir", usa, "--id", id}, []string{"no media", "hotline run"}},
		{[]string{"call", "recording", "--dir", usa, "--id", id}, []string{"missing --out"}},
		{[]string{"call", "recording", "--dir", usa, "--id", id, "--out", filepath.Join(t.TempDir(), "r.ogg")}, []string{"names a recording", id}},
		{[]string{"call", "recording", "--dir", usa, "--id", id, "--out", filepath.Join(usa, "config.json")}, []string{"exists"}},
		{[]string{"call", "recording", "--dir", usa, "--id", staff + "/USA/999", "--out", filepath.Join(t.TempDir(), "r.ogg")}, []string{"no call"}},
	} {
		checkFailed(t, tt.args, hotline(t, tt.args...), tt.wants...)
	}
	if after := stationState(t, usa); after != before {
		t.Errorf("refused call verbs changed the station:\n%s\n%s", before, after)
	}
	if out := strings.TrimSpace(mustRun(t, "call", "end", "--dir", usa, "--id", id)); out != id+" ended" {
		t.Errorf("call end printed %q", out)
	}
}
