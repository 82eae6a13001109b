package natsx_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
)

// TestGroupAcrossNodes: members of one group on two nodes share its
// messages, each once; a message nacked without requeue on one node
// reaches the default dead-letter topic's subscriber on the other.
func TestGroupAcrossNodes(t *testing.T) {
	sp := newSpace(t)
	a, b := sp.broker(), sp.broker()
	c := ctx(t)
	topic := "jobs/" + pubsub.NewID()
	opts := &pubsub.SubscribeOptions{Group: "workers", ManualAck: true, Prefetch: 1}
	ma, err := a.Subscribe(c, topic, opts)
	require.NoError(t, err)
	defer ma.Close()
	mb, err := b.Subscribe(c, topic, opts)
	require.NoError(t, err)
	defer mb.Close()
	dead, err := b.Subscribe(c, "$deadletter/"+topic, nil)
	require.NoError(t, err)
	defer dead.Close()

	const n = 40
	for i := range n {
		_, err := a.Publish(c, pubsub.Message{Topic: topic, Data: []byte(strconv.Itoa(i))})
		require.NoError(t, err)
	}
	seen := map[string]int{}
	per := map[pubsub.Subscription]int{}
	for len(seen) < n {
		select {
		case m := <-ma.C():
			seen[string(m.Data)]++
			per[ma]++
			require.NoError(t, ma.Ack(m))
		case m := <-mb.C():
			seen[string(m.Data)]++
			per[mb]++
			require.NoError(t, mb.Ack(m))
		case <-time.After(10 * time.Second):
			t.Fatalf("got %d of %d", len(seen), n)
		}
	}
	for k, v := range seen {
		require.Equal(t, 1, v, "message %s delivered twice", k)
	}
	require.Positive(t, per[ma])
	require.Positive(t, per[mb])

	_, err = b.Publish(c, pubsub.Message{Topic: topic, Data: []byte("poison")})
	require.NoError(t, err)
	var m *pubsub.Message
	var from pubsub.Subscription
	select {
	case m = <-ma.C():
		from = ma
	case m = <-mb.C():
		from = mb
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery")
	}
	require.NoError(t, from.Nack(m, false))
	d := recv(t, dead)
	require.Equal(t, "poison", string(d.Data))
	require.Equal(t, topic, d.Header[pubsub.HeaderOriginalTopic])
	require.Equal(t, "rejected", d.Header[pubsub.HeaderDeadLetterReason])
}
