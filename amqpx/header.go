package amqpx

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/switchboard-go/switchboard/internal/clip"
	"github.com/switchboard-go/switchboard/pubsub"
)

// Header keys that map to AMQP message properties instead of AMQP headers.
// They are read on Publish and set on delivery.
const (
	// HeaderPriority carries the AMQP priority property, "0" to "255".
	// It orders messages only in queues declared with a maximum priority
	// (Options.MaxPriority).
	HeaderPriority = "amqp-priority"
	// HeaderExpiration carries the per-message TTL in milliseconds (the
	// AMQP expiration property): RabbitMQ drops the message from a queue
	// once it has waited that long.
	HeaderExpiration = "amqp-expiration"
	// HeaderContentType carries the AMQP content-type property.
	HeaderContentType = "amqp-content-type"
)

// Reserved AMQP header names used between amqpx nodes.
const (
	hdrAttempt = "sb-attempt" // delivery number of a requeued message
	hdrTopic   = "sb-topic"   // original topic of a message requeued by name
)

// toPublishing builds the AMQP message for msg. sb-reply-to and
// sb-correlation-id travel as the reply-to (as a routing key) and
// correlation-id properties; the keys above travel as their properties;
// every other header is an AMQP string header.
func toPublishing(msg *pubsub.Message, now time.Time) (amqp.Publishing, error) {
	p := amqp.Publishing{
		DeliveryMode: amqp.Persistent,
		MessageId:    msg.ID,
		Timestamp:    now,
		Body:         msg.Data,
	}
	// Always a headers table, never an absent one: consumers written for
	// an existing topology read msg.properties.headers[...] unguarded, and
	// the AMQP client sends no table when it is empty, so it carries the
	// topic (a Switchboard header, dropped again on delivery).
	p.Headers = make(amqp.Table, len(msg.Header)+1)
	p.Headers[hdrTopic] = msg.Topic
	for k, v := range msg.Header {
		switch k {
		case pubsub.HeaderReplyTo:
			key, err := TopicToKey(v)
			if err != nil {
				return p, fmt.Errorf("%w %q: %w", ErrInvalidHeader, k, err)
			}
			p.ReplyTo = key
			continue
		case pubsub.HeaderCorrelationID:
			if len(v) > maxKeyLength {
				return p, fmt.Errorf("%w %q: longer than 255 bytes", ErrInvalidHeader, k)
			}
			p.CorrelationId = v
			continue
		case HeaderPriority:
			n, err := strconv.ParseUint(v, 10, 8)
			if err != nil {
				return p, fmt.Errorf("%w %q: %q is not an integer from 0 to 255", ErrInvalidHeader, k, clip.String(v))
			}
			p.Priority = uint8(n)
			continue
		case HeaderExpiration:
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return p, fmt.Errorf("%w %q: %q is not a number of milliseconds", ErrInvalidHeader, k, clip.String(v))
			}
			p.Expiration = strconv.FormatUint(n, 10)
			continue
		case HeaderContentType:
			if len(v) > maxKeyLength {
				return p, fmt.Errorf("%w %q: longer than 255 bytes", ErrInvalidHeader, k)
			}
			p.ContentType = v
			continue
		case hdrAttempt, hdrTopic, "x-stream-offset":
			continue // set by amqpx or RabbitMQ only
		}
		if len(k) > maxKeyLength || k == "" {
			return p, fmt.Errorf("%w %q: a key must be 1 to 255 bytes", ErrInvalidHeader, clip.String(k))
		}
		p.Headers[k] = v
	}
	return p, nil
}

