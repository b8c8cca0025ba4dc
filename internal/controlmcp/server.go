package controlmcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wardenhq/warden/internal/decision"
	"github.com/wardenhq/warden/internal/warden"
)

// The tools, by name: nexus-control's eleven, then Warden's three.
const (
	ToolRequest            = "nexus-control.request"
	ToolApprove            = "nexus-control.approve"
	ToolExecute            = "nexus-control.execute"
	ToolStatus             = "nexus-control.status"
	ToolInspect            = "nexus-control.inspect"
	ToolTemplateCreate     = "nexus-control.template.create"
	ToolTemplateGet        = "nexus-control.template.get"
	ToolTemplateList       = "nexus-control.template.list"
	ToolExportBundle       = "nexus-control.export_bundle"
	ToolImportBundle       = "nexus-control.import_bundle"
	ToolExportAuditPackage = "nexus-control.export_audit_package"
	ToolRevoke             = "nexus-control.revoke"
	ToolReject             = "nexus-control.reject"
	ToolList               = "nexus-control.list"
)

// ToolNames lists the tools in the order they are offered.
var ToolNames = []string{
	ToolRequest, ToolApprove, ToolExecute, ToolStatus, ToolInspect,
	ToolTemplateCreate, ToolTemplateGet, ToolTemplateList,
	ToolExportBundle, ToolImportBundle, ToolExportAuditPackage,
	ToolRevoke, ToolReject, ToolList,
}

// Options configure a Server.
type Options struct {
	// DefaultActor is who a call acts as when its input names no actor.
	// With a zero DefaultActor, every tool that acts for someone requires
	// the actor field, and its input schema says so.
	DefaultActor decision.Actor
	// Version is the server version announced to clients.
	Version string
	// Now is the clock of the views (state, valid approvals); time.Now
	// when nil. Give the Service's clock.
	Now func() time.Time
	// Audit is the base of every audit package export: the signing key,
	// its name and the ledger whose proofs the package carries. Embed is
	// set per call.
	Audit decision.AuditOptions
	// Logger receives internal errors, which clients see only as
	// "internal error"; nothing is logged when nil.
	Logger *slog.Logger
}

// Server is the control MCP server over one decision Service.
type Server struct {
	svc    *decision.Service
	opts   Options
	server *mcp.Server
	tools  map[string]*toolDef
}

// toolDef is one tool: its definition, the validator of its input schema,
// and what a call runs once the input is valid.
type toolDef struct {
	tool  *mcp.Tool
	check *validator
	run   func(ctx context.Context, args json.RawMessage) (any, error)
}

// define builds a tool whose validated arguments are decoded into In.
func define[In any](t *mcp.Tool, input schema, run func(ctx context.Context, in *In) (any, error)) *toolDef {
	t.InputSchema = input
	t.OutputSchema = envelopeSchema()
	return &toolDef{tool: t, run: func(ctx context.Context, args json.RawMessage) (any, error) {
		in := new(In)
		if err := decode(args, in); err != nil {
			return nil, err
		}
		return run(ctx, in)
	}}
}

// New returns the control MCP server over svc. The error reports a
// DefaultActor that is not a valid actor.
func New(svc *decision.Service, opts Options) (*Server, error) {
	if opts.DefaultActor != (decision.Actor{}) {
		if err := opts.DefaultActor.Validate("default actor"); err != nil {
			return nil, err
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	s := &Server{svc: svc, opts: opts, tools: map[string]*toolDef{}}
	s.server = mcp.NewServer(&mcp.Implementation{Name: "warden-control", Title: "Warden control plane", Version: opts.Version}, &mcp.ServerOptions{
		Instructions: "Warden's approval control plane under nexus-control's tool names. Request a decision, have it approved " +
			"by enough distinct identities (the requester never counts), execute it once, and export its bundle or audit " +
			"package. Every result is {ok: true, data} or {ok: false, error: {code, message, details}}.",
	})
	defs := append(s.decisionTools(), s.exchangeTools()...)
	defs = append(defs, s.wardenTools()...)
	for _, d := range defs {
		v, err := compileSchema(d.tool.Name, d.tool.InputSchema.(schema))
		if err != nil {
			return nil, err
		}
		d.check = v
		s.tools[d.tool.Name] = d
	}
	for _, n := range ToolNames {
		d := s.tools[n]
		if d == nil {
			return nil, fmt.Errorf("controlmcp: tool %s is not defined", n)
		}
		s.server.AddTool(d.tool, s.handler(d))
	}
	if len(s.tools) != len(ToolNames) {
		return nil, fmt.Errorf("controlmcp: %d tools defined, %d listed", len(s.tools), len(ToolNames))
	}
	return s, nil
}

// MCP returns the MCP server, to connect to a transport.
func (s *Server) MCP() *mcp.Server { return s.server }

// Tools returns the tool definitions in order.
func (s *Server) Tools() []*mcp.Tool {
	out := make([]*mcp.Tool, len(ToolNames))
	for i, n := range ToolNames {
		out[i] = s.tools[n].tool
	}
	return out
}

// Run serves one client over t until it disconnects, which is a clean
// end, or ctx is done.
func (s *Server) Run(ctx context.Context, t mcp.Transport) error {
	err := s.server.Run(ctx, t)
	if err == nil || ctx.Err() != nil || errors.Is(err, io.EOF) || errors.Is(err, mcp.ErrConnectionClosed) {
		return nil
	}
	return err
}

// Call runs tool name with raw JSON arguments and returns its result, as
// a tools/call does.
func (s *Server) Call(ctx context.Context, name string, args json.RawMessage) *mcp.CallToolResult {
	d := s.tools[name]
	if d == nil {
		return s.result(name, nil, warden.Errorf(warden.CodeNotFound, "unknown tool %q; the tools are %s", name, strings.Join(ToolNames, ", ")))
	}
	data, err := s.call(ctx, d, args)
	return s.result(name, data, err)
}

func (s *Server) handler(d *toolDef) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		data, err := s.call(ctx, d, req.Params.Arguments)
		return s.result(d.tool.Name, data, err), nil
	}
}

