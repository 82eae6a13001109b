package mqttx_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/testenv"
	"github.com/switchboard-go/switchboard/mqttx"
	"github.com/switchboard-go/switchboard/pubsub"
)

// TestReadyFollowsTheConnection: Ready is nil while connected, wraps
// ErrUnavailable with the reason while the link is cut (refused
// reconnects included), recovers after the reconnect, and is ErrClosed
// after Close.
func TestReadyFollowsTheConnection(t *testing.T) {
	mosq := testenv.Mosquitto(t)
	px := testenv.NewProxy(t, mosq)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := dialAddr(t, px.Addr(), &mqttx.Options{MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	require.NoError(t, b.Ready(ctx))

	px.Cut()
	var err error
	require.Eventually(t, func() bool {
		err = b.Ready(ctx)
		return err != nil
	}, 15*time.Second, 5*time.Millisecond, "Ready stayed nil with the link cut")
	require.ErrorIs(t, err, pubsub.ErrUnavailable)
	require.Contains(t, err.Error(), "not connected")
	t.Log(err)

	px.Restore()
	require.Eventually(t, func() bool { return b.Ready(ctx) == nil }, 15*time.Second, 5*time.Millisecond,
		"Ready did not recover after the reconnect")

	require.NoError(t, b.Close())
	require.ErrorIs(t, pubsub.Ready(ctx, b), pubsub.ErrClosed)
}
