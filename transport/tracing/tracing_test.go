package tracing_test

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/switchboard-go/switchboard/amqpx"
	"github.com/switchboard-go/switchboard/grpcx"
	pb "github.com/switchboard-go/switchboard/grpcx/pubsubv1"
	"github.com/switchboard-go/switchboard/grpcx/pubsubv1/pubsubv1connect"
	"github.com/switchboard-go/switchboard/internal/testenv"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/sse"
	"github.com/switchboard-go/switchboard/transport"
	"github.com/switchboard-go/switchboard/transport/tracing"
	"github.com/switchboard-go/switchboard/ws"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// node is one hub: a broker wrapped for tracing, with its own
// TracerProvider (recording into a shared recorder), serving REST, SSE,
// WebSocket and gRPC.
type node struct {
	b   pubsub.Broker
	url string
}

func newNode(t *testing.T, b pubsub.Broker, rec *tracetest.SpanRecorder) *node {
	t.Helper()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { require.NoError(t, tp.Shutdown(context.Background())) })
	tr := tracing.New(&tracing.Options{TracerProvider: tp})
	tb := tr.Broker(b)
	obs := tr.Observer()
	mux := http.NewServeMux()
	mux.Handle("/topics/", transport.NewRESTHandler(tb, &transport.RESTOptions{Observer: obs}))
	sh := sse.NewHandler(tb, &sse.Options{Observer: obs})
	mux.Handle("/events", sh)
	wh := ws.NewHandler(tb, &ws.Options{Observer: obs})
	mux.Handle("/ws", wh)
	_, gh := grpcx.NewHandler(tb, &grpcx.Options{Observer: obs})
	gh.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		_ = sh.Close()
		_ = wh.Close()
		_ = gh.Close()
		srv.Close()
	})
	return &node{b: tb, url: srv.URL}
}

// subscribeAll opens an SSE stream, a WebSocket subscription and a gRPC
// (Connect protocol) stream to filter on n, each active when it returns,
// and returns a function that waits for one message on each and returns
// their payloads.
func subscribeAll(t *testing.T, ctx context.Context, n *node, filter string) func() []string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.url+"/events?topic="+filter, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() && lines.Text() != "event: sb-open" { // the subscription is active
	}
	for lines.Scan() && lines.Text() != "" { // the rest of sb-open
	}

	wc, err := ws.Dial(ctx, "ws"+strings.TrimPrefix(n.url, "http")+"/ws", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = wc.Close() })
	wsub, err := wc.Subscribe(ctx, filter, nil)
	require.NoError(t, err)

	gc := pubsubv1connect.NewPubSubServiceClient(http.DefaultClient, n.url)
	gs, err := gc.Subscribe(ctx, connect.NewRequest(&pb.SubscribeRequest{Filters: []string{filter}}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = gs.Close() })
	require.True(t, gs.Receive(), "opened: %v", gs.Err())
	require.NotNil(t, gs.Msg().GetOpened())

	return func() []string {
		var got []string
		for lines.Scan() {
			if d, ok := strings.CutPrefix(lines.Text(), "data: "); ok {
				got = append(got, d) // sse.FormatData: the payload
				break
			}
		}
		ev := <-wsub.C()
		require.NotNil(t, ev.Message)
		got = append(got, string(ev.Message.Data))
		require.True(t, gs.Receive(), "message: %v", gs.Err())
		got = append(got, string(gs.Msg().GetMessage().GetData()))
		return got
	}
}

