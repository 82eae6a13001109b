package grpcx

import (
	"log/slog"
	"time"

	"connectrpc.com/connect"

	"github.com/switchboard-go/switchboard/transport"
)

// Options configures NewHandler. The zero value (or nil) is valid: anyone may
// publish and subscribe, with the default limits. NewHandler copies it, so
// changing it afterwards has no effect. For numbers and durations, 0 means
// the default and a negative value turns the limit off.
type Options struct {
	// Auth authenticates each call once (from its request headers: a bearer
	// token or HTTP Basic credentials) and authorizes every publish,
	// subscribe and request, and the group a subscribe names
	// (transport.ActionJoin). Refusals are Unauthenticated or
	// PermissionDenied.
	Auth *transport.Auth

	// Limits: MaxMessageBytes caps a published payload plus its header
	// (default 1 MiB); MaxSubscriptions caps the filters of one Subscribe
	// call and the subscriptions of one Session (default 100);
	// MaxConnections caps the open streams (Subscribe, PublishStream and
	// Session calls) of the handler (default 10,000). Beyond them:
	// ResourceExhausted (Unavailable for MaxConnections).
	Limits transport.Limits

	// ReadLimit caps one encoded request message, in bytes; 0 means
	// DefaultReadLimit (4 MiB), a negative value means no limit. Beyond
	// it: ResourceExhausted.
	ReadLimit int

	// Buffer is each subscription's delivery buffer, in messages; 0 (or a
	// negative value: a buffer cannot be off) means the broker's default
	// (pubsub.DefaultBuffer for the brokers of this module). A client that
	// falls this far behind is ended with ResourceExhausted and the cursor
	// to resume from.
	Buffer int

	// MaxBatch caps the messages of one PublishStream call; 0 means
	// DefaultMaxBatch (10,000), a negative value means no limit. Beyond it
	// the call ends with ResourceExhausted (the summary of what was
	// published is lost to the client, so keep batches under the limit).
	MaxBatch int

	// RequestTimeout bounds how long Request waits for a reply when the
	// client set no shorter deadline; 0 means DefaultRequestTimeout (30 s),
	// a negative value means only the client's deadline applies.
	RequestTimeout time.Duration

	// CORS lets browser pages on other origins call the service (gRPC-Web
	// and Connect); nil sends no CORS headers, so only same-origin pages
	// can. Nil AllowHeaders and ExposeHeaders mean the gRPC-Web and Connect
	// headers (and the resume cursor trailer).
	CORS *transport.CORS

	// NoReflection leaves out the gRPC server reflection handlers in
	// Handler.Register; NoHealth leaves out the health handler.
	NoReflection, NoHealth bool

	// CompressMinBytes is the smallest response message connect compresses
	// (gzip, when the client accepts it); 0 means DefaultCompressMinBytes
	// (4 KiB), a negative value compresses every message (connect's
	// default). Compressing small messages once per stream costs more CPU
	// than it saves: with 1,000 streams of 256-byte messages, gzip took
	// 70 % of the server's time.
	CompressMinBytes int

	// HandlerOptions are passed to connect (interceptors, compression, …)
	// after the handler's own WithReadMaxBytes and WithCompressMinBytes,
	// so they take precedence.
	HandlerOptions []connect.HandlerOption

	// Logger receives internal errors; nil means silent.
	Logger *slog.Logger
	// Observer hears of streams, subscriptions, publishes and deliveries
	// of gRPC, Connect and gRPC-Web calls (transport name "grpc"); nil
	// reports nothing.
	Observer *transport.Observer
}

// DefaultReadLimit is the request message limit, in bytes, used when
// Options.ReadLimit is 0.
const DefaultReadLimit = 4 << 20

// DefaultCompressMinBytes is used when Options.CompressMinBytes is 0.
const DefaultCompressMinBytes = 4 << 10

// DefaultMaxBatch is used when Options.MaxBatch is 0.
const DefaultMaxBatch = 10000

// DefaultRequestTimeout is used when Options.RequestTimeout is 0.
const DefaultRequestTimeout = 30 * time.Second
