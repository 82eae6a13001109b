package mqttx

import (
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/switchboard-go/switchboard/pubsub"
)

// Header keys with an MQTT meaning. Other header entries travel as MQTT 5
// user properties, in sorted key order.
const (
	// HeaderQoS ("mqtt-qos": "0", "1" or "2") sets the QoS of one publish
	// through Broker.Publish, overriding Options.PublishQoS. Server
	// sets it on every message a device publishes, so the QoS travels with
	// the message to other MQTT subscribers. It also travels as a user
	// property.
	HeaderQoS = "mqtt-qos"
	// HeaderMessageExpiry ("mqtt-message-expiry": seconds) maps to the MQTT
	// 5 message expiry interval.
	HeaderMessageExpiry = "mqtt-message-expiry"
	// HeaderContentType ("content-type") maps to the MQTT 5 content type.
	HeaderContentType = "content-type"
)

// User properties that carry Message fields across an MQTT hop.
const (
	propID   = "sb-id"   // Message.ID
	propTime = "sb-time" // Message.Time, RFC 3339 with nanoseconds
)

// wire is the MQTT 5 form of a message's metadata, independent of the
// client (paho) and server (mochi) packet types.
type wire struct {
	user          [][2]string
	responseTopic string
	correlation   []byte
	contentType   string
	expiry        uint32
	hasExpiry     bool
}

// toWire maps a message's header, ID and time to MQTT 5 properties:
// HeaderReplyTo is the response topic, HeaderCorrelationID the correlation
// data, HeaderContentType the content type, HeaderMessageExpiry the expiry
// interval (it also stays a user property), the ID and time the user
// properties "sb-id" and "sb-time", everything else a user property.
func toWire(m *pubsub.Message) wire {
	var w wire
	if m.ID != "" {
		w.user = append(w.user, [2]string{propID, m.ID})
	}
	if !m.Time.IsZero() {
		w.user = append(w.user, [2]string{propTime, m.Time.UTC().Format(time.RFC3339Nano)})
	}
	for _, k := range sortedKeys(m.Header) {
		v := m.Header[k]
		switch k {
		case pubsub.HeaderReplyTo:
			w.responseTopic = v
			continue
		case pubsub.HeaderCorrelationID:
			w.correlation = []byte(v)
			continue
		case HeaderContentType:
			w.contentType = v
			continue
		case HeaderMessageExpiry:
			if n, err := strconv.ParseUint(v, 10, 32); err == nil {
				w.expiry, w.hasExpiry = uint32(n), true
			}
		}
		w.user = append(w.user, [2]string{k, v})
	}
	return w
}

// fromWire builds a message from a received PUBLISH. Malformed "sb-time"
// values are ignored (Time is then now); a repeated user property keeps its
// last value.
func fromWire(topic string, payload []byte, retain bool, w wire, now time.Time) *pubsub.Message {
	m := &pubsub.Message{Topic: topic, Data: payload, Retain: retain, Time: now}
	n := len(w.user)
	if w.responseTopic != "" {
		n++
	}
	if w.correlation != nil {
		n++
	}
	if w.contentType != "" {
		n++
	}
	for _, kv := range w.user {
		switch kv[0] {
		case propID:
			m.ID = kv[1]
			n--
			continue
		case propTime:
			if t, err := time.Parse(time.RFC3339Nano, kv[1]); err == nil {
				m.Time = t
			}
			n--
			continue
		}
		if m.Header == nil {
			m.Header = make(map[string]string, n)
		}
		m.Header[kv[0]] = kv[1]
	}
	set := func(k, v string) {
		if m.Header == nil {
			m.Header = make(map[string]string, n)
		}
		m.Header[k] = v
	}
	if w.responseTopic != "" {
		set(pubsub.HeaderReplyTo, w.responseTopic)
	}
	if w.correlation != nil {
		set(pubsub.HeaderCorrelationID, string(w.correlation))
	}
	if w.contentType != "" {
		set(HeaderContentType, w.contentType)
	}
	if _, dup := m.Header[HeaderMessageExpiry]; w.hasExpiry && !dup {
		set(HeaderMessageExpiry, strconv.FormatUint(uint64(w.expiry), 10))
	}
	return m
}

// qosOf returns the QoS in HeaderQoS, or def when the header is absent or
// not "0", "1" or "2".
func qosOf(h map[string]string, def byte) byte {
	switch h[HeaderQoS] {
	case "0":
		return 0
	case "1":
		return 1
	case "2":
		return 2
	}
	return def
}

func sortedKeys(h map[string]string) []string {
	if len(h) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(h))
}
