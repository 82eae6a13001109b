package amqpx

import (
	"errors"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/switchboard-go/switchboard/pubsub"
)

// amqpMatch is RabbitMQ's topic matching, written from its rules: words
// split on '.', '*' is exactly one word, '#' zero or more words.
func amqpMatch(binding, key string) bool {
	var b, k []string
	if binding != "" {
		b = strings.Split(binding, ".")
	}
	if key != "" {
		k = strings.Split(key, ".")
	}
	var match func(b, k []string) bool
	match = func(b, k []string) bool {
		if len(b) == 0 {
			return len(k) == 0
		}
		if b[0] == "#" {
			for i := 0; i <= len(k); i++ {
				if match(b[1:], k[i:]) {
					return true
				}
			}
			return false
		}
		if len(k) == 0 {
			return false
		}
		return (b[0] == "*" || b[0] == k[0]) && match(b[1:], k[1:])
	}
	return match(b, k)
}

// FuzzKeys checks the translation of topics and filters: every accepted
// topic round-trips through its routing key, every refusal wraps the
// pubsub error, and an AMQP binding matches exactly the topics its filter
// matches, except '$' topics, which the binding may match too (the Broker
// filters those again).
func FuzzKeys(f *testing.F) {
	for _, s := range [][2]string{
		{"a/b", "a/+"}, {"a", "a/#"}, {"$sys/x", "#"}, {"a//b", "a/+/b"}, {"a.b", "a/#"},
		{"a/*", "+/*"}, {"/", "+/+"}, {"x", "#"}, {"a/b/c", "a/#/c"}, {"ü/ñ", "ü/+"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, topic, filter string) {
		key, terr := TopicToKey(topic)
		if terr != nil {
			if !errors.Is(terr, pubsub.ErrInvalidTopic) {
				t.Fatalf("TopicToKey(%q) error %v does not wrap ErrInvalidTopic", topic, terr)
			}
		} else {
			back, err := KeyToTopic(key)
			if err != nil || back != topic {
				t.Fatalf("TopicToKey(%q) = %q, back to %q, %v", topic, key, back, err)
			}
		}
		if _, err := KeyToTopic(topic); err != nil && !errors.Is(err, pubsub.ErrInvalidTopic) {
			t.Fatalf("KeyToTopic(%q) error %v does not wrap ErrInvalidTopic", topic, err)
		}
		flt, bkey, ferr := FilterToKey(filter)
		if ferr != nil {
			if !errors.Is(ferr, pubsub.ErrInvalidFilter) {
				t.Fatalf("FilterToKey(%q) error %v does not wrap ErrInvalidFilter", filter, ferr)
			}
			return
		}
		if len(bkey) > maxKeyLength {
			t.Fatalf("binding key of %d bytes", len(bkey))
		}
		if terr != nil {
			return
		}
		mq, aq := flt.Match(topic), amqpMatch(bkey, key)
		if mq && !aq {
			t.Fatalf("filter %q matches %q but binding %q misses key %q", filter, topic, bkey, key)
		}
		if aq && !mq && !strings.HasPrefix(topic, "$") {
			t.Fatalf("binding %q matches key %q but filter %q does not match %q", bkey, key, filter, topic)
		}
	})
}

// FuzzDelivery feeds fromDelivery what any AMQP client may send: it never
// fails except on an unusable routing key, and never panics. Messages the
// Broker publishes come back unchanged.
func FuzzDelivery(f *testing.F) {
	f.Add("order.created", "k", "v", int64(7), []byte("body"), "reply.to", "corr", uint8(3), "1000", "application/json", true, "")
	f.Add("", "", "", int64(0), []byte(nil), "", "", uint8(0), "", "", false, "")
	f.Add("a/b", "sb-attempt", "x", int64(-1), []byte{0xff}, "$reply.x", "", uint8(255), "abc", "", false, "a/b")
	f.Add("q", "sb-attempt", "3", int64(1<<40), []byte{}, "a/b", "c", uint8(1), "", "", true, "t/x")
	f.Fuzz(func(t *testing.T, key, hk, hv string, hi int64, body []byte, replyTo, corr string, prio uint8, exp, ctype string, redelivered bool, sbTopic string) {
		headers := amqp.Table{hk: hv, hk + "i": hi, hk + "b": body, hk + "t": amqp.Table{"n": hi, "s": hv, "l": []any{hi, hv, body}},
			hk + "d": amqp.Decimal{Scale: uint8(hi), Value: int32(hi)}, hk + "f": float64(hi) / 3, hk + "ts": time.Unix(hi%1e10, 0)}
		if sbTopic != "" {
			headers[hdrTopic] = sbTopic
		}
		exchange := "switchboard"
		if redelivered {
			exchange = ""
		}
		d := amqp.Delivery{RoutingKey: key, Exchange: exchange, Headers: headers, Body: body, ReplyTo: replyTo,
			CorrelationId: corr, Priority: prio, Expiration: exp, ContentType: ctype, Redelivered: redelivered}
		m, err := fromDelivery(&d, "")
		if err != nil {
			if !errors.Is(err, pubsub.ErrInvalidTopic) {
				t.Fatalf("fromDelivery error %v does not wrap ErrInvalidTopic", err)
			}
			return
		}
		if pubsub.ValidateTopic(m.Topic) != nil || m.Attempt < 1 || m.Data == nil {
			t.Fatalf("bad message %+v", m)
		}

		// Round trip: a message we publish comes back as it was.
		in := pubsub.Message{Topic: m.Topic, Data: body, ID: corr, Header: map[string]string{}}
		if hk != "" && len(hk) <= maxKeyLength && !strings.HasPrefix(hk, "amqp-") && !strings.HasPrefix(hk, "sb-") && hk != "x-stream-offset" {
			in.Header[hk] = hv
		}
		if _, err := TopicToKey(m.Topic); err != nil {
			return
		}
		p, err := toPublishing(&in, time.Unix(1, 0))
		if err != nil {
			t.Fatalf("toPublishing(%+v): %v", in, err)
		}
		rk, _ := TopicToKey(in.Topic)
		out, err := fromDelivery(&amqp.Delivery{RoutingKey: rk, Exchange: "x", Headers: p.Headers, Body: p.Body,
			MessageId: p.MessageId, ReplyTo: p.ReplyTo, CorrelationId: p.CorrelationId, Timestamp: p.Timestamp}, "")
		if err != nil {
			t.Fatal(err)
		}
		if out.Topic != in.Topic || string(out.Data) != string(in.Data) || (in.ID != "" && out.ID != in.ID) || out.ID == "" || len(out.Header) != len(in.Header) {
			t.Fatalf("round trip: %+v became %+v", in, out)
		}
		for k, v := range in.Header {
			if out.Header[k] != v {
				t.Fatalf("header %q: %q became %q", k, v, out.Header[k])
			}
		}
	})
}
