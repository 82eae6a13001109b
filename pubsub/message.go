package pubsub

import (
	"time"
)

// Message is one published message.
//
// Topic, Data, Header and Retain are set by the publisher. ID, Cursor and Time
// are assigned by the broker on publish (a broker keeps an ID the publisher
// set, so IDs survive a hop between brokers). Attempt is set on delivery.
type Message struct {
	// Topic is the topic name the message was published to (no wildcards).
	Topic string
	// Data is the payload. It arrives byte-identical on every transport.
	Data []byte
	// Header carries string metadata (MQTT 5 user properties, AMQP headers).
	// Keys starting with "sb-" are reserved for Switchboard, see HeaderReplyTo.
	Header map[string]string
	// ID identifies the message; the broker assigns one when it is empty.
	ID string
	// Cursor is the message's position in the broker's history, "" when the
	// broker keeps none. Pass it as SubscribeOptions.Since to resume after it.
	// Messages delivered from the retained store carry no cursor: they are
	// state, not a position in the stream, so a client's resume point stays
	// where its live messages (or the transport's head cursor) put it.
	Cursor string
	// Time is when the broker accepted the message.
	Time time.Time
	// Retain asks the broker to keep the message as the topic's retained
	// message (MQTT semantics: a retained message with empty Data clears it).
	// On delivery it is true when the message came from the retained store
	// rather than a live publish.
	Retain bool
	// Attempt counts deliveries of this message to this subscription (or
	// group), starting at 1; it is 0 where the broker does not count.
	Attempt int
}

// Reserved header keys.
const (
	// HeaderReplyTo names the topic a reply should be published to.
	HeaderReplyTo = "sb-reply-to"
	// HeaderCorrelationID pairs a reply with its request.
	HeaderCorrelationID = "sb-correlation-id"
	// HeaderDeadLetterReason is set on a message moved to a dead-letter topic.
	HeaderDeadLetterReason = "sb-dead-letter-reason"
	// HeaderOriginalTopic is set on a message moved to a dead-letter topic.
	HeaderOriginalTopic = "sb-original-topic"
)

// Receipt is what a broker answers to a successful Publish.
type Receipt struct {
	ID     string
	Cursor string // "" when the broker keeps no history
	Time   time.Time
}

// Clone returns a deep copy of m, so it can be changed without touching a
// message shared with other subscribers.
func (m *Message) Clone() *Message {
	c := *m
	if m.Data != nil {
		c.Data = append([]byte(nil), m.Data...)
	}
	if m.Header != nil {
		c.Header = make(map[string]string, len(m.Header))
		for k, v := range m.Header {
			c.Header[k] = v
		}
	}
	return &c
}
