package layering

import (
	"strings"
	"testing"
)

// TestRules checks every rule against the packages as they are.
func TestRules(t *testing.T) {
	for _, r := range Rules {
		t.Run(strings.TrimPrefix(r.Package, Module+"/"), func(t *testing.T) {
			pkgs, err := Deps(".", r.Package)
			if err != nil {
				t.Fatal(err)
			}
			if len(pkgs) < 2 {
				t.Fatalf("go list -deps %s listed %d packages", r.Package, len(pkgs))
			}
			for _, line := range r.Check(pkgs) {
				t.Error(line)
			}
		})
	}
}

// TestCheckFinds: a rule finds a forbidden package however deep, and a
// forbidden standard import only where this module's code makes it.
func TestCheckFinds(t *testing.T) {
	pkgs := []Package{
		{Path: Module + "/internal/a", Imports: []string{Module + "/internal/b", "fmt"}},
		{Path: Module + "/internal/b", Imports: []string{Module + "/internal/c/d", "os"}},
		{Path: Module + "/internal/c/d"},
		{Path: "fmt", Standard: true, Imports: []string{"os"}},
		{Path: "os", Standard: true},
	}
	r := Rule{Package: Module + "/internal/a", Forbidden: []string{Module + "/internal/c"}, NotImported: []string{"os"}}
	got := r.Check(pkgs)
	if len(got) != 2 || !strings.Contains(got[0], "internal/b, which imports os") || !strings.Contains(got[1], "depends on "+Module+"/internal/c/d") {
		t.Fatalf("got %q", got)
	}
	if got := (Rule{Package: Module + "/internal/a", Forbidden: []string{Module + "/internal/c/dd", Module + "/internal/cc"}}).Check(pkgs); len(got) != 0 {
		t.Fatalf("a prefix that is not a path was taken for one: %q", got)
	}
}
