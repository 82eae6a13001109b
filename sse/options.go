package sse

import (
	"log/slog"
	"time"

	"github.com/switchboard-go/switchboard/internal/opt"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// Format chooses what an event's data lines carry.
type Format int

const (
	// FormatData sends the payload itself, one data line per line of the
	// payload. Browsers decode it as UTF-8 and join lines with LF, so CR and
	// CRLF arrive as LF; use FormatEnvelope for byte-exact binary payloads.
	FormatData Format = iota
	// FormatEnvelope sends the transport JSON envelope (topic, id, cursor,
	// time, header, and the payload as data, text or data_b64) on one data
	// line; payloads round-trip byte for byte.
	FormatEnvelope
)

const (
	// DefaultRetry is the default of Options.Retry and Client.Retry.
	DefaultRetry = 3 * time.Second
	// DefaultKeepAlive is the default of Options.KeepAlive: about the
	// interval browsers and proxies expect.
	DefaultKeepAlive = 15 * time.Second
	// DefaultWriteTimeout is the default of Options.WriteTimeout.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultCoalesce is the default of Options.Coalesce.
	DefaultCoalesce = time.Millisecond
	// DefaultMaxBackoff is the default of Client.MaxBackoff.
	DefaultMaxBackoff = 30 * time.Second
	// DefaultMaxEventBytes is the default of Client.MaxEventBytes: the
	// bound on one line and one event's data.
	DefaultMaxEventBytes = 1 << 20
)

// Options configures a Handler. nil, like the zero value, means every
// default. Durations follow the library's rule: 0 means the default, a
// negative value turns the feature off.
type Options struct {
	// Auth authenticates each stream ("sse") and authorizes each filter
	// (transport.ActionSubscribe). nil allows everyone.
	Auth *transport.Auth
	// Limits: MaxSubscriptions caps the topic filters of one stream (400
	// beyond), MaxConnections the open streams (503 beyond).
	// MaxMessageBytes is not used: the handler only sends.
	Limits transport.Limits
	// Format chooses raw payloads (the default) or the JSON envelope.
	Format Format
	// EventName returns the event: field for a message; "" sends none, so
	// the browser fires "message". nil uses the message's "event" header.
	// A name holding CR, LF or NUL is dropped.
	EventName func(m *pubsub.Message) string
	// Retry is sent once as the retry: field (the browser's reconnection
	// delay); 0 means DefaultRetry, negative sends none.
	Retry time.Duration
	// KeepAlive is the interval of ": ping" comments that keep proxies
	// from closing an idle stream; 0 means DefaultKeepAlive, negative
	// sends none.
	KeepAlive time.Duration
	// WriteTimeout bounds each write to the client; a client that does not
	// read for this long is disconnected. 0 means DefaultWriteTimeout,
	// negative means none.
	WriteTimeout time.Duration
	// Buffer is the stream's subscription buffer in messages; 0 (or
	// negative: a buffer cannot be off) means the broker's default
	// (pubsub.DefaultBuffer for the memory broker). When it overflows the
	// stream ends after the last delivered event.
	Buffer int
	// Coalesce bounds how often a taken-over stream writes: one that wrote
	// less than Coalesce ago waits until then, so that messages arriving
	// faster travel together in one write (one system call, one TCP
	// segment). A stream that was quiet writes at once: only a busy
	// stream's messages wait, at most Coalesce. 0 means DefaultCoalesce,
	// negative writes each batch at once. Streams kept on net/http's
	// goroutine (KeepOnServer, HTTP/2) write at once.
	Coalesce time.Duration
	// KeepOnServer keeps every stream on the goroutine net/http runs it
	// on. By default an HTTP/1.x stream is taken over from net/http once
	// its response has started (http.Hijacker), so that while idle it costs
	// no goroutine and no net/http buffers; see "Idle streams" in the
	// package doc. HTTP/2 streams, and ResponseWriters that cannot be
	// hijacked, always stay.
	KeepOnServer bool
	// CORS allows cross-origin EventSource; nil sends no CORS headers.
	CORS *transport.CORS
	// Logger receives debug and warning events; nil is silent.
	Logger *slog.Logger
	// Observer hears of streams, subscriptions and deliveries (transport
	// name "sse"); nil reports nothing.
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
	o.Retry = opt.Or(o.Retry, DefaultRetry)
	o.KeepAlive = opt.Or(o.KeepAlive, DefaultKeepAlive)
	o.WriteTimeout = opt.Or(o.WriteTimeout, DefaultWriteTimeout)
	o.Coalesce = opt.Or(o.Coalesce, DefaultCoalesce)
	o.Buffer = opt.OrMin(o.Buffer, 0)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
