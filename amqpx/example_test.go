package amqpx_test

import (
	"context"
	"fmt"
	"log"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/switchboard-go/switchboard/amqpx"
	"github.com/switchboard-go/switchboard/pubsub"
)

// Dial a Broker and use it like any pubsub.Broker. Every process that dials
// the same RabbitMQ and exchange sees the same messages.
func ExampleDial() {
	ctx := context.Background()
	b, err := amqpx.Dial(ctx, "amqp://guest:guest@127.0.0.1:5672/", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	sub, err := b.Subscribe(ctx, "order/+", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	if _, err := b.Publish(ctx, pubsub.Message{Topic: "order/created", Data: []byte(`{"id":1}`),
		Header: map[string]string{amqpx.HeaderPriority: "5"}}); err != nil {
		log.Fatal(err)
	}
	m := <-sub.C()
	fmt.Println(m.Topic, string(m.Data))
}

// Topics and filters map to AMQP keys; what AMQP cannot carry is refused.
func ExampleFilterToKey() {
	for _, filter := range []string{"order/+", "sensors/#", "a/+/c/#", "v1.0/x"} {
		_, key, err := amqpx.FilterToKey(filter)
		fmt.Printf("%-10s → %q %v\n", filter, key, err)
	}
	// Output:
	// order/+    → "order.*" <nil>
	// sensors/#  → "sensors.#" <nil>
	// a/+/c/#    → "a.*.c.#" <nil>
	// v1.0/x     → "" pubsub: invalid filter "v1.0/x": '.' at byte 2 cannot be carried by an AMQP binding key
}

// AMQP clients may send header values of any AMQP type; they arrive as
// strings.
func ExampleHeaderValue() {
	for _, v := range []any{"high", int32(3), true, 2.5, []byte("raw"), []byte{0xff}, amqp.Table{"a": int64(1)}, nil} {
		fmt.Printf("%q\n", amqpx.HeaderValue(v))
	}
	// Output:
	// "high"
	// "3"
	// "true"
	// "2.5"
	// "raw"
	// "base64:/w=="
	// "{\"a\":1}"
	// ""
}

// A consumer group joins an application's existing queue: here the queue
// order_processing, bound "order.*" on the topic exchange orders by the
// application's own producer. Its workers then compete for the orders with
// the application's other consumers of that queue; the queue and its
// bindings stay the application's.
func ExampleOptions_groupQueues() {
	ctx := context.Background()
	b, err := amqpx.Dial(ctx, "amqp://guest:guest@127.0.0.1:5672/", &amqpx.Options{
		Exchange:    "orders",
		GroupQueues: map[string]string{"fulfilment": "order_processing"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	sub, err := b.Subscribe(ctx, "order/created", &pubsub.SubscribeOptions{Group: "fulfilment", ManualAck: true, Prefetch: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	for m := range sub.C() {
		// The routing key order.created arrives as topic order/created,
		// with the producer's headers (order-priority) as Header.
		fmt.Println(m.Topic, m.Header["order-priority"], string(m.Data))
		_ = sub.Ack(m)
	}
}
