package mqttx_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/testenv"
	"github.com/switchboard-go/switchboard/mqttx"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// testWindow is Options.DedupWindow for the tests that reproduce issue
// 14's duplicates; SB_TEST_DEDUP_WINDOW=-1ns shows them without dedup.
func testWindow(t *testing.T) time.Duration {
	v := os.Getenv("SB_TEST_DEDUP_WINDOW")
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	require.NoError(t, err)
	return d
}

// TestPublishTimeoutRetriedOnce reproduces issue 14's "504 then
// delivered": a publish through a black-holed link times out, yet reaches
// the server once the link is back; the publisher retries it with the
// same ID. The subscriber gets it once.
func TestPublishTimeoutRetriedOnce(t *testing.T) {
	t.Parallel()
	mosq := testenv.Mosquitto(t)
	px := testenv.NewProxy(t, mosq)
	window := testWindow(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sub := dialAddr(t, mosq, &mqttx.Options{DedupWindow: window})
	pub := dialAddr(t, px.Addr(), &mqttx.Options{PacketTimeout: 500 * time.Millisecond, KeepAlive: time.Minute, DedupWindow: window})
	topic := prefix(t) + "retry"
	s, err := sub.Subscribe(ctx, topic, nil)
	require.NoError(t, err)
	defer s.Close()

	px.BlackHole()
	_, err = pub.Publish(ctx, pubsub.Message{Topic: topic, ID: "order-1", Data: []byte("once")})
	require.Error(t, err, "no PUBACK through the black hole")
	px.Restore()
	m := recv(t, s)
	require.Equal(t, "order-1", m.ID, "the timed-out publish was delivered all the same")

	_, err = pub.Publish(ctx, pubsub.Message{Topic: topic, ID: "order-1", Data: []byte("once")})
	require.NoError(t, err, "the retry")
	_, err = pub.Publish(ctx, pubsub.Message{Topic: topic, Data: []byte("marker")})
	require.NoError(t, err)
	m = recv(t, s)
	require.Equal(t, "marker", string(m.Data), "the retry was delivered again (id %s)", m.ID)
}

// TestPublishRepeatReturnsReceipt: a repeat of an accepted ID is answered
// from the window, without a PUBLISH.
func TestPublishRepeatReturnsReceipt(t *testing.T) {
	t.Parallel()
	b := dialAddr(t, testenv.Mosquitto(t), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	topic := prefix(t) + "repeat"
	r1, err := b.Publish(ctx, pubsub.Message{Topic: topic, ID: "k"})
	require.NoError(t, err)
	r2, err := b.Publish(ctx, pubsub.Message{Topic: topic, ID: "k"})
	require.NoError(t, err)
	require.Equal(t, r1, r2)
}

// TestServerDeviceKey: a device's "sb-id" user property is its idempotency
// key: a repeated PUBLISH is acknowledged and not delivered again; an
// unusable key is refused with reason 0x83.
func TestServerDeviceKey(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mem := newMemory(t)
	_, addr := startServer(t, mem, nil)
	watch, err := mem.Subscribe(ctx, "dev/#", nil)
	require.NoError(t, err)
	defer watch.Close()
	sensor := connectDevice(t, addr, "sensor", nil)
	publish := func(data, key string) byte {
		pk := &paho.Publish{Topic: "dev/s1", QoS: 1, Payload: []byte(data)}
		if key != "" {
			pk.Properties = &paho.PublishProperties{User: paho.UserProperties{{Key: "sb-id", Value: key}}}
		}
		res, err := sensor.c.Publish(ctx, pk)
		if res != nil {
			return res.ReasonCode
		}
		require.NoError(t, err)
		return 0
	}
	require.Zero(t, publish("one", "reading-1"))
	require.Zero(t, publish("one again", "reading-1"), "a repeat is acknowledged")
	require.Equal(t, byte(0x83), publish("bad", strings.Repeat("k", transport.MaxKeyBytes+1)))
	require.Zero(t, publish("two", ""))
	m := <-watch.C()
	require.Equal(t, "reading-1", m.ID)
	require.Equal(t, "one", string(m.Data))
	m = <-watch.C()
	require.Equal(t, "two", string(m.Data), "the repeat was not delivered")
}
