package tracing_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/switchboard-go/switchboard/internal/testenv"
	"github.com/switchboard-go/switchboard/mqttx"
	"github.com/switchboard-go/switchboard/natsx"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/redisx"
)

// TestTraceCrossesOtherBrokers is TestTraceCrossesRabbitMQ over the other
// scale-out brokers: the traceparent header travels as an MQTT 5 user
// property, in NATS headers and in Redis stream fields.
func TestTraceCrossesOtherBrokers(t *testing.T) {
	for _, tc := range []struct {
		name string
		dial func(t *testing.T, id string) func() pubsub.Broker
	}{
		{"mqtt", func(t *testing.T, id string) func() pubsub.Broker {
			addr := testenv.Mosquitto(t)
			return func() pubsub.Broker {
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				defer cancel()
				b, err := mqttx.Dial(ctx, "mqtt://"+addr, nil)
				require.NoError(t, err)
				t.Cleanup(func() { _ = b.Close() })
				return b
			}
		}},
		{"nats", func(t *testing.T, id string) func() pubsub.Broker {
			url := testenv.NATS(t)
			o := &natsx.Options{Stream: "SBTEST_" + id, SubjectPrefix: "sbtest_" + id, MemoryStorage: true}
			t.Cleanup(func() {
				nc, err := nats.Connect(url)
				if err != nil {
					return
				}
				defer nc.Close()
				if js, err := jetstream.New(nc); err == nil {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					_ = js.DeleteStream(ctx, o.Stream)
					_ = js.DeleteStream(ctx, o.Stream+"_RETAIN")
				}
			})
			return func() pubsub.Broker {
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				defer cancel()
				b, err := natsx.Dial(ctx, url, o)
				require.NoError(t, err)
				t.Cleanup(func() { _ = b.Close() })
				return b
			}
		}},
		{"redis", func(t *testing.T, id string) func() pubsub.Broker {
			url := testenv.Redis(t)
			o := &redisx.Options{Prefix: "sbtest:" + id}
			t.Cleanup(func() {
				ro, err := redis.ParseURL(url)
				if err != nil {
					return
				}
				c := redis.NewClient(ro)
				defer c.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				c.Del(ctx, o.Prefix+":log", o.Prefix+":epoch", o.Prefix+":retained", o.Prefix+":count")
			})
			return func() pubsub.Broker {
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				defer cancel()
				b, err := redisx.Dial(ctx, url, o)
				require.NoError(t, err)
				t.Cleanup(func() { _ = b.Close() })
				return b
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := pubsub.NewEpoch()
			dial := tc.dial(t, id)
			rec := tracetest.NewSpanRecorder()
			a := newNode(t, dial(), rec)
			b := newNode(t, dial(), rec)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a bound, not a timing assertion
			defer cancel()
			topic := "sbtest/" + id + "/traced"
			recv := subscribeAll(t, ctx, b, topic)
			publishREST(t, a, topic, "across")
			require.Equal(t, []string{"across", "across", "across"}, recv())
			requireDeliverySpans(t, rec, topic)
		})
	}
}
