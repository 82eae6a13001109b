// Package grpcx serves Switchboard over gRPC, gRPC-Web and the Connect
// protocol, with Protocol Buffers (binary or JSON), on connectrpc.com/connect.
// One handler answers grpc-go and grpcurl, browsers speaking gRPC-Web with no
// proxy, and curl posting JSON.
//
// Use [NewHandler] to get the service's path and [Handler], and mount it on
// your mux; use [Handler.Register] to mount it together with gRPC server
// reflection and health (so grpcurl works without the .proto file); use
// [Handler.Shutdown] with http.Server.Shutdown to end streams with a
// resume cursor (see Lifecycle); set [Options].CORS for browser pages on
// other origins. The service definition is
// proto/switchboard/pubsub/v1/pubsub.proto; the generated Go types are in
// grpcx/pubsubv1 and the Connect client and handler interfaces in
// grpcx/pubsubv1/pubsubv1connect.
//
//	path, h := grpcx.NewHandler(broker, &grpcx.Options{Auth: auth})
//	mux.Handle(path, h)          // or h.Register(mux) for reflection and health
//	p := new(http.Protocols)
//	p.SetHTTP1(true)
//	p.SetUnencryptedHTTP2(true)  // h2c: gRPC clients connect with prior knowledge
//	srv := &http.Server{Addr: ":8080", Handler: mux, Protocols: p}
//
// gRPC needs HTTP/2: TLS with h2, or clear-text HTTP/2 through
// http.Protocols.SetUnencryptedHTTP2 as above (no golang.org/x/net/http2/h2c
// needed since Go 1.24). Session, the bidirectional stream, needs HTTP/2 for
// every protocol; the other calls also work over HTTP/1.1 with Connect and
// gRPC-Web. A Go client of the Connect protocol reaches h2c with an
// http.Transport whose Protocols has only UnencryptedHTTP2 set.
//
// # The service
//
// switchboard.pubsub.v1.PubSubService has five methods:
//
//   - Publish (unary): topic, data, header, retain → id, cursor, time. An
//     optional key (the idempotency key, at most 200 bytes; or id, the
//     same) becomes the message id: a Publish repeating it within the
//     broker's dedup window gets the original receipt and delivers
//     nothing, so a client retries a failed call with the same key.
//   - Subscribe (server stream): filters, since, group → Opened, then
//     messages. Opened comes first and says the subscription is active; it
//     carries a Gap when messages may have been missed, and the head cursor
//     when the stream starts live. The filters share one broker
//     subscription (pubsub.SubscribeAll). With a broker that implements
//     pubsub.MultiSubscriber (pubsub.Memory does) a message matching
//     several filters arrives once, messages arrive in cursor order across
//     the filters, and a resume replays the union of the filters in order,
//     then goes live. Other brokers keep the order of each filter only, and
//     overlapping filters may repeat a message.
//   - PublishStream (client stream): many PublishRequests → a summary (ids,
//     success and failure counts, the first 100 failures with their codes,
//     the last cursor). One refused message does not end the call.
//   - Session (bidirectional): commands in (subscribe, unsubscribe,
//     publish, ack), each with a client-chosen id answered by a
//     SessionResult with that id; deliveries carry the subscription id (the
//     id of its subscribe command). The result of a subscribe comes before
//     any of its deliveries. With manual_ack each delivery must be settled
//     with an ack command naming the subscription and the message id; at
//     most prefetch deliveries are unsettled. A subscription the server ends
//     (slow consumer, broker closed) gets a SessionEnded with its last
//     cursor; the session goes on. When the client closes its side, the
//     session ends after the results of every command it sent.
//   - Request (unary): publishes data to topic with a fresh reply topic
//     (pubsub.Request) and returns the first reply, published by any
//     transport with pubsub.Reply. No reply within Options.RequestTimeout
//     (30 s) or the client's deadline is DeadlineExceeded.
//
// Data is bytes, the header a map of strings, ids and cursors opaque
// strings, time a google.protobuf.Timestamp. The bytes published on any
// transport arrive unchanged here, and the other way round.
//
// # Resuming and gaps
//
// Every message carries its cursor. A client that reconnects passes the
// cursor of the last message it processed as since (or, if none arrived,
// Opened.head) and receives every message published after it, in order,
// once. When it cannot — history no longer reaches back, the cursor comes
// from another broker epoch, is malformed, or the broker keeps no history —
// Opened.gap says so (GapReason HISTORY, INVALID_CURSOR, NO_HISTORY) and
// delivery starts live: the client should reload its state. A malformed
// since is deliberately a gap rather than INVALID_ARGUMENT, as in the SSE
// transport, so a client holding a cursor of an earlier deployment recovers
// on its own.
//
// # Errors
//
// Calls fail with the standard codes: INVALID_ARGUMENT for a bad topic,
// filter or empty request; UNAUTHENTICATED and PERMISSION_DENIED from
// Options.Auth; RESOURCE_EXHAUSTED for a message over
// Limits.MaxMessageBytes, a request over ReadLimit (4 MiB), too many
// filters or subscriptions, or a batch over MaxBatch; UNAVAILABLE when the
// handler shuts down, the broker is closed or MaxConnections streams are
// open; UNIMPLEMENTED for an option the broker lacks (such as manual_ack, or
// since together with group on the memory broker);
// DEADLINE_EXCEEDED for a Request without reply. A Subscribe stream the
// server ends (slow consumer: RESOURCE_EXHAUSTED; shutdown or broker close:
// UNAVAILABLE) names the cursor to resume after in its message and in the
// trailer (error metadata) sb-resume-cursor ([ResumeCursorKey]).
//
// # Keepalive, compression and flushing
//
// Idle streams are kept alive by HTTP/2 pings: set
// http.Server.HTTP2.SendPingTimeout (the hub uses 30 s) so dead peers are
// dropped. Responses are gzip-compressed, when the client accepts it, only
// from Options.CompressMinBytes (4 KiB): compressing every small message of
// every stream separately cost four times the CPU of delivering it. A
// Subscribe stream with a backlog hands up to 64 messages to HTTP/2 before
// flushing, instead of flushing each.
//
// # Lifecycle
//
// The streams (Subscribe, PublishStream and Session calls) are the
// handler's sessions: [Handler.Active] counts them and
// Limits.MaxConnections caps them. Unary calls (Publish, Request) are not
// counted.
//
// [Handler.Shutdown] is graceful: new calls fail with UNAVAILABLE, the
// health service reports NOT_SERVING, Subscribe streams end with
// UNAVAILABLE and the cursor to resume from (sb-resume-cursor), Session
// streams and Request waits end with UNAVAILABLE, and a PublishStream call
// finishes its batch. Shutdown waits for the streams; when its context
// ends first it cuts the rest as Close does. [Handler.Close] is abrupt:
// every stream is cut now (HTTP/2 resets it; no resume cursor is
// promised) and Close waits for the handler's goroutines, without needing
// the http.Server to close first. Stop a server with
// transport.Shutdown(ctx, httpServer, grpcHandler): http.Server.Shutdown
// alone would wait for the streams until ctx ends.
//
// # Authentication
//
// Options.Auth's Authenticate hook runs once per call with
// transport.Credentials built from the request headers (gRPC metadata):
// "authorization: Bearer <token>" or Basic credentials, and Transport
// "grpc". Authorize runs for every publish, subscribe and request, and
// for the group a Subscribe call or a Session subscribe command names
// (transport.ActionJoin with the group name, after ActionSubscribe with each
// filter): a refusal is PermissionDenied (a Session command's result has
// code "permission_denied").
//
// # Generated code
//
// The generated files are committed. `go generate ./grpcx/...` runs
// proto/generate.sh, which calls protoc with pinned plugins
// (protoc-gen-go v1.36.12, protoc-gen-connect-go v1.21.1, and
// protoc-gen-go-grpc v1.6.2 for the test-only grpc-go stubs in
// internal/grpcgo), installing them with go install when the ones on PATH
// differ. CI regenerates into a temporary directory and fails on a diff.
package grpcx
