package interop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/amqpx"
	"github.com/switchboard-go/switchboard/internal/testenv"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/sse"
	"github.com/switchboard-go/switchboard/transport"
	"github.com/switchboard-go/switchboard/ws"
)

// amqpSpace gives a test its own exchange and queue prefix on the test
// RabbitMQ, deleted at the end.
func amqpSpace(t *testing.T) (url string, opts func() *amqpx.Options) {
	url = testenv.RabbitMQ(t)
	id := "sbinterop." + pubsub.NewEpoch()
	t.Cleanup(func() {
		conn, err := amqp.Dial(url)
		if err != nil {
			return
		}
		defer conn.Close()
		if ch, err := conn.Channel(); err == nil {
			_ = ch.ExchangeDelete(id, false, false)
			_, _ = ch.QueueDelete(id+".history", false, false, false)
		}
	})
	return url, func() *amqpx.Options {
		return &amqpx.Options{Exchange: id, QueuePrefix: id, ConnectionName: id}
	}
}

func dialAMQP(t *testing.T, url string, o *amqpx.Options) *amqpx.Broker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	b, err := amqpx.Dial(ctx, url, o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// hubNode serves REST, SSE and WebSocket over b, like one hub process.
func hubNode(t *testing.T, b pubsub.Broker) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/topics/", transport.NewRESTHandler(b, nil))
	s := sse.NewHandler(b, &sse.Options{Format: sse.FormatEnvelope})
	mux.Handle("/events", s)
	w := ws.NewHandler(b, nil)
	mux.Handle("/ws", w)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		_ = w.Shutdown(ctx)
		srv.Close()
	})
	return srv
}

