package redisx_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/pubsub/pubsubtest"
	"github.com/switchboard-go/switchboard/redisx"
)

// TestOutageLosesNothing cuts a node off Redis while another node
// publishes: the node reader resumes from the last entry it read, so
// after the reconnect the subscriber gets every message it missed, in
// order, once.
func TestOutageLosesNothing(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	px, viaProxy := newProxy(t, sp.url)
	logs := newLogCounter()
	node := sp.brokerAt(viaProxy, func(o *redisx.Options) { o.Logger = slog.New(logs) })
	pub := sp.broker()
	c := ctx(t)
	sub, err := node.Subscribe(c, "feed/#", nil)
	require.NoError(t, err)

	px.Cut()
	for i := range 100 {
		_, err := pub.Publish(c, pubsub.Message{Topic: "feed/x", Data: fmt.Appendf(nil, "%d", i)})
		require.NoError(t, err)
	}
	px.Restore()
	for i := range 100 {
		require.Equal(t, fmt.Sprint(i), string(recv(t, sub).Data))
	}
	_, err = node.Publish(c, pubsub.Message{Topic: "feed/y", Data: []byte("back")})
	require.NoError(t, err)
	require.Equal(t, "back", string(recv(t, sub).Data))
	require.LessOrEqual(t, logs.count("redisx: reconnected"), logs.count("redisx: connection lost"))
}

// TestCutMidStream drops a node's connections while it and another node
// publish a stream of messages: every publish that returned nil reaches
// the node's live subscriber (at least once; a retried publish keeps its
// ID), and a subscriber resuming with Since from the first cursor gets
// them all too, in stream order.
func TestCutMidStream(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	px, viaProxy := newProxy(t, sp.url)
	victim := sp.brokerAt(viaProxy)
	other := sp.broker()
	c := ctx(t)
	first, err := other.Publish(c, pubsub.Message{Topic: "stream/start"})
	require.NoError(t, err)
	sub, err := victim.Subscribe(c, "stream/x", &pubsub.SubscribeOptions{Buffer: 10000})
	require.NoError(t, err)

	const n = 2000
	var (
		mu        sync.Mutex
		confirmed = map[string]bool{}
		failed    int
	)
	var wg sync.WaitGroup
	publish := func(node *redisx.Broker, from, to int) {
		defer wg.Done()
		for i := from; i < to; i++ {
			id := fmt.Sprintf("m%d", i)
			_, err := node.Publish(c, pubsub.Message{Topic: "stream/x", ID: id, Data: []byte(id)})
			mu.Lock()
			if err == nil {
				confirmed[id] = true
			} else {
				failed++
			}
			mu.Unlock()
		}
	}
	wg.Add(2)
	go publish(other, 0, n/2)
	go publish(victim, n/2, n) // the victim publishes too

	got := map[string]bool{}
	for len(got) < 200 {
		got[recv(t, sub).ID] = true
	}
	px.Drop() // mid-stream
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	require.Greater(t, len(confirmed), n/2, "publishing went on after the cut")
	for missing(confirmed, got) > 0 {
		got[recv(t, sub).ID] = true
	}
	resumed, err := other.Subscribe(c, "stream/x", &pubsub.SubscribeOptions{Since: first.Cursor, Buffer: 2 * n})
	require.NoError(t, err)
	require.False(t, resumed.Gap())
	again := map[string]bool{}
	var last string
	for missing(confirmed, again) > 0 {
		m := recv(t, resumed)
		require.Greater(t, cursorSeq(t, m.Cursor), cursorSeq(t, last), "stream order")
		last = m.Cursor
		again[m.ID] = true
	}
	t.Logf("confirmed %d of %d (%d failed during the cut)", len(confirmed), n, failed)
}

func cursorSeq(t *testing.T, c string) uint64 {
	if c == "" {
		return 0
	}
	cur, err := pubsub.ParseCursor(c)
	require.NoError(t, err)
	return cur.Seq
}

func missing(want, got map[string]bool) int {
	n := 0
	for k := range want {
		if !got[k] {
			n++
		}
	}
	return n
}

// TestTrimmedDuringOutage: when the stream is trimmed past the node's
// position while it is cut off, its live subscriptions end with
// ErrTrimmed — an explicit gap — and a resume from the last cursor
// reports Gap.
func TestTrimmedDuringOutage(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	px, viaProxy := newProxy(t, sp.url)
	small := func(o *redisx.Options) { o.MaxLen = 512 }
	node := sp.brokerAt(viaProxy, small)
	pub := sp.broker(small)
	c := ctx(t)
	sub, err := node.Subscribe(c, "feed/#", nil)
	require.NoError(t, err)
	r, err := pub.Publish(c, pubsub.Message{Topic: "feed/x", Data: []byte("seen")})
	require.NoError(t, err)
	require.Equal(t, "seen", string(recv(t, sub).Data))

	px.Cut()
	for range 2000 {
		_, err := pub.Publish(c, pubsub.Message{Topic: "feed/x"})
		require.NoError(t, err)
	}
	px.Restore()
	pubsubtest.UntilEnd(t, sub, 30*time.Second)
	require.ErrorIs(t, sub.Err(), redisx.ErrTrimmed)

	again, err := node.Subscribe(c, "feed/#", &pubsub.SubscribeOptions{Since: r.Cursor})
	require.NoError(t, err)
	require.True(t, again.Gap(), "history no longer reaches back to the cursor")
}

// TestRedisLostKeys deletes the namespace's keys, as a Redis restart
// without persistence would: live and group subscriptions end with
// ErrReset or ErrGroupLost, a new epoch starts, and old cursors resume
// with a gap.
func TestRedisLostKeys(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	node := sp.broker()
	c := ctx(t)
	sub, err := node.Subscribe(c, "x", nil)
	require.NoError(t, err)
	group, err := node.Subscribe(c, "x", &pubsub.SubscribeOptions{Group: "g"})
	require.NoError(t, err)
	r, err := node.Publish(c, pubsub.Message{Topic: "x", Data: []byte("before")})
	require.NoError(t, err)
	require.Equal(t, "before", string(recv(t, sub).Data))
	require.Equal(t, "before", string(recv(t, group).Data))
	old := node.Epoch()

	sp.cleanup() // what a restart without persistence does to the keys
	_, err = node.Publish(c, pubsub.Message{Topic: "x", Data: []byte("after")})
	require.NoError(t, err)
	pubsubtest.UntilEnd(t, sub, 30*time.Second)
	require.ErrorIs(t, sub.Err(), redisx.ErrReset)
	pubsubtest.UntilEnd(t, group, 30*time.Second)
	require.Error(t, group.Err())
	require.NotEqual(t, old, node.Epoch())

	again, err := node.Subscribe(context.Background(), "x", &pubsub.SubscribeOptions{Since: r.Cursor})
	require.NoError(t, err)
	defer again.Close()
	require.True(t, again.Gap(), "a cursor from the lost epoch")
}
