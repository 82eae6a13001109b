package pubsub_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
)

func TestDedupWindowAndSize(t *testing.T) {
	clk := newFakeClock()
	d := pubsub.NewDedup(time.Minute, 3, clk.Now)
	d.Record("t", pubsub.Receipt{ID: "a", Cursor: "c1"})
	d.Record("t", pubsub.Receipt{ID: "a", Cursor: "c2"}) // the original wins
	r, ok := d.Lookup("t", "a")
	require.True(t, ok)
	require.Equal(t, "c1", r.Cursor)

	clk.Advance(59 * time.Second)
	_, ok = d.Lookup("t", "a")
	require.True(t, ok, "inside the window")
	clk.Advance(time.Second)
	_, ok = d.Lookup("t", "a")
	require.False(t, ok, "the window has passed")

	for i := range 5 {
		d.Record("t", pubsub.Receipt{ID: strconv.Itoa(i)})
	}
	require.Equal(t, 3, d.Len(), "bounded in count")
	_, ok = d.Lookup("t", "1")
	require.False(t, ok, "the oldest are forgotten first")
	_, ok = d.Lookup("t", "4")
	require.True(t, ok)

	for i := range 10000 { // the queue compacts: memory stays bounded
		d.Record("t", pubsub.Receipt{ID: "x" + strconv.Itoa(i)})
	}
	require.Equal(t, 3, d.Len())
}

func TestDedupOff(t *testing.T) {
	d := pubsub.NewDedup(-1, 0, nil)
	require.Nil(t, d)
	d.Record("t", pubsub.Receipt{ID: "a"})
	_, ok := d.Lookup("t", "a")
	require.False(t, ok)
	require.True(t, d.Deliver(&pubsub.Message{Topic: "t", ID: "a"}))
	require.True(t, d.Deliver(&pubsub.Message{Topic: "t", ID: "a"}))
	_, dup, end, err := d.Begin(context.Background(), "t", "a")
	require.NoError(t, err)
	require.False(t, dup)
	end(pubsub.Receipt{}, nil)
}

func TestDedupBeginEnd(t *testing.T) {
	d := pubsub.NewDedup(0, 0, nil)
	ctx := context.Background()

	// A failed attempt is forgotten: the retry publishes.
	_, dup, end, err := d.Begin(ctx, "t", "k")
	require.NoError(t, err)
	require.False(t, dup)
	end(pubsub.Receipt{}, errors.New("timeout"))
	_, dup, end, err = d.Begin(ctx, "t", "k")
	require.NoError(t, err)
	require.False(t, dup, "a failed publish is not remembered")

	// A second Begin waits for the one in flight and gets its receipt.
	got := make(chan pubsub.Receipt, 1)
	errc := make(chan error, 1)
	go func() {
		r, dup, _, err := d.Begin(ctx, "t", "k")
		if err == nil && !dup {
			err = errors.New("not a duplicate")
		}
		errc <- err
		got <- r
	}()
	end(pubsub.Receipt{ID: "k", Cursor: "c9"}, nil)
	require.NoError(t, <-errc)
	require.Equal(t, "c9", (<-got).Cursor)

	// A Begin waiting on a publish in flight gives up with its context.
	_, _, end2, err := d.Begin(ctx, "t", "other")
	require.NoError(t, err)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, _, _, err = d.Begin(cctx, "t", "other")
	require.ErrorIs(t, err, context.Canceled)
	end2(pubsub.Receipt{ID: "other"}, nil)
}

