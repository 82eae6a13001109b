package pubsub_test

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
)

// fakeClock is a settable MemoryOptions.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// liveHeap returns the bytes of live heap after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func TestMemoryHistoryBytesEvicts(t *testing.T) {
	b := pubsub.NewMemory(&pubsub.MemoryOptions{HistoryBytes: 1000, Epoch: "e"})
	defer b.Close()
	ctx := context.Background()
	var rs []pubsub.Receipt
	for i := range 5 {
		// 300 bytes of data, 1 of topic, 3 of id ("e-1"): three fit in 1,000.
		r, err := b.Publish(ctx, pubsub.Message{Topic: "h", Data: make([]byte, 300)})
		require.NoError(t, err, i)
		rs = append(rs, r)
	}
	page, err := b.History(ctx, "h", pubsub.HistoryOptions{})
	require.NoError(t, err)
	require.Len(t, page.Messages, 3, "only the newest 1,000 bytes are kept")
	require.Equal(t, rs[2].Cursor, page.Messages[0].Cursor)

	// Evicted by bytes is evicted like by count: a gap, never a silent loss.
	sub, err := b.Subscribe(ctx, "h", &pubsub.SubscribeOptions{Since: rs[1].Cursor})
	require.NoError(t, err)
	require.False(t, sub.Gap())
	require.Equal(t, rs[2].Cursor, recv(t, sub).Cursor)
	require.NoError(t, sub.Close())
	sub, err = b.Subscribe(ctx, "h", &pubsub.SubscribeOptions{Since: rs[0].Cursor})
	require.NoError(t, err)
	require.True(t, sub.Gap(), "message 1 was evicted by bytes")
	require.NoError(t, sub.Close())

	// A message larger than the whole bound is delivered live, not kept,
	// and its cursor still resumes without a gap.
	live, err := b.Subscribe(ctx, "h", nil)
	require.NoError(t, err)
	defer live.Close()
	big, err := b.Publish(ctx, pubsub.Message{Topic: "h", Data: make([]byte, 2000)})
	require.NoError(t, err)
	require.Len(t, recv(t, live).Data, 2000)
	page, err = b.History(ctx, "#", pubsub.HistoryOptions{})
	require.NoError(t, err)
	require.Empty(t, page.Messages)
	sub, err = b.Subscribe(ctx, "h", &pubsub.SubscribeOptions{Since: big.Cursor})
	require.NoError(t, err)
	require.False(t, sub.Gap())
	require.NoError(t, sub.Close())
}

// TestMemoryHistoryBytesDefaultBound reproduces issue 13's history attack
// at a tenth of its size: 100 × 1 MiB published with the defaults. The
// history must hold at most DefaultHistoryBytes of them.
func TestMemoryHistoryBytesDefaultBound(t *testing.T) {
	if testing.Short() {
		t.Skip("publishes 100 MiB")
	}
	b := pubsub.NewMemory(nil)
	defer b.Close()
	ctx := context.Background()
	before := liveHeap()
	for range 100 {
		_, err := b.Publish(ctx, pubsub.Message{Topic: "big/x", Data: make([]byte, 1<<20)})
		require.NoError(t, err)
	}
	grown := int64(liveHeap()) - int64(before)
	page, err := b.History(ctx, "#", pubsub.HistoryOptions{Limit: 1000})
	require.NoError(t, err)
	t.Logf("100 × 1 MiB published: live heap grew %.1f MiB", float64(grown)/(1<<20))
	require.Less(t, grown, int64(pubsub.DefaultHistoryBytes+8<<20), "history holds more than DefaultHistoryBytes")
	require.NotEmpty(t, page.Messages, "the newest messages are kept")
	require.LessOrEqual(t, len(page.Messages), int(pubsub.DefaultHistoryBytes>>20), "no more than 64 MiB of 1 MiB messages")
}

