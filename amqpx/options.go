package amqpx

import (
	"cmp"
	"crypto/sha256"
	"log/slog"
	"maps"
	"time"

	"github.com/switchboard-go/switchboard/internal/opt"
	"github.com/switchboard-go/switchboard/pubsub"
)

// The defaults of Options, applied to every zero field.
const (
	// DefaultExchange is the default Options.Exchange.
	DefaultExchange = "switchboard"
	// DefaultQueuePrefix is the default Options.QueuePrefix.
	DefaultQueuePrefix = "switchboard"
	// DefaultConnectionName is the default Options.ConnectionName.
	DefaultConnectionName = "switchboard"
	// DefaultNodeQueueExpiry is the default Options.NodeQueueExpiry.
	DefaultNodeQueueExpiry = 60 * time.Second
	// DefaultNodePrefetch is the default Options.NodePrefetch.
	DefaultNodePrefetch = 1024
	// DefaultMaxMessageBytes is the default Options.MaxMessageBytes (16 MiB).
	DefaultMaxMessageBytes = 16 << 20
	// DefaultMinBackoff is the default Options.MinBackoff.
	DefaultMinBackoff = 100 * time.Millisecond
	// DefaultMaxBackoff is the default Options.MaxBackoff.
	DefaultMaxBackoff = 10 * time.Second
	// DefaultKeepAlive is the default Options.KeepAlive (AMQP heartbeat).
	DefaultKeepAlive = 10 * time.Second
	// DefaultDrainTimeout is the default Options.DrainTimeout.
	DefaultDrainTimeout = 5 * time.Second
	// DefaultPublishWait is the default Options.PublishWait.
	DefaultPublishWait = 5 * time.Second
	// DefaultHistoryMaxAge is the default Options.HistoryMaxAge.
	DefaultHistoryMaxAge = 24 * time.Hour
	// DefaultHistoryMaxBytes is the default Options.HistoryMaxBytes (1 GiB).
	DefaultHistoryMaxBytes = 1 << 30
	// DefaultDedupWindow is the default Options.DedupWindow (2 minutes).
	DefaultDedupWindow = pubsub.DefaultDedupWindow
	// DefaultDedupSize is the default Options.DedupSize (100,000 IDs).
	DefaultDedupSize = pubsub.DefaultDedupSize
)

// defaultURL is what Dial connects to when its url is "".
const defaultURL = "amqp://guest:guest@127.0.0.1:5672/"

// maxPriority is the largest x-max-priority RabbitMQ accepts.
const maxPriority = 255

