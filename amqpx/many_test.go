package amqpx_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/amqpx"
	"github.com/switchboard-go/switchboard/pubsub"
)

// manyFilters overlap: "many/a/x" matches the first two, "many/b/x" the
// last two, "many/c/y" none.
var manyFilters = []string{"many/a/#", "many/+/x", "many/b/+"}

var manyTopics = []string{"many/a/x", "many/b/x", "many/a/y", "many/b/y", "many/c/x", "many/c/y", "other/a/x"}

func matchesAny(t *testing.T, topic string) bool {
	for _, f := range manyFilters {
		pf, err := pubsub.ParseFilter(f)
		require.NoError(t, err)
		if pf.Match(topic) {
			return true
		}
	}
	return false
}

func seqOf(t *testing.T, cursor string) uint64 {
	t.Helper()
	c, err := pubsub.ParseCursor(cursor)
	require.NoError(t, err)
	return c.Seq
}

// sent is a message the test published, with its receipt.
type sent struct {
	id, topic, cursor string
}

// publishConcurrently publishes per messages from each of the brokers'
// publishers (two per broker) at once, cycling over manyTopics, and
// returns every receipt.
func publishConcurrently(t *testing.T, c context.Context, pubs []*amqpx.Broker, per int, tag string) []sent {
	var mu sync.Mutex
	var out []sent
	var wg sync.WaitGroup
	for i := range 2 * len(pubs) {
		b := pubs[i%len(pubs)]
		wg.Go(func() {
			for j := range per {
				topic := manyTopics[(i+j)%len(manyTopics)]
				r, err := b.Publish(c, pubsub.Message{Topic: topic, Data: fmt.Appendf(nil, "%s-%d-%d", tag, i, j)})
				if err != nil {
					t.Errorf("publish: %v", err)
					return
				}
				mu.Lock()
				out = append(out, sent{id: r.ID, topic: topic, cursor: r.Cursor})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out
}

// TestSubscribeManyOverlapConcurrent: one subscription on overlapping
// filters while several publishers on two nodes publish at once. Every
// matching message arrives exactly once; with history, in strictly
// increasing cursor order and with its receipt's cursor.
func TestSubscribeManyOverlapConcurrent(t *testing.T) {
	for _, history := range []bool{false, true} {
		t.Run(fmt.Sprintf("history=%v", history), func(t *testing.T) {
			t.Parallel()
			sp := newSpace(t)
			mod := func(o *amqpx.Options) { o.History = history }
			a, b := sp.broker(mod), sp.broker(mod)
			c := ctx(t)
			sub, err := pubsub.SubscribeAll(c, b, manyFilters, &pubsub.SubscribeOptions{Buffer: 4096})
			require.NoError(t, err)
			defer sub.Close()
			// A second subscription on one of the filters shares its binding.
			single, err := b.Subscribe(c, manyFilters[0], nil)
			require.NoError(t, err)
			defer single.Close()

			msgs := publishConcurrently(t, c, []*amqpx.Broker{a, b}, 60, "m")
			require.False(t, t.Failed())
			// Published after every other publish was confirmed: it comes
			// last, and everything before it has been delivered.
			end, err := a.Publish(c, pubsub.Message{Topic: "many/a/end"})
			require.NoError(t, err)

			want := map[string]sent{}
			for _, m := range msgs {
				if matchesAny(t, m.topic) {
					want[m.id] = m
				}
			}
			got := map[string]int{}
			var last uint64
			for i := 0; ; i++ {
				m := recv(t, sub)
				if history {
					require.NotEmpty(t, m.Cursor)
					seq := seqOf(t, m.Cursor)
					require.True(t, i == 0 || seq > last, "cursor %d after %d: not in cursor order", seq, last)
					last = seq
				}
				if m.ID == end.ID {
					break
				}
				got[m.ID]++
				require.Equal(t, 1, got[m.ID], "message %s on %s delivered twice", m.ID, m.Topic)
				w, ok := want[m.ID]
				require.True(t, ok, "unexpected message %s on %s", m.ID, m.Topic)
				if history {
					require.Equal(t, w.cursor, m.Cursor)
				}
			}
			require.Len(t, got, len(want), "every matching message once")
		})
	}
}

// TestSubscribeManyResume is the client that drops mid-replay and resumes
// from its last cursor, over and over, on alternating nodes, while
// publishers keep publishing: it must see exactly the union of its filters
// after the first cursor, in stream order, each message once.
func TestSubscribeManyResume(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	a, b := sp.broker(withHistory), sp.broker(withHistory)
	c := ctx(t)
	before := publishConcurrently(t, c, []*amqpx.Broker{a, b}, 30, "before")
	require.False(t, t.Failed())
	slices.SortFunc(before, func(x, y sent) int { return cmp.Compare(seqOf(t, x.cursor), seqOf(t, y.cursor)) })
	since := before[len(before)/3].cursor

	var during []sent
	published := make(chan struct{})
	pc, stop := context.WithCancel(c)
	t.Cleanup(func() { stop(); <-published })
	go func() {
		defer close(published)
		during = publishConcurrently(t, pc, []*amqpx.Broker{a, b}, 30, "during")
	}()

	var got []*pubsub.Message
	cursor := since
	var end pubsub.Receipt
	wait := published // nil once the end marker is published
	nodes := []*amqpx.Broker{b, a}
	for round, done := 0, false; !done; round++ {
		sub, err := pubsub.SubscribeAll(c, nodes[round%2], manyFilters, &pubsub.SubscribeOptions{Since: cursor})
		require.NoError(t, err)
		require.False(t, sub.Gap())
		// Read a few messages, then drop: mostly mid-replay.
		for n := 1 + round%7; n > 0 && !done; {
			select {
			case <-wait:
				require.False(t, t.Failed(), "a publisher failed")
				end, err = a.Publish(c, pubsub.Message{Topic: "many/b/end"})
				require.NoError(t, err)
				wait = nil
			case m, ok := <-sub.C():
				require.True(t, ok, "subscription ended: %v", sub.Err())
				got = append(got, m)
				cursor = m.Cursor
				done = wait == nil && m.ID == end.ID
				n--
			case <-time.After(10 * time.Second):
				t.Fatal("timed out waiting for a message")
			}
		}
		require.NoError(t, sub.Close())
	}

	all := append(before, during...)
	all = append(all, sent{id: end.ID, topic: "many/b/end", cursor: end.Cursor})
	slices.SortFunc(all, func(x, y sent) int { return cmp.Compare(seqOf(t, x.cursor), seqOf(t, y.cursor)) })
	var want []string
	for _, m := range all {
		if seqOf(t, m.cursor) > seqOf(t, since) && matchesAny(t, m.topic) {
			want = append(want, m.cursor+" "+m.topic)
		}
	}
	var have []string
	for _, m := range got {
		have = append(have, m.Cursor+" "+m.Topic)
	}
	require.Equal(t, want, have, "exactly the union of the filters after the cursor, in stream order")
}

// TestSubscribeManyBindings: a subscription on N filters holds N binding
// references; the node queue keeps a binding while any subscription uses
// its filter. A ManualAck subscription on several filters binds its
// private queue to each and delivers each message once.
func TestSubscribeManyBindings(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	b := sp.broker()
	c := ctx(t)
	ms, ok := any(b).(pubsub.MultiSubscriber)
	require.True(t, ok, "amqpx.Broker is a pubsub.MultiSubscriber")
	multi, err := ms.SubscribeMany(c, []string{"bind/a", "bind/+"}, nil)
	require.NoError(t, err)
	single, err := b.Subscribe(c, "bind/a", nil)
	require.NoError(t, err)
	require.Equal(t, []string{"bind.*", "bind.a"}, sp.bindings(b.NodeQueue()))
	require.NoError(t, multi.Close())
	require.Equal(t, []string{"bind.a"}, sp.bindings(b.NodeQueue()))
	require.NoError(t, single.Close())
	require.Empty(t, sp.bindings(b.NodeQueue()))

	_, err = ms.SubscribeMany(c, nil, nil)
	require.ErrorIs(t, err, pubsub.ErrInvalidFilter)
	_, err = ms.SubscribeMany(c, []string{"bind/a", "bind/a.b"}, nil)
	require.ErrorIs(t, err, pubsub.ErrInvalidFilter)
	_, err = ms.SubscribeMany(c, []string{"bind/a", "bind/b"}, &pubsub.SubscribeOptions{Group: "g"})
	require.ErrorIs(t, err, pubsub.ErrNotSupported)
	require.Empty(t, sp.bindings(b.NodeQueue()), "a refused subscription holds no binding")

	acked, err := ms.SubscribeMany(c, []string{"bind/a", "bind/+", "$sys/#"}, &pubsub.SubscribeOptions{ManualAck: true})
	require.NoError(t, err)
	defer acked.Close()
	for _, topic := range []string{"bind/a", "bind/b", "other", "$sys/x", "bind/a"} {
		_, err := b.Publish(c, pubsub.Message{Topic: topic, Data: []byte(topic)})
		require.NoError(t, err)
	}
	for _, want := range []string{"bind/a", "bind/b", "$sys/x", "bind/a"} {
		m := recv(t, acked)
		require.Equal(t, want, m.Topic)
		require.NoError(t, acked.Ack(m))
	}
}
