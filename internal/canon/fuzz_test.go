package canon

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/gowebpki/jcs"
)

var fuzzSeeds = []string{
	rfc8785Input,
	rfc8785Sorting,
	`{"b":1,"a":2,"10":3,"2":4,"a":5}`,
	`[1e21,0.1,-0,1.5e-7,9007199254740993,1e400]`,
	`"\ud800\ud83d\ude00\u0001/"`,
	`{"x":[{"y":null},true,false,"\u2028"]}`,
	`[[[[[[]]]]]]`,
	"\"\xff\"",
	`{"a":1,"a":2}`,
	``,
}

func FuzzJCS(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := JCS(in)
		if IsCanonical(in) && (err != nil || !bytes.Equal(out, in)) {
			t.Fatalf("IsCanonical(%q) but JCS = %q, %v", in, out, err)
		}
		if err != nil {
			return
		}
		if !IsCanonical(out) {
			t.Fatalf("JCS(%q) = %q, which IsCanonical rejects", in, out)
		}
		if !json.Valid(out) {
			t.Fatalf("JCS(%q) = %q, not valid JSON", in, out)
		}
		again, err := JCS(out)
		if err != nil {
			t.Fatalf("JCS(JCS(%q)) failed: %v (first pass %q)", in, err, out)
		}
		if !bytes.Equal(again, out) {
			t.Fatalf("JCS not idempotent: %q -> %q -> %q", in, out, again)
		}
	})
}

func FuzzJSStringify(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := JSStringify(in)
		if err != nil {
			return
		}
		again, err := JSStringify(out)
		if err != nil {
			t.Fatalf("JSStringify(JSStringify(%q)) failed: %v (first pass %q)", in, err, out)
		}
		if !bytes.Equal(again, out) {
			t.Fatalf("JSStringify not idempotent: %q -> %q -> %q", in, out, again)
		}
		// Without lone surrogates the output is also JSON that
		// encoding/json accepts.
		if !bytes.Contains(out, []byte(`\ud`)) && !json.Valid(out) {
			t.Fatalf("JSStringify(%q) = %q, not valid JSON", in, out)
		}
	})
}

// FuzzJSNumber checks the number formatter against the independent
// implementation inside github.com/gowebpki/jcs.
func FuzzJSNumber(f *testing.F) {
	for _, bits := range []uint64{0, 1, 0x4340000000000000, 0x44b52d02c7e14af6, 0x3eb0c6f7a0b5ed8c, 0xbecbf647612f3696} {
		f.Add(bits)
	}
	f.Fuzz(func(t *testing.T, bits uint64) {
		v := math.Float64frombits(bits)
		got := string(AppendJSNumber(nil, v))
		want, err := jcs.NumberToJSON(v)
		if err != nil {
			want = "null"
		}
		if got != want {
			t.Fatalf("AppendJSNumber(%#016x) = %q, jcs says %q", bits, got, want)
		}
	})
}
