package pubsub_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/burst"

	"github.com/switchboard-go/switchboard/pubsub"
)

// msgs returns messages whose Data and Cursor are prefix+i for i in [from, to).
func msgs(prefix string, from, to int) []*pubsub.Message {
	var out []*pubsub.Message
	for i := from; i < to; i++ {
		s := prefix + strconv.Itoa(i)
		out = append(out, &pubsub.Message{Topic: "t", Data: []byte(s), Cursor: s})
	}
	return out
}

// drain reads C until it is closed and returns the data received.
func drain(t *testing.T, f *pubsub.Feed) []string {
	t.Helper()
	var got []string
	for {
		select {
		case m, ok := <-f.C():
			if !ok {
				return got
			}
			got = append(got, string(m.Data))
		case <-time.After(5 * time.Second):
			t.Fatalf("C not closed after %v", got)
		}
	}
}

func data(ms []*pubsub.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, string(m.Data))
	}
	return out
}

func TestFeedOverflowClose(t *testing.T) {
	f := pubsub.NewFeed(2, pubsub.OverflowClose)
	in := msgs("m", 0, 3)
	require.False(t, f.Offer(in[0]))
	require.False(t, f.Offer(in[1]))
	require.Nil(t, f.Err())
	require.True(t, f.Offer(in[2]), "the third message overflows")
	require.False(t, f.Offer(in[2]), "an ended feed ignores offers")
	require.False(t, f.End(pubsub.ErrClosed), "already ended")
	var sc *pubsub.SlowConsumerError
	require.ErrorAs(t, f.Err(), &sc)
	require.Equal(t, "m1", sc.LastCursor)
	require.ErrorIs(t, f.Err(), pubsub.ErrSlowConsumer)
	require.Equal(t, []string{"m0", "m1"}, drain(t, f))
	select {
	case <-f.Done():
	default:
		t.Fatal("Done not closed")
	}
}

func TestFeedOverflowDropOldest(t *testing.T) {
	f := pubsub.NewFeed(2, pubsub.OverflowDropOldest)
	for _, m := range msgs("m", 0, 5) {
		require.False(t, f.Offer(m))
	}
	require.True(t, f.End(pubsub.ErrClosed))
	require.Equal(t, []string{"m3", "m4"}, drain(t, f))
	require.ErrorIs(t, f.Err(), pubsub.ErrClosed)
}

// TestFeedReplayThenLive replays a backlog far larger than the buffer
// while live messages are offered concurrently: the consumer gets the
// backlog, then every live message, in order, once each.
func TestFeedReplayThenLive(t *testing.T) {
	const backlog, live = 1000, 100
	f := pubsub.NewFeed(64, pubsub.OverflowClose)
	f.Hold()
	done := make(chan bool)
	go func() { done <- f.Replay(slices.Values(msgs("b", 0, backlog)), nil, 0) }()

	// One live message per 20 received during the replay (at most 50
	// held, within the buffer), then one per message received. Each offer
	// completes before the consumer reads on, so C never holds more than
	// the buffer (a queued offer could land on a C the replay still fills).
	tick, ack := make(chan struct{}), make(chan struct{})
	offered := make(chan struct{})
	go func() {
		defer close(offered)
		for _, m := range msgs("l", 0, live) {
			<-tick
			f.Offer(m) // an overflow would close C: the consumer fails
			ack <- struct{}{}
		}
	}()
	var got []string
	sent := 0
	for len(got) < backlog+live {
		m := recv(t, f)
		if sent < live && (len(got)%20 == 0 || len(got) >= backlog) {
			tick <- struct{}{}
			<-ack
			sent++
		}
		got = append(got, string(m.Data))
	}
	<-offered
	require.False(t, <-done)
	require.Equal(t, append(data(msgs("b", 0, backlog)), data(msgs("l", 0, live))...), got)

	// Live again: straight to C, and the overflow policy applies.
	require.False(t, f.Offer(&pubsub.Message{Data: []byte("after")}))
	require.Equal(t, "after", string(recv(t, f).Data))
	require.Nil(t, f.Err())
	f.End(pubsub.ErrClosed)
	require.Empty(t, drain(t, f))
}

