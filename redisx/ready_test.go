package redisx_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
)

// TestReadyFollowsTheConnection: Ready is nil while connected, wraps
// ErrUnavailable while the link is cut, recovers once it is back, and is
// ErrClosed after Close.
func TestReadyFollowsTheConnection(t *testing.T) {
	sp := newSpace(t)
	px, viaProxy := newProxy(t, sp.url)
	b := sp.brokerAt(viaProxy)
	c := ctx(t)
	require.NoError(t, b.Ready(c))

	px.Cut()
	var err error
	require.Eventually(t, func() bool {
		err = b.Ready(c)
		return err != nil
	}, 15*time.Second, 5*time.Millisecond, "Ready stayed nil with the link cut")
	require.ErrorIs(t, err, pubsub.ErrUnavailable)
	t.Log(err)

	px.Restore()
	require.Eventually(t, func() bool { return b.Ready(c) == nil }, 20*time.Second, 10*time.Millisecond,
		"Ready did not recover once the link was back")

	require.NoError(t, b.Close())
	require.ErrorIs(t, pubsub.Ready(c, b), pubsub.ErrClosed)
}
