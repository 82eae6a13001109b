package mqttx

import (
	"crypto/tls"
	"log/slog"
	"time"

	"github.com/switchboard-go/switchboard/internal/opt"
	"github.com/switchboard-go/switchboard/pubsub"
)

// The defaults of Options, applied to every zero field.
const (
	// DefaultPublishQoS is the default Options.PublishQoS.
	DefaultPublishQoS = 1
	// DefaultSubscribeQoS is the default Options.SubscribeQoS.
	DefaultSubscribeQoS = 1
	// DefaultKeepAlive is the default Options.KeepAlive.
	DefaultKeepAlive = 30 * time.Second
	// DefaultSessionExpiry is the default Options.SessionExpiry.
	DefaultSessionExpiry = 10 * time.Minute
	// DefaultConnectTimeout is the default Options.ConnectTimeout.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultPacketTimeout is the default Options.PacketTimeout.
	DefaultPacketTimeout = 10 * time.Second
	// DefaultMinBackoff is the default Options.MinBackoff.
	DefaultMinBackoff = 50 * time.Millisecond
	// DefaultMaxBackoff is the default Options.MaxBackoff.
	DefaultMaxBackoff = 10 * time.Second
	// DefaultDedupWindow is the default Options.DedupWindow (2 minutes).
	DefaultDedupWindow = pubsub.DefaultDedupWindow
	// DefaultDedupSize is the default Options.DedupSize (100,000 IDs).
	DefaultDedupSize = pubsub.DefaultDedupSize
)

// Options configures Dial. A nil *Options, and every zero field, means the
// default; numbers and durations follow one rule: 0 means the default, a
// negative value turns the feature off where it can be off, and means the
// default where it cannot (each field says which). Dial copies the
// Options: changing them afterwards has no effect.
type Options struct {
	// ClientID is the MQTT client identifier; "" picks "sb-" and a random
	// suffix. Give each process its own.
	ClientID string
	// Username and Password are sent in CONNECT. A user and password in
	// the URL are used when these are empty.
	Username, Password string
	// PublishQoS is the QoS of Publish when the message has no HeaderQoS:
	// 0 means DefaultPublishQoS (1, at least once), negative means QoS 0
	// (at most once), 1 and 2 as such (above 2 means 2).
	PublishQoS int
	// SubscribeQoS is the maximum QoS of subscriptions: 0 means
	// DefaultSubscribeQoS (1), negative means QoS 0, 1 and 2 as such.
	SubscribeQoS int
	// KeepAlive is the MQTT keep-alive; 0 means DefaultKeepAlive (30 s),
	// negative turns it off.
	KeepAlive time.Duration
	// SessionExpiry is how long the server keeps the session (subscriptions
	// and queued QoS 1/2 messages) while the connection is down; 0 means
	// DefaultSessionExpiry (10 minutes), negative ends the session with the
	// connection (then every reconnect ends the subscriptions with
	// ErrSessionLost).
	SessionExpiry time.Duration
	// ConnectTimeout bounds one connection attempt; 0 (or negative: it
	// cannot be off) means DefaultConnectTimeout (10 s).
	ConnectTimeout time.Duration
	// PacketTimeout bounds the wait for a PUBACK, PUBCOMP or SUBACK; 0 (or
	// negative: it cannot be off) means DefaultPacketTimeout (10 s).
	PacketTimeout time.Duration
	// MinBackoff and MaxBackoff bound the reconnect delay, which doubles
	// with jitter from MinBackoff to MaxBackoff between connection
	// attempts; 0 (or negative: they cannot be off) means
	// DefaultMinBackoff (50 ms) and DefaultMaxBackoff (10 s).
	MinBackoff, MaxBackoff time.Duration
	// ResumeSession connects the first time without Clean Start, so a
	// session an earlier process with the same ClientID left on the server
	// resumes: the QoS 1 and 2 messages queued for it are delivered (routed
	// by topic filter to this process's subscriptions). By default the
	// first connection starts a clean session. Mosquitto 2.0 saves a
	// session across its own restart only when it was not started clean,
	// so set it (with a stable ClientID) for consumers that must survive a
	// Mosquitto restart.
	ResumeSession bool
	// WaitForConnection makes Publish and Subscribe wait (until their ctx
	// is done) while the connection is down. By default they fail at once
	// with ErrDisconnected.
	WaitForConnection bool
	// DedupWindow is how long a message ID (the user property "sb-id") is
	// remembered: a Publish repeating a publisher-supplied ID accepted
	// within the window returns the original Receipt and sends nothing,
	// and a message the server delivers again (a QoS 1 redelivery after a
	// reconnect, or a publisher's repeat) is dropped when its ID reached
	// the same subscription within the window. 0 means DefaultDedupWindow
	// (2 minutes), negative turns both off.
	DedupWindow time.Duration
	// DedupSize caps the IDs remembered; 0 (or negative: it cannot be
	// unbounded) means DefaultDedupSize (100,000); beyond it the oldest are
	// forgotten early.
	DedupSize int
	// TLS configures mqtts:// and wss:// connections; nil uses the system
	// defaults.
	TLS *tls.Config
	// Logger receives connection events; nil means silent.
	Logger *slog.Logger
}

// withDefaults returns a copy of o (nil allowed) with every default
// applied, except the QoS fields (see qosOption).
func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.ClientID == "" {
		c.ClientID = "sb-" + pubsub.NewID()
	}
	c.KeepAlive = opt.Or(c.KeepAlive, DefaultKeepAlive)
	c.SessionExpiry = opt.Or(c.SessionExpiry, DefaultSessionExpiry)
	c.ConnectTimeout = opt.OrMin(c.ConnectTimeout, DefaultConnectTimeout)
	c.PacketTimeout = opt.OrMin(c.PacketTimeout, DefaultPacketTimeout)
	c.MinBackoff = opt.OrMin(c.MinBackoff, DefaultMinBackoff)
	c.MaxBackoff = max(opt.OrMin(c.MaxBackoff, DefaultMaxBackoff), c.MinBackoff)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// qosOption resolves a QoS option (Options.PublishQoS and SubscribeQoS):
// 0 means QoS 1, negative QoS 0, above 2 QoS 2.
func qosOption(v int) byte {
	return byte(min(opt.Or(v, DefaultPublishQoS), 2))
}
