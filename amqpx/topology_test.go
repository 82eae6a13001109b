package amqpx_test

import (
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/amqpx"
	"github.com/switchboard-go/switchboard/pubsub"
)

// Issue 15: the guide's amqplib consumer reads
// msg.properties.headers['order-priority'] without a guard, so a message
// published by a Broker must carry a headers table even when it has no
// header.
func TestHeadersTableAlways(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	b := sp.broker()
	ch := sp.channel()
	require.NoError(t, ch.ExchangeDeclare(sp.exchange, amqp.ExchangeTopic, true, false, false, false, nil))
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	require.NoError(t, err)
	require.NoError(t, ch.QueueBind(q.Name, "order.*", sp.exchange, false, nil))
	deliveries, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	require.NoError(t, err)

	_, err = b.Publish(ctx(t), pubsub.Message{Topic: "order/created", Data: []byte(`{"orderId":"ORD-1"}`)})
	require.NoError(t, err)
	select {
	case d := <-deliveries:
		require.Equal(t, "order.created", d.RoutingKey)
		require.NotNil(t, d.Headers, "a headers table, even for a message without headers")
		require.NotContains(t, d.Headers, "order-priority")
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery")
	}
}

// A message from a producer that is not a Broker (no message-id, no
// timestamp, no headers) arrives with its routing key as topic, an ID, a
// time and, with history, a cursor, and the same ID on every node.
func TestForeignProducer(t *testing.T) {
	t.Parallel()
	for _, history := range []bool{false, true} {
		t.Run(map[bool]string{false: "live", true: "history"}[history], func(t *testing.T) {
			t.Parallel()
			sp := newSpace(t)
			mod := func(o *amqpx.Options) { o.History = history }
			a, b := sp.broker(mod), sp.broker(mod)
			c := ctx(t)
			sa, err := a.Subscribe(c, "order/+", nil)
			require.NoError(t, err)
			sb, err := b.Subscribe(c, "order/#", nil)
			require.NoError(t, err)

			ch := sp.channel()
			require.NoError(t, ch.PublishWithContext(c, sp.exchange, "order.created", false, false,
				amqp.Publishing{ContentType: "application/json", Body: []byte(`{"orderId":"ORD-1001"}`)}))

			before := time.Now().Add(-time.Minute)
			ma, mb := recv(t, sa), recv(t, sb)
			for _, m := range []*pubsub.Message{ma, mb} {
				require.Equal(t, "order/created", m.Topic)
				require.Equal(t, `{"orderId":"ORD-1001"}`, string(m.Data))
				require.NotEmpty(t, m.ID)
				require.True(t, m.Time.After(before), "time %v", m.Time)
				require.Equal(t, "application/json", m.Header[amqpx.HeaderContentType])
				if history {
					require.NotEmpty(t, m.Cursor)
					require.True(t, strings.HasPrefix(m.ID, "amqp-"), m.ID)
				} else {
					require.Empty(t, m.Cursor)
				}
			}
			if history {
				require.Equal(t, ma.ID, mb.ID, "one message, one ID on every node")
				require.Equal(t, ma.Cursor, mb.Cursor)
				page, err := a.History(c, "order/created", pubsub.HistoryOptions{})
				require.NoError(t, err)
				require.Len(t, page.Messages, 1)
				require.Equal(t, ma.ID, page.Messages[0].ID, "a replay names it alike")
			}
		})
	}
}

