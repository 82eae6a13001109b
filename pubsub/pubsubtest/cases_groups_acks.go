package pubsubtest

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
)

func (s *suite) testGroups(t *testing.T) {
	b := s.broker(t)
	topic := prefix(t) + "/work"
	g1 := pubsub.NewID()
	g2 := pubsub.NewID()
	a := s.subscribe(t, b, topic, &pubsub.SubscribeOptions{Group: g1, Buffer: 1000})
	c := s.subscribe(t, b, topic, &pubsub.SubscribeOptions{Group: g1, Buffer: 1000})
	solo := s.subscribe(t, b, topic, &pubsub.SubscribeOptions{Group: g2, Buffer: 1000})
	n := s.f.Messages
	for i := range n {
		s.publish(t, b, topic, strconv.Itoa(i))
	}
	seen := map[string]int{}
	perMember := map[pubsub.Subscription]int{}
	for len(seen) < n {
		select {
		case m := <-a.C():
			seen[string(m.Data)]++
			perMember[a]++
		case m := <-c.C():
			seen[string(m.Data)]++
			perMember[c]++
		case <-time.After(s.f.Timeout):
			t.Fatalf("group got %d of %d messages", len(seen), n)
		}
	}
	for k, v := range seen {
		require.Equal(t, 1, v, "message %s delivered to more than one member", k)
	}
	require.Positive(t, perMember[a], "every member gets a share")
	require.Positive(t, perMember[c], "every member gets a share")
	none(t, a, 50*time.Millisecond)
	none(t, c, 1*time.Millisecond)
	for i := range n {
		require.Equal(t, strconv.Itoa(i), string(s.next(t, solo).Data), "another group gets everything")
	}
}

func (s *suite) testAckGating(t *testing.T) {
	b := s.broker(t)
	topic := prefix(t) + "/ack"
	sub := s.subscribe(t, b, topic, &pubsub.SubscribeOptions{ManualAck: true, Prefetch: 1})
	s.publish(t, b, topic, "1")
	s.publish(t, b, topic, "2")
	m1 := s.next(t, sub)
	require.Equal(t, "1", string(m1.Data))
	none(t, sub, 100*time.Millisecond) // prefetch 1: nothing more until the ack
	require.NoError(t, sub.Ack(m1))
	m2 := s.next(t, sub)
	require.Equal(t, "2", string(m2.Data))
	require.NoError(t, sub.Ack(m2))
	none(t, sub, 50*time.Millisecond) // acked messages are not redelivered
}

func (s *suite) testNackRedeliver(t *testing.T) {
	b := s.broker(t)
	topic := prefix(t) + "/nack"
	g := pubsub.NewID()
	for _, c := range []struct {
		name string
		opts *pubsub.SubscribeOptions
	}{
		{"alone", &pubsub.SubscribeOptions{ManualAck: true, Prefetch: 1}},
		{"group", &pubsub.SubscribeOptions{ManualAck: true, Prefetch: 1, Group: g}},
	} {
		name, opts := c.name, c.opts
		sub := s.subscribe(t, b, topic, opts)
		s.publish(t, b, topic, "x"+opts.Group)
		m := s.next(t, sub)
		require.Equal(t, 1, m.Attempt, name)
		require.NoError(t, sub.Nack(m, true), name)
		t.Logf("%s: nacked, waiting for the redelivery", name) // shown on failure
		m = s.next(t, sub)
		require.Equal(t, "x"+opts.Group, string(m.Data), "%s: redelivered", name)
		require.Equal(t, 2, m.Attempt, name)
		require.NoError(t, sub.Ack(m), name)
		require.NoError(t, sub.Close(), name)
	}
}

func (s *suite) testDeadLetter(t *testing.T) {
	b := s.broker(t)
	p := prefix(t)
	dlt := p + "/dead"
	dead := s.subscribe(t, b, dlt, nil)
	sub := s.subscribe(t, b, p+"/poison", &pubsub.SubscribeOptions{ManualAck: true, Prefetch: 1, MaxDeliveries: 3, DeadLetterTopic: dlt})
	s.publish(t, b, p+"/poison", "bad")
	for attempt := 1; attempt <= 3; attempt++ {
		m := s.next(t, sub)
		require.Equal(t, attempt, m.Attempt)
		require.NoError(t, sub.Nack(m, true))
	}
	m := s.next(t, dead)
	require.Equal(t, "bad", string(m.Data))
	require.Equal(t, p+"/poison", m.Header[pubsub.HeaderOriginalTopic])
	require.NotEmpty(t, m.Header[pubsub.HeaderDeadLetterReason])
	none(t, sub, 100*time.Millisecond) // no hot loop after the maximum

	s.publish(t, b, p+"/poison", "reject")
	m = s.next(t, sub)
	require.NoError(t, sub.Nack(m, false))
	require.Equal(t, "reject", string(s.next(t, dead).Data), "nack without requeue dead-letters at once")
}

// testDeadLetterTwoGroups: two groups that each dead-letter one message
// produce two dead letters, with the message's ID on one topic: both reach
// a plain subscriber (the idempotency window must not take the second for
// a copy).
func (s *suite) testDeadLetterTwoGroups(t *testing.T) {
	b := s.broker(t)
	p := prefix(t)
	dlt := p + "/dead2"
	dead := s.subscribe(t, b, dlt, nil)
	var subs []pubsub.Subscription
	for _, g := range []string{"g1", "g2"} {
		subs = append(subs, s.subscribe(t, b, p+"/poison2", &pubsub.SubscribeOptions{Group: g + pubsub.NewID(), ManualAck: true, Prefetch: 1, DeadLetterTopic: dlt}))
	}
	s.publish(t, b, p+"/poison2", "bad")
	for i, sub := range subs {
		m := s.next(t, sub)
		require.NoError(t, sub.Nack(m, false), "group %d", i+1)
		d := s.next(t, dead)
		require.Equal(t, "bad", string(d.Data), "dead letter of group %d", i+1)
	}
}
