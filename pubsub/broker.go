package pubsub

import (
	"context"
)

// Broker is what every transport talks to. Implementations: [Memory] here,
// amqpx.Broker (RabbitMQ) and mqttx.Broker (an MQTT 5 broker).
//
// All methods are safe for concurrent use.
type Broker interface {
	// Publish sends msg to every matching subscription. It returns when the
	// broker has accepted the message (for networked brokers, when the server
	// has confirmed it), never waiting on slow subscribers. It fails with
	// ErrInvalidTopic for a bad topic, ErrLimit when a bound of the broker
	// refuses it (Memory's retained store), and ErrClosed after Close.
	Publish(ctx context.Context, msg Message) (Receipt, error)

	// Subscribe starts a subscription to the filter (MQTT 5 syntax). opts
	// may be nil. When Subscribe returns the subscription is active: every
	// matching message published afterwards is delivered. The subscription
	// ends when ctx is done, when it is closed, when the broker closes, or
	// when it overflows (see OverflowPolicy). It fails with
	// ErrInvalidFilter, ErrInvalidCursor, ErrNotSupported (an option the
	// broker's Capabilities lack), ErrLimit (a bound of the broker, such as
	// Memory's MaxGroups) or ErrClosed.
	Subscribe(ctx context.Context, filter string, opts *SubscribeOptions) (Subscription, error)

	// Capabilities reports what the broker supports beyond plain publish and
	// subscribe.
	Capabilities() Capabilities

	// Close ends every subscription with ErrClosed, makes later calls fail
	// with ErrClosed, and waits for the broker's goroutines. It is idempotent.
	Close() error
}

// Capabilities lists the optional features of a Broker. The conformance suite
// runs only the cases a broker declares.
type Capabilities struct {
	// History: messages carry cursors, SubscribeOptions.Since resumes, and
	// the broker implements HistoryReader.
	History bool
	// Groups: SubscribeOptions.Group shares messages among competing consumers.
	Groups bool
	// Acks: SubscribeOptions.ManualAck, Nack with requeue, redelivery,
	// MaxDeliveries and dead-lettering.
	Acks bool
	// Retain: retained messages go to each new subscriber.
	Retain bool
}

// Subscription is a live subscription returned by Broker.Subscribe.
//
// Messages arrive on C in order. The broker closes C when the subscription
// ends; Err then says why. All methods are safe for concurrent use.
type Subscription interface {
	// C returns the delivery channel. It is closed when the subscription
	// ends: after Close (Err returns ErrClosed), when the Subscribe context is
	// done (Err returns the context's error), when the broker closes
	// (ErrClosed), or on overflow (a *SlowConsumerError).
	C() <-chan *Message

	// Err returns nil while the subscription is active and the reason it
	// ended once C is closed.
	Err() error

	// Gap reports that the subscription asked to resume from a cursor the
	// broker's history no longer reaches (or a cursor from another epoch):
	// messages may have been missed, and delivery started live from the
	// moment of the Subscribe call.
	Gap() bool

	// Ack acknowledges a message received with ManualAck. Without ManualAck
	// it does nothing and returns nil.
	Ack(m *Message) error

	// Nack rejects a message received with ManualAck. With requeue the
	// message is delivered again (to this subscription or, in a group, to any
	// member) until SubscribeOptions.MaxDeliveries is reached; then, and
	// without requeue, it goes to the dead-letter topic. Without ManualAck it
	// does nothing and returns nil.
	Nack(m *Message, requeue bool) error

	// Close ends the subscription. It is idempotent and does not wait for
	// the consumer to drain C.
	Close() error
}

// HistoryReader is implemented by brokers with Capabilities.History. It reads
// history without subscribing, for REST and long polling.
type HistoryReader interface {
	// History returns the messages matching filter published after
	// opts.Since, oldest first. It fails with ErrInvalidFilter or
	// ErrInvalidCursor.
	History(ctx context.Context, filter string, opts HistoryOptions) (HistoryPage, error)
}

// HistoryOptions selects a page of history.
type HistoryOptions struct {
	// Since is an exclusive cursor; "" starts at the oldest message kept.
	Since string
	// Limit caps the number of messages; 0 means 100. A negative Limit
	// reads no messages, only Head (and Gap for Since): a cheap way to learn
	// where "now" is.
	Limit int
}

// HistoryPage is one page of history.
type HistoryPage struct {
	// Messages matching the filter, oldest first. They are shared: read-only.
	Messages []*Message
	// Next is the cursor to pass as Since for the following page. When the
	// page is not full it is Head, so nothing published before the read is
	// scanned again.
	Next string
	// Head is the cursor of the newest message in the broker (any topic) at
	// the time of the read, "" when the broker is empty.
	Head string
	// Gap reports that history no longer reaches back to Since (or Since is
	// from another epoch); Messages then start at the oldest message kept.
	Gap bool
	// More reports that the page was cut at Limit.
	More bool
}
