package nexus

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var documentFiles = []string{
	"testdata/golden/bundle-d-1.json",
	"testdata/golden/audit-d-1-reference.json",
	"testdata/synth/bundle-template.json",
	"testdata/synth/audit-template-embedded.json",
}

// TestRoundTrip: every fixture parses, writes back (through MarshalJSON and
// through encoding/json, indented or not) to a document with the same
// canonical form, and parses again to an equal value.
func TestRoundTrip(t *testing.T) {
	for _, name := range documentFiles {
		t.Run(filepath.Base(name), func(t *testing.T) {
			data := readFile(t, name)
			want, err := Canonical(data)
			if err != nil {
				t.Fatal(err)
			}
			var v interface {
				json.Marshaler
				json.Unmarshaler
			}
			if strings.Contains(name, "audit") {
				v = new(AuditPackage)
			} else {
				v = new(Bundle)
			}
			if err := json.Unmarshal(data, v); err != nil {
				t.Fatal(err)
			}
			checkLossless(t, name, want, v)
			indented, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got, err := Canonical(indented)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("encoding/json round trip differs: %v\n%s", err, got)
			}
			var again any
			if strings.Contains(name, "audit") {
				again, err = ParseAuditPackage(indented)
			} else {
				again, err = ParseBundle(indented)
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(normalise(t, v), normalise(t, again.(json.Marshaler))); diff != "" {
				t.Errorf("second parse differs:\n%s", diff)
			}
		})
	}
}