func TestDedupDeliver(t *testing.T) {
	d := pubsub.NewDedup(0, 0, nil)
	m := &pubsub.Message{Topic: "t", ID: "k", Cursor: "c1"}
	require.True(t, d.Deliver(m))
	require.False(t, d.Deliver(&pubsub.Message{Topic: "t", ID: "k", Cursor: "c2"}), "a redelivered copy")
	require.True(t, d.Deliver(&pubsub.Message{Topic: "$deadletter/t", ID: "k"}), "an ID counts per topic")
	require.True(t, d.Deliver(&pubsub.Message{Topic: "t"}), "no ID, no dedup")
	require.True(t, d.Deliver(&pubsub.Message{Topic: "t"}))
	require.True(t, d.Copy(&pubsub.Message{Topic: "t", ID: "k", Cursor: "c2"}), "the copy in history")
	require.False(t, d.Copy(m), "the original in history")
	r, ok := d.Lookup("t", "k")
	require.True(t, ok, "a delivered ID answers a later Publish")
	require.Equal(t, "c1", r.Cursor)

	// Scoped: each consumer gets its own first copy.
	sc := &pubsub.Message{Topic: "s", ID: "k"}
	require.True(t, d.DeliverTo("a/#", sc))
	require.True(t, d.DeliverTo("a/+", sc))
	require.False(t, d.DeliverTo("a/#", sc))
	_, ok = d.Lookup("s", "k")
	require.True(t, ok, "a scoped delivery answers a later Publish")

	// Published here first, then read back: the first delivery passes.
	_, _, end, err := d.Begin(context.Background(), "t", "p")
	require.NoError(t, err)
	end(pubsub.Receipt{ID: "p"}, nil)
	require.True(t, d.Deliver(&pubsub.Message{Topic: "t", ID: "p", Cursor: "c5"}))
	require.False(t, d.Deliver(&pubsub.Message{Topic: "t", ID: "p", Cursor: "c6"}))
	r, _ = d.Lookup("t", "p")
	require.Equal(t, "c5", r.Cursor, "the delivery completes a receipt without cursor")
}

func TestMemoryDedupOff(t *testing.T) {
	b := pubsub.NewMemory(&pubsub.MemoryOptions{DedupWindow: -1})
	defer b.Close()
	ctx := context.Background()
	r1, err := b.Publish(ctx, pubsub.Message{Topic: "t", ID: "k"})
	require.NoError(t, err)
	r2, err := b.Publish(ctx, pubsub.Message{Topic: "t", ID: "k"})
	require.NoError(t, err)
	require.NotEqual(t, r1.Cursor, r2.Cursor, "without a window every publish is new")
}

func ExampleDedup() {
	b := pubsub.NewMemory(nil) // DedupWindow: DefaultDedupWindow (2 minutes)
	defer b.Close()
	ctx := context.Background()
	sub, _ := b.Subscribe(ctx, "orders/#", nil)
	defer sub.Close()

	// A publisher retries with the same ID (its idempotency key) after a
	// timeout: the broker answers with the original receipt.
	r1, _ := b.Publish(ctx, pubsub.Message{Topic: "orders/17", Data: []byte("paid"), ID: "order-17-paid"})
	r2, _ := b.Publish(ctx, pubsub.Message{Topic: "orders/17", Data: []byte("paid"), ID: "order-17-paid"})
	fmt.Println(r1 == r2)
	_, _ = b.Publish(ctx, pubsub.Message{Topic: "orders/17", Data: []byte("shipped")})
	fmt.Println(string((<-sub.C()).Data))
	fmt.Println(string((<-sub.C()).Data))
	// Output:
	// true
	// paid
	// shipped
}

// TestDedupDeliveredBeforeConfirm: a network broker may deliver a message
// before it confirms the publish; a repeat racing the confirm still gets
// the publish's receipt, not one made up from the delivery.
func TestDedupDeliveredBeforeConfirm(t *testing.T) {
	d := pubsub.NewDedup(0, 0, nil)
	ctx := context.Background()
	_, _, end, err := d.Begin(ctx, "t", "k")
	require.NoError(t, err)
	require.True(t, d.Deliver(&pubsub.Message{Topic: "t", ID: "k", Cursor: "c1"}))
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, dup, _, err := d.Begin(cctx, "t", "k")
	require.ErrorIs(t, err, context.Canceled, "a repeat waits for the publish in flight")
	require.False(t, dup)
	end(pubsub.Receipt{ID: "k", Time: time.Unix(7, 7)}, nil)
	r, dup, _, err := d.Begin(ctx, "t", "k")
	require.NoError(t, err)
	require.True(t, dup)
	require.Equal(t, time.Unix(7, 7), r.Time, "the publish's receipt")
	require.Equal(t, "c1", r.Cursor, "completed with the delivery's cursor")
}
