package pubsub_test

import (
	"context"
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
