package amqpx_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/switchboard-go/switchboard/amqpx"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/pubsub/pubsubtest"
)

// TestConformance runs the pubsub conformance suite against RabbitMQ. The
// brokers of one case share an exchange, so the MultiNode case runs.
func TestConformance(t *testing.T) {
	for _, history := range []bool{false, true} {
		t.Run(fmt.Sprintf("history=%v", history), func(t *testing.T) {
			var spaces sync.Map // *testing.T → *space
			pubsubtest.Run(t, pubsubtest.Features{
				Capabilities:  pubsub.Capabilities{Groups: true, Acks: true, History: history},
				SharedBackend: true,
			}, func(t *testing.T) pubsub.Broker {
				sp, ok := spaces.Load(t)
				if !ok {
					sp, _ = spaces.LoadOrStore(t, newSpace(t))
					t.Cleanup(func() { spaces.Delete(t) })
				}
				return sp.(*space).broker(func(o *amqpx.Options) { o.History = history })
			})
		})
	}
}
