// Package gophers adapts github.com/graph-gophers/graphql-go to
// graphqlsub.Executor.
//
// Use New to serve a *graphql.Schema with graphqlsub.NewHandler:
//
//	schema := graphql.MustParseSchema(sdl, &root{}, graphql.SubscribeResolverTimeout(10*time.Second))
//	http.Handle("/graphql", graphqlsub.NewHandler(gophers.New(schema, nil), nil))
//
// Two rules of graph-gophers matter here. The root resolver must be a
// pointer (MustParseSchema panics otherwise). And each subscription event
// must be resolved and received within the schema's SubscribeResolverTimeout
// (default 1 s), or graph-gophers drops it silently; so the adapter receives
// every event at once into a bounded queue (Options.Buffer) and, when a
// client cannot keep up and the queue is full, ends the operation with a
// GraphQL error whose extensions.code is "slow_consumer" instead of losing
// events. Field resolvers slower than the timeout need a larger
// SubscribeResolverTimeout.
//
// graph-gophers also goes on with the next event when one fails to resolve
// within the timeout (or panics); the adapter ends the operation there with
// an error whose extensions.code is "event_lost", so that no gap goes
// unnoticed.
//
// graph-gophers resolves each event once per subscription, which under a
// large fan-out costs far more than writing the result. Subscribers of the
// same live subscription can share one execution per event with
// graphqlsub.Options.ShareSubscriptions; ShareLive is the rule for
// BrokerSchema.
//
// Errors returned by field resolvers that implement Extensions() (such as
// *graphqlsub.StreamError) carry their extensions to the client; when
// several fields of one event fail with the same StreamError, the adapter
// reports it once.
package gophers

import (
	"context"
	"encoding/json"

	graphql "github.com/graph-gophers/graphql-go"
	gqlerrors "github.com/graph-gophers/graphql-go/errors"

	"github.com/switchboard-go/switchboard/graphqlsub"
	"github.com/switchboard-go/switchboard/transport"
)

// Options configures New. The zero value (or nil) is a good default.
type Options struct {
	// Buffer is how many events of one subscription may wait for the
	// client; 0 means 256.
	Buffer int
}

// DefaultBuffer is the Options.Buffer used when it is 0.
const DefaultBuffer = 256

// Executor runs operations on a graph-gophers schema. It is safe for
// concurrent use.
type Executor struct {
	schema *graphql.Schema
	buffer int
}

var _ graphqlsub.Executor = (*Executor)(nil)

// New returns an Executor for schema. opts may be nil.
func New(schema *graphql.Schema, opts *Options) *Executor {
	e := &Executor{schema: schema, buffer: DefaultBuffer}
	if opts != nil && opts.Buffer > 0 {
		e.buffer = opts.Buffer
	}
	return e
}

// Execute runs a query or mutation with Schema.Exec.
func (e *Executor) Execute(ctx context.Context, req *graphqlsub.Request) *graphqlsub.Result {
	return convert(e.schema.Exec(ctx, req.Query, req.OperationName, req.Variables))
}

// Subscribe runs a subscription with Schema.Subscribe. The returned channel
// is closed when the subscription ends or ctx is done.
func (e *Executor) Subscribe(ctx context.Context, req *graphqlsub.Request) (<-chan *graphqlsub.Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	in, err := e.schema.Subscribe(ctx, req.Query, req.OperationName, req.Variables)
	if err != nil {
		cancel()
		return nil, err
	}
	out := make(chan *graphqlsub.Result, e.buffer+1)
	go func() {
		defer close(out)
		defer cancel()
		first := true
		for {
			var v any
			var ok bool
			select {
			case <-ctx.Done():
				return
			case v, ok = <-in:
			}
			if !ok {
				return
			}
			resp, _ := v.(*graphql.Response)
			if resp == nil {
				continue
			}
			res := convertEvent(resp, first)
			lost := !first && len(resp.Data) == 0 && pathless(res.Errors)
			first = false
			if lost {
				// graph-gophers could not resolve this event in time (or it
				// panicked) and goes on with the next one: a silent gap. End
				// the operation instead, so the client resumes from its last
				// cursor.
				cancel()
				for _, e := range res.Errors {
					e.Extensions = map[string]any{"code": graphqlsub.CodeEventLost}
				}
				out <- res
				return
			}
			// Only this goroutine sends and out has one slot more than the
			// buffer, so neither send below blocks. Never make graph-gophers
			// wait: it drops events not received within its
			// SubscribeResolverTimeout. End the operation loudly instead.
			if len(out) >= e.buffer {
				cancel()
				out <- &graphqlsub.Result{Data: json.RawMessage("null"), Errors: []*graphqlsub.Error{{
					Message:    "graphqlsub: subscriber too slow, subscription ended: resubscribe from the last cursor received",
					Extensions: map[string]any{"code": graphqlsub.CodeSlowConsumer},
				}}}
				return
			}
			out <- res
		}
	}()
	return out, nil
}

// convert turns a graph-gophers response into a Result.
func convert(r *graphql.Response) *graphqlsub.Result {
	res := &graphqlsub.Result{Extensions: r.Extensions}
	if len(r.Data) > 0 {
		res.Data = json.RawMessage(r.Data)
	}
	res.Errors = convertErrors(r.Errors)
	return res
}

// convertEvent converts a subscription response. graph-gophers leaves Data
// empty both for request errors (before execution) and for an event whose
// non-null root field failed; field errors carry a path, request errors do
// not, so an event with a pathed error gets "data": null.
func convertEvent(r *graphql.Response, first bool) *graphqlsub.Result {
	res := convert(r)
	if res.Data == nil && len(res.Errors) > 0 {
		for _, e := range res.Errors {
			if len(e.Path) > 0 || !first {
				res.Data = json.RawMessage("null")
				break
			}
		}
	}
	return res
}

// pathless reports whether errs is non-empty and no error has a path.
func pathless(errs []*graphqlsub.Error) bool {
	for _, e := range errs {
		if len(e.Path) > 0 {
			return false
		}
	}
	return len(errs) > 0
}

func convertErrors(errs []*gqlerrors.QueryError) []*graphqlsub.Error {
	if len(errs) == 0 {
		return nil
	}
	out := make([]*graphqlsub.Error, 0, len(errs))
	seen := map[*graphqlsub.StreamError]bool{}
	for _, qe := range errs {
		if qe == nil {
			continue
		}
		if se, ok := qe.ResolverError.(*graphqlsub.StreamError); ok {
			if seen[se] {
				continue
			}
			seen[se] = true
		}
		ge := &graphqlsub.Error{Message: qe.Message, Path: qe.Path, Extensions: qe.Extensions}
		if ge.Extensions == nil {
			if code := transport.Code(qe.ResolverError); qe.ResolverError != nil && code != transport.CodeInternal {
				ge.Extensions = map[string]any{"code": code}
			}
		}
		for _, l := range qe.Locations {
			ge.Locations = append(ge.Locations, graphqlsub.Location{Line: l.Line, Column: l.Column})
		}
		out = append(out, ge)
	}
	return out
}
