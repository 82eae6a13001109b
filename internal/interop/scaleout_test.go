package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/amqpx"
	"github.com/switchboard-go/switchboard/grpcx"
	pb "github.com/switchboard-go/switchboard/grpcx/pubsubv1"
	"github.com/switchboard-go/switchboard/grpcx/pubsubv1/pubsubv1connect"
	"github.com/switchboard-go/switchboard/internal/testenv"
	"github.com/switchboard-go/switchboard/mqttx"
	"github.com/switchboard-go/switchboard/natsx"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/redisx"
	"github.com/switchboard-go/switchboard/sse"
	"github.com/switchboard-go/switchboard/transport"
	"github.com/switchboard-go/switchboard/ws"
)

// scaleEngine is one scale-out broker: brokers dials two Brokers on the
// same server and namespace (two hub nodes), closed and cleaned up at the
// end of the test.
type scaleEngine struct {
	name    string
	history bool // messages carry cursors shared by every node
	brokers func(t *testing.T) (a, b pubsub.Broker)
}

var scaleEngines = []scaleEngine{
	{"amqpx", true, scaleAMQP},
	{"natsx", true, scaleNATS},
	{"redisx", true, scaleRedis},
	{"mqttx", false, scaleMQTT},
}

// TestScaleOut is issue 19's "two hubs on each engine" check: two nodes
// share one broker server; a REST publish on node A reaches an SSE, a
// WebSocket and a Connect (gRPC) client on node B byte for byte with the
// same id (and, with history, the same cursor). With history, clients that
// were on node B resume on node A, SSE with Last-Event-ID and gRPC with
// since, and get exactly what they missed, in order, then live messages.
func TestScaleOut(t *testing.T) {
	for _, e := range scaleEngines {
		t.Run(e.name, func(t *testing.T) { testScaleOut(t, e) })
	}
}

func testScaleOut(t *testing.T, e scaleEngine) {
	brokerA, brokerB := e.brokers(t)
	a, b := scaleNode(t, brokerA), scaleNode(t, brokerB)
	hc := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(hc.CloseIdleConnections)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)

	root := "scale" + pubsub.NewEpoch() // Mosquitto has no namespace of ours
	filter, topic := root+"/#", root+"/room1"
	sseURL := func(node string) string { return node + "/events?topic=" + url.QueryEscape(filter) }

	// Three clients on node B, each live before anything is published.
	sseB := startScaleSSE(t, hc, sseURL(b.URL), "")
	open := scaleRecv(t, ctx, sseB.events, "SSE sb-open on node B")
	require.Equal(t, "sb-open", open.Type)
	wc, err := ws.Dial(ctx, b.URL+"/ws", &ws.ClientOptions{HTTPClient: hc})
	require.NoError(t, err)
	t.Cleanup(func() { _ = wc.Close() })
	wsub, err := wc.Subscribe(ctx, filter, nil)
	require.NoError(t, err)
	grpcB := startScaleGRPC(t, hc, b.URL, &pb.SubscribeRequest{Filters: []string{filter}})
	opened := scaleRecv(t, ctx, grpcB.responses, "gRPC Opened on node B").GetOpened()
	require.NotNil(t, opened, "the first event of a subscription is Opened")
	require.Nil(t, opened.GetGap())

	// A REST publish on node A reaches all three on node B.
	first := scalePost(t, ctx, hc, a.URL, topic, 0)
	require.NotEmpty(t, first.ID)
	if e.history {
		require.NotEmpty(t, first.Cursor)
	} else {
		require.Empty(t, first.Cursor, "%s keeps no history", e.name)
	}
	want := scaleWant{topic: topic, n: 0, receipt: first, history: e.history}
	lastSSE := scaleSSEMessage(t, ctx, sseB, want, "SSE on node B")
	scaleWSMessage(t, ctx, wsub, want)
	lastGRPC := scaleGRPCMessage(t, ctx, grpcB, want, "gRPC on node B")
	if !e.history {
		return // no cursors: nothing to resume from
	}

	// SSE and gRPC go away; two messages are published on node B while they
	// are gone (the WebSocket client stays and sees them live).
	sseB.stop()
	grpcB.stop()
	missed := []scaleWant{
		{topic: topic, n: 1, receipt: scalePost(t, ctx, hc, b.URL, topic, 1), history: true},
		{topic: topic, n: 2, receipt: scalePost(t, ctx, hc, b.URL, topic, 2), history: true},
	}
	for _, w := range missed {
		scaleWSMessage(t, ctx, wsub, w)
	}

	// Behind a load balancer they come back on node A.
	sseA := startScaleSSE(t, hc, sseURL(a.URL), lastSSE)
	grpcA := startScaleGRPC(t, hc, a.URL, &pb.SubscribeRequest{Filters: []string{filter}, Since: lastGRPC})
	opened = scaleRecv(t, ctx, grpcA.responses, "gRPC Opened on node A").GetOpened()
	require.NotNil(t, opened, "the first event of a subscription is Opened")
	require.Nil(t, opened.GetGap(), "node A's history reaches back to node B's cursor")
	for _, w := range missed {
		scaleSSEMessage(t, ctx, sseA, w, "SSE resumed on node A")
		scaleGRPCMessage(t, ctx, grpcA, w, "gRPC resumed on node A")
	}
	// Then live: the next message after the missed two is a new one.
	live := scaleWant{topic: topic, n: 3, receipt: scalePost(t, ctx, hc, a.URL, topic, 3), history: true}
	scaleSSEMessage(t, ctx, sseA, live, "SSE live on node A")
	scaleGRPCMessage(t, ctx, grpcA, live, "gRPC live on node A")
	scaleWSMessage(t, ctx, wsub, live)
}

