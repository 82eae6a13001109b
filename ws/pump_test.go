package ws

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
)

// plainSub hides every method but Subscription's: no Notify.
type plainSub struct{ pubsub.Subscription }

// TestSubscriptionWithoutNotify: a subscription that cannot announce its
// deliveries (a broker wrapper's) is served through a pump goroutine: its
// messages arrive in order, unsubscribe and the end of the connection end
// the pump (goleak checks), a second subscription on the same connection
// is unaffected.
func TestSubscriptionWithoutNotify(t *testing.T) {
	m := pubsub.NewMemory(nil)
	defer m.Close()
	b := pubsub.Wrap(m, pubsub.Middleware{
		Subscribe: func(ctx context.Context, filter string, opts *pubsub.SubscribeOptions, next func(context.Context, string, *pubsub.SubscribeOptions) (pubsub.Subscription, error)) (pubsub.Subscription, error) {
			s, err := next(ctx, filter, opts)
			if err != nil {
				return nil, err
			}
			_, ok := s.(pubsub.Notifier)
			require.True(t, ok, "Memory's subscriptions have Notify")
			return plainSub{s}, nil
		},
	})
	h := NewHandler(b, &Options{Buffer: 2048})
	srv := httptest.NewServer(http.Handler(h))
	defer func() { _ = h.Close(); srv.Close() }()
	ts := &testServer{t: t, h: h, srv: srv, url: "ws" + strings.TrimPrefix(srv.URL, "http")}
	c := ts.dialRaw(t, nil)
	c.send(`{"type":"subscribe","id":"a","filter":"a"}`)
	c.expect("subscribed", "a")
	c.send(`{"type":"subscribe","id":"b","filter":"b"}`)
	c.expect("subscribed", "b")
	const n = 1000 // more than one batch
	for i := range n {
		publish(t, m, "a", strconv.Itoa(i))
	}
	for i := range n {
		f := c.expect("message", "")
		require.Equal(t, "a", f["sub"])
		require.Equal(t, float64(i), f["data"])
	}
	c.send(`{"type":"unsubscribe","id":"a"}`)
	c.expect("unsubscribed", "a")
	publish(t, m, "a", `0`)
	publish(t, m, "b", `1`)
	f := c.expect("message", "")
	require.Equal(t, "b", f["sub"], "frame %v", f)
	c.send(`{"type":"subscribe","id":"a","filter":"a"}`)
	c.expect("subscribed", "a")
	for i := range 10 {
		publish(t, m, "a", fmt.Sprint(i))
		f := c.expect("message", "")
		require.Equal(t, float64(i), f["data"])
	}
}

// TestCoalesce: with Options.Coalesce a burst waits before it writes;
// messages still arrive each once, in order, next to control replies, and
// the connection ends (goleak: no burst left behind).
func TestCoalesce(t *testing.T) {
	ts := newTestServer(t, &Options{Coalesce: time.Millisecond, Buffer: 1000}, nil)
	c := ts.dialRaw(t, nil)
	c.send(`{"type":"subscribe","id":"a","filter":"a"}`)
	c.expect("subscribed", "a")
	for i := range 500 {
		publish(t, ts.broker, "a", strconv.Itoa(i))
	}
	c.send(`{"type":"ping","id":"p"}`)
	pong := false
	for i := 0; i < 500; {
		f := c.recv()
		if f["type"] == "pong" {
			pong = true
			continue
		}
		require.Equal(t, float64(i), f["data"])
		i++
	}
	if !pong {
		c.expect("pong", "p")
	}
}
