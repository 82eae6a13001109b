package mqttx_test

import (
	"context"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/obstest"
	"github.com/switchboard-go/switchboard/mqttx"
	"github.com/switchboard-go/switchboard/transport"
)

// TestServerObserver: an MQTT connection, its subscriptions (refused by
// Auth, unsubscribed, ended by Close), its publishes and deliveries are
// reported as transport "mqtt".
func TestServerObserver(t *testing.T) {
	rec := obstest.New()
	mem := newMemory(t)
	srv, addr := startServer(t, mem, &mqttx.ServerOptions{Observer: rec.Observer(), Auth: &transport.Auth{
		Authorize: func(_ context.Context, _ *transport.Identity, _ transport.Action, topic string) error {
			if topic == "secret" {
				return transport.ErrForbidden
			}
			return nil
		},
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := connectDevice(t, addr, "d1", nil)
	rec.WaitKind(t, obstest.ConnOpened, 1)
	require.Equal(t, []byte{0x87, 1, 1}, d.subscribe(t,
		paho.SubscribeOptions{Topic: "secret", QoS: 1},
		paho.SubscribeOptions{Topic: "a/#", QoS: 1},
		paho.SubscribeOptions{Topic: "b", QoS: 1}))
	_, err := d.c.Publish(ctx, &paho.Publish{Topic: "a/x", QoS: 1, Payload: []byte("hello")})
	require.NoError(t, err)
	require.Equal(t, "hello", string(d.next(t).Payload))
	_, err = d.c.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{"a/#"}})
	require.NoError(t, err)
	rec.WaitKind(t, obstest.SubEnded, 2)

	pub := rec.Of(obstest.Published)
	require.Len(t, pub, 1)
	require.Equal(t, obstest.Event{Kind: obstest.Published, Transport: "mqtt", Topic: "a/x", Bytes: 5}, pub[0])
	del := rec.WaitKind(t, obstest.Delivered, 1)
	require.Equal(t, obstest.Event{Kind: obstest.Delivered, Transport: "mqtt", Topic: "a/x", Bytes: 5}, del[0])

	require.NoError(t, srv.Close())
	rec.WaitKind(t, obstest.ConnClosed, 1)
	var ends []string
	for _, e := range rec.WaitKind(t, obstest.SubEnded, 3) {
		ends = append(ends, e.Filters[0]+" "+string(e.Reason))
	}
	require.Equal(t, []string{"secret auth", "a/# client", "b shutdown"}, ends)
	for _, e := range rec.Events() {
		require.Equal(t, "mqtt", e.Transport)
	}
}
