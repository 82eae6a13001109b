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
	DefaultReadTimeout      = 30 * time.Second
)

// WithDefaults returns l with zero fields set to their defaults and negative
// fields set to 0, meaning "no limit".
func (l Limits) WithDefaults() Limits {
	l.MaxMessageBytes = opt.Or(l.MaxMessageBytes, DefaultMaxMessageBytes)
	l.MaxSubscriptions = opt.Or(l.MaxSubscriptions, DefaultMaxSubscriptions)
	l.MaxConnections = opt.Or(l.MaxConnections, DefaultMaxConnections)
	l.ReadTimeout = opt.Or(l.ReadTimeout, DefaultReadTimeout)
	return l
}
