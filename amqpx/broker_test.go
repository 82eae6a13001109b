package amqpx_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/amqpx"
	"github.com/switchboard-go/switchboard/pubsub"
)

func TestTwoNodes(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	a, b := sp.broker(), sp.broker()
	c := ctx(t)
	sub, err := b.Subscribe(c, "order/+", nil)
	require.NoError(t, err)
	local, err := a.Subscribe(c, "order/#", nil)
	require.NoError(t, err)

	rc, err := a.Publish(c, pubsub.Message{Topic: "order/created", Data: []byte("{\"id\":1}"),
		Header: map[string]string{"order-priority": "high", amqpx.HeaderPriority: "5"}})
	require.NoError(t, err)
	require.NotEmpty(t, rc.ID)
	for _, s := range []pubsub.Subscription{sub, local} {
		m := recv(t, s)
		require.Equal(t, "order/created", m.Topic)
		require.Equal(t, []byte("{\"id\":1}"), m.Data)
		require.Equal(t, rc.ID, m.ID)
		require.Equal(t, "high", m.Header["order-priority"])
		require.Equal(t, "5", m.Header[amqpx.HeaderPriority])
	}
	// A message that does not match stays away; a later one that does
	// arrives next, so nothing came in between.
	_, err = a.Publish(c, pubsub.Message{Topic: "order/created/late", Data: []byte("x")})
	require.NoError(t, err)
	_, err = a.Publish(c, pubsub.Message{Topic: "order/paid", Data: []byte("y")})
	require.NoError(t, err)
	require.Equal(t, "order/paid", recv(t, sub).Topic)
	require.Equal(t, "order/created/late", recv(t, local).Topic)
	require.Equal(t, "order/paid", recv(t, local).Topic)
}

func TestDollarTopicsAndParentLevel(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	b := sp.broker()
	c := ctx(t)
	all, err := b.Subscribe(c, "#", nil)
	require.NoError(t, err)
	sys, err := b.Subscribe(c, "$sys/#", nil)
	require.NoError(t, err)
	parent, err := b.Subscribe(c, "a/#", nil)
	require.NoError(t, err)
	for _, topic := range []string{"$sys/x", "a", "a/b/c", "b"} {
		_, err := b.Publish(c, pubsub.Message{Topic: topic, Data: []byte(topic)})
		require.NoError(t, err)
	}
	require.Equal(t, "$sys/x", recv(t, sys).Topic)
	require.Equal(t, "a", recv(t, all).Topic, "# must not match $sys/x")
	require.Equal(t, "a/b/c", recv(t, all).Topic)
	require.Equal(t, "b", recv(t, all).Topic)
	require.Equal(t, "a", recv(t, parent).Topic, "a/# matches its parent a")
	require.Equal(t, "a/b/c", recv(t, parent).Topic)
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	b := sp.broker()
	c := ctx(t)
	for _, topic := range []string{"a.b", "a/*", "", "a/+", "a/#", string(make([]byte, 300))} {
		_, err := b.Publish(c, pubsub.Message{Topic: topic})
		require.ErrorIs(t, err, pubsub.ErrInvalidTopic, "topic %q", topic)
	}
	for _, filter := range []string{"a.b", "a/*", "*", "a/#/b", "a+", "$share/g/a"} {
		_, err := b.Subscribe(c, filter, nil)
		require.ErrorIs(t, err, pubsub.ErrInvalidFilter, "filter %q", filter)
	}
	_, err := b.Publish(c, pubsub.Message{Topic: "a", Header: map[string]string{amqpx.HeaderPriority: "high"}})
	require.ErrorIs(t, err, amqpx.ErrInvalidHeader)
	_, err = b.Publish(c, pubsub.Message{Topic: "a", Data: make([]byte, 17<<20)})
	require.ErrorIs(t, err, amqpx.ErrTooLarge)
	_, err = b.Subscribe(c, "a", &pubsub.SubscribeOptions{Since: "abc-1"})
	require.ErrorIs(t, err, pubsub.ErrNotSupported)
	_, err = b.Subscribe(c, "a", &pubsub.SubscribeOptions{Since: "not a cursor"})
	require.ErrorIs(t, err, pubsub.ErrInvalidCursor)

	// The broker still works.
	sub, err := b.Subscribe(c, "ok", nil)
	require.NoError(t, err)
	_, err = b.Publish(c, pubsub.Message{Topic: "ok", Data: []byte("fine")})
	require.NoError(t, err)
	require.Equal(t, "fine", string(recv(t, sub).Data))
}

