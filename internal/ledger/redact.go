package ledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"

	"github.com/wardenhq/warden/internal/canon"
)

// Redacted replaces every secret value that Redact removes.
const Redacted = "[REDACTED]"

// RedactOptions configures Redact.
type RedactOptions struct {
	// Disabled turns redaction off: data is logged as given.
	Disabled bool
	// Keys are extra object keys whose values are always redacted, compared
	// case-insensitively and ignoring '-', '_', '.' and spaces.
	Keys []string
	// Patterns are extra expressions matched against every string value. If
	// a pattern has a subexpression named "secret", only that part of each
	// match is replaced; otherwise the whole match is.
	Patterns []*regexp.Regexp
}

// maxRedactDepth bounds the walk over nested values; anything deeper is
// replaced as a whole, so cyclic Go values cannot loop forever.
const maxRedactDepth = 128

// builtinPatterns are the secret shapes found in free text.
var builtinPatterns = []*regexp.Regexp{
	// PEM private keys, including a block cut off before its END line.
	regexp.MustCompile(`(?s)(?P<secret>-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END[A-Z0-9 ]*PRIVATE KEY-----|\z))`),
	// AWS access key IDs.
	regexp.MustCompile(`\b(?P<secret>(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16})\b`),
	// GitHub tokens: classic and fine-grained.
	regexp.MustCompile(`\b(?P<secret>gh[pousr]_[A-Za-z0-9]{36,255})\b`),
	regexp.MustCompile(`\b(?P<secret>github_pat_[A-Za-z0-9_]{22,255})`),
	// Slack tokens.
	regexp.MustCompile(`\b(?P<secret>xox[abpr]-[A-Za-z0-9-]{10,})`),
	// Authorization headers: keep the scheme, drop the credentials.
	regexp.MustCompile(`(?i)\bauthorization["']?\s*[:=]\s*["']?(?:bearer|basic|token|digest)\s+(?P<secret>[^\s"',;]+)`),
	// Bearer tokens elsewhere (RFC 6750 b64token, at least 16 characters).
	regexp.MustCompile(`\bBearer\s+(?P<secret>[A-Za-z0-9\-._~+/]{16,}=*)`),
	// JSON Web Tokens.
	regexp.MustCompile(`\b(?P<secret>eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*)`),
}

// secretWords are key words that mark a value as secret wherever they occur
// in the key ("db_password", "client_secret", "awsCredentials").
var secretWords = map[string]bool{
	"password": true, "passwd": true, "passphrase": true, "secret": true,
	"credential": true, "credentials": true,
}

// secretLastWords are key words that mark a value as secret when they end
// the key ("access_token", "set-cookie"), but not elsewhere ("token_count").
var secretLastWords = map[string]bool{
	"token": true, "authorization": true, "cookie": true, "apikey": true,
	"pwd": true,
}

// secretPairs are two-word key endings ("x-api-key", "AWS_ACCESS_KEY").
var secretPairs = map[string]bool{
	"api key": true, "access key": true, "private key": true, "session key": true,
	"secret key": true, "client secret": true, "signing key": true, "encryption key": true,
}

// secretKeys are whole normalized keys.
var secretKeys = map[string]bool{
	"password": true, "passwd": true, "secret": true, "token": true, "apikey": true,
	"accesskey": true, "privatekey": true, "credential": true, "credentials": true,
	"authorization": true, "cookie": true, "sessionkey": true, "clientsecret": true,
	"proxyauthorization": true, "setcookie": true,
}

// Redact returns a deep copy of data in which secrets are replaced by
// Redacted:
//
//   - the value of every object member whose key looks secret (password,
//     passwd, secret, token, api_key/apikey, access_key, private_key,
//     credential(s), authorization, cookie, session_key, client_secret and
//     their variants in any case and separator style, plus opts.Keys);
//   - inside every string, the secret part of AWS access key IDs, PEM
//     private key blocks, GitHub and Slack tokens, Authorization header
//     credentials, bearer tokens and JSON Web Tokens, plus opts.Patterns.
//
// Maps, slices and strings produced by encoding/json (map[string]any, []any,
// json.Number, …) are walked directly; any other value is first converted to
// its JSON form. A value that cannot be converted, or nesting deeper than 128,
// is replaced by Redacted as a whole: redaction fails closed. With
// opts.Disabled the JSON form is returned unredacted.
func Redact(data any, opts RedactOptions) any {
	r := newRedactor(opts)
	var changed bool
	return r.value(data, 0, &changed)
}

// redactJSON redacts a JSON document and returns its RFC 8785 form. canonical
// is the RFC 8785 form of raw, returned as is when nothing was redacted.
func (r *redactor) redactJSON(raw, canonical []byte) ([]byte, error) {
	if r.disabled {
		return canonical, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: entry data: %w", ErrInvalid, err)
	}
	var changed bool
	v = r.value(v, 0, &changed)
	if !changed {
		return canonical, nil
	}
	out, err := canon.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: redacted entry data: %w", ErrInvalid, err)
	}
	return out, nil
}

