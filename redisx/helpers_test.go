package redisx_test

import (
	"context"
	"log/slog"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/testenv"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/redisx"
)

// space is one test's private namespace on the test Redis: a unique key
// prefix whose keys are deleted at the end of the test.
type space struct {
	t      testing.TB
	url    string
	prefix string
}

func newSpace(t testing.TB) *space {
	t.Helper()
	u := testenv.Redis(t)
	s := &space{t: t, url: u, prefix: "sbtest:" + pubsub.NewID()}
	t.Cleanup(s.cleanup)
	return s
}

func (s *space) options() *redisx.Options {
	return &redisx.Options{Prefix: s.prefix, MinBackoff: 20 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
		KeepAlive: time.Second}
}

// broker dials a Broker in this space, closed at the end of the test.
func (s *space) broker(mod ...func(*redisx.Options)) *redisx.Broker {
	s.t.Helper()
	return s.brokerAt(s.url, mod...)
}

// brokerAt is broker through url (a proxy's).
func (s *space) brokerAt(url string, mod ...func(*redisx.Options)) *redisx.Broker {
	s.t.Helper()
	o := s.options()
	for _, f := range mod {
		f(o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	b, err := redisx.Dial(ctx, url, o)
	require.NoError(s.t, err)
	s.t.Cleanup(func() { _ = b.Close() })
	return b
}

// client returns a plain go-redis client, closed at the end of the test.
func (s *space) client() *redis.Client {
	s.t.Helper()
	o, err := redis.ParseURL(s.url)
	require.NoError(s.t, err)
	c := redis.NewClient(o)
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

func (s *space) cleanup() {
	o, err := redis.ParseURL(s.url)
	if err != nil {
		return
	}
	c := redis.NewClient(o)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.Del(ctx, s.prefix+":log", s.prefix+":epoch", s.prefix+":retained", s.prefix+":count")
}

// newProxy starts a proxy to the space's Redis that the test can cut, and
// returns it with the URL that goes through it.
func newProxy(t *testing.T, redisURL string) (*testenv.Proxy, string) {
	u, err := url.Parse(redisURL)
	require.NoError(t, err)
	p := testenv.NewProxy(t, u.Host)
	u.Host = p.Addr()
	return p, u.String()
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