func TestClose(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	b := sp.broker()
	c := ctx(t)
	sub, err := b.Subscribe(c, "x", nil)
	require.NoError(t, err)
	g, err := b.Subscribe(c, "x", &pubsub.SubscribeOptions{Group: "g", ManualAck: true})
	require.NoError(t, err)
	sp.deleteQueueLater(groupQueueName(sp, "g", "x"))
	require.NoError(t, b.Close())
	require.NoError(t, b.Close())
	for _, s := range []pubsub.Subscription{sub, g} {
		_, ok := <-s.C()
		require.False(t, ok)
		require.ErrorIs(t, s.Err(), pubsub.ErrClosed)
	}
	_, err = b.Publish(c, pubsub.Message{Topic: "x"})
	require.ErrorIs(t, err, pubsub.ErrClosed)
	_, err = b.Subscribe(c, "x", nil)
	require.ErrorIs(t, err, pubsub.ErrClosed)
}

func TestSlowConsumer(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	b := sp.broker()
	c := ctx(t)
	slow, err := b.Subscribe(c, "tick", &pubsub.SubscribeOptions{Buffer: 2})
	require.NoError(t, err)
	lossy, err := b.Subscribe(c, "tick", &pubsub.SubscribeOptions{Buffer: 2, Overflow: pubsub.OverflowDropOldest})
	require.NoError(t, err)
	fast, err := b.Subscribe(c, "tick", nil)
	require.NoError(t, err)
	for i := range 5 {
		_, err := b.Publish(c, pubsub.Message{Topic: "tick", Data: fmt.Appendf(nil, "%d", i)})
		require.NoError(t, err)
	}
	for i := range 5 {
		require.Equal(t, fmt.Sprint(i), string(recv(t, fast).Data))
	}
	// slow overflowed at the third message: it keeps its two, then ends.
	require.Equal(t, "0", string(recv(t, slow).Data))
	require.Equal(t, "1", string(recv(t, slow).Data))
	_, ok := <-slow.C()
	require.False(t, ok)
	require.ErrorIs(t, slow.Err(), pubsub.ErrSlowConsumer)
	// lossy kept the newest two.
	require.Equal(t, "3", string(recv(t, lossy).Data))
	require.Equal(t, "4", string(recv(t, lossy).Data))
}

func TestRequestReply(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	client, server := sp.broker(), sp.broker()
	c := ctx(t)
	reqs, err := server.Subscribe(c, "svc/echo", &pubsub.SubscribeOptions{Group: "echo"})
	require.NoError(t, err)
	sp.deleteQueueLater(groupQueueName(sp, "echo", "svc/echo"))
	done := make(chan error, 1)
	go func() {
		m, ok := <-reqs.C()
		if !ok {
			done <- errors.New("request subscription ended")
			return
		}
		_, err := pubsub.Reply(c, server, m, pubsub.Message{Data: append([]byte("echo: "), m.Data...)})
		done <- err
	}()
	rep, err := pubsub.Request(c, client, pubsub.Message{Topic: "svc/echo", Data: []byte("hi")})
	require.NoError(t, err)
	require.Equal(t, "echo: hi", string(rep.Data))
	require.NoError(t, <-done)
}

func TestDialErrors(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	c := ctx(t)
	// Nothing listens there: Dial fails fast instead of retrying forever.
	_, err := amqpx.Dial(c, "amqp://guest:guest@127.0.0.1:1/", nil)
	require.ErrorContains(t, err, "amqpx: failed to connect")

	// The exchange exists with another type: RabbitMQ refuses the
	// declaration, and Dial says so.
	require.NoError(t, sp.channel().ExchangeDeclare(sp.exchange, "fanout", false, true, false, false, nil))
	_, err = amqpx.Dial(c, sp.url, sp.options())
	require.ErrorContains(t, err, "failed to declare exchange")
	require.ErrorContains(t, err, "PRECONDITION_FAILED")
}

// TestBindingsRefCounted: however many subscriptions a node has, RabbitMQ
// sees one queue and one binding per distinct filter.
func TestBindingsRefCounted(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	b := sp.broker()
	c := ctx(t)
	var plus []pubsub.Subscription
	for range 50 {
		s, err := b.Subscribe(c, "a/+", nil)
		require.NoError(t, err)
		plus = append(plus, s)
		_, err = b.Subscribe(c, "b/#", nil)
		require.NoError(t, err)
	}
	_, err := b.Subscribe(c, "c", nil)
	require.NoError(t, err)
	require.Equal(t, []string{"a.*", "b.#", "c"}, sp.bindings(b.NodeQueue()))

	for _, s := range plus[:49] {
		require.NoError(t, s.Close())
	}
	require.Equal(t, []string{"a.*", "b.#", "c"}, sp.bindings(b.NodeQueue()))
	require.NoError(t, plus[49].Close())
	require.Equal(t, []string{"b.#", "c"}, sp.bindings(b.NodeQueue()))

	queues := 0
	for l := range strings.Lines(rabbitmqctl(t, "list_queues", "-q", "--no-table-headers", "name")) {
		if strings.HasPrefix(l, sp.prefix+".") {
			queues++
		}
	}
	require.Equal(t, 1, queues, "one queue for the node")
}
