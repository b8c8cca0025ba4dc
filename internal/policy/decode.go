package policy

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// maxNodes bounds the nodes decoded, aliases expanded, so that an alias bomb
// cannot exhaust memory.
const maxNodes = 200_000

// decoder fills Go values from a YAML AST, checking shape and types as it
// goes and collecting every problem instead of stopping at the first.
type decoder struct {
	r       *report
	anchors map[string][]anchor
	nodes   int
}

// anchor is one definition of an anchor name; YAML lets a name be defined
// again, and an alias refers to the latest definition before it.
type anchor struct {
	at   pos
	node ast.Node
}

// collectAnchors registers every anchor in the document before decoding, so
// that an alias resolves even when its anchor sits under a key the decoder
// rejects.
func (d *decoder) collectAnchors(n ast.Node) {
	ast.Walk(visitor(func(n ast.Node) {
		if a, ok := n.(*ast.AnchorNode); ok {
			name := a.Name.GetToken().Value
			d.anchors[name] = append(d.anchors[name], anchor{at: nodePos(a), node: a.Value})
		}
	}), n)
}

type visitor func(ast.Node)

func (v visitor) Visit(n ast.Node) ast.Visitor {
	v(n)
	return v
}

func before(a, b pos) bool {
	return a.line < b.line || (a.line == b.line && a.col < b.col)
}

var (
	versionType  = reflect.TypeFor[Version]()
	durationType = reflect.TypeFor[Duration]()
)

func nodePos(n ast.Node) pos {
	// A mapping's own token is its first colon; its first key reads better.
	switch t := n.(type) {
	case *ast.MappingNode:
		if len(t.Values) > 0 && t.Start != nil && t.Start.Type != token.MappingStartType {
			return nodePos(t.Values[0].Key)
		}
	case *ast.MappingValueNode:
		return nodePos(t.Key)
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return pos{tk.Position.Line, tk.Position.Column}
	}
	return pos{}
}

// unwrap resolves anchors, aliases and tags to the node that carries the value.
func (d *decoder) unwrap(n ast.Node, path string) (ast.Node, bool) {
	for range 64 {
		switch t := n.(type) {
		case *ast.AnchorNode:
			n = t.Value
		case *ast.AliasNode:
			name := t.Value.GetToken().Value
			var target ast.Node
			for _, a := range d.anchors[name] {
				if before(a.at, nodePos(n)) {
					target = a.node
				}
			}
			if target == nil {
				d.r.errorAt(path, nodePos(n), "alias *%s refers to no anchor defined before it", name)
				return nil, false
			}
			n = target
		case *ast.TagNode:
			n = t.Value
		default:
			return n, true
		}
	}
	d.r.errorAt(path, nodePos(n), "aliases nest too deeply")
	return nil, false
}

func describe(n ast.Node) string {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode, *ast.LiteralNode:
		return "a string"
	case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "a number"
	case *ast.BoolNode:
		return "true/false"
	case *ast.NullNode:
		return "null"
	}
	return "a " + strings.ToLower(n.Type().String())
}

func isNull(n ast.Node) bool {
	_, ok := n.(*ast.NullNode)
	return ok
}

// mappingEntries returns the key/value pairs of a mapping node. A single
// "key: value" line parses as a bare MappingValueNode.
func mappingEntries(n ast.Node) ([]*ast.MappingValueNode, bool) {
	switch t := n.(type) {
	case *ast.MappingNode:
		return t.Values, true
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{t}, true
	}
	return nil, false
}

