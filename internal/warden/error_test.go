package warden

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrorCode(t *testing.T) {
	base := Errorf(CodeNotFound, "session %q not found", "s1")
	for _, tc := range []struct {
		err  error
		code Code
		msg  string
	}{
		{nil, "", ""},
		{base, CodeNotFound, `session "s1" not found`},
		{fmt.Errorf("evaluate: %w", base), CodeNotFound, `session "s1" not found`},
		{errors.New("disk on fire"), CodeInternal, "internal error"},
	} {
		if got := ErrorCode(tc.err); got != tc.code {
			t.Errorf("ErrorCode(%v) = %q, want %q", tc.err, got, tc.code)
		}
		if got := ErrorMessage(tc.err); got != tc.msg {
			t.Errorf("ErrorMessage(%v) = %q, want %q", tc.err, got, tc.msg)
		}
	}
	cause := errors.New("cause")
	wrapped := &Error{Code: CodeInternal, Err: cause}
	if !errors.Is(wrapped, cause) || wrapped.Error() != "cause" {
		t.Errorf("Unwrap/Error: %v", wrapped)
	}
}
