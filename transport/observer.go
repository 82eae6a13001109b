package transport

import (
	"context"
	"errors"
	"time"

	"github.com/switchboard-go/switchboard/pubsub"
)

// Observer is the one observation point of every transport: each calls
// the same hooks, so one Observer set on every handler's Options (the
// field is named Observer everywhere) sees all of a server's traffic.
// Adapters build on it: transport/metrics (Prometheus) and
// transport/tracing (OpenTelemetry).
//
// Every field may be nil, and so may the *Observer: a transport then pays
// one nil check per event. The hooks run on the transport's own
// goroutines, often on the delivery path: they must be fast, must not
// block, and must be safe for concurrent use. The events and the messages
// they carry are read-only.
type Observer struct {
	// ConnOpened is called when a transport admits a session: a
	// WebSocket, an SSE stream, a held long poll, a gRPC stream, a GraphQL
	// connection or stream, an MQTT connection. Each is paired with one
	// ConnClosed.
	ConnOpened func(ConnEvent)
	// ConnClosed is called when a session admitted with ConnOpened ends.
	ConnClosed func(ConnEvent)
	// SubStarted is called when a subscription starts delivering.
	SubStarted func(SubEvent)
	// SubEnded is called when a subscription ends, with the reason, and
	// when one is refused before it starts (Refused set, no SubStarted
	// before: by Auth, EndAuth, or by a limit, EndLimit).
	SubEnded func(SubEvent)
	// Published is called when a publish a transport accepted from a
	// client has been answered by the broker (successfully or not).
	Published func(PublishEvent)
	// Delivered is called when a message was written to a client.
	Delivered func(DeliveryEvent)
}

// ConnEvent is a session opening or closing.
type ConnEvent struct {
	// Transport names the transport: "sse", "longpoll", "ws", "grpc",
	// "graphql", "mqtt", "rest".
	Transport string
}

// EndReason says why a subscription ended. It has few values, so it fits a
// metric label.
type EndReason string

// The reasons a subscription ends.
const (
	// EndClient: the client unsubscribed, disconnected or its request ended.
	EndClient EndReason = "client"
	// EndShutdown: the server is shutting down or closing (Shutdown, Close).
	EndShutdown EndReason = "shutdown"
	// EndSlowConsumer: the client fell too far behind: its subscription
	// overflowed (pubsub.ErrSlowConsumer) or a write to it timed out.
	EndSlowConsumer EndReason = "slow_consumer"
	// EndGap: the subscription ended because messages were missed and the
	// transport cannot tell the client in band.
	EndGap EndReason = "gap"
	// EndAuth: the subscription was refused by Auth.
	EndAuth EndReason = "auth"
	// EndLimit: a limit refused or ended it (transport.ErrLimit,
	// pubsub.ErrLimit: subscriptions per connection, a rate limit).
	EndLimit EndReason = "limit"
	// EndBroker: the broker ended it (closed, or lost its connection).
	EndBroker EndReason = "broker"
	// EndError: any other error, such as a failed write.
	EndError EndReason = "error"
)

// ReasonOf maps the error a subscription ended with to its reason: nil and
// context cancellation are EndClient.
func ReasonOf(err error) EndReason {
	switch {
	case err == nil, errors.Is(err, context.Canceled):
		return EndClient
	case errors.Is(err, pubsub.ErrSlowConsumer):
		return EndSlowConsumer
	case errors.Is(err, pubsub.ErrGap):
		return EndGap
	case errors.Is(err, ErrLimit), errors.Is(err, pubsub.ErrLimit):
		return EndLimit // before auth: a hook's limit error is also wrapped in ErrForbidden
	case errors.Is(err, ErrForbidden), errors.Is(err, ErrUnauthenticated):
		return EndAuth
	case errors.Is(err, ErrUnavailable):
		return EndShutdown
	case errors.Is(err, pubsub.ErrClosed), errors.Is(err, pubsub.ErrUnavailable):
		return EndBroker
	}
	return EndError
}

// SubEvent is a subscription starting, ending or being refused.
type SubEvent struct {
	Transport string
	// Filters are the subscription's topic filters (one stream may carry
	// several). Read-only.
	Filters []string
	// Reason is why it ended; "" for SubStarted.
	Reason EndReason
	// Refused reports a subscription refused before it started: no
	// SubStarted was reported for it.
	Refused bool
	// Err is the error it ended with, when there is one.
	Err error
}

// PublishEvent is a publish a transport made for a client.
type PublishEvent struct {
	// Context is the request's context (with its identity and whatever
	// tracing the application's middleware put in it).
	Context   context.Context
	Transport string
	// Message is what was published (the Receipt's ID, Cursor and Time are
	// not set on it). Read-only.
	Message *pubsub.Message
	// Receipt is the broker's answer when Err is nil.
	Receipt pubsub.Receipt
	// Err is the broker's refusal, nil on success.
	Err error
	// Latency is the time Broker.Publish took.
	Latency time.Duration
	// Bytes is the payload size.
	Bytes int
}

// DeliveryEvent is a message written to a client.
type DeliveryEvent struct {
	Transport string
	// Message is the delivered message, shared with other subscribers:
	// read-only.
	Message *pubsub.Message
	// Bytes is what the transport wrote for it (its frame or event, or
	// the payload where the framing is not the transport's to measure).
	Bytes int
}

