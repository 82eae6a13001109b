package pubsub_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/pubsub/pubsubtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMemoryConformance(t *testing.T) {
	pubsubtest.Run(t, pubsubtest.Features{
		Capabilities: pubsub.Capabilities{History: true, Groups: true, Acks: true, Retain: true},
	}, func(t *testing.T) pubsub.Broker { return pubsub.NewMemory(nil) })
}

func TestMemoryWithoutHistoryConformance(t *testing.T) {
	pubsubtest.Run(t, pubsubtest.Features{
		Capabilities: pubsub.Capabilities{Groups: true, Acks: true, Retain: true},
	}, func(t *testing.T) pubsub.Broker { return pubsub.NewMemory(&pubsub.MemoryOptions{HistorySize: -1}) })
}

func TestMemoryReady(t *testing.T) {
	b := pubsub.NewMemory(nil)
	require.NoError(t, pubsub.Ready(context.Background(), b))
	require.NoError(t, b.Close())
	require.ErrorIs(t, b.Ready(context.Background()), pubsub.ErrClosed)
}

// A wrapped Memory passes the whole suite: Wrap keeps HistoryReader and
// MultiSubscriber, and a middleware that only counts changes nothing.
func TestWrappedMemoryConformance(t *testing.T) {
	pubsubtest.Run(t, pubsubtest.Features{
		Capabilities: pubsub.Capabilities{History: true, Groups: true, Acks: true, Retain: true},
	}, func(t *testing.T) pubsub.Broker {
		return pubsub.Wrap(pubsub.NewMemory(nil), countingMiddleware(new(atomic.Int64)))
	})
}

// Readiness is found through a wrapper (Wrap does not forward Ready).
func TestWrappedMemoryReady(t *testing.T) {
	m := pubsub.NewMemory(nil)
	w := pubsub.Wrap(m, pubsub.Middleware{})
	require.NoError(t, pubsub.Ready(context.Background(), w))
	require.NoError(t, m.Close())
	require.ErrorIs(t, pubsub.Ready(context.Background(), w), pubsub.ErrClosed)
}