type redactor struct {
	disabled bool
	keys     map[string]bool
	patterns []*regexp.Regexp
	// known caches secretKey's answers for the keys seen most: the same
	// few keys recur in every entry.
	known  sync.Map // string → bool
	nKnown atomic.Int32
}

// maxKnownKeys bounds the secretKey cache.
const maxKnownKeys = 4096

func newRedactor(opts RedactOptions) *redactor {
	r := &redactor{disabled: opts.Disabled, patterns: builtinPatterns}
	if len(opts.Keys) > 0 {
		r.keys = make(map[string]bool, len(opts.Keys))
		for _, k := range opts.Keys {
			r.keys[normalizeKey(k)] = true
		}
	}
	if len(opts.Patterns) > 0 {
		r.patterns = append(append([]*regexp.Regexp(nil), builtinPatterns...), opts.Patterns...)
	}
	return r
}

func (r *redactor) value(v any, depth int, changed *bool) any {
	if depth > maxRedactDepth {
		*changed = true
		return Redacted
	}
	switch x := v.(type) {
	case nil, bool, float64, float32, json.Number,
		int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return x
	case string:
		if r.disabled {
			return x
		}
		t := r.text(x)
		if t != x {
			*changed = true
		}
		return t
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			if !r.disabled && r.secretKey(k) {
				out[k] = Redacted
				*changed = true
				continue
			}
			out[k] = r.value(val, depth+1, changed)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = r.value(val, depth+1, changed)
		}
		return out
	default:
		generic, ok := toGeneric(v)
		if !ok {
			*changed = true
			return Redacted
		}
		return r.value(generic, depth+1, changed)
	}
}

// toGeneric converts any value to the map/slice/json.Number form.
func toGeneric(v any) (any, bool) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, false
	}
	return out, true
}

// text replaces the secret parts of s.
func (r *redactor) text(s string) string {
	for i, re := range r.patterns {
		if i < len(builtinHints) && !mayHold(s, builtinHints[i]) {
			continue
		}
		s = replaceSecret(re, s)
	}
	return s
}

// builtinHints are, for each of builtinPatterns in order, words one of
// which every match contains (compared ignoring case): text holding none
// of them cannot match, and the pattern is not run on it.
var builtinHints = [][]string{
	{"private key"},
	{"akia", "asia", "agpa", "aida", "aroa", "anpa", "anva", "aipa"},
	{"gh"},
	{"github_pat_"},
	{"xox"},
	{"authorization"},
	{"bearer"},
	{"eyj"},
}

// mayHold reports whether s contains one of words, ignoring ASCII case.
func mayHold(s string, words []string) bool {
	for _, w := range words {
		for i := 0; i+len(w) <= len(s); i++ {
			if (s[i]|0x20) == w[0] && strings.EqualFold(s[i:i+len(w)], w) {
				return true
			}
		}
	}
	return false
}

func replaceSecret(re *regexp.Regexp, s string) string {
	locs := re.FindAllStringSubmatchIndex(s, -1)
	if locs == nil {
		return s
	}
	group := re.SubexpIndex("secret")
	var b strings.Builder
	last := 0
	for _, loc := range locs {
		start, end := loc[0], loc[1]
		if group > 0 && loc[2*group] >= 0 {
			start, end = loc[2*group], loc[2*group+1]
		}
		if start < last {
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString(Redacted)
		last = end
	}
	b.WriteString(s[last:])
	return b.String()
}

// secretKey reports whether an object key names a secret.
func (r *redactor) secretKey(k string) bool {
	if v, ok := r.known.Load(k); ok {
		return v.(bool)
	}
	secret := r.classifyKey(k)
	if r.nKnown.Load() < maxKnownKeys {
		if _, loaded := r.known.LoadOrStore(k, secret); !loaded {
			r.nKnown.Add(1)
		}
	}
	return secret
}

func (r *redactor) classifyKey(k string) bool {
	norm := normalizeKey(k)
	if secretKeys[norm] || r.keys[norm] {
		return true
	}
	words := keyWords(k)
	for _, w := range words {
		if secretWords[w] {
			return true
		}
	}
	if n := len(words); n > 0 {
		if secretLastWords[words[n-1]] {
			return true
		}
		if n > 1 && secretPairs[words[n-2]+" "+words[n-1]] {
			return true
		}
	}
	return false
}

// normalizeKey lower-cases k and drops separators.
func normalizeKey(k string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(k) {
		switch c {
		case '-', '_', '.', ' ':
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// keyWords splits a key into lower-case words at separators and camelCase
// boundaries: "X-Api-Key", "x_api_key" and "xApiKey" all give [x api key].
func keyWords(k string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	runes := []rune(k)
	for i, c := range runes {
		switch {
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			flush()
		case unicode.IsUpper(c) && len(cur) > 0 &&
			(unicode.IsLower(cur[len(cur)-1]) || (i+1 < len(runes) && unicode.IsLower(runes[i+1]))):
			flush()
			cur = append(cur, c)
		default:
			cur = append(cur, c)
		}
	}
	flush()
	return words
}