func TestMemoryRetainedCountLimit(t *testing.T) {
	b := pubsub.NewMemory(&pubsub.MemoryOptions{MaxRetained: 3})
	defer b.Close()
	ctx := context.Background()
	live, err := b.Subscribe(ctx, "r/#", nil)
	require.NoError(t, err)
	defer live.Close()
	for i := range 3 {
		_, err := b.Publish(ctx, pubsub.Message{Topic: "r/" + strconv.Itoa(i), Data: []byte("v"), Retain: true})
		require.NoError(t, err)
		recv(t, live)
	}
	_, err = b.Publish(ctx, pubsub.Message{Topic: "r/3", Data: []byte("v"), Retain: true})
	require.ErrorIs(t, err, pubsub.ErrLimit)
	require.ErrorContains(t, err, "MaxRetained")
	// Refused means refused: not delivered, not in history.
	page, err := b.History(ctx, "r/3", pubsub.HistoryOptions{})
	require.NoError(t, err)
	require.Empty(t, page.Messages)
	select {
	case m := <-live.C():
		t.Fatalf("a refused publish was delivered: %q", m.Topic)
	default:
	}
	// Replacing and clearing are always allowed; clearing makes room.
	_, err = b.Publish(ctx, pubsub.Message{Topic: "r/0", Data: []byte("w"), Retain: true})
	require.NoError(t, err)
	_, err = b.Publish(ctx, pubsub.Message{Topic: "r/1", Retain: true})
	require.NoError(t, err)
	_, err = b.Publish(ctx, pubsub.Message{Topic: "r/3", Data: []byte("v"), Retain: true})
	require.NoError(t, err)
	// A plain publish is never limited by the retained store.
	_, err = b.Publish(ctx, pubsub.Message{Topic: "r/4", Data: []byte("v")})
	require.NoError(t, err)

	// Nothing was evicted: the three retained topics are all there.
	sub, err := b.Subscribe(ctx, "r/#", nil)
	require.NoError(t, err)
	defer sub.Close()
	got := map[string]string{}
	for range 3 {
		m := recv(t, sub)
		got[m.Topic] = string(m.Data)
	}
	require.Equal(t, map[string]string{"r/0": "w", "r/2": "v", "r/3": "v"}, got)
}

func TestMemoryRetainedBytesLimit(t *testing.T) {
	b := pubsub.NewMemory(&pubsub.MemoryOptions{MaxRetainedBytes: 1000, Epoch: "e"})
	defer b.Close()
	ctx := context.Background()
	pub := func(topic string, n int) error {
		_, err := b.Publish(ctx, pubsub.Message{Topic: topic, Data: make([]byte, n), Retain: true})
		return err
	}
	require.NoError(t, pub("a", 600))
	err := pub("b", 600)
	require.ErrorIs(t, err, pubsub.ErrLimit)
	require.ErrorContains(t, err, "MaxRetainedBytes")
	require.NoError(t, pub("a", 900), "a replacement that fits is allowed")
	require.ErrorIs(t, pub("a", 1100), pubsub.ErrLimit, "a replacement cannot grow past the bound")
	require.NoError(t, pub("a", 0), "clearing is always allowed")
	require.NoError(t, pub("b", 600))
}

// TestMemoryRetainedDefaultCount reproduces issue 13's retained attack
// at a fifth of its size: 20,000 retained messages of 1 KiB on ever new
// topics, with the defaults. Beyond DefaultMaxRetained the publisher is
// refused, and what the store holds stays bounded.
func TestMemoryRetainedDefaultCount(t *testing.T) {
	b := pubsub.NewMemory(&pubsub.MemoryOptions{HistorySize: -1})
	defer b.Close()
	ctx := context.Background()
	before := liveHeap()
	refused := 0
	for i := range 2 * pubsub.DefaultMaxRetained {
		_, err := b.Publish(ctx, pubsub.Message{Topic: "r/" + strconv.Itoa(i), Data: make([]byte, 1024), Retain: true})
		if err != nil {
			require.ErrorIs(t, err, pubsub.ErrLimit, i)
			refused++
		}
	}
	grown := int64(liveHeap()) - int64(before)
	t.Logf("%d retained publishes of 1 KiB, %d refused: live heap grew %.1f MiB", 2*pubsub.DefaultMaxRetained, refused, float64(grown)/(1<<20))
	require.Equal(t, pubsub.DefaultMaxRetained, refused, "retained messages beyond DefaultMaxRetained were kept")
	_, err := b.Publish(ctx, pubsub.Message{Topic: "r/0", Data: []byte("replaced"), Retain: true})
	require.NoError(t, err, "replacing stays allowed at the bound")
}

// joinAndLeave creates group name on filter with one member that leaves.
func joinAndLeave(t testing.TB, b *pubsub.Memory, name, filter string) error {
	t.Helper()
	s, err := b.Subscribe(context.Background(), filter, &pubsub.SubscribeOptions{Group: name})
	if err != nil {
		return err
	}
	return s.Close()
}

