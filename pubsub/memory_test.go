package pubsub_test

import (
	"sync/atomic"
	"testing"

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

// A wrapped Memory passes the whole suite: Wrap keeps HistoryReader and
// MultiSubscriber, and a middleware that only counts changes nothing.
func TestWrappedMemoryConformance(t *testing.T) {
	pubsubtest.Run(t, pubsubtest.Features{
		Capabilities: pubsub.Capabilities{History: true, Groups: true, Acks: true, Retain: true},
	}, func(t *testing.T) pubsub.Broker {
		return pubsub.Wrap(pubsub.NewMemory(nil), countingMiddleware(new(atomic.Int64)))
	})
}
