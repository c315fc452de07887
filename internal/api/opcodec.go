package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"

	"hotline/internal/badrequest"
	"hotline/internal/ops"
)

// serveOp serves one operation of the table: it reads the request from
// the path, the query (GET) or the body (POST), does it on the station
// and writes the answer.
func (s *Server) serveOp(op *ops.Op) http.HandlerFunc {
	limit := op.MaxBody
	if limit == 0 {
		limit = MaxBody
	}
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		req, err := readRequest(r, op)
		if err != nil {
			writeError(w, err)
			return
		}
		v, err := op.Invoke(r.Context(), s.st, req)
		if err != nil {
			writeError(w, err)
			return
		}
		if op.RawResponse {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Write(v.([]byte))
			return
		}
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice && rv.IsNil() {
			v = []struct{}{} // an empty list is [], not null
		}
		writeJSON(w, http.StatusOK, v)
	}
}

// readRequest reads op's request from r, and returns it as a value.
func readRequest(r *http.Request, op *ops.Op) (any, error) {
	p := op.NewRequest()
	if op.RawRequest {
		// The operation reads the body as it goes: nothing here holds it.
		return ops.RawBody{Reader: bodyReader{r.Body}}, nil
	}
	if r.Method == http.MethodGet {
		if err := readQuery(r.URL.Query(), p); err != nil {
			return nil, err
		}
	} else if err := readBody(r, p, onlyPath(p, op.Path)); err != nil {
		return nil, err
	}
	for _, name := range pathNames(op.Path) {
		f, ok := fieldByJSON(reflect.ValueOf(p).Elem(), name)
		if !ok || f.Kind() != reflect.String {
			return nil, fmt.Errorf("route %s: no string field %q in its request", op.Path, name)
		}
		v := r.PathValue(name)
		if f.String() != "" && f.String() != v {
			return nil, badrequest.New("body names %s %q, path %q", name, f.String(), v)
		}
		f.SetString(v)
	}
	return reflect.ValueOf(p).Elem().Interface(), nil
}

// readBody decodes a JSON body strictly into p. An empty body is {} for
// a request whose every field is in the path, and an error otherwise.
func readBody(r *http.Request, p any, emptyOK bool) error {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return bodyError(err)
	}
	if emptyOK && strings.TrimSpace(string(data)) == "" {
		data = []byte("{}")
	}
	if err := decodeStrict(data, p); err != nil {
		return badrequest.New("request body: %v", err)
	}
	return nil
}

// bodyReader is a request body read by the operation: its errors are
// said as the body's (bodyError).
type bodyReader struct{ r io.Reader }

func (b bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		err = bodyError(err)
	}
	return n, err
}

// onlyPath reports whether every field of the request p points to is
// named in path.
func onlyPath(p any, path string) bool {
	t := reflect.TypeOf(p).Elem()
	if t.Kind() != reflect.Struct {
		return false
	}
	for i := 0; i < t.NumField(); i++ {
		if n := jsonName(t.Field(i)); n != "" && !contains(pathNames(path), n) {
			return false
		}
	}
	return true
}

// readQuery sets the fields of the struct p points to from q, by their
// JSON names: strings, integers and booleans. A parameter the request
// does not have, or given twice, is refused.
func readQuery(q url.Values, p any) error {
	v := reflect.ValueOf(p).Elem()
	for name, vals := range q {
		f, ok := fieldByJSON(v, name)
		if !ok {
			return badrequest.New("unknown query parameter %q", name)
		}
		if len(vals) != 1 {
			return badrequest.New("query parameter %q given %d times", name, len(vals))
		}
		s := vals[0]
		switch f.Kind() {
		case reflect.String:
			f.SetString(s)
		case reflect.Int, reflect.Int64:
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return badrequest.New("query parameter %s=%q is not a whole number", name, s)
			}
			f.SetInt(n)
		case reflect.Bool:
			b, err := strconv.ParseBool(s)
			if err != nil {
				return badrequest.New("query parameter %s=%q is not true or false", name, s)
			}
			f.SetBool(b)
		default:
			return fmt.Errorf("query parameter %q: field of kind %s", name, f.Kind())
		}
	}
	return nil
}

// writeQuery is readQuery's inverse: the fields of req that are not
// zero and not in the path, as a query string.
func writeQuery(req any, skip []string) string {
	q := url.Values{}
	v := reflect.ValueOf(req)
	if v.Kind() != reflect.Struct {
		return ""
	}
	for i := 0; i < v.NumField(); i++ {
		name := jsonName(v.Type().Field(i))
		if name == "" || v.Field(i).IsZero() || contains(skip, name) {
			continue
		}
		q.Set(name, fmt.Sprint(v.Field(i).Interface()))
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// fillPath puts the request's fields into the {name}s of path.
func fillPath(path string, req any) (string, error) {
	for _, name := range pathNames(path) {
		f, ok := fieldByJSON(reflect.ValueOf(req), name)
		if !ok || f.Kind() != reflect.String {
			return "", fmt.Errorf("route %s: no string field %q in its request", path, name)
		}
		if f.String() == "" {
			return "", badrequest.New("no %s given", name)
		}
		path = strings.Replace(path, "{"+name+"}", url.PathEscape(f.String()), 1)
	}
	return path, nil
}

// pathNames lists the {name}s of a route's path.
func pathNames(path string) []string {
	var out []string
	for _, seg := range strings.Split(path, "/") {
		if n, ok := strings.CutPrefix(seg, "{"); ok {
			out = append(out, strings.TrimSuffix(n, "}"))
		}
	}
	return out
}

func fieldByJSON(v reflect.Value, name string) (reflect.Value, bool) {
	if v.Kind() != reflect.Struct {
		return reflect.Value{}, false
	}
	for i := 0; i < v.NumField(); i++ {
		if jsonName(v.Type().Field(i)) == name {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

func jsonName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" {
		return ""
	}
	if name == "" {
		return f.Name
	}
	return name
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Do does op on the station's API: the ops.Doer of the command line when
// hotline run owns the station.
func (c *Client) Do(ctx context.Context, op *ops.Op, req any) (any, error) {
	path, err := fillPath(op.Path, req)
	if err != nil {
		return nil, err
	}
	var in any
	switch {
	case op.RawRequest:
		in = req.(ops.RawBody).Reader // sent as it is read
	case op.Method == http.MethodGet:
		path += writeQuery(req, pathNames(op.Path))
	default:
		in = req
	}
	p := op.NewResponse()
	if err := c.do(ctx, op.Method, path, in, p); err != nil {
		return nil, err
	}
	return reflect.ValueOf(p).Elem().Interface(), nil
}