// TestMemoryAbandonedGroupIsForgotten reproduces issue 13's group attack
// in miniature: a group whose last member left keeps collecting messages
// until GroupIdle passes; then it is forgotten with its backlog.
func TestMemoryAbandonedGroupIsForgotten(t *testing.T) {
	clock := newFakeClock()
	b := pubsub.NewMemory(&pubsub.MemoryOptions{GroupIdle: time.Minute, Now: clock.Now})
	defer b.Close()
	ctx := context.Background()
	publish := func(data string) {
		_, err := b.Publish(ctx, pubsub.Message{Topic: "jobs", Data: []byte(data)})
		require.NoError(t, err)
	}
	// A group with a member is never idle, however long it waits.
	held, err := b.Subscribe(ctx, "jobs", &pubsub.SubscribeOptions{Group: "held"})
	require.NoError(t, err)
	defer held.Close()

	require.NoError(t, joinAndLeave(t, b, "w", "jobs"))
	publish("kept")
	clock.Advance(59 * time.Second)
	publish("still kept")
	// Within GroupIdle the backlog waits for a member (a durable queue).
	s, err := b.Subscribe(ctx, "jobs", &pubsub.SubscribeOptions{Group: "w"})
	require.NoError(t, err)
	require.Equal(t, "kept", string(recv(t, s).Data))
	require.Equal(t, "still kept", string(recv(t, s).Data))
	require.NoError(t, s.Close())

	publish("dropped") // waits in the abandoned group's backlog
	clock.Advance(61 * time.Second)
	publish("after idle") // collects the group: no one keeps it
	s, err = b.Subscribe(ctx, "jobs", &pubsub.SubscribeOptions{Group: "w"})
	require.NoError(t, err)
	defer s.Close()
	publish("new group")
	require.Equal(t, "new group", string(recv(t, s).Data), "the abandoned group's backlog was not dropped")

	for _, want := range []string{"kept", "still kept", "dropped", "after idle", "new group"} {
		require.Equal(t, want, string(recv(t, held).Data), "a group with a member keeps everything")
	}
}

func TestMemoryMaxGroups(t *testing.T) {
	clock := newFakeClock()
	b := pubsub.NewMemory(&pubsub.MemoryOptions{MaxGroups: 3, GroupIdle: time.Minute, Now: clock.Now})
	defer b.Close()
	for i := range 3 {
		require.NoError(t, joinAndLeave(t, b, "g"+strconv.Itoa(i), "jobs"))
	}
	err := joinAndLeave(t, b, "g3", "jobs")
	require.ErrorIs(t, err, pubsub.ErrLimit)
	require.ErrorContains(t, err, "MaxGroups")
	require.ErrorIs(t, joinAndLeave(t, b, "g0", "other"), pubsub.ErrLimit, "a group is a name and a filter")
	require.NoError(t, joinAndLeave(t, b, "g0", "jobs"), "joining an existing group is allowed")
	clock.Advance(2 * time.Minute)
	require.NoError(t, joinAndLeave(t, b, "g3", "jobs"), "idle groups are collected on subscribe")
}

// BenchmarkPublishAbandonedGroups reproduces issue 13's group attack:
// 10,000 groups created and abandoned (subscribe, close), then publishes
// matching all of them. "idle=5m" publishes before DefaultGroupIdle has
// passed (every group still collects a backlog), "idle=11m" after.
// heap-MB is the live heap the broker holds after the run. Run it with
// -benchtime=2000x: each publish adds a reference to every live group's
// backlog.
func BenchmarkPublishAbandonedGroups(b *testing.B) {
	for _, tc := range []struct {
		name   string
		groups int
		idle   time.Duration
	}{
		{"groups=0", 0, 0},
		{"groups=10000/idle=5m", 10000, 5 * time.Minute},
		{"groups=10000/idle=11m", 10000, 11 * time.Minute},
	} {
		b.Run(tc.name, func(b *testing.B) {
			base := liveHeap()
			clock := newFakeClock()
			m := pubsub.NewMemory(&pubsub.MemoryOptions{MaxGroups: -1, Now: clock.Now})
			defer m.Close()
			ctx := context.Background()
			for i := range tc.groups {
				if err := joinAndLeave(b, m, "g"+strconv.Itoa(i), "bench/jobs"); err != nil {
					b.Fatal(err)
				}
			}
			clock.Advance(tc.idle)
			msg := pubsub.Message{Topic: "bench/jobs", Data: make([]byte, 1024)}
			if _, err := m.Publish(ctx, msg); err != nil { // collects idle groups
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Publish(ctx, msg); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "publishes/s")
			b.ReportMetric(float64(int64(liveHeap())-int64(base))/(1<<20), "heap-MB")
			runtime.KeepAlive(m)
		})
	}
}
