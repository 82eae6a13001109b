package amqpx

import (
	"fmt"
	"strings"

	"github.com/switchboard-go/switchboard/internal/clip"
	"github.com/switchboard-go/switchboard/pubsub"
)

// maxKeyLength is the longest AMQP routing or binding key (a shortstr).
const maxKeyLength = 255

// TopicToKey translates a Switchboard topic name to an AMQP routing key:
// every '/' becomes '.'. It fails (wrapping pubsub.ErrInvalidTopic) when the
// topic is invalid, when a level contains '.' or '*' (AMQP would read them as
// a separator or a wildcard), or when the key would exceed 255 bytes.
func TopicToKey(topic string) (string, error) {
	if err := pubsub.ValidateTopic(topic); err != nil {
		return "", err
	}
	if i := strings.IndexAny(topic, ".*"); i >= 0 {
		return "", fmt.Errorf("%w %q: %q at byte %d cannot be carried by an AMQP routing key", pubsub.ErrInvalidTopic, clip.String(topic), topic[i], i)
	}
	if len(topic) > maxKeyLength {
		return "", fmt.Errorf("%w %q: longer than the %d bytes of an AMQP routing key", pubsub.ErrInvalidTopic, clip.String(topic), maxKeyLength)
	}
	return strings.ReplaceAll(topic, "/", "."), nil
}

// KeyToTopic translates an AMQP routing key back to a topic name: every '.'
// becomes '/'. It fails (wrapping pubsub.ErrInvalidTopic) for keys that no
// Switchboard topic produces: the empty key, keys containing '/', '*', '+',
// '#' or NUL, and invalid UTF-8.
func KeyToTopic(key string) (string, error) {
	if key == "" {
		return "", fmt.Errorf("%w: empty AMQP routing key", pubsub.ErrInvalidTopic)
	}
	if i := strings.IndexAny(key, "/*+#"); i >= 0 {
		return "", fmt.Errorf("%w: AMQP routing key %q has %q at byte %d, which no topic maps to", pubsub.ErrInvalidTopic, clip.String(key), key[i], i)
	}
	topic := strings.ReplaceAll(key, ".", "/")
	if err := pubsub.ValidateTopic(topic); err != nil {
		return "", err
	}
	return topic, nil
}

// FilterToKey translates a Switchboard (MQTT 5) topic filter to an AMQP
// binding key: '/' becomes '.', '+' becomes '*' and '#' stays '#' (both
// match the parent level, as MQTT requires). It fails (wrapping
// pubsub.ErrInvalidFilter) when the filter is invalid, when a level contains
// '.' or '*', or when the key would exceed 255 bytes.
//
// A binding is wider than the filter for topics starting with '$' (AMQP has
// no '$' rule), so deliveries must be matched again with pubsub.Filter.Match.
func FilterToKey(filter string) (pubsub.Filter, string, error) {
	f, err := pubsub.ParseFilter(filter)
	if err != nil {
		return pubsub.Filter{}, "", err
	}
	if i := strings.IndexAny(filter, ".*"); i >= 0 {
		return pubsub.Filter{}, "", fmt.Errorf("%w %q: %q at byte %d cannot be carried by an AMQP binding key", pubsub.ErrInvalidFilter, clip.String(filter), filter[i], i)
	}
	if len(filter) > maxKeyLength {
		return pubsub.Filter{}, "", fmt.Errorf("%w %q: longer than the %d bytes of an AMQP binding key", pubsub.ErrInvalidFilter, clip.String(filter), maxKeyLength)
	}
	levels := f.Levels()
	out := make([]string, len(levels))
	for i, l := range levels {
		if l == "+" {
			out[i] = "*"
		} else {
			out[i] = l
		}
	}
	return f, strings.Join(out, "."), nil
}
