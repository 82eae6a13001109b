package main

import (
	"context"
	"flag"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchboard-go/switchboard/transport"
	"github.com/switchboard-go/switchboard/transport/tracing"
)

var tracingOn bool

// newTracerProvider returns the TracerProvider -tracing uses and its
// shutdown (which flushes the spans). Tests replace it.
var newTracerProvider = func(ctx context.Context) (trace.TracerProvider, func(context.Context) error, error) {
	// OTLP over HTTP, configured by the standard environment variables
	// (OTEL_EXPORTER_OTLP_ENDPOINT, default http://localhost:4318).
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, nil, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "switchboard-hub"))))
	return tp, tp.Shutdown, nil
}

// Tracing: -tracing follows every message with OpenTelemetry (see
// transport/tracing): a span per publish, whose traceparent travels in the
// message header to every hub sharing the broker, and a span per delivery,
// on every transport. Spans go to an OTLP collector
// (OTEL_EXPORTER_OTLP_ENDPOINT; Jaeger and Grafana Tempo accept OTLP).
func init() {
	extraFlags = append(extraFlags, func(fs *flag.FlagSet) {
		fs.BoolVar(&tracingOn, "tracing", false, "export OpenTelemetry spans of every publish and delivery over OTLP/HTTP (OTEL_EXPORTER_OTLP_ENDPOINT)")
	})
	setups = append(setups, func(h *hub) error {
		if !tracingOn {
			return nil
		}
		tp, shutdown, err := newTracerProvider(h.ctx)
		if err != nil {
			return err
		}
		tr := tracing.New(&tracing.Options{TracerProvider: tp})
		h.broker = tr.Broker(h.broker)
		h.observer = transport.JoinObservers(h.observer, tr.Observer())
		h.goBackground(func() {
			<-h.ctx.Done() // the hub is stopping: flush what was recorded
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := shutdown(ctx); err != nil {
				h.log.Warn("tracing shutdown", "err", err)
			}
		})
		return nil
	})
}
