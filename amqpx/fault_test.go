package amqpx_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/amqpx"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/pubsub/pubsubtest"
	"github.com/switchboard-go/switchboard/transport"
)

// closeConnections closes, from the server side, every connection whose
// client-provided name contains name, and returns how many it closed. It
// leaves other tests' connections alone.
func closeConnections(t *testing.T, name string) int {
	t.Helper()
	out := rabbitmqctl(t, "list_connections", "-q", "--no-table-headers", "pid", "client_properties")
	n := 0
	for line := range strings.Lines(out) {
		if !strings.Contains(line, name) {
			continue
		}
		conn, _, _ := strings.Cut(strings.TrimSpace(line), "\t")
		rabbitmqctl(t, "close_connection", conn, "switchboard fault test")
		n++
	}
	return n
}

// TestServerClosesConnections closes both connections of a node from the
// server side in the middle of a confirmed publish stream and a consumer
// stream: the node reconnects by itself, every confirmed message arrives
// at least once, and nothing hangs.
func TestServerClosesConnections(t *testing.T) {
	sp := newSpace(t)
	pubNode := sp.broker()
	logs := newLogCounter()
	subNode := sp.broker(func(o *amqpx.Options) {
		o.ConnectionName = sp.prefix + "-victim"
		o.Logger = slog.New(logs)
	})
	c := ctx(t)
	sub, err := subNode.Subscribe(c, "stream/#", &pubsub.SubscribeOptions{Buffer: 10000})
	require.NoError(t, err)
	sp.deleteQueueLater(groupQueueName(sp, "g", "stream/#"))
	group, err := subNode.Subscribe(c, "stream/#", &pubsub.SubscribeOptions{Group: "g", ManualAck: true, Buffer: 100})
	require.NoError(t, err)

	const n = 2000
	var (
		mu        sync.Mutex
		confirmed = map[string]bool{}
	)
	var wg sync.WaitGroup
	publish := func(node *amqpx.Broker, from, to int) {
		defer wg.Done()
		for i := from; i < to; i++ {
			id := fmt.Sprintf("m%d", i)
			_, err := node.Publish(c, pubsub.Message{Topic: "stream/x", ID: id, Data: []byte(id)})
			if err == nil {
				mu.Lock()
				confirmed[id] = true
				mu.Unlock()
			}
		}
	}
	wg.Add(2)
	go publish(pubNode, 0, n/2)
	go publish(subNode, n/2, n) // the victim publishes too

	// Close the victim's connections once the stream is flowing.
	got := map[string]bool{}
	groupGot := map[string]bool{}
	closed := 0
	for len(got) < 200 {
		got[recv(t, sub).ID] = true
	}
	closed = closeConnections(t, sp.prefix+"-victim")
	require.Equal(t, 2, closed, "the victim has a publishing and a consuming connection")
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	require.Greater(t, len(confirmed), n/2, "publishing resumed after the reconnect")
	for missing(confirmed, got) > 0 {
		m := recv(t, sub)
		got[m.ID] = true
	}
	for missing(confirmed, groupGot) > 0 {
		m := recv(t, group)
		groupGot[m.ID] = true
		if err := group.Ack(m); err != nil {
			require.ErrorIs(t, err, amqpx.ErrStaleDelivery) // redelivered anyway
		}
	}
	require.Equal(t, 2, logs.count("amqpx: connection closed"))
	require.Equal(t, 4, logs.count("amqpx: connected"), "both connections came back")
	t.Logf("confirmed %d of %d; delivered %d plain, %d to the group", len(confirmed), n, len(got), len(groupGot))
}

func missing(want, got map[string]bool) int {
	n := 0
	for k := range want {
		if !got[k] {
			n++
		}
	}
	return n
}

// TestQueueLost deletes the node queue behind the node's back (as a
// RabbitMQ restart would): its subscriptions end with ErrQueueLost instead
// of silently missing messages, and the node recovers for new ones.
func TestQueueLost(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	logs := newLogCounter()
	b := sp.broker(func(o *amqpx.Options) { o.Logger = slog.New(logs) })
	c := ctx(t)
	sub, err := b.Subscribe(c, "x", nil)
	require.NoError(t, err)
	admin := sp.channel()
	_, err = admin.QueueDelete(b.NodeQueue(), false, false, false)
	require.NoError(t, err)
	pubsubtest.UntilEnd(t, sub, 30*time.Second)
	require.ErrorIs(t, sub.Err(), amqpx.ErrQueueLost)
	require.Equal(t, 1, logs.count("amqpx: node queue was lost while disconnected"))

	again, err := b.Subscribe(c, "x", nil)
	require.NoError(t, err)
	_, err = b.Publish(c, pubsub.Message{Topic: "x", Data: []byte("after")})
	require.NoError(t, err)
	require.Equal(t, "after", string(recv(t, again).Data))
}

