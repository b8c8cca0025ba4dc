package mcpproxy

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wardenhq/warden/internal/engine"
)

// Separator joins a backend's name and a tool or prompt name when the name
// collides across backends: <backend>__<tool>.
const Separator = "__"

// route is where an exposed tool or prompt goes.
type route struct {
	b *backend
	// name is the backend's own name for it, which policies see.
	name string
	// exposed is the name the agent sees.
	exposed string
}

// exposedNames assigns the names agents see: a name offered by one backend
// only keeps it; a name offered by several is namespaced for every one of
// them, so that no call is silently routed to one; reserved names (the
// proxy's own tools) are always namespaced.
func exposedNames(backends []*backend, names func(*backend) []string, reserved string) map[string]route {
	count := map[string]int{}
	for _, b := range backends {
		for _, n := range names(b) {
			count[n]++
		}
	}
	out := map[string]route{}
	for _, b := range backends {
		for _, n := range names(b) {
			exposed := n
			if count[n] > 1 || n == reserved {
				exposed = b.name + Separator + n
			}
			if _, dup := out[exposed]; dup {
				continue // a backend offers the same name twice, or "a__b" meets a namespaced "a"+"b"
			}
			out[exposed] = route{b: b, name: n, exposed: exposed}
		}
	}
	return out
}

// sync makes the proxy's server offer what the backends offer now. Adding
// or removing makes the SDK send list_changed notifications to agents.
func (p *Proxy) sync() {
	p.syncMu.Lock()
	defer p.syncMu.Unlock()

	snap := make([]*backend, len(p.backends))
	tools := map[*backend][]*mcp.Tool{}
	prompts := map[*backend][]*mcp.Prompt{}
	for i, b := range p.backends {
		snap[i] = b
		b.mu.Lock()
		tools[b], prompts[b] = b.tools, b.prompts
		b.mu.Unlock()
	}

	// Tools.
	toolByName := func(b *backend, n string) *mcp.Tool {
		for _, t := range tools[b] {
			if t.Name == n {
				return t
			}
		}
		return nil
	}
	routes := exposedNames(snap, func(b *backend) []string {
		out := make([]string, 0, len(tools[b]))
		for _, t := range tools[b] {
			out = append(out, t.Name)
		}
		return out
	}, StatusTool)
	var gone []string
	for name := range p.tools {
		if _, ok := routes[name]; !ok && name != StatusTool {
			gone = append(gone, name)
			delete(p.tools, name)
		}
	}
	if len(gone) > 0 {
		p.server.RemoveTools(gone...)
	}
	for _, name := range slices.Sorted(maps.Keys(routes)) {
		r := routes[name]
		t := p.present(r, toolByName(r.b, r.name))
		key := r.b.name + "\x00" + mustJSON(t)
		if p.tools[name] == key {
			continue
		}
		if err := addTool(p.server, t, p.toolHandler(r)); err != nil {
			p.warnf("backend %s: tool %q is not offered: %v", r.b.name, r.name, err)
			if _, had := p.tools[name]; had {
				p.server.RemoveTools(name)
				delete(p.tools, name)
			}
			continue
		}
		p.tools[name] = key
	}

	// Prompts, namespaced as tools are.
	promptByName := func(b *backend, n string) *mcp.Prompt {
		for _, pr := range prompts[b] {
			if pr.Name == n {
				return pr
			}
		}
		return nil
	}
	proutes := exposedNames(snap, func(b *backend) []string {
		out := make([]string, 0, len(prompts[b]))
		for _, pr := range prompts[b] {
			out = append(out, pr.Name)
		}
		return out
	}, "")
	gone = gone[:0]
	for name := range p.prompts {
		if _, ok := proutes[name]; !ok {
			gone = append(gone, name)
			delete(p.prompts, name)
		}
	}
	if len(gone) > 0 {
		p.server.RemovePrompts(gone...)
	}
	for _, name := range slices.Sorted(maps.Keys(proutes)) {
		r := proutes[name]
		pr := *promptByName(r.b, r.name)
		pr.Name = name
		key := r.b.name + "\x00" + mustJSON(&pr)
		if p.prompts[name] == key {
			continue
		}
		p.server.AddPrompt(&pr, p.promptHandler(r))
		p.prompts[name] = key
	}

	// Resources and templates: a URI offered by several backends is read
	// from the first of them.
	wantRes := map[string]*mcp.Resource{}
	resFrom := map[string]*backend{}
	wantTpl := map[string]*mcp.ResourceTemplate{}
	tplFrom := map[string]*backend{}
	for _, b := range snap {
		b.mu.Lock()
		res, tpls := b.resources, b.templates
		b.mu.Unlock()
		for _, r := range res {
			if other, dup := resFrom[r.URI]; dup {
				if other != b {
					p.warnf("resource %s is offered by %s and %s; it is read from %s", r.URI, other.name, b.name, other.name)
				}
				continue
			}
			wantRes[r.URI], resFrom[r.URI] = r, b
		}
		for _, t := range tpls {
			if _, dup := tplFrom[t.URITemplate]; dup {
				continue
			}
			wantTpl[t.URITemplate], tplFrom[t.URITemplate] = t, b
		}
	}
	gone = gone[:0]
	for uri := range p.resources {
		if _, ok := wantRes[uri]; !ok {
			gone = append(gone, uri)
			delete(p.resources, uri)
		}
	}
	if len(gone) > 0 {
		p.server.RemoveResources(gone...)
	}
	for _, uri := range slices.Sorted(maps.Keys(wantRes)) {
		r := *wantRes[uri]
		b := resFrom[uri]
		key := b.name + "\x00" + mustJSON(&r)
		if p.resources[uri] == key {
			continue
		}
		if err := catch(func() { p.server.AddResource(&r, p.resourceHandler(b)) }); err != nil {
			p.warnf("backend %s: resource %q is not offered: %v", b.name, uri, err)
			continue
		}
		p.resources[uri] = key
	}
	gone = gone[:0]
	for tpl := range p.templates {
		if _, ok := wantTpl[tpl]; !ok {
			gone = append(gone, tpl)
			delete(p.templates, tpl)
		}
	}
	if len(gone) > 0 {
		p.server.RemoveResourceTemplates(gone...)
	}
	for _, tpl := range slices.Sorted(maps.Keys(wantTpl)) {
		t := *wantTpl[tpl]
		b := tplFrom[tpl]
		key := b.name + "\x00" + mustJSON(&t)
		if p.templates[tpl] == key {
			continue
		}
		if err := catch(func() { p.server.AddResourceTemplate(&t, p.resourceHandler(b)) }); err != nil {
			p.warnf("backend %s: resource template %q is not offered: %v", b.name, tpl, err)
			continue
		}
		p.templates[tpl] = key
	}
}

