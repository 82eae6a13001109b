// Package sse streams broker messages to browsers and other clients as
// Server-Sent Events (WHATWG HTML §9.2, text/event-stream), resuming after
// a reconnect without losing or repeating a message.
//
// Use [NewHandler] to serve streams from any pubsub.Broker on your mux, and
// [Handler.Shutdown] (or transport.Shutdown, with the http.Server) to end
// them gracefully. Use [Client] to read a stream from Go with the
// browser's reconnect rules.
// Publish over plain HTTP with the transport package's REST handler
// (POST /topics/{topic}).
//
// # Request
//
//	GET /events?topic=FILTER[&topic=FILTER…][&lastEventId=CURSOR][&format=data|envelope]
//	Last-Event-ID: CURSOR            (sent by browsers on reconnect)
//
// Filters follow MQTT 5 ('+' one level, '#' the rest; escape '#' as %23).
// Last-Event-ID wins over lastEventId, which lets a page resume its first
// connection from a cursor it stored. Credentials: "Authorization: Bearer"
// or the access_token query parameter (EventSource cannot set headers).
//
// # Stream
//
// The response is 200 with Content-Type text/event-stream, Cache-Control
// no-store and X-Accel-Buffering no (so nginx does not buffer), flushed
// after every batch:
//
//	retry: 3000                          (once; Options.Retry)
//
//	event: sb-open                       (fresh stream: the broker's head)
//	id: 4kq2m0c1a7bd-41
//	data: {"cursor":"4kq2m0c1a7bd-41"}
//
//	event: update                        (Options.EventName; default the "event" header)
//	id: 4kq2m0c1a7bd-42                  (the message cursor)
//	data: first line of the payload
//	data: second line
//
//	: ping                               (every 15 s; Options.KeepAlive)
//
// With [FormatData] (the default) the data lines carry the payload, split
// at CR, LF and CRLF; browsers join them with LF, so CR and CRLF arrive as
// LF, and bytes that are not UTF-8 are replaced. With [FormatEnvelope] one
// data line carries the transport JSON envelope (topic, id, cursor, time,
// header, and the payload as data for JSON, text for other UTF-8, data_b64
// for binary), byte-exact for any payload.
//
// format chooses, for this stream, what the data lines carry when it
// differs from Options.Format (any other value is 400).
//
// # Topic and cursor in payload mode
//
// In the default payload mode the data is the payload alone, which is what
// the usual page expects (JSON.parse(event.data) on a JSON payload; a
// text/plain "hello world" arrives as the string hello world). A browser
// still learns where each event comes from:
//
//   - the cursor is the event's id, event.lastEventId in the page (and the
//     browser's Last-Event-ID when it reconnects);
//   - the event type is the message's "event" header (Options.EventName),
//     so addEventListener("update", …) works as with any SSE server;
//     messages without one fire onmessage;
//   - the topic: a stream on one topic name (no wildcard) needs nothing
//     more; a page that subscribes to a wildcard or several filters and
//     needs each message's topic opens its stream with format=envelope
//     and reads env.topic, env.cursor and the payload from env.data (JSON),
//     env.text (other text) or env.data_b64 (binary), or the server sets
//     Options.EventName to name events after their topics.
//
// # Resuming, and the reset event
//
// Every event's id is its message cursor, so a browser's Last-Event-ID is
// always the last event it received and a reconnect replays exactly what
// followed it, then continues live. A fresh stream first sends sb-open with
// the broker's head as its id, so even a client that drops before its
// first message resumes from where it started. Retained messages (a
// topic's last state, sent first to a fresh stream) carry no id.
//
// When the stream cannot resume, it says so before anything else and then
// continues live:
//
//	event: sb-reset
//	id: 4kq2m0c1a7bd-97
//	data: {"reason":"gap","cursor":"4kq2m0c1a7bd-97"}
//
// reason is "gap" (history no longer reaches back to the cursor, or the
// cursor is from an earlier broker epoch), "invalid-cursor" (not a cursor
// of this broker, or longer than 256 bytes) or "no-history" (the broker
// keeps none). The client should reload its state, for instance from the
// REST history, and listen on:
//
//	es.addEventListener("sb-reset", () => reloadEverything());
//
// Named events (sb-open, sb-reset, and names from Options.EventName) do not
// fire onmessage; listen for them with addEventListener.
//
// # Several filters
//
// One stream may carry several filters (at most Limits.MaxSubscriptions,
// default 100), on one broker subscription (pubsub.SubscribeAll). With a
// broker that implements pubsub.MultiSubscriber (pubsub.Memory does) a
// message matching two filters is sent once, events arrive in cursor order
// across the filters, and a resume replays the union of the filters in
// order, then goes live, with no gap and no duplicate. Other brokers keep
// the order of each filter only, and overlapping filters may repeat a
// message.
//
// # Status codes, and what EventSource does with them
//
// A browser's EventSource reconnects only after a 200 text/event-stream
// response ends or the network fails. Any other status (including 204),
// or another Content-Type, closes it for good (readyState CLOSED); the page
// must create a new EventSource to try again. The handler therefore uses
// non-200 statuses only where retrying cannot help or where the page must
// act:
//
//	400  no topic, a bad filter, too many filters (fix the request)
//	401  Authenticate refused (get a token, then reconnect)
//	403  Authenticate or Authorize refused (ErrForbidden)
//	429  a rate limit of an Auth hook (transport.LimitError), with Retry-After
//	405  not GET or HEAD
//	503  over Limits.MaxConnections (default 10,000), with Retry-After: 5
//
// Pages should handle onerror with readyState CLOSED by reconnecting with
// backoff. After Shutdown or Close (or once the broker is closed) the
// handler answers 200 with only retry:, so browsers come back on their own
// (to another instance behind a balancer). The Go [Client] reconnects
// after 408, 429 and 5xx as well, backing off from Client.Retry to
// Client.MaxBackoff.
//
// # Slow clients
//
// Each stream's subscription has a bounded buffer (Options.Buffer); a
// write blocked longer than Options.WriteTimeout (10 s) ends the stream.
// When a client falls behind and its buffer overflows, the stream sends
// what was already delivered and ends; the browser reconnects with the
// Last-Event-ID of the last event it received and loses nothing while
// history reaches back. The same holds for a taken-over stream (below):
// its writes have the same deadline, its buffer the same bound.
//
// # Idle streams
//
// Most streams are idle most of the time, so an idle stream should cost
// little. Once an HTTP/1.x stream's response has started (status, headers,
// the first events), the Handler takes its connection over from net/http
// (http.Hijacker) and ServeHTTP returns: net/http's goroutines and
// buffers for the connection are gone, and while nothing happens the
// stream owns no goroutine at all. The subscription announces deliveries
// (pubsub.Notifier), a timer the keep-alive, a shared poller (one
// goroutine for the process, epoll on Linux) the client's hang-up, and
// Shutdown and Close reach the stream directly; each starts one goroutine
// that writes what is waiting and exits. The response stays an ordinary
// chunked HTTP/1.1 body (close-delimited for HTTP/1.0) and ends with its
// last chunk when the server ends it. About 8 to 10 KiB of memory per
// idle stream remain (the subscription's buffer is a quarter of it); see
// the README's Performance section for measurements.
//
// Options.Coalesce (1 ms) lets a busy stream's messages share writes: a
// burst waits up to that long before it is written, so messages published
// meanwhile go out in one system call.
//
// What stays on net/http's goroutine, as before: HTTP/2 streams (h2c or
// TLS), a ResponseWriter that cannot be hijacked, a response a middleware
// encodes (Content-Encoding set), a broker whose subscriptions cannot
// announce deliveries (a Broker wrapper that replaces them), and every
// stream when Options.KeepOnServer is set. Set it when a middleware must
// see every byte the stream writes: after the takeover the stream writes
// to the connection itself, as a WebSocket does after its upgrade, and
// http.Server.Shutdown no longer sees the connection (Handler.Shutdown
// does, which transport.Shutdown calls first).
//
// # Lifecycle
//
// [Handler.Shutdown] is graceful: every stream gets the SSE go-away
// signal (the events already delivered to it are written, then the stream
// ends and the browser reconnects with Last-Event-ID), new streams are
// answered 200 with only retry:, and Shutdown waits for the streams to
// return; when its context ends first it cuts the rest. [Handler.Close]
// is abrupt: every stream is cut at once, even one blocked writing to a
// client that stopped reading, and Close waits for them.
// [Handler.Active] counts the open streams. Stop a server with one call:
//
//	err := transport.Shutdown(ctx, httpServer, sseHandler)
//
// # Cross-origin streams
//
// Set Options.CORS to let pages on other origins connect, including
// new EventSource(url, {withCredentials: true}) with AllowCredentials.
//
// Browsers allow about six HTTP/1.1 connections per origin, shared by all
// tabs: prefer one stream with several filters, or HTTP/2.
package sse
