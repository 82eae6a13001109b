package mqttx_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/testenv"
	"github.com/switchboard-go/switchboard/mqttx"
	"github.com/switchboard-go/switchboard/pubsub"
)

// TestBrokerConnectionDropQoS1 cuts the subscriber's connection twice in
// the middle of a QoS 1 stream: autopaho reconnects, the server still has
// the session and its queued messages, and every message arrives at least
// once, in order apart from redeliveries.
func TestBrokerConnectionDropQoS1(t *testing.T) {
	mosq := testenv.Mosquitto(t)
	px := testenv.NewProxy(t, mosq)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sub := dialAddr(t, px.Addr(), &mqttx.Options{MaxBackoff: 200 * time.Millisecond, KeepAlive: 2 * time.Second, DedupWindow: testWindow(t)})
	pub := dialAddr(t, mosq, &mqttx.Options{PublishQoS: 1})
	topic := prefix(t) + "stream"
	s, err := sub.Subscribe(ctx, topic, &pubsub.SubscribeOptions{Buffer: 1000})
	require.NoError(t, err)
	defer s.Close()

	const n = 600
	pubDone := make(chan error, 1)
	go func() {
		for i := range n {
			if _, err := pub.Publish(ctx, pubsub.Message{Topic: topic, Data: fmt.Appendf(nil, "%d", i)}); err != nil {
				pubDone <- err
				return
			}
		}
		pubDone <- nil
	}()
	seen := make(map[string]bool, n)
	dups, drops := 0, 0
	for len(seen) < n {
		select {
		case m, ok := <-s.C():
			require.True(t, ok, "subscription ended: %v", s.Err())
			if seen[string(m.Data)] {
				dups++
			}
			seen[string(m.Data)] = true
			if (len(seen) == n/3 || len(seen) == 2*n/3) && drops < 2 && len(seen) > drops*n/3 {
				px.Drop()
				drops++
			}
		case <-ctx.Done():
			t.Fatalf("received %d of %d messages (%d duplicates) after %d drops", len(seen), n, dups, drops)
		}
	}
	require.NoError(t, <-pubDone)
	require.Equal(t, 2, drops)
	t.Logf("all %d messages arrived across %d connection drops (%d duplicates)", n, drops, dups)
	require.Zero(t, dups, "messages delivered twice")
}

// TestBrokerSessionLost: without a session that outlives the connection,
// a reconnect cannot recover what was published meanwhile, so the
// subscription ends with ErrSessionLost instead of silently skipping.
func TestBrokerSessionLost(t *testing.T) {
	mosq := testenv.Mosquitto(t)
	px := testenv.NewProxy(t, mosq)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b := dialAddr(t, px.Addr(), &mqttx.Options{SessionExpiry: -1, MaxBackoff: 100 * time.Millisecond})
	s, err := b.Subscribe(ctx, prefix(t)+"x", nil)
	require.NoError(t, err)
	px.Drop()
	select {
	case _, ok := <-s.C():
		require.False(t, ok)
	case <-ctx.Done():
		t.Fatal("subscription did not end after the session was lost")
	}
	require.ErrorIs(t, s.Err(), mqttx.ErrSessionLost)
	// The broker itself is usable again.
	s2, err := b.Subscribe(ctx, prefix(t)+"y", &pubsub.SubscribeOptions{})
	if err != nil {
		require.ErrorIs(t, err, mqttx.ErrDisconnected) // raced the reconnect
		return
	}
	s2.Close()
}
