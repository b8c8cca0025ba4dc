package cond

import (
	"strings"
	"testing"
)

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{"", "empty expression"},
		{"input.path +", "invalid CEL"},
		{"tool", "must yield a bool"},
		{"1 + 2", "must yield a bool"},
		{"undefined_var == 1", "invalid CEL"},
		{strings.Repeat("a", MaxLen+1), "limit"},
	} {
		if _, err := Compile(tc.expr); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Compile(%.20q) = %v, want error containing %q", tc.expr, err, tc.want)
		}
	}
}

func TestEval(t *testing.T) {
	for _, tc := range []struct {
		expr    string
		tool    string
		input   map[string]any
		session map[string]any
		want    bool
		wantErr bool
	}{
		{expr: `tool == "file:write"`, tool: "file:write", want: true},
		{expr: `input.path.endsWith(".go")`, input: map[string]any{"path": "a/b.go"}, want: true},
		{expr: `input.path.endsWith(".go")`, input: map[string]any{"path": "a/b.ts"}, want: false},
		{expr: `"method" in input && input.method == "POST"`, input: map[string]any{}, want: false},
		{expr: `input.path == "x"`, input: map[string]any{}, wantErr: true},
		{expr: `session.actions_evaluated > 10`, session: map[string]any{"actions_evaluated": 11}, want: true},
		{expr: `input.size > 100`, input: map[string]any{"size": 150.0}, want: true},
		{expr: `input.path.lowerAscii() == "x"`, input: map[string]any{"path": "X"}, want: true},
		{expr: `input.missing`, input: map[string]any{"missing": "str"}, wantErr: true},
	} {
		p, err := Compile(tc.expr)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tc.expr, err)
		}
		got, err := p.Eval(tc.tool, tc.input, tc.session)
		if (err != nil) != tc.wantErr {
			t.Errorf("Eval(%q) error = %v, wantErr %v", tc.expr, err, tc.wantErr)
			continue
		}
		if got != tc.want {
			t.Errorf("Eval(%q) = %v, want %v", tc.expr, got, tc.want)
		}
	}
}

func TestCostLimit(t *testing.T) {
	p, err := Compile(`input.items.all(a, input.items.all(b, input.items.all(c, a + b + c != "")))`)
	if err != nil {
		t.Fatal(err)
	}
	items := make([]any, 200)
	for i := range items {
		items[i] = "x"
	}
	if _, err := p.Eval("t", map[string]any{"items": items}, nil); err == nil {
		t.Fatal("expected the cost limit to stop a cubic expression")
	}
}