// present is the tool as the agent sees it: the backend's definition under
// its exposed name, with an object input schema, marked as needing the
// user when a gate of the policy asks for it.
func (p *Proxy) present(r route, orig *mcp.Tool) *mcp.Tool {
	t := *orig
	t.Name = r.exposed
	if r.exposed != r.name {
		t.Description = fmt.Sprintf("[%s] %s", r.b.name, orig.Description)
	}
	t.InputSchema = objectSchema(orig.InputSchema)
	if p.promptsUser(r.name) {
		t.Meta = maps.Clone(orig.Meta)
		if t.Meta == nil {
			t.Meta = mcp.Meta{}
		}
		t.Meta[RequiresUserInteraction] = true
	}
	return &t
}

// objectSchema returns schema as a JSON object of type "object", which is
// what the SDK requires of a tool's input schema.
func objectSchema(schema any) any {
	m, ok := schema.(map[string]any)
	if !ok && schema != nil {
		if b, err := json.Marshal(schema); err == nil {
			_ = json.Unmarshal(b, &m)
		}
	}
	if m == nil {
		return map[string]any{"type": "object"}
	}
	if m["type"] != "object" {
		m = maps.Clone(m)
		m["type"] = "object"
	}
	return m
}

// promptsUser reports whether the policy asks, with a gate's
// agent_prompt, that the agent's own interface confirm every call of the
// tool: a gate that names the tool or its action kind.
func (p *Proxy) promptsUser(tool string) bool {
	if p.pol == nil || p.pol.Shadow {
		return false
	}
	kind := tool
	if m, ok := p.pol.Tools[tool]; ok {
		kind = m.Action
	} else if m, ok := engine.DefaultTools[tool]; ok {
		kind = m.Action
	}
	for _, g := range p.pol.Gates {
		if (g.Action == tool || g.Action == kind) && g.AgentPrompt {
			return true
		}
	}
	return false
}

// addTool registers a tool, turning the SDK's panic on a definition it
// refuses into an error.
func addTool(s *mcp.Server, t *mcp.Tool, h mcp.ToolHandler) error {
	return catch(func() { s.AddTool(t, h) })
}

func catch(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	f()
	return nil
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// promptHandler forwards prompts/get to the backend under its own name.
func (p *Proxy) promptHandler(r route) mcp.PromptHandler {
	return func(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		params := &mcp.GetPromptParams{Name: r.name, Arguments: req.Params.Arguments, Meta: p.forwardMeta(req.Session, req.Params.Meta),
			InputResponses: req.Params.InputResponses, RequestState: req.Params.RequestState}
		return r.b.cs.GetPrompt(ctx, params)
	}
}
