// Package tracing follows each Switchboard message with OpenTelemetry
// (go.opentelemetry.io/otel): one trace from the publish to every
// delivery, on every transport and across nodes.
//
// Use it to see where a message went and how long each hop took. Wrap the
// broker and set the Observer on every handler:
//
//	tr := tracing.New(nil) // the global TracerProvider and W3C trace context
//	broker = tr.Broker(broker)
//	sseHandler := sse.NewHandler(broker, &sse.Options{Observer: tr.Observer()})
//
// # The publish span
//
// Every publish through the wrapped broker (REST, WebSocket, gRPC,
// MQTT, or Go code calling Publish) gets a producer span "publish
// <topic>". Its parent is the span in the publish's context (an
// instrumented HTTP or gRPC server puts one there) or, when there is none,
// the trace context already in the message's header (a device that sent a
// traceparent MQTT user property). The span's W3C trace context is written
// into a copy of the message's Header, under the keys "traceparent" (and
// "tracestate" when set): every broker carries Header (AMQP headers, MQTT
// 5 user properties, NATS headers, Redis stream fields), so it reaches the
// subscribers of every node.
//
// # Delivery spans
//
// Each message a transport writes to a client becomes a consumer span
// "deliver <topic>", with the transport in the attribute
// switchboard.transport. It is a child of the publish span, so one trace
// shows a message's whole fan-out, and it also links to it (the
// OpenTelemetry messaging conventions' link from consumer to producer). It
// starts when the transport hands the message to the client and ends at
// once: its start time says when each subscriber got the message. A
// message without trace context gets no delivery span. GraphQL results are
// the resolver's, not messages, and get none either.
package tracing

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// ScopeName is the instrumentation scope of the tracer.
const ScopeName = "github.com/switchboard-go/switchboard/transport/tracing"

// Attribute keys beyond OpenTelemetry's messaging conventions.
const (
	// AttrTransport names the transport of a delivery ("sse", "ws", …).
	AttrTransport = attribute.Key("switchboard.transport")
)

// Options tunes New. The zero value uses the global providers.
type Options struct {
	// TracerProvider creates the tracer; nil means otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// Propagator writes and reads the trace context in message headers;
	// nil means W3C trace context (propagation.TraceContext), whose keys
	// are "traceparent" and "tracestate".
	Propagator propagation.TextMapPropagator
}

// Tracing creates the publish and delivery spans. It is safe for
// concurrent use.
type Tracing struct {
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
	fields []string // the header keys prop reads
	obs    *transport.Observer
}

// New returns a Tracing. opts may be nil.
func New(opts *Options) *Tracing {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.TracerProvider == nil {
		o.TracerProvider = otel.GetTracerProvider()
	}
	if o.Propagator == nil {
		o.Propagator = propagation.TraceContext{}
	}
	t := &Tracing{tracer: o.TracerProvider.Tracer(ScopeName), prop: o.Propagator, fields: o.Propagator.Fields()}
	t.obs = &transport.Observer{Delivered: t.delivered}
	return t
}

// Broker wraps b (with pubsub.Wrap, so b's history and multi-filter
// subscriptions stay usable) so that every publish starts a publish span
// and carries its trace context in the message header.
func (t *Tracing) Broker(b pubsub.Broker) pubsub.Broker {
	return pubsub.Wrap(b, pubsub.Middleware{Publish: t.publish})
}

// Observer returns the Observer that starts the delivery spans: set it on
// every handler's Options (with transport.JoinObservers to add others).
func (t *Tracing) Observer() *transport.Observer { return t.obs }

// Inject writes the trace context of ctx into h, a message header, and
// returns h (a new map when h is nil and there is something to write).
func (t *Tracing) Inject(ctx context.Context, h map[string]string) map[string]string {
	c := headerCarrier{h: h}
	t.prop.Inject(ctx, &c)
	return c.h
}

// Extract returns ctx with the trace context found in h, a message header.
func (t *Tracing) Extract(ctx context.Context, h map[string]string) context.Context {
	return t.prop.Extract(ctx, &headerCarrier{h: h})
}

func (t *Tracing) publish(ctx context.Context, m pubsub.Message, next func(context.Context, pubsub.Message) (pubsub.Receipt, error)) (pubsub.Receipt, error) {
	parent := ctx
	if !trace.SpanContextFromContext(ctx).IsValid() && len(m.Header) > 0 {
		parent = t.Extract(ctx, m.Header)
	}
	ctx, span := t.tracer.Start(parent, "publish "+m.Topic, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("messaging.system", "switchboard"),
			attribute.String("messaging.operation.type", "send"),
			attribute.String("messaging.destination.name", m.Topic),
			attribute.Int("messaging.message.body.size", len(m.Data)),
		))
	defer span.End()
	// A copy: the caller's map may be shared or reused.
	h := make(map[string]string, len(m.Header)+2)
	for k, v := range m.Header {
		h[k] = v
	}
	m.Header = t.Inject(ctx, h)
	r, err := next(ctx, m)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return r, err
	}
	span.SetAttributes(attribute.String("messaging.message.id", r.ID))
	return r, nil
}

// delivered starts and ends the delivery span of one message.
func (t *Tracing) delivered(ev transport.DeliveryEvent) {
	m := ev.Message
	if m == nil || !t.carries(m.Header) {
		return // the common untraced case costs a map lookup or two
	}
	ctx := t.Extract(context.Background(), m.Header)
	pub := trace.SpanContextFromContext(ctx)
	if !pub.IsValid() {
		return
	}
	_, span := t.tracer.Start(ctx, "deliver "+m.Topic, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithLinks(trace.Link{SpanContext: pub}),
		trace.WithAttributes(
			attribute.String("messaging.system", "switchboard"),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.destination.name", m.Topic),
			attribute.String("messaging.message.id", m.ID),
			attribute.Int("messaging.message.body.size", len(m.Data)),
			AttrTransport.String(ev.Transport),
		))
	span.End()
}

// carries reports whether h holds one of the propagator's keys.
func (t *Tracing) carries(h map[string]string) bool {
	if len(h) == 0 {
		return false
	}
	for _, f := range t.fields {
		if _, ok := h[f]; ok {
			return true
		}
	}
	return false
}

// headerCarrier adapts a message header to propagation.TextMapCarrier.
type headerCarrier struct{ h map[string]string }

func (c *headerCarrier) Get(key string) string { return c.h[key] }

func (c *headerCarrier) Set(key, value string) {
	if c.h == nil {
		c.h = make(map[string]string, 2)
	}
	c.h[key] = value
}

func (c *headerCarrier) Keys() []string {
	keys := make([]string, 0, len(c.h))
	for k := range c.h {
		keys = append(keys, k)
	}
	return keys
}
