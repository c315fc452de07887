package console

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"
)

// TestRefusalsTranslated reads the reasons the station gives for a party
// of a broadcast it sent nothing to (internal/desk/multilateral.go: the
// strings and formats written into a party's Refused) and checks that
// the console writes each in every other language, its arguments kept.
// A new reason without a translation fails here (the console would show
// it as the station wrote it, marked English).
func TestRefusalsTranslated(t *testing.T) {
	const src = "../desk/multilateral.go"
	af, err := parser.ParseFile(token.NewFileSet(), src, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	literal := func(e ast.Expr) {
		if call, ok := e.(*ast.CallExpr); ok {
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Sprintf" && len(call.Args) > 0 {
				e = call.Args[0]
			}
		}
		if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			s, _ := strconv.Unquote(lit.Value)
			reasons = append(reasons, s)
		}
	}
	ast.Inspect(af, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			if sel, ok := n.Lhs[0].(*ast.SelectorExpr); ok && sel.Sel.Name == "Refused" {
				literal(n.Rhs[0])
			}
		case *ast.KeyValueExpr:
			if id, ok := n.Key.(*ast.Ident); ok && id.Name == "Refused" {
				literal(n.Value)
			}
		}
		return true
	})
	if len(reasons) < 6 {
		t.Fatalf("only %d reasons found in %s: is the reading broken? %q", len(reasons), src, reasons)
	}
	// Each format filled in as the station would, with arguments that
	// must come through.
	args := strings.NewReplacer("%s", "ARG", "%d", "7")
	for lang := range refusalFormats {
		p := &pageData{Lang: lang}
		for _, r := range reasons {
			why := args.Replace(r)
			got, ok := p.Refusal(why)
			if !ok {
				t.Errorf("%s: the station's reason %q has no translation", lang, r)
				continue
			}
			if strings.Count(got, "ARG")+strings.Count(got, "7") != strings.Count(why, "ARG")+strings.Count(why, "7") {
				t.Errorf("%s: %q written %q: an argument lost", lang, why, got)
			}
		}
	}
}
