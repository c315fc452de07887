// Package layering holds the rules on which package may depend on which,
// and reads a package's dependencies as the go command lists them. Its
// test checks every rule, so that a dependency the design forbids fails
// the build's tests rather than a reviewer's eye: the core free of
// sockets, disks, databases and what bodies mean; the relay unable to
// parse what it carries.
package layering

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"strings"
)

// Rule forbids a package, and everything it depends on, to reach certain
// packages.
type Rule struct {
	Package string // the import path the rule is about
	Why     string // one sentence: what the rule keeps true

	// Forbidden are import paths (a path also forbids those below it)
	// that must not be among the package's dependencies at all.
	Forbidden []string

	// NotImported are import paths that no package of this module among
	// the dependencies may import itself. It is for standard packages
	// that the standard library itself uses (fmt imports os): what is
	// forbidden is the module's own use of them.
	NotImported []string
}

// Module is this module's path.
const Module = "hotline"

// Rules are the design's layering rules (docs/ARCHITECTURE.md, "Who may
// import whom").
var Rules = []Rule{
	{
		Package: Module + "/internal/protocol",
		Why:     "the core is deterministic and does no I/O: it speaks its own vocabulary (internal/record), never the store's, and carries bodies whose meaning is registered with it (protocol.BodyKind)",
		Forbidden: []string{Module + "/internal/store", Module + "/internal/station", Module + "/internal/link", "net", "database/sql",
			Module + "/internal/codebook", Module + "/internal/deconflict", Module + "/internal/call", "github.com/golang/geo", Module + "/internal/home",
			Module + "/internal/media", "github.com/pion"},
		NotImported: []string{"os", "net", "database/sql"},
	},
	{
		Package:   Module + "/internal/relay",
		Why:       "a relay carries payloads it has no code to open: it knows their sizes, not how a deposit is sealed, nor what frames, envelopes, charters or logs are",
		Forbidden: []string{Module + "/internal/deposit", Module + "/internal/envelope", Module + "/internal/protocol", Module + "/internal/channel", Module + "/internal/transcript", Module + "/internal/store", Module + "/internal/station"},
	},
	{
		Package:   Module + "/internal/stationdir",
		Why:       "the station's directory is files and the rules for them: backup, restore and doctor work beside a running station, never through it",
		Forbidden: []string{Module + "/internal/station", Module + "/internal/protocol", Module + "/internal/api", Module + "/internal/console"},
	},
	{
		Package:     Module + "/internal/ops",
		Why:         "the operations are a vocabulary and a table: what may be asked of a station, not a station, a store or a transport",
		Forbidden:   []string{Module + "/internal/station", Module + "/internal/protocol", Module + "/internal/store", Module + "/internal/api", Module + "/internal/console"},
		NotImported: []string{"net", "net/http", "os", "database/sql"},
	},
	{
		Package: Module + "/internal/desk",
		Why:     "the operations ask the running process through a small interface: they own no connection, transport or file",
		Forbidden: []string{Module + "/internal/station", Module + "/internal/link", Module + "/internal/relay", Module + "/internal/stationdir", Module + "/internal/api", Module + "/internal/console",
			Module + "/internal/media", "github.com/pion"},
	},
	{
		Package:   Module + "/internal/media",
		Why:       "the media engine carries packets between WebRTC peers and knows calls by their ids: what the signed entries say is told to it, and it has no core, store or station to reach into",
		Forbidden: []string{Module + "/internal/protocol", Module + "/internal/store", Module + "/internal/station", Module + "/internal/desk", Module + "/internal/link", Module + "/internal/relay", Module + "/internal/api", Module + "/internal/console", Module + "/internal/ops"},
	},
	{
		Package:   Module + "/internal/afteraction",
		Why:       "an after-action report is made from what any station answers through ops, in this process or over the API",
		Forbidden: []string{Module + "/internal/station", Module + "/internal/protocol", Module + "/internal/store"},
	},
	{
		Package:   Module + "/internal/situation",
		Why:       "the deconfliction picture is drawn from views, not from a running station",
		Forbidden: []string{Module + "/internal/station", Module + "/internal/protocol", Module + "/internal/store"},
	},
	{
		Package:   Module + "/internal/console",
		Why:       "the console asks through ops and the station's notifications, never into the running process",
		Forbidden: []string{Module + "/internal/station"},
	},
	{
		Package:   Module + "/internal/operator",
		Why:       "operators and their passwords are a store of their own: they need the meaning of a bad request, not a running station",
		Forbidden: []string{Module + "/internal/station", Module + "/internal/protocol"},
	},
}

// Package is one package as the go command lists it.
type Package struct {
	Path     string
	Standard bool
	Imports  []string
}

// Deps lists pkg and every package it depends on, run from dir (any
// directory inside the module).
func Deps(dir, pkg string) ([]Package, error) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}\t{{.Standard}}\t{{join .Imports \" \"}}", pkg)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -deps %s: %v: %s", pkg, err, strings.TrimSpace(stderr.String()))
	}
	var pkgs []Package
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 3 {
			return nil, fmt.Errorf("go list -deps %s: unexpected line %q", pkg, sc.Text())
		}
		pkgs = append(pkgs, Package{Path: f[0], Standard: f[1] == "true", Imports: strings.Fields(f[2])})
	}
	return pkgs, sc.Err()
}

// Check returns one line for each way the packages break the rule.
func (r Rule) Check(pkgs []Package) []string {
	var bad []string
	for _, p := range pkgs {
		for _, f := range r.Forbidden {
			if under(p.Path, f) {
				bad = append(bad, fmt.Sprintf("%s depends on %s (%s)", r.Package, p.Path, r.Why))
			}
		}
		if !under(p.Path, Module) {
			continue
		}
		for _, imp := range p.Imports {
			for _, f := range r.NotImported {
				if under(imp, f) {
					bad = append(bad, fmt.Sprintf("%s depends on %s, which imports %s (%s)", r.Package, p.Path, imp, r.Why))
				}
			}
		}
	}
	return bad
}

// under reports whether path is prefix or a package below it.
func under(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}
