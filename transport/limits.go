package transport

import (
	"time"

	"github.com/switchboard-go/switchboard/internal/opt"
)

// Limits bound what one client can make a transport hold. Zero means the
// default; a negative value turns the limit off.
type Limits struct {
	// MaxMessageBytes caps one published payload or request body; 0 means
	// 1 MiB. Beyond it: 413, WebSocket close 1009, gRPC ResourceExhausted.
	MaxMessageBytes int64
	// MaxSubscriptions caps the subscriptions of one connection; 0 means 100.
	MaxSubscriptions int
	// MaxConnections caps the open connections (or held requests) of one
	// handler; 0 means 10,000. Beyond it: 503 or close 1013.
	MaxConnections int
	// MaxResponseBytes bounds the encoded response to one request, so that
	// no single read can make the process hold much more than this: a
	// history page (REST GET, long poll) is cut at it as well as at its
	// count, and answers "more": true with the cursor to continue from (a
	// page always holds at least one message, however large); a GraphQL
	// result over it is replaced by an error ("too_large"). 0 means
	// DefaultMaxResponseBytes (4 MiB).
	MaxResponseBytes int64
	// ReadTimeout bounds the reading of one request body, counted from
	// when the handler starts reading it (REST publish, GraphQL over HTTP
	// POST): a client that sends its body slower than that, one byte at a
	// time, gets 408 Request Timeout and its connection is closed. 0 means
	// DefaultReadTimeout (30 s), negative means no bound. Streams are not
	// affected: only request bodies are read under it.
	ReadTimeout time.Duration
}

// Defaults for Limits.
const (
	DefaultMaxMessageBytes  = 1 << 20
	DefaultMaxSubscriptions = 100
	DefaultMaxConnections   = 10000
	// DefaultMaxResponseBytes is 4 MiB: four messages of the default
	// MaxMessageBytes, or thousands of small ones, per page.
	DefaultMaxResponseBytes = 4 << 20
	// DefaultReadTimeout bounds the arrival of one request body.
	DefaultReadTimeout = 30 * time.Second
)

// WithDefaults returns l with zero fields set to their defaults and negative
// fields set to 0, meaning "no limit".
func (l Limits) WithDefaults() Limits {
	l.MaxMessageBytes = opt.Or(l.MaxMessageBytes, DefaultMaxMessageBytes)
	l.MaxSubscriptions = opt.Or(l.MaxSubscriptions, DefaultMaxSubscriptions)
	l.MaxConnections = opt.Or(l.MaxConnections, DefaultMaxConnections)
	l.MaxResponseBytes = opt.Or(l.MaxResponseBytes, DefaultMaxResponseBytes)
	l.ReadTimeout = opt.Or(l.ReadTimeout, DefaultReadTimeout)
	return l
}
