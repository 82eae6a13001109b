// Package ws is Switchboard's WebSocket transport: a server [Handler] that
// speaks the JSON protocol switchboard.v1 over any pubsub.Broker, and a Go
// [Client] that reconnects and resumes on its own.
//
// Use [NewHandler] to serve WebSocket clients (browsers, npm's ws, the Go
// client) on your mux, and [Handler.Shutdown] to send them away when the
// server stops. Use [Dial] to connect from Go: [Client.Subscribe],
// [Client.Publish], [Client.Request] and [Client.Reply] work across
// reconnects.
//
// [Options] and [ClientOptions] follow one rule: nil and the zero value mean
// the defaults, 0 in a number or duration means its Default constant
// ([DefaultKeepAlive], [DefaultRequestTimeout], [DefaultMinBackoff], …), a
// negative value turns the feature or limit off, and a buffer size treats a
// negative value as the default. The handler's fields are Auth, Limits,
// OriginPatterns, ReadLimit, KeepAlive (ping interval), WriteTimeout,
// MaxProtocolErrors, MaxPendingRequests, RequestTimeout, MaxRequestTimeout,
// Buffer and Logger; the client's are Header, HTTPClient, MinBackoff,
// MaxBackoff, WriteTimeout, ReadLimit, Buffer, IdleTimeout and Logger.
//
// # Wire protocol switchboard.v1
//
// The client offers the subprotocol "switchboard.v1" (a client that offers no
// subprotocol at all is served the same protocol, and may use the guide
// form below; one that offers only others is closed with 1002). Every frame is a JSON object in a text frame with a
// "type". Fields beyond those listed are ignored, so both sides can grow.
//
// Client → server:
//
//	{"type":"subscribe","id":"s1","filter":"chat/#","since":"<cursor>","group":"g"}
//	    → {"type":"subscribed","id":"s1","cursor":"<head>"}, then {"type":"gap","sub":"s1"} when
//	      history does not reach back to since, then message frames; or an error frame with id "s1"
//	{"type":"unsubscribe","id":"s1"}            → {"type":"unsubscribed","id":"s1"}
//	{"type":"publish","id":"p1","topic":"chat/room1","data":{"text":"hi"},"header":{"k":"v"},"retain":false}
//	    → {"type":"ack","id":"p1","message_id":"…","cursor":"…","time":"…"}
//	{"type":"request","id":"r1","topic":"svc/echo","data":…,"timeout_ms":5000}
//	    → {"type":"reply","id":"r1","topic":"$reply/…","header":{…},"data":…}
//	{"type":"ping","id":"x"}                    → {"type":"pong","id":"x"} (id optional)
//
// A publish or request frame may carry "key", the publisher's idempotency
// key (1 to 200 bytes of UTF-8, transport.CheckKey): it becomes the
// message ID, and a frame repeating a key the broker accepted within its
// dedup window is acknowledged with the original message_id, cursor and
// time and not delivered again, so a client that lost the connection
// before the ack publishes again with the same key, safely. A request
// frame repeating a key is not delivered again either, so it gets no
// reply (a timeout error): the first one's reply went to its own
// connection (pubsub.Request).
//
// Server → client:
//
//	{"type":"message","sub":"s1","topic":"chat/room1","id":"…","cursor":"…",
//	 "time":"2026-11-26T07:00:00.123456789Z","header":{…},"data":{"text":"hi"}}
//	{"type":"gap","sub":"s1"}
//	{"type":"error","id":"p1","code":"forbidden","message":"…"}
//
// The payload travels in exactly one field, by the transport envelope's
// rule: "data" verbatim when it is valid JSON without surrounding
// whitespace, "text" as a JSON string when it is other valid UTF-8 (a
// text/plain "hello world" arrives as "text":"hello world"), else base64 in
// "data_b64". Publishers may use any one of the three (two or more is
// bad_request); bytes round-trip byte-identically with every other
// transport, which follows the same rule. Message frames carry the transport envelope's fields
// plus "type" and "sub". The subscribed frame's "cursor" is the broker's
// newest cursor when the subscription started (brokers with history only): a
// client that received nothing yet resumes from it.
//
// Error codes are transport's stable codes: bad_request, unauthorized,
// forbidden, not_found, too_large, rate_limited (subscription or pending
// request limit), not_supported (an option the broker lacks, e.g. group),
// timeout (no reply to a request in time), unavailable, internal. An error
// whose id is a subscription's id ends that subscription. Malformed frames
// get an error frame (with the frame's id when it could be read) and count
// towards Options.MaxProtocolErrors.
//
// # The guide form
//
// The handler also speaks the simpler frames of the usual hand-written
// WebSocket pub/sub server (as in the guide's "WebSocket-Based Pub/Sub"),
// so such a browser client works unchanged:
//
//	{"type":"subscribe","topics":["user-events","alerts/#"]}
//	    → {"type":"subscribed","topics":["user-events","alerts/#"],"cursor":"<head>"}
//	{"type":"unsubscribe","topics":["user-events"]}
//	    → {"type":"unsubscribed","topics":["user-events"]}
//	{"type":"publish","topic":"user-events","data":{"userId":42,"action":"login"}}
//	    → nothing (an error frame if refused)
//
// and delivers {"type":"message","topic":"user-events","data":{…},"id":"…",
// "cursor":"…","time":"…"} (header and retain when set) on the guide
// subscriptions. Compatibility rules:
//
//   - Frames are told apart by their fields, not by subprotocol: a
//     subscribe or unsubscribe with "topics" (and no id, filter or group:
//     bad_request otherwise), and a publish without an id, are the guide
//     form; everything else is switchboard.v1. A client offering no
//     subprotocol (as a browser's new WebSocket(url) does) or
//     "switchboard.v1" may use both forms on one connection; a message
//     frame has the form of the subscription it belongs to.
//   - Each topic of a guide subscribe is a filter (wildcards allowed) and
//     its own subscription; subscribing again to a topic the connection
//     has is a no-op, unsubscribing from one it has not is ignored, and a
//     subscribe with a refused topic subscribes to none of them. The
//     answers echo the frame's topics.
//   - Payloads are what such a client expects in data: a JSON payload as
//     that JSON value, any other UTF-8 text as a JSON string (so text/plain
//     "hello world" is "data":"hello world"), the empty payload as "";
//     bytes that are not UTF-8 come as "data_b64" instead. In a guide
//     publish, a JSON string in data is text (the string's characters are
//     the payload: other transports see hello world, not "hello world");
//     any other JSON value is published verbatim; text and data_b64 are
//     accepted as in switchboard.v1. The guide form is therefore not
//     byte-exact for text that happens to be JSON (a text payload 42 is
//     delivered as the number 42): use switchboard.v1 for exact payloads.
//   - Guide frames carry no id: a guide publish gets no ack, and errors
//     about a guide frame carry "topic" (the topic refused, when one is)
//     instead of "id". A guide publish may carry "key", the idempotency
//     key, as a switchboard.v1 publish does.
//   - Plain text is not a frame: a text frame that is not a JSON object
//     (the guide's "WebSocket API in Browsers" client sends 'Hello
//     Server!' on open) is answered with one well-formed error frame,
//     {"type":"error","code":"bad_request","message":"a frame is a JSON
//     object with a \"type\", …; this text frame is not JSON"}, and the
//     connection stays open. It is not published anywhere (the handler
//     cannot know a topic for it) and it counts towards
//     Options.MaxProtocolErrors, so a client that keeps sending such text
//     is closed with 1008 after that many.
//   - Resume and gaps, when the client asks: a guide subscribe with
//     "since":"<cursor>" replays each topic's messages after that cursor
//     (for topics the connection did not have yet), then goes live; a topic
//     that cannot resume gets {"type":"gap","topics":["<topic>"]} before its
//     messages, under the rules of switchboard.v1's since below. A client
//     keeps the "cursor" of the last message (or of the subscribed frame)
//     and sends it as since when it reconnects.
//
// # Resuming
//
// A subscribe with "since" replays every matching message after that cursor,
// then continues live: no gap, no duplicate. When history no longer reaches
// back (or the cursor is from another epoch, i.e. the broker restarted), the
// server sends a gap frame and delivers live. A since the broker cannot read
// at all (malformed, or any since on a broker without history) is treated the
// same way, as a gap, rather than refused: the client reloads its state
// either way. Since cannot be combined with group on the memory broker
// (not_supported).
//
// # Request and reply
//
// A request frame runs pubsub.Request on the server: the message is
// published with the headers sb-reply-to ("$reply/…") and sb-correlation-id,
// and the first message on the reply topic with that correlation id comes
// back as the reply frame. Any subscriber on any transport can answer. A
// WebSocket client answers a message carrying sb-reply-to by publishing to
// that topic with the header sb-correlation-id copied from the request
// ([Client.Reply] does this); its publish is authorized like any other
// (ActionPublish on "$reply/…").
//
// # JavaScript client
//
// [ClientScript] serves switchboard.mjs, this protocol's client for
// browsers and Node as one ES module without dependencies (and
// [ClientTypes] its TypeScript declarations). It does what the Go [Client]
// does: reconnects with backoff and jitter, resubscribes from the last
// cursor it delivered (a retained message does not move it), reports gaps,
// sends a keyed publish again after a reconnect (the key is the
// idempotency key), and answers requests (Client.reply and Client.serve).
// Subscriptions are async iterators or take callbacks; an iterator whose
// consumer falls behind pauses its server-side subscription and resumes it
// from its cursor when drained. Payloads are decoded for the caller: a
// JSON value, a string, or a Uint8Array.
//
//	import { connect } from "/switchboard.mjs";
//	const sb = connect("/ws", { token });
//	for await (const ev of sb.subscribe("chat/#")) {
//	  if (ev.type === "gap") reload(); else show(ev.topic, ev.data);
//	}
//
// # Close codes
//
//	1000  normal closure
//	1001  server shutting down (Handler.Shutdown): reconnect elsewhere and resume
//	1006  (no close frame) cut by Handler.Close, or when Shutdown's ctx ended
//	1002  the client offered only unsupported subprotocols
//	1008  too many malformed frames, or no pong to a ping
//	1009  a client frame over Options.ReadLimit (default 64 KiB)
//	1011  write timeout or internal error
//	4401  authentication failed; 4403 authentication refused (Auth.Authenticate)
//	4429  slow consumer: a subscription's buffer overflowed; every message up
//	      to the last one written was delivered, so resubscribe with since =
//	      the last cursor received and nothing is lost. Also a connection
//	      refused by a rate limit of Auth.Authenticate (reason
//	      "rate_limited", transport.LimitError): wait before reconnecting
//
// A refused Origin gets HTTP 403 and a full handler (Limits.MaxConnections)
// HTTP 503, before any upgrade. Authorization refusals of single operations
// are error frames, not closes: Auth.Authorize is asked ActionSubscribe with
// the filter of every subscribe, ActionJoin with the group of a subscribe
// that names one (both must allow), ActionPublish with the topic of every
// publish and ActionRequest with the topic of every request.
//
// # Lifecycle
//
// The handler's connections are hijacked, so http.Server.Shutdown does not
// wait for them; the handler stops them itself:
//
//   - [Handler.Shutdown](ctx) is graceful: new upgrades get HTTP 503 with
//     Retry-After; every open connection writes what its writer already
//     holds and closes with 1001, the go-away signal on which a client
//     reconnects elsewhere and resumes from its last cursor (the Go
//     [Client] does); Shutdown waits until they have gone. When ctx ends
//     first it cuts the rest, waits for them, and returns ctx's error.
//   - [Handler.Close] is abrupt: every connection is cut now, without a
//     close frame, and Close waits for the handler's goroutines.
//   - [Handler.Active] is the number of open connections.
//
// Both are idempotent and safe to call concurrently. A program stops its
// server and handlers with one call, transport.Shutdown(ctx, httpServer,
// wsHandler, …).
//
// # Design
//
// An idle connection owns one goroutine, its reader, started by ServeHTTP
// (which returns right away, so net/http's request and serving stack are
// freed), with the smallest stack. The connection is taken over from
// net/http with the upgrade: on TCP the reader waits for data without a
// buffer (consuming keep-alive pongs itself), then reads and executes each
// client message on a short-lived goroutine it waits for (coder/websocket's
// read, decoding and subscribing need a deep stack, which an idle
// connection then does not keep), into pooled buffers; net/http's 4 KiB
// buffers are not kept. Writing happens in bursts: a message put on one of the
// connection's subscriptions (pubsub.Notifier), a reply, a keep-alive tick
// or the end of the connection starts a goroutine that writes everything
// ready, many frames per system call (a connection that wrote less than
// Options.Coalesce, 16 ms, ago waits until then, so a busy connection's
// messages share writes), and exits when nothing is left. It
// takes messages straight from the broker subscriptions' channels (the
// broker's bounded buffer is the outgoing queue, so memory stays bounded
// and a slow client never slows another) and control frames from a small
// queue. A message fanned out to many connections is encoded once per
// Handler (a small cache keyed by the shared *pubsub.Message), and copied
// into a pooled output buffer: no allocation per delivered message. A
// subscription that cannot announce its deliveries (one wrapped by a
// broker middleware) gets a goroutine of its own that waits on its
// channel. A request waiting for its reply runs in a short-lived goroutine
// (at most Options.MaxPendingRequests per connection). WebSocket pings
// every Options.KeepAlive (25 s) detect dead peers (no pong within
// Options.WriteTimeout); a write that outlives WriteTimeout drops stuck
// ones.
//
// The Go client has one goroutine that reads and delivers; Publish, Request
// and Subscribe write from the caller's goroutine. Each connection starts
// with a {"type":"ping"} round trip, so a refusal after the upgrade (4401,
// 4403) is reported by Dial, and a connection on which nothing arrives for
// ClientOptions.IdleTimeout (not even the server's pings) is replaced. It backs off
// exponentially with jitter between attempts and stops for good only on
// refusals that retrying cannot fix (4401, 4403, 1002, 1003, 1008, or an HTTP
// 4xx handshake), reported by [Client.Err].
package ws
