package amqpx_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/pubsub/pubsubtest"
)

func TestGroupAcrossNodes(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	a, b := sp.broker(), sp.broker()
	c := ctx(t)
	sp.deleteQueueLater(groupQueueName(sp, "workers", "jobs/#"))
	opts := &pubsub.SubscribeOptions{Group: "workers", ManualAck: true, Prefetch: 1}
	m1, err := a.Subscribe(c, "jobs/#", opts)
	require.NoError(t, err)
	m2, err := b.Subscribe(c, "jobs/#", opts)
	require.NoError(t, err)
	other, err := b.Subscribe(c, "jobs/#", &pubsub.SubscribeOptions{Group: "audit"})
	require.NoError(t, err)
	sp.deleteQueueLater(groupQueueName(sp, "audit", "jobs/#"))

	const n = 40
	for i := range n {
		_, err := a.Publish(c, pubsub.Message{Topic: fmt.Sprintf("jobs/%d", i), Data: fmt.Appendf(nil, "%d", i)})
		require.NoError(t, err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	per := map[int]int{}
	var wg sync.WaitGroup
	total := make(chan struct{}, n)
	for i, s := range []pubsub.Subscription{m1, m2} {
		wg.Go(func() {
			for m := range s.C() { // ends with Close below
				assert.Equal(t, 1, m.Attempt) // not require: this is not the test goroutine
				mu.Lock()
				seen[string(m.Data)]++
				per[i]++
				mu.Unlock()
				assert.NoError(t, s.Ack(m))
				total <- struct{}{}
			}
		})
	}
	for range n {
		<-total
	}
	m1.Close()
	m2.Close()
	wg.Wait()
	require.Len(t, seen, n)
	for k, v := range seen {
		require.Equal(t, 1, v, "message %s delivered %d times", k, v)
	}
	require.Positive(t, per[0], "competing consumers share the work")
	require.Positive(t, per[1], "competing consumers share the work")
	// Another group gets every message too.
	for i := range n {
		require.Equal(t, fmt.Sprint(i), string(recv(t, other).Data))
	}
}

func TestGroupOutlivesMembers(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	b := sp.broker()
	c := ctx(t)
	sp.deleteQueueLater(groupQueueName(sp, "g", "q"))
	s, err := b.Subscribe(c, "q", &pubsub.SubscribeOptions{Group: "g", ManualAck: true})
	require.NoError(t, err)
	_, err = b.Publish(c, pubsub.Message{Topic: "q", Data: []byte("1")})
	require.NoError(t, err)
	first := recv(t, s)
	require.NoError(t, s.Close())             // unacked: back to the queue
	pubsubtest.UntilEnd(t, s, 10*time.Second) // C closes once the consumer is gone
	_, err = b.Publish(c, pubsub.Message{Topic: "q", Data: []byte("2")})
	require.NoError(t, err)

	s2, err := b.Subscribe(c, "q", &pubsub.SubscribeOptions{Group: "g", ManualAck: true})
	require.NoError(t, err)
	got := map[string]int{}
	for range 2 {
		m := recv(t, s2)
		got[string(m.Data)] = m.Attempt
		require.NoError(t, s2.Ack(m))
	}
	require.Equal(t, map[string]int{"1": 2, "2": 1}, got, "first was redelivered (attempt 2) after %q", first.Data)
}

func TestNackRequeueAndDeadLetter(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	b := sp.broker()
	c := ctx(t)
	dead, err := b.Subscribe(c, "$deadletter/#", nil)
	require.NoError(t, err)
	sub, err := b.Subscribe(c, "work/+", &pubsub.SubscribeOptions{ManualAck: true, MaxDeliveries: 3, Prefetch: 1})
	require.NoError(t, err)

	_, err = b.Publish(c, pubsub.Message{Topic: "work/poison", Data: []byte("p"), ID: "poison-1",
		Header: map[string]string{"k": "v"}})
	require.NoError(t, err)
	_, err = b.Publish(c, pubsub.Message{Topic: "work/good", Data: []byte("g")})
	require.NoError(t, err)
	_, err = b.Publish(c, pubsub.Message{Topic: "work/rejected", Data: []byte("r")})
	require.NoError(t, err)

	attempts := []int{}
	goodAcked := false
	for !goodAcked || len(attempts) < 3 {
		m := recv(t, sub)
		switch m.Topic {
		case "work/poison":
			attempts = append(attempts, m.Attempt)
			require.Equal(t, "poison-1", m.ID)
			require.Equal(t, "v", m.Header["k"])
			require.NoError(t, sub.Nack(m, true)) // always fails: a poison message
		case "work/good":
			require.NoError(t, sub.Ack(m))
			goodAcked = true
		case "work/rejected":
			require.NoError(t, sub.Nack(m, false))
		}
	}
	require.Equal(t, []int{1, 2, 3}, attempts)

	got := map[string]*pubsub.Message{}
	for range 2 {
		m := recv(t, dead)
		got[m.Topic] = m
	}
	p := got["$deadletter/work/poison"]
	require.NotNil(t, p, "poison message dead-lettered: %v", got)
	require.Equal(t, "max-deliveries", p.Header[pubsub.HeaderDeadLetterReason])
	require.Equal(t, "work/poison", p.Header[pubsub.HeaderOriginalTopic])
	require.Equal(t, "poison-1", p.ID)
	require.Equal(t, "p", string(p.Data))
	r := got["$deadletter/work/rejected"]
	require.NotNil(t, r)
	require.Equal(t, "rejected", r.Header[pubsub.HeaderDeadLetterReason])

	// Nothing more is delivered: a marker published now is next.
	_, err = b.Publish(c, pubsub.Message{Topic: "work/marker"})
	require.NoError(t, err)
	m := recv(t, sub)
	require.Equal(t, "work/marker", m.Topic)
	require.NoError(t, sub.Ack(m))
	require.NoError(t, sub.Ack(m), "a second ack is a no-op")
}

func TestManualAckPrefetch(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	b := sp.broker()
	c := ctx(t)
	sub, err := b.Subscribe(c, "p", &pubsub.SubscribeOptions{ManualAck: true, Prefetch: 2})
	require.NoError(t, err)
	for i := range 5 {
		_, err := b.Publish(c, pubsub.Message{Topic: "p", Data: fmt.Appendf(nil, "%d", i)})
		require.NoError(t, err)
	}
	a, bb := recv(t, sub), recv(t, sub)
	require.Equal(t, "0", string(a.Data))
	require.Equal(t, "1", string(bb.Data))
	require.Empty(t, sub.C(), "no third delivery while two are unacknowledged")
	require.NoError(t, sub.Ack(a))
	require.Equal(t, "2", string(recv(t, sub).Data))
}
