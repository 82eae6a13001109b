package pubsub_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
)

// receiver is a Subscription or a Feed.
type receiver interface {
	C() <-chan *pubsub.Message
	Err() error
}

func recv(t *testing.T, sub receiver) *pubsub.Message {
	t.Helper()
	select {
	case m, ok := <-sub.C():
		require.True(t, ok, "ended: %v", sub.Err())
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no message")
		return nil
	}
}

func TestMemoryReplayLargerThanBuffer(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	ctx := context.Background()
	first, err := b.Publish(ctx, pubsub.Message{Topic: "r", Data: []byte("0")})
	require.NoError(t, err)
	for i := 1; i < 1000; i++ {
		_, err := b.Publish(ctx, pubsub.Message{Topic: "r", Data: []byte(strconv.Itoa(i))})
		require.NoError(t, err)
	}
	// 999 to replay through an 8-slot buffer, with live messages arriving
	// during the replay (they wait in the pending list, up to Buffer).
	sub, err := b.Subscribe(ctx, "r", &pubsub.SubscribeOptions{Since: first.Cursor, Buffer: 8})
	require.NoError(t, err)
	defer sub.Close()
	for i := 1; i < 1000; i++ {
		if i%200 == 0 {
			_, err := b.Publish(ctx, pubsub.Message{Topic: "r", Data: []byte("live" + strconv.Itoa(i/200))})
			require.NoError(t, err)
		}
		require.Equal(t, strconv.Itoa(i), string(recv(t, sub).Data))
	}
	for k := 1; k < 5; k++ {
		require.Equal(t, "live"+strconv.Itoa(k), string(recv(t, sub).Data))
	}
	_, err = b.Publish(ctx, pubsub.Message{Topic: "r", Data: []byte("after")})
	require.NoError(t, err)
	require.Equal(t, "after", string(recv(t, sub).Data))
}

func TestMemoryReplayCloseMidway(t *testing.T) {
	b := pubsub.NewMemory(nil)
	ctx := context.Background()
	first, _ := b.Publish(ctx, pubsub.Message{Topic: "r"})
	for range 100 {
		_, _ = b.Publish(ctx, pubsub.Message{Topic: "r"})
	}
	sub, err := b.Subscribe(ctx, "r", &pubsub.SubscribeOptions{Since: first.Cursor, Buffer: 2})
	require.NoError(t, err)
	recv(t, sub)
	require.NoError(t, b.Close()) // must wait for the replay goroutine (goleak checks)
	untilEnd(t, sub, 10*time.Second)
	require.ErrorIs(t, sub.Err(), pubsub.ErrClosed)
}

func TestMemoryHistoryEviction(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	b := pubsub.NewMemory(&pubsub.MemoryOptions{HistorySize: 5, HistoryAge: time.Minute, Now: clock})
	defer b.Close()
	ctx := context.Background()
	var rs []pubsub.Receipt
	for i := range 8 {
		r, err := b.Publish(ctx, pubsub.Message{Topic: "h", Data: []byte(strconv.Itoa(i))})
		require.NoError(t, err)
		rs = append(rs, r)
	}
	// Count: only 3..7 are kept. Resuming after 2 is complete; after 1 is a
	// gap.
	sub, err := b.Subscribe(ctx, "h", &pubsub.SubscribeOptions{Since: rs[2].Cursor})
	require.NoError(t, err)
	require.False(t, sub.Gap())
	require.Equal(t, "3", string(recv(t, sub).Data))
	sub.Close()
	sub, err = b.Subscribe(ctx, "h", &pubsub.SubscribeOptions{Since: rs[1].Cursor})
	require.NoError(t, err)
	require.True(t, sub.Gap(), "message 2 was evicted")
	sub.Close()
	page, err := b.History(ctx, "h", pubsub.HistoryOptions{Since: rs[1].Cursor})
	require.NoError(t, err)
	require.True(t, page.Gap)
	require.Len(t, page.Messages, 5)

	// Age: two minutes later everything is gone, and the head cursor still
	// resumes without a gap.
	now = now.Add(2 * time.Minute)
	page, err = b.History(ctx, "#", pubsub.HistoryOptions{})
	require.NoError(t, err)
	require.Empty(t, page.Messages)
	require.Equal(t, rs[7].Cursor, page.Head)
	sub, err = b.Subscribe(ctx, "h", &pubsub.SubscribeOptions{Since: rs[7].Cursor})
	require.NoError(t, err)
	require.False(t, sub.Gap())
	sub.Close()
	sub, err = b.Subscribe(ctx, "h", &pubsub.SubscribeOptions{Since: rs[6].Cursor})
	require.NoError(t, err)
	require.True(t, sub.Gap(), "message 7 aged out")
	sub.Close()
}

func TestMemoryGroupBacklogWaitsForMembers(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	ctx := context.Background()
	first, err := b.Subscribe(ctx, "jobs/+", &pubsub.SubscribeOptions{Group: "w", ManualAck: true, Prefetch: 1})
	require.NoError(t, err)
	for i := range 3 {
		_, err := b.Publish(ctx, pubsub.Message{Topic: "jobs/a", Data: []byte(strconv.Itoa(i))})
		require.NoError(t, err)
	}
	m := recv(t, first)
	require.Equal(t, "0", string(m.Data))
	// The member leaves without acking: its delivery goes back to the group,
	// which keeps it (and the rest) until a member arrives.
	require.NoError(t, first.Close())
	second, err := b.Subscribe(ctx, "jobs/+", &pubsub.SubscribeOptions{Group: "w", ManualAck: true, Prefetch: 10})
	require.NoError(t, err)
	defer second.Close()
	m = recv(t, second)
	require.Equal(t, "0", string(m.Data))
	require.Equal(t, 2, m.Attempt, "redelivery is counted")
	require.Equal(t, "1", string(recv(t, second).Data))
	require.Equal(t, "2", string(recv(t, second).Data))
}

