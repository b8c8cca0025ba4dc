package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/wardenhq/warden/internal/canon"
	"github.com/wardenhq/warden/internal/warden"
)

// bodyMode says how decode treats a request body.
type bodyMode uint8

const (
	// required: the body must be a JSON object.
	required bodyMode = iota
	// optional: an empty body is accepted and leaves dst untouched.
	optional
)

// decode reads a JSON object body into dst. strict refuses fields dst does
// not declare. Every failure is a client error naming what is wrong and
// how to fix it: TOO_LARGE, UNSUPPORTED_MEDIA_TYPE or INVALID_INPUT.
func decode(r *http.Request, dst any, strict bool, mode bodyMode) error {
	if r.ContentLength > maxBody {
		return tooLarge()
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return invalid("reading the request body: %v", err)
	}
	if len(data) > maxBody {
		return tooLarge()
	}
	if len(bytes.TrimSpace(data)) == 0 {
		if mode == optional {
			return nil
		}
		return invalid("the request body is empty; send a JSON object, e.g. %s", example(dst))
	}
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	if !utf8.Valid(data) {
		off := invalidUTF8At(data)
		return invalid("the request body is not valid UTF-8 (at byte %d); send UTF-8 encoded JSON", off)
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if trimmed[0] != '{' {
		return invalid("the request body must be a JSON object, e.g. %s; got %s", example(dst), canon.KindOf(trimmed[0]))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(dst); err != nil {
		return decodeError(err, data, dst)
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid("unexpected data after the JSON object; send exactly one object")
	}
	return nil
}

func tooLarge() error {
	return warden.Errorf(warden.CodeTooLarge, "the request body is larger than %d MiB; send a smaller policy or input", maxBody>>20)
}

func checkContentType(ct string) error {
	if ct == "" {
		return &warden.Error{Code: codeUnsupportedMediaType, Message: "the request has a body but no Content-Type; send Content-Type: application/json"}
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return &warden.Error{Code: codeUnsupportedMediaType, Message: fmt.Sprintf("Content-Type %q is not JSON; send Content-Type: application/json", ct)}
	}
	return nil
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// decodeError turns a JSON decoding error into a message naming the field
// and the fix.
func decodeError(err error, data []byte, dst any) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		line, col := lineCol(data, int(syn.Offset))
		return invalid("malformed JSON at line %d, column %d: %v; check quotes, commas and brackets", line, col, syn)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return invalid("the request body must be a JSON object, e.g. %s", example(dst))
		}
		return invalid("field %q must be %s, not %s", field, typeName(typ.Type), jsonValueName(typ.Value))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("malformed JSON: the body ends in the middle of a value; send a complete JSON object")
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return invalid("unknown field %s; the fields of this request are: %s", name, strings.Join(fieldNames(dst), ", "))
	}
	return invalid("malformed JSON: %v", err)
}

func lineCol(b []byte, off int) (int, int) {
	off = min(max(off, 0), len(b))
	line, col := 1, 1
	for _, c := range b[:off] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// typeName describes a Go type as the JSON it accepts.
func typeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Map, reflect.Struct:
		return "a JSON object"
	case reflect.Slice, reflect.Array:
		return "a list"
	}
	return "a " + t.Kind().String()
}

// jsonValueName describes the JSON value UnmarshalTypeError.Value names.
func jsonValueName(v string) string {
	switch {
	case v == "object":
		return "an object"
	case v == "array":
		return "a list"
	case v == "string":
		return "a string"
	case v == "bool":
		return "a boolean"
	case strings.HasPrefix(v, "number"):
		return v
	}
	return v
}

// fieldNames lists the JSON names of a struct's fields.
func fieldNames(dst any) []string {
	t := reflect.TypeOf(dst)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	return out
}

// example is a sample body for a request type, for messages.
func example(dst any) string {
	if e, ok := dst.(interface{ example() string }); ok {
		return e.example()
	}
	return "{}"
}

// missing reports a required field that is absent.
func missing(field, sample string) error {
	return invalid("field %q is required, e.g. %s", field, sample)
}
