package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hotline/internal/codebook"
)

// TestCodebookVerbs: hotline codebook add loads an agreed extension into
// a station, books lists it beside the embedded codebook, list shows its
// phrases; a bad file is refused with what is wrong and nothing changes.
func TestCodebookVerbs(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "usa")
	if r := hotline(t, "init", "--dir", dir, "--name", "USA", "--party", "USA", "--peer-listen", "127.0.0.1:0"); r.code != 0 {
		t.Fatalf("init: %s", r.stderr)
	}
	base := codebook.Default()
	ext := filepath.Join(tmp, "ab.json")
	os.WriteFile(ext, fmt.Appendf(nil, `{"format": "hotline codebook extension v1", "name": "alpha-bravo", "version": 1,
 "base": %q, "base_hash": %q, "title": {"en": "Alpha-Bravo additions", "zh-Hans": "甲乙双方补充用语"},
 "phrases": [{"code": "XAB01", "category": "safety", "params": [], "text": {"en": "Fishing vessels nearby.", "zh-Hans": "附近有渔船。"}}]}`,
		base.Version(), base.Hash()), 0o600)
	bad := filepath.Join(tmp, "bad.json")
	os.WriteFile(bad, []byte(`{"format": "hotline codebook extension v1", "name": "alpha-bravo", "version": 1, "base": "hotline-cues/1",
 "base_hash": "sha256:0000000000000000000000000000000000000000000000000000000000000000", "title": {"en": "x", "zh-Hans": "x"},
 "phrases": [{"code": "XAB01", "category": "safety", "params": [], "text": {"en": "x", "zh-Hans": "x"}}]}`), 0o600)

	for _, c := range []struct {
		args  []string
		wants []string
	}{
		{[]string{"codebook", "add", "--dir", dir, "--file", bad}, []string{"extends hotline-cues/1 sha256:0000", "load that first"}},
		{[]string{"codebook", "add", "--dir", dir, "--file", filepath.Join(tmp, "missing.json")}, []string{"missing.json", "no such file"}},
		{[]string{"codebook", "add", "--dir", dir}, []string{"--file"}},
		{[]string{"codebook", "list", "--codebook", "hotline-cues/1+alpha-bravo/1"}, []string{"--codebook needs --dir"}},
	} {
		checkFailed(t, c.args, hotline(t, c.args...), c.wants...)
	}
	r := hotline(t, "codebook", "books", "--dir", dir, "--json")
	var books []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &books); err != nil || len(books) != 1 {
		t.Fatalf("books after refused files: %s %v", r.stdout, err)
	}
	if r := hotline(t, "codebook", "add", "--dir", dir, "--file", ext); r.code != 0 || !strings.Contains(r.stdout, "hotline-cues/1+alpha-bravo/1") {
		t.Fatalf("codebook add: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = hotline(t, "codebook", "books", "--dir", dir)
	if !strings.Contains(r.stdout, "hotline-cues/1+alpha-bravo/1") || !strings.Contains(r.stdout, "embedded") {
		t.Errorf("codebook books: %s", r.stdout)
	}
	r = hotline(t, "codebook", "list", "--dir", dir, "--codebook", "hotline-cues/1+alpha-bravo/1", "--lang", "zh")
	if r.code != 0 || !strings.Contains(r.stdout, "XAB01") || !strings.Contains(r.stdout, "附近有渔船。") || !strings.Contains(r.stdout, "MNV01") {
		t.Errorf("codebook list of the extension: %d %s %s", r.code, r.stdout, r.stderr)
	}
	checkFailed(t, []string{"codebook", "list", "--dir", dir, "--codebook", "other/1"},
		hotline(t, "codebook", "list", "--dir", dir, "--codebook", "other/1"), `no codebook "other/1"`)
}
