package fsserver

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestDiffMatchesJSDiff compares the patches with those jsdiff, the
// reference's diff library, made of the same texts (testdata/reference/
// diffs.json): pseudo-random texts over few distinct lines, where many edit
// scripts are equally short.
func TestDiffMatchesJSDiff(t *testing.T) {
	var cases []struct{ Before, After, Patch string }
	readJSON(t, "testdata/reference/diffs.json", &cases)
	if len(cases) < 300 {
		t.Fatalf("diffs.json holds %d cases", len(cases))
	}
	for i, c := range cases {
		if got := unifiedDiff("/p/f.txt", c.Before, c.After); got != c.Patch {
			t.Errorf("case %d: %q → %q\n got:\n%s\nwant:\n%s", i, c.Before, c.After, got, c.Patch)
		}
	}
}

func TestFencedDiff(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a\n", "```diff\na\n```\n\n"},
		{"```x\n", "````diff\n```x\n````\n\n"},
		{"````\n", "`````diff\n````\n`````\n\n"},
	}
	for _, tt := range tests {
		if got := fencedDiff(tt.in); got != tt.want {
			t.Errorf("fencedDiff(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestDecodeText checks the decoding against what Node's
// Buffer.toString("utf8") gives for the same bytes.
func TestDecodeText(t *testing.T) {
	tests := []struct {
		in   []byte
		want string
	}{
		{[]byte("plain"), "plain"},
		{[]byte{0x61, 0xff, 0x62}, "a\uFFFDb"},
		{[]byte{0xe2, 0x82}, "\uFFFD"},
		{[]byte{0xe2, 0x82, 0x61}, "\uFFFDa"},
		{[]byte{0xf0, 0x9f, 0x98}, "\uFFFD"},
		{[]byte{0xed, 0xa0, 0x80}, "\uFFFD\uFFFD\uFFFD"},
		{[]byte{0xc0, 0x80}, "\uFFFD\uFFFD"},
		{[]byte{0xf4, 0x90, 0x80, 0x80}, "\uFFFD\uFFFD\uFFFD\uFFFD"},
		{[]byte{0xe0, 0x80, 0x80}, "\uFFFD\uFFFD\uFFFD"},
		{[]byte{0xf0, 0x9f, 0x98, 0x80}, "😀"},
		{[]byte{0xef, 0xbb, 0xbf, 'x'}, "\uFEFFx"},
	}
	for _, tt := range tests {
		if got := decodeText(tt.in); got != tt.want {
			t.Errorf("decodeText(% x) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestFormatSize checks the sizes against what the reference's formatSize
// gives, toFixed's rounding of halves included.
func TestFormatSize(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{-1, "0 B"}, {0, "0 B"}, {1, "1 B"}, {1023, "1023 B"}, {1024, "1.00 KB"},
		{1152, "1.13 KB"}, {1535, "1.50 KB"}, {1536, "1.50 KB"}, {2621, "2.56 KB"},
		{10245, "10.00 KB"}, {1048575, "1024.00 KB"}, {1048576, "1.00 MB"},
		{5248123, "5.01 MB"}, {3848290697216, "3.50 TB"}, {2251799813685248, "2048.00 TB"},
	}
	for _, tt := range tests {
		if got := formatSize(tt.n); got != tt.want {
			t.Errorf("formatSize(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestJSFormatting(t *testing.T) {
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if got, want := jsDate(when), "Fri Jan 02 2026 03:04:05 GMT+0000 (Coordinated Universal Time)"; got != want {
		t.Errorf("jsDate = %q, want %q", got, want)
	}
	got := []string{padEnd("ab", 4) + "|", padStart("ab", 4), padEnd("😀", 3) + "|", padEnd("long name", 3)}
	want := []string{"ab  |", "  ab", "😀 |", "long name"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("padding (-want +got):\n%s", d)
	}
	if got := jsTrim("\uFEFF\u00a0 x \u2028"); got != "x" {
		t.Errorf("jsTrim = %q", got)
	}
	if got := jsTrim("\u0085x"); got != "\u0085x" {
		t.Errorf("jsTrim trimmed U+0085, which JavaScript keeps: %q", got)
	}
}
