package gqlgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/switchboard-go/switchboard/graphqlsub"
	"github.com/switchboard-go/switchboard/transport"
)

// Options configures New. The zero value (or nil) is a good default.
type Options struct {
	// Extensions are added to gqlgen's executor in this order (as
	// handler.Server.Use does): extension.Introspection{} to allow
	// introspection (off by default, as in gqlgen), APQ, complexity
	// limits, tracers.
	Extensions []graphql.HandlerExtension

	// ErrorPresenter turns a resolver's error into the GraphQL error the
	// client sees; nil means graphql.DefaultErrorPresenter. The adapter
	// then fills in missing extensions (see the package doc).
	ErrorPresenter graphql.ErrorPresenterFunc

	// RecoverFunc turns a resolver panic into an error; nil logs the
	// panic to Logger and returns "internal system error".
	RecoverFunc graphql.RecoverFunc

	// QueryCache caches parsed and validated documents (gqlgen's
	// lru.New[*ast.QueryDocument](n)); nil caches nothing.
	QueryCache graphql.Cache[*ast.QueryDocument]

	// Logger gets resolver panics (with RecoverFunc nil); nil is silent.
	Logger *slog.Logger
}

// Executor runs operations on a gqlgen ExecutableSchema for a
// graphqlsub.Handler. It is safe for concurrent use.
type Executor struct {
	x *executor.Executor
}

var _ graphqlsub.Executor = (*Executor)(nil)

// New returns an Executor for es. opts may be nil. Like gqlgen's
// handler.Server.Use, it panics when an extension's Validate refuses the
// schema: a programming error, found when the program starts.
func New(es graphql.ExecutableSchema, opts *Options) *Executor {
	var o Options
	if opts != nil {
		o = *opts
	}
	x := executor.New(es)
	for _, ext := range o.Extensions {
		x.Use(ext)
	}
	if o.ErrorPresenter != nil {
		x.SetErrorPresenter(o.ErrorPresenter)
	}
	if o.RecoverFunc == nil {
		log := o.Logger
		o.RecoverFunc = func(ctx context.Context, v any) error {
			if log != nil {
				log.ErrorContext(ctx, "gqlgen: resolver panic", "panic", fmt.Sprint(v), "path", graphql.GetPath(ctx).String())
			}
			return gqlerror.Errorf("internal system error")
		}
	}
	x.SetRecoverFunc(o.RecoverFunc)
	if o.QueryCache != nil {
		x.SetQueryCache(o.QueryCache)
	}
	return &Executor{x: x}
}

// start parses and validates req. It returns the operation context, or the
// request error to answer with.
func (e *Executor) start(ctx context.Context, req *graphqlsub.Request) (context.Context, *graphql.OperationContext, *graphqlsub.Result) {
	ctx = graphql.StartOperationTrace(ctx)
	now := graphql.Now()
	params := &graphql.RawParams{
		Query:         req.Query,
		OperationName: req.OperationName,
		Variables:     req.Variables,
		Extensions:    req.Extensions,
		ReadTime:      graphql.TraceTiming{Start: now, End: now},
	}
	if params.Variables == nil {
		params.Variables = map[string]any{}
	}
	opCtx, errs := e.x.CreateOperationContext(ctx, params)
	if errs != nil {
		resp := e.x.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs)
		res := convert(resp)
		res.Data = nil // a request error: no data entry
		if len(res.Errors) == 0 {
			res.Errors = []*graphqlsub.Error{{Message: "invalid request"}}
		}
		return ctx, nil, res
	}
	return ctx, opCtx, nil
}

// Execute runs a query or mutation.
func (e *Executor) Execute(ctx context.Context, req *graphqlsub.Request) *graphqlsub.Result {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ctx, opCtx, bad := e.start(ctx, req)
	if bad != nil {
		return bad
	}
	responses, rctx := e.x.DispatchOperation(ctx, opCtx)
	resp := responses(rctx)
	if resp == nil {
		return &graphqlsub.Result{Errors: []*graphqlsub.Error{{Message: "gqlgen: the operation returned no result",
			Extensions: map[string]any{"code": transport.CodeInternal}}}}
	}
	res := convert(resp)
	if resp.HasNext != nil && *resp.HasNext {
		res.Errors = append(res.Errors, undeferred(rctx, responses)...)
	}
	return res
}

// undeferred reads the deferred payloads of a query to their end (so that
// gqlgen's goroutines finish) and returns an error naming each: the
// transports of graphqlsub carry one result per query.
func undeferred(ctx context.Context, responses graphql.ResponseHandler) []*graphqlsub.Error {
	var out []*graphqlsub.Error
	for {
		r := responses(ctx)
		if r == nil {
			return out
		}
		if r.Data != nil || len(r.Errors) > 0 {
			out = append(out, &graphqlsub.Error{
				Message:    fmt.Sprintf("graphqlsub: @defer is not supported: deferred fragment %q not delivered", r.Label),
				Path:       convertPath(r.Path),
				Extensions: map[string]any{"code": transport.CodeNotSupported},
			})
		}
		if r.HasNext == nil || !*r.HasNext {
			return out
		}
	}
}

