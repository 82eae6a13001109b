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
// # The envelope
//
// Messages travel as one JSON object:
//
//	{"topic":"chat/room1","id":"…","cursor":"…","time":"2026-11-26T07:00:00.123Z",
//	 "header":{"event":"update"},"data":{"text":"hi"}}
//
// data holds the payload verbatim when it is valid UTF-8 JSON with no
// surrounding whitespace and no carriage return; otherwise the payload is
// base64 (standard, padded) in data_b64. Either way the bytes round-trip
// exactly across transports. An absent payload is empty.
package transport
