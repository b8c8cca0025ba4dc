package executor

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"unicode/utf8"

	udiff "github.com/aymanbagabas/go-udiff"

	"github.com/wardenhq/warden/internal/warden"
)

// MaxDiff bounds the text of one diff artifact; a larger diff is cut and
// says so, while the checksums still cover the whole content.
const MaxDiff = 64 << 10

// Checksum is "sha256:<hex>" of b.
func Checksum(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ChangeEvidence describes a change to one file: checksums of the content
// before (when there was any) and after (when there is any), and a unified
// diff between them. Binary content is summarised instead of diffed.
func ChangeEvidence(rel string, before, after []byte, existed, exists bool) []warden.Artifact {
	var arts []warden.Artifact
	if existed {
		arts = append(arts, warden.Artifact{Type: "checksum", Value: Checksum(before), Path: rel, Description: "before"})
	}
	if exists {
		arts = append(arts, warden.Artifact{Type: "checksum", Value: Checksum(after), Path: rel, Description: "after"})
	}
	return append(arts, warden.Artifact{Type: "diff", Value: Diff(rel, before, after, existed, exists), Path: rel})
}

// Diff is a unified diff of one file's change, "a/"- and "b/"-labelled
// like git's; /dev/null stands for a side that does not exist.
func Diff(rel string, before, after []byte, existed, exists bool) string {
	from, to := "a/"+rel, "b/"+rel
	if !existed {
		from = "/dev/null"
	}
	if !exists {
		to = "/dev/null"
	}
	if isBinary(before) || isBinary(after) {
		if bytes.Equal(before, after) {
			return ""
		}
		return fmt.Sprintf("Binary files %s and %s differ (%d → %d bytes)\n", from, to, len(before), len(after))
	}
	d := udiff.Unified(from, to, string(before), string(after))
	if len(d) > MaxDiff {
		d = d[:MaxDiff] + fmt.Sprintf("\n… diff cut at %d of %d bytes\n", MaxDiff, len(d))
	}
	return d
}

// isBinary reports content that a text diff would mangle: a NUL byte or
// invalid UTF-8 in its first 8 KiB.
func isBinary(b []byte) bool {
	head := b[:min(len(b), 8<<10)]
	if bytes.IndexByte(head, 0) >= 0 {
		return true
	}
	for len(head) > 0 {
		r, n := utf8.DecodeRune(head)
		if r == utf8.RuneError && n == 1 && len(head) >= utf8.UTFMax {
			return true
		}
		head = head[n:]
	}
	return false
}
