package longpoll

import (
	"context"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
)

// overflowingBroker's first subscription fails as a busy amqpx does when
// the live messages held back during its replay outgrow the wake-up
// subscription's one-message buffer: a message was published meanwhile,
// and Subscribe returns a *pubsub.SlowConsumerError.
type overflowingBroker struct {
	*pubsub.Memory
	failed atomic.Bool
}

func (b *overflowingBroker) SubscribeMany(ctx context.Context, filters []string, opts *pubsub.SubscribeOptions) (pubsub.Subscription, error) {
	if b.failed.CompareAndSwap(false, true) {
		if _, err := b.Publish(ctx, pubsub.Message{Topic: "t", Data: []byte(`"meanwhile"`)}); err != nil {
			return nil, err
		}
		return nil, &pubsub.SlowConsumerError{}
	}
	return b.Memory.SubscribeMany(ctx, filters, opts)
}

func (b *overflowingBroker) Subscribe(ctx context.Context, filter string, opts *pubsub.SubscribeOptions) (pubsub.Subscription, error) {
	return b.SubscribeMany(ctx, []string{filter}, opts)
}

// TestWakeSubscriptionOverflowAnswersMessages: a held poll whose wake-up
// subscription overflows while it subscribes has been woken, not failed:
// it answers with the messages that arrived (the chaos run saw a 500
// "internal error" instead, on RabbitMQ under load).
func TestWakeSubscriptionOverflowAnswersMessages(t *testing.T) {
	b := &overflowingBroker{Memory: pubsub.NewMemory(nil)}
	defer b.Close()
	h := NewHandler(b, nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer h.Close()
	head, err := pubsub.Head(context.Background(), b)
	require.NoError(t, err)
	r := poll(t, srv.URL+"?topic=t&timeout=5s&cursor="+head)
	require.Len(t, r.Messages, 1)
	require.JSONEq(t, `"meanwhile"`, string(r.Messages[0].Data))
	require.True(t, b.failed.Load())
}
