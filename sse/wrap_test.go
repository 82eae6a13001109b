package sse

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
)

// countPublishes is the natural decorator that used to turn resume off: a
// struct embedding the Broker hides its HistoryReader and MultiSubscriber.
type countPublishes struct {
	pubsub.Broker
	n *atomic.Int64
}

func (c countPublishes) Publish(ctx context.Context, m pubsub.Message) (pubsub.Receipt, error) {
	c.n.Add(1)
	return c.Broker.Publish(ctx, m)
}

// TestStreamResumesThroughWrappedBroker proves that a broker decorated with
// pubsub.Wrap keeps resume, where an embedding decorator loses it.
func TestStreamResumesThroughWrappedBroker(t *testing.T) {
	var n atomic.Int64
	mem := pubsub.NewMemory(nil)
	t.Cleanup(func() { require.NoError(t, mem.Close()) })
	wrapped := pubsub.Wrap(mem, pubsub.Middleware{
		Publish: func(ctx context.Context, m pubsub.Message, next func(context.Context, pubsub.Message) (pubsub.Receipt, error)) (pubsub.Receipt, error) {
			n.Add(1)
			return next(ctx, m)
		},
	})
	serve := func(b pubsub.Broker) string {
		h := NewHandler(b, nil)
		srv := httptest.NewServer(h)
		t.Cleanup(func() { require.NoError(t, h.Close()); srv.Close() })
		return srv.URL
	}
	var cursors []string
	for i := range 5 {
		cursors = append(cursors, publish(t, wrapped, "t", fmt.Sprint(i), nil).Cursor)
	}
	require.Equal(t, int64(5), n.Load())

	// Through Wrap: the stream resumes after cursors[1], two topics on one
	// ordered stream (MultiSubscriber) included.
	s := open(t, serve(wrapped)+"?topic=t&topic=u", map[string]string{"Last-Event-ID": cursors[1]})
	for i := 2; i < 5; i++ {
		require.Equal(t, Event{ID: cursors[i], Data: fmt.Sprint(i)}, s.next(t))
	}

	// Through an embedding decorator: history is hidden, the client is
	// told it cannot resume.
	s = open(t, serve(countPublishes{mem, &n})+"?topic=t", map[string]string{"Last-Event-ID": cursors[1]})
	ev := s.next(t)
	require.Equal(t, "sb-reset", ev.Type)
	require.Contains(t, ev.Data, "no-history")
}