func TestFeedReplaySkipsCoveredAndHoldsWithinBuffer(t *testing.T) {
	f := pubsub.NewFeed(4, pubsub.OverflowDropOldest)
	f.Hold()
	for _, m := range msgs("m", 1, 7) { // 6 held in 4 slots: m1 and m2 dropped
		require.False(t, f.Offer(m))
	}
	covered := func(m *pubsub.Message) bool { return m.Cursor <= "m3" }
	done := make(chan bool)
	go func() { done <- f.Replay(slices.Values(msgs("m", 1, 4)), covered, 0) }()
	var got []string
	for range 6 {
		got = append(got, string(recv(t, f).Data))
	}
	require.False(t, <-done)
	require.Equal(t, []string{"m1", "m2", "m3", "m4", "m5", "m6"}, got)
	f.End(pubsub.ErrClosed)
	require.Empty(t, drain(t, f))
}

func TestFeedHeldOverflowClose(t *testing.T) {
	f := pubsub.NewFeed(2, pubsub.OverflowClose)
	f.Hold()
	in := msgs("l", 0, 3)
	require.False(t, f.Offer(in[0]))
	require.False(t, f.Offer(in[1]))
	require.True(t, f.Offer(in[2]), "held messages are bounded by the buffer")
	select {
	case <-f.C():
		t.Fatal("C must stay open until Replay returns")
	default:
	}
	require.False(t, f.Replay(slices.Values(msgs("b", 0, 1)), nil, 0))
	require.Empty(t, drain(t, f), "nothing is replayed to an ended feed")
	var sc *pubsub.SlowConsumerError
	require.ErrorAs(t, f.Err(), &sc)
	require.Empty(t, sc.LastCursor)
}

func TestFeedEndDuringReplay(t *testing.T) {
	f := pubsub.NewFeed(1, pubsub.OverflowClose)
	f.Hold()
	done := make(chan bool)
	go func() { done <- f.Replay(slices.Values(msgs("b", 0, 100)), nil, 0) }()
	require.Equal(t, "b0", string(recv(t, f).Data))
	require.True(t, f.End(pubsub.ErrClosed))
	require.False(t, <-done)
	got := drain(t, f)
	require.LessOrEqual(t, len(got), 1)
	require.ErrorIs(t, f.Err(), pubsub.ErrClosed)
}

func TestFeedEndBeforeReplay(t *testing.T) {
	f := pubsub.NewFeed(1, pubsub.OverflowClose)
	f.Hold()
	require.False(t, f.Offer(msgs("l", 0, 1)[0]))
	wantErr := errors.New("resume failed")
	require.True(t, f.End(wantErr))
	require.False(t, f.Replay(nil, nil, 0))
	require.Empty(t, drain(t, f))
	require.Equal(t, wantErr, f.Err())
}

func TestFeedReplayStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := pubsub.NewFeed(1, pubsub.OverflowClose)
		f.Hold()
		start := time.Now()
		require.True(t, f.Replay(slices.Values(msgs("b", 0, 3)), nil, time.Minute))
		require.Equal(t, time.Minute, time.Since(start))
		var sc *pubsub.SlowConsumerError
		require.ErrorAs(t, f.Err(), &sc)
		require.Equal(t, "b0", sc.LastCursor)
		require.Equal(t, []string{"b0"}, drain(t, f))
	})
}

func TestFeedWatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := pubsub.NewFeed(1, pubsub.OverflowClose)
		ctx, cancel := context.WithCancel(context.Background())
		ended := make(chan error, 1)
		f.Watch(ctx, func(err error) { f.End(err); ended <- err })
		cancel()
		require.ErrorIs(t, <-ended, context.Canceled)
		require.ErrorIs(t, f.Err(), context.Canceled)

		// Ended first: the context no longer matters.
		f = pubsub.NewFeed(1, pubsub.OverflowClose)
		f.End(pubsub.ErrClosed)
		ctx, cancel = context.WithCancel(context.Background())
		f.Watch(ctx, func(err error) { ended <- err })
		cancel()
		synctest.Wait()
		require.Empty(t, ended)

		// Watching, then ended: End stops the watch.
		f = pubsub.NewFeed(1, pubsub.OverflowClose)
		ctx, cancel = context.WithCancel(context.Background())
		defer cancel()
		f.Watch(ctx, func(err error) { ended <- err })
		f.End(pubsub.ErrClosed)
		cancel()
		synctest.Wait()
		require.Empty(t, ended)
	})
}

// notifyDrainer receives a subscription's messages the way a transport
// without a goroutine per subscription does (pubsub.Notifier): each call
// of the notify function starts a drain unless one is running, and the
// drain receives without blocking until C is empty.
type notifyDrainer struct {
	c    <-chan *pubsub.Message
	gate burst.Gate
	wg   sync.WaitGroup

	mu     sync.Mutex
	got    []string
	closed chan struct{}
}

func (d *notifyDrainer) notify() {
	if d.gate.Kick() {
		d.wg.Add(1)
		go d.drain()
	}
}

func (d *notifyDrainer) drain() {
	defer d.wg.Done()
	for {
		d.gate.Begin()
		for {
			select {
			case m, ok := <-d.c:
				if !ok {
					close(d.closed)
					return // no Idle: nothing follows a close
				}
				d.mu.Lock()
				d.got = append(d.got, string(m.Data))
				d.mu.Unlock()
				continue
			default:
			}
			break
		}
		if !d.gate.Idle() {
			return
		}
	}
}

func TestFeedNotify(t *testing.T) {
	f := pubsub.NewFeed(4, pubsub.OverflowClose)
	var calls atomic.Int32
	f.Offer(msgs("m", 0, 1)[0]) // before Notify: announced by the call at registration
	f.Notify(func() { calls.Add(1) })
	require.Equal(t, int32(1), calls.Load(), "Notify calls fn once at registration")
	f.Offer(msgs("m", 1, 2)[0])
	require.Equal(t, int32(2), calls.Load(), "one call per message put on C")
	f.End(nil)
	require.Equal(t, int32(3), calls.Load(), "one call when C is closed")
	require.Equal(t, []string{"m0", "m1"}, drain(t, f))

	g := pubsub.NewFeed(1, pubsub.OverflowClose)
	g.Notify(nil)
	g.Offer(msgs("m", 0, 1)[0]) // no function: nothing to call, nothing breaks
}

// TestMemoryNotifyLosesNothing publishes from several goroutines to a
// Memory subscription drained only on notification: every message
// arrives, and the close is seen, whatever the interleaving.
func TestMemoryNotifyLosesNothing(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	sub, err := b.Subscribe(context.Background(), "n/#", &pubsub.SubscribeOptions{Buffer: 100_000})
	require.NoError(t, err)
	n, ok := sub.(pubsub.Notifier)
	require.True(t, ok, "Memory's subscription is a Notifier")
	d := &notifyDrainer{c: sub.C(), closed: make(chan struct{})}
	n.Notify(d.notify)

	const publishers, each = 4, 2000
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for i := range each {
				_, err := b.Publish(context.Background(), pubsub.Message{Topic: "n/" + strconv.Itoa(p), Data: []byte(strconv.Itoa(p*each + i))})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, sub.Close())
	select {
	case <-d.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the close was never seen")
	}
	d.wg.Wait()
	require.Len(t, d.got, publishers*each)
	seen := make(map[string]bool, len(d.got))
	for _, s := range d.got {
		require.False(t, seen[s], "duplicate %s", s)
		seen[s] = true
	}
}
