package policy

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

var update = flag.Bool("update", false, "rewrite schema/policy.schema.json")

const schemaFile = "../../schema/policy.schema.json"

// The published schema is the generated one.
func TestSchemaInSync(t *testing.T) {
	got, err := JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("%v (run: go test ./internal/policy -run TestSchemaInSync -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale; regenerate it with: go test ./internal/policy -run TestSchemaInSync -update", schemaFile)
	}
}

// The schema accepts every example and rejects what the loader rejects
// for shape: an unknown key, a wrong type, a missing name.
func TestSchemaValidates(t *testing.T) {
	raw, err := JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(SchemaID)
	if err != nil {
		t.Fatal(err)
	}
	load := func(src []byte) any {
		t.Helper()
		j, err := yaml.YAMLToJSON(src)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(j, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	files, _ := filepath.Glob("../../examples/*.yaml")
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(load(src)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, bad := range []string{
		"name: x\ncapabilities: [{tool: a, scope: {}}]\nforbiden: []\n",
		"name: x\ncapabilities: [{tool: a, scope: {paths: x}}]\n",
		"capabilities: [{tool: a, scope: {}}]\n",
		"name: x\ncapabilities: [{tool: a, scope: {}}]\ngates: [{action: a, approval: sometimes}]\n",
		"name: x\ncapabilities: [{tool: a, scope: {}}]\nforbidden: [{path: a, url: b}]\n",
	} {
		if err := sch.Validate(load([]byte(bad))); err == nil {
			t.Errorf("schema accepted:\n%s", bad)
		}
	}
}