// TestOutageLosesNothing cuts a node off RabbitMQ while another node
// publishes: the node queue outlives the outage, so after the reconnect
// the subscriber gets every message it missed, in order, once.
func TestOutageLosesNothing(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	px, viaProxy := newProxy(t, sp.url)
	logs := newLogCounter()
	node := sp.brokerAt(viaProxy, func(o *amqpx.Options) { o.Logger = slog.New(logs) })
	pub := sp.broker()
	c := ctx(t)
	sub, err := node.Subscribe(c, "feed/#", nil)
	require.NoError(t, err)

	px.Cut()
	for i := range 100 {
		_, err := pub.Publish(c, pubsub.Message{Topic: "feed/x", Data: fmt.Appendf(nil, "%d", i)})
		require.NoError(t, err)
	}
	px.Restore()
	for i := range 100 {
		m := recv(t, sub)
		require.Equal(t, fmt.Sprint(i), string(m.Data))
	}
	// The node publishes again too, and nothing more arrives before it.
	_, err = node.Publish(c, pubsub.Message{Topic: "feed/y", Data: []byte("back")})
	require.NoError(t, err)
	require.Equal(t, "back", string(recv(t, sub).Data))
	require.GreaterOrEqual(t, logs.count("amqpx: connection closed"), 2, "both connections were cut")
	require.Zero(t, logs.count("amqpx: node queue was lost while disconnected"))
}

// TestOutageLongerThanExpiry: when the node queue expired during the
// outage, the node's subscriptions end with ErrQueueLost — an explicit
// gap, not a silent one.
func TestOutageLongerThanExpiry(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	px, viaProxy := newProxy(t, sp.url)
	node := sp.brokerAt(viaProxy, func(o *amqpx.Options) { o.NodeQueueExpiry = time.Second })
	c := ctx(t)
	sub, err := node.Subscribe(c, "feed/#", nil)
	require.NoError(t, err)
	queue := node.NodeQueue()

	px.Cut()
	// Wait for RabbitMQ to expire the queue. A passive declare would keep
	// it alive, so ask rabbitmqctl (RabbitMQ has no expiry notification).
	deadline := time.Now().Add(30 * time.Second)
	for slices.Contains(strings.Fields(rabbitmqctl(t, "list_queues", "-q", "--no-table-headers", "name")), queue) {
		require.True(t, time.Now().Before(deadline), "queue did not expire")
	}
	px.Restore()
	pubsubtest.UntilEnd(t, sub, 30*time.Second)
	require.ErrorIs(t, sub.Err(), amqpx.ErrQueueLost)
}

// TestCloseDuringOutage: Close does not hang on a Publish waiting for a
// connection that will not come back; the Publish fails with ErrClosed.
func TestCloseDuringOutage(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	px, viaProxy := newProxy(t, sp.url)
	node := sp.brokerAt(viaProxy, func(o *amqpx.Options) { o.DrainTimeout = 200 * time.Millisecond })
	c := ctx(t)
	sub, err := node.Subscribe(c, "x", nil)
	require.NoError(t, err)
	px.Cut()
	errc := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		close(started)
		_, err := node.Publish(context.Background(), pubsub.Message{Topic: "x"})
		errc <- err
	}()
	<-started
	require.NoError(t, node.Close())
	require.ErrorIs(t, <-errc, pubsub.ErrClosed)
	_, ok := <-sub.C()
	require.False(t, ok)
	require.ErrorIs(t, sub.Err(), pubsub.ErrClosed)
}

// TestPublishDuringOutageIsUnavailable cuts RabbitMQ off: a publish, direct
// or through the REST handler, fails after Options.PublishWait with an
// error that says the broker is unavailable (HTTP 503 with Retry-After),
// instead of waiting for as long as the caller lets it.
func TestPublishDuringOutageIsUnavailable(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	px, viaProxy := newProxy(t, sp.url)
	logs := newLogCounter()
	node := sp.brokerAt(viaProxy, func(o *amqpx.Options) {
		o.PublishWait = 200 * time.Millisecond
		o.Logger = slog.New(logs)
	})
	c := ctx(t)
	_, err := node.Publish(c, pubsub.Message{Topic: "x", Data: []byte("before")})
	require.NoError(t, err)

	px.Cut()
	// A publish racing the cut may still get through; once the cut is
	// noticed, none may hang or answer anything but unavailable.
	for {
		_, err = node.Publish(c, pubsub.Message{Topic: "x", Data: []byte("during")})
		if err != nil {
			break
		}
	}
	require.ErrorIs(t, err, pubsub.ErrUnavailable)
	require.NoError(t, c.Err(), "failed within PublishWait, not at the test's deadline")
	require.Equal(t, http.StatusServiceUnavailable, transport.HTTPStatus(err))

	srv := httptest.NewServer(transport.NewRESTHandler(node, nil))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/topics/x", "text/plain", strings.NewReader("rest"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "1", resp.Header.Get("Retry-After"))

	px.Restore()
	require.Eventually(t, func() bool { // the connector reconnects with backoff
		_, err := node.Publish(c, pubsub.Message{Topic: "x", Data: []byte("after")})
		return err == nil
	}, 20*time.Second, 50*time.Millisecond)
}
