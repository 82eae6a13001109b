package amqpx_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/amqpx"
	"github.com/switchboard-go/switchboard/pubsub"
)

// TestSubscribeAfterPublishMissesIt: once Publish has returned, a
// subscription started on the same broker does not get that message (it
// was not published afterwards). The node answered the Publish with its
// cursor before fanning the message out, so a subscription added in
// between got it (the conformance Gap case failed that way under load).
func TestSubscribeAfterPublishMissesIt(t *testing.T) {
	sp := newSpace(t)
	b := sp.broker(func(o *amqpx.Options) { o.History = true })
	c := ctx(t)
	for i := range 200 {
		topic := fmt.Sprintf("order/%d", i)
		_, err := b.Publish(c, pubsub.Message{Topic: topic, Data: []byte("before")})
		require.NoError(t, err)
		sub, err := b.Subscribe(c, topic, nil)
		require.NoError(t, err)
		_, err = b.Publish(c, pubsub.Message{Topic: topic, Data: []byte("after")})
		require.NoError(t, err)
		require.Equal(t, "after", string(recv(t, sub).Data), "round %d", i)
		require.NoError(t, sub.Close())
	}
}
