package tracing_test

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport/tracing"
)

// BenchmarkDelivered is the cost of one delivery to the tracing Observer:
// a message without trace context (a look in its header) and one with a
// traceparent (a delivery span started and ended by the SDK, with no
// exporter: what a batching exporter adds is its own).
func BenchmarkDelivered(b *testing.B) {
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tr := tracing.New(&tracing.Options{TracerProvider: tp})
	o := tr.Observer()
	plain := &pubsub.Message{Topic: "t", Data: []byte("hello"), Header: map[string]string{"k": "v"}}
	traced := &pubsub.Message{Topic: "t", Data: []byte("hello"), Header: map[string]string{
		"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}
	for _, c := range []struct {
		name string
		m    *pubsub.Message
	}{{"untraced", plain}, {"traced", traced}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				o.OnDelivered("ws", c.m, 100)
			}
		})
	}
}
