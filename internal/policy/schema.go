package policy

import (
	"encoding/json"
	"reflect"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"
)

// SchemaID is the $id of the published policy schema.
const SchemaID = "https://github.com/wardenhq/warden/schema/policy.schema.json"

// JSONSchema returns the JSON Schema (draft 2020-12) of the policy format,
// derived from the Go types so that it cannot drift from the loader. The
// loader stays the authority on meaning (globs, CEL, conditions); the
// schema serves editors and other tools.
func JSONSchema() ([]byte, error) {
	s, err := jsonschema.For[Policy](&jsonschema.ForOptions{TypeSchemas: map[reflect.Type]*jsonschema.Schema{
		versionType: {Types: []string{"string", "number"}, Description: "policy format version, \"1.0\""},
		durationType: {Type: "string", Pattern: `^\s*[0-9.]+(ns|us|µs|ms|s|m|h|d)([0-9.]+(ns|us|µs|ms|s|m|h))*\s*$`,
			Description: "a duration such as 30s, 10m, 2h or 1d"},
	}})
	if err != nil {
		return nil, err
	}
	fixRequired(s, reflect.TypeFor[Policy]())
	s.Schema = "https://json-schema.org/draft/2020-12/schema"
	s.ID = SchemaID
	s.Title = "Warden policy"
	s.Description = "A Warden policy: what an AI agent may do, what needs approval, and what is forbidden."

	enum := func(values ...string) []any {
		out := make([]any, len(values))
		for i, v := range values {
			out[i] = v
		}
		return out
	}
	gate := s.Properties["gates"].Items
	gate.Properties["approval"].Enum = enum(Approvals...)
	gate.Properties["risk_level"].Enum = enum(RiskLevels...)
	gate.Properties["min_approvals"].Minimum = ptr(1.0)
	s.Properties["evidence"].Properties["require"].Items.Enum = enum(EvidenceKinds...)
	s.Properties["evidence"].Properties["format"].Enum = enum("jsonl")
	session := s.Properties["session"]
	session.Properties["escalation"].Items.Properties["require"].Enum = enum(EscalationKind)
	s.Properties["name"].MinLength = ptr(1)
	s.Properties["capabilities"].MinItems = ptr(1)
	forbidden := s.Properties["forbidden"].Items
	forbidden.MinProperties = ptr(1)
	var oneOf []*jsonschema.Schema
	for _, k := range []string{"pattern", "path", "command", "url", "regex"} {
		oneOf = append(oneOf, &jsonschema.Schema{Required: []string{k}})
	}
	forbidden.OneOf = oneOf
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

func ptr[T any](v T) *T { return &v }

// fixRequired replaces the generator's notion of required (fields without
// omitempty) with the loader's (fields tagged policy:"required").
func fixRequired(s *jsonschema.Schema, t reflect.Type) {
	if s == nil {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if t == versionType || t == durationType {
			return
		}
		s.Required = append([]string(nil), infoFor(t).required...)
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			fixRequired(s.Properties[name], f.Type)
		}
	case reflect.Slice:
		fixRequired(s.Items, t.Elem())
	case reflect.Map:
		fixRequired(s.AdditionalProperties, t.Elem())
	}
}
