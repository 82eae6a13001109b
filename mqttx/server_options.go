package mqttx

import (
	"log/slog"
	"time"

	"github.com/switchboard-go/switchboard/internal/opt"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// The defaults of ServerOptions, applied to every zero field.
const (
	// DefaultQoS is the default ServerOptions.QoS.
	DefaultQoS = 1
	// DefaultBuffer is the default ServerOptions.Buffer.
	DefaultBuffer = pubsub.DefaultBuffer
	// DefaultMaxInflight is the default ServerOptions.MaxInflight.
	DefaultMaxInflight = 64
	// DefaultWriteTimeout is the default ServerOptions.WriteTimeout.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultPublishTimeout is the default ServerOptions.PublishTimeout.
	DefaultPublishTimeout = 10 * time.Second
)

// ServerOptions configures NewServer. A nil *ServerOptions, and every zero
// field, means the default; numbers and durations follow one rule: 0 means
// the default, a negative value turns the feature off where it can be off,
// and means the default where it cannot (each field says which).
// NewServer copies the options: changing them afterwards has no effect.
type ServerOptions struct {
	// Auth authenticates CONNECT (Credentials.Transport "mqtt", Username,
	// Password, RemoteAddr, and Header for MQTT over WebSocket) and
	// authorizes every PUBLISH, SUBSCRIBE and will message, and the group
	// of a shared subscription "$share/<group>/<filter>"
	// (transport.ActionJoin with the group name, after ActionSubscribe with
	// the filter). The zero value allows everything.
	Auth *transport.Auth
	// Limits bounds the payload of one PUBLISH (MaxMessageBytes; beyond it
	// reason code 0x95), the subscriptions of one connection
	// (MaxSubscriptions; beyond it SUBACK 0x97) and the connected clients
	// (MaxConnections; beyond it CONNACK 0x89 "server busy", or 0x03 for
	// MQTT 3.1.1).
	Limits transport.Limits
	// QoS is the QoS of broker messages without HeaderQoS (published by
	// non-MQTT transports): 0 means DefaultQoS (1), a negative value QoS
	// 0, 1 and 2 as such (above 2: 2). A delivery never exceeds the
	// subscription's granted QoS.
	QoS int
	// Buffer is the broker subscription buffer of each MQTT subscription,
	// in messages; 0 or negative means DefaultBuffer (pubsub.DefaultBuffer).
	// A client that falls further behind is disconnected with reason code
	// 0x97 (quota exceeded), so it knows it missed messages.
	Buffer int
	// MaxInflight caps unacknowledged QoS 1 and 2 deliveries to one client
	// (lowered to the client's Receive Maximum); 0 or negative means
	// DefaultMaxInflight (64).
	MaxInflight int
	// WriteTimeout bounds one write to a client, and the wait for a client
	// to acknowledge a QoS 1 or 2 delivery when MaxInflight are
	// unacknowledged; 0 means DefaultWriteTimeout (10 s), a negative value
	// means no bound. A client that does not read, or does not
	// acknowledge, is disconnected.
	WriteTimeout time.Duration
	// PublishTimeout bounds Broker.Publish for one device PUBLISH or will;
	// 0 means DefaultPublishTimeout (10 s), a negative value means no
	// bound. PUBACK is sent only after the broker accepted the message.
	PublishTimeout time.Duration
	// OriginPatterns lists the origins allowed for MQTT over WebSocket
	// (see websocket.AcceptOptions); requests without an Origin header are
	// always allowed.
	OriginPatterns []string
	// Logger receives connection events and mochi-mqtt's logs (one level
	// lower than mochi logs them, with component=mochi, and a packet in
	// them summarized on one line: type, topic, QoS, id and payload size,
	// never the payload); nil means silent.
	Logger *slog.Logger
	// Observer hears of connections, subscriptions, publishes (wills
	// included) and deliveries (Bytes is the payload), as transport name
	// "mqtt"; nil reports nothing.
	Observer *transport.Observer
}

// withDefaults returns a copy of o (nil allowed) with every default
// applied, the QoS clamped to 0..2, and a Logger.
func (o *ServerOptions) withDefaults() ServerOptions {
	var c ServerOptions
	if o != nil {
		c = *o
	}
	c.QoS = min(opt.Or(c.QoS, DefaultQoS), 2)
	c.Buffer = opt.OrMin(c.Buffer, DefaultBuffer)
	c.MaxInflight = opt.OrMin(c.MaxInflight, DefaultMaxInflight)
	c.WriteTimeout = opt.Or(c.WriteTimeout, DefaultWriteTimeout)
	c.PublishTimeout = opt.Or(c.PublishTimeout, DefaultPublishTimeout)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
