package pubsubtest

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
)

func (s *suite) testSubscriptionClose(t *testing.T) {
	b := s.broker(t)
	topic := prefix(t)
	sub := s.subscribe(t, b, topic, nil)
	require.NoError(t, sub.Close())
	require.NoError(t, sub.Close(), "Close is idempotent")
	s.ended(t, sub)
	require.ErrorIs(t, sub.Err(), pubsub.ErrClosed)
	s.publish(t, b, topic, "after close") // must not panic or block
}

func (s *suite) testContextCancel(t *testing.T) {
	b := s.broker(t)
	topic := prefix(t)
	ctx, cancel := context.WithCancel(context.Background())
	sub, err := b.Subscribe(ctx, topic, nil)
	require.NoError(t, err)
	require.Nil(t, sub.Err())
	cancel()
	s.ended(t, sub)
	require.ErrorIs(t, sub.Err(), context.Canceled)

	_, err = b.Subscribe(ctx, topic, nil)
	require.ErrorIs(t, err, context.Canceled, "Subscribe with a done context")
	_, err = b.Publish(ctx, pubsub.Message{Topic: topic})
	require.ErrorIs(t, err, context.Canceled, "Publish with a done context")
}

func (s *suite) testCloseDuringPublish(t *testing.T) {
	b := s.new(t)
	topic := prefix(t)
	sub, err := b.Subscribe(s.ctx(t), topic, &pubsub.SubscribeOptions{Overflow: pubsub.OverflowDropOldest})
	require.NoError(t, err)
	var wg sync.WaitGroup
	started := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				if i == 1 {
					select {
					case started <- struct{}{}:
					default:
					}
				}
				_, err := b.Publish(context.Background(), pubsub.Message{Topic: topic, Data: []byte("x")})
				if errors.Is(err, pubsub.ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("publish during close: want nil or ErrClosed, got %v", err)
					return
				}
			}
		}()
	}
	<-started
	require.NoError(t, b.Close())
	wg.Wait()
	s.ended(t, sub)
	require.ErrorIs(t, sub.Err(), pubsub.ErrClosed)
	require.NoError(t, b.Close(), "Close is idempotent")
	_, err = b.Subscribe(s.ctx(t), topic, nil)
	require.ErrorIs(t, err, pubsub.ErrClosed)
	_, err = b.Publish(s.ctx(t), pubsub.Message{Topic: topic})
	require.ErrorIs(t, err, pubsub.ErrClosed)
}

func (s *suite) testSlowConsumer(t *testing.T) {
	b := s.broker(t)
	topic := prefix(t)
	sub := s.subscribe(t, b, topic, &pubsub.SubscribeOptions{Buffer: 4})
	for i := range 64 {
		s.publish(t, b, topic, strconv.Itoa(i))
	}
	got := s.ended(t, sub)
	var sc *pubsub.SlowConsumerError
	require.ErrorAs(t, sub.Err(), &sc)
	require.ErrorIs(t, sub.Err(), pubsub.ErrSlowConsumer)
	require.NotEmpty(t, got, "buffered messages stay readable after overflow")
	for i, m := range got {
		require.Equal(t, strconv.Itoa(i), string(m.Data), "delivered in order, none skipped before the overflow")
	}
	require.Equal(t, got[len(got)-1].Cursor, sc.LastCursor)
}

func (s *suite) testDropOldest(t *testing.T) {
	b := s.broker(t)
	topic := prefix(t)
	sub := s.subscribe(t, b, topic, &pubsub.SubscribeOptions{Buffer: 4, Overflow: pubsub.OverflowDropOldest})
	const n = 64
	for i := range n {
		s.publish(t, b, topic, strconv.Itoa(i))
	}
	s.publish(t, b, topic, "last")
	var got []string
	for {
		m := s.next(t, sub)
		got = append(got, string(m.Data))
		if string(m.Data) == "last" {
			break
		}
	}
	require.Less(t, len(got), n, "old messages were dropped")
	require.Nil(t, sub.Err(), "a lossy subscription stays open")
}
