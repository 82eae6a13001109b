// Package transport holds what every Switchboard transport shares: the
// authentication and authorization hooks ([Auth]), the JSON wire envelope
// ([Envelope], [DecodeEnvelope]), limits ([Limits]), the
// mapping from errors to HTTP statuses and stable error codes ([Code],
// [HTTPStatus], [WriteError]), and the plain HTTP/REST handler
// ([NewRESTHandler]) that publishes a request body and reads history.
//
// Transports (sse, longpoll, ws, grpcx, graphqlsub, mqttx) call the same
// hooks, so an application writes its access rules once, and follow one
// lifecycle ([Shutdowner]); [Shutdown] stops an http.Server and the
// handlers mounted on it in the right order.
//
// # Observing
//
// Every transport reports to an [Observer] set on its options (the field
// is Observer everywhere): sessions opened and closed, subscriptions
// started and ended with their [EndReason], publishes with their latency,
// deliveries with their bytes. Package transport/metrics turns them into
// Prometheus metrics and transport/tracing into OpenTelemetry spans; both
// live in their own packages, so a program that uses neither does not
// link their dependencies.
//
// # Access rules
//
// [Auth.Authenticate] runs once per connection (or request) and
// [Auth.Authorize] once per operation, with an [Action] and a topic: every
// publish and request names its topic, every subscribe and history read
// its filter. A client that subscribes as a member of a consumer group it
// named (WebSocket and gRPC "group", MQTT $share/<group>/<filter>) is also
// asked [ActionJoin] with the group name, so members of one tenant's group
// cannot be added by another: the subscribe needs both. Refusals wrap
// [ErrForbidden] (or [ErrUnauthenticated]) and each transport answers them
// with its own code: HTTP 403, a WebSocket "forbidden" error frame, gRPC
// PermissionDenied, MQTT reason 0x87 (SUBACK 0x80 for MQTT 3.1.1).
//
// Check filters with [pubsub.Within], never with a string prefix: it
// answers whether a filter reaches only topics under a scope ("user/+/#"
// is not within "user/alice/#"). An Authenticate hook may instead set the
// [Identity]'s [Scope], the filters the client may subscribe to and
// publish under, which [Auth.Check] enforces on every transport before
// Authorize runs; package transport/jwtauth fills it from a JWT's claims.
//
// A hook that refuses for a rate limit returns an error wrapping
// [ErrLimit] (a [*LimitError] carries the wait): every transport answers it
// as a limit, not a refusal: HTTP 429 with Retry-After, WebSocket close 4429
// at connect or a "rate_limited" error frame, gRPC ResourceExhausted, MQTT
// 0x97. Package transport/ratelimit provides per-client limits of
// connection attempts and publishes built on that.
//
// # The envelope
//
// Messages travel as one JSON object:
//
//	{"topic":"chat/room1","id":"…","cursor":"…","time":"2026-11-26T07:00:00.123Z",
//	 "header":{"event":"update"},"data":{"text":"hi"}}
//
// The payload travels in exactly one of three fields, decided by one rule
// on every transport that uses the envelope (SSE envelope mode, WebSocket
// switchboard.v1 frames, long poll, REST history):
//
//	"data":{"text":"hi"}       JSON: valid UTF-8 JSON with no surrounding
//	                           whitespace and no carriage return, verbatim
//	"text":"hello world"       any other valid UTF-8, as a JSON string
//	"data_b64":"3q2+7w=="      anything else, base64 (standard, padded)
//
// A page shows a text payload as it is (env.text) and parses nothing.
// Either way the bytes round-trip exactly across transports: decoding the
// text string gives back the published bytes. An absent payload is empty.
// Where clients send an envelope (WebSocket publish and request frames,
// [DecodeEnvelope]) any one of the three fields is accepted, and two or
// more are refused with [ErrBadRequest].
package transport
