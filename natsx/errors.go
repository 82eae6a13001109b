package natsx

import "errors"

// Errors returned by the Broker besides those of package pubsub. Match them
// with errors.Is.
var (
	// ErrDisconnected ends the live subscriptions of a node whose NATS
	// connection dropped: core NATS does not keep what was published while
	// the node was away. Resume with SubscribeOptions.Since from the last
	// cursor received (on any node) to get the missed messages.
	ErrDisconnected = errors.New("natsx: connection lost, messages may be missing")

	// ErrStreamLost ends every subscription that depends on the JetStream
	// stream when the stream is deleted (its sequence numbers, the cursors,
	// start afresh under a new epoch).
	ErrStreamLost = errors.New("natsx: history stream lost, messages may be missing")

	// ErrConsumerLost ends a group or ManualAck subscription whose
	// JetStream consumer was deleted on the server.
	ErrConsumerLost = errors.New("natsx: consumer lost")

	// ErrSlowNode ends the live subscriptions of a node that fell so far
	// behind that the NATS client dropped messages for it.
	ErrSlowNode = errors.New("natsx: node fell behind, the NATS client dropped messages")

	// ErrStaleDelivery: Ack or Nack of a delivery the server no longer
	// holds for this subscription.
	ErrStaleDelivery = errors.New("natsx: delivery is no longer pending")
)
