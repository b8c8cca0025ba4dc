package controlmcp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/wardenhq/warden/internal/decision"
	"github.com/wardenhq/warden/internal/warden"
)

// schema is a JSON Schema (draft 2020-12) written as a Go value.
type schema = map[string]any

// object is the schema of an object with the properties given, the
// required ones listed, and no others: a misspelt option is refused, never
// ignored.
func object(desc string, props schema, required ...string) schema {
	s := schema{"type": "object", "properties": props, "additionalProperties": false}
	if desc != "" {
		s["description"] = desc
	}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

// typed returns a schema of the given type (or types) with a description
// and further keywords as key, value pairs.
func typed(typ any, desc string, kv ...any) schema {
	s := schema{"type": typ}
	if desc != "" {
		s["description"] = desc
	}
	for i := 0; i+1 < len(kv); i += 2 {
		s[kv[i].(string)] = kv[i+1]
	}
	return s
}

// name is the schema of an identifier: the rules of decision ids, actor
// ids and list entries (no surrounding space or control characters are
// checked by the service, which names the field).
func name(desc string) schema {
	return typed("string", desc, "minLength", 1, "maxLength", decision.MaxIDLen)
}

func names(desc string) schema {
	return typed("array", desc, "items", name(""), "uniqueItems", true, "maxItems", decision.MaxListLen)
}

func modes(desc string) schema {
	return typed("array", desc, "items", schema{"type": "string", "enum": []string{string(decision.DryRun), string(decision.Apply)}},
		"minItems", 1, "uniqueItems", true)
}

func flag(desc string, def bool) schema { return typed("boolean", desc, "default", def) }

// actorSchema is nexus-control's actor: {type: human | system, id}.
func actorSchema(desc string) schema {
	return object(desc, schema{
		"type": typed("string", "human or system", "enum", []string{decision.Human, decision.System}),
		"id":   name("the identity; approvals are counted by distinct id"),
	}, "type", "id")
}

// envelopeSchema is the output schema of every tool: SPEC §5's envelope.
func envelopeSchema() schema {
	return schema{
		"type": "object",
		"properties": schema{
			"ok":   typed("boolean", "true on success, false on error"),
			"data": typed("object", "the result, on success"),
			"error": object("the error, when ok is false", schema{
				"code":    typed("string", "a stable error code such as DECISION_NOT_FOUND or INVALID_STATE"),
				"message": typed("string", "what went wrong and how to fix it"),
				"details": typed("object", "structured details; for invalid input, errors: [{field, message}]"),
			}, "code", "message", "details"),
		},
		"required": []string{"ok"},
	}
}

// validator checks a tool's arguments against its input schema, so that
// the schema a client sees is exactly the one enforced.
type validator struct {
	schema *jsonschema.Schema
}

// compiled caches validators by tool name and schema text: the schemas
// of every Server are the same but for the actor's being required.
var compiled sync.Map

func compileSchema(toolName string, s schema) (*validator, error) {
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	key := toolName + "\x00" + string(raw)
	if v, ok := compiled.Load(key); ok {
		return v.(*validator), nil
	}
	v, err := compileRaw(toolName, raw)
	if err != nil {
		return nil, err
	}
	compiled.Store(key, v)
	return v, nil
}

func compileRaw(toolName string, raw []byte) (*validator, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	url := "urn:warden:controlmcp:" + toolName
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	sch, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("tool %s: input schema: %w", toolName, err)
	}
	return &validator{schema: sch}, nil
}

var printer = message.NewPrinter(language.English)

// validate checks raw arguments and returns an INVALID_INPUT error whose
// message names each invalid field and whose details list them as
// {field, message}, the form the decision service uses.
func (v *validator) validate(raw json.RawMessage) error {
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = json.RawMessage("{}")
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return warden.Errorf(warden.CodeInvalidInput, "arguments: not valid JSON: %v", err)
	}
	err = v.schema.Validate(doc)
	if err == nil {
		return nil
	}
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return warden.Errorf(warden.CodeInvalidInput, "arguments: %v", err)
	}
	return fieldErr(problems(ve))
}

