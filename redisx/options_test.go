package redisx

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/testenv"
	"github.com/switchboard-go/switchboard/pubsub"
)

func TestOptionsDefaults(t *testing.T) {
	d := (*Options)(nil).withDefaults()
	require.Equal(t, DefaultPrefix, d.Prefix)
	require.Equal(t, int64(DefaultMaxLen), d.MaxLen)
	require.Equal(t, DefaultMinBackoff, d.MinBackoff)
	require.Equal(t, DefaultMaxBackoff, d.MaxBackoff)
	require.Equal(t, DefaultKeepAlive, d.KeepAlive)
	require.Equal(t, DefaultDrainTimeout, d.DrainTimeout)
	require.Equal(t, DefaultClaimIdle, d.ClaimIdle)
	require.Equal(t, DefaultMaxMessageBytes, d.MaxMessageBytes)
	require.NotNil(t, d.Logger)

	o := &Options{MaxLen: -1, MaxMessageBytes: -1, DrainTimeout: -1, KeepAlive: -1, ClaimIdle: -1,
		MinBackoff: time.Second, MaxBackoff: time.Millisecond}
	c := o.withDefaults()
	require.Zero(t, c.MaxLen, "negative: no trimming")
	require.Zero(t, c.MaxMessageBytes, "negative: no cap")
	require.Zero(t, c.DrainTimeout, "negative: no wait")
	require.Equal(t, DefaultKeepAlive, c.KeepAlive, "blocking reads cannot wait forever")
	require.Equal(t, DefaultClaimIdle, c.ClaimIdle)
	require.Equal(t, time.Second, c.MaxBackoff, "MaxBackoff below MinBackoff means MinBackoff")
	require.Equal(t, int64(readCount), (&Options{MaxLen: 10}).withDefaults().MaxLen, "at least one read's worth")
	require.Equal(t, int64(-1), o.MaxLen, "the caller's Options are not changed")
	require.Nil(t, o.Logger)
}

// TestDialErrors: a bad URL or a refused connection fails fast; a
// message over MaxMessageBytes is refused before Redis sees it.
func TestDialErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Dial(ctx, "http://127.0.0.1:6379", nil)
	require.ErrorContains(t, err, "redisx: bad url")
	_, err = Dial(ctx, "redis://127.0.0.1:1/0", &Options{MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
	require.ErrorContains(t, err, "redisx: failed to connect")

	url := testenv.Redis(t)
	prefix := "sbtest:" + pubsub.NewID()
	b, err := Dial(ctx, url, &Options{Prefix: prefix, MaxMessageBytes: 10})
	require.NoError(t, err)
	defer b.Close()
	defer CleanupExample(b)
	_, err = b.Publish(ctx, pubsub.Message{Topic: "x", Data: make([]byte, 11)})
	require.True(t, errors.Is(err, ErrTooLarge))
	_, err = b.Subscribe(ctx, "x", &pubsub.SubscribeOptions{Group: "g", Since: "a-1"})
	require.ErrorIs(t, err, pubsub.ErrNotSupported)
	_, err = b.SubscribeMany(ctx, []string{"x", "y"}, &pubsub.SubscribeOptions{Group: "g"})
	require.ErrorIs(t, err, pubsub.ErrNotSupported)
}
