// Package graphqlsub serves GraphQL queries, mutations and subscriptions
// over every wire GraphQL clients speak, from one http.Handler.
//
// Use NewHandler to serve an Executor on one endpoint; use
// graphqlsub/gophers to get an Executor from a graph-gophers/graphql-go
// schema (or gophers.NewBrokerSchema for a ready-made API over a
// pubsub.Broker), or graphqlsub/gqlgen from a gqlgen ExecutableSchema
// (each adapter is its own package, so a program builds only the engine
// it uses); use Stream inside a subscription resolver to turn a
// pubsub.Broker subscription into the resolver's channel, filtered by the
// resolver's arguments, with gaps and overflows reported in band. Mount the
// Handler on your mux and stop it with Shutdown (graceful) or Close (see
// Lifecycle) before http.Server.Shutdown, which does not wait for hijacked
// WebSockets: transport.Shutdown(ctx, server, handler) does both in order.
//
// # Dispatch
//
// One URL serves four protocols, chosen per request:
//
//   - A WebSocket upgrade offering the subprotocol "graphql-transport-ws"
//     speaks that protocol (npm's graphql-ws library); one offering
//     "graphql-ws" speaks the legacy subscriptions-transport-ws protocol
//     (older Apollo clients). Beware the naming trap: the graphql-ws
//     library does not speak the graphql-ws subprotocol. An upgrade with
//     neither is accepted and closed with 4406 (Subprotocol not
//     acceptable); unlike gqlgen, no protocol is assumed.
//   - A PUT, or a request carrying a stream token (header
//     X-GraphQL-Event-Stream-Token or query parameter token), is GraphQL
//     over SSE in single-connection mode.
//   - A GET or POST whose Accept lists text/event-stream is GraphQL over SSE
//     in distinct-connections mode (npm's graphql-sse client).
//   - Any other GET or POST is GraphQL over HTTP.
//
// # graphql-transport-ws
//
// Exactly as enisdenjo/graphql-ws's PROTOCOL.md specifies. The client must
// send connection_init within Options.InitTimeout (default 3 s) or the
// socket closes with 4408; its payload (and the upgrade request's headers)
// go through transport.Auth.Authenticate with Credentials.Transport
// "graphql", Payload the init payload and Token the payload's "token"
// field, else a Bearer Authorization in the payload or the request; a
// refusal closes with 4403 Forbidden, success answers connection_ack and
// puts the identity in the context of every operation
// (transport.IdentityFrom). Other close codes: 4400 for malformed JSON, a
// missing or unknown type, a message type only servers send, a bad id or
// payload (the reason starts "Invalid message received: ", at most 123
// bytes); 4401 for subscribe before connection_ack; 4409 "Subscriber for
// <id> already exists" for a duplicate active id; 4429 for a second
// connection_init; 4500 when the executor panics; 1001 on Shutdown; 1009
// for a message over Limits.MaxMessageBytes; 1013 when the handler is at
// Limits.MaxConnections. ping is answered with pong (echoing an object
// payload), pong is ignored, and the server sends WebSocket ping frames
// every Options.KeepAlive (12 s), closing peers that do not answer.
//
// Each subscribe runs one operation: subscriptions through
// Executor.Subscribe, queries and mutations through Executor.Execute. Every
// result is a next message; the operation then ends with complete. A
// request error (a result without data: syntax, validation, or a subscribe
// resolver that fails) is a single error message with the GraphQL errors as
// payload and no complete. A complete from the client cancels the
// operation; nothing more is sent for it and its id can be reused. Past
// Limits.MaxSubscriptions running operations a subscribe is answered with
// an error message whose extensions.code is "rate_limited".
//
// # Legacy graphql-ws (subscriptions-transport-ws)
//
// connection_init is answered with connection_ack followed by "ka" at once
// and every KeepAlive; a refusal sends connection_error then closes with
// 1011, as the reference server does. start runs an operation, results
// (request errors included) come as data, then complete; stop cancels it; a
// start with an active id replaces that operation; connection_terminate
// closes with 1000. A malformed message gets connection_error and the
// connection stays open; an unknown type gets an error for its id. The init
// timeout applies too (close 4408).
//
// # GraphQL over SSE (distinct connections)
//
// Each request runs one operation and answers 200 text/event-stream with
// "event: next\ndata: <ExecutionResult>" per result and a final
// "event: complete\ndata:" (the empty data field makes EventSource dispatch
// it). Request errors, validation included, arrive as a next event, not as
// a 400, since a 400 makes browsers give up. Only an unreadable request
// (not JSON, no query: 400; wrong Content-Type: 415; too large: 413) or
// refused credentials (401/403, from transport.Auth with the request's
// headers and access_token) get a non-200 status. Comments (":") keep the
// stream alive every KeepAlive. The client stops an operation by closing
// the connection.
//
// # GraphQL over SSE (single connection)
//
// PUT reserves a stream (authenticated like any HTTP request; the identity
// applies to every operation of the stream) and answers 201 with the token
// as text/plain. The reservation counts against Limits.MaxConnections and
// ends after 30 s if no stream opens. A GET or POST with Accept:
// text/event-stream and the token opens the stream (409 if one is already
// open); when it closes, the reservation and all its operations end. Each
// operation is a POST (or GET, not for mutations) with the token and
// extensions.operationId, answered 202 (400 without an id, 409 for an id
// in use, 404 for an unknown token, 429 past Limits.MaxSubscriptions); its
// results arrive on the stream as "event: next" with data {"id","payload"}
// and "event: complete" with data {"id"}. DELETE ?operationId= stops one
// (200). Events wait for the stream in a bounded queue; when it is full the
// operations wait, pushing back into the Executor as on WebSockets.
//
// # GraphQL over HTTP
//
// POST with Content-Type application/json ({"query", "operationName",
// "variables", "extensions"}) or GET with the same names as query
// parameters (variables and extensions JSON-encoded). Mutations over GET
// get 405. The response is application/graphql-response+json when the
// Accept header lists it (a request error is then 400, anything else 200)
// and application/json otherwise (always 200 once the request was read).
// Subscriptions need a WebSocket or SSE and get 400. Errors of the handler
// itself use the GraphQL shape {"errors":[{"message", "extensions":
// {"code"}}]} with the codes of package transport.
//
// # Cost and size limits
//
// Before an operation reaches the Executor, on every transport, the
// Handler estimates its cost from the document alone: every field counts
// 1 (each alias separately, fragments counted where they are spread), and
// the fields under a field with a "limit", "first" or "last" argument (a
// literal or a variable) count that many times. An operation over
// Options.MaxCost (default 10,000) or nested deeper than Options.MaxDepth
// (default 20) is refused with a request error whose extensions.code is
// "too_costly" (GraphQL over HTTP: 400 under
// application/graphql-response+json; graphql-transport-ws: an error
// message; legacy graphql-ws and SSE: a result with the error). So 300
// aliases of messages(limit: 1000) (cost 300,300) never run. A document
// the estimate cannot read is refused as bad_request.
//
// A query or mutation result whose data is over Limits.MaxResponseBytes
// (default 4 MiB) is replaced by "data": null and an error whose
// extensions.code is "too_large". Resolvers that return a lot of data
// should take it from ResponseBudget(ctx), shared by the whole operation,
// and stop early (gophers.BrokerSchema's Query.messages cuts its page
// there), so that the result never grows far past the limit.
//
// # Lifecycle
//
// The Handler's sessions are its WebSockets, its SSE streams and its
// single-connection reservations; Active returns how many are open, and
// Limits.MaxConnections bounds them. Shutdown(ctx) is graceful: new
// sessions are refused (503 with Retry-After), every WebSocket gets the
// go-away signal (close 1001), every SSE stream ends after what was
// already delivered, and Shutdown waits until they have gone; when ctx
// ends first it cuts the rest, waits for them and returns ctx's error.
// Close is abrupt: it cuts every session now (WebSockets are dropped
// without a close frame), then waits for the Handler's goroutines. Both
// are idempotent and may race each other and ServeHTTP.
//
// # Shared subscriptions
//
// By default every subscription operation runs alone: the Executor resolves
// each event once per subscriber, which for a popular subscription costs
// far more than writing the result (graph-gophers: about three times a
// plain WebSocket delivery). Options.ShareSubscriptions lets operations
// that would get the same results share one execution: the Executor runs
// once for all of them, each result is encoded once, and only the message
// around it (the operation id) is written per subscriber.
//
// Operations share when ShareSubscriptions returns true for each and they
// have equal identities (transport.IdentityFrom: Subject, Claims and Scope
// compared by value; anonymous ones are equal), the same document and
// operation name, and equal variables and extensions. Keying on the
// identity makes sharing safe for resolvers that decide by identity (an
// authorization check in the subscription resolver, fields filtered per
// user): subscribers of different identities never share. What the Handler
// cannot compare is the rule's to exclude:
//
//   - Resumes. A subscriber joins a running execution where it stands:
//     it gets the events from then on, as a new live subscription would.
//     An operation whose results depend on when it started (replay after a
//     since cursor) must run alone.
//   - Other context. The shared execution's context carries the identity
//     and nothing else (no request-scoped values of an SSE request), and
//     lives until its last subscriber leaves (then it is cancelled).
//   - Per-subscriber side effects. The subscription resolver runs once, for
//     the first subscriber: an Auth.Authorize that counts or rate-limits
//     subscribes sees only that one.
//
// gophers.ShareLive is the rule for gophers.BrokerSchema: every
// subscription whose document does not mention since.
//
// Each subscriber of a shared execution has its own queue of
// DefaultShareBuffer results; the execution never waits for a subscriber,
// and one that falls that far behind is ended with a next message whose
// error has extensions.code "slow_consumer" (subscribe again: without a
// cursor, since shared executions are live). A request error ends the
// execution for every subscriber waiting for it; the next subscriber
// starts a new one.
//
// # Results
//
// A Result with a nil Data is a request error (the GraphQL specification's
// "data entry not present"); a field error that nulls the whole result has
// Data set to the JSON literal null. Handlers rely on this to choose
// between error and next.
//
// # Gaps and slow consumers
//
// Nothing is lost silently. A Stream resumed (StreamOptions.Since) from a
// cursor the history no longer reaches first yields an Event whose Err has
// Code "gap"; a stream whose broker subscription overflowed or whose broker
// closed ends with an Event whose Err has Code "slow_consumer" or
// "unavailable" and Cursor the last cursor delivered. Resolvers return that
// *StreamError from their field resolvers; clients then see a next message
// with "data": null and one error with extensions {"code", "cursor"}, and
// resubscribe with since = cursor to lose nothing. The Handler itself never
// drops a result: a write blocks its operation (at most WriteTimeout, then
// the connection closes), which pushes back into the Executor. The gophers
// adapter queues a bounded number of results per operation and, when a
// client falls that far behind, ends the operation with an error whose
// extensions.code is "slow_consumer" (the client resumes from the last
// cursor it received); a Stream's bounded broker subscription behaves the
// same way for resolvers that are slower than the broker. An event the
// engine fails to resolve (graph-gophers skips one that exceeds its
// SubscribeResolverTimeout) ends the operation with extensions.code
// "event_lost" rather than leave a silent gap. The gqlgen adapter needs no
// queue of its own: gqlgen reads the resolver's channel only when the
// previous event has been taken, so a slow client pushes back into Stream,
// whose bounded subscription then reports slow_consumer.
package graphqlsub
