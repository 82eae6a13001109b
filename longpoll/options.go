package longpoll

import (
	"log/slog"
	"time"

	"github.com/switchboard-go/switchboard/internal/opt"
	"github.com/switchboard-go/switchboard/transport"
)

const (
	// DefaultTimeout is the default of Options.Timeout: under the 30 s
	// after which many proxies close an idle request.
	DefaultTimeout = 25 * time.Second
	// DefaultMaxTimeout is the default of Options.MaxTimeout.
	DefaultMaxTimeout = 2 * DefaultTimeout
	// DefaultMaxBatch is the default of Options.MaxBatch.
	DefaultMaxBatch = 100
)

// Options configures a Handler. nil, like the zero value, means every
// default. Numbers follow the library's rule: 0 means the default, and a
// negative value turns the feature off where it can be off.
type Options struct {
	// Auth authenticates each poll ("longpoll") and authorizes each filter
	// (transport.ActionSubscribe). nil allows everyone.
	Auth *transport.Auth
	// Limits: MaxSubscriptions caps the topic filters of one poll (400
	// beyond), MaxConnections the polls in progress (503 beyond), and
	// MaxResponseBytes the envelopes of one batch (default 4 MiB; a batch
	// cut there answers "more": true, with the cursor of its last message).
	Limits transport.Limits
	// Timeout is how long an empty poll is held when the request has no
	// timeout parameter; 0 means DefaultTimeout, negative answers at once.
	// It is capped at MaxTimeout.
	Timeout time.Duration
	// MaxTimeout caps the timeout parameter; 0 (or negative: the cap
	// cannot be off) means DefaultMaxTimeout, or twice Timeout when that
	// is longer.
	MaxTimeout time.Duration
	// MaxBatch caps the messages of one response (the limit parameter may
	// ask for fewer); 0 (or negative) means DefaultMaxBatch.
	MaxBatch int
	// CORS allows polls from pages on other origins; nil sends no CORS
	// headers.
	CORS *transport.CORS
	// Logger receives debug events; nil is silent.
	Logger *slog.Logger
	// Observer hears of polls (as sessions and as subscriptions) and the
	// messages they answer with (transport name "longpoll"); nil reports
	// nothing.
	Observer *transport.Observer
}

// withDefaults returns a copy of *opts (nil: the zero value) with the
// defaults applied.
func (opts *Options) withDefaults() Options {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.Limits = o.Limits.WithDefaults()
	o.Timeout = opt.Or(o.Timeout, DefaultTimeout)
	o.MaxTimeout = opt.OrMin(o.MaxTimeout, max(DefaultMaxTimeout, 2*o.Timeout))
	o.Timeout = min(o.Timeout, o.MaxTimeout)
	o.MaxBatch = opt.OrMin(o.MaxBatch, DefaultMaxBatch)
	return o
}
