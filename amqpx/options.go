package amqpx

import (
	"crypto/sha256"
	"log/slog"
	"time"

	"github.com/switchboard-go/switchboard/pubsub"
)

// Options configures Dial. A nil *Options, and every zero field, means the
// default.
type Options struct {
	// URL is the AMQP URL; "" means amqp://guest:guest@127.0.0.1:5672/.
	URL string

	// Exchange is the topic exchange every message is published to; ""
	// means "switchboard". It is declared durable.
	Exchange string

	// QueuePrefix starts the name of every queue the broker declares; ""
	// means "switchboard". Node queues are "<prefix>.node.<id>", private
	// ManualAck queues "<prefix>.sub.<id>", group queues
	// "<prefix>.group.<group>.<hash of the filter>".
	QueuePrefix string

	// ConnectionName is sent as the AMQP connection_name client property
	// (shown by rabbitmqctl and the management UI); "" means "switchboard".
	// The two connections are named "<name> publish" and "<name> consume".
	ConnectionName string

	// NodeQueueExpiry is how long RabbitMQ keeps this node's queue (and the
	// messages routed to it) while the node is disconnected, so a reconnect
	// loses nothing; 0 means 60 s. If the queue is gone when the node
	// reconnects, its live subscriptions end with ErrQueueLost.
	NodeQueueExpiry time.Duration

	// GroupQueueExpiry deletes a group's durable queue after it had no
	// consumer for this long; 0 (or negative) keeps group queues until they
	// are deleted by hand, like any durable queue.
	GroupQueueExpiry time.Duration

	// MaxPriority declares group and ManualAck queues with x-max-priority,
	// so HeaderPriority orders their messages; 0 means no priority queues
	// (RabbitMQ then ignores priorities). At most 255. Changing it for an
	// existing group queue makes RabbitMQ refuse the declaration.
	MaxPriority int

	// NodePrefetch caps the unacknowledged deliveries of the node queue;
	// 0 means 1024.
	NodePrefetch int

	// MaxMessageBytes caps Data plus header bytes on Publish; 0 means
	// 16 MiB (RabbitMQ's own limit is 128 MiB by default).
	MaxMessageBytes int

	// ReconnectMin and ReconnectMax bound the exponential backoff between
	// connection attempts; 0 means 100 ms and 10 s.
	ReconnectMin, ReconnectMax time.Duration

	// Heartbeat is the AMQP heartbeat interval; 0 means 10 s.
	Heartbeat time.Duration

	// DrainTimeout bounds how long Close waits for publishes in flight to be
	// confirmed; 0 means 5 s.
	DrainTimeout time.Duration

	// History keeps every message in a RabbitMQ stream queue (x-queue-type
	// stream) shared by all nodes, so messages carry cursors,
	// SubscribeOptions.Since resumes and Broker implements
	// pubsub.HistoryReader. The node then consumes the stream instead of a
	// node queue. Off by default.
	History bool

	// HistoryStream names the stream; "" means "<Exchange>.history".
	HistoryStream string

	// HistoryMaxAge and HistoryMaxBytes bound the stream (x-max-age,
	// x-max-length-bytes); 0 means 24 h and 1 GiB. RabbitMQ refuses to
	// redeclare an existing stream with other bounds.
	HistoryMaxAge   time.Duration
	HistoryMaxBytes int64

	// HistoryEpoch is the cursor epoch (1 to 32 of [0-9a-z]); "" derives
	// one from the stream name, so every node agrees. Change it when the
	// stream is deleted and declared afresh: its offsets restart, and old
	// cursors must then be reported as gaps.
	HistoryEpoch string

	// Logger receives connection events at Info and dropped deliveries at
	// Warn; nil means silent.
	Logger *slog.Logger
}

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.URL == "" {
		c.URL = "amqp://guest:guest@127.0.0.1:5672/"
	}
	if c.Exchange == "" {
		c.Exchange = "switchboard"
	}
	if c.QueuePrefix == "" {
		c.QueuePrefix = "switchboard"
	}
	if c.ConnectionName == "" {
		c.ConnectionName = "switchboard"
	}
	if c.NodeQueueExpiry <= 0 {
		c.NodeQueueExpiry = 60 * time.Second
	}
	if c.MaxPriority < 0 {
		c.MaxPriority = 0
	}
	if c.MaxPriority > 255 {
		c.MaxPriority = 255
	}
	if c.NodePrefetch <= 0 {
		c.NodePrefetch = 1024
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 16 << 20
	}
	if c.ReconnectMin <= 0 {
		c.ReconnectMin = 100 * time.Millisecond
	}
	if c.ReconnectMax <= 0 {
		c.ReconnectMax = 10 * time.Second
	}
	if c.ReconnectMax < c.ReconnectMin {
		c.ReconnectMax = c.ReconnectMin
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 10 * time.Second
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 5 * time.Second
	}
	if c.HistoryStream == "" {
		c.HistoryStream = c.Exchange + ".history"
	}
	if c.HistoryMaxAge <= 0 {
		c.HistoryMaxAge = 24 * time.Hour
	}
	if c.HistoryMaxBytes <= 0 {
		c.HistoryMaxBytes = 1 << 30
	}
	if _, err := pubsub.ParseCursor(c.HistoryEpoch + "-0"); c.HistoryEpoch == "" || err != nil {
		sum := sha256.Sum256([]byte(c.HistoryStream))
		const alphabet = "0123456789abcdefghijklmnopqrstuv"
		e := make([]byte, 12)
		for i := range e {
			e[i] = alphabet[sum[i]&31]
		}
		c.HistoryEpoch = string(e)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