func (d *decoder) decode(n ast.Node, v reflect.Value, path string) {
	n, ok := d.unwrap(n, path)
	if !ok {
		return
	}
	d.nodes++
	if d.nodes > maxNodes {
		if d.nodes == maxNodes+1 {
			d.r.errorAt(path, nodePos(n), "the document has more than %d elements once aliases are expanded", maxNodes)
		}
		return
	}
	if isNull(n) {
		return // null is the same as absent
	}
	d.r.pos[path] = nodePos(n)

	switch v.Type() {
	case versionType:
		switch n.(type) {
		case *ast.StringNode, *ast.IntegerNode, *ast.FloatNode:
			v.SetString(n.GetToken().Value)
		default:
			d.r.errorAt(path, nodePos(n), "expected a version such as \"1.0\", got %s", describe(n))
		}
		return
	case durationType:
		s, ok := d.scalarString(n, path, "a duration such as \"10m\"")
		if !ok {
			return
		}
		dur, err := parseDuration(s)
		if err != nil {
			d.r.errorAt(path, nodePos(n), "%v", err)
			return
		}
		v.SetInt(int64(dur))
		return
	}

	switch v.Kind() {
	case reflect.Pointer:
		elem := reflect.New(v.Type().Elem())
		d.decode(n, elem.Elem(), path)
		v.Set(elem)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			d.r.errorAt(path, nodePos(n), "expected a list, got %s; write it as [a, b] or as lines starting with \"- \"", describe(n))
			return
		}
		out := reflect.MakeSlice(v.Type(), len(seq.Values), len(seq.Values))
		for i, item := range seq.Values {
			d.decode(item, out.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(out)
	case reflect.Map:
		entries, ok := mappingEntries(n)
		if !ok {
			d.r.errorAt(path, nodePos(n), "expected a mapping, got %s", describe(n))
			return
		}
		out := reflect.MakeMapWithSize(v.Type(), len(entries))
		for _, e := range entries {
			key, ok := d.key(e, path)
			if !ok {
				continue
			}
			elem := reflect.New(v.Type().Elem()).Elem()
			d.decode(e.Value, elem, path+"."+key)
			out.SetMapIndex(reflect.ValueOf(key), elem)
		}
		v.Set(out)
	case reflect.String:
		if s, ok := d.scalarString(n, path, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		b, ok := n.(*ast.BoolNode)
		if !ok {
			d.r.errorAt(path, nodePos(n), "expected true or false, got %s", describe(n))
			return
		}
		v.SetBool(b.Value)
	case reflect.Int, reflect.Int64:
		i, ok := n.(*ast.IntegerNode)
		if !ok {
			d.r.errorAt(path, nodePos(n), "expected a whole number, got %s", describe(n))
			return
		}
		x, err := strconv.ParseInt(strings.ReplaceAll(i.GetToken().Value, "_", ""), 0, 64)
		if err != nil {
			d.r.errorAt(path, nodePos(n), "number %s is out of range", i.GetToken().Value)
			return
		}
		v.SetInt(x)
	case reflect.Float64:
		switch t := n.(type) {
		case *ast.IntegerNode:
			x, err := strconv.ParseFloat(strings.ReplaceAll(t.GetToken().Value, "_", ""), 64)
			if err != nil {
				d.r.errorAt(path, nodePos(n), "invalid number %s", t.GetToken().Value)
				return
			}
			v.SetFloat(x)
		case *ast.FloatNode:
			v.SetFloat(t.Value)
		default:
			d.r.errorAt(path, nodePos(n), "expected a number, got %s", describe(n))
		}
	default:
		panic(fmt.Sprintf("policy: no decoder for %s", v.Type()))
	}
}

// scalarString returns the text of a string node. Numbers and booleans are
// refused: YAML reads `1.10` as 1.1 and `no` as false, so a value meant as
// text must be quoted to mean what it says.
func (d *decoder) scalarString(n ast.Node, path, want string) (string, bool) {
	switch t := n.(type) {
	case *ast.StringNode:
		return t.Value, true
	case *ast.LiteralNode:
		return t.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode:
		d.r.errorAt(path, nodePos(n), "expected %s, got %s; write it in quotes: \"%s\"", want, describe(n), n.GetToken().Value)
	default:
		d.r.errorAt(path, nodePos(n), "expected %s, got %s", want, describe(n))
	}
	return "", false
}

func (d *decoder) key(e *ast.MappingValueNode, path string) (string, bool) {
	if _, merge := e.Key.(*ast.MergeKeyNode); merge {
		d.r.errorAt(path, nodePos(e.Key), "merge keys (<<) are not supported; write the keys out")
		return "", false
	}
	k, ok := e.Key.(ast.Node)
	if !ok {
		return "", false
	}
	switch k.(type) {
	case *ast.StringNode:
	default:
		if _, scalar := k.(ast.ScalarNode); !scalar {
			d.r.errorAt(path, nodePos(k), "a key must be a plain string, got %s", describe(k))
			return "", false
		}
	}
	return k.GetToken().Value, true
}

// structInfo describes how a struct type appears in YAML.
type structInfo struct {
	fields   map[string]int // YAML key → field index
	names    []string       // YAML keys in declaration order
	required []string
}

var structInfos sync.Map // reflect.Type → *structInfo

func infoFor(t reflect.Type) *structInfo {
	if si, ok := structInfos.Load(t); ok {
		return si.(*structInfo)
	}
	si := &structInfo{fields: map[string]int{}}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		si.fields[name] = i
		si.names = append(si.names, name)
		if f.Tag.Get("policy") == "required" {
			si.required = append(si.required, name)
		}
	}
	structInfos.Store(t, si)
	return si
}

func (d *decoder) decodeStruct(n ast.Node, v reflect.Value, path string) {
	entries, ok := mappingEntries(n)
	if !ok {
		d.r.errorAt(path, nodePos(n), "expected a mapping of keys, got %s", describe(n))
		return
	}
	si := infoFor(v.Type())
	seen := map[string]bool{}
	for _, e := range entries {
		key, ok := d.key(e, path)
		if !ok {
			continue
		}
		child := key
		if path != "" {
			child = path + "." + key
		}
		idx, known := si.fields[key]
		if !known {
			msg := fmt.Sprintf("unknown key %q", key)
			if s := suggest(key, si.names); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			} else {
				msg += "; allowed keys: " + strings.Join(si.names, ", ")
			}
			d.r.errorAt(child, nodePos(e.Key.(ast.Node)), "%s", msg)
			continue
		}
		if !isNull(e.Value) {
			seen[key] = true
		}
		d.decode(e.Value, v.Field(idx), child)
	}
	for _, req := range si.required {
		if !seen[req] {
			p := req
			if path != "" {
				p = path + "." + req
			}
			d.r.errorAt(p, nodePos(n), "missing required key %q", req)
		}
	}
}

// parseDuration accepts Go durations plus a "d" (24h) unit.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil || n <= 0 || n > 3650 {
			return 0, fmt.Errorf("invalid duration %q: write a positive number of days such as \"2d\", or use h, m or s", s)
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: write a number and a unit, such as \"30s\", \"10m\", \"2h\" or \"1d\"", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("duration %q must be positive", s)
	}
	return d, nil
}