// fromDelivery builds the Switchboard message for an AMQP delivery. It
// fails only when the routing key maps to no valid topic. A message from a
// producer that is not a Switchboard Broker may lack a message-id and a
// timestamp: it gets an ID (in a history stream, epoch-derived from its
// offset, so every node and every replay names it alike; elsewhere a new
// one) and the time of its delivery.
func fromDelivery(d *amqp.Delivery, epoch string) (*pubsub.Message, error) {
	topic := ""
	var err error
	if t, ok := d.Headers[hdrTopic].(string); ok && d.Exchange == "" {
		topic = t // requeued by queue name: the routing key is the queue
		err = pubsub.ValidateTopic(t)
	} else {
		topic, err = KeyToTopic(d.RoutingKey)
	}
	if err != nil {
		return nil, err
	}
	m := &pubsub.Message{Topic: topic, Data: d.Body, ID: d.MessageId, Time: d.Timestamp, Attempt: 1}
	if m.Data == nil {
		m.Data = []byte{}
	}
	if m.Time.IsZero() {
		m.Time = time.Now()
	}
	if m.ID == "" {
		m.ID = foreignID(d, epoch)
	}
	n := len(d.Headers)
	if n > 0 || d.ReplyTo != "" || d.CorrelationId != "" || d.Priority != 0 || d.Expiration != "" || d.ContentType != "" {
		m.Header = make(map[string]string, n+2)
	}
	for k, v := range d.Headers {
		switch k {
		case hdrAttempt:
			if a, ok := intValue(v); ok && a > 0 && a < math.MaxInt32 {
				m.Attempt = int(a)
			}
			continue
		case hdrTopic, "x-stream-offset": // the offset is the cursor
			continue
		}
		m.Header[k] = HeaderValue(v)
	}
	if d.ReplyTo != "" {
		if t, err := KeyToTopic(d.ReplyTo); err == nil {
			m.Header[pubsub.HeaderReplyTo] = t
		} else {
			m.Header[pubsub.HeaderReplyTo] = d.ReplyTo
		}
	}
	if d.CorrelationId != "" {
		m.Header[pubsub.HeaderCorrelationID] = d.CorrelationId
	}
	if d.Priority != 0 {
		m.Header[HeaderPriority] = strconv.Itoa(int(d.Priority))
	}
	if d.Expiration != "" {
		m.Header[HeaderExpiration] = d.Expiration
	}
	if d.ContentType != "" {
		m.Header[HeaderContentType] = d.ContentType
	}
	if d.Redelivered {
		m.Attempt++
	}
	return m, nil
}

// foreignID names a message that came without a message-id: "amqp-" and
// its history cursor when it was read from the stream, a new ID otherwise.
func foreignID(d *amqp.Delivery, epoch string) string {
	if off, ok := intValue(d.Headers["x-stream-offset"]); ok && off >= 0 && epoch != "" {
		return "amqp-" + pubsub.Cursor{Epoch: epoch, Seq: uint64(off)}.String()
	}
	return pubsub.NewID()
}

func intValue(v any) (int64, bool) {
	switch x := v.(type) {
	case int8:
		return int64(x), true
	case uint8:
		return int64(x), true
	case int16:
		return int64(x), true
	case uint16:
		return int64(x), true
	case int32:
		return int64(x), true
	case uint32:
		return int64(x), true
	case int64:
		return x, true
	case int:
		return int64(x), true
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// HeaderValue converts an AMQP header value to the string Message.Header
// carries. Strings pass unchanged; integers and floats are written in
// decimal (floats in the shortest form that round-trips, "NaN" and
// "+Inf"/"-Inf" as such); booleans as "true"/"false"; timestamps in RFC 3339
// (UTC); decimals as their unscaled value with the decimal point placed;
// byte arrays as themselves when they are valid UTF-8, otherwise as
// "base64:" followed by standard base64; nil (void) as ""; tables and arrays
// as JSON after converting each value by these rules. A header is never
// dropped and never causes a nack.
func HeaderValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	case amqp.Decimal:
		return decimalString(x)
	case []byte:
		if utf8.Valid(x) {
			return string(x)
		}
		return "base64:" + base64.StdEncoding.EncodeToString(x)
	case amqp.Table:
		return jsonString(jsonValue(x))
	case []any:
		return jsonString(jsonValue(x))
	}
	if n, ok := intValue(v); ok {
		return strconv.FormatInt(n, 10)
	}
	return fmt.Sprint(v)
}

func jsonValue(v any) any {
	switch x := v.(type) {
	case amqp.Table:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = jsonValue(e)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = jsonValue(e)
		}
		return a
	case nil, bool, string:
		return x
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return HeaderValue(x)
		}
		return x
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return HeaderValue(x)
		}
		return x
	}
	if n, ok := intValue(v); ok {
		return n
	}
	return HeaderValue(v)
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func decimalString(d amqp.Decimal) string {
	s := strconv.FormatInt(int64(d.Value), 10)
	if d.Scale == 0 {
		return s
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	scale := int(d.Scale)
	if len(s) <= scale {
		s = strings.Repeat("0", scale-len(s)+1) + s
	}
	s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	if neg {
		s = "-" + s
	}
	return s
}