// publishREST publishes data to topic through n's REST handler.
func publishREST(t *testing.T, n *node, topic, data string) {
	t.Helper()
	resp, err := http.Post(n.url+"/topics/"+topic, "text/plain", strings.NewReader(data))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// requireDeliverySpans waits for the delivery spans of the three
// transports (each is ended right after its write, which the client may
// see first) and checks each is linked to, and a child of, the one
// publish span.
func requireDeliverySpans(t *testing.T, rec *tracetest.SpanRecorder, topic string) {
	t.Helper()
	byName := func() (pub []sdktrace.ReadOnlySpan, del []sdktrace.ReadOnlySpan) {
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
	require.Eventually(t, func() bool { _, del := byName(); return len(del) >= 3 }, 30*time.Second, 10*time.Millisecond)
	pub, del := byName()
	require.Len(t, pub, 1)
	require.Equal(t, trace.SpanKindProducer, pub[0].SpanKind())
	pc := pub[0].SpanContext()
	transports := map[string]bool{}
	for _, d := range del {
		require.Equal(t, trace.SpanKindConsumer, d.SpanKind())
		require.Len(t, d.Links(), 1)
		require.Equal(t, pc.TraceID(), d.Links()[0].SpanContext.TraceID(), "linked to the publish span")
		require.Equal(t, pc.SpanID(), d.Links()[0].SpanContext.SpanID(), "linked to the publish span")
		require.Equal(t, pc.SpanID(), d.Parent().SpanID(), "a child of the publish span: one trace")
		for _, a := range d.Attributes() {
			if a.Key == tracing.AttrTransport {
				transports[a.Value.AsString()] = true
			}
		}
	}
	require.Equal(t, map[string]bool{"sse": true, "ws": true, "grpc": true}, transports)
	require.Len(t, del, 3)
}

// TestDeliverySpansLinkToPublish: one node over Memory.
func TestDeliverySpansLinkToPublish(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	mem := pubsub.NewMemory(nil)
	t.Cleanup(func() { _ = mem.Close() })
	n := newNode(t, mem, rec)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a bound, not a timing assertion
	defer cancel()
	recv := subscribeAll(t, ctx, n, "traced/one")
	publishREST(t, n, "traced/one", "hello")
	require.Equal(t, []string{"hello", "hello", "hello"}, recv())
	requireDeliverySpans(t, rec, "traced/one")
}

// TestTraceCrossesRabbitMQ is the acceptance test: a REST publish
// on node A, delivered over SSE, WebSocket and gRPC on node B, the two
// nodes sharing only RabbitMQ (amqpx), yields delivery spans linked to the
// publish span: the trace context travels in the AMQP headers.
func TestTraceCrossesRabbitMQ(t *testing.T) {
	url := testenv.RabbitMQ(t)
	id := pubsub.NewEpoch()
	o := &amqpx.Options{Exchange: "sbtest." + id, QueuePrefix: "sbtest." + id, NodeQueueExpiry: 10 * time.Second}
	t.Cleanup(func() {
		if conn, err := amqp.Dial(url); err == nil {
			if ch, err := conn.Channel(); err == nil {
				_ = ch.ExchangeDelete(o.Exchange, false, false)
			}
			_ = conn.Close()
		}
	})
	dial := func() pubsub.Broker {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		b, err := amqpx.Dial(ctx, url, o)
		require.NoError(t, err)
		t.Cleanup(func() { _ = b.Close() })
		return b
	}
	rec := tracetest.NewSpanRecorder()
	a := newNode(t, dial(), rec)
	b := newNode(t, dial(), rec)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a bound, not a timing assertion
	defer cancel()
	recv := subscribeAll(t, ctx, b, "traced/amqp")
	publishREST(t, a, "traced/amqp", "across")
	require.Equal(t, []string{"across", "across", "across"}, recv())
	requireDeliverySpans(t, rec, "traced/amqp")
}

// The publish span continues a trace context a publisher put in the
// message header (a device's traceparent user property) when the publish
// context has none, and the caller's header map is not changed.
func TestPublishContinuesHeaderTrace(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer func() { require.NoError(t, tp.Shutdown(context.Background())) }()
	tr := tracing.New(&tracing.Options{TracerProvider: tp})
	mem := pubsub.NewMemory(nil)
	defer mem.Close()
	b := tr.Broker(mem)
	const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	hdr := map[string]string{"traceparent": parent, "k": "v"}
	_, err := b.Publish(context.Background(), pubsub.Message{Topic: "t", Header: hdr})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"traceparent": parent, "k": "v"}, hdr, "the caller's map is untouched")
	spans := rec.Ended()
	require.Len(t, spans, 1)
	require.Equal(t, "0af7651916cd43dd8448eb211c80319c", spans[0].SpanContext().TraceID().String())
	require.Equal(t, "b7ad6b7169203331", spans[0].Parent().SpanID().String())
	p, err := b.(pubsub.HistoryReader).History(context.Background(), "t", pubsub.HistoryOptions{})
	require.NoError(t, err)
	require.Len(t, p.Messages, 1)
	require.Equal(t, "v", p.Messages[0].Header["k"])
	require.Contains(t, p.Messages[0].Header["traceparent"], "0af7651916cd43dd8448eb211c80319c", "the new span's context travels")
	require.NotEqual(t, parent, p.Messages[0].Header["traceparent"])
}
