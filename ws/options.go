package ws

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/switchboard-go/switchboard/internal/opt"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// Options configures NewHandler. A nil *Options and the zero value mean the
// defaults; for durations and counts 0 means the default and a negative
// value turns the feature (or the limit) off. NewHandler copies the
// Options: changing them afterwards has no effect.
type Options struct {
	// Auth authenticates each connection at upgrade (transport name "ws")
	// and authorizes every subscribe, publish and request, and the group
	// a subscribe names (transport.ActionJoin). The zero value allows
	// everything, as does nil.
	Auth *transport.Auth

	// Limits bound what a client can make the handler hold:
	// MaxMessageBytes caps a published payload (error frame too_large),
	// MaxSubscriptions the subscriptions of one connection (error frame
	// rate_limited), MaxConnections the open connections (HTTP 503 at
	// upgrade).
	Limits transport.Limits

	// OriginPatterns lists the browser origins allowed besides the
	// request's own host (same-origin is always allowed; requests without
	// an Origin header, i.e. non-browser clients, always pass). Patterns
	// use path.Match against the origin's host, or "scheme://host" when
	// the pattern contains "://". ["*"] allows every origin. A refused
	// origin gets HTTP 403 before the upgrade.
	OriginPatterns []string

	// ReadLimit caps one client frame in bytes; 0 means DefaultReadLimit
	// (64 KiB), negative means no limit. A larger frame closes the
	// connection with 1009.
	ReadLimit int64

	// KeepAlive is the period of WebSocket pings that detect dead peers;
	// 0 means DefaultKeepAlive (25 s), negative turns pings off. A peer
	// that does not answer within WriteTimeout (KeepAlive when WriteTimeout
	// is off) is disconnected with 1008.
	KeepAlive time.Duration

	// WriteTimeout bounds one write to the connection (several frames are
	// written at once when several are ready) and the wait for a pong; 0
	// means DefaultWriteTimeout (10 s), negative means none. A connection
	// whose write times out is dropped.
	WriteTimeout time.Duration

	// Coalesce bounds how often a connection writes: one that wrote less
	// than Coalesce ago waits until Coalesce has passed since that write
	// before it writes again, so a connection receiving more than
	// 1/Coalesce messages a second (60 with the default, about a display's
	// frame rate) gets them in batches, several frames in one system call,
	// at most Coalesce apart. A quiet connection's message (and every reply)
	// is written at once when nothing was written in the last Coalesce.
	// 0 means DefaultCoalesce, negative writes every burst at once. The same
	// rule as sse.Options.Coalesce.
	Coalesce time.Duration

	// MaxProtocolErrors is how many malformed frames (each answered with an
	// error frame) a connection may send before it is closed with 1008;
	// 0 means DefaultMaxProtocolErrors (10), negative never closes.
	MaxProtocolErrors int

	// MaxPendingRequests caps the requests of one connection waiting for
	// their reply; 0 means DefaultMaxPendingRequests (16), negative means
	// no cap. Beyond it a request gets an error frame rate_limited.
	MaxPendingRequests int

	// RequestTimeout is how long a request frame without timeout_ms waits
	// for its reply; 0 means DefaultRequestTimeout (10 s), negative means
	// no timeout of its own (it waits up to MaxRequestTimeout).
	RequestTimeout time.Duration

	// MaxRequestTimeout caps every request's wait, timeout_ms included; 0
	// means DefaultMaxRequestTimeout (60 s), negative means no cap (a
	// request without any timeout then waits until its connection ends).
	MaxRequestTimeout time.Duration

	// Buffer is the broker buffer of each subscription, in messages
	// (pubsub.SubscribeOptions.Buffer); 0 or negative means the broker's
	// default (a buffer cannot be off). It is the connection's outgoing
	// queue: when it overflows the connection is closed with
	// CloseSlowConsumer.
	Buffer int

	// Logger receives connection events (connected, refused, disconnected
	// with the close code and reason) at debug level; nil means silent.
	Logger *slog.Logger
	// Observer hears of connections, subscriptions, publishes and
	// deliveries (transport name "ws"); nil reports nothing.
	Observer *transport.Observer
}

// Defaults of Options.
const (
	// DefaultReadLimit is the default Options.ReadLimit: 64 KiB.
	DefaultReadLimit = 64 << 10
	// DefaultKeepAlive is the default Options.KeepAlive: a ping every 25 s.
	DefaultKeepAlive = 25 * time.Second
	// DefaultWriteTimeout is the default Options.WriteTimeout and
	// ClientOptions.WriteTimeout: 10 s.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultCoalesce is the default Options.Coalesce.
	DefaultCoalesce = 16 * time.Millisecond
	// DefaultMaxProtocolErrors is the default Options.MaxProtocolErrors.
	DefaultMaxProtocolErrors = 10
	// DefaultMaxPendingRequests is the default Options.MaxPendingRequests.
	DefaultMaxPendingRequests = 16
	// DefaultRequestTimeout is the default Options.RequestTimeout: 10 s.
	DefaultRequestTimeout = 10 * time.Second
	// DefaultMaxRequestTimeout is the default Options.MaxRequestTimeout:
	// 60 s.
	DefaultMaxRequestTimeout = 60 * time.Second
)

