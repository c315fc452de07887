package console

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"hotline/internal/ops"
)

// alertCalls maps the core's functions that record an alert to the
// position of their format argument.
var alertCalls = map[string]int{"alert": 3, "refuse": 4, "reject": 4}

// TestAlertFormatsTranslated reads the protocol core's source and checks
// that every format it records an alert with has a translation into
// every other language, that takes the same arguments and uses each of
// them. A new alert without a translation fails here.
func TestAlertFormatsTranslated(t *testing.T) {
	files, err := filepath.Glob("../protocol/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("protocol sources: %v %v", files, err)
	}
	fs := token.NewFileSet()
	formats := map[string]string{} // format → where
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fs, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(af, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			i, ok := alertCalls[sel.Sel.Name]
			if !ok || len(call.Args) <= i {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); !ok || id.Name != "c" {
				return true
			}
			lit, ok := call.Args[i].(*ast.BasicLit)
			if !ok {
				// Only the functions that pass their own format on.
				if id, ok := call.Args[i].(*ast.Ident); ok && id.Name == "format" {
					return true
				}
				t.Errorf("%s: an alert's format must be a constant string", fs.Position(call.Pos()))
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			formats[s] = fs.Position(call.Pos()).String()
			return true
		})
	}
	if len(formats) < 40 {
		t.Fatalf("found only %d alert formats in the core: is the scan broken?", len(formats))
	}
	formats["refused (%s): %s"] = "core.go refuse" // what refuse makes of "%s"
	delete(formats, "%s")
	formats[ops.AlertFindingFormat] = "station findings"
	verb := regexp.MustCompile(`%[sdvq]`)
	for lang, tr := range alertFormats {
		for f, where := range formats {
			z, ok := tr[f]
			if !ok {
				t.Errorf("%s: no %s translation of %q", where, lang, f)
				continue
			}
			n := len(verb.FindAllString(f, -1))
			if f == ops.AlertFindingFormat {
				n = 2
			}
			args := make([]any, n)
			for i := range args {
				args[i] = fmt.Sprintf("ARG%d", i+1)
			}
			out := fmt.Sprintf(z, args...)
			if strings.Contains(out, "%!") {
				t.Errorf("%s translation of %q does not take its %d arguments: %s", lang, f, n, out)
			}
			for i := range args {
				if f != ops.AlertFindingFormat && !strings.Contains(out, args[i].(string)) {
					t.Errorf("%s translation of %q leaves out argument %d: %s", lang, f, i+1, out)
				}
			}
		}
		for f := range tr {
			if _, ok := formats[f]; !ok {
				t.Errorf("%s translates %q, which the core no longer writes", lang, f)
			}
		}
	}
}

// TestAlertText: a translated alert, one without a format (written
// before formats were kept) and one whose arguments do not fit.
func TestAlertText(t *testing.T) {
	a := ops.AlertView{Text: "FLASH m1 is not delivered: no receipt from CHN within 30s",
		Format: "%s %s is not delivered: no receipt from %s within %s", Args: []string{"FLASH", "m1", "CHN", "30s"}}
	if got, want := alertText("zh", a), "FLASH 消息 m1 未送达：30s 内未收到 CHN 的回执"; got != want {
		t.Errorf("zh: %q, want %q", got, want)
	}
	if got := alertText("en", a); got != a.Text {
		t.Errorf("en: %q", got)
	}
	old := ops.AlertView{Text: "written before formats were kept"}
	if got := alertText("zh", old); got != old.Text {
		t.Errorf("an old alert: %q", got)
	}
	short := a
	short.Args = short.Args[:2]
	if got := alertText("zh", short); got != a.Text {
		t.Errorf("arguments that do not fit: %q", got)
	}
	f := ops.AlertView{Text: "en text", Format: ops.AlertFindingFormat, Args: []string{"en text", "中文"}}
	if got := alertText("zh", f); got != "中文" {
		t.Errorf("a finding: %q", got)
	}
}
