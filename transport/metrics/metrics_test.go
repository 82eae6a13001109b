package metrics_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
	"github.com/switchboard-go/switchboard/transport/metrics"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSeriesFollowEvents(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, &metrics.Options{ConstLabels: prometheus.Labels{"node": "a"}})
	require.NoError(t, err)
	o := m.Observer()
	msg := &pubsub.Message{Topic: "t", Data: []byte("hello")}

	o.OnConnOpened("ws")
	o.OnConnOpened("ws")
	o.OnSubStarted("ws", "t")
	o.OnSubStarted("ws", "u")
	o.OnSubRefused("ws", transport.ErrForbidden, "secret") // never started
	o.OnDelivered("ws", msg, 40)
	o.OnDelivered("ws", msg, 40)
	o.OnSubEnded("ws", transport.EndSlowConsumer, pubsub.ErrSlowConsumer, "t")
	o.OnConnClosed("ws")
	o.OnPublished(transport.PublishEvent{Transport: "rest", Message: msg, Bytes: 5, Latency: 2 * time.Millisecond})
	o.OnPublished(transport.PublishEvent{Transport: "rest", Message: msg, Bytes: 5, Err: errors.New("no")})

	expected := `
# HELP switchboard_connections Sessions open now (connections, streams, held polls).
# TYPE switchboard_connections gauge
switchboard_connections{node="a",transport="rest"} 0
switchboard_connections{node="a",transport="ws"} 1
# HELP switchboard_connections_total Sessions opened.
# TYPE switchboard_connections_total counter
switchboard_connections_total{node="a",transport="rest"} 0
switchboard_connections_total{node="a",transport="ws"} 2
# HELP switchboard_subscriptions Subscriptions delivering now.
# TYPE switchboard_subscriptions gauge
switchboard_subscriptions{node="a",transport="rest"} 0
switchboard_subscriptions{node="a",transport="ws"} 1
# HELP switchboard_subscriptions_total Subscriptions started.
# TYPE switchboard_subscriptions_total counter
switchboard_subscriptions_total{node="a",transport="rest"} 0
switchboard_subscriptions_total{node="a",transport="ws"} 2
# HELP switchboard_subscriptions_ended_total Subscriptions ended or refused, by reason.
# TYPE switchboard_subscriptions_ended_total counter
switchboard_subscriptions_ended_total{node="a",reason="auth",transport="ws"} 1
switchboard_subscriptions_ended_total{node="a",reason="slow_consumer",transport="ws"} 1
# HELP switchboard_deliveries_total Messages written to clients.
# TYPE switchboard_deliveries_total counter
switchboard_deliveries_total{node="a",transport="rest"} 0
switchboard_deliveries_total{node="a",transport="ws"} 2
# HELP switchboard_delivered_bytes_total Bytes written to clients for the messages delivered.
# TYPE switchboard_delivered_bytes_total counter
switchboard_delivered_bytes_total{node="a",transport="rest"} 0
switchboard_delivered_bytes_total{node="a",transport="ws"} 80
# HELP switchboard_publishes_total Publishes made for clients, by result.
# TYPE switchboard_publishes_total counter
switchboard_publishes_total{node="a",result="error",transport="rest"} 1
switchboard_publishes_total{node="a",result="ok",transport="rest"} 1
switchboard_publishes_total{node="a",result="error",transport="ws"} 0
switchboard_publishes_total{node="a",result="ok",transport="ws"} 0
# HELP switchboard_published_bytes_total Payload bytes published for clients.
# TYPE switchboard_published_bytes_total counter
switchboard_published_bytes_total{node="a",transport="rest"} 5
switchboard_published_bytes_total{node="a",transport="ws"} 0
`
	// A transport's series all appear (at 0) with its first event.
	require.NoError(t, testutil.GatherAndCompare(reg, stringsReader(expected),
		"switchboard_connections", "switchboard_connections_total", "switchboard_subscriptions",
		"switchboard_subscriptions_total", "switchboard_subscriptions_ended_total", "switchboard_deliveries_total",
		"switchboard_delivered_bytes_total", "switchboard_publishes_total", "switchboard_published_bytes_total"))
	n, err := testutil.GatherAndCount(reg, "switchboard_publish_duration_seconds")
	require.NoError(t, err)
	require.Equal(t, 2, n, "a latency series per transport")
}

func TestNewRefusesADuplicate(t *testing.T) {
	reg := prometheus.NewRegistry()
	_, err := metrics.New(reg, nil)
	require.NoError(t, err)
	_, err = metrics.New(reg, nil)
	require.Error(t, err)
	_, err = metrics.New(reg, &metrics.Options{Namespace: "other"})
	require.NoError(t, err, "another namespace")
}

// BenchmarkDelivered is the cost one delivery adds on the hot path: a nil
// Observer against the Prometheus one.
func BenchmarkDelivered(b *testing.B) {
	m, err := metrics.New(prometheus.NewRegistry(), nil)
	if err != nil {
		b.Fatal(err)
	}
	msg := &pubsub.Message{Topic: "t", Data: []byte("hello")}
	for _, c := range []struct {
		name string
		o    *transport.Observer
	}{{"nil", nil}, {"metrics", m.Observer()}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.o.OnDelivered("ws", msg, 100)
			}
		})
		b.Run(c.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c.o.OnDelivered("ws", msg, 100)
				}
			})
		})
	}
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
