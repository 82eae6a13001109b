package redisx_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/redisx"
)

func shortClaim(o *redisx.Options) { o.ClaimIdle = 200 * time.Millisecond }

// TestGroupMemberLeaves: a member closes with a delivery unacknowledged;
// another member of the group gets it, counted as a second attempt.
func TestGroupMemberLeaves(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	b := sp.broker(shortClaim)
	c := ctx(t)
	opts := &pubsub.SubscribeOptions{Group: "w", ManualAck: true, Prefetch: 1}
	a, err := b.Subscribe(c, "job/#", opts)
	require.NoError(t, err)
	_, err = b.Publish(c, pubsub.Message{Topic: "job/1", Data: []byte("work")})
	require.NoError(t, err)
	m := recv(t, a)
	require.Equal(t, 1, m.Attempt)
	other, err := b.Subscribe(c, "job/#", opts)
	require.NoError(t, err)
	require.NoError(t, a.Close())
	m = recv(t, other)
	require.Equal(t, "work", string(m.Data))
	require.Equal(t, 2, m.Attempt)
	require.NoError(t, other.Ack(m))
}

// TestGroupStuckMember: a member that holds a delivery longer than
// ClaimIdle loses it to another member, on another node.
func TestGroupStuckMember(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	n1, n2 := sp.broker(shortClaim), sp.broker(shortClaim)
	c := ctx(t)
	opts := &pubsub.SubscribeOptions{Group: "w", ManualAck: true, Prefetch: 1}
	stuck, err := n1.Subscribe(c, "job/#", opts)
	require.NoError(t, err)
	_, err = n1.Publish(c, pubsub.Message{Topic: "job/1", Data: []byte("work")})
	require.NoError(t, err)
	require.Equal(t, 1, recv(t, stuck).Attempt)
	rescuer, err := n2.Subscribe(c, "job/#", opts)
	require.NoError(t, err)
	m := recv(t, rescuer)
	require.Equal(t, "work", string(m.Data))
	require.Equal(t, 2, m.Attempt)
	require.NoError(t, rescuer.Ack(m))
}

// TestGroupAcrossNodes: members on two nodes share the messages, each
// delivered once.
func TestGroupAcrossNodes(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	n1, n2 := sp.broker(), sp.broker()
	c := ctx(t)
	g1, err := n1.Subscribe(c, "job/+", &pubsub.SubscribeOptions{Group: "w", Buffer: 10})
	require.NoError(t, err)
	g2, err := n2.Subscribe(c, "job/+", &pubsub.SubscribeOptions{Group: "w", Buffer: 10})
	require.NoError(t, err)
	const n = 200
	for i := range n {
		_, err := n1.Publish(c, pubsub.Message{Topic: "job/x", Data: fmt.Appendf(nil, "%d", i)})
		require.NoError(t, err)
		_, err = n1.Publish(c, pubsub.Message{Topic: "other/x"}) // not the group's filter
		require.NoError(t, err)
	}
	seen := map[string]int{}
	per := map[int]int{}
	for len(seen) < n {
		select {
		case m := <-g1.C():
			seen[string(m.Data)]++
			per[1]++
		case m := <-g2.C():
			seen[string(m.Data)]++
			per[2]++
		case <-time.After(10 * time.Second):
			t.Fatalf("got %d of %d", len(seen), n)
		}
	}
	for k, v := range seen {
		require.Equal(t, 1, v, "message %s delivered twice", k)
	}
	require.Positive(t, per[1])
	require.Positive(t, per[2])
}

// TestPrivateGroupDestroyed: a ManualAck subscription's private consumer
// group is gone once the subscription and the Broker have closed.
func TestPrivateGroupDestroyed(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	b := sp.broker()
	c := ctx(t)
	sub, err := b.Subscribe(c, "x", &pubsub.SubscribeOptions{ManualAck: true})
	require.NoError(t, err)
	shared, err := b.Subscribe(c, "x", &pubsub.SubscribeOptions{Group: "keep"})
	require.NoError(t, err)
	groups, err := sp.client().XInfoGroups(c, b.Stream()).Result()
	require.NoError(t, err)
	require.Len(t, groups, 2)
	require.NoError(t, sub.Close())
	require.NoError(t, shared.Close())
	require.NoError(t, b.Close())
	groups, err = sp.client().XInfoGroups(c, b.Stream()).Result()
	require.NoError(t, err)
	require.Len(t, groups, 1, "the shared group stays, the private one is gone")
	require.Equal(t, redisx.GroupName("keep", "x"), groups[0].Name)
	require.Zero(t, groups[0].Consumers, "a consumer with nothing pending is deleted")
}

// TestRetainedAcrossNodes: retained messages set on one node reach a new
// subscriber on another, but not one that resumes with Since.
func TestRetainedAcrossNodes(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	n1, n2 := sp.broker(), sp.broker()
	c := ctx(t)
	r, err := n1.Publish(c, pubsub.Message{Topic: "state/a", Data: []byte("1"), Retain: true})
	require.NoError(t, err)
	_, err = n1.Publish(c, pubsub.Message{Topic: "state/b", Data: []byte("2"), Retain: true})
	require.NoError(t, err)
	sub, err := n2.Subscribe(c, "state/a", nil)
	require.NoError(t, err)
	m := recv(t, sub)
	require.True(t, m.Retain)
	require.Equal(t, "1", string(m.Data))
	require.Empty(t, m.Cursor, "retained messages carry no cursor")
	resumed, err := n2.Subscribe(c, "state/#", &pubsub.SubscribeOptions{Since: r.Cursor})
	require.NoError(t, err)
	m = recv(t, resumed)
	require.False(t, m.Retain, "a resume replays history, not the retained store")
	require.Equal(t, "state/b", m.Topic)
}
