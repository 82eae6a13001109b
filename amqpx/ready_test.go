package amqpx_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
)

// TestReadyFollowsTheConnection: Ready is nil while connected, says why
// (ErrUnavailable with the connection error) while the link is cut,
// recovers after the reconnect, and is ErrClosed after Close.
func TestReadyFollowsTheConnection(t *testing.T) {
	sp := newSpace(t)
	px, viaProxy := newProxy(t, sp.url)
	node := sp.brokerAt(viaProxy)
	c := ctx(t)
	require.NoError(t, node.Ready(c))
	require.NoError(t, pubsub.Ready(c, node))

	px.Cut()
	var err error
	require.Eventually(t, func() bool {
		err = node.Ready(c)
		return err != nil
	}, 15*time.Second, 5*time.Millisecond, "Ready stayed nil with the link cut")
	require.ErrorIs(t, err, pubsub.ErrUnavailable)
	require.Contains(t, err.Error(), "connection down")
	t.Log(err)

	px.Restore()
	require.Eventually(t, func() bool { return node.Ready(c) == nil }, 15*time.Second, 5*time.Millisecond,
		"Ready did not recover after the reconnect")

	require.NoError(t, node.Close())
	require.ErrorIs(t, node.Ready(c), pubsub.ErrClosed)
}
