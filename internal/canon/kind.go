package canon

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
