package canon

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// rfc8785Input is the example of RFC 8785 §3.2.2 (whitespace as published).
const rfc8785Input = `{
  "numbers": [333333333.33333329, 1E30, 4.50,
              2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}`

const rfc8785Output = `{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`

// rfc8785Sorting is the property sorting example of RFC 8785 §3.2.3.
const rfc8785Sorting = `{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}`

func TestJCS(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string // substring of the error; "" means success
	}{
		{name: "rfc8785 3.2.2", in: rfc8785Input, want: rfc8785Output},
		{name: "rfc8785 3.2.3 sorting", in: rfc8785Sorting,
			want: "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"ö\":\"Latin Small Letter O With Diaeresis\",\"€\":\"Euro Sign\",\"😀\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}"},
		{name: "nested sort and whitespace", in: ` { "b" : [ 1 , { "z":1, "y":2 } ], "a" : "x" } `, want: `{"a":"x","b":[1,{"y":2,"z":1}]}`},
		{name: "html not escaped", in: `"\u003c/a\u003e\u0026"`, want: `"</a>&"`},
		{name: "top-level scalar", in: ` 42 `, want: `42`},
		{name: "2^53 accepted", in: `[9007199254740992,-9007199254740992]`, want: `[9007199254740992,-9007199254740992]`},
		{name: "2^53+1 rejected", in: `{"id":9007199254740993}`, wantErr: "9007199254740993"},
		{name: "negative 2^53+1 rejected", in: `[-9007199254740993]`, wantErr: "-9007199254740993"},
		{name: "uint64 rejected", in: `18446744073709551615`, wantErr: "18446744073709551615"},
		{name: "long integer rejected", in: `123456789012345678901234567890`, wantErr: "123456789012345678901234567890"},
		{name: "integral double 1e20 rejected", in: `1e20`, wantErr: "1e20"},
		{name: "integral double with fraction rejected", in: `9007199254740993.5`, wantErr: "9007199254740993.5"},
		{name: "rounds down to 2^53 accepted", in: `9007199254740992.4`, want: `9007199254740992`},
		{name: "exponent from 1e21 is a double", in: `[1E30,1e21,-1.5e300]`, want: `[1e+30,1e+21,-1.5e+300]`},
		{name: "fractions", in: `[0.1,4.50,-0,1e-7,0.000001]`, want: `[0.1,4.5,0,1e-7,0.000001]`},
		{name: "duplicate key", in: `{"a":1,"a":2}`, wantErr: "Duplicate key"},
		{name: "duplicate nested key", in: `{"x":{"b":1,"b":1}}`, wantErr: "Duplicate key"},
		{name: "invalid utf-8 in string", in: "\"\xff\"", wantErr: "invalid UTF-8"},
		{name: "overlong utf-8", in: "\"\xc0\xaf\"", wantErr: "invalid UTF-8"},
		{name: "lone surrogate", in: `"\ud800"`, wantErr: "invalid JSON"},
		{name: "lone low surrogate", in: `"\udc00"`, wantErr: "surrogate"},
		{name: "depth 64 accepted", in: deep(64), want: deep(64)},
		{name: "depth 65 rejected", in: deep(65), wantErr: "nesting deeper than 64"},
		{name: "deep object rejected", in: strings.Repeat(`{"a":`, 65) + "1" + strings.Repeat("}", 65), wantErr: "nesting"},
		{name: "brackets inside strings do not count", in: `"` + strings.Repeat("[", 100) + `"`, want: `"` + strings.Repeat("[", 100) + `"`},
		{name: "empty", in: ``, wantErr: "invalid JSON"},
		{name: "trailing data", in: `{} {}`, wantErr: "invalid JSON"},
		{name: "trailing comma", in: `[1,]`, wantErr: "invalid JSON"},
		{name: "leading zero", in: `01`, wantErr: "invalid JSON"},
		{name: "NaN", in: `NaN`, wantErr: "invalid JSON"},
		{name: "out of range", in: `1e400`, wantErr: "invalid JSON"},
		{name: "bom", in: "\ufeff{}", wantErr: "invalid JSON"},
		{name: "raw control char", in: "\"a\x01\"", wantErr: "invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := JCS([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("JCS(%q) = %q, want error containing %q", tt.in, got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("JCS(%q) error = %v, want it to contain %q and wrap ErrInvalid", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("JCS(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("JCS(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
			again, err := JCS(got)
			if err != nil || !bytes.Equal(again, got) {
				t.Errorf("JCS not idempotent on %q: %q, %v", got, again, err)
			}
			if !IsCanonical(got) {
				t.Errorf("IsCanonical(%q) = false for JCS output", got)
			}
			if IsCanonical([]byte(tt.in)) != (tt.in == string(got)) {
				t.Errorf("IsCanonical(%q) = %v, but JCS changes it: %v", tt.in, IsCanonical([]byte(tt.in)), tt.in != string(got))
			}
		})
	}
}