// Subscribe runs a subscription. The subscription resolver runs before
// Subscribe returns (its error is a request error, the first and only
// result); events are read from gqlgen one at a time, as the Handler takes
// them. The channel is closed when the resolver's channel is, or when ctx
// is done.
func (e *Executor) Subscribe(ctx context.Context, req *graphqlsub.Request) (<-chan *graphqlsub.Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	started := false
	defer func() {
		if !started {
			cancel()
		}
	}()
	ctx, opCtx, bad := e.start(ctx, req)
	out := make(chan *graphqlsub.Result, 1)
	if bad != nil {
		out <- bad
		close(out)
		return out, nil
	}
	root := rootKey(opCtx)
	responses, rctx := e.x.DispatchOperation(ctx, opCtx)
	started = true
	go func() {
		defer close(out)
		defer cancel()
		first := true
		for {
			res, last := next(rctx, responses)
			if res == nil {
				return
			}
			rootPaths(res.Errors, root)
			if !first && res.Data == nil && len(res.Errors) > 0 {
				// Past the first result nothing is a request error: keep
				// it a next message, so the client still gets complete.
				res.Data = json.RawMessage("null")
			}
			first = false
			select {
			case out <- res:
			case <-ctx.Done():
				return
			}
			if last || res.Data == nil {
				return
			}
		}
	}()
	return out, nil
}

// rootKey returns the response key (alias or name) of a subscription's
// root field; "" if there is not exactly one.
func rootKey(opCtx *graphql.OperationContext) string {
	fields := graphql.CollectFields(opCtx, opCtx.Operation.SelectionSet, []string{"Subscription"})
	if len(fields) != 1 {
		return ""
	}
	return fields[0].Alias
}

// rootPaths puts the root field in front of the paths of an event's field
// errors: gqlgen (v0.17.98) resolves an event's fields outside the root
// field's context, so their paths start below it (["id"] for
// messageAdded.id).
func rootPaths(errs []*graphqlsub.Error, root string) {
	if root == "" {
		return
	}
	for _, e := range errs {
		if len(e.Path) > 0 && e.Path[0] != root {
			e.Path = append([]any{root}, e.Path...)
		}
	}
}

// next reads one event; nil at the end of the stream. A panic gqlgen did
// not recover ends the stream (last) with an internal error instead of the
// process.
func next(ctx context.Context, responses graphql.ResponseHandler) (res *graphqlsub.Result, last bool) {
	defer func() {
		if v := recover(); v != nil {
			res, last = &graphqlsub.Result{Data: json.RawMessage("null"), Errors: []*graphqlsub.Error{{
				Message:    "graphqlsub: internal error in the subscription: stream ended, resubscribe from the last cursor received",
				Extensions: map[string]any{"code": transport.CodeInternal},
			}}}, true
		}
	}()
	resp := responses(ctx)
	if resp == nil {
		return nil, true
	}
	// gqlgen reuses the event's buffer for the next event.
	resp.Data = bytes.Clone(resp.Data)
	return convert(resp), false
}

// convert turns a gqlgen response into a Result.
func convert(r *graphql.Response) *graphqlsub.Result {
	res := &graphqlsub.Result{Extensions: r.Extensions, Errors: convertErrors(r.Errors)}
	if len(r.Data) > 0 {
		res.Data = json.RawMessage(r.Data)
	}
	return res
}

// extended is an error that carries GraphQL extensions
// (graphqlsub.StreamError, graph-gophers' convention).
type extended interface{ Extensions() map[string]any }

func convertErrors(list gqlerror.List) []*graphqlsub.Error {
	if len(list) == 0 {
		return nil
	}
	out := make([]*graphqlsub.Error, 0, len(list))
	seen := map[*graphqlsub.StreamError]bool{}
	for _, ge := range list {
		if ge == nil {
			continue
		}
		var se *graphqlsub.StreamError
		if errors.As(ge.Err, &se) {
			if seen[se] {
				continue // every field of the event returned it: say it once
			}
			seen[se] = true
		}
		e := &graphqlsub.Error{Message: ge.Message, Path: convertPath(ge.Path), Extensions: ge.Extensions}
		if len(e.Extensions) == 0 && ge.Err != nil {
			var x extended
			if errors.As(ge.Err, &x) {
				e.Extensions = x.Extensions()
			} else if code := transport.Code(ge.Err); code != transport.CodeInternal {
				e.Extensions = map[string]any{"code": code}
			}
		}
		for _, l := range ge.Locations {
			e.Locations = append(e.Locations, graphqlsub.Location{Line: l.Line, Column: l.Column})
		}
		out = append(out, e)
	}
	return out
}

func convertPath(p ast.Path) []any {
	if len(p) == 0 {
		return nil
	}
	out := make([]any, len(p))
	for i, el := range p {
		switch v := el.(type) {
		case ast.PathIndex:
			out[i] = int(v)
		case ast.PathName:
			out[i] = string(v)
		default:
			out[i] = fmt.Sprint(v)
		}
	}
	return out
}
