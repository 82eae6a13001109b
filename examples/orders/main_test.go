package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/switchboard-go/switchboard/amqpx"
	"github.com/switchboard-go/switchboard/internal/testenv"
	"github.com/switchboard-go/switchboard/pubsub"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// start runs the example against the test RabbitMQ on its own exchange
// and queues, and returns its base URL and an observer: another node on
// the same exchange, as a dashboard would be.
func start(t *testing.T, args ...string) (string, pubsub.Broker) {
	t.Helper()
	url := testenv.RabbitMQ(t)
	name := testExchange(t)

	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0", "-amqp", url, "-exchange", name,
			"-queue-prefix", name, "-queue-expiry", "5s"}, args...), io.Discard, func(a string) { addrc <- a })
	}()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
	}
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		http.DefaultClient.CloseIdleConnections()
	})

	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	obs, err := amqpx.Dial(dctx, url, &amqpx.Options{Exchange: name, QueuePrefix: name + "-observer"})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, obs.Close()) })
	return base, obs
}

var exchanges sync.Map // *testing.T → its exchange's name

// testExchange names the test's own exchange (and queue prefix), deleted
// at the end of the test.
func testExchange(t *testing.T) string {
	if v, ok := exchanges.Load(t); ok {
		return v.(string)
	}
	name := "orders-test-" + pubsub.NewEpoch()
	exchanges.Store(t, name)
	url := testenv.RabbitMQ(t)
	t.Cleanup(func() { exchanges.Delete(t); deleteExchange(t, url, name) })
	return name
}

func deleteExchange(t *testing.T, url, name string) {
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return
	}
	_ = ch.ExchangeDelete(name, false, false)
}

// order places an order through the HTTP API; priority is the
// Order-Priority header ("" sends none).
func order(t *testing.T, base, body, priority string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/orders", strings.NewReader(body))
	require.NoError(t, err)
	if priority != "" {
		req.Header.Set("Order-Priority", priority)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var r struct{ OrderID string }
	if resp.StatusCode == http.StatusAccepted {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
	}
	return resp.StatusCode, r.OrderID
}

// items is an order body for one product.
func items(product string, qty int) string {
	return fmt.Sprintf(`{"customer":"Ann","items":[{"product":%q,"quantity":%d}]}`, product, qty)
}

func watch(t *testing.T, b pubsub.Broker, filter string) pubsub.Subscription {
	t.Helper()
	sub, err := b.Subscribe(context.Background(), filter, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Close() })
	return sub
}

func next(t *testing.T, sub pubsub.Subscription) *pubsub.Message {
	t.Helper()
	select {
	case m, ok := <-sub.C():
		require.True(t, ok, "subscription ended: %v", sub.Err())
		return m
	case <-time.After(20 * time.Second):
		t.Fatal("nothing within 20s")
	}
	return nil
}

func TestFailingOrderIsDeadLettered(t *testing.T) {
	base, obs := start(t, "-workers", "2", "-work-time", "10ms", "-attempts", "3", "-max-qty", "10")
	processed := watch(t, obs, "order/processed/+")
	failed := watch(t, obs, "order/failed/+")

	code, _ := order(t, base, items("book", 0), "")
	require.Equal(t, http.StatusBadRequest, code)
	code, _ = order(t, base, `{"customer":"Ann","items":[]}`, "")
	require.Equal(t, http.StatusBadRequest, code, "an order needs items")
	code, _ = order(t, base, `{"customer":"Ann","items":[{"product":"book","quantity":1}],"colour":"red"}`, "")
	require.Equal(t, http.StatusBadRequest, code, "unknown fields are refused")
	code, _ = order(t, base, items("book", 1), "urgent")
	require.Equal(t, http.StatusBadRequest, code, "Order-Priority is high or normal")

	_, bad := order(t, base, items("piano", 99), "")
	good := map[string]bool{}
	for _, item := range []string{"book", "pen", "lamp"} {
		code, id := order(t, base, items(item, 2), "")
		require.Equal(t, http.StatusAccepted, code)
		good[id] = true
	}

	for range good {
		m := next(t, processed)
		id := strings.TrimPrefix(m.Topic, "order/processed/")
		require.True(t, good[id], "unexpected processed order %s", id)
		delete(good, id)
		require.NotEmpty(t, m.Header["worker"])
		require.Equal(t, "normal", m.Header["order-priority"])
	}
	m := next(t, failed)
	require.Equal(t, "order/failed/"+bad, m.Topic, "the failing order, after 3 attempts")
	require.NotEmpty(t, m.Header["reason"])
}

func TestExpressOrdersJumpTheQueue(t *testing.T) {
	// One worker that takes a while: orders pile up in the group's queue,
	// and the high-priority one is served next, before older normal ones.
	base, obs := start(t, "-workers", "1", "-work-time", "400ms")
	processed := watch(t, obs, "order/processed/+")

	var ids []string
	for _, item := range []string{"a", "b", "c", "d"} {
		_, id := order(t, base, items(item, 1), "")
		ids = append(ids, id)
	}
	_, express := order(t, base, items("urgent", 1), "high")

	var got []string
	for range 5 {
		got = append(got, strings.TrimPrefix(next(t, processed).Topic, "order/processed/"))
	}
	// Typically [a, express, b, c, d]: a was already being worked on. On a
	// very slow machine the worker may finish a or b before the express
	// order is even published, so require only that it overtook orders
	// queued before it; without priority it would come last.
	t.Logf("processing order: %v (express %s)", got, express)
	require.Equal(t, ids[0], got[0], "orders of one priority are served in order")
	pos := slices.Index(got, express)
	require.Less(t, pos, slices.Index(got, ids[3]), "the express order overtakes normal orders queued before it")
	normal := slices.DeleteFunc(slices.Clone(got), func(id string) bool { return id == express })
	require.Equal(t, ids, normal, "normal orders keep their order")
}

