package pubsub_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
)

// countingMiddleware counts every call it sees in n.
func countingMiddleware(n *atomic.Int64) pubsub.Middleware {
	return pubsub.Middleware{
		Publish: func(ctx context.Context, m pubsub.Message, next func(context.Context, pubsub.Message) (pubsub.Receipt, error)) (pubsub.Receipt, error) {
			n.Add(1)
			return next(ctx, m)
		},
		Subscribe: func(ctx context.Context, f string, o *pubsub.SubscribeOptions, next func(context.Context, string, *pubsub.SubscribeOptions) (pubsub.Subscription, error)) (pubsub.Subscription, error) {
			n.Add(1)
			return next(ctx, f, o)
		},
		SubscribeMany: func(ctx context.Context, fs []string, o *pubsub.SubscribeOptions, next func(context.Context, []string, *pubsub.SubscribeOptions) (pubsub.Subscription, error)) (pubsub.Subscription, error) {
			n.Add(1)
			return next(ctx, fs, o)
		},
		History: func(ctx context.Context, f string, o pubsub.HistoryOptions, next func(context.Context, string, pubsub.HistoryOptions) (pubsub.HistoryPage, error)) (pubsub.HistoryPage, error) {
			n.Add(1)
			return next(ctx, f, o)
		},
	}
}

// liveOnly hides Memory's optional interfaces.
type liveOnly struct{ pubsub.Broker }

func TestWrapKeepsExactlyTheOptionalInterfaces(t *testing.T) {
	for _, tc := range []struct {
		name          string
		b             pubsub.Broker
		history, many bool
	}{
		{"memory", pubsub.NewMemory(nil), true, true},
		{"embedded", liveOnly{pubsub.NewMemory(nil)}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer tc.b.Close()
			w := pubsub.Wrap(tc.b, pubsub.Middleware{})
			_, h := w.(pubsub.HistoryReader)
			_, m := w.(pubsub.MultiSubscriber)
			require.Equal(t, tc.history, h, "HistoryReader")
			require.Equal(t, tc.many, m, "MultiSubscriber")
			require.Equal(t, tc.b.Capabilities(), w.Capabilities())
			mem, ok := pubsub.As[*pubsub.Memory](w)
			require.True(t, ok || tc.name != "memory", "As finds the Memory under the wrapper")
			if ok {
				require.Same(t, tc.b, mem)
			}
		})
	}
}

func TestWrapRunsMiddlewareOnEveryCall(t *testing.T) {
	var n atomic.Int64
	mem := pubsub.NewMemory(nil)
	defer mem.Close()
	b := pubsub.Wrap(mem, countingMiddleware(&n))
	ctx := context.Background()
	sub, err := pubsub.SubscribeAll(ctx, b, []string{"a", "b"}, nil) // SubscribeMany
	require.NoError(t, err)
	defer sub.Close()
	_, err = b.Publish(ctx, pubsub.Message{Topic: "a", Data: []byte("x")})
	require.NoError(t, err)
	require.Equal(t, "x", string((<-sub.C()).Data))
	head, err := pubsub.Head(ctx, b) // History
	require.NoError(t, err)
	require.NotEmpty(t, head)
	require.Equal(t, int64(3), n.Load())
}

func TestWrapMiddlewareMayRefuse(t *testing.T) {
	errNo := errors.New("no")
	mem := pubsub.NewMemory(nil)
	defer mem.Close()
	b := pubsub.Wrap(mem, pubsub.Middleware{
		Publish: func(context.Context, pubsub.Message, func(context.Context, pubsub.Message) (pubsub.Receipt, error)) (pubsub.Receipt, error) {
			return pubsub.Receipt{}, errNo
		},
	})
	_, err := b.Publish(context.Background(), pubsub.Message{Topic: "a"})
	require.ErrorIs(t, err, errNo)
	p, err := b.(pubsub.HistoryReader).History(context.Background(), "#", pubsub.HistoryOptions{})
	require.NoError(t, err)
	require.Empty(t, p.Messages)
}