// OnConnOpened calls o.ConnOpened when both are set.
func (o *Observer) OnConnOpened(transport string) {
	if o != nil && o.ConnOpened != nil {
		o.ConnOpened(ConnEvent{Transport: transport})
	}
}

// OnConnClosed calls o.ConnClosed when both are set.
func (o *Observer) OnConnClosed(transport string) {
	if o != nil && o.ConnClosed != nil {
		o.ConnClosed(ConnEvent{Transport: transport})
	}
}

// OnSubStarted calls o.SubStarted when both are set.
func (o *Observer) OnSubStarted(transport string, filters ...string) {
	if o != nil && o.SubStarted != nil {
		o.SubStarted(SubEvent{Transport: transport, Filters: filters})
	}
}

// OnSubEnded calls o.SubEnded when both are set.
func (o *Observer) OnSubEnded(transport string, reason EndReason, err error, filters ...string) {
	if o != nil && o.SubEnded != nil {
		o.SubEnded(SubEvent{Transport: transport, Filters: filters, Reason: reason, Err: err})
	}
}

// OnSubRefused calls o.SubEnded, when both are set, for a subscription
// refused before it started, with the reason err gives (ReasonOf; an
// error that names no reason counts as EndAuth).
func (o *Observer) OnSubRefused(transport string, err error, filters ...string) {
	if o != nil && o.SubEnded != nil {
		r := ReasonOf(err)
		if r == EndError || r == EndClient {
			r = EndAuth
		}
		o.SubEnded(SubEvent{Transport: transport, Filters: filters, Reason: r, Err: err, Refused: true})
	}
}

// OnPublished calls o.Published when both are set.
func (o *Observer) OnPublished(ev PublishEvent) {
	if o != nil && o.Published != nil {
		o.Published(ev)
	}
}

// OnDelivered calls o.Delivered when both are set.
func (o *Observer) OnDelivered(transport string, m *pubsub.Message, bytes int) {
	if o != nil && o.Delivered != nil {
		o.Delivered(DeliveryEvent{Transport: transport, Message: m, Bytes: bytes})
	}
}

// Observes reports whether o has a Delivered hook, for a transport that
// would do extra work (measure a frame) only for it.
func (o *Observer) Observes() bool { return o != nil && o.Delivered != nil }

// PublishObserved publishes msg on b and reports it to o with its latency.
// Transports call it for the publishes they make for clients.
func PublishObserved(ctx context.Context, o *Observer, transport string, b pubsub.Broker, msg pubsub.Message) (pubsub.Receipt, error) {
	if o == nil || o.Published == nil {
		return b.Publish(ctx, msg)
	}
	start := time.Now()
	rec, err := b.Publish(ctx, msg)
	o.Published(PublishEvent{Context: ctx, Transport: transport, Message: &msg, Receipt: rec,
		Err: err, Latency: time.Since(start), Bytes: len(msg.Data)})
	return rec, err
}

// ObserveBroker returns b wrapped (pubsub.Wrap, so its optional
// interfaces stay) so that every Publish through it is reported to o's
// Published as made by the named transport; b itself when o has no
// Published hook. Use it where a publish happens out of a transport's
// sight: a GraphQL mutation resolver, code of the application.
func ObserveBroker(b pubsub.Broker, o *Observer, transport string) pubsub.Broker {
	if o == nil || o.Published == nil {
		return b
	}
	return pubsub.Wrap(b, pubsub.Middleware{
		Publish: func(ctx context.Context, m pubsub.Message, next func(context.Context, pubsub.Message) (pubsub.Receipt, error)) (pubsub.Receipt, error) {
			start := time.Now()
			rec, err := next(ctx, m)
			o.Published(PublishEvent{Context: ctx, Transport: transport, Message: &m, Receipt: rec,
				Err: err, Latency: time.Since(start), Bytes: len(m.Data)})
			return rec, err
		},
	})
}

// JoinObservers returns an Observer that calls each of obs in turn (nil
// ones are skipped), or nil when none is set.
func JoinObservers(obs ...*Observer) *Observer {
	var set []*Observer
	for _, o := range obs {
		if o != nil {
			set = append(set, o)
		}
	}
	switch len(set) {
	case 0:
		return nil
	case 1:
		return set[0]
	}
	return &Observer{
		ConnOpened: func(ev ConnEvent) {
			for _, o := range set {
				if o.ConnOpened != nil {
					o.ConnOpened(ev)
				}
			}
		},
		ConnClosed: func(ev ConnEvent) {
			for _, o := range set {
				if o.ConnClosed != nil {
					o.ConnClosed(ev)
				}
			}
		},
		SubStarted: func(ev SubEvent) {
			for _, o := range set {
				if o.SubStarted != nil {
					o.SubStarted(ev)
				}
			}
		},
		SubEnded: func(ev SubEvent) {
			for _, o := range set {
				if o.SubEnded != nil {
					o.SubEnded(ev)
				}
			}
		},
		Published: func(ev PublishEvent) {
			for _, o := range set {
				if o.Published != nil {
					o.Published(ev)
				}
			}
		},
		Delivered: func(ev DeliveryEvent) {
			for _, o := range set {
				if o.Delivered != nil {
					o.Delivered(ev)
				}
			}
		},
	}
}
