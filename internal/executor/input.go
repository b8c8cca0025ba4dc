package executor

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/wardenhq/warden/internal/canon"
	"github.com/wardenhq/warden/internal/warden"
)

// The input accessors below read one field and fail with an INVALID_INPUT
// error that names the field, what it must be, and what it was.

func badField(key, want string, v any) error {
	return warden.Errorf(warden.CodeInvalidInput, "input.%s: must be %s, got %s", key, want, canon.KindOfValue(v))
}

// Known rejects keys outside the given set, so that a misspelt option is
// not silently ignored.
func Known(in Input, keys ...string) error {
	for k := range in {
		if !slices.Contains(keys, k) {
			return warden.Errorf(warden.CodeInvalidInput, "input.%s: unknown field; this action takes %s", k, strings.Join(keys, ", "))
		}
	}
	return nil
}

// String reads a string field. A required field must be present and
// non-empty; an absent optional one gives "".
func String(in Input, key string, required bool) (string, error) {
	v, ok := in[key]
	if !ok || v == nil {
		if required {
			return "", warden.Errorf(warden.CodeInvalidInput, "input.%s: required", key)
		}
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", badField(key, "a string", v)
	}
	if required && s == "" {
		return "", warden.Errorf(warden.CodeInvalidInput, "input.%s: must not be empty", key)
	}
	if strings.ContainsRune(s, 0) {
		return "", warden.Errorf(warden.CodeInvalidInput, "input.%s: must not contain a NUL byte", key)
	}
	return s, nil
}

// Enum reads a string field that must be one of the allowed values; def
// applies when it is absent.
func Enum(in Input, key, def string, allowed ...string) (string, error) {
	s, err := String(in, key, false)
	if err != nil {
		return "", err
	}
	if s == "" {
		return def, nil
	}
	if !slices.Contains(allowed, s) {
		return "", warden.Errorf(warden.CodeInvalidInput, "input.%s: %q is not one of %s", key, s, strings.Join(allowed, ", "))
	}
	return s, nil
}

// Bool reads a boolean field; def applies when it is absent.
func Bool(in Input, key string, def bool) (bool, error) {
	v, ok := in[key]
	if !ok || v == nil {
		return def, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, badField(key, "true or false", v)
	}
	return b, nil
}

// Int reads a whole-number field within [lo, hi]; def applies when it is
// absent.
func Int(in Input, key string, def, lo, hi int64) (int64, error) {
	v, ok := in[key]
	if !ok || v == nil {
		return def, nil
	}
	var f float64
	switch t := v.(type) {
	case float64:
		f = t
	case int:
		f = float64(t)
	case int64:
		f = float64(t)
	case json.Number:
		n, err := t.Float64()
		if err != nil {
			return 0, badField(key, "a whole number", v)
		}
		f = n
	default:
		return 0, badField(key, "a whole number", v)
	}
	if f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
		return 0, warden.Errorf(warden.CodeInvalidInput, "input.%s: must be a whole number from %d to %d, got %v", key, lo, hi, f)
	}
	return int64(f), nil
}

// Strings reads an array of strings; absent gives nil.
func Strings(in Input, key string) ([]string, error) {
	v, ok := in[key]
	if !ok || v == nil {
		return nil, nil
	}
	switch t := v.(type) {
	case []string:
		return t, nil
	case []any:
		out := make([]string, len(t))
		for i, e := range t {
			s, ok := e.(string)
			if !ok {
				return nil, badField(fmt.Sprintf("%s[%d]", key, i), "a string", e)
			}
			if strings.ContainsRune(s, 0) {
				return nil, warden.Errorf(warden.CodeInvalidInput, "input.%s[%d]: must not contain a NUL byte", key, i)
			}
			out[i] = s
		}
		return out, nil
	}
	return nil, badField(key, "an array of strings", v)
}

// StringMap reads an object whose values are strings; absent gives nil.
func StringMap(in Input, key string) (map[string]string, error) {
	v, ok := in[key]
	if !ok || v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		if sm, ok := v.(map[string]string); ok {
			return sm, nil
		}
		return nil, badField(key, "an object of strings", v)
	}
	out := make(map[string]string, len(m))
	for k, e := range m {
		s, ok := e.(string)
		if !ok {
			return nil, badField(key+"."+k, "a string", e)
		}
		out[k] = s
	}
	return out, nil
}