// Options configures Dial. A nil *Options, and every zero field, means the
// default; numbers and durations follow one rule: 0 means the default, a
// negative value turns the feature off where it can be off, and means the
// default where it cannot (each field says which). Dial copies the
// Options: changing them afterwards has no effect.
type Options struct {
	// Exchange is the topic exchange every message is published to; ""
	// means DefaultExchange ("switchboard"). It is declared durable (see
	// TransientExchange); an existing topic exchange of that name that
	// differs only in durability is used as it is (see "Existing
	// topologies" in the package doc).
	Exchange string

	// TransientExchange declares Exchange non-durable (RabbitMQ deletes it
	// when it restarts), as applications do that declare it with amqplib's
	// assertExchange(name, 'topic', {durable: false}): then they and the
	// Broker agree whichever of them declares it first. Off by default.
	TransientExchange bool

	// QueuePrefix starts the name of every queue the broker declares; ""
	// means DefaultQueuePrefix ("switchboard"). Node queues are
	// "<prefix>.node.<id>", private ManualAck queues "<prefix>.sub.<id>",
	// group queues "<prefix>.group.<group>.<hash of the filter>".
	QueuePrefix string

	// ConnectionName is sent as the AMQP connection_name client property
	// (shown by rabbitmqctl and the management UI); "" means
	// DefaultConnectionName ("switchboard"). The two connections are named
	// "<name> publish" and "<name> consume".
	ConnectionName string

	// NodeQueueExpiry is how long RabbitMQ keeps this node's queue (and the
	// messages routed to it) while the node is disconnected, so a reconnect
	// loses nothing; 0 (or negative: it cannot be off) means
	// DefaultNodeQueueExpiry (60 s). If the queue is gone when the node
	// reconnects, its live subscriptions end with ErrQueueLost.
	NodeQueueExpiry time.Duration

	// GroupQueueExpiry deletes a group's durable queue after it had no
	// consumer for this long; 0 (or negative) keeps group queues until they
	// are deleted by hand, like any durable queue.
	GroupQueueExpiry time.Duration

	// GroupQueues lets groups consume existing queues of the application
	// (declared and bound by other AMQP clients) instead of their own
	// "<prefix>.group.…" queues: a subscription whose
	// SubscribeOptions.Group is a key here consumes the queue its value
	// names, e.g. {"fulfilment": "order_processing"}, together with the
	// application's other consumers of it. The queue is declared only
	// when it does not exist yet (durable, without arguments, as
	// amqplib's assertQueue(name, {durable: true}) does), its filter is
	// bound on Exchange next to the application's own bindings, and every
	// message in the queue is delivered, whichever binding routed it
	// there, with its routing key as topic. The Broker never deletes or
	// unbinds it; GroupQueueExpiry and MaxPriority do not apply to it.
	GroupQueues map[string]string

	// MaxPriority declares group and ManualAck queues with x-max-priority,
	// so HeaderPriority orders their messages; 0 (or negative) means no
	// priority queues (RabbitMQ then ignores priorities). At most 255.
	// Changing it for an existing group queue makes RabbitMQ refuse the
	// declaration.
	MaxPriority int

	// NodePrefetch caps the unacknowledged deliveries of the node queue;
	// 0 (or negative: it cannot be off) means DefaultNodePrefetch (1024).
	NodePrefetch int

	// MaxMessageBytes caps Data plus header bytes on Publish; 0 means
	// DefaultMaxMessageBytes (16 MiB), negative means no cap of our own
	// (RabbitMQ's limit, 128 MiB by default, still applies).
	MaxMessageBytes int

	// MinBackoff and MaxBackoff bound the reconnect delay, which doubles
	// with jitter from MinBackoff to MaxBackoff between connection
	// attempts; 0 (or negative: they cannot be off) means
	// DefaultMinBackoff (100 ms) and DefaultMaxBackoff (10 s). MinBackoff
	// is also the pause before a consumer retries after a channel error.
	MinBackoff, MaxBackoff time.Duration

	// KeepAlive is the AMQP heartbeat interval proposed to the server (the
	// connection uses the smaller of it and the server's); 0 (or negative:
	// AMQP clients cannot turn it off) means DefaultKeepAlive (10 s).
	KeepAlive time.Duration

	// DrainTimeout bounds how long Close waits for publishes in flight to be
	// confirmed; 0 means DefaultDrainTimeout (5 s), negative does not wait.
	DrainTimeout time.Duration
	// PublishWait bounds how long Publish waits for a connection while
	// RabbitMQ is unreachable before it fails with an error wrapping
	// pubsub.ErrUnavailable (HTTP 503 through the transports), so a client
	// learns of the outage instead of hanging; 0 means DefaultPublishWait
	// (5 s), negative waits as long as the caller's context allows.
	PublishWait time.Duration

	// History keeps every message in a RabbitMQ stream queue (x-queue-type
	// stream) shared by all nodes, so messages carry cursors,
	// SubscribeOptions.Since resumes and Broker implements
	// pubsub.HistoryReader. The node then consumes the stream instead of a
	// node queue. Off by default.
	History bool

	// HistoryStream names the stream; "" means "<Exchange>.history".
	HistoryStream string

	// HistoryMaxAge and HistoryMaxBytes bound the stream (x-max-age,
	// x-max-length-bytes); 0 (or negative: the stream is always bounded)
	// means DefaultHistoryMaxAge (24 h) and DefaultHistoryMaxBytes (1 GiB).
	// RabbitMQ refuses to redeclare an existing stream with other bounds.
	HistoryMaxAge   time.Duration
	HistoryMaxBytes int64

	// HistoryEpoch is the cursor epoch (1 to 32 of [0-9a-z]); "" derives
	// one from the stream name, so every node agrees. Change it when the
	// stream is deleted and declared afresh: its offsets restart, and old
	// cursors must then be reported as gaps.
	HistoryEpoch string

	// DedupWindow is how long a message ID is remembered (see "Idempotent
	// publishing" in the package doc): a Publish repeating a
	// publisher-supplied ID accepted within the window returns the original
	// Receipt and sends nothing, and the node drops a delivery whose ID it
	// delivered within the window. 0 means DefaultDedupWindow (2 minutes),
	// negative turns both off. With History, Dial first reads the window's
	// worth of the stream, so a node that starts (or restarts) knows the
	// IDs stored meanwhile: a repeated publish or a second stored copy is
	// recognised on every node.
	DedupWindow time.Duration
	// DedupSize caps the IDs remembered; 0 (or negative: it cannot be
	// unbounded) means DefaultDedupSize (100,000); beyond it the oldest are
	// forgotten early.
	DedupSize int

	// Logger receives connection events at Info and dropped deliveries at
	// Warn; nil means silent.
	Logger *slog.Logger
}

