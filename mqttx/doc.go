// Package mqttx connects Switchboard to MQTT, in both directions.
//
// Use [Dial] to get a [Broker]: a pubsub.Broker over an external MQTT 5
// server (Mosquitto, EMQX, HiveMQ, …), so several processes share one
// message bus and every transport (SSE, WebSocket, gRPC, …) keeps working
// unchanged. Use [NewServer] to get a [Server]: MQTT 3.1.1 and 5 devices
// connect straight into any pubsub.Broker, over TCP ([Server.Serve]) or
// WebSocket ([Server.ServeHTTP], subprotocol "mqtt"). See the examples.
//
// # Messages on the MQTT wire
//
// A pubsub.Message maps to an MQTT 5 PUBLISH as follows:
//
//	Topic, Data, Retain          topic name, payload (byte-identical), retain flag
//	ID                           user property "sb-id"
//	Time                         user property "sb-time" (RFC 3339, nanoseconds)
//	Header["sb-reply-to"]        response topic
//	Header["sb-correlation-id"]  correlation data
//	Header["content-type"]       content type
//	Header["mqtt-message-expiry"] message expiry interval (seconds; also a user property)
//	Header["mqtt-qos"]           the QoS of the publish (also a user property)
//	every other Header entry     a user property (sorted by key)
//
// MQTT 3.1.1 has no properties: 3.1.1 clients of a Server get topic,
// payload and retain flag only.
//
// # Broker
//
//	b, err := mqttx.Dial(ctx, "mqtt://127.0.0.1:1883", &mqttx.Options{ClientID: "node-1"})
//
// Dial takes the server URL and *Options (nil means every default; 0 in a
// number or duration means its Default constant, a negative value turns the
// feature off where it can be off). A Broker keeps one MQTT connection with
// a persistent session (Options.SessionExpiry, Options.KeepAlive) and
// reconnects with backoff doubling from Options.MinBackoff to
// Options.MaxBackoff, with jitter. Local subscriptions to the same filter
// share one MQTT subscription; each SUBSCRIBE carries a fresh subscription
// identifier, so a message is routed to the right local subscriptions
// without matching topics twice: retained messages only to the new
// subscriber, live messages only to subscriptions that existed when the
// server routed them. A message whose identifier the Broker no longer
// remembers (servers without identifiers, or one more than 64
// re-subscriptions old) is routed by topic filter. Groups become shared
// subscriptions "$share/<group>/<filter>". QoS comes from
// Options.PublishQoS / SubscribeQoS, or per message from the "mqtt-qos"
// header (HeaderQoS).
//
// Decisions: MQTT keeps no history and has no negative acknowledgement, so
// Capabilities reports History and Acks false (SubscribeOptions.Since and
// ManualAck fail with pubsub.ErrNotSupported), and Gap is always false.
// When a reconnect finds that the server dropped the session (it expired,
// or the server lost it), the QoS 1/2 messages queued for it are gone:
// every subscription then ends with [ErrSessionLost] rather than continue
// with a silent hole. Delivery buffers are bounded; on overflow
// pubsub.OverflowClose ends the subscription with a *pubsub.SlowConsumerError
// (LastCursor is empty: there are no cursors) and OverflowDropOldest drops.
// A message is acknowledged to the MQTT server (PUBACK) once it sits in
// every target buffer. Publish while disconnected fails at once with
// [ErrDisconnected] unless Options.WaitForConnection, and so does a publish
// the connection fails under; ErrDisconnected matches
// transport.ErrUnavailable, so the transports answer 503 "unavailable"
// (gRPC Unavailable). Close ends the session on the server.
//
// Effectively once: a publisher-supplied Message.ID (the user property
// "sb-id") is an idempotency key. A Publish repeating an ID accepted on the
// same topic within Options.DedupWindow (2 minutes) returns the original
// Receipt and sends nothing, and a publisher whose Publish failed (a PUBACK
// that never came, though the message may have gone through) retries with
// the same ID. The server may then deliver the message twice, as it
// redelivers unacknowledged QoS 1 messages after a reconnect: the Broker
// drops a non-retained message whose ID already reached the same MQTT
// subscription within the window, so subscribers see each message once.
//
// # Server
//
// The Server uses mochi-mqtt for the protocol only: every PUBLISH goes to
// the pubsub.Broker (the PUBACK or PUBREC is sent once the broker accepted
// it), and every SUBSCRIBE becomes a broker subscription whose messages are
// written to the client with QoS min(message QoS, granted QoS), through
// mochi's in-flight store so the QoS 1/2 handshakes are mochi's. Retained
// messages and shared subscriptions are the broker's. Wills are published
// into the broker when a client disconnects without DISCONNECT (not when
// the server shuts down). A device's user property "sb-id" becomes the
// message ID, the broker's idempotency key: a device repeating a PUBLISH
// whose PUBACK it missed with the same "sb-id" is acknowledged, and the
// message is delivered once (a key that transport.CheckKey refuses gets
// reason 0x83; a session holding a No Local subscription gets fresh IDs).
//
// Reason codes: CONNACK 0x86 for a refused login (transport.ErrUnauthenticated)
// and 0x87 for transport.ErrForbidden (3.1.1: 0x04 and 0x05); SUBACK 0x87
// for a filter Auth refuses (ActionSubscribe) or a shared subscription whose
// group it refuses (ActionJoin with the group name; 3.1.1: SUBACK 0x80 for
// either), 0x8F for an invalid filter, 0x97 beyond Limits.MaxSubscriptions,
// 0x9E for "$share" on a broker without groups;
// PUBACK/PUBREC 0x87 for a refused topic, 0x90 for an invalid topic name
// (wildcards), 0x95 beyond Limits.MaxMessageBytes (MQTT 3.1.1 clients, which
// have no reason codes in PUBACK, are disconnected instead); a QoS 0
// PUBLISH, which has no PUBACK, with an invalid topic name or beyond
// Limits.MaxMessageBytes gets DISCONNECT 0x90 or 0x95 (3.1.1: the
// connection closes), and one to $SYS is dropped; DISCONNECT 0x97
// for a client too slow to keep up (its broker subscription overflowed or
// it left deliveries unacknowledged for WriteTimeout) and 0x8B on shutdown.
// Malformed packets close the connection (mochi's decoder).
//
// [Server.Shutdown] is graceful: the listeners close, WebSocket upgrades
// get 503, every client gets DISCONNECT 0x8B (server shutting down; MQTT
// 3.1.1 clients see the connection close) and no will is published;
// Shutdown waits until the connections are gone and, when its context
// ends first, closes the rest. [Server.Close] is abrupt: every connection
// is closed at once, without DISCONNECT or wills, and Close waits for the
// server's goroutines. [Server.Active] counts the open connections.
//
// Each client's packets are handled on that client's own goroutine (mochi
// runs hooks synchronously), so a broker that is slow to accept a PUBLISH or
// a SUBSCRIBE (mqttx.Broker waits for the MQTT server's acknowledgement)
// slows only that client, which is the backpressure MQTT expects.
//
// Decisions: sessions end with the connection. The CONNACK tells MQTT 5
// clients the session expiry is 0 and reconnecting clients always see
// Session Present 0, so they know to subscribe again; messages published
// while they were away are not queued. Delivery to one client never blocks
// publishers or other clients: each subscription has a bounded buffer
// (ServerOptions.Buffer) and each client a bounded number of
// unacknowledged deliveries (MaxInflight); bursts are written with one
// system call. mochi's $SYS topics are not exposed, and clients cannot
// publish to $SYS. Retain As Published is not supported: the retain flag is
// set only on retained messages sent to a new subscription, as in MQTT
// 3.1.1.
package mqttx
