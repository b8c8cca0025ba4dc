package canon

import (
	"encoding/json"
	"fmt"
)

// KindOf names, for messages, the kind of JSON value whose first byte is
// c: "a list", "a string", "a boolean", "null", "a number", or "an object".
// Any other byte is "text that is not JSON".
func KindOf(c byte) string {
	switch {
	case c == '{':
		return "an object"
	case c == '[':
		return "a list"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || (c >= '0' && c <= '9'):
		return "a number"
	}
	return "text that is not JSON"
}

// KindOfValue names, for messages, the JSON kind of a decoded value, in the
// same words as KindOf.
func KindOfValue(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, int, int64, float32, uint64, json.Number:
		return "a number"
	case []any, []string:
		return "a list"
	case map[string]any, map[string]string:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
