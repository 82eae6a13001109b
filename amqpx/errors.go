package amqpx

import "errors"

// Errors returned by the Broker besides those of package pubsub. Match them
// with errors.Is.
var (
	// ErrQueueLost ends the live subscriptions of a node (and a private
	// ManualAck subscription) whose queue vanished while the node was
	// disconnected — RabbitMQ restarted, or the outage outlasted
	// Options.NodeQueueExpiry — so messages may have been missed. Clients
	// should resubscribe and reload their state.
	ErrQueueLost = errors.New("amqpx: queue lost while disconnected, messages may be missing")

	// ErrInvalidHeader: a header cannot be carried by AMQP (a key longer than
	// 255 bytes, or a bad HeaderPriority / HeaderExpiration value).
	ErrInvalidHeader = errors.New("amqpx: invalid header")

	// ErrTooLarge: a message exceeds Options.MaxMessageBytes.
	ErrTooLarge = errors.New("amqpx: message too large")

	// ErrStaleDelivery: Ack or Nack of a delivery whose AMQP channel has
	// closed since (a reconnect). RabbitMQ redelivers such a message.
	ErrStaleDelivery = errors.New("amqpx: delivery belongs to a closed channel")

	// ErrNacked: RabbitMQ refused to confirm a publish (basic.nack).
	ErrNacked = errors.New("amqpx: publish nacked by the server")
)