func TestMemoryDefaultDeadLetterTopic(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	ctx := context.Background()
	dead, err := b.Subscribe(ctx, "$deadletter/#", nil)
	require.NoError(t, err)
	all, err := b.Subscribe(ctx, "#", nil)
	require.NoError(t, err)
	sub, err := b.Subscribe(ctx, "orders/new", &pubsub.SubscribeOptions{ManualAck: true})
	require.NoError(t, err)
	_, err = b.Publish(ctx, pubsub.Message{Topic: "orders/new", Data: []byte("x")})
	require.NoError(t, err)
	require.NoError(t, sub.Nack(recv(t, sub), false))
	m := recv(t, dead)
	require.Equal(t, "$deadletter/orders/new", m.Topic)
	require.Equal(t, "rejected", m.Header[pubsub.HeaderDeadLetterReason])
	require.Equal(t, "orders/new", recv(t, all).Topic)
	select {
	case m := <-all.C():
		t.Fatalf("'#' must not see the $deadletter topic, got %q", m.Topic)
	default:
	}
}

func TestMemoryNonMatchingSubscriptionsAreNotVisited(t *testing.T) {
	b := pubsub.NewMemory(&pubsub.MemoryOptions{HistorySize: -1})
	defer b.Close()
	ctx := context.Background()
	for i := range 1000 {
		sub, err := b.Subscribe(ctx, "other/"+strconv.Itoa(i), &pubsub.SubscribeOptions{Buffer: 1})
		require.NoError(t, err)
		defer sub.Close()
	}
	hit, err := b.Subscribe(ctx, "target/x", nil)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(100, func() {
		_, _ = b.Publish(ctx, pubsub.Message{Topic: "target/x"})
		<-hit.C()
	})
	require.LessOrEqual(t, allocs, 2.0, "publish allocates the message and its id, nothing per subscription")
}

// onlySubscribe hides Memory's MultiSubscriber, to test SubscribeAll's
// merging fallback.
type onlySubscribe struct{ pubsub.Broker }

func TestSubscribeAll(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ordered bool
		wrap    func(*pubsub.Memory) pubsub.Broker
	}{
		{"memory", true, func(m *pubsub.Memory) pubsub.Broker { return m }},
		{"fallback", false, func(m *pubsub.Memory) pubsub.Broker { return onlySubscribe{m} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := pubsub.NewMemory(nil)
			defer mem.Close()
			b := tc.wrap(mem)
			ctx := context.Background()
			sub, err := pubsub.SubscribeAll(ctx, b, []string{"a/#", "b", "a/x"}, &pubsub.SubscribeOptions{Buffer: 1000})
			require.NoError(t, err)
			var wg sync.WaitGroup
			for _, topic := range []string{"a/x", "b", "c"} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 100 {
						_, _ = b.Publish(ctx, pubsub.Message{Topic: topic, Data: []byte(strconv.Itoa(i))})
					}
				}()
			}
			wg.Wait()
			want := 200
			if !tc.ordered {
				want = 300 // "a/x" matches two filters: delivered twice without a MultiSubscriber
			}
			var last uint64
			for range want {
				m := recv(t, sub)
				require.NotEqual(t, "c", m.Topic)
				if tc.ordered {
					c, err := pubsub.ParseCursor(m.Cursor)
					require.NoError(t, err)
					require.Greater(t, c.Seq, last, "cursor order across filters, each message once")
					last = c.Seq
				}
			}
			require.NoError(t, sub.Close())
			for range sub.C() {
			}
			require.ErrorIs(t, sub.Err(), pubsub.ErrClosed)
		})
	}
}

func TestHead(t *testing.T) {
	ctx := context.Background()
	b := pubsub.NewMemory(&pubsub.MemoryOptions{Epoch: "h"})
	defer b.Close()
	h, err := pubsub.Head(ctx, b)
	require.NoError(t, err)
	require.Equal(t, "h-0", h)
	r, _ := b.Publish(ctx, pubsub.Message{Topic: "$sys/x"})
	h, err = pubsub.Head(ctx, b)
	require.NoError(t, err)
	require.Equal(t, r.Cursor, h, "the head covers every topic, $ ones too")

	nh := pubsub.NewMemory(&pubsub.MemoryOptions{HistorySize: -1})
	defer nh.Close()
	h, err = pubsub.Head(ctx, nh)
	require.NoError(t, err)
	require.Empty(t, h)
}

// untilEnd reads sub until its channel closes and returns what it read;
// the test fails when the subscription has not ended within d (a bound
// instead of an unbounded range, which would hang until go test's timeout).
func untilEnd(t *testing.T, sub pubsub.Subscription, d time.Duration) []*pubsub.Message {
	t.Helper()
	timeout := time.After(d)
	var got []*pubsub.Message
	for {
		select {
		case m, ok := <-sub.C():
			if !ok {
				return got
			}
			got = append(got, m)
		case <-timeout:
			t.Fatalf("subscription did not end within %v (%d messages read)", d, len(got))
		}
	}
}
