package redisx_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
)

// TestChannelsAndForeignEntries checks what the package doc says of other
// Redis clients ("Redis Pub/Sub channels and other Redis clients"): Redis
// Pub/Sub channels and a Broker do not meet in either direction, while an
// XADD to the stream with fields t and d reaches subscribers, with a
// cursor and no message ID.
func TestChannelsAndForeignEntries(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	b := sp.broker()
	rc := sp.client()
	c := t.Context()
	topic := "user-updates-" + pubsub.NewID() // also the channel's name
	sub, err := b.Subscribe(c, topic, nil)
	require.NoError(t, err)

	// A channel subscriber, as the guide's subscriber.subscribe(...).
	ps := rc.Subscribe(c, topic)
	t.Cleanup(func() { _ = ps.Close() })
	_, err = ps.Receive(c) // the subscription confirmation
	require.NoError(t, err)
	ch := ps.Channel()

	// PUBLISH reaches the channel subscriber only: the Broker is no
	// receiver.
	n, err := rc.Publish(c, topic, `{"userId":42,"action":"profile-updated"}`).Result()
	require.NoError(t, err)
	require.Equal(t, int64(1), n, "one receiver: the channel subscriber, not the Broker")
	var got *redis.Message
	select {
	case got = <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("the channel subscriber got nothing")
	}
	require.JSONEq(t, `{"userId":42,"action":"profile-updated"}`, got.Payload)

	// A Broker publish does not reach the channel: the next thing the
	// channel subscriber sees is a marker published after it.
	_, err = b.Publish(c, pubsub.Message{Topic: topic, Data: []byte(`{"from":"switchboard"}`)})
	require.NoError(t, err)
	m := recv(t, sub)
	require.JSONEq(t, `{"from":"switchboard"}`, string(m.Data), "the PUBLISH above never reached the Broker")
	_, err = rc.Publish(c, topic, "marker").Result()
	require.NoError(t, err)
	select {
	case got = <-ch:
		require.Equal(t, "marker", got.Payload)
	case <-time.After(10 * time.Second):
		t.Fatal("no marker on the channel")
	}

	// A foreign XADD with t and d reaches the Broker's subscriber.
	_, err = rc.XAdd(c, &redis.XAddArgs{Stream: sp.prefix + ":log", Values: []any{"t", topic, "d", `{"via":"xadd"}`}}).Result()
	require.NoError(t, err)
	m = recv(t, sub)
	require.JSONEq(t, `{"via":"xadd"}`, string(m.Data))
	require.Equal(t, topic, m.Topic)
	require.NotEmpty(t, m.Cursor)
	require.False(t, m.Time.IsZero())
	require.Empty(t, m.ID, "no field i, no message ID")
}
