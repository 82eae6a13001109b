package main

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	pb "github.com/switchboard-go/switchboard/grpcx/pubsubv1"
	"github.com/switchboard-go/switchboard/grpcx/pubsubv1/pubsubv1connect"
	"github.com/switchboard-go/switchboard/internal/testenv"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
	"github.com/switchboard-go/switchboard/transport/tracing"
	"github.com/switchboard-go/switchboard/ws"
)

// TestHubTraceCrossesRabbitMQ is the acceptance test on the hub
// itself: two hubs started with -tracing on one RabbitMQ exchange; one
// REST publish on hub A, delivered over SSE, WebSocket and gRPC on hub B,
// yields delivery spans linked to the publish span (spans recorded in
// memory instead of exported over OTLP).
func TestHubTraceCrossesRabbitMQ(t *testing.T) {
	url := testenv.RabbitMQ(t)
	rec := tracetest.NewSpanRecorder()
	saved := newTracerProvider
	t.Cleanup(func() { newTracerProvider = saved })
	newTracerProvider = func(context.Context) (trace.TracerProvider, func(context.Context) error, error) {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
		return tp, tp.Shutdown, nil
	}
	exchange := "sbtest." + pubsub.NewEpoch()
	t.Cleanup(func() {
		if conn, err := amqp.Dial(url); err == nil {
			if ch, err := conn.Channel(); err == nil {
				_ = ch.ExchangeDelete(exchange, false, false)
			}
			_ = conn.Close()
		}
	})
	args := []string{"-tracing", "-broker", url, "-amqp-exchange", exchange, "-amqp-history=false"}
	a := startHub(t, args...)
	b := startHub(t, args...)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a bound, not a timing assertion
	defer cancel()
	const topic = "traced/hub"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b+"/events?format=envelope&topic="+topic, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() && lines.Text() != "event: sb-open" {
	}
	for lines.Scan() && lines.Text() != "" {
	}
	wc, err := ws.Dial(ctx, "ws"+strings.TrimPrefix(b, "http")+"/ws", nil)
	require.NoError(t, err)
	defer wc.Close()
	wsub, err := wc.Subscribe(ctx, topic, nil)
	require.NoError(t, err)
	gs, err := pubsubv1connect.NewPubSubServiceClient(http.DefaultClient, b).Subscribe(ctx,
		connect.NewRequest(&pb.SubscribeRequest{Filters: []string{topic}}))
	require.NoError(t, err)
	defer gs.Close()
	require.True(t, gs.Receive(), "opened: %v", gs.Err())

	pr, err := http.Post(a+"/topics/"+topic, "text/plain", strings.NewReader("across"))
	require.NoError(t, err)
	pr.Body.Close()
	require.Equal(t, http.StatusOK, pr.StatusCode)

	for lines.Scan() { // the SSE event (the hub sends envelopes)
		if d, ok := strings.CutPrefix(lines.Text(), "data: "); ok {
			m, err := transport.DecodeEnvelope([]byte(d))
			require.NoError(t, err)
			require.Equal(t, "across", string(m.Data))
			require.NotEmpty(t, m.Header["traceparent"], "the trace context rode in the header")
			break
		}
	}
	require.Equal(t, "across", string((<-wsub.C()).Message.Data))
	require.True(t, gs.Receive(), "message: %v", gs.Err())
	require.Equal(t, "across", string(gs.Msg().GetMessage().GetData()))

	spans := func() (pub, del []sdktrace.ReadOnlySpan) {
		for _, s := range rec.Ended() {
			switch s.Name() {
			case "publish " + topic:
				pub = append(pub, s)
			case "deliver " + topic:
				del = append(del, s)
			}
		}
		return pub, del
	}
	require.Eventually(t, func() bool { _, del := spans(); return len(del) >= 3 }, 30*time.Second, 10*time.Millisecond)
	pub, del := spans()
	require.Len(t, pub, 1)
	require.Len(t, del, 3)
	got := map[string]bool{}
	for _, d := range del {
		require.Len(t, d.Links(), 1)
		require.Equal(t, pub[0].SpanContext().SpanID(), d.Links()[0].SpanContext.SpanID())
		require.Equal(t, pub[0].SpanContext().TraceID(), d.SpanContext().TraceID(), "one trace")
		for _, kv := range d.Attributes() {
			if kv.Key == tracing.AttrTransport {
				got[kv.Value.AsString()] = true
			}
		}
	}
	require.Equal(t, map[string]bool{"sse": true, "ws": true, "grpc": true}, got)
}
