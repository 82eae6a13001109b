// Package redisx is a [pubsub.Broker] over Redis (6.2 or later, for XAUTOCLAIM; tested on
// 7.0), with github.com/redis/go-redis/v9, so that Switchboard runs on many
// nodes: give every process a redisx.Broker on the same Redis and key
// prefix and a message published on any node reaches subscribers on all of
// them, whatever their transport, with cursors that resume on any node.
//
// Use [Dial] to connect a Broker; use it wherever a pubsub.Broker goes.
// Use [IDToSeq] and [SeqToID] to see how stream entry ids map to cursors,
// and [GroupName] to find a group's Redis consumer group.
//
//	b, err := redisx.Dial(ctx, "redis://127.0.0.1:6379/0", nil)
//
// Dial takes a go-redis URL (redis://, rediss://, unix://, with user,
// password and database) and *Options (nil means every default; 0 in a
// number or duration means its Default constant, a negative value turns
// the feature off where it can be off, and each field says which).
//
// # Keys
//
// Every message of a namespace (Options.Prefix, default "switchboard") is
// one entry of ONE Redis stream, "<prefix>:log", with the topic as a field
// (t; also i: message ID, d: data, h: header, e: epoch, n: entry count).
// Topics are not mapped to keys at all: any valid topic is accepted, and
// filters are matched on each node with pubsub.Filter.Match (MQTT 5 rules,
// '$' included). Beside the stream: "<prefix>:epoch" (the cursor epoch,
// created once with SETNX), "<prefix>:count" (the entry counter) and
// "<prefix>:retained" (a hash: topic → retained message). Consumer groups
// live on the stream.
//
// # Cost model
//
// One stream per namespace makes cursors global (one order for all
// topics), replay a single XRANGE and Publish one round trip, at this
// price: every node reads every message, whatever its subscribers want.
// A node runs ONE reader (XREAD BLOCK on the stream, from the last entry
// it read) and fans each message out in process: exact filters by map
// lookup, each distinct wildcard filter matched once per message. Ten
// thousand SSE clients on "news/#" cost Redis nothing more than one: no
// per-subscription key, channel or connection. A resume or a History
// read scans the stream after the cursor and matches on the node, so a
// read for a rare topic reads everything after its cursor. Retained
// messages for a wildcard filter read the whole retained hash (HGETALL);
// for exact filters, HMGET of those topics. A group (or ManualAck
// subscription) is a consumer group that reads every entry of the stream
// too, acknowledging at once those its filter does not match. Memory: the
// stream holds about Options.MaxLen entries (MAXLEN ~, default 1,000,000).
//
// # Delivery
//
// Publish runs one Lua script: XADD (trimming to about MaxLen) plus, for a
// retained message, HSET or HDEL of the retained hash, atomically. It
// returns when Redis has executed it, with the entry's cursor: that is the
// publish acknowledgement. go-redis retries a command whose connection
// failed, so delivery is at least once and a message keeps its ID. Redis
// acknowledges in memory: what survives a Redis crash depends on its
// persistence (appendonly) and replication, not on this package.
//
// A plain subscription joins the node's fan-out, then reads the newest
// entry in the stream: it gets every matching message after that entry,
// so every message published after Subscribe returns. Subscriptions end
// with an explicit error, never a silent gap: [ErrTrimmed] when the stream
// was trimmed past entries the node had not read yet (cut off, or behind,
// for longer than MaxLen messages: the counter in each entry jumps), and
// [ErrReset] when Redis lost the namespace (a restart without persistence,
// FLUSHDB: the epoch changed). go-redis reconnects by itself; the reader
// resumes from its last entry, so an outage loses nothing while the
// stream still holds what was published meanwhile.
//
// Broker is a [pubsub.MultiSubscriber]: a subscription on several filters
// gets each message once, in stream order.
//
// # Cursors
//
// A cursor is pubsub.Cursor{Epoch: the namespace's epoch, Seq: the stream
// entry id "<ms>-<seq>" as ms<<22 | seq}: 42 bits of milliseconds (until
// the year 2109) and 22 bits of sequence within one millisecond. The same
// entry has the same cursor on every node. SubscribeOptions.Since joins
// the fan-out first (live messages wait, bounded by Buffer), then one
// MULTI reads the newest entry (the head), the entry at the cursor and a
// first page after it; the replay reads pages up to the head (XRANGE),
// then the waiting live messages after the head follow: no gap, no
// duplicate. A cursor whose entry is gone (trimmed), from another epoch,
// or beyond the head is a gap (Subscription.Gap) and delivery starts live.
// The head of an empty stream is "<epoch>-0", a cursor before the
// namespace's first entry: resuming from it replays everything published
// since, and is a gap only once the oldest entries were trimmed.
// A replay that finds entries trimmed under it ends with ErrTrimmed; one
// whose subscriber leaves its buffer full for 5 s ends with a
// *pubsub.SlowConsumerError. History (the pubsub.HistoryReader) reads
// the same way.
//
// # Groups and acknowledgements
//
// A subscription with SubscribeOptions.Group reads the stream consumer
// group "g:<group>:<filter>" ([GroupName]), created at the stream's end
// by the first subscription (so messages published before it are not kept
// for the group) and shared by every member on every node; each member is
// one consumer (XREADGROUP, COUNT up to its free room, BLOCK the shorter
// of KeepAlive and ClaimIdle/2 on a connection of its own while it
// waits). A ManualAck subscription
// without a group gets a private consumer group, destroyed when it ends.
// Ack is XACK. Nack with requeue claims the entry again (XCLAIM, which
// counts the delivery) and delivers it to the same member with Attempt + 1;
// once Attempt reaches MaxDeliveries, or on Nack without requeue, the
// message is published to its dead-letter topic (with
// sb-dead-letter-reason and sb-original-topic) and then acknowledged.
// Every ClaimIdle/2 a member claims deliveries left unacknowledged for
// Options.ClaimIdle (XAUTOCLAIM: their consumer crashed or hangs), and
// dead-letters those delivered more than MaxDeliveries times. When a
// member ends, its unacknowledged deliveries are marked idle, so another
// member claims them at its next XAUTOCLAIM. A group without ManualAck
// acknowledges each message as it is put in the member's buffer (at most
// once from there). A group whose consumer group vanished ends with
// [ErrGroupLost]; one that finds the stream trimmed past its last
// delivered entry ends with ErrTrimmed. Group state stays in Redis after
// its last member leaves (XGROUP DESTROY removes it). Since cannot be
// combined with Group or ManualAck.
//
// # Retained messages
//
// A message published with Retain sets "<prefix>:retained"[topic] (empty
// Data deletes it), in the same script as its XADD. A new subscription
// without Since or NoRetained receives the matching retained messages
// first (flagged Retain, without cursor, in publish order), read in one
// MULTI with the stream's head, then the live messages after that head.
//
// # Redis Pub/Sub channels and other Redis clients
//
// A Broker uses Redis streams only: it never runs PUBLISH, SUBSCRIBE or
// PSUBSCRIBE, and Redis keeps Pub/Sub channels apart from keys, so channel
// "user-updates" and stream "<prefix>:log" never meet. Precisely:
//
//   - A Redis Pub/Sub publisher (the guide's "Message Broker
//     Implementation" publisher: publisher.publish('user-updates', json))
//     reaches only Redis channel subscribers. Switchboard subscribers on
//     topic "user-updates" (SSE, WebSocket, MQTT, … on a redisx Broker)
//     receive nothing, and nothing is kept for History or resumes.
//   - A Redis Pub/Sub subscriber (the guide's subscriber.subscribe(
//     'user-updates')) receives nothing a Switchboard client publishes on
//     topic "user-updates" through a redisx Broker; PUBLISH's reply (the
//     number of receivers) does not count Switchboard clients either.
//   - The two snippets keep working with each other on the same Redis: a
//     Broker does not touch channels, whatever their names.
//   - What does interoperate is the stream. Any Redis client can read it
//     (XREAD BLOCK … STREAMS <prefix>:log $, or XRANGE): each entry holds
//     the topic in field t and the payload bytes in field d, as published
//     (JSON stays JSON; h is a binary header encoding, i the message ID, e
//     the epoch, n the entry count). Any Redis client can also write to
//     it: XADD <prefix>:log * t user-updates d '{"userId":42}' reaches
//     every Switchboard subscriber of "user-updates" with a cursor and the
//     entry's time, but without a message ID (no field i: envelopes carry
//     no "id", and idempotency does not apply), and an entry without n is
//     left out of the check that detects trimming. An entry whose t is not
//     a valid topic is skipped, with a warning to Options.Logger. Consumer
//     groups of other clients on the stream are theirs (a Broker's group
//     names start with "g:").
//
// Connecting channel-based applications therefore takes a bridge in the
// application (a SUBSCRIBE loop that calls Publish, and a subscription
// that calls PUBLISH); this package does not provide one.
//
// # Idempotent publishing
//
// A publisher-supplied Message.ID is an idempotency key: a Publish
// repeating an ID accepted on the same topic within Options.DedupWindow
// (2 minutes) returns the original Receipt and adds nothing to the stream.
// A repeat through another node that had not seen the ID is added again;
// every node drops the copy of an ID it delivered within the window before
// its fan-out, and replays and History reads skip it. Dead letters are not
// taken for copies (two groups may each dead-letter one message with its
// ID).
//
// # Connections
//
// A Broker holds go-redis pools: one for commands (publishes, reads,
// acknowledgements; the node reader's checked reads) and one for blocking
// reads (the node reader's XREAD BLOCK, one per waiting group member, at
// most 1,024), without command retries. Blocking reads wake at least every
// Options.KeepAlive. Close drains publishes in flight, ends every
// subscription, closes the pools and waits for the Broker's goroutines.
// go-redis reports its own connection trouble through its package logger
// (redis.SetLogger), not Options.Logger.
//
// Logging: the Broker logs only through Options.Logger. go-redis itself may
// print a line through its own global logger when Close cuts a blocking
// read ("Unexpected conn … state changed by hook to CLOSED"); the library
// leaves that global alone, so an application that wants it quiet calls
// redis.SetLogger.
package redisx
