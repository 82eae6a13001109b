package graphqlsub

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/switchboard-go/switchboard/internal/opt"
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
	// MaxConnections caps open WebSockets and SSE streams, ReadTimeout
	// bounds the reading of a POST body (408 and the connection closed
	// beyond it), and MaxResponseBytes caps the JSON "data" of a query or
	// mutation result (default 4 MiB; a bigger result is replaced by
	// "data": null and an error whose extensions.code is "too_large"). The
	// budget also reaches resolvers through ResponseBudget(ctx), so that a
	// resolver reading history stops before the result grows past it.
	Limits transport.Limits

	// MaxCost caps the estimated cost of an operation, checked on every
	// transport before the Executor sees it: every field counts 1 (each
	// alias separately, fragments counted where spread), and the fields
	// selected under a field with a "limit", "first" or "last" argument
	// count that many times. Over it, the operation is refused with a
	// request error whose extensions.code is "too_costly". 0 means
	// DefaultMaxCost, negative means no limit.
	MaxCost int64

	// MaxDepth caps the nesting of fields in an operation (fragments
	// expanded), checked with MaxCost; 0 means DefaultMaxDepth, negative
	// means no limit.
	MaxDepth int

	// InitTimeout is how long a WebSocket client has to send
	// connection_init before the socket is closed with 4408; 0 means
	// DefaultInitTimeout (graphql-ws's default), negative means no limit.
	InitTimeout time.Duration

	// KeepAlive is the interval of keep-alives: WebSocket ping frames on
	// graphql-transport-ws connections (a peer that does not answer within
	// the next interval is disconnected), "ka" messages on legacy graphql-ws
	// connections and comments on SSE streams; 0 means DefaultKeepAlive,
	// negative turns them off.
	KeepAlive time.Duration

	// WriteTimeout bounds each write to a client; a client that does not
	// read for this long is disconnected. 0 means DefaultWriteTimeout,
	// negative means no bound.
	WriteTimeout time.Duration

	// OriginPatterns lists the extra origins allowed to open WebSockets
	// (see websocket.AcceptOptions) and to send browser POST, PUT and
	// DELETE requests (mutations); the request's own host is always
	// allowed. Other cross-origin browser requests with those methods get
	// 403 (http.CrossOriginProtection), so a page on another site cannot
	// run mutations with the user's cookies. InsecureSkipVerify allows
	// every origin.
	OriginPatterns     []string
	InsecureSkipVerify bool

	// ShareSubscriptions, when set, is asked for every subscription
	// operation whether it may share one execution with the others that
	// have the same identity (transport.IdentityFrom, compared by value),
	// document, operation name, variables and extensions: the Executor
	// then runs it once for all of them, and each result is encoded once
	// and written to every subscriber. Return true only for operations
	// whose results do not depend on when the subscriber joined (no
	// resume from a cursor: a subscriber joining a running execution gets
	// the events from then on) nor on anything in the context but the
	// identity (the shared execution's context carries the identity only,
	// and lives until its last subscriber leaves); see "Shared
	// subscriptions" in the package documentation. nil shares nothing.
	ShareSubscriptions func(ctx context.Context, req *Request) bool

	// Logger receives connection-level events at debug level and internal
	// errors at warn level; nil is silent.
	Logger *slog.Logger
	// Observer hears of connections and streams, of subscription
	// operations (their start and end; the event's Filters are empty,
	// since the resolver picks the topics) and of the results written
	// (Delivered with a nil Message), as transport name "graphql"; nil
	// reports nothing.
	Observer *transport.Observer
}

const (
	// DefaultInitTimeout is Options.InitTimeout's default, graphql-ws's.
	DefaultInitTimeout = 3 * time.Second
	// DefaultKeepAlive is Options.KeepAlive's default.
	DefaultKeepAlive = 12 * time.Second
	// DefaultWriteTimeout is Options.WriteTimeout's default.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultMaxCost is Options.MaxCost's default: a page of 1,000 items
	// with a few fields each (gophers.BrokerSchema's largest
	// "messages(limit: 1000) { id topic data cursor time }" costs 5,001),
	// not 300 aliases of it (300,300).
	DefaultMaxCost = 10000
	// DefaultMaxDepth is Options.MaxDepth's default.
	DefaultMaxDepth = 20
)

// withDefaults returns a copy of o (nil: the zero Options) with the
// defaults applied.
func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	c.OriginPatterns = slices.Clone(c.OriginPatterns)
	c.Limits = c.Limits.WithDefaults()
	c.InitTimeout = opt.Or(c.InitTimeout, DefaultInitTimeout)
	c.KeepAlive = opt.Or(c.KeepAlive, DefaultKeepAlive)
	c.WriteTimeout = opt.Or(c.WriteTimeout, DefaultWriteTimeout)
	c.MaxCost = opt.Or(c.MaxCost, DefaultMaxCost)
	c.MaxDepth = opt.Or(c.MaxDepth, DefaultMaxDepth)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
