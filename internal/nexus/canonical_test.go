package nexus

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCanonical(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct {
		rule    string
		in      string
		want    string
		wantErr string // substring of the error; "" means success
	}{
		// Key order: code point order at every depth, arrays unchanged.
		{rule: "keys sorted", in: `{"b":1,"a":2,"A":3,"_":4}`, want: `{"A":3,"_":4,"a":2,"b":1}`},
		{rule: "keys sorted at depth", in: `{"z":{"y":[{"b":1,"a":2}],"x":null}}`, want: `{"z":{"x":null,"y":[{"a":2,"b":1}]}}`},
		{rule: "array order kept", in: `[3,1,2,"b","a"]`, want: `[3,1,2,"b","a"]`},
		{rule: "keys by code point not UTF-16", in: `{"\ufb33":1,"\ud83d\ude00":2,"\u00e9":3}`, want: "{\"é\":3,\"\ufb33\":1,\"😀\":2}"},
		{rule: "key prefix sorts first", in: `{"ab":1,"a":2,"":3}`, want: `{"":3,"a":2,"ab":1}`},
		// Whitespace.
		{rule: "no whitespace", in: " {\n\t\"a\" : [ 1 , 2 ] ,\r\n \"b\" : { } } ", want: `{"a":[1,2],"b":{}}`},
		{rule: "empty containers", in: `[{},[],""]`, want: `[{},[],""]`},
		// Strings.
		{rule: "short escapes", in: `"\b\f\n\r\t"`, want: `"\b\f\n\r\t"`},
		{rule: "quote and backslash", in: `"\"\\"`, want: `"\"\\"`},
		{rule: "other controls lower-case hex", in: `"\u0001\u001F\u000b\u0000"`, want: `"\u0001\u001f\u000b\u0000"`},
		{rule: "solidus raw", in: `"\/a/b"`, want: `"/a/b"`},
		{rule: "DEL raw", in: `"\u007f"`, want: "\"\x7f\""},
		{rule: "U+2028 and U+2029 raw", in: `"\u2028\u2029"`, want: "\"\u2028\u2029\""},
		{rule: "HTML characters raw", in: `"\u003c/a\u003e\u0026"`, want: `"</a>&"`},
		{rule: "non-ASCII raw", in: `"\u00fc\u20ac"`, want: `"ü€"`},
		{rule: "astral raw from surrogate pair", in: `"\ud83d\ude00"`, want: `"😀"`},
		{rule: "raw UTF-8 kept", in: "\"d\u00e9j\u00e0 \U0001F600\"", want: "\"déjà 😀\""},
		// Integers.
		{rule: "integer in full", in: `[0,-1,100000000000000000000,-123456789012345678901234567890]`, want: `[0,-1,100000000000000000000,-123456789012345678901234567890]`},
		{rule: "minus zero integer", in: `-0`, want: `0`},
		{rule: "4300 digits accepted", in: "1" + strings.Repeat("0", 4299), want: "1" + strings.Repeat("0", 4299)},
		{rule: "4301 digits refused", in: "1" + strings.Repeat("0", 4300), wantErr: "4301 digits"},
		// Doubles, Python repr.
		{rule: "whole double keeps .0", in: `[1.0,100.0,1E2,1.0e+2,-3.00]`, want: `[1.0,100.0,100.0,100.0,-3.0]`},
		{rule: "shortest round trip", in: `[0.1,0.30000000000000004,4.50,3.141592653589793238]`, want: `[0.1,0.30000000000000004,4.5,3.141592653589793]`},
		{rule: "minus zero double", in: `[-0.0,-0e0,0.0]`, want: `[-0.0,-0.0,0.0]`},
		{rule: "exponent from 16", in: `[1e16,1e15,1234567890123456789.0,9999999999999998.0]`, want: `[1e+16,1000000000000000.0,1.2345678901234568e+18,9999999999999998.0]`},
		{rule: "exponent below -4", in: `[1e-4,1e-5,0.00012,1.5e-7]`, want: `[0.0001,1e-05,0.00012,1.5e-07]`},
		{rule: "exponent digits", in: `[1e20,1e100,5e-324,1.7976931348623157e308]`, want: `[1e+20,1e+100,5e-324,1.7976931348623157e+308]`},
		{rule: "underflow to zero", in: `[1e-400,-1e-400]`, want: `[0.0,-0.0]`},
		{rule: "double overflow refused", in: `1e400`, wantErr: "out of the range"},
		{rule: "NaN refused", in: `[NaN]`, wantErr: "NaN and Infinity"},
		{rule: "Infinity refused", in: `{"a":Infinity}`, wantErr: "NaN and Infinity"},
		{rule: "-Infinity refused", in: `-Infinity`, wantErr: "NaN and Infinity"},
		// Literals.
		{rule: "literals", in: `[true,false,null]`, want: `[true,false,null]`},
		{rule: "top-level scalar", in: ` "x" `, want: `"x"`},
		// Refusals.
		{rule: "duplicate key", in: `{"a":1,"a":2}`, wantErr: `duplicate object key "a"`},
		{rule: "duplicate key after many", in: `{"a":1,"b":1,"c":1,"d":1,"e":1,"f":1,"g":1,"h":1,"i":1,"b":2}`, wantErr: `duplicate object key "b"`},
		{rule: "duplicate key spelled differently", in: `{"\u0061":1,"a":2}`, wantErr: `duplicate object key "a"`},
		{rule: "lone high surrogate", in: `"\ud800"`, wantErr: "lone surrogate"},
		{rule: "lone low surrogate", in: `"\udc00x"`, wantErr: "lone surrogate"},
		{rule: "high surrogate then non-surrogate", in: `"\ud800\u0041"`, wantErr: "lone surrogate"},
		{rule: "invalid UTF-8", in: "\"\xff\"", wantErr: "invalid UTF-8"},
		{rule: "byte order mark", in: "\ufeff{}", wantErr: "byte order mark"},
		{rule: "raw control character", in: "\"a\nb\"", wantErr: "must be escaped"},
		{rule: "leading zero", in: `01`, wantErr: "after the document"},
		{rule: "bare fraction", in: `.5`, wantErr: "want a value"},
		{rule: "trailing comma", in: `[1,]`, wantErr: "want a value"},
		{rule: "single quotes", in: `{'a':1}`, wantErr: "want an object key"},
		{rule: "empty input", in: ``, wantErr: "end of input"},
		{rule: "trailing data", in: `{} {}`, wantErr: "after the document"},
		{rule: "invalid escape", in: `"\x"`, wantErr: "invalid escape"},
		{rule: "max depth accepted", in: deep(MaxDepth), want: deep(MaxDepth)},
		{rule: "too deep", in: deep(MaxDepth + 1), wantErr: "nesting deeper"},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			got, err := Canonical([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Canonical(%q) = %q, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				var se *SyntaxError
				if !errors.As(err, &se) {
					t.Errorf("error %v is not a *SyntaxError", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Canonical(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("Canonical(%q) (-want +got):\n%s", tt.in, diff)
			}
			again, err := Canonical(got)
			if err != nil || string(again) != string(got) {
				t.Errorf("Canonical is not idempotent: %q -> %q, %v", got, again, err)
			}
		})
	}
}

// TestCanonicalPythonFloats compares the double formatting with Python's
// json.dumps on 500 doubles (edge cases, random bit patterns, random
// magnitudes), recorded in testdata/python-floats.json as [input, output].
func TestCanonicalPythonFloats(t *testing.T) {
	raw, err := os.ReadFile("testdata/python-floats.json")
	if err != nil {
		t.Fatal(err)
	}
	var pairs [][2]string
	if err := json.Unmarshal(raw, &pairs); err != nil {
		t.Fatal(err)
	}
	if len(pairs) < 500 {
		t.Fatalf("only %d cases", len(pairs))
	}
	var got, want []string
	for _, p := range pairs {
		c, err := Canonical([]byte(p[0]))
		if err != nil {
			t.Errorf("Canonical(%s): %v", p[0], err)
			continue
		}
		got, want = append(got, p[0]+" -> "+string(c)), append(want, p[0]+" -> "+p[1])
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("doubles differ from Python (-python +go):\n%s", diff)
	}
}

func TestDigestForms(t *testing.T) {
	d, err := ContentDigest([]byte(`{"steps_executed":3,"run_id":"run-1"}`))
	if err != nil {
		t.Fatal(err)
	}
	const want = "21b0e85195ed571fe106a178345fee617f6205138191531c383e333213a82123"
	got := map[string]any{
		"content":  d,
		"prefixed": PrefixDigest(d),
		"stripped": StripDigestPrefix(PrefixDigest(d)),
		"raw kept": StripDigestPrefix(d),
		"is hex":   IsHexDigest(d),
		"upper":    IsHexDigest(strings.ToUpper(d)),
		"short":    IsHexDigest(d[:63]),
	}
	wantMap := map[string]any{
		"content": want, "prefixed": "sha256:" + want, "stripped": want, "raw kept": want,
		"is hex": true, "upper": false, "short": false,
	}
	if diff := cmp.Diff(wantMap, got); diff != "" {
		t.Errorf("digest forms (-want +got):\n%s", diff)
	}
	m, err := Marshal(map[string]any{"b": json.Number("1.0"), "a": "é"})
	if err != nil || string(m) != `{"a":"é","b":1.0}` {
		t.Errorf("Marshal = %s, %v", m, err)
	}
	if _, err := Marshal(func() {}); err == nil {
		t.Error("Marshal(func) succeeded")
	}
}