// TestAMQPTwoNodes is the scale-out recipe: two nodes share RabbitMQ
// (with history in a stream); a REST publish on node A reaches an npm
// eventsource and an npm ws subscriber on node B, with the same cursor on
// both nodes.
func TestAMQPTwoNodes(t *testing.T) {
	amqpURL, opts := amqpSpace(t)
	history := func() *amqpx.Options { o := opts(); o.History = true; return o }
	brokerA := dialAMQP(t, amqpURL, history())
	a := hubNode(t, brokerA)
	b := hubNode(t, dialAMQP(t, amqpURL, history()))

	out := runNode(context.Background(), t, "amqp-twonode.mjs", a.URL, b.URL)
	var res struct {
		Status  int
		Receipt struct{ ID string }
		SSE     struct {
			Topic, ID, Cursor string
			Data              json.RawMessage
		}
		WS struct {
			Type, Sub, Topic, ID, Cursor string
			Data                         json.RawMessage
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	require.Equal(t, http.StatusOK, res.Status, out)
	require.NotEmpty(t, res.Receipt.ID)
	for _, got := range []struct {
		topic, id string
		data      json.RawMessage
	}{{res.SSE.Topic, res.SSE.ID, res.SSE.Data}, {res.WS.Topic, res.WS.ID, res.WS.Data}} {
		require.Equal(t, "chat/room1", got.topic, out)
		require.Equal(t, res.Receipt.ID, got.id, "the message id survives the hop between nodes")
		require.JSONEq(t, `{"text":"hello from node A"}`, string(got.data))
	}
	require.Equal(t, "s1", res.WS.Sub)

	// With history on, cursors are the same on every node: node A's
	// history holds the message under the cursor node B delivered.
	require.NotEmpty(t, res.SSE.Cursor)
	require.Equal(t, res.SSE.Cursor, res.WS.Cursor)
	page, err := brokerA.History(context.Background(), "chat/#", pubsub.HistoryOptions{})
	require.NoError(t, err)
	require.Len(t, page.Messages, 1)
	require.Equal(t, res.SSE.Cursor, page.Messages[0].Cursor)

	// Behind a load balancer: a client that read the message on node B
	// reconnects to node A with Last-Event-ID and gets exactly what it
	// missed.
	for i := range 2 {
		_, err := brokerA.Publish(context.Background(), pubsub.Message{Topic: "chat/room1", Data: fmt.Appendf(nil, `{"n":%d}`, i)})
		require.NoError(t, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var got []string
	done := errors.New("done")
	client := &sse.Client{URL: a.URL + "/events?topic=" + url.QueryEscape("chat/#"), LastEventID: res.SSE.Cursor}
	err = client.Run(ctx, func(e sse.Event) error {
		if e.Type != "" {
			return nil // sb-* control events
		}
		var env struct{ Data json.RawMessage }
		require.NoError(t, json.Unmarshal([]byte(e.Data), &env))
		got = append(got, string(env.Data))
		if len(got) == 2 {
			return done
		}
		return nil
	})
	require.ErrorIs(t, err, done)
	require.Equal(t, []string{`{"n":0}`, `{"n":1}`}, got)
}

// TestAMQPAmqplibProducer: the guide's amqplib producer publishes
// order.created with an order-priority header; a Switchboard subscriber on
// order/+ receives every order with its headers, and the two messages whose
// routing keys map to no topic are dropped without disturbing the stream.
func TestAMQPAmqplibProducer(t *testing.T) {
	url, opts := amqpSpace(t)
	o := opts()
	b := dialAMQP(t, url, o)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sub, err := b.Subscribe(ctx, "order/+", nil)
	require.NoError(t, err)
	all, err := b.Subscribe(ctx, "#", nil)
	require.NoError(t, err)

	const n = 6
	runNode(ctx, t, "amqp-orders-producer.mjs", url, o.Exchange, fmt.Sprint(n))
	for i := 1; i <= n; i++ {
		m := next(t, sub)
		require.Equal(t, "order/created", m.Topic)
		require.Equal(t, fmt.Sprintf("amqplib-%d", i), m.ID)
		var order struct{ OrderID string }
		require.NoError(t, json.Unmarshal(m.Data, &order))
		require.Equal(t, fmt.Sprintf("ORD-%d", 1000+i), order.OrderID)
		prio := "normal"
		if i%3 == 0 {
			prio = "high"
		}
		require.Equal(t, prio, m.Header["order-priority"])
		require.Equal(t, fmt.Sprint(i), m.Header["attempt"], "numbers become decimal strings")
		require.Equal(t, fmt.Sprint(i%2 == 0), m.Header["express"])
		require.Equal(t, "1.5", m.Header["weight"])
		require.Equal(t, "4", m.Header[amqpx.HeaderPriority])
		require.Equal(t, "application/json", m.Header[amqpx.HeaderContentType])
	}
	require.Equal(t, "order/marker", next(t, sub).Topic)
	// "#" saw the orders and the marker, and nothing of the malformed two.
	for range n {
		require.Equal(t, "order/created", next(t, all).Topic)
	}
	require.Equal(t, "order/marker", next(t, all).Topic)
}

// TestAMQPAmqplibConsumer: a Switchboard publish reaches the guide's amqplib
// consumer (durable queue bound to order.*, prefetch 1, manual ack) with
// its id, headers, priority and persistent delivery mode.
func TestAMQPAmqplibConsumer(t *testing.T) {
	url, opts := amqpSpace(t)
	o := opts()
	b := dialAMQP(t, url, o)
	queue := o.QueuePrefix + ".order_processing"
	conn, err := amqp.Dial(url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	require.NoError(t, err)
	_, err = ch.QueueDeclare(queue, true, false, false, false, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = ch.QueueDelete(queue, false, false, false) }) // runs before conn.Close
	require.NoError(t, ch.QueueBind(queue, "order.*", o.Exchange, false, nil))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 5
	for i := 1; i <= n; i++ {
		_, err := b.Publish(ctx, pubsub.Message{Topic: "order/created", ID: fmt.Sprintf("sb-%d", i),
			Data:   fmt.Appendf(nil, `{"orderId":"ORD-%d"}`, i),
			Header: map[string]string{"order-priority": "high", amqpx.HeaderPriority: "7"}})
		require.NoError(t, err)
	}
	out := runNode(ctx, t, "amqp-orders-consumer.mjs", url, queue, fmt.Sprint(n))
	var res struct {
		Got []struct {
			RoutingKey, Content, MessageID string
			Priority, DeliveryMode         int
			Headers                        map[string]any
		}
		MaxUnacked int
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	require.Len(t, res.Got, n)
	require.Equal(t, 1, res.MaxUnacked, "prefetch 1: one unacknowledged message at a time")
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	require.NoError(t, err)
	require.Zero(t, q.Messages, "every message was acknowledged")
	for i, g := range res.Got {
		require.Equal(t, "order.created", g.RoutingKey)
		require.Equal(t, fmt.Sprintf(`{"orderId":"ORD-%d"}`, i+1), g.Content)
		require.Equal(t, fmt.Sprintf("sb-%d", i+1), g.MessageID)
		require.Equal(t, 7, g.Priority)
		require.Equal(t, 2, g.DeliveryMode, "persistent")
		require.Equal(t, "high", g.Headers["order-priority"])
	}
}

func next(t *testing.T, sub pubsub.Subscription) *pubsub.Message {
	t.Helper()
	select {
	case m, ok := <-sub.C():
		require.True(t, ok, "subscription ended: %v", sub.Err())
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for a message")
		return nil
	}
}
