package nexus

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
	"time"
)

var canonicalSeeds = []string{
	`{"b":1.0,"a":[1e20,1e-7,0.1,-0.0,100000000000000000000],"é":"ü\u2028\u0001\u007f\"\\/","A":true,"n":null}`,
	`{"b":1,"a":2,"10":3,"2":4,"a":5}`,
	`[1e21,0.1,-0,1.5e-7,9007199254740993,1e400,1e-400]`,
	`"\ud800\ud83d\ude00\u0001/"`,
	`{"x":[{"y":null},true,false,"\u2028"]}`,
	`[[[[[[]]]]]]`,
	"\"\xff\"",
	"\ufeff{}",
	`NaN`,
	``,
}

// FuzzCanonical checks that Canonical never panics, that what it accepts
// it writes as valid JSON that it accepts again unchanged, and that it
// agrees with encoding/json on what is valid (save for the documented
// refusals).
func FuzzCanonical(f *testing.F) {
	for _, s := range canonicalSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := Canonical(in)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("Canonical(%q) = %q, not valid JSON", in, out)
		}
		if !json.Valid(in) {
			t.Fatalf("Canonical accepted %q, which encoding/json rejects", in)
		}
		again, err := Canonical(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", in, out, again, err)
		}
	})
}

// FuzzDocuments checks that parsing and verifying arbitrary documents
// never panics, and that whatever parses writes back losslessly: the
// canonical form of the written document equals the canonical form of the
// input.
func FuzzDocuments(f *testing.F) {
	for _, name := range []string{
		"testdata/golden/bundle-d-1.json",
		"testdata/golden/audit-d-1-reference.json",
		"testdata/synth/audit-template-embedded.json",
	} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"bundle_version":"0.5","decision":{},"events":[{}],"integrity":{}}`))
	f.Add([]byte(`{"package_version":"0.6"}`))
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, in []byte) {
		want, err := Canonical(in)
		if err != nil {
			return
		}
		if b, err := ParseBundle(in); err == nil {
			checkLossless(t, "bundle", want, b)
			_ = VerifyBundle(b, VerifyOptions{Now: now})
		}
		if p, err := ParseAuditPackage(in); err == nil {
			checkLossless(t, "package", want, p)
			_ = VerifyAuditPackage(p, VerifyOptions{Now: now})
		}
		_, _ = Verify(in, VerifyOptions{Now: now})
	})
}

func checkLossless(t *testing.T, what string, want []byte, v json.Marshaler) {
	t.Helper()
	out, err := v.MarshalJSON()
	if err != nil {
		t.Fatalf("%s: MarshalJSON: %v", what, err)
	}
	got, err := Canonical(out)
	if err != nil {
		t.Fatalf("%s: written document does not canonicalise: %v\n%s", what, err, out)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: not lossless:\nread  %s\nwrote %s", what, want, got)
	}
}