// normalise gives a comparable form of a document value.
func normalise(t *testing.T, v json.Marshaler) string {
	t.Helper()
	b, err := v.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	c, err := Canonical(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(c)
}

// TestUnknownFieldsKept: fields the format does not define are kept, and
// the bundle digest covers those inside the digested sections, so adding
// one is detected, while unknown top-level fields are outside it like
// integrity and meta.
func TestUnknownFieldsKept(t *testing.T) {
	data := readFile(t, filepath.Join(goldenDir, "bundle-d-1.json"))
	orig := decodeTree(t, data)
	add := func(steps []any, key string) []byte {
		t.Helper()
		doc := decodeTree(t, encodeTree(t, orig))
		cur := doc
		for _, s := range steps {
			switch k := s.(type) {
			case string:
				cur = cur.(map[string]any)[k]
			case int:
				cur = cur.([]any)[k]
			}
		}
		cur.(map[string]any)[key] = map[string]any{"x": json.Number("1.0"), "y": "é"}
		return encodeTree(t, doc)
	}
	tests := []struct {
		name    string
		steps   []any
		digests bool // whether the bundle digest covers the field
	}{
		{"top level", nil, false},
		{"decision", []any{"decision"}, true},
		{"event", []any{"events", 2}, true},
		{"event payload", []any{"events", 2, "payload"}, true},
		{"actor", []any{"events", 2, "actor"}, true},
		{"template snapshot", []any{"template_snapshot"}, true},
		{"router link", []any{"router_link"}, true},
		{"integrity", []any{"integrity"}, false},
		{"provenance record", []any{"provenance", "records", 0}, false},
		{"meta", []any{"meta"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := add(tt.steps, "future_field")
			b, err := ParseBundle(doc)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := Canonical(doc)
			checkLossless(t, tt.name, want, b)
			if !bytes.Contains(want, []byte(`"future_field":{"x":1.0,"y":"é"}`)) {
				t.Fatalf("unknown field lost: %s", want)
			}
			r := VerifyBundle(b, VerifyOptions{})
			c, _ := r.Get(CheckBundleDigest)
			if c.OK == tt.digests {
				t.Errorf("bundle_digest ok = %v, want %v (%s)", c.OK, !tt.digests, c.Message)
			}
		})
	}
}

func TestParseErrorsNameFields(t *testing.T) {
	good := readFile(t, filepath.Join(goldenDir, "audit-d-1-reference.json"))
	orig := decodeTree(t, good)
	tests := []struct {
		steps []any
		value any // deleteField removes the field
		want  string
	}{
		{[]any{"package_version"}, json.Number("6"), "package_version: want a string, got an integer"},
		{[]any{"control_bundle", "events", 2, "seq"}, "2", "control_bundle.events[2].seq: want an integer, got a string"},
		{[]any{"control_bundle", "events", 2, "seq"}, json.Number("2.0"), "control_bundle.events[2].seq: want an integer, got a float"},
		{[]any{"control_bundle", "events", 2, "seq"}, json.Number("99999999999999999999"), "control_bundle.events[2].seq: integer 99999999999999999999 out of range"},
		{[]any{"control_bundle", "events", 1, "payload"}, []any{}, "control_bundle.events[1].payload: want an object, got a list"},
		{[]any{"control_bundle", "events", 0, "actor"}, deleteField, "control_bundle.events[0].actor: missing"},
		{[]any{"control_bundle", "events", 0, "actor", "id"}, nil, "control_bundle.events[0].actor.id: want a string, got null"},
		{[]any{"control_bundle", "events"}, map[string]any{}, "control_bundle.events: want a list, got an object"},
		{[]any{"control_bundle", "decision", "goal"}, deleteField, "control_bundle.decision.goal: missing"},
		{[]any{"control_bundle", "decision", "goal"}, true, "control_bundle.decision.goal: want a string or null, got a boolean"},
		{[]any{"control_bundle", "router_link", "run_id"}, nil, "control_bundle.router_link.run_id: want a string, got null (omit the field instead)"},
		{[]any{"control_bundle", "template_snapshot", "present"}, "no", "control_bundle.template_snapshot.present: want a boolean"},
		{[]any{"control_bundle", "provenance", "records", 0, "inputs", 0}, json.Number("1"), "control_bundle.provenance.records[0].inputs[0]: want a string"},
		{[]any{"control_bundle", "integrity"}, deleteField, "control_bundle.integrity: missing"},
		{[]any{"router", "ref", "digest"}, deleteField, "router.ref.digest: missing"},
		{[]any{"router", "bundle"}, "x", "router.bundle: want an object, got a string"},
		{[]any{"binding"}, []any{}, "binding: want an object, got a list"},
		{[]any{"integrity", "binding_digest"}, deleteField, "integrity.binding_digest: missing"},
		{[]any{"meta", "exported_at"}, json.Number("1"), "meta.exported_at: want a string"},
		{[]any{"warden"}, map[string]any{"signature": map[string]any{"alg": "ed25519"}, "approvers": []any{map[string]any{}}},
			"warden.signature.value: missing; warden.approvers[0].actor: missing"},
	}
	for _, tt := range tests {
		name := tt.want[:strings.Index(tt.want, ":")]
		t.Run(name, func(t *testing.T) {
			var doc []byte
			if tt.value == deleteField {
				doc = encodeTree(t, deletePath(t, orig, tt.steps))
			} else {
				doc = encodeTree(t, setPath(t, orig, tt.steps, tt.value))
			}
			_, err := ParseAuditPackage(doc)
			var pe *ParseError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant a *ParseError containing %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "nexus: invalid audit package: ") {
				t.Errorf("error does not name the document: %v", err)
			}
		})
	}
	// Several problems are reported at once.
	doc := encodeTree(t, setPath(t, setPath(t, orig, []any{"package_version"}, nil), []any{"binding", "router_digest"}, false))
	_, err := ParseAuditPackage(doc)
	var pe *ParseError
	if !errors.As(err, &pe) || len(pe.Problems) != 2 {
		t.Errorf("err = %v, want two problems", err)
	}
	// Syntax errors carry the offset.
	_, err = ParseBundle([]byte(`{"bundle_version": "0.5",}`))
	var se *SyntaxError
	if !errors.As(err, &se) || se.Offset != 25 {
		t.Errorf("err = %v, want a *SyntaxError at byte 25", err)
	}
	if _, err := ParseBundle([]byte(`[]`)); err == nil || !strings.Contains(err.Error(), "document: want an object, got a list") {
		t.Errorf("top-level list: %v", err)
	}
}

type deleteMarker struct{}

var deleteField = deleteMarker{}

