package nexus

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FieldProblem is one field of a document that does not have the expected
// form.
type FieldProblem struct {
	Field   string // path of the field, such as "events[2].seq"
	Problem string // what is wrong with it
}

// ParseError reports every field of a document that does not have the
// expected form (up to a limit), each by its path.
type ParseError struct {
	Document string         // "bundle", "audit package", ...
	Problems []FieldProblem // at least one
}

// Error lists the problems, each prefixed with the field's path.
func (e *ParseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "nexus: invalid %s: ", e.Document)
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		if p.Field == "" {
			b.WriteString("document")
		} else {
			b.WriteString(p.Field)
		}
		b.WriteString(": ")
		b.WriteString(p.Problem)
	}
	return b.String()
}

// maxProblems bounds the problems a ParseError lists.
const maxProblems = 50

type decoder struct {
	problems []FieldProblem
}

func (d *decoder) addf(path, format string, args ...any) {
	if len(d.problems) < maxProblems {
		d.problems = append(d.problems, FieldProblem{Field: path, Problem: fmt.Sprintf(format, args...)})
	}
}

func (d *decoder) err(document string) error {
	if len(d.problems) == 0 {
		return nil
	}
	return &ParseError{Document: document, Problems: d.problems}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func indexPath(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// objReader reads the members of one JSON object, remembering which ones
// were read so that the others can be kept as unknown fields.
type objReader struct {
	d    *decoder
	v    *jvalue
	path string
	used []bool
}

// object returns a reader for v, or nil (and a problem) if v is not an
// object.
func (d *decoder) object(v *jvalue, path string) *objReader {
	if v.kind != jObject {
		d.addf(path, "want an object, got %s", v.kindName())
		return nil
	}
	return &objReader{d: d, v: v, path: path, used: make([]bool, len(v.members))}
}

func (r *objReader) field(key string) *jvalue {
	for i := range r.v.members {
		if r.v.members[i].key == key {
			r.used[i] = true
			return r.v.members[i].val
		}
	}
	return nil
}

// required returns the member key, or nil and a "missing" problem.
func (r *objReader) required(key string) *jvalue {
	v := r.field(key)
	if v == nil {
		r.d.addf(joinPath(r.path, key), "missing")
	}
	return v
}

func (r *objReader) str(key string) string {
	v := r.required(key)
	if v == nil {
		return ""
	}
	if v.kind != jString {
		r.d.addf(joinPath(r.path, key), "want a string, got %s", v.kindName())
		return ""
	}
	return v.s
}

// optStr reads a string that may be absent (nil), but not null.
func (r *objReader) optStr(key string) *string {
	v := r.field(key)
	if v == nil {
		return nil
	}
	if v.kind != jString {
		r.d.addf(joinPath(r.path, key), "want a string, got %s (omit the field instead)", v.kindName())
		return nil
	}
	s := v.s
	return &s
}

// nullStr reads a string that must be present and may be null (nil).
func (r *objReader) nullStr(key string) *string {
	v := r.required(key)
	if v == nil || v.kind == jNull {
		return nil
	}
	if v.kind != jString {
		r.d.addf(joinPath(r.path, key), "want a string or null, got %s", v.kindName())
		return nil
	}
	s := v.s
	return &s
}

func (r *objReader) integer(key string) int64 {
	v := r.required(key)
	if v == nil {
		return 0
	}
	if v.kind != jNumber || v.float {
		r.d.addf(joinPath(r.path, key), "want an integer, got %s", v.kindName())
		return 0
	}
	n, err := strconv.ParseInt(v.s, 10, 64)
	if err != nil {
		r.d.addf(joinPath(r.path, key), "integer %s out of range", v.s)
		return 0
	}
	return n
}

func (r *objReader) boolean(key string) bool {
	v := r.required(key)
	if v == nil {
		return false
	}
	if v.kind != jBool {
		r.d.addf(joinPath(r.path, key), "want a boolean, got %s", v.kindName())
		return false
	}
	return v.b
}

// raw returns the source bytes of member key: nil when it is absent (a
// problem if required), and a problem if wantObject and it is not an
// object.
func (r *objReader) raw(key string, required, wantObject bool) json.RawMessage {
	var v *jvalue
	if required {
		v = r.required(key)
	} else {
		v = r.field(key)
	}
	if v == nil {
		return nil
	}
	if wantObject && v.kind != jObject {
		r.d.addf(joinPath(r.path, key), "want an object, got %s", v.kindName())
		return nil
	}
	return json.RawMessage(v.raw)
}

// strList reads a list of strings; absent is nil (a problem if required).
func (r *objReader) strList(key string, required bool) []string {
	var v *jvalue
	if required {
		v = r.required(key)
	} else {
		v = r.field(key)
	}
	if v == nil {
		return nil
	}
	path := joinPath(r.path, key)
	if v.kind != jArray {
		r.d.addf(path, "want a list of strings, got %s", v.kindName())
		return nil
	}
	out := make([]string, 0, len(v.elems))
	for i, e := range v.elems {
		if e.kind != jString {
			r.d.addf(indexPath(path, i), "want a string, got %s", e.kindName())
			continue
		}
		out = append(out, e.s)
	}
	return out
}

// list returns the elements of member key, which must be a list.
func (r *objReader) list(key string, required bool) ([]*jvalue, bool) {
	var v *jvalue
	if required {
		v = r.required(key)
	} else {
		v = r.field(key)
	}
	if v == nil {
		return nil, false
	}
	if v.kind != jArray {
		r.d.addf(joinPath(r.path, key), "want a list, got %s", v.kindName())
		return nil, false
	}
	return v.elems, true
}

// extra returns the members that were not read, or nil.
func (r *objReader) extra() map[string]json.RawMessage {
	var m map[string]json.RawMessage
	for i, mem := range r.v.members {
		if r.used[i] {
			continue
		}
		if m == nil {
			m = make(map[string]json.RawMessage)
		}
		m[mem.key] = json.RawMessage(mem.val.raw)
	}
	return m
}

// objWriter writes a JSON object member by member. Known members come in
// the order written, unknown ones after them in key order.
type objWriter struct {
	buf  []byte
	keys []string
	err  error
}

func newObjWriter() *objWriter { return &objWriter{buf: append(make([]byte, 0, 256), '{')} }

func (w *objWriter) key(k string) {
	if len(w.keys) > 0 {
		w.buf = append(w.buf, ',')
	}
	w.keys = append(w.keys, k)
	w.buf = appendString(w.buf, k)
	w.buf = append(w.buf, ':')
}

func (w *objWriter) checkUTF8(k, s string) {
	if w.err == nil && !utf8.ValidString(s) {
		w.err = fmt.Errorf("nexus: field %s holds invalid UTF-8", k)
	}
}

func (w *objWriter) str(k, v string) {
	w.checkUTF8(k, v)
	w.key(k)
	w.buf = appendString(w.buf, v)
}

// nullStr writes v, or null when v is nil.
func (w *objWriter) nullStr(k string, v *string) {
	if v == nil {
		w.key(k)
		w.buf = append(w.buf, "null"...)
		return
	}
	w.str(k, *v)
}

// optStr writes v, or nothing when v is nil.
func (w *objWriter) optStr(k string, v *string) {
	if v != nil {
		w.str(k, *v)
	}
}

func (w *objWriter) integer(k string, v int64) {
	w.key(k)
	w.buf = strconv.AppendInt(w.buf, v, 10)
}

func (w *objWriter) boolean(k string, v bool) {
	w.key(k)
	w.buf = strconv.AppendBool(w.buf, v)
}

// raw writes v, or nothing when it is empty.
func (w *objWriter) raw(k string, v json.RawMessage) {
	if len(v) == 0 {
		return
	}
	w.key(k)
	w.buf = append(w.buf, v...)
}

func (w *objWriter) strs(k string, v []string) {
	w.key(k)
	w.buf = append(w.buf, '[')
	for i, s := range v {
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		w.checkUTF8(k, s)
		w.buf = appendString(w.buf, s)
	}
	w.buf = append(w.buf, ']')
}

func (w *objWriter) value(k string, v interface{ MarshalJSON() ([]byte, error) }) {
	b, err := v.MarshalJSON()
	if err != nil {
		if w.err == nil {
			w.err = err
		}
		return
	}
	w.key(k)
	w.buf = append(w.buf, b...)
}

// extra writes the unknown members, refusing any that repeat a known one.
func (w *objWriter) extra(m map[string]json.RawMessage) {
	if len(m) == 0 {
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if slices.Contains(w.keys, k) {
			if w.err == nil {
				w.err = fmt.Errorf("nexus: unknown field %q repeats a known field", k)
			}
			continue
		}
		if len(m[k]) == 0 {
			if w.err == nil {
				w.err = fmt.Errorf("nexus: unknown field %q has no value", k)
			}
			continue
		}
		w.checkUTF8(k, k)
		w.raw(k, m[k])
	}
}

func (w *objWriter) finish() ([]byte, error) {
	if w.err != nil {
		return nil, w.err
	}
	return append(w.buf, '}'), nil
}

// unmarshalInto parses data and decodes it with decode, for the
// UnmarshalJSON methods.
func unmarshalInto(data []byte, document string, decode func(d *decoder, v *jvalue)) error {
	v, err := parseJSON(data)
	if err != nil {
		return err
	}
	var d decoder
	decode(&d, v)
	return d.err(document)
}