// problem is one invalid field.
type problem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// fieldErr returns an INVALID_INPUT error listing problems.
func fieldErr(ps []problem) error {
	msgs := make([]string, len(ps))
	list := make([]any, len(ps))
	for i, p := range ps {
		msgs[i] = p.Field + ": " + p.Message
		list[i] = map[string]any{"field": p.Field, "message": p.Message}
	}
	return &warden.Error{Code: warden.CodeInvalidInput, Message: strings.Join(msgs, "; "), Details: map[string]any{"errors": list}}
}

// problems flattens a validation error into its leaves, each naming the
// field at fault as the decision service does ("actor.id", "plan[2].tool").
func problems(ve *jsonschema.ValidationError) []problem {
	var out []problem
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		at := fieldPath(e.InstanceLocation)
		switch k := e.ErrorKind.(type) {
		case *kind.Required:
			for _, m := range k.Missing {
				out = append(out, problem{join(at, m), "is required"})
			}
		case *kind.AdditionalProperties:
			for _, p := range k.Properties {
				out = append(out, problem{join(at, p), "is not an input of this tool"})
			}
		default:
			if at == "" {
				at = "arguments"
			}
			out = append(out, problem{at, describe(e.ErrorKind)})
		}
	}
	walk(ve)
	slices.SortStableFunc(out, func(a, b problem) int { return strings.Compare(a.Field, b.Field) })
	return slices.Compact(out)
}

// describe words a schema failure as "must …", like the service's
// messages.
func describe(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		return fmt.Sprintf("must be %s, got %s", strings.Join(k.Want, " or "), k.Got)
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = strconv.Quote(fmt.Sprint(w))
		}
		return fmt.Sprintf("must be one of %s, got %s", strings.Join(want, ", "), display(k.Got))
	case *kind.MinLength:
		if k.Want == 1 {
			return "must not be empty"
		}
		return fmt.Sprintf("must be at least %d characters long", k.Want)
	case *kind.MaxLength:
		return fmt.Sprintf("must be at most %d characters long", k.Want)
	case *kind.Minimum:
		return fmt.Sprintf("must be at least %s, got %s", k.Want.RatString(), k.Got.RatString())
	case *kind.Maximum:
		return fmt.Sprintf("must be at most %s, got %s", k.Want.RatString(), k.Got.RatString())
	case *kind.MinItems:
		return fmt.Sprintf("must list at least %d item(s)", k.Want)
	case *kind.MaxItems:
		return fmt.Sprintf("must list at most %d items", k.Want)
	case *kind.UniqueItems:
		return fmt.Sprintf("repeats an item (items %d and %d are equal)", k.Duplicates[0], k.Duplicates[1])
	case *kind.Format:
		if k.Want == "date-time" {
			return fmt.Sprintf("must be an RFC 3339 date-time such as 2026-01-02T15:04:05Z, got %s", display(k.Got))
		}
		return fmt.Sprintf("must be a %s, got %s", k.Want, display(k.Got))
	}
	return k.LocalizedString(printer)
}

func display(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// fieldPath writes an instance location as a field name: object keys
// joined by ".", array indexes in brackets.
func fieldPath(loc []string) string {
	var b strings.Builder
	for _, tok := range loc {
		if _, err := strconv.Atoi(tok); err == nil {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// decode decodes validated arguments into v. The schema has checked the
// shape, so what remains are values JSON Schema and Go disagree on (such
// as 2.0 for an integer), reported with the field named.
func decode(raw json.RawMessage, v any) error {
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = json.RawMessage("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if ok := asTypeError(err, &te); ok && te.Field != "" {
			return fieldErr([]problem{{te.Field, fmt.Sprintf("must be %s, got %s", goKind(te.Type.Kind().String()), te.Value)}})
		}
		return warden.Errorf(warden.CodeInvalidInput, "arguments: %v", err)
	}
	return nil
}

func asTypeError(err error, te **json.UnmarshalTypeError) bool {
	e, ok := err.(*json.UnmarshalTypeError)
	if ok {
		*te = e
	}
	return ok
}

func goKind(k string) string {
	switch {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"):
		return "an integer"
	case k == "bool":
		return "a boolean"
	case k == "string":
		return "a string"
	}
	return "a " + k
}
