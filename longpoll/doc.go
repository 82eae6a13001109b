// Package longpoll serves messages to clients that can only make plain HTTP
// requests: each GET returns the messages after the client's cursor at
// once, or waits until one arrives. With cursors a client polling in a loop
// sees every message exactly once, in order, even those published between
// two polls, and across servers behind a balancer (no sticky sessions).
//
// Use [NewHandler] to serve polls from any pubsub.Broker, and
// [Handler.Shutdown] (or transport.Shutdown, with the http.Server) to
// answer held polls.
// Publish over plain HTTP with the transport package's REST handler, the
// other half of the pair:
//
//	POST /topics/chat/room1      body = payload     → {"id":…,"cursor":…}
//	GET  /poll?topic=chat/%23&cursor=C&timeout=25s  → the messages after C
//
// # Request
//
//	GET /poll?topic=FILTER[&topic=FILTER…][&cursor=C][&timeout=D][&limit=N]
//
// The parameters:
//
//   - topic: an MQTT 5 filter ('#' escaped as %23); several are merged in
//     cursor order, a message matching two of them comes once.
//   - cursor: the "cursor" of the previous response. Absent: start from now
//     (the poll waits for the next message).
//   - timeout: how long to hold an empty poll, in seconds ("30") or as a
//     duration ("1.5s", "500ms"); default 25 s (Options.Timeout), capped
//     at Options.MaxTimeout (default 50 s); 0 answers at once.
//   - limit: messages per response, 1 to Options.MaxBatch (default 100).
//     A batch is also cut at Limits.MaxResponseBytes of envelopes (default
//     4 MiB, at least one message); more is then true.
//
// # Response
//
//	200 {"messages":[<envelope>,…],"cursor":"4kq2m0c1a7bd-42","gap":false,"more":false}
//
// Each message is the transport JSON envelope (topic, id, cursor, time,
// header, data or data_b64). Poll again with cursor; when more is true,
// more messages are waiting and the next poll answers at once. An empty
// batch after the timeout keeps the same cursor; "goaway":true (only then
// present) marks the empty batch answering a poll held when the server
// began to shut down: poll again, here or on another server. gap true means messages
// may have been missed: the history no longer reaches back to the cursor
// (the batch then starts at the oldest message kept), the cursor came from
// an earlier broker epoch, or it is malformed (then the batch is empty and
// cursor is the broker's head). Reload the state, then continue.
//
// Errors are JSON bodies from transport.WriteError: 400 for a missing or
// bad topic, timeout or limit; 401/403 from the Auth hooks; 405 for other
// methods; 503 with Retry-After when Limits.MaxConnections polls are
// already in progress, or after Shutdown or Close.
//
// # How a poll works
//
// The handler reads the broker's history after the cursor (a
// pubsub.HistoryReader). If that is empty it subscribes from the same
// cursor — which closes the race with a message published in between — and
// waits for any delivery, the timeout, the client leaving (released at
// once) or Shutdown (answered at once with an empty batch). The messages in
// the answer always come from history, so order and completeness do not
// depend on how the poll was woken. A held poll costs one goroutine (the
// request's own) and one subscription for all its filters
// (pubsub.SubscribeAll).
//
// # Brokers without history
//
// Without a HistoryReader the handler degrades to live-only polls:
// messages published between two polls are missed. Every response then
// carries "history":false and the cursor is "", and a poll that sends a
// cursor gets "gap":true, so clients can tell. Several filters share one
// subscription: with a pubsub.MultiSubscriber broker a message matching two
// of them still comes once.
//
// # Lifecycle
//
// [Handler.Shutdown] is graceful: every held poll gets the long-poll
// go-away signal (it is answered at once with an empty batch, the
// client's cursor, so nothing is lost, and "goaway":true, so a client can
// tell the server went away from a poll that timed out), new polls are refused with 503 and
// Retry-After, and Shutdown waits until every poll in progress has been
// answered; when its context ends first it cuts the rest. [Handler.Close]
// is abrupt: every poll in progress is cut at once and answered 503 with
// Retry-After (the client polls again with the cursor it has), and Close
// waits for them. [Handler.Active] counts the polls in progress. Stop a
// server with one call:
//
//	err := transport.Shutdown(ctx, httpServer, pollHandler)
package longpoll
