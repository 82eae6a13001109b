package ws

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/switchboard-go/switchboard/transport"
	"github.com/switchboard-go/switchboard/transport/metrics"
	"github.com/switchboard-go/switchboard/transport/tracing"
)

// BenchmarkDeliveryObserved is BenchmarkDelivery with each Observer set:
// none (the nil check only), an empty one, Prometheus metrics, and
// metrics with OpenTelemetry tracing (the publish goes straight to the
// broker, so messages carry no trace context and no delivery span is
// started: the cost of a look in the header).
func BenchmarkDeliveryObserved(b *testing.B) {
	m, err := metrics.New(prometheus.NewRegistry(), nil)
	if err != nil {
		b.Fatal(err)
	}
	tp := trace.NewTracerProvider(trace.WithSpanProcessor(tracetest.NewSpanRecorder()))
	tr := tracing.New(&tracing.Options{TracerProvider: tp})
	for _, c := range []struct {
		name string
		obs  *transport.Observer
	}{
		{"none", nil},
		{"empty", &transport.Observer{}},
		{"metrics", m.Observer()},
		{"metrics+tracing", transport.JoinObservers(m.Observer(), tr.Observer())},
	} {
		b.Run(c.name, func(b *testing.B) { benchDelivery(b, c.obs) })
	}
}