func TestIsCanonical(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{`{"a":1,"b":[true,false,null,"x"]}`, true},
		{`{"b":1,"a":2}`, false},
		{`{"a":1,"a":2}`, false},
		{`{"a":1 }`, false},
		{`[1,2]`, true},
		{`[1, 2]`, false},
		{`[-0]`, false},
		{`[0]`, true},
		{`[01]`, false},
		{`[1.0]`, false},
		{`[1.5]`, true},
		{`[1e21]`, false},
		{`[1e+21]`, true},
		{`[1E+21]`, false},
		{`[100000000000000000000]`, false},
		{`[9007199254740992]`, true},
		{`[9007199254740993]`, false},
		{`[0.000001,1e-7]`, true},
		{`"\u001f\n\"\\"`, true},
		{`"\u000a"`, false},
		{`"\u001F"`, false},
		{`"\/"`, false},
		{`"\u0041"`, false},
		{`"é"`, true},
		{`"\u00e9"`, false},
		{`{"\u0001":1,"\n":2}`, true},
		{`{"\n":1,"\u0001":2}`, false},
		{"{\"\uff61\":1,\"\U0001F600\":2}", false},
		{"{\"\U0001F600\":1,\"\uff61\":2}", true},
		{`{}`, true},
		{`[]`, true},
		{`[[]]`, true},
		{``, false},
		{`nul`, false},
		{`[true]x`, false},
		{"\"\xff\"", false},
		{strings.Repeat("[", 65) + strings.Repeat("]", 65), false},
	}
	for _, tt := range tests {
		if got := IsCanonical([]byte(tt.in)); got != tt.want {
			t.Errorf("IsCanonical(%q) = %v, want %v", tt.in, got, tt.want)
		}
		out, err := JCS([]byte(tt.in))
		if tt.want && (err != nil || string(out) != tt.in) {
			t.Errorf("IsCanonical(%q) but JCS = %q, %v", tt.in, out, err)
		}
	}
}

func TestJCSSizeLimit(t *testing.T) {
	big := make([]byte, MaxInput+1)
	big[0] = '"'
	for i := 1; i < len(big)-1; i++ {
		big[i] = 'a'
	}
	big[len(big)-1] = '"'
	if _, err := JCS(big); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("JCS(%d bytes) error = %v, want a size error", len(big), err)
	}
	if _, err := JSStringify(big); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("JSStringify(%d bytes) error = %v, want a size error", len(big), err)
	}
}

func TestMarshalAndDigest(t *testing.T) {
	type inner struct {
		Z string `json:"z"`
		A int    `json:"a"`
	}
	tests := []struct {
		name    string
		in      any
		want    string
		wantErr bool
	}{
		{name: "struct fields sorted", in: struct {
			B inner  `json:"b"`
			A string `json:"a"`
		}{B: inner{Z: "<&>", A: 1}, A: "é"}, want: `{"a":"é","b":{"a":1,"z":"<&>"}}`},
		{name: "map", in: map[string]any{"b": 1.5, "a": []any{true, nil}}, want: `{"a":[true,null],"b":1.5}`},
		{name: "nil", in: nil, want: `null`},
		{name: "large int64", in: int64(1) << 60, wantErr: true},
		{name: "NaN", in: math.NaN(), wantErr: true},
		{name: "channel", in: make(chan int), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Marshal(tt.in)
			if tt.wantErr {
				if err == nil || !errors.Is(err, ErrInvalid) {
					t.Fatalf("Marshal = %q, %v; want an error wrapping ErrInvalid", got, err)
				}
				if _, err := DigestJSON(tt.in); err == nil {
					t.Fatal("DigestJSON succeeded, want error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("Marshal mismatch (-want +got):\n%s", diff)
			}
			d, err := DigestJSON(tt.in)
			if err != nil || d != Digest([]byte(tt.want)) {
				t.Errorf("DigestJSON = %q, %v; want %q", d, err, Digest([]byte(tt.want)))
			}
		})
	}
}

func TestDigest(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"", "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	}
	for _, tt := range tests {
		got := Digest([]byte(tt.in))
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Digest(%q) (-want +got):\n%s", tt.in, diff)
		}
		if !IsDigest(got) {
			t.Errorf("IsDigest(%q) = false", got)
		}
	}
	for _, bad := range []string{"", "sha256:", "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
		"sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85"} {
		if IsDigest(bad) {
			t.Errorf("IsDigest(%q) = true", bad)
		}
	}
}

