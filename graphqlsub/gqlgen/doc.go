// Package gqlgen serves a github.com/99designs/gqlgen schema with
// graphqlsub: New adapts a gqlgen graphql.ExecutableSchema (what gqlgen's
// generated NewExecutableSchema returns) to graphqlsub.Executor, so one
// graphqlsub.Handler serves it over graphql-transport-ws, legacy
// graphql-ws, GraphQL over SSE and GraphQL over HTTP, with graphqlsub's
// close codes, limits, authentication and lifecycle in place of gqlgen's
// own transports:
//
//	es := generated.NewExecutableSchema(generated.Config{Resolvers: &Resolver{}})
//	h := graphqlsub.NewHandler(gqlgen.New(es, nil), &graphqlsub.Options{Auth: auth})
//	mux.Handle("/graphql", h)
//
// It lives in its own package so that graph-gophers users do not build
// gqlgen and gqlgen users do not build graph-gophers. It imports gqlgen's
// runtime (graphql, graphql/executor) only, never its code generator.
//
// # Resolvers
//
// Resolvers get the context graphqlsub gives every operation:
// transport.IdentityFrom(ctx) is the authenticated caller,
// graphqlsub.ResponseBudget(ctx) the operation's response budget.
//
// A subscription resolver returns a channel (<-chan *T). Use
// graphqlsub.Stream to make it from a pubsub.Broker subscription: the
// channel then carries the broker's messages and, in band, the
// graphqlsub.StreamError of a history gap (the stream goes on) or of the
// end of the stream (slow consumer, broker closed), each with the cursor to
// resume from. Give the element type methods that return that error, which
// gqlgen binds to the fields (bind the GraphQL type to your Go type in
// gqlgen.yml under models):
//
//	type Message struct {
//		msg *pubsub.Message
//		err error // a *graphqlsub.StreamError, or nil
//	}
//
//	func (m *Message) Cursor() (string, error) { // and so on for every field
//		if m.err != nil {
//			return "", m.err
//		}
//		return m.msg.Cursor, nil
//	}
//
//	func (r *subscriptionResolver) MessageAdded(ctx context.Context, room string, since *string) (<-chan *Message, error) {
//		o := &graphqlsub.StreamOptions{}
//		if since != nil {
//			o.Since = *since
//		}
//		return graphqlsub.Stream(ctx, r.broker, "rooms/"+room, o, func(ev graphqlsub.Event) *Message {
//			if ev.Err != nil {
//				return &Message{err: ev.Err}
//			}
//			return &Message{msg: ev.Message}
//		})
//	}
//
// The client then gets that event as a result whose error has extensions
// {"code": "gap" | "slow_consumer" | "unavailable", "cursor": …}, reported
// once however many fields returned it, and subscribes again with since
// set to the cursor to lose nothing. examples/gqlgenchat/chat is a complete
// schema built this way. Declare the subscription field nullable (Message,
// not Message!): such an event has no message, so its data is
// {"messageAdded": null}. The adapter puts the root field in front of the
// paths of an event's field errors (["messageAdded", "id"]), which gqlgen
// v0.17.98 leaves out.
//
// # Guarantees
//
// Nothing is dropped silently. gqlgen pulls one event at a time from the
// resolver's channel, only when the Handler is ready to send the previous
// one, so a slow client pushes back into the resolver; graphqlsub.Stream
// then lets its bounded broker subscription absorb the difference and,
// when the client falls that far behind, ends the stream with a
// slow_consumer StreamError carrying the last cursor delivered. Errors
// resolvers return keep their extensions: gqlgen's own (a *gqlerror.Error),
// those of an error implementing Extensions() map[string]any (such as
// *graphqlsub.StreamError), or else {"code": …} from transport.Code for the
// errors of package transport and pubsub (forbidden, bad_request, …). A
// panic in a resolver becomes an "internal system error" for its field
// (logged to Options.Logger, never printed: gqlgen's default recover func
// prints to stderr and is replaced). The adapter copies each event's data
// (gqlgen reuses its buffer for the next event).
//
// graphqlsub's transports carry one result per query. A fragment that
// gqlgen defers (@defer on fields with resolvers of their own) is not
// delivered: the result has the initial payload and, per deferred
// fragment, an error with extensions.code "not_supported" naming its
// label. A subscription event whose result has errors and no data is sent
// with "data": null (it is not a request error), and a panic that gqlgen
// did not recover ends the subscription with extensions.code "internal".
//
// gqlgen's HandlerExtensions (introspection, automatic persisted queries,
// complexity limits, tracing) are added with Options.Extensions;
// graphqlsub's own cost limit applies first, on every transport.
package gqlgen