func deletePath(t *testing.T, v tree, steps []any) tree {
	t.Helper()
	cp := decodeTree(t, encodeTree(t, v))
	cur := cp
	for _, s := range steps[:len(steps)-1] {
		switch k := s.(type) {
		case string:
			cur = cur.(map[string]any)[k]
		case int:
			cur = cur.([]any)[k]
		}
	}
	delete(cur.(map[string]any), steps[len(steps)-1].(string))
	return cp
}

// TestMarshalRefusesBadValues: values that cannot be written faithfully
// are refused rather than written wrongly.
func TestMarshalRefusesBadValues(t *testing.T) {
	for name, v := range map[string]json.Marshaler{
		"extra repeats known field": &Actor{Type: "human", ID: "a", Extra: map[string]json.RawMessage{"id": json.RawMessage(`"b"`)}},
		"extra without value":       &Actor{Type: "human", ID: "a", Extra: map[string]json.RawMessage{"x": nil}},
		"invalid UTF-8":             &Actor{Type: "human", ID: "\xff"},
	} {
		if b, err := v.MarshalJSON(); err == nil {
			t.Errorf("%s: MarshalJSON = %s", name, b)
		}
	}
	b := &Bundle{BundleVersion: BundleVersion, Events: []Event{{Payload: json.RawMessage(`{"a":1,"a":2}`)}}}
	if _, err := b.ComputeDigest(); err == nil {
		t.Error("digest of a payload with a duplicate key succeeded")
	}
}

// TestUnmarshalNestedTypes: every nested type parses on its own too.
func TestUnmarshalNestedTypes(t *testing.T) {
	for name, tt := range map[string]struct {
		v    json.Unmarshaler
		in   string
		want string // error substring; "" for success
	}{
		"actor":            {new(Actor), `{"type":"human","id":"a"}`, ""},
		"event":            {new(Event), `{"seq":1}`, "event_id: missing"},
		"decision":         {new(BundleDecision), `{"decision_id":"d","goal":null,"mode":"apply","created_at":"","status":"DRAFT"}`, ""},
		"template":         {new(TemplateSnapshot), `{"present":false}`, ""},
		"router link":      {new(RouterLink), `{}`, ""},
		"integrity":        {new(BundleIntegrity), `{"alg":"sha256"}`, "canonical_digest: missing"},
		"provenance":       {new(Provenance), `{"records":[]}`, ""},
		"record":           {new(ProvenanceRecord), `{"prov_id":"p","method_id":"m","inputs":[],"outputs":[]}`, ""},
		"meta":             {new(Meta), `{}`, ""},
		"router section":   {new(RouterSection), `{"mode":"embedded","bundle":{}}`, ""},
		"router ref":       {new(RouterRef), `{"run_id":"r"}`, "digest: missing"},
		"binding":          {new(Binding), `{}`, "control_digest: missing"},
		"package integ":    {new(PackageIntegrity), `{"alg":"sha256","binding_digest":"x"}`, ""},
		"warden":           {new(WardenExtension), `{"action_digest":"x"}`, ""},
		"signature":        {new(PackageSignature), `{"alg":"ed25519","value":"x"}`, ""},
		"approver":         {new(ApproverIdentity), `{"actor":{"type":"human","id":"b"},"identity":"tok"}`, ""},
		"bundle syntax":    {new(Bundle), `{`, "invalid JSON"},
		"package syntax":   {new(AuditPackage), `nul`, "invalid JSON"},
		"approver missing": {new(ApproverIdentity), `{}`, "actor: missing"},
	} {
		err := tt.v.UnmarshalJSON([]byte(tt.in))
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: err = %v, want %q", name, err, tt.want)
		}
		if tt.want == "" {
			out, err := json.Marshal(tt.v)
			if err != nil {
				t.Errorf("%s: marshal: %v", name, err)
				continue
			}
			a, _ := Canonical([]byte(tt.in))
			b, _ := Canonical(out)
			if !bytes.Equal(a, b) {
				t.Errorf("%s: round trip %s -> %s", name, a, b)
			}
		}
	}
}