func TestJSStringify(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr bool
	}{
		{name: "insertion order kept", in: `{"b":1,"a":2,"c":{"z":1,"y":2}}`, want: `{"b":1,"a":2,"c":{"z":1,"y":2}}`},
		{name: "integer-like keys first ascending",
			in:   `{"b":1,"a":2,"10":3,"2":4,"01":5,"-1":6,"4294967294":7,"4294967295":8,"1.5":9,"0":10}`,
			want: `{"0":10,"2":4,"10":3,"4294967294":7,"b":1,"a":2,"01":5,"-1":6,"4294967295":8,"1.5":9}`},
		{name: "duplicate keeps first position, last value", in: `{"a":1,"b":2,"a":3}`, want: `{"a":3,"b":2}`},
		{name: "many duplicates", in: `{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k3":"x","k16":"y"}`,
			want: `{"k0":0,"k1":1,"k2":2,"k3":"x","k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":"y"}`},
		{name: "rfc8785 sorting object in JS order", in: rfc8785Sorting,
			want: "{\"1\":\"One\",\"€\":\"Euro Sign\",\"\\r\":\"Carriage Return\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\",\"😀\":\"Emoji: Grinning Face\",\"\u0080\":\"Control\",\"ö\":\"Latin Small Letter O With Diaeresis\"}"},
		{name: "no html escaping, slash not escaped", in: `"\u003c/script\u003e \u0026 \/ </a>"`, want: `"</script> & / </a>"`},
		{name: "control characters", in: `"\u0000\u0001\u001f\b\f\n\r\t\u007f\u0080"`, want: "\"\\u0000\\u0001\\u001f\\b\\f\\n\\r\\t\u007f\u0080\""},
		{name: "escapes of quote and backslash", in: `"a\"b\\c"`, want: `"a\"b\\c"`},
		{name: "non-ASCII kept raw", in: `"h\u00e9llo \u65e5\u672c ☃ \u2028\u2029"`, want: "\"héllo 日本 ☃ \u2028\u2029\""},
		{name: "surrogate pair decoded", in: `"\ud83d\ude00"`, want: `"😀"`},
		{name: "uppercase hex escapes", in: `"\uD83D\uDE00\u00E9"`, want: `"😀é"`},
		{name: "lone high surrogate", in: `"\uD800"`, want: `"\ud800"`},
		{name: "lone low surrogate", in: `"\uDC00x"`, want: `"\udc00x"`},
		{name: "high then pair", in: `"\ud83d\ud83d\ude00"`, want: `"\ud83d😀"`},
		{name: "reversed pair", in: `"\ude00\ud83d"`, want: `"\ude00\ud83d"`},
		{name: "high then non-escape", in: `"\ud800a\udfff"`, want: `"\ud800a\udfff"`},
		{name: "lone surrogate as key", in: `{"\udfff":1}`, want: `{"\udfff":1}`},
		{name: "whitespace removed", in: " \t\r\n{ \"a\" : [ 1 , 2 , { } , [ ] ] } \n", want: `{"a":[1,2,{},[]]}`},
		{name: "literals", in: `[true,false,null]`, want: `[true,false,null]`},
		{name: "numbers", in: `[1e21,1E21,1e+21,0.1,-0,-0.0,1.5e-7,1e-7,0.000001,1e-6,100,1.0,1E2,4.50,123e-20,1.2345e-6,-1.5e-10]`,
			want: `[1e+21,1e+21,1e+21,0.1,0,0,1.5e-7,1e-7,0.000001,0.000001,100,1,100,4.5,1.23e-18,0.0000012345,-1.5e-10]`},
		{name: "big numbers", in: `[9007199254740993,123456789012345678901234567890,1e20,999999999999999999999,1e400,-1e400,1e-400]`,
			want: `[9007199254740992,1.2345678901234568e+29,100000000000000000000,1e+21,null,null,0]`},
		{name: "float noise", in: `[0.30000000000000004,333333333.33333329,5e-324,1.7976931348623157e308]`,
			want: `[0.30000000000000004,333333333.3333333,5e-324,1.7976931348623157e+308]`},
		{name: "top-level string", in: `"x"`, want: `"x"`},
		{name: "invalid utf-8", in: "\"\xff\"", wantErr: true},
		{name: "trailing comma", in: `[1,]`, wantErr: true},
		{name: "trailing comma object", in: `{"a":1,}`, wantErr: true},
		{name: "leading zero", in: `01`, wantErr: true},
		{name: "plus sign", in: `+1`, wantErr: true},
		{name: "bare fraction", in: `.5`, wantErr: true},
		{name: "bare minus", in: `-`, wantErr: true},
		{name: "dot without digits", in: `1.`, wantErr: true},
		{name: "exponent without digits", in: `1e`, wantErr: true},
		{name: "NaN", in: `NaN`, wantErr: true},
		{name: "single quotes", in: `'a'`, wantErr: true},
		{name: "raw control char", in: "\"a\nb\"", wantErr: true},
		{name: "bom", in: "\ufeff{}", wantErr: true},
		{name: "key without value", in: `{"a"}`, wantErr: true},
		{name: "non-string key", in: `{1:2}`, wantErr: true},
		{name: "unterminated string", in: `"abc`, wantErr: true},
		{name: "unterminated array", in: `[1,2`, wantErr: true},
		{name: "bad escape", in: `"\x41"`, wantErr: true},
		{name: "short unicode escape", in: `"\u12"`, wantErr: true},
		{name: "bad hex", in: `"\u12g4"`, wantErr: true},
		{name: "two values", in: `1 2`, wantErr: true},
		{name: "empty", in: ``, wantErr: true},
		{name: "truncated literal", in: `tru`, wantErr: true},
		{name: "literal with suffix", in: `[nullx]`, wantErr: true},
		{name: "too deep", in: strings.Repeat("[", MaxJSDepth+1) + strings.Repeat("]", MaxJSDepth+1), wantErr: true},
		{name: "max depth ok", in: strings.Repeat("[", MaxJSDepth) + strings.Repeat("]", MaxJSDepth), want: strings.Repeat("[", MaxJSDepth) + strings.Repeat("]", MaxJSDepth)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := JSStringify([]byte(tt.in))
			if tt.wantErr {
				if err == nil || !errors.Is(err, ErrInvalid) {
					t.Fatalf("JSStringify(%q) = %q, %v; want an error wrapping ErrInvalid", tt.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("JSStringify(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("JSStringify(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
			again, err := JSStringify(got)
			if err != nil || !bytes.Equal(again, got) {
				t.Errorf("JSStringify not idempotent on %q: %q, %v", got, again, err)
			}
		})
	}
}

// TestAppendJSNumber uses the IEEE 754 samples of RFC 8785 Appendix B, whose
// expected strings are those of ECMAScript's Number.prototype.toString.
func TestAppendJSNumber(t *testing.T) {
	tests := []struct {
		bits uint64
		want string
	}{
		{0x0000000000000000, "0"},
		{0x8000000000000000, "0"},
		{0x0000000000000001, "5e-324"},
		{0x8000000000000001, "-5e-324"},
		{0x7fefffffffffffff, "1.7976931348623157e+308"},
		{0xffefffffffffffff, "-1.7976931348623157e+308"},
		{0x4340000000000000, "9007199254740992"},
		{0xc340000000000000, "-9007199254740992"},
		{0x4430000000000000, "295147905179352830000"},
		{0x7fffffffffffffff, "null"},
		{0x7ff0000000000000, "null"},
		{0xfff0000000000000, "null"},
		{0x44b52d02c7e14af5, "9.999999999999997e+22"},
		{0x44b52d02c7e14af6, "1e+23"},
		{0x44b52d02c7e14af7, "1.0000000000000001e+23"},
		{0x444b1ae4d6e2ef4e, "999999999999999700000"},
		{0x444b1ae4d6e2ef4f, "999999999999999900000"},
		{0x444b1ae4d6e2ef50, "1e+21"},
		{0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
		{0x3eb0c6f7a0b5ed8d, "0.000001"},
		{0x41b3de4355555553, "333333333.3333332"},
		{0x41b3de4355555554, "333333333.33333325"},
		{0x41b3de4355555555, "333333333.3333333"},
		{0x41b3de4355555556, "333333333.3333334"},
		{0x41b3de4355555557, "333333333.33333343"},
		{0xbecbf647612f3696, "-0.0000033333333333333333"},
		{0x43143ff3c1cb0959, "1424953923781206.2"},
	}
	for _, tt := range tests {
		got := string(AppendJSNumber(nil, math.Float64frombits(tt.bits)))
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("AppendJSNumber(%#016x) (-want +got):\n%s", tt.bits, diff)
		}
	}
	floats := []struct {
		f    float64
		want string
	}{
		{0.1, "0.1"}, {1e21, "1e+21"}, {1e20, "100000000000000000000"}, {1.5e-7, "1.5e-7"},
		{1e-7, "1e-7"}, {123.456, "123.456"}, {-42, "-42"}, {2.5e25, "2.5e+25"}, {1e-6, "0.000001"},
	}
	for _, tt := range floats {
		if got := string(AppendJSNumber([]byte("x"), tt.f)); got != "x"+tt.want {
			t.Errorf("AppendJSNumber(%v) = %q, want %q", tt.f, got, "x"+tt.want)
		}
	}
}

func TestKindOf(t *testing.T) {
	for in, want := range map[string]string{`{}`: "an object", `[1]`: "a list", `"x"`: "a string", `true`: "a boolean",
		`false`: "a boolean", `null`: "null", `-1`: "a number", `7`: "a number", `<x>`: "text that is not JSON"} {
		if got := KindOf(in[0]); got != want {
			t.Errorf("KindOf(%q) = %q, want %q", in, got, want)
		}
	}
}
