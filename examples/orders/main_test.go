package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
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
	name := "orders-test-" + pubsub.NewEpoch()
	t.Cleanup(func() { deleteExchange(t, url, name) })

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

func order(t *testing.T, base, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(base+"/orders", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var r struct{ ID string }
	if resp.StatusCode == http.StatusAccepted {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
	}
	return resp.StatusCode, r.ID
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
	processed := watch(t, obs, "orders/processed/+")
	failed := watch(t, obs, "orders/failed/+")

	code, _ := order(t, base, `{"item":"book","qty":0}`)
	require.Equal(t, http.StatusBadRequest, code)
	code, _ = order(t, base, `{"item":"book","qty":1,"colour":"red"}`)
	require.Equal(t, http.StatusBadRequest, code, "unknown fields are refused")

	_, bad := order(t, base, `{"item":"piano","qty":99}`)
	good := map[string]bool{}
	for _, item := range []string{"book", "pen", "lamp"} {
		code, id := order(t, base, `{"item":"`+item+`","qty":2}`)
		require.Equal(t, http.StatusAccepted, code)
		good[id] = true
	}

	for range good {
		m := next(t, processed)
		id := strings.TrimPrefix(m.Topic, "orders/processed/")
		require.True(t, good[id], "unexpected processed order %s", id)
		delete(good, id)
		require.NotEmpty(t, m.Header["worker"])
	}
	m := next(t, failed)
	require.Equal(t, "orders/failed/"+bad, m.Topic, "the failing order, after 3 attempts")
	require.NotEmpty(t, m.Header["reason"])
}

func TestExpressOrdersJumpTheQueue(t *testing.T) {
	// One worker that takes a while: orders pile up in the group's queue,
	// and the express one is served next, before older normal ones.
	base, obs := start(t, "-workers", "1", "-work-time", "400ms")
	processed := watch(t, obs, "orders/processed/+")

	var ids []string
	for _, item := range []string{"a", "b", "c", "d"} {
		_, id := order(t, base, `{"item":"`+item+`","qty":1}`)
		ids = append(ids, id)
	}
	_, express := order(t, base, `{"item":"urgent","qty":1,"express":true}`)

	var got []string
	for range 5 {
		got = append(got, strings.TrimPrefix(next(t, processed).Topic, "orders/processed/"))
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