// call validates the arguments and runs the tool, turning a panic into an
// internal error.
func (s *Server) call(ctx context.Context, d *toolDef, args json.RawMessage) (data any, err error) {
	defer func() {
		if r := recover(); r != nil {
			data, err = nil, fmt.Errorf("panic: %v", r)
		}
	}()
	if err := d.check.validate(args); err != nil {
		return nil, err
	}
	return d.run(ctx, args)
}

// envelope is SPEC §5's result envelope.
type envelope struct {
	OK    bool       `json:"ok"`
	Data  any        `json:"data,omitempty"`
	Error *errorBody `json:"error,omitempty"`
}

type errorBody struct {
	Code    warden.Code    `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details"`
}

// result wraps a tool's outcome in the envelope, as structured content
// and as the same JSON in a text content. Errors that are not Warden
// errors are logged and answered as INTERNAL "internal error", so that
// internals never reach clients.
func (s *Server) result(tool string, data any, err error) *mcp.CallToolResult {
	env := envelope{OK: err == nil, Data: data}
	if err != nil {
		env.Data = nil
		body := &errorBody{Code: warden.ErrorCode(err), Message: warden.ErrorMessage(err), Details: map[string]any{}}
		var we *warden.Error
		if errors.As(err, &we) && we.Details != nil {
			body.Details = we.Details
		}
		if body.Code == warden.CodeInternal {
			s.opts.Logger.Error("control tool failed", "tool", tool, "err", err)
		}
		env.Error = body
	} else if data == nil {
		env.Data = map[string]any{}
	}
	b, merr := json.Marshal(env)
	if merr != nil {
		s.opts.Logger.Error("control tool result", "tool", tool, "err", merr)
		env = envelope{Error: &errorBody{Code: warden.CodeInternal, Message: "internal error", Details: map[string]any{}}}
		b, _ = json.Marshal(env)
	}
	return &mcp.CallToolResult{
		Content:           []mcp.Content{&mcp.TextContent{Text: string(b)}},
		StructuredContent: json.RawMessage(b),
		IsError:           !env.OK,
	}
}

// actor returns who a call acts as: the input's actor, or the default.
func (s *Server) actor(a *decision.Actor) (decision.Actor, error) {
	if a != nil {
		return *a, nil
	}
	if s.opts.DefaultActor != (decision.Actor{}) {
		return s.opts.DefaultActor, nil
	}
	return decision.Actor{}, fieldErr([]problem{{"actor", "is required: give {type, id}, or start the server with a default identity (warden mcp --as NAME)"}})
}

// actorProp returns the actor property of an input schema and whether it
// is required: it is unless the server has a default identity.
func (s *Server) actorProp(role string) (schema, bool) {
	if s.opts.DefaultActor != (decision.Actor{}) {
		return actorSchema(role + "; default " + s.opts.DefaultActor.String() + ", this server's identity"), false
	}
	return actorSchema(role), true
}

// withActor returns an object schema with the actor property added, and
// required when there is no default identity.
func (s *Server) withActor(desc, role string, props schema, required ...string) schema {
	a, req := s.actorProp(role)
	props["actor"] = a
	if req {
		required = append(required, "actor")
	}
	return object(desc, props, required...)
}

func (s *Server) now() time.Time { return s.opts.Now() }

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}
