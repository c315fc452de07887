package ops_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"hotline/internal/operator"
	"hotline/internal/ops"
)

// recorder is a Doer that records the operation asked for and answers
// with its zero response.
type recorder struct{ done []*ops.Op }

func (r *recorder) Do(_ context.Context, op *ops.Op, req any) (any, error) {
	if got, want := reflect.TypeOf(req), reflect.TypeOf(op.NewRequest()).Elem(); got != want {
		return nil, fmt.Errorf("%s given a %v, wants a %v", op.Name, got, want)
	}
	r.done = append(r.done, op)
	return reflect.ValueOf(op.NewResponse()).Elem().Interface(), nil
}

// callAll calls every method of Ops on o with zero arguments.
func callAll(t *testing.T, o ops.Ops, each func(method string, err error)) {
	v := reflect.ValueOf(o)
	tp := reflect.TypeFor[ops.Ops]()
	for i := 0; i < tp.NumMethod(); i++ {
		m := tp.Method(i)
		args := []reflect.Value{reflect.ValueOf(context.Background())}
		for j := 1; j < m.Type.NumIn(); j++ {
			args = append(args, reflect.Zero(m.Type.In(j)))
		}
		var out []reflect.Value
		if m.Type.IsVariadic() {
			out = v.MethodByName(m.Name).CallSlice(args)
		} else {
			out = v.MethodByName(m.Name).Call(args)
		}
		err, _ := out[len(out)-1].Interface().(error)
		each(m.Name, err)
	}
}

// Every method of Ops is one operation of the table, the one of its
// name, and every operation of the table is one method: a method added
// to Ops without a row fails here, and so does a row nothing reaches.
func TestEveryMethodIsOneOperation(t *testing.T) {
	rec := &recorder{}
	seen := map[*ops.Op]string{}
	callAll(t, ops.Through(rec), func(method string, err error) {
		if err != nil {
			t.Errorf("%s: %v", method, err)
			return
		}
		if len(rec.done) != 1 {
			t.Errorf("%s did %d operations", method, len(rec.done))
			rec.done = nil
			return
		}
		op := rec.done[0]
		rec.done = nil
		if op.Name != method {
			t.Errorf("method %s does operation %s", method, op.Name)
		}
		if other, ok := seen[op]; ok {
			t.Errorf("methods %s and %s both do %s", other, method, op.Name)
		}
		seen[op] = method
	})
	for _, op := range ops.All {
		if _, ok := seen[op]; !ok {
			t.Errorf("operation %s is in the table but no method of Ops does it", op.Name)
		}
	}
	if len(seen) != len(ops.All) {
		t.Errorf("Ops does %d operations, the table lists %d", len(seen), len(ops.All))
	}
}

// An operation's Invoke calls the method of its own name: Local and
// Through agree.
func TestInvokeCallsItsMethod(t *testing.T) {
	for _, op := range ops.All {
		rec := &recorder{}
		req := reflect.ValueOf(op.NewRequest()).Elem().Interface()
		if _, err := (ops.Local{Ops: ops.Through(rec)}).Do(context.Background(), op, req); err != nil {
			t.Fatalf("%s: %v", op.Name, err)
		}
		if len(rec.done) != 1 || rec.done[0] != op {
			t.Errorf("%s invokes %v", op.Name, rec.done)
		}
	}
}

func TestTableIsWellFormed(t *testing.T) {
	routes := map[string]string{}
	known := map[string]bool{}
	for _, role := range operator.Roles {
		for _, p := range operator.Grants(role) {
			known[string(p)] = true
		}
	}
	for _, op := range ops.All {
		route := op.Method + " " + op.Path
		if other, ok := routes[route]; ok {
			t.Errorf("%s and %s share the route %s", other, op.Name, route)
		}
		routes[route] = op.Name
		if op.Method != "GET" && op.Method != "POST" {
			t.Errorf("%s: method %s; reads are GET, acts are POST", op.Name, op.Method)
		}
		if !strings.HasPrefix(op.Path, "/api/v1/") {
			t.Errorf("%s: path %s is not under /api/v1/", op.Name, op.Path)
		}
		if !known[op.Permission] {
			t.Errorf("%s: permission %q is not one the console grants", op.Name, op.Permission)
		}
		if op.Verb == "" || op.Help == "" || strings.HasSuffix(op.Help, ".") {
			t.Errorf("%s: verb %q, help %q: both are needed, help without a full stop", op.Name, op.Verb, op.Help)
		}
		req := reflect.TypeOf(op.NewRequest()).Elem()
		for _, seg := range strings.Split(op.Path, "/") {
			name, ok := strings.CutPrefix(seg, "{")
			if !ok {
				continue
			}
			name = strings.TrimSuffix(name, "}")
			found := false
			for i := 0; req.Kind() == reflect.Struct && i < req.NumField(); i++ {
				tag, _, _ := strings.Cut(req.Field(i).Tag.Get("json"), ",")
				found = found || tag == name && req.Field(i).Type.Kind() == reflect.String
			}
			if !found {
				t.Errorf("%s: path names {%s}, which is no string field of %v", op.Name, name, req)
			}
		}
		if op.RawRequest && req != reflect.TypeFor[ops.RawBody]() {
			t.Errorf("%s: a raw request must be an ops.RawBody, not %v", op.Name, req)
		}
		if op.Method == "GET" && op.RawRequest {
			t.Errorf("%s: a GET has no body", op.Name)
		}
	}
}

var update = flag.Bool("update", false, "rewrite docs/API.md's table of operations")

// docs/API.md lists every operation, as the table has it. Run with
// -update to rewrite the list after changing the table.
func TestAPIDoc(t *testing.T) {
	const path = "../../docs/API.md"
	const begin, end = "<!-- operations: begin -->\n", "<!-- operations: end -->\n"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("%s has no %q … %q section", path, begin, end)
	}
	want := ops.Markdown()
	got := doc[i+len(begin) : j]
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(doc[:i+len(begin)]+want+doc[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s does not list the operations as the table has them; run go test ./internal/ops -run TestAPIDoc -update\nwant:\n%s", path, want)
}