// Options.GroupQueues: a group consumes an application's existing durable
// queue, with the application's bindings, next to the application's own
// consumers; a missing one is declared as the application would.
func TestGroupQueueOfApplication(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	queue := sp.prefix + ".order_processing"
	sp.deleteQueueLater(queue)
	ch := sp.channel()
	// The application's topology, as the guide's producer asserts it,
	// here with an argument of its own that the Broker must not fight.
	require.NoError(t, ch.ExchangeDeclare(sp.exchange, amqp.ExchangeTopic, true, false, false, false, nil))
	_, err := ch.QueueDeclare(queue, true, false, false, false, amqp.Table{"x-max-length": int64(1000)})
	require.NoError(t, err)
	require.NoError(t, ch.QueueBind(queue, "order.*", sp.exchange, false, nil))

	b := sp.broker(func(o *amqpx.Options) { o.GroupQueues = map[string]string{"fulfilment": queue} })
	c := ctx(t)
	sub, err := b.Subscribe(c, "order/created", &pubsub.SubscribeOptions{Group: "fulfilment", ManualAck: true, Prefetch: 1})
	require.NoError(t, err)
	require.Equal(t, []string{"order.*", "order.created"}, sp.bindings(queue), "the application's binding stays; the filter's joins it")

	// Routed by the application's binding (not the filter): delivered.
	require.NoError(t, ch.PublishWithContext(c, sp.exchange, "order.shipped", false, false,
		amqp.Publishing{Headers: amqp.Table{"order-priority": "high"}, Body: []byte("a")}))
	m := recv(t, sub)
	require.Equal(t, "order/shipped", m.Topic)
	require.Equal(t, "high", m.Header["order-priority"])
	require.NotEmpty(t, m.ID)
	require.NoError(t, sub.Nack(m, true), "requeued to the application's queue")
	m = recv(t, sub)
	require.Equal(t, "order/shipped", m.Topic)
	require.Equal(t, 2, m.Attempt)
	require.NoError(t, sub.Ack(m))

	_, err = b.Publish(c, pubsub.Message{Topic: "order/created", Data: []byte("b")})
	require.NoError(t, err)
	m = recv(t, sub)
	require.Equal(t, "b", string(m.Data))
	require.NoError(t, sub.Ack(m))
	require.NoError(t, sub.Close())

	// Closing leaves the queue; a message published meanwhile waits in it
	// for the application's consumer.
	_, err = b.Publish(c, pubsub.Message{Topic: "order/created", Data: []byte("c")})
	require.NoError(t, err)
	app, err := ch.Consume(queue, "", true, false, false, false, nil)
	require.NoError(t, err)
	var d amqp.Delivery
	select {
	case d = <-app:
	case <-time.After(10 * time.Second):
		t.Fatal("nothing reached the application's consumer")
	}
	require.Equal(t, "c", string(d.Body))

	// A queue that does not exist yet is declared durable, as
	// assertQueue(name, {durable: true}) would.
	missing := sp.prefix + ".new_queue"
	sp.deleteQueueLater(missing)
	b2 := sp.broker(func(o *amqpx.Options) { o.GroupQueues = map[string]string{"g": missing} })
	sub2, err := b2.Subscribe(c, "order/+", &pubsub.SubscribeOptions{Group: "g"})
	require.NoError(t, err)
	_, err = ch.QueueDeclare(missing, true, false, false, false, nil)
	require.NoError(t, err, "declared durable without arguments")
	_, err = b.Publish(c, pubsub.Message{Topic: "order/paid", Data: []byte("d")})
	require.NoError(t, err)
	require.Equal(t, "d", string(recv(t, sub2).Data))
}

// Issue 15: the guide's amqplib pub/sub pair declares its exchange
// "updates" with {durable: false}. A Broker meets an existing topic
// exchange that differs only in durability and uses it as it is, whichever
// durability it would declare itself, with and without history and for
// group queues; with TransientExchange it creates a non-durable one, which
// such clients then declare without a PRECONDITION_FAILED.
func TestExchangeDurability(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		existing       *bool // nil: the Broker declares it
		transient      bool
		history, group bool
	}{
		{name: "transient exists", existing: new(false)},
		{name: "transient exists/history", existing: new(false), history: true},
		{name: "transient exists/group", existing: new(false), group: true},
		{name: "durable exists/TransientExchange", existing: new(true), transient: true},
		{name: "TransientExchange declares", transient: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sp := newSpace(t)
			ch := sp.channel()
			if tc.existing != nil {
				require.NoError(t, ch.ExchangeDeclare(sp.exchange, amqp.ExchangeTopic, *tc.existing, false, false, false, nil))
			}
			b := sp.broker(func(o *amqpx.Options) { o.TransientExchange = tc.transient; o.History = tc.history })
			durable := !tc.transient
			if tc.existing != nil {
				durable = *tc.existing
			}
			// The exchange is as it was (or as the Broker declared it): the
			// application's own declaration still succeeds.
			require.NoError(t, ch.ExchangeDeclare(sp.exchange, amqp.ExchangeTopic, durable, false, false, false, nil))

			c := ctx(t)
			var so *pubsub.SubscribeOptions
			if tc.group {
				so = &pubsub.SubscribeOptions{Group: "g"} // its queue expires (GroupQueueExpiry)
			}
			sub, err := b.Subscribe(c, "user/#", so)
			require.NoError(t, err)
			q, err := ch.QueueDeclare("", false, true, true, false, nil)
			require.NoError(t, err)
			require.NoError(t, ch.QueueBind(q.Name, "user.#", sp.exchange, false, nil))
			deliveries, err := ch.Consume(q.Name, "", true, true, false, false, nil)
			require.NoError(t, err)

			// An application's publish reaches the Broker's subscriber …
			require.NoError(t, ch.PublishWithContext(c, sp.exchange, "user.profile.updated", false, false,
				amqp.Publishing{Body: []byte(`{"userId":42}`)}))
			m := recv(t, sub)
			require.Equal(t, "user/profile/updated", m.Topic)
			require.JSONEq(t, `{"userId":42}`, string(m.Data))
			<-deliveries // (the application's own copy)

			// … and the Broker's publish reaches the application's queue.
			_, err = b.Publish(c, pubsub.Message{Topic: "user/profile/updated", Data: []byte("hello")})
			require.NoError(t, err)
			select {
			case d := <-deliveries:
				require.Equal(t, "user.profile.updated", d.RoutingKey)
				require.Equal(t, "hello", string(d.Body))
			case <-time.After(10 * time.Second):
				t.Fatal("no delivery")
			}
		})
	}
}
