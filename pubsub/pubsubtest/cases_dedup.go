package pubsubtest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
)

// testIdempotentPublish: a publisher-supplied ID is an idempotency key. A
// repeated Publish returns the original Receipt and nothing is delivered
// twice, also when the repeats race each other.
func (s *suite) testIdempotentPublish(t *testing.T) {
	b := s.broker(t)
	topic := prefix(t) + "/idem"
	sub := s.subscribe(t, b, topic, nil)
	key := "key-" + pubsub.NewID()

	first, err := b.Publish(s.ctx(t), pubsub.Message{Topic: topic, Data: []byte("first"), ID: key})
	require.NoError(t, err)
	require.Equal(t, key, first.ID, "the broker keeps the publisher's ID")
	again, err := b.Publish(s.ctx(t), pubsub.Message{Topic: topic, Data: []byte("again"), ID: key})
	require.NoError(t, err)
	requireSameReceipt(t, first, again)

	// Concurrent repeats of a new key: one is published, all get its receipt.
	raced := "race-" + pubsub.NewID()
	const n = 8
	recs := make([]pubsub.Receipt, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			recs[i], errs[i] = b.Publish(s.ctx(t), pubsub.Message{Topic: topic, Data: []byte(fmt.Sprint("raced ", i)), ID: raced})
		})
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i], "publish %d", i)
		requireSameReceipt(t, recs[0], recs[i])
	}
	s.publish(t, b, topic, "marker")

	m := s.next(t, sub)
	require.Equal(t, "first", string(m.Data), "the original is delivered, the repeat is not")
	require.Equal(t, key, m.ID)
	m = s.next(t, sub)
	require.Equal(t, raced, m.ID, "one of the raced publishes is delivered")
	m = s.next(t, sub)
	require.Equal(t, "marker", string(m.Data), "no copy before the marker")

	if hr, ok := b.(pubsub.HistoryReader); ok && s.f.Capabilities.History {
		page, err := hr.History(s.ctx(t), topic, pubsub.HistoryOptions{})
		require.NoError(t, err)
		var ids []string
		for _, m := range page.Messages {
			ids = append(ids, m.ID)
		}
		require.Len(t, ids, 3, "history keeps each key once: %q", ids)
	}
}

// testIdempotentAcrossNodes: a publisher that repeats a key through
// another node (its first node failed it) must not make subscribers see
// the message twice.
func (s *suite) testIdempotentAcrossNodes(t *testing.T) {
	if !s.f.SharedBackend {
		t.Skip("brokers do not share a backend")
	}
	b1, b2 := s.broker(t), s.broker(t)
	topic := prefix(t) + "/idem2"
	sub1 := s.subscribe(t, b1, topic, nil)
	sub2 := s.subscribe(t, b2, topic, nil)
	key := "key-" + pubsub.NewID()

	first, err := b1.Publish(s.ctx(t), pubsub.Message{Topic: topic, Data: []byte("once"), ID: key})
	require.NoError(t, err)
	for _, sub := range []pubsub.Subscription{sub1, sub2} {
		m := s.next(t, sub)
		require.Equal(t, key, m.ID)
	}
	// b2 saw the key delivered: its Publish is answered, not repeated,
	// with the original's ID and cursor (its Time is the one subscribers
	// saw, which may be coarser or from another clock than the publishing
	// node's: see each broker's doc).
	again, err := b2.Publish(s.ctx(t), pubsub.Message{Topic: topic, Data: []byte("twice"), ID: key})
	require.NoError(t, err)
	require.Equal(t, first.ID, again.ID, "receipt ID")
	require.Equal(t, first.Cursor, again.Cursor, "receipt cursor")
	s.publish(t, b2, topic, "marker")
	for i, sub := range []pubsub.Subscription{sub1, sub2} {
		m := s.next(t, sub)
		require.Equal(t, "marker", string(m.Data), "node %d delivered a copy of %s", i+1, m.ID)
	}

	// b2 never saw this key (nothing on it subscribes): its Publish goes
	// to the backend again, and b1 drops the copy before its fan-out.
	topic2 := prefix(t) + "/idem3"
	sub := s.subscribe(t, b1, topic2, nil)
	key2 := "key-" + pubsub.NewID()
	_, err = b1.Publish(s.ctx(t), pubsub.Message{Topic: topic2, Data: []byte("once"), ID: key2})
	require.NoError(t, err)
	require.Equal(t, key2, s.next(t, sub).ID)
	_, err = b2.Publish(s.ctx(t), pubsub.Message{Topic: topic2, Data: []byte("twice"), ID: key2})
	require.NoError(t, err)
	s.publish(t, b2, topic2, "marker")
	m := s.next(t, sub)
	require.Equal(t, "marker", string(m.Data), "a copy of %s was delivered", m.ID)
	if hr, ok := b1.(pubsub.HistoryReader); ok && s.f.Capabilities.History {
		page, err := hr.History(s.ctx(t), topic2, pubsub.HistoryOptions{})
		require.NoError(t, err)
		var data []string
		for _, m := range page.Messages {
			data = append(data, string(m.Data))
		}
		require.Equal(t, []string{"once", "marker"}, data, "history read through b1 drops the copy")
	}
}

// testIdempotentPerTopic: an ID is a key per topic. The same ID published
// on another topic (a dead letter keeps its original's ID, say) is
// another message: delivered, with its own receipt.
func (s *suite) testIdempotentPerTopic(t *testing.T) {
	b := s.broker(t)
	a, c := prefix(t)+"/idem/a", prefix(t)+"/idem/c"
	subA := s.subscribe(t, b, a, nil)
	subC := s.subscribe(t, b, c, nil)
	key := "key-" + pubsub.NewID()
	ra, err := b.Publish(s.ctx(t), pubsub.Message{Topic: a, Data: []byte("on a"), ID: key})
	require.NoError(t, err)
	rc, err := b.Publish(s.ctx(t), pubsub.Message{Topic: c, Data: []byte("on c"), ID: key})
	require.NoError(t, err)
	if s.f.Capabilities.History {
		require.NotEqual(t, ra.Cursor, rc.Cursor, "the message on the other topic is stored apart")
	}
	m := s.next(t, subA)
	require.Equal(t, "on a", string(m.Data))
	m = s.next(t, subC)
	require.Equal(t, "on c", string(m.Data), "the same ID on another topic is delivered")
	require.Equal(t, key, m.ID)
}

func requireSameReceipt(t *testing.T, want, got pubsub.Receipt) {
	t.Helper()
	require.Equal(t, want.ID, got.ID, "receipt ID")
	require.Equal(t, want.Cursor, got.Cursor, "receipt cursor")
	assert.True(t, want.Time.Equal(got.Time), "receipt time %v, want %v", got.Time, want.Time)
}
