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
	copy(snap, p.backends)
	tools := map[*backend][]*mcp.Tool{}
	prompts := map[*backend][]*mcp.Prompt{}
	resources := map[*backend][]*mcp.Resource{}
	templates := map[*backend][]*mcp.ResourceTemplate{}
	for _, b := range snap {
		b.mu.Lock()
		tools[b], prompts[b], resources[b], templates[b] = b.tools, b.prompts, b.resources, b.templates
		b.mu.Unlock()
	}

	// Tools and prompts: a name offered by several backends is namespaced.
	toolRoutes := exposedNames(snap, func(b *backend) []string { return namesOf(tools[b], func(t *mcp.Tool) string { return t.Name }) }, StatusTool)
	wantTools := map[string]offer[*mcp.Tool]{}
	for name, r := range toolRoutes {
		wantTools[name] = offer[*mcp.Tool]{r.b, p.present(r, find(tools[r.b], func(t *mcp.Tool) bool { return t.Name == r.name }))}
	}
	reconcile(p, "tool", p.tools, wantTools, p.server.RemoveTools, func(name string, o offer[*mcp.Tool]) error {
		return addTool(p.server, o.item, p.toolHandler(toolRoutes[name]))
	})

	promptRoutes := exposedNames(snap, func(b *backend) []string { return namesOf(prompts[b], func(pr *mcp.Prompt) string { return pr.Name }) }, "")
	wantPrompts := map[string]offer[*mcp.Prompt]{}
	for name, r := range promptRoutes {
		pr := *find(prompts[r.b], func(pr *mcp.Prompt) bool { return pr.Name == r.name })
		pr.Name = name
		wantPrompts[name] = offer[*mcp.Prompt]{r.b, &pr}
	}
	reconcile(p, "prompt", p.prompts, wantPrompts, p.server.RemovePrompts, func(name string, o offer[*mcp.Prompt]) error {
		return catch(func() { p.server.AddPrompt(o.item, p.promptHandler(promptRoutes[name])) })
	})

	// Resources and templates: a URI offered by several backends is read
	// from the first of them.
	wantRes := firstOffers(p, snap, resources, func(r *mcp.Resource) string { return r.URI })
	reconcile(p, "resource", p.resources, wantRes, p.server.RemoveResources, func(_ string, o offer[*mcp.Resource]) error {
		return catch(func() { p.server.AddResource(o.item, p.resourceHandler(o.b)) })
	})
	wantTpl := firstOffers(p, snap, templates, func(t *mcp.ResourceTemplate) string { return t.URITemplate })
	reconcile(p, "resource template", p.templates, wantTpl, p.server.RemoveResourceTemplates, func(_ string, o offer[*mcp.ResourceTemplate]) error {
		return catch(func() { p.server.AddResourceTemplate(o.item, p.resourceHandler(o.b)) })
	})
}

// offer is one item the proxy offers under a name, and the backend that
// serves it.
type offer[T any] struct {
	b    *backend
	item T
}

// reconcile makes the server offer exactly want: it removes the names
// registered (have: name → key of what is registered) that are no longer
// wanted, and adds those that are new or whose definition changed. An
// item the SDK refuses is left out with a warning.
func reconcile[T any](p *Proxy, what string, have map[string]string, want map[string]offer[T], remove func(...string), add func(string, offer[T]) error) {
	var gone []string
	for name := range have {
		if _, ok := want[name]; !ok && name != StatusTool {
			gone = append(gone, name)
			delete(have, name)
		}
	}
	if len(gone) > 0 {
		remove(gone...)
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		o := want[name]
		key := o.b.name + "\x00" + mustJSON(o.item)
		if have[name] == key {
			continue
		}
		if err := add(name, o); err != nil {
			p.warnf("backend %s: %s %q is not offered: %v", o.b.name, what, name, err)
			if _, had := have[name]; had {
				remove(name)
				delete(have, name)
			}
			continue
		}
		have[name] = key
	}
}

// firstOffers maps each key (a URI) to the first backend that offers it,
// warning about the others.
func firstOffers[T any](p *Proxy, snap []*backend, items map[*backend][]T, keyOf func(T) string) map[string]offer[T] {
	out := map[string]offer[T]{}
	for _, b := range snap {
		for _, it := range items[b] {
			k := keyOf(it)
			if other, dup := out[k]; dup {
				if other.b != b {
					p.warnf("%s is offered by %s and %s; it is read from %s", k, other.b.name, b.name, other.b.name)
				}
				continue
			}
			c := it
			out[k] = offer[T]{b, c}
		}
	}
	return out
}

func namesOf[T any](items []T, name func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = name(it)
	}
	return out
}

func find[T any](items []T, match func(T) bool) T {
	for _, it := range items {
		if match(it) {
			return it
		}
	}
	var zero T
	return zero
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
