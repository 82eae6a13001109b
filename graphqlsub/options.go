package graphqlsub

import (
	"log/slog"
	"time"

	"github.com/switchboard-go/switchboard/transport"
)

// Options configures NewHandler. A nil *Options or the zero value is a good
// default: anyone may connect, no origin other than the request's host may
// open a WebSocket, and the limits of transport.Limits apply.
type Options struct {
	// Auth authenticates each connection: the HTTP request of GraphQL over
	// HTTP and SSE, and for WebSockets the upgrade request's headers plus
	// the connection_init payload (its "token" field, else an
	// "Authorization: Bearer" header). The identity reaches resolvers
	// through transport.IdentityFrom(ctx). nil allows everyone.
	Auth *transport.Auth

	// Limits bound what a client can make the handler hold:
	// MaxMessageBytes caps request bodies and WebSocket messages,
	// MaxSubscriptions caps the operations running on one connection,
	// MaxConnections caps open WebSockets and SSE streams.
	Limits transport.Limits

	// InitTimeout is how long a graphql-transport-ws client has to send
	// connection_init before the socket is closed with 4408; 0 means 3 s
	// (graphql-ws's default), negative means no limit.
	InitTimeout time.Duration

	// KeepAlive is the interval of keep-alives: WebSocket ping frames on
	// graphql-transport-ws connections (a peer that does not answer within
	// the next interval is disconnected), "ka" messages on legacy graphql-ws
	// connections and comments on SSE streams; 0 means 12 s, negative turns
	// them off.
	KeepAlive time.Duration

	// WriteTimeout bounds each write to a client; a client that does not
	// read for this long is disconnected. 0 means 10 s.
	WriteTimeout time.Duration

	// OriginPatterns lists the extra origins allowed to open WebSockets
	// (see websocket.AcceptOptions); the request's own host is always
	// allowed. InsecureSkipVerify allows every origin.
	OriginPatterns     []string
	InsecureSkipVerify bool

	// Logger receives connection-level events at debug level and internal
	// errors at warn level; nil is silent.
	Logger *slog.Logger
}

// Defaults for Options.
const (
	DefaultInitTimeout  = 3 * time.Second
	DefaultKeepAlive    = 12 * time.Second
	DefaultWriteTimeout = 10 * time.Second
)

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	c.Limits = c.Limits.WithDefaults()
	c.InitTimeout = pickDuration(c.InitTimeout, DefaultInitTimeout)
	c.KeepAlive = pickDuration(c.KeepAlive, DefaultKeepAlive)
	c.WriteTimeout = pickDuration(c.WriteTimeout, DefaultWriteTimeout)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// pickDuration maps 0 to def and negative to 0 (off).
func pickDuration(v, def time.Duration) time.Duration {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}
