package fanout_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/fanout"
	"github.com/switchboard-go/switchboard/pubsub"
)

func newLive(t *testing.T, o pubsub.SubscribeOptions, filters ...string) (*fanout.Live, *int) {
	t.Helper()
	detached := new(int)
	fs := newSub(t, "", filters...).filters
	return fanout.NewLive(fs, o, func() { *detached++ }), detached
}

func TestLiveBasics(t *testing.T) {
	l, _ := newLive(t, pubsub.SubscribeOptions{}, "a/b", "c/+")
	require.Len(t, l.Filters(), 2)
	require.True(t, l.Match("a/b"))
	require.True(t, l.Match("c/d"))
	require.False(t, l.Match("a/c"))
	require.False(t, l.Gap())
	l.SetGap(true)
	require.True(t, l.Gap())
	require.NoError(t, l.Ack(&pubsub.Message{}))
	require.NoError(t, l.Nack(&pubsub.Message{}, true))
	require.NoError(t, l.Close())
}

// TestLiveOfferOnce: a message found under several filters is delivered
// once; the next message is delivered.
func TestLiveOfferOnce(t *testing.T) {
	l, _ := newLive(t, pubsub.SubscribeOptions{}, "a/b", "a/+")
	m1, m2 := &pubsub.Message{Topic: "a/b"}, &pubsub.Message{Topic: "a/b"}
	for _, m := range []*pubsub.Message{m1, m1, m2, m2} {
		require.False(t, l.OfferOnce(m))
	}
	require.Same(t, m1, <-l.C())
	require.Same(t, m2, <-l.C())
	require.Empty(t, l.C())
	require.NoError(t, l.Close())
}

// TestLiveOverflow: OfferOnce reports the overflow that ended the feed;
// detaching is the Table caller's job then, not Live's.
func TestLiveOverflow(t *testing.T) {
	l, detached := newLive(t, pubsub.SubscribeOptions{Buffer: 1}, "a")
	require.False(t, l.OfferOnce(&pubsub.Message{Topic: "a"}))
	require.True(t, l.OfferOnce(&pubsub.Message{Topic: "a"}))
	var slow *pubsub.SlowConsumerError
	require.ErrorAs(t, l.Err(), &slow)
	require.Zero(t, *detached)
	l.Stop(pubsub.ErrClosed) // already ended: no detach
	require.Zero(t, *detached)
}

// TestLiveStop: the call that ends the feed detaches, once; Feed.End
// ends without detaching.
func TestLiveStop(t *testing.T) {
	errX := errors.New("x")
	l, detached := newLive(t, pubsub.SubscribeOptions{}, "a")
	l.Stop(errX)
	l.Stop(pubsub.ErrClosed)
	require.NoError(t, l.Close())
	require.Equal(t, 1, *detached)
	require.ErrorIs(t, l.Err(), errX)
	_, ok := <-l.C()
	require.False(t, ok)

	l, detached = newLive(t, pubsub.SubscribeOptions{}, "a")
	require.True(t, l.End(errX))
	require.NoError(t, l.Close())
	require.Zero(t, *detached)

	l, detached = newLive(t, pubsub.SubscribeOptions{}, "a")
	require.NoError(t, l.Close())
	require.ErrorIs(t, l.Err(), pubsub.ErrClosed)
	require.Equal(t, 1, *detached)
}

// TestLiveWatch: a done context stops l (detaching it) with its error.
func TestLiveWatch(t *testing.T) {
	done := make(chan struct{})
	fs := newSub(t, "", "a").filters
	l := fanout.NewLive(fs, pubsub.SubscribeOptions{}, func() { close(done) })
	ctx, cancel := context.WithCancel(context.Background())
	l.Watch(ctx)
	cancel()
	<-done
	_, ok := <-l.C()
	require.False(t, ok)
	require.ErrorIs(t, l.Err(), context.Canceled)
}
