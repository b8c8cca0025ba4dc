package httpapi

import (
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardenhq/warden/internal/gateway"
)

// The OpenAPI document describes exactly the registered routes, and every
// reference in it resolves.
func TestOpenAPICoversRoutes(t *testing.T) {
	s, err := newServer(Config{Gateway: gateway.New(gateway.Config{Store: gateway.NewMemStore()}), NoAuth: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	slices.Sort(documented)
	registered := slices.Clone(s.routes)
	slices.Sort(registered)
	if d := cmp.Diff(registered, documented); d != "" {
		t.Errorf("routes (-registered +documented):\n%s", d)
	}

	var all any
	json.Unmarshal(openAPI, &all)
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				if resolve(all, ref) == nil {
					t.Errorf("%s: $ref %s does not resolve", at, ref)
				}
			}
			for k, y := range x {
				walk(y, at+"/"+k)
			}
		case []any:
			for _, y := range x {
				walk(y, at+"/[]")
			}
		}
	}
	walk(all, "")
}

// resolve follows a local JSON pointer such as #/components/schemas/X.
func resolve(doc any, ref string) any {
	p, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil
	}
	v := doc
	for _, part := range strings.Split(p, "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		if v, ok = m[part]; !ok {
			return nil
		}
	}
	return v
}