// withDefaults returns a copy of o (nil allowed) with the defaults applied;
// 0 in a numeric field afterwards means off.
func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
		c.OriginPatterns = append([]string(nil), o.OriginPatterns...)
	}
	c.Limits = c.Limits.WithDefaults()
	c.ReadLimit = opt.Or(c.ReadLimit, DefaultReadLimit)
	c.KeepAlive = opt.Or(c.KeepAlive, DefaultKeepAlive)
	c.WriteTimeout = opt.Or(c.WriteTimeout, DefaultWriteTimeout)
	c.Coalesce = opt.Or(c.Coalesce, DefaultCoalesce)
	c.MaxProtocolErrors = opt.Or(c.MaxProtocolErrors, DefaultMaxProtocolErrors)
	c.MaxPendingRequests = opt.Or(c.MaxPendingRequests, DefaultMaxPendingRequests)
	c.RequestTimeout = opt.Or(c.RequestTimeout, DefaultRequestTimeout)
	c.MaxRequestTimeout = opt.Or(c.MaxRequestTimeout, DefaultMaxRequestTimeout)
	c.Buffer = opt.OrMin(c.Buffer, 0) // 0: the broker's default
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// ClientOptions configures Dial. A nil *ClientOptions and the zero value
// mean the defaults; 0 means the default, a negative value turns a limit
// off. Dial copies the ClientOptions.
type ClientOptions struct {
	// Header is sent with every handshake (for example Authorization).
	Header http.Header
	// HTTPClient performs the handshakes; nil means http.DefaultClient.
	HTTPClient *http.Client
	// MinBackoff and MaxBackoff bound the wait between reconnect attempts,
	// which doubles from MinBackoff up to MaxBackoff with random jitter;
	// 0 or negative means DefaultMinBackoff (100 ms) and DefaultMaxBackoff
	// (5 s): reconnecting cannot be turned off.
	MinBackoff, MaxBackoff time.Duration
	// WriteTimeout bounds one frame write and the greeting round trip of
	// each connection; 0 means DefaultWriteTimeout (10 s), negative means
	// none. A write that times out drops the connection (the client
	// reconnects).
	WriteTimeout time.Duration
	// ReadLimit caps one server frame in bytes; 0 means
	// DefaultClientReadLimit (4 MiB), negative means no limit.
	ReadLimit int64
	// Buffer is the default capacity of each subscription's channel; 0 or
	// negative means DefaultClientBuffer (256).
	Buffer int
	// IdleTimeout drops (and re-establishes) a connection on which nothing
	// arrived, not even the server's keep-alive ping, for this long: a
	// server that vanished without closing is noticed. 0 means
	// DefaultIdleTimeout (60 s; the server pings every 25 s by default),
	// negative turns it off.
	IdleTimeout time.Duration
	// Logger receives reconnects at info level; nil means silent.
	Logger *slog.Logger
}

// Defaults of ClientOptions (WriteTimeout's is DefaultWriteTimeout).
const (
	// DefaultMinBackoff is the default ClientOptions.MinBackoff: 100 ms.
	DefaultMinBackoff = 100 * time.Millisecond
	// DefaultMaxBackoff is the default ClientOptions.MaxBackoff: 5 s.
	DefaultMaxBackoff = 5 * time.Second
	// DefaultClientReadLimit is the default ClientOptions.ReadLimit: 4 MiB.
	DefaultClientReadLimit = 4 << 20
	// DefaultClientBuffer is the default ClientOptions.Buffer: 256 events.
	DefaultClientBuffer = pubsub.DefaultBuffer
	// DefaultIdleTimeout is the default ClientOptions.IdleTimeout: 60 s.
	DefaultIdleTimeout = 60 * time.Second
)

// withDefaults returns a copy of o (nil allowed) with the defaults applied;
// 0 in a numeric field afterwards means off.
func (o *ClientOptions) withDefaults() ClientOptions {
	var c ClientOptions
	if o != nil {
		c = *o
		c.Header = o.Header.Clone()
	}
	c.MinBackoff = opt.OrMin(c.MinBackoff, DefaultMinBackoff)
	c.MaxBackoff = opt.OrMin(c.MaxBackoff, DefaultMaxBackoff)
	c.WriteTimeout = opt.Or(c.WriteTimeout, DefaultWriteTimeout)
	c.ReadLimit = opt.Or(c.ReadLimit, DefaultClientReadLimit)
	c.Buffer = opt.OrMin(c.Buffer, DefaultClientBuffer)
	c.IdleTimeout = opt.Or(c.IdleTimeout, DefaultIdleTimeout)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// readLimit is the argument of websocket.Conn.SetReadLimit for a resolved
// ReadLimit option (0: off).
func readLimit(n int64) int64 {
	if n > 0 {
		return n
	}
	return -1
}
