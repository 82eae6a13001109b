package tracing_test

import (
	"context"
	"fmt"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport/tracing"
)

// A publish through the wrapped broker carries its span's trace context
// in the message header, for every subscriber on every node.
func Example() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	tr := tracing.New(&tracing.Options{TracerProvider: tp})

	mem := pubsub.NewMemory(nil)
	defer mem.Close()
	broker := tr.Broker(mem) // handlers get broker, and Observer: tr.Observer()

	ctx := context.Background()
	sub, _ := broker.Subscribe(ctx, "orders/#", nil)
	defer sub.Close()
	_, _ = broker.Publish(ctx, pubsub.Message{Topic: "orders/42", Data: []byte("paid")})
	m := <-sub.C()

	span := rec.Ended()[0]
	fmt.Println(span.Name())
	fmt.Println(m.Header["traceparent"] == fmt.Sprintf("00-%s-%s-01", span.SpanContext().TraceID(), span.SpanContext().SpanID()))
	// Output:
	// publish orders/42
	// true
}