// guideTopology declares what the guide's producer asserts: the topic
// exchange (durable) and the durable queue bound "order.*". It returns
// the channel.
func guideTopology(t *testing.T, exchange, queue string) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial(testenv.RabbitMQ(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, ch.ExchangeDeclare(exchange, amqp.ExchangeTopic, true, false, false, false, nil))
	_, err = ch.QueueDeclare(queue, true, false, false, false, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = ch.QueueDelete(queue, false, false, false) }) // before conn.Close
	require.NoError(t, ch.QueueBind(queue, "order.*", exchange, false, nil))
	return ch
}

// guideOrder publishes an order as the guide's producer does: routing key
// order.created, persistent, JSON, an order-priority header, no message
// id and no timestamp.
func guideOrder(t *testing.T, ch *amqp.Channel, exchange string, body any, priority string) {
	t.Helper()
	data, err := json.Marshal(body)
	require.NoError(t, err)
	require.NoError(t, ch.PublishWithContext(context.Background(), exchange, "order.created", false, false, amqp.Publishing{
		DeliveryMode: amqp.Persistent, ContentType: "application/json",
		Headers: amqp.Table{"order-priority": priority}, Body: data}))
}

// Issue 15: the guide's producer's orders are processed (an order without
// an id is dead-lettered, not fulfilled), and the API's orders reach the
// guide's queue with the header its consumer reads.
func TestGuideOrders(t *testing.T) {
	base, obs := start(t, "-workers", "2", "-work-time", "10ms")
	processed := watch(t, obs, "order/processed/+")
	failed := watch(t, obs, "order/failed/+")
	ch := guideTopology(t, testExchange(t), testExchange(t)+".order_processing")
	app, err := ch.Consume(testExchange(t)+".order_processing", "", false, false, false, false, nil)
	require.NoError(t, err)

	const n = 4
	for i := 1; i <= n; i++ {
		guideOrder(t, ch, testExchange(t), map[string]any{
			"orderId": fmt.Sprintf("ORD-%d", 1000+i), "customer": fmt.Sprintf("Customer %d", i),
			"items":     []map[string]any{{"product": "Product A", "quantity": i}},
			"timestamp": time.Now().UTC().Format(time.RFC3339)}, map[bool]string{true: "high", false: "normal"}[i%3 == 0])
	}
	guideOrder(t, ch, testExchange(t), map[string]any{"customer": "Nobody", "items": []map[string]any{{"product": "X", "quantity": 1}}}, "normal")

	want := map[string]string{}
	for i := 1; i <= n; i++ {
		want[fmt.Sprintf("ORD-%d", 1000+i)] = map[bool]string{true: "high", false: "normal"}[i%3 == 0]
	}
	for range n {
		m := next(t, processed)
		id := strings.TrimPrefix(m.Topic, "order/processed/")
		prio, ok := want[id]
		require.True(t, ok, "unexpected processed order %s", m.Topic)
		require.Equal(t, prio, m.Header["order-priority"])
		delete(want, id)
	}
	m := next(t, failed)
	require.Equal(t, "rejected", m.Header["reason"], "an order without an id is dead-lettered at once")
	require.Contains(t, string(m.Data), "Nobody")
	select {
	case m := <-processed.C():
		t.Fatalf("the order without an id was fulfilled: %s", m.Topic)
	default:
	}

	// The guide's consumer saw the producer's orders, and sees an order
	// placed through the API, with its order-priority header.
	for range n + 1 {
		d := recvAMQP(t, app)
		require.Equal(t, "order.created", d.RoutingKey)
		require.NoError(t, d.Ack(false))
	}
	code, id := order(t, base, items("book", 1), "high")
	require.Equal(t, http.StatusAccepted, code)
	d := recvAMQP(t, app)
	require.Equal(t, "order.created", d.RoutingKey)
	require.Equal(t, "high", d.Headers["order-priority"])
	var o Order
	require.NoError(t, json.Unmarshal(d.Body, &o))
	require.Equal(t, id, o.OrderID)
	require.Equal(t, "Ann", o.Customer)
	require.NotEmpty(t, o.Timestamp)
	require.NoError(t, d.Ack(false))
}

// With -queue the workers consume the guide's queue itself, next to its
// consumer.
func TestWorkersOnTheGuidesQueue(t *testing.T) {
	queue := testExchange(t) + ".order_processing"
	ch := guideTopology(t, testExchange(t), queue)
	base, obs := start(t, "-workers", "1", "-work-time", "10ms", "-queue", queue)
	processed := watch(t, obs, "order/processed/+")
	guideOrder(t, ch, testExchange(t), map[string]any{"orderId": "ORD-1", "customer": "C",
		"items": []map[string]any{{"product": "P", "quantity": 1}}}, "normal")
	require.Equal(t, "order/processed/ORD-1", next(t, processed).Topic)
	_, id := order(t, base, items("book", 1), "")
	require.Equal(t, "order/processed/"+id, next(t, processed).Topic)
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	require.NoError(t, err)
	require.Zero(t, q.Messages, "the workers took them from the guide's queue")
}

func recvAMQP(t *testing.T, c <-chan amqp.Delivery) amqp.Delivery {
	t.Helper()
	select {
	case d, ok := <-c:
		require.True(t, ok, "deliveries ended")
		return d
	case <-time.After(20 * time.Second):
		t.Fatal("no delivery within 20s")
	}
	return amqp.Delivery{}
}
