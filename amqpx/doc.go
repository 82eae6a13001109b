// Package amqpx is a [pubsub.Broker] over RabbitMQ (AMQP 0-9-1, with
// github.com/rabbitmq/amqp091-go), so that Switchboard runs on many nodes:
// give every process an amqpx.Broker on the same exchange and a message
// published on any node reaches subscribers on all of them, whatever their
// transport.
//
// Use [Dial] to connect a Broker; use it wherever a pubsub.Broker goes.
// Use [TopicToKey], [KeyToTopic] and [FilterToKey] to see how topics and
// filters map to AMQP routing and binding keys.
//
//	b, err := amqpx.Dial(ctx, "amqp://guest:guest@127.0.0.1:5672/", &amqpx.Options{History: true})
//
// Dial takes the AMQP URL and *Options (nil means every default; 0 in a
// number or duration means its Default constant, a negative value turns
// the feature off where it can be off, and each field says which).
//
// # Topology
//
// Every message is published to one durable topic exchange
// (Options.Exchange, default "switchboard") with the topic as routing key:
// '/' becomes '.', and in filters '+' becomes '*' while '#' stays '#' (both
// match a parent level, as in MQTT). A level containing '.' or '*' cannot
// be carried faithfully and is refused with an error wrapping
// pubsub.ErrInvalidTopic or pubsub.ErrInvalidFilter, as are keys longer
// than 255 bytes. AMQP has no '$' rule, so every delivery is matched again
// with pubsub.Filter.Match: "#" never receives "$sys/…".
//
// Scale by design: a node declares ONE consumer queue,
// "<prefix>.node.<id>", shared by all its plain subscriptions. The queue
// carries one binding per distinct filter, reference-counted: ten thousand
// SSE clients on "news/#" cost one binding, not ten thousand queues. The
// node acknowledges deliveries in batches and fans them out in process to
// bounded per-subscription buffers (OverflowClose ends a slow subscription
// with *pubsub.SlowConsumerError, OverflowDropOldest drops). The node queue
// is not exclusive: it outlives a dropped connection by
// Options.NodeQueueExpiry, so a reconnect resumes it with every message
// routed meanwhile. When it is gone all the same (RabbitMQ restarted, or a
// longer outage), the node's live subscriptions end with [ErrQueueLost]: a
// gap is never silent.
//
// Broker is a [pubsub.MultiSubscriber]: SubscribeMany (what
// pubsub.SubscribeAll calls, and what Subscribe is with one filter) puts
// several filters on one subscription, which holds one binding reference
// per filter. The node queue receives a message once however many of its
// bindings match, and the fan-out offers it once to a subscription found
// under several of its filters: each message arrives once, in queue order
// (with Options.History, cursor order) across all the filters.
//
// A subscription with SubscribeOptions.Group consumes the durable queue
// "<prefix>.group.<group>.<hash>" shared by every member of the group on
// every node (competing consumers, prefetch = SubscribeOptions.Prefetch).
// A ManualAck subscription without a group consumes a private queue of its
// own, bound to each of its filters. Those are the only per-subscription
// queues. A group takes exactly one filter: SubscribeMany refuses a group
// on several with pubsub.ErrNotSupported.
//
// # Existing topologies
//
// A Broker shares an exchange with AMQP clients that know nothing of
// Switchboard. Point Options.Exchange at the application's topic exchange
// (e.g. "orders"): a routing key "order.created" written by any producer
// arrives as topic "order/created", and a Broker's "order/created" is
// routed as "order.created" to the application's queues. A Broker's
// message always carries an AMQP headers table (with the sb-topic header
// when it has no other), so consumers that read
// msg.properties.headers[...] unguarded work. A message from another
// producer, without message-id or timestamp, gets an ID and the time it
// was received; with Options.History also a cursor, and an ID made from it
// ("amqp-" and the cursor) that every node and every replay agree on.
//
// The exchange: a Broker declares Options.Exchange as a durable topic
// exchange (non-durable with Options.TransientExchange). Applications
// often declare theirs non-durable (amqplib's assertExchange(name,
// 'topic', {durable: false})), and RabbitMQ refuses a declaration that
// differs from the existing exchange (406 PRECONDITION_FAILED, which also
// closes the channel). So when the declaration is refused, the Broker
// declares the exchange once more with the other durability: RabbitMQ
// accepts that only for a topic exchange that differs in nothing else, and
// the Broker then uses the exchange as it is, never deleting or
// re-creating it. An exchange of another type, auto-delete, internal or
// with arguments is still refused (Dial fails with "failed to declare
// exchange" and RabbitMQ's reason); a Broker does not declare passively
// (RabbitMQ's passive declare does not check the type). The other order
// needs the option: when the Broker declares first, the application's
// {durable: false} declaration fails unless the Broker has
// TransientExchange set. A non-durable exchange, and its bindings, are
// gone after RabbitMQ restarts; the Broker declares it again when it
// reconnects.
//
// Options.GroupQueues lets a group consume an application-named durable
// queue, e.g. {"fulfilment": "order_processing"} for a queue bound
// "order.*" on exchange "orders": members of the group then compete for
// its messages with the application's own consumers. The Broker declares
// the queue only when it is missing (durable, no arguments), adds the
// group's filter as one more binding, leaves the application's bindings
// alone, delivers everything the queue holds (whichever binding routed
// it) and never deletes the queue.
//
// # Delivery
//
// Publish uses persistent delivery mode and waits for the publisher
// confirm. If the connection drops first, it publishes again after the
// reconnect, so RabbitMQ may route a message twice; a message keeps its ID
// (Message.ID ↔ AMQP message-id) and the receiving node drops a copy of an
// ID it delivered within Options.DedupWindow (2 minutes) before its
// fan-out: plain subscribers see each message once. With History the
// stream keeps both copies under two offsets; a replay and a History read
// skip the copy of a message the node delivered within the window.
// Subscribe returns once the binding exists.
//
// A subscription without Since receives what its node delivers after it
// joined, and a node delivers in the order it consumes: when its link to
// RabbitMQ lags (after a fault, the node queue or the stream holds a
// backlog the node has not read yet), a fresh subscription there receives
// that backlog as live messages, some published before it subscribed.
// A client without a cursor that moves to such a node may therefore see
// messages it already received on another node (the dedup window is per
// node); resume with a cursor (History) to avoid it.
//
// # Idempotent publishing
//
// A publisher-supplied Message.ID is an idempotency key: a Publish
// repeating an ID accepted on the same topic within Options.DedupWindow
// returns the original Receipt and sends nothing (a Publish racing one in
// flight with the same ID waits for it). A publisher whose Publish failed
// (a timeout, an outage) may retry with the same ID, on this node or
// another: a node that has not seen the ID publishes it again, and every
// node drops the copy as above. Group and ManualAck queues are not
// deduplicated (their consumers ack each delivery), and neither are dead
// letters (two groups may each dead-letter one message with its ID).
//
// With ManualAck, Ack acknowledges. Nack with requeue publishes the message
// again to the back of its queue with an attempt counter (the AMQP header
// "sb-attempt"; Message.Attempt counts it, plus one for a RabbitMQ
// redelivery), so a poison message cannot spin at the head of the queue.
// Once Attempt reaches SubscribeOptions.MaxDeliveries, or on Nack without
// requeue, the message is published to its dead-letter topic
// (pubsub.DeadLetterTopicFor, default "$deadletter/<topic>") with the
// headers sb-dead-letter-reason and sb-original-topic, and the original is
// acknowledged after that publish is confirmed. Closing a subscription, or
// losing the connection, returns unacknowledged messages to the queue.
//
// # Headers
//
// Message.Time travels as the AMQP timestamp property, in whole seconds;
// the Receipt's Time is that second too, so the Receipt a repeated ID is
// answered with on any node equals the original.
//
// Message.Header travels as AMQP string headers, except: sb-reply-to
// travels as the reply-to property (as a routing key), sb-correlation-id as
// correlation-id, and [HeaderPriority], [HeaderExpiration] and
// [HeaderContentType] as the priority, expiration (per-message TTL in
// milliseconds) and content-type properties; all are set again on
// delivery. Header values that AMQP clients send as other types are
// converted to strings by the rules of [HeaderValue], never rejected. A
// delivery whose routing key maps to no valid topic (empty, or containing
// '/', '*', '+' or '#') is acknowledged and dropped, with a warning to
// Options.Logger.
//
// # History
//
// With Options.History, every message is also kept in a RabbitMQ stream
// queue ("<exchange>.history", x-queue-type stream, bound to "#", bounded by
// Options.HistoryMaxAge and HistoryMaxBytes) shared by all nodes, so SSE
// Last-Event-ID and long-poll cursors work behind a load balancer without
// sticky sessions. A cursor is the message's stream offset,
// pubsub.Cursor{Epoch: Options.HistoryEpoch, Seq: offset}: the same on every
// node. The node then consumes the stream (from the offset where it
// stopped, after a reconnect) instead of a node queue; still one consumer
// per node, but it receives every message and filters locally.
//
// Publish returns the cursor once the node has read the message back from
// the stream. SubscribeOptions.Since joins the fan-out first (live messages
// wait, bounded by Buffer), then reads the node's head (the newest offset
// it has read), replays the stream from the cursor up to the head, then
// delivers the waiting live messages after it: no gap, no duplicate. With
// several filters, one replay covers their union in stream order. A
// cursor beyond the node's head (another node's, a little ahead) is settled
// by publishing a marker to "$sb/sync" and waiting for it. A cursor from
// another epoch, from beyond the marker, or older than the stream's
// retention is a gap (Subscription.Gap), and delivery starts live. History
// (the pubsub.HistoryReader) reads the stream the same way up to the head;
// a read with nothing newer than Since touches no stream. At most 32
// stream readers (resumes and History reads) run at once per Broker; a
// replay whose subscriber leaves its buffer full for 5 s ends with a
// *pubsub.SlowConsumerError. Since cannot be combined with Group or
// ManualAck. Streams are never deleted by a Broker: they are shared.
//
// Without Options.History, Capabilities reports History false, messages
// carry no cursor, Since is refused with pubsub.ErrNotSupported and History
// fails with it.
//
// # Not supported
//
// Retained messages: Capabilities reports Retain false and Message.Retain
// is ignored.
//
// # Connections
//
// A Broker holds two connections, one to publish and one to consume (a
// consumer that falls behind must not stall publishing), named
// "<ConnectionName> publish" and "<ConnectionName> consume" in rabbitmqctl.
// Each reconnects by itself with backoff doubling from Options.MinBackoff
// to Options.MaxBackoff, with jitter, and sends AMQP heartbeats every
// Options.KeepAlive; the node queue, its bindings, group and private queues
// and their consumers are declared again on the new connection. Close
// drains publishes in flight, ends every subscription, deletes the node
// queue and waits for the Broker's goroutines.
package amqpx
