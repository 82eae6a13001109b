package amqpx_test

import (
	"context"
	"log/slog"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/amqpx"
	"github.com/switchboard-go/switchboard/internal/testenv"
	"github.com/switchboard-go/switchboard/pubsub"
)

// space is one test's private corner of RabbitMQ: a unique exchange and
// queue prefix, removed at the end of the test.
type space struct {
	t        testing.TB
	url      string
	exchange string
	prefix   string
}

func newSpace(t testing.TB) *space {
	t.Helper()
	url := testenv.RabbitMQ(t)
	id := pubsub.NewEpoch()
	s := &space{t: t, url: url, exchange: "sbtest." + id, prefix: "sbtest." + id}
	t.Cleanup(s.cleanup)
	return s
}

func (s *space) options() *amqpx.Options {
	return &amqpx.Options{Exchange: s.exchange, QueuePrefix: s.prefix,
		ConnectionName: s.prefix, GroupQueueExpiry: 30 * time.Second, NodeQueueExpiry: 10 * time.Second,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 500 * time.Millisecond}
}

// broker dials a Broker in this space, closed at the end of the test.
func (s *space) broker(mod ...func(*amqpx.Options)) *amqpx.Broker {
	s.t.Helper()
	return s.brokerAt(s.url, mod...)
}

// brokerAt is broker through url (a proxy's).
func (s *space) brokerAt(url string, mod ...func(*amqpx.Options)) *amqpx.Broker {
	s.t.Helper()
	o := s.options()
	for _, f := range mod {
		f(o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	b, err := amqpx.Dial(ctx, url, o)
	require.NoError(s.t, err)
	s.t.Cleanup(func() { _ = b.Close() })
	return b
}

// channel opens a raw AMQP channel, closed at the end of the test.
func (s *space) channel() *amqp.Channel {
	s.t.Helper()
	conn, err := amqp.Dial(s.url)
	require.NoError(s.t, err)
	s.t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	require.NoError(s.t, err)
	return ch
}

// deleteQueueLater deletes a durable queue (a group's) at the end.
func (s *space) deleteQueueLater(name string) {
	s.t.Cleanup(func() {
		s.tidy(func(ch *amqp.Channel) { _, _ = ch.QueueDelete(name, false, false, false) })
	})
}

func (s *space) cleanup() {
	s.tidy(func(ch *amqp.Channel) {
		_ = ch.ExchangeDelete(s.exchange, false, false)
		_, _ = ch.QueueDelete(s.exchange+".history", false, false, false)
	})
}

// tidy runs fn on a fresh channel, best effort: cleanups ignore errors.
func (s *space) tidy(fn func(ch *amqp.Channel)) {
	conn, err := amqp.Dial(s.url)
	if err != nil {
		return
	}
	defer conn.Close()
	if ch, err := conn.Channel(); err == nil {
		fn(ch)
	}
}

// rabbitmqctl runs rabbitmqctl with args, bounded in time.
func rabbitmqctl(t testing.TB, args ...string) string {
	t.Helper()
	path := testenv.Command(t, "rabbitmqctl")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	require.NoError(t, err, "rabbitmqctl %s: %s", strings.Join(args, " "), out)
	return string(out)
}

// recv waits for the next message on sub.
func recv(t *testing.T, sub pubsub.Subscription) *pubsub.Message {
	t.Helper()
	select {
	case m, ok := <-sub.C():
		require.True(t, ok, "subscription ended: %v", sub.Err())
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for a message")
		return nil
	}
}

// ctx returns a context bounding one test.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func groupQueueName(sp *space, group, filter string) string {
	return amqpx.GroupQueue(sp.prefix, group, filter)
}

// logCounter is a slog.Handler counting records by message.
type logCounter struct {
	mu *sync.Mutex
	n  map[string]int
}

func newLogCounter() logCounter { return logCounter{mu: new(sync.Mutex), n: map[string]int{}} }

func (l logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (l logCounter) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n[r.Message]++
	return nil
}
func (l logCounter) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l logCounter) WithGroup(string) slog.Handler      { return l }
func (l logCounter) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n[msg]
}

// bindings lists the routing keys binding queue to the space's exchange.
func (s *space) bindings(queue string) []string {
	s.t.Helper()
	var keys []string
	out := rabbitmqctl(s.t, "list_bindings", "-q", "--no-table-headers", "source_name", "destination_name", "routing_key")
	for l := range strings.Lines(out) {
		f := strings.Split(strings.TrimRight(l, "\n"), "\t")
		if len(f) == 3 && f[0] == s.exchange && f[1] == queue {
			keys = append(keys, f[2])
		}
	}
	slices.Sort(keys)
	return keys
}
