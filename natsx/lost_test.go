package natsx_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/natsx"
	"github.com/switchboard-go/switchboard/pubsub"
)

// ended waits for sub to end and returns its error.
func ended(t *testing.T, sub pubsub.Subscription) error {
	t.Helper()
	// A bound, not a timing assertion: when the server's "consumer
	// deleted" notice misses the pull in flight, the loss is found by the
	// heartbeat check (two missed 5 s heartbeats, then a consumer info
	// request), so allow well beyond that.
	deadline := time.After(30 * time.Second)
	for {
		select {
		case _, ok := <-sub.C():
			if !ok {
				return sub.Err()
			}
		case <-deadline:
			t.Fatal("subscription did not end")
		}
	}
}

// TestStreamLost: deleting the stream ends live and group subscriptions
// with an explicit error; the node creates the stream again under a new
// epoch, so old cursors are gaps.
func TestStreamLost(t *testing.T) {
	sp := newSpace(t)
	b := sp.broker()
	c := ctx(t)
	r, err := b.Publish(c, pubsub.Message{Topic: "lost/a", Data: []byte("x")})
	require.NoError(t, err)
	live, err := b.Subscribe(c, "lost/#", nil)
	require.NoError(t, err)
	group, err := b.Subscribe(c, "lost/#", &pubsub.SubscribeOptions{Group: "g"})
	require.NoError(t, err)
	epoch := b.Epoch()

	require.NoError(t, sp.js().DeleteStream(c, sp.stream))
	require.ErrorIs(t, ended(t, live), natsx.ErrStreamLost)
	require.Error(t, ended(t, group))

	// The stream comes back; publishing works, under a new epoch.
	var r2 pubsub.Receipt
	require.Eventually(t, func() bool {
		r2, err = b.Publish(c, pubsub.Message{Topic: "lost/a", Data: []byte("y")})
		return err == nil && b.Epoch() != epoch
	}, 10*time.Second, 20*time.Millisecond)
	require.NotEqual(t, r.Cursor, r2.Cursor)
	sub, err := b.Subscribe(c, "lost/#", &pubsub.SubscribeOptions{Since: r.Cursor})
	require.NoError(t, err)
	defer sub.Close()
	require.True(t, sub.Gap(), "a cursor of the deleted stream is a gap")

	// Live delivery goes on with the new stream's sequences.
	fresh, err := b.Subscribe(c, "lost/#", nil)
	require.NoError(t, err)
	defer fresh.Close()
	for i := range 3 {
		_, err = b.Publish(c, pubsub.Message{Topic: "lost/b", Data: []byte{byte('0' + i)}})
		require.NoError(t, err)
		require.Equal(t, string([]byte{byte('0' + i)}), string(recv(t, fresh).Data))
		require.Equal(t, string([]byte{byte('0' + i)}), string(recv(t, sub).Data))
	}
}

// TestConsumerLost: deleting a group's consumer ends its members with
// ErrConsumerLost.
func TestConsumerLost(t *testing.T) {
	sp := newSpace(t)
	b := sp.broker()
	c := ctx(t)
	sub, err := b.Subscribe(c, "work/#", &pubsub.SubscribeOptions{Group: "workers", ManualAck: true})
	require.NoError(t, err)
	defer sub.Close()
	s, err := sp.js().Stream(c, sp.stream)
	require.NoError(t, err)
	names := s.ConsumerNames(c)
	var name string
	for n := range names.Name() {
		name = n
	}
	require.NotEmpty(t, name)
	require.NoError(t, s.DeleteConsumer(c, name))
	require.ErrorIs(t, ended(t, sub), natsx.ErrConsumerLost)
}
