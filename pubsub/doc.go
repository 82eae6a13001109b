// Package pubsub is the core of Switchboard: the [Message], the [Broker]
// interface every backend implements, MQTT 5 topic filters, resumable
// cursors, request/reply, and [Memory], the embedded broker that is the
// default backend and the one applications unit-test against.
//
// Use [NewMemory] for a broker inside one process. Use [ParseFilter] and
// [ValidateTopic] to check client input before it reaches a broker. Use
// [Request] and [Reply] for request/reply over any broker. Use the
// pubsubtest package to prove that a new Broker keeps this contract.
//
// # Topics and filters
//
// Topic names and filters follow MQTT 5 (OASIS MQTT v5.0 §4.7): levels are
// separated by '/', '+' matches exactly one level, '#' as the last level
// matches that level's parent and every child, empty levels are real
// levels, and topics beginning with '$' are not matched by a filter whose
// first level is a wildcard. Names are 1 to 65,535 bytes of UTF-8 with no
// NUL. Shared subscriptions are not written into filters ("$share/g/…" is
// refused); set [SubscribeOptions.Group] instead.
//
// # Delivery contract
//
// A [Subscription] delivers on a bounded channel. Publish never waits for a
// subscriber: when a subscriber's buffer is full, the default policy
// [OverflowClose] ends that subscription with a [*SlowConsumerError] that
// carries the cursor of the last message it received, so the transport can
// tell its client where to resume. [OverflowDropOldest] is the opt-in lossy
// policy for tickers. Messages from one publisher reach each subscriber in
// the order they were published.
//
// # Cursors and history
//
// A broker with [Capabilities.History] gives every message a cursor (an
// epoch and a sequence number, see [Cursor]). Subscribing with
// [SubscribeOptions.Since] replays every matching message after that
// cursor, then continues live, with no gap and no duplicate. When history
// no longer reaches back to the cursor, or the cursor comes from another
// epoch (the broker restarted), [Subscription.Gap] reports true and
// delivery starts live from now: the client should reload its state. A gap
// is never silent.
//
// # Memory's bounds
//
// Whatever its clients publish or subscribe, a [Memory] with the zero
// [MemoryOptions] keeps at most:
//
//   - history: 10,000 messages ([DefaultHistorySize]), one hour
//     ([DefaultHistoryAge]) and 64 MiB ([DefaultHistoryBytes]); the oldest
//     messages go first, and a cursor they covered resumes with a gap;
//   - retained messages: 10,000 topics ([DefaultMaxRetained]) and 64 MiB
//     ([DefaultMaxRetainedBytes]). Retained messages are state and are
//     never evicted: a retained publish beyond a bound fails with
//     [ErrLimit], while replacing a topic's message (with one no larger,
//     once the bytes are full) and clearing it always succeed;
//   - groups: 1,000 ([DefaultMaxGroups]); joining a new group beyond that
//     fails with [ErrLimit]. A group's backlog is capped at 10,000 messages
//     ([DefaultBacklog]), and a group without a member for 10 minutes
//     ([DefaultGroupIdle]) is forgotten with its backlog.
//
// A message's size is the bytes of its Data, Topic, Header keys and
// values, and the ID its publisher set. Each bound has a field in
// MemoryOptions; a negative value turns it off.
//
// # Idempotent publishing
//
// A publisher-supplied [Message.ID] is an idempotency key, per topic (the
// same ID on another topic is another message). A Publish whose ID the
// broker accepted on its topic within its dedup window (DedupWindow in each
// broker's options, [DefaultDedupWindow] 2 minutes, at most
// [DefaultDedupSize] IDs) returns the original [Receipt] and delivers
// nothing again, so a publisher may retry a Publish whose answer it lost.
// Network brokers that may receive a message twice (a publish repeated
// after a reconnect, or repeated through another node) drop the copies of
// an ID already delivered within the window before their fan-out:
// subscribers see each message once. [Dedup] is the table they share. The
// transports pass the key through: the REST header Idempotency-Key, the
// WebSocket frame field "key", the gRPC PublishRequest key, the MQTT user
// property sb-id, the AMQP message-id.
//
// # Writing a broker
//
// A Broker implementation builds each subscription on a [Feed]: the bounded
// channel, the overflow policies and replay-then-live (a backlog delivered
// ahead of live messages with no gap and no duplicate), the same code
// Memory and this module's amqpx, mqttx, natsx and redisx use. Run the
// pubsubtest suite against it.
//
// # Decorating a broker
//
// To add metrics, logging, tracing or a policy around a Broker, use [Wrap]
// with a [Middleware]: each hook gets the call and the next step to run.
// The wrapper keeps the optional interfaces of the broker it wraps
// ([HistoryReader], [MultiSubscriber]), which transports find by type
// assertion: SSE and gRPC resume, long polling and REST history read, and
// a stream of several filters stays in cursor order. A struct that embeds
// the Broker and overrides Publish hides them instead, and every client
// that reconnects is told it cannot resume. [As] finds any other interface
// under a chain of wrappers (each has Unwrap() Broker).
//
// For what the transports see (connections, subscriptions and why they
// end, deliveries), set the Observer option of each handler
// (transport.Observer) instead.
//
// # Delivered messages are shared
//
// Brokers may hand the same *Message to many subscribers. Treat delivered
// messages, their Data and their Header as read-only.
package pubsub
