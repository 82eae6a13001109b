// Package natsx is a [pubsub.Broker] over NATS with JetStream (with
// github.com/nats-io/nats.go and its jetstream package), so that
// Switchboard runs on many nodes: give every process a natsx.Broker on the
// same server (or cluster) and Stream, and a message published on any node
// reaches subscribers on all of them, whatever their transport, with
// cursors that resume on any node.
//
// Use [Dial] to connect a Broker; use it wherever a pubsub.Broker goes.
// Use [TopicToSubject], [SubjectToTopic] and [FilterToSubjects] to see how
// topics and filters map to NATS subjects.
//
//	b, err := natsx.Dial(ctx, "nats://127.0.0.1:4222", nil)
//
// Dial takes the NATS URL and *Options (nil means every default; 0 in a
// number or duration means its Default constant, a negative value turns
// the feature off where it can be off, and each field says which). It
// needs a server with JetStream enabled (nats-server -js), 2.9 or later.
//
// # Topics and subjects
//
// A topic is published on the subject "<SubjectPrefix>.<levels>": '/'
// becomes '.'. In filters '+' becomes '*' and '#' becomes '>'. MQTT's
// "a/#" also matches "a" itself, which NATS "a.>" does not, so such a
// filter takes two subjects, "a" and "a.>". NATS subjects cannot carry
// everything an MQTT topic level may hold, and rather than refusing such
// topics (the conformance suite and MQTT clients use empty levels, and
// version numbers such as "v1.2" are common) the mapping escapes them: in
// a level, '.', '*', '>', '%', space, control bytes and DEL become %XX
// (upper-case hex), and an empty level becomes the token "%". Other bytes,
// UTF-8 included, are kept, so the usual topics are readable subjects
// ("chat/room1" ↔ "switchboard.chat.room1"). What is refused, wrapping
// pubsub.ErrInvalidTopic or pubsub.ErrInvalidFilter: what pubsub refuses
// (empty topics, wildcards in topics, misplaced wildcards, NUL, invalid
// UTF-8) and subjects longer than 2048 bytes. NATS has no '$' rule, so
// every delivery is matched again with pubsub.Filter.Match: "#" never
// receives "$sys/…". A message a foreign NATS client publishes under the
// prefix with a token the mapping never produces (a raw '/', '+', '#', or
// a '%' that is not a canonical escape) is dropped, with a warning to
// Options.Logger.
//
// # History and cursors
//
// Every message is stored in one JetStream stream (Options.Stream, default
// "SWITCHBOARD", subjects "<prefix>.>", bounded by HistoryMaxAge and
// HistoryMaxBytes, file storage unless MemoryStorage). Publish goes to
// JetStream and returns after the server's PubAck: the publish
// acknowledgement. A message's cursor is its stream sequence,
// pubsub.Cursor{Epoch: E, Seq: seq}, where E is derived from the stream's
// name and creation time, so every node agrees and a stream created afresh
// (whose sequences restart) has a new epoch. Message.ID travels as the
// header Sb-Id and, followed by a space and the subject (an ID counts per
// topic), as Nats-Msg-Id, JetStream's de-duplication id (a message from
// another NATS client without Sb-Id takes its Nats-Msg-Id as ID): when the connection drops
// before the PubAck, Publish sends the message again once reconnected, and
// within the stream's duplicate window (2 minutes by default) the server
// stores it once and answers with the first copy's sequence.
//
// SubscribeOptions.Since joins live delivery first (live messages are
// held back, bounded by Buffer), then reads the stream's last sequence L,
// replays the stream from cursor+1 to L with a short-lived ephemeral
// consumer, then delivers the held live messages after L: no gap, no
// duplicate. A cursor from another epoch, older than the stream's first
// message, or beyond its last is a gap (Subscription.Gap) and delivery
// starts live. The head of a stream that never held a message is
// "<epoch>-0": resuming from it replays everything published since.
// History (the pubsub.HistoryReader) reads the stream the
// same way up to its last sequence; a read with nothing newer than Since
// creates no consumer. A replay whose subscriber leaves its buffer full
// for 5 s ends with *pubsub.SlowConsumerError.
//
// # Live fan-out and its cost
//
// The stream republishes every stored message, with its sequence number,
// to "<prefix>_live.<levels>" (JetStream RePublish). A node holds ONE core
// NATS subscription per distinct subject its live subscriptions use,
// reference-counted: ten thousand SSE clients on "news/#" cost two
// subscriptions ("news" and "news.>"), not ten thousand, and no JetStream
// consumer. The server sends a node only the messages its filters match.
// All of a node's subscriptions feed one queue (Options.NodeBuffer) read
// by one goroutine, so messages reach the local subscriptions in stream
// order, each once even when several of the node's filters match it, and
// are fanned out in process to bounded per-subscription buffers
// (OverflowClose ends a slow subscription with *pubsub.SlowConsumerError
// carrying its last cursor, OverflowDropOldest drops). Broker is a
// [pubsub.MultiSubscriber]: SubscribeMany delivers several filters on one
// subscription, each message once, in stream order.
//
// Core NATS keeps nothing for a node that is away: when the connection
// drops, the node's live subscriptions end with [ErrDisconnected] (never a
// silent loss); clients resume from their last cursor, on this node once
// it has reconnected or on any other (SSE does it by itself with
// Last-Event-ID). If the node's queue overflows, its live subscriptions
// end with [ErrSlowNode]. If the stream is deleted, every subscription
// ends with [ErrStreamLost] and the node creates the stream again, under
// a new epoch.
//
// # Groups and acknowledgements
//
// A subscription with SubscribeOptions.Group consumes the durable pull
// consumer "sb_group_<group>_<hash of group and filter>" shared by every
// member on every node (competing consumers, created with DeliverNew by
// the first member: a group gets what is published from then on, and its
// backlog outlives its members, until Options.GroupExpiry if set). A
// ManualAck subscription without a group consumes a private ephemeral
// consumer (MaxAckPending = Prefetch), deleted when it ends. Those are the
// only per-subscription server resources. A group or ManualAck
// subscription takes one filter and no Since (pubsub.ErrNotSupported).
// Deliveries wait for room in the subscription's buffer, so at most Buffer
// messages are pulled and not yet received, and with ManualAck at most
// Prefetch are unacknowledged. Without ManualAck a delivery is
// acknowledged once it is in the buffer.
//
// With ManualAck, Ack acknowledges. Nack with requeue asks the server to
// redeliver after Options.NackDelay (NAK with delay); Message.Attempt is
// JetStream's delivery count. Once Attempt reaches
// SubscribeOptions.MaxDeliveries, or on Nack without requeue, the message
// is published to its dead-letter topic (pubsub.DeadLetterTopicFor,
// default "$deadletter/<topic>") with the headers sb-dead-letter-reason
// and sb-original-topic, under a fresh Message.ID (the stream would drop a
// copy with the original's as a duplicate), and the original is
// terminated (TERM) after that publish is acknowledged. A delivery not acknowledged within
// Options.AckWait is redelivered; closing a subscription NAKs its
// unacknowledged deliveries so another member gets them at once. A
// consumer deleted on the server ends its subscriptions with
// [ErrConsumerLost].
//
// # Headers
//
// Message.Header travels URL-query encoded in the one NATS header
// "Sb-Header" (NATS headers are MIME-like lines and cannot carry every key
// and value byte for byte). Headers set by other NATS clients arrive as
// Header entries, except JetStream's own "Nats-…" headers.
//
// # Retained messages
//
// Publish with Message.Retain stores the message in the history stream
// like any other, and also in a second stream, "<Stream>_RETAIN" on
// "<prefix>_retain.>", which keeps the last message per subject
// (MaxMsgsPerSubject 1); Publish returns once both are stored. A retained
// publish with empty Data is delivered live and clears the topic's
// retained message (the subject is purged from the store). A new plain
// subscription without NoRetained or Since first lists the store's
// subjects under its filters (one stream info request; nothing more when
// there are none), reads the last message of each matching subject, then
// joins live delivery and delivers the retained messages (Retain true, no
// cursor) before the live ones. Group and
// ManualAck subscriptions get no retained messages. Two retained publishes
// to one topic racing each other may leave the store holding either.
//
// # Idempotent publishing
//
// A publisher-supplied Message.ID is an idempotency key, per topic. It
// travels in Nats-Msg-Id with the subject, so JetStream itself stores a
// message once per topic and ID within
// the stream's duplicate window (2 minutes unless the stream was declared
// otherwise), whichever node publishes it; a repeat is answered with the
// first copy's sequence. The node also remembers the IDs it published for
// Options.DedupWindow and answers a repeat with the original Receipt
// without a round trip. A repeat through another node gets the original's
// ID and cursor, but its Time is that node's clock at the repeat (the
// PubAck carries no time).
//
// # Connections
//
// A Broker holds one NATS connection. The client reconnects by itself
// with backoff doubling from Options.MinBackoff to Options.MaxBackoff,
// with jitter, resubscribes the node's subscriptions and resumes pull
// consumers (a delivery the server sent while the connection was being cut
// is redelivered after Options.AckWait); publishes made while it
// reconnects are buffered and their PubAck awaited (until the ctx of
// Publish ends, after 30 s when it has no deadline). PINGs go every
// Options.KeepAlive. Close waits up to Options.DrainTimeout for publishes
// in flight, ends every subscription with pubsub.ErrClosed, deletes its
// private consumers and waits for the Broker's goroutines. Streams and
// group consumers are shared and never deleted by a Broker.
package natsx