// scaleNode serves REST, SSE (envelopes), WebSocket and gRPC/Connect over
// b, like one hub process, stopped with transport.Shutdown at the end.
func scaleNode(t *testing.T, b pubsub.Broker) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/topics/", transport.NewRESTHandler(b, nil))
	s := sse.NewHandler(b, &sse.Options{Format: sse.FormatEnvelope})
	mux.Handle("/events", s)
	w := ws.NewHandler(b, nil)
	mux.Handle("/ws", w)
	path, g := grpcx.NewHandler(b, nil)
	mux.Handle(path, g)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = transport.Shutdown(ctx, srv.Config, s, w, g)
		srv.Close()
	})
	return srv
}

// scalePayload is message n's payload: not UTF-8, not JSON, with line
// breaks and a quote, so only a byte-exact path delivers it unchanged.
func scalePayload(n int) []byte {
	return fmt.Appendf(nil, "\x00\xff msg %d\r\n\"é\n", n)
}

// scalePost publishes message n on topic with a REST POST to node.
func scalePost(t *testing.T, ctx context.Context, hc *http.Client, node, topic string, n int) transport.PublishResponse {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, node+"/topics/"+topic, bytes.NewReader(scalePayload(n)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Sb-Header-Seq", fmt.Sprint(n))
	res, err := hc.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var receipt transport.PublishResponse
	require.NoError(t, json.NewDecoder(res.Body).Decode(&receipt))
	require.Equal(t, http.StatusOK, res.StatusCode)
	return receipt
}

// scaleWant is what a client must receive for message n.
type scaleWant struct {
	topic   string
	n       int
	receipt transport.PublishResponse
	history bool
}

func (w scaleWant) check(t *testing.T, m pubsub.Message, via string) {
	t.Helper()
	require.Equal(t, w.topic, m.Topic, via)
	require.Equal(t, scalePayload(w.n), m.Data, "%s: the payload is byte-identical", via)
	require.Equal(t, fmt.Sprint(w.n), m.Header["seq"], via)
	require.Equal(t, w.receipt.ID, m.ID, "%s: the message id survives the hop between nodes", via)
	if w.history {
		require.Equal(t, w.receipt.Cursor, m.Cursor, "%s: cursors are the same on every node", via)
	}
}

// scaleSSEMessage reads the next message event (failing on sb-reset) and
// returns its event id.
func scaleSSEMessage(t *testing.T, ctx context.Context, c *scaleSSE, w scaleWant, via string) string {
	t.Helper()
	for {
		e := scaleRecv(t, ctx, c.events, via)
		require.NotEqual(t, "sb-reset", e.Type, "%s: no gap (%s)", via, e.Data)
		if e.Type != "" {
			continue // sb-open
		}
		m, err := transport.DecodeEnvelope([]byte(e.Data))
		require.NoError(t, err, via)
		w.check(t, m, via)
		if w.history {
			require.Equal(t, w.receipt.Cursor, e.ID, "%s: the event id is the cursor", via)
		}
		return e.ID
	}
}

func scaleWSMessage(t *testing.T, ctx context.Context, sub *ws.Subscription, w scaleWant) {
	t.Helper()
	ev := scaleRecv(t, ctx, sub.C(), "WebSocket on node B")
	require.False(t, ev.Gap, "WebSocket on node B: no gap")
	require.NotNil(t, ev.Message)
	w.check(t, *ev.Message, "WebSocket on node B")
}

// scaleGRPCMessage reads the next response, which must be a message, and
// returns its cursor.
func scaleGRPCMessage(t *testing.T, ctx context.Context, c *scaleGRPC, w scaleWant, via string) string {
	t.Helper()
	got := scaleRecv(t, ctx, c.responses, via).GetMessage()
	require.NotNil(t, got, "%s: a message", via)
	m := pubsub.Message{Topic: got.GetTopic(), Data: got.GetData(), Header: got.GetHeader(), ID: got.GetId(), Cursor: got.GetCursor()}
	w.check(t, m, via)
	return got.GetCursor()
}

// scaleRecv waits for the next value on c, failing when c is closed or ctx
// ends first.
func scaleRecv[T any](t *testing.T, ctx context.Context, c <-chan T, what string) T {
	t.Helper()
	select {
	case v, ok := <-c:
		if !ok {
			t.Fatalf("%s: the stream ended", what)
		}
		return v
	case <-ctx.Done():
		t.Fatalf("%s: nothing arrived: %v", what, ctx.Err())
	}
	var zero T
	return zero
}

// scaleSSE is an sse.Client running in its own goroutine.
type scaleSSE struct {
	events <-chan sse.Event
	stop   func() // ends the client and waits for it
}

func startScaleSSE(t *testing.T, hc *http.Client, streamURL, lastEventID string) *scaleSSE {
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan sse.Event, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c := &sse.Client{URL: streamURL, HTTPClient: hc, LastEventID: lastEventID}
		_ = c.Run(ctx, func(e sse.Event) error {
			select {
			case events <- e:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	stop := sync.OnceFunc(func() { cancel(); <-done })
	t.Cleanup(stop)
	return &scaleSSE{events: events, stop: stop}
}

// scaleGRPC is a Connect-protocol Subscribe stream (HTTP/1.1) read by its
// own goroutine; responses is closed when the stream ends.
type scaleGRPC struct {
	responses <-chan *pb.SubscribeResponse
	stop      func() // cancels the call and waits for the reader
}

func startScaleGRPC(t *testing.T, hc *http.Client, baseURL string, req *pb.SubscribeRequest) *scaleGRPC {
	ctx, cancel := context.WithCancel(context.Background())
	client := pubsubv1connect.NewPubSubServiceClient(hc, baseURL)
	responses := make(chan *pb.SubscribeResponse, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(responses)
		st, err := client.Subscribe(ctx, connect.NewRequest(req))
		if err != nil {
			return
		}
		defer st.Close()
		for st.Receive() {
			select {
			case responses <- st.Msg():
			case <-ctx.Done():
				return
			}
		}
	}()
	stop := sync.OnceFunc(func() { cancel(); <-done })
	t.Cleanup(stop)
	return &scaleGRPC{responses: responses, stop: stop}
}

// scaleAMQP: two nodes on RabbitMQ with history in one stream queue.
func scaleAMQP(t *testing.T) (pubsub.Broker, pubsub.Broker) {
	amqpURL, opts := amqpSpace(t)
	o := func() *amqpx.Options {
		o := opts()
		o.History = true
		o.HistoryStream = o.Exchange + ".history" // amqpSpace deletes it
		return o
	}
	return dialAMQP(t, amqpURL, o()), dialAMQP(t, amqpURL, o())
}

// scaleNATS: two nodes on NATS JetStream with their own stream and
// subject prefix, deleted at the end.
func scaleNATS(t *testing.T) (pubsub.Broker, pubsub.Broker) {
	natsURL := testenv.NATS(t)
	id := pubsub.NewEpoch()
	stream, prefix := "SBSCALE_"+id, "sbscale_"+id
	t.Cleanup(func() {
		nc, err := nats.Connect(natsURL)
		if err != nil {
			return
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = js.DeleteStream(ctx, stream)
		_ = js.DeleteStream(ctx, stream+"_RETAIN")
	})
	dial := func() pubsub.Broker {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		b, err := natsx.Dial(ctx, natsURL, &natsx.Options{Stream: stream, SubjectPrefix: prefix, Name: prefix,
			HistoryMaxAge: time.Hour, HistoryMaxBytes: 64 << 20, MemoryStorage: true})
		require.NoError(t, err)
		t.Cleanup(func() { _ = b.Close() })
		return b
	}
	return dial(), dial()
}

// scaleRedis: two nodes on Redis Streams with their own key prefix, whose
// keys are deleted at the end.
func scaleRedis(t *testing.T) (pubsub.Broker, pubsub.Broker) {
	redisURL := testenv.Redis(t)
	prefix := "sbscale:" + pubsub.NewID()
	t.Cleanup(func() {
		o, err := redis.ParseURL(redisURL)
		if err != nil {
			return
		}
		c := redis.NewClient(o)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.Del(ctx, prefix+":log", prefix+":epoch", prefix+":retained", prefix+":count")
	})
	dial := func() pubsub.Broker {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		b, err := redisx.Dial(ctx, redisURL, &redisx.Options{Prefix: prefix})
		require.NoError(t, err)
		t.Cleanup(func() { _ = b.Close() })
		return b
	}
	return dial(), dial()
}

// scaleMQTT: two nodes on Mosquitto (two client ids, sessions that end
// with the connection); the test's topics have a root of their own.
func scaleMQTT(t *testing.T) (pubsub.Broker, pubsub.Broker) {
	addr := testenv.Mosquitto(t)
	dial := func() pubsub.Broker {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		b, err := mqttx.Dial(ctx, "mqtt://"+addr, &mqttx.Options{SessionExpiry: -1})
		require.NoError(t, err)
		t.Cleanup(func() { _ = b.Close() })
		return b
	}
	return dial(), dial()
}
