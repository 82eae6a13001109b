package natsx_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/testenv"
	"github.com/switchboard-go/switchboard/natsx"
	"github.com/switchboard-go/switchboard/pubsub"
)

// space is one test's private corner of NATS: a unique stream and subject
// prefix, deleted at the end of the test.
type space struct {
	t      testing.TB
	url    string
	stream string
	prefix string
}

func newSpace(t testing.TB) *space {
	t.Helper()
	url := testenv.NATS(t)
	id := pubsub.NewEpoch()
	s := &space{t: t, url: url, stream: "SBTEST_" + id, prefix: "sbtest_" + id}
	t.Cleanup(s.cleanup)
	return s
}

func (s *space) options() *natsx.Options {
	return &natsx.Options{Stream: s.stream, SubjectPrefix: s.prefix, Name: s.prefix,
		HistoryMaxAge: time.Hour, HistoryMaxBytes: 64 << 20, MemoryStorage: true, GroupExpiry: 30 * time.Second,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, NackDelay: 10 * time.Millisecond,
		StreamCheck: 200 * time.Millisecond}
}

// broker dials a Broker in this space, closed at the end of the test.
func (s *space) broker(mod ...func(*natsx.Options)) *natsx.Broker {
	s.t.Helper()
	return s.brokerAt(s.url, mod...)
}

// brokerAt is broker through url (a proxy's).
func (s *space) brokerAt(url string, mod ...func(*natsx.Options)) *natsx.Broker {
	s.t.Helper()
	o := s.options()
	for _, f := range mod {
		f(o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	b, err := natsx.Dial(ctx, url, o)
	require.NoError(s.t, err)
	s.t.Cleanup(func() { _ = b.Close() })
	return b
}

// js connects a raw JetStream client, closed at the end of the test.
func (s *space) js() jetstream.JetStream {
	s.t.Helper()
	nc, err := nats.Connect(s.url)
	require.NoError(s.t, err)
	s.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(s.t, err)
	return js
}

func (s *space) cleanup() {
	nc, err := nats.Connect(s.url)
	if err != nil {
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = js.DeleteStream(ctx, s.stream)
	_ = js.DeleteStream(ctx, s.stream+"_RETAIN")
}

// recv waits for the next message on sub.
func recv(t *testing.T, sub pubsub.Subscription) *pubsub.Message {
	t.Helper()
	return recvWithin(t, sub, 10*time.Second)
}

// recvWithin is recv with its own bound: after a broken link, a pull
// consumer may only notice at its heartbeat check (about 10 s), so fault
// tests wait longer than that.
func recvWithin(t *testing.T, sub pubsub.Subscription, d time.Duration) *pubsub.Message {
	t.Helper()
	select {
	case m, ok := <-sub.C():
		require.True(t, ok, "subscription ended: %v", sub.Err())
		return m
	case <-time.After(d):
		t.Fatalf("no message within %v", d)
		return nil
	}
}

// ctx returns a context bounding one test.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}
