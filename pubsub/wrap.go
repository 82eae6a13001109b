package pubsub

import "context"

// Middleware decorates the calls a Broker serves, for Wrap. Each field
// gets the call's arguments and next, which runs the wrapped broker (or
// the next middleware); it may change the arguments, wrap the result, or
// refuse the call without calling next. A nil field passes the call
// through unchanged.
type Middleware struct {
	Publish       func(ctx context.Context, msg Message, next func(context.Context, Message) (Receipt, error)) (Receipt, error)
	Subscribe     func(ctx context.Context, filter string, opts *SubscribeOptions, next func(context.Context, string, *SubscribeOptions) (Subscription, error)) (Subscription, error)
	SubscribeMany func(ctx context.Context, filters []string, opts *SubscribeOptions, next func(context.Context, []string, *SubscribeOptions) (Subscription, error)) (Subscription, error)
	History       func(ctx context.Context, filter string, opts HistoryOptions, next func(context.Context, string, HistoryOptions) (HistoryPage, error)) (HistoryPage, error)
}

// Wrap returns b decorated by m: the supported way to add metrics, logging,
// tracing or policies around a Broker. The result keeps b's optional
// interfaces: it implements HistoryReader exactly when b does, and
// MultiSubscriber exactly when b does, so transports that find them by type
// assertion (resume in sse, long polling, REST history, one ordered stream
// for several filters) work through it as they do on b. Capabilities and
// Close go straight to b. The result also has Unwrap() Broker, so an
// optional interface Wrap does not know of is still found with As.
//
// A struct that embeds a Broker to override Publish, by contrast, hides
// every optional interface of the broker it embeds.
func Wrap(b Broker, m Middleware) Broker {
	w := &wrapped{b: b, m: m}
	_, history := b.(HistoryReader)
	_, many := b.(MultiSubscriber)
	switch {
	case history && many:
		return wrappedHM{w}
	case history:
		return wrappedH{w}
	case many:
		return wrappedM{w}
	}
	return w
}

// As finds an implementation of T in b or in the brokers it wraps (through
// their Unwrap() Broker methods, as Wrap's result has), outermost first.
// Use it for an optional interface that needs no decoration, such as a
// readiness check; interfaces Wrap keeps (HistoryReader, MultiSubscriber)
// are found on the wrapper itself by a plain type assertion.
func As[T any](b Broker) (T, bool) {
	for b != nil {
		if t, ok := b.(T); ok {
			return t, true
		}
		u, ok := b.(interface{ Unwrap() Broker })
		if !ok {
			break
		}
		b = u.Unwrap()
	}
	var zero T
	return zero, false
}

// wrapped is Wrap's result for a broker with neither optional interface;
// the other three embed it and add theirs.
type wrapped struct {
	b Broker
	m Middleware
}

func (w *wrapped) Publish(ctx context.Context, msg Message) (Receipt, error) {
	if w.m.Publish == nil {
		return w.b.Publish(ctx, msg)
	}
	return w.m.Publish(ctx, msg, w.b.Publish)
}

func (w *wrapped) Subscribe(ctx context.Context, filter string, opts *SubscribeOptions) (Subscription, error) {
	if w.m.Subscribe == nil {
		return w.b.Subscribe(ctx, filter, opts)
	}
	return w.m.Subscribe(ctx, filter, opts, w.b.Subscribe)
}

func (w *wrapped) Capabilities() Capabilities { return w.b.Capabilities() }
func (w *wrapped) Close() error               { return w.b.Close() }

// Unwrap returns the wrapped broker.
func (w *wrapped) Unwrap() Broker { return w.b }

func (w *wrapped) history(ctx context.Context, filter string, opts HistoryOptions) (HistoryPage, error) {
	next := w.b.(HistoryReader).History
	if w.m.History == nil {
		return next(ctx, filter, opts)
	}
	return w.m.History(ctx, filter, opts, next)
}

func (w *wrapped) subscribeMany(ctx context.Context, filters []string, opts *SubscribeOptions) (Subscription, error) {
	next := w.b.(MultiSubscriber).SubscribeMany
	if w.m.SubscribeMany == nil {
		return next(ctx, filters, opts)
	}
	return w.m.SubscribeMany(ctx, filters, opts, next)
}

type wrappedH struct{ *wrapped }

func (w wrappedH) History(ctx context.Context, filter string, opts HistoryOptions) (HistoryPage, error) {
	return w.history(ctx, filter, opts)
}

type wrappedM struct{ *wrapped }

func (w wrappedM) SubscribeMany(ctx context.Context, filters []string, opts *SubscribeOptions) (Subscription, error) {
	return w.subscribeMany(ctx, filters, opts)
}

type wrappedHM struct{ *wrapped }

func (w wrappedHM) History(ctx context.Context, filter string, opts HistoryOptions) (HistoryPage, error) {
	return w.history(ctx, filter, opts)
}

func (w wrappedHM) SubscribeMany(ctx context.Context, filters []string, opts *SubscribeOptions) (Subscription, error) {
	return w.subscribeMany(ctx, filters, opts)
}

var (
	_ HistoryReader   = wrappedH{}
	_ MultiSubscriber = wrappedM{}
	_ HistoryReader   = wrappedHM{}
	_ MultiSubscriber = wrappedHM{}
)
