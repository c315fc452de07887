package relay_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestNoPlaintext: the relay's own code imports nothing that can parse or
// open an envelope, a frame, a charter or a transcript. Payloads are
// opaque to it by construction, not by discipline.
func TestNoPlaintext(t *testing.T) {
	forbidden := []string{"hotline/internal/envelope", "hotline/internal/protocol", "hotline/internal/channel", "hotline/internal/transcript", "hotline/internal/station", "hotline/internal/store"}
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatal(files, err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for _, bad := range forbidden {
				if path == bad || strings.HasPrefix(path, bad+"/") {
					t.Errorf("%s imports %s", f, path)
				}
			}
		}
	}
}