// withDefaults returns a copy of o (nil allowed) with every default
// applied.
func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	c.Exchange = cmp.Or(c.Exchange, DefaultExchange)
	c.QueuePrefix = cmp.Or(c.QueuePrefix, DefaultQueuePrefix)
	c.ConnectionName = cmp.Or(c.ConnectionName, DefaultConnectionName)
	c.NodeQueueExpiry = opt.OrMin(c.NodeQueueExpiry, DefaultNodeQueueExpiry)
	c.MaxPriority = min(max(c.MaxPriority, 0), maxPriority)
	c.NodePrefetch = opt.OrMin(c.NodePrefetch, DefaultNodePrefetch)
	c.MaxMessageBytes = opt.Or(c.MaxMessageBytes, DefaultMaxMessageBytes)
	c.MinBackoff = opt.OrMin(c.MinBackoff, DefaultMinBackoff)
	c.MaxBackoff = max(opt.OrMin(c.MaxBackoff, DefaultMaxBackoff), c.MinBackoff)
	c.KeepAlive = opt.OrMin(c.KeepAlive, DefaultKeepAlive)
	c.DrainTimeout = opt.Or(c.DrainTimeout, DefaultDrainTimeout)
	c.PublishWait = opt.Or(c.PublishWait, DefaultPublishWait)
	c.HistoryStream = cmp.Or(c.HistoryStream, c.Exchange+".history")
	c.HistoryMaxAge = opt.OrMin(c.HistoryMaxAge, DefaultHistoryMaxAge)
	c.HistoryMaxBytes = opt.OrMin(c.HistoryMaxBytes, DefaultHistoryMaxBytes)
	if _, err := pubsub.ParseCursor(c.HistoryEpoch + "-0"); c.HistoryEpoch == "" || err != nil {
		c.HistoryEpoch = streamEpoch(c.HistoryStream)
	}
	if c.GroupQueues != nil {
		c.GroupQueues = maps.Clone(c.GroupQueues)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// streamEpoch derives a cursor epoch from the stream's name, so every node
// on the stream agrees on it.
func streamEpoch(stream string) string {
	sum := sha256.Sum256([]byte(stream))
	const alphabet = "0123456789abcdefghijklmnopqrstuv"
	e := make([]byte, 12)
	for i := range e {
		e[i] = alphabet[sum[i]&31]
	}
	return string(e)
}
