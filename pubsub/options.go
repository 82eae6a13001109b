package pubsub

// SubscribeOptions tunes a subscription. The zero value (or a nil pointer)
// subscribes live from now, alone, with automatic acknowledgement, a buffer
// of 256 messages and the OverflowClose policy.
type SubscribeOptions struct {
	// Since resumes after this cursor: matching messages published after it
	// are replayed, then delivery continues live. "" starts live from now.
	// Needs Capabilities.History.
	Since string

	// Group makes this subscription a competing consumer: each message
	// matching the filter goes to one member of the group (groups are keyed
	// by name and filter). A group exists from its first subscription on:
	// messages published before that are not kept for it (as with AMQP
	// queues and MQTT shared subscriptions), so start consumers before
	// producers. Memory and amqpx keep a group's backlog after its last
	// member leaves (Memory for MemoryOptions.GroupIdle, 10 minutes by
	// default). Memory refuses a new group beyond MemoryOptions.MaxGroups
	// with ErrLimit. Needs Capabilities.Groups.
	Group string

	// ManualAck requires Ack or Nack for every delivery. At most Prefetch
	// deliveries are unacknowledged at a time. Needs Capabilities.Acks.
	ManualAck bool

	// Prefetch caps unacknowledged deliveries with ManualAck; 0 means Buffer.
	Prefetch int

	// MaxDeliveries caps how often a message is delivered (with ManualAck)
	// before it is dead-lettered; 0 means 10, a negative value means no cap.
	MaxDeliveries int

	// DeadLetterTopic receives messages that were nacked without requeue or
	// reached MaxDeliveries, with the headers HeaderDeadLetterReason and
	// HeaderOriginalTopic. "" means "$deadletter/" + the message's topic.
	DeadLetterTopic string

	// Buffer is the capacity of the delivery channel; 0 means 256.
	Buffer int

	// Overflow says what happens when the buffer is full.
	Overflow OverflowPolicy

	// NoRetained skips the retained messages a new subscription would
	// otherwise receive first. Subscriptions with Since skip them anyway:
	// a resuming client already has the state they carry.
	NoRetained bool
}

// OverflowPolicy says what a broker does when a subscription's buffer is full.
type OverflowPolicy int

const (
	// OverflowClose ends the subscription with a *SlowConsumerError carrying
	// the cursor of the last message the consumer received. Nothing is lost
	// silently: the client resumes from that cursor. This is the default.
	OverflowClose OverflowPolicy = iota
	// OverflowDropOldest discards the oldest buffered message to make room.
	// Lossy by design, for tickers where only the latest value matters.
	OverflowDropOldest
)

// DefaultBuffer is the delivery buffer used when SubscribeOptions.Buffer is 0.
const DefaultBuffer = 256

// DefaultMaxDeliveries is used when SubscribeOptions.MaxDeliveries is 0.
const DefaultMaxDeliveries = 10

// WithDefaults returns a copy of o (nil allowed) with zero fields set to
// their defaults and Prefetch capped at Buffer, for brokers implementing
// the options.
func (o *SubscribeOptions) WithDefaults() SubscribeOptions {
	var c SubscribeOptions
	if o != nil {
		c = *o
	}
	if c.Buffer <= 0 {
		c.Buffer = DefaultBuffer
	}
	if c.Prefetch <= 0 || c.Prefetch > c.Buffer {
		c.Prefetch = c.Buffer
	}
	if c.MaxDeliveries == 0 {
		c.MaxDeliveries = DefaultMaxDeliveries
	}
	return c
}

// DeadLetter returns the message a broker publishes when it dead-letters m
// under opts: m's data, ID and header plus HeaderDeadLetterReason (reason)
// and HeaderOriginalTopic, on DeadLetterTopicFor(opts, m.Topic). m is not
// changed.
func DeadLetter(opts *SubscribeOptions, m *Message, reason string) Message {
	h := make(map[string]string, len(m.Header)+2)
	for k, v := range m.Header {
		h[k] = v
	}
	h[HeaderDeadLetterReason] = reason
	h[HeaderOriginalTopic] = m.Topic
	return Message{Topic: DeadLetterTopicFor(opts, m.Topic), Data: m.Data, Header: h, ID: m.ID}
}

// DeadLetterTopicFor returns where a message on topic goes when it is
// dead-lettered under opts.
func DeadLetterTopicFor(opts *SubscribeOptions, topic string) string {
	if opts != nil && opts.DeadLetterTopic != "" {
		return opts.DeadLetterTopic
	}
	return "$deadletter/" + topic
}
