package natsx_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
)

// A client given the head of an empty stream (a ws "subscribed" frame
// before the first message) that resumes from it after messages were
// published gets every one of them, without a gap; History reads from it
// the same way.
func TestEmptyStreamHeadResumes(t *testing.T) {
	s := newSpace(t)
	b := s.broker()
	head, err := pubsub.Head(ctx(t), b)
	require.NoError(t, err)
	require.NotEmpty(t, head, "an empty stream has a head cursor")
	c, err := pubsub.ParseCursor(head)
	require.NoError(t, err)
	require.Equal(t, b.Epoch(), c.Epoch)

	early, err := b.Subscribe(ctx(t), "e/#", &pubsub.SubscribeOptions{Since: head})
	require.NoError(t, err)
	defer early.Close()
	require.False(t, early.Gap(), "resuming from the empty stream's head is no gap")

	for _, d := range []string{"a", "b", "c"} {
		_, err := b.Publish(ctx(t), pubsub.Message{Topic: "e/x", Data: []byte(d)})
		require.NoError(t, err)
	}
	for _, d := range []string{"a", "b", "c"} {
		require.Equal(t, d, string(recv(t, early).Data))
	}

	sub, err := b.Subscribe(ctx(t), "e/#", &pubsub.SubscribeOptions{Since: head})
	require.NoError(t, err)
	defer sub.Close()
	require.False(t, sub.Gap())
	for _, d := range []string{"a", "b", "c"} {
		require.Equal(t, d, string(recv(t, sub).Data))
	}

	p, err := b.History(ctx(t), "e/#", pubsub.HistoryOptions{Since: head})
	require.NoError(t, err)
	require.False(t, p.Gap)
	require.Len(t, p.Messages, 3)
}
