package amqpx_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/amqpx"
	"github.com/switchboard-go/switchboard/pubsub"
)

func withHistory(o *amqpx.Options) { o.History = true }

// TestHistoryAcrossNodes is the load-balancer case: a client reads on node
// A, reconnects to node B with its last cursor, and B replays exactly what
// it missed, then continues live. History reads agree on both nodes.
func TestHistoryAcrossNodes(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	a, b := sp.broker(withHistory), sp.broker(withHistory)
	require.True(t, a.Capabilities().History)
	c := ctx(t)
	subA, err := a.Subscribe(c, "room/+", nil)
	require.NoError(t, err)
	for i := range 10 {
		_, err := b.Publish(c, pubsub.Message{Topic: "room/1", Data: fmt.Appendf(nil, "%d", i)})
		require.NoError(t, err)
	}
	var last *pubsub.Message
	for i := range 4 {
		last = recv(t, subA)
		require.Equal(t, fmt.Sprint(i), string(last.Data))
		require.NotEmpty(t, last.Cursor)
	}
	require.NoError(t, subA.Close()) // the client drops after message 3

	subB, err := b.Subscribe(c, "room/+", &pubsub.SubscribeOptions{Since: last.Cursor})
	require.NoError(t, err)
	require.False(t, subB.Gap())
	_, err = a.Publish(c, pubsub.Message{Topic: "room/1", Data: []byte("10")})
	require.NoError(t, err)
	for i := 4; i <= 10; i++ {
		m := recv(t, subB)
		require.Equal(t, fmt.Sprint(i), string(m.Data), "every missed message once, in order, then live")
	}

	pa, err := a.History(c, "room/#", pubsub.HistoryOptions{Since: last.Cursor, Limit: 100})
	require.NoError(t, err)
	pb, err := b.History(c, "room/#", pubsub.HistoryOptions{Since: last.Cursor, Limit: 100})
	require.NoError(t, err)
	require.Len(t, pa.Messages, 7)
	require.Len(t, pb.Messages, 7)
	for i := range pa.Messages {
		require.Equal(t, pa.Messages[i].Cursor, pb.Messages[i].Cursor, "both nodes agree on cursors")
		require.Equal(t, pa.Messages[i].ID, pb.Messages[i].ID)
	}
}

// TestHistoryNodeOutage cuts a history node off RabbitMQ: when it comes
// back it resumes the stream where it stopped, so its live subscriber gets
// every message published meanwhile, with cursors, in order.
func TestHistoryNodeOutage(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	px, viaProxy := newProxy(t, sp.url)
	node := sp.brokerAt(viaProxy, withHistory)
	pub := sp.broker(withHistory)
	c := ctx(t)
	sub, err := node.Subscribe(c, "feed/#", nil)
	require.NoError(t, err)
	px.Cut()
	var cursors []string
	for i := range 50 {
		r, err := pub.Publish(c, pubsub.Message{Topic: "feed/x", Data: fmt.Appendf(nil, "%d", i)})
		require.NoError(t, err)
		cursors = append(cursors, r.Cursor)
	}
	px.Restore()
	for i := range 50 {
		m := recv(t, sub)
		require.Equal(t, fmt.Sprint(i), string(m.Data))
		require.Equal(t, cursors[i], m.Cursor)
	}
}

// TestHistoryOff: without Options.History, resuming is refused and
// History says so.
func TestHistoryOff(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	b := sp.broker()
	c := ctx(t)
	_, err := b.History(c, "#", pubsub.HistoryOptions{})
	require.ErrorIs(t, err, pubsub.ErrNotSupported)
	r, err := b.Publish(c, pubsub.Message{Topic: "x"})
	require.NoError(t, err)
	require.Empty(t, r.Cursor)
	h := sp.broker(withHistory)
	_, err = h.Subscribe(c, "x", &pubsub.SubscribeOptions{Since: "abc-1", Group: "g"})
	require.ErrorIs(t, err, pubsub.ErrNotSupported)
}

// TestHistorySurvivesNodes: the stream is shared; closing a node must not
// delete it, and a node started later reads what earlier ones published.
func TestHistorySurvivesNodes(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	c := ctx(t)
	first := sp.broker(withHistory)
	r, err := first.Publish(c, pubsub.Message{Topic: "log/a", Data: []byte("kept")})
	require.NoError(t, err)
	require.NoError(t, first.Close())

	later := sp.broker(withHistory)
	page, err := later.History(c, "log/#", pubsub.HistoryOptions{})
	require.NoError(t, err)
	require.Len(t, page.Messages, 1)
	m := page.Messages[0]
	require.Equal(t, "kept", string(m.Data))
	require.Equal(t, r.Cursor, m.Cursor)
	require.Equal(t, r.ID, m.ID)
	require.NotContains(t, m.Header, "x-stream-offset", "the offset travels as the cursor")
}

// TestHistoryCursorAheadOfNode: a client brings a cursor from node A that
// node B has not read yet (B was cut off): B must not call it a gap from
// the future; it catches up and replays what follows.
func TestHistoryCursorAheadOfNode(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	px, viaProxy := newProxy(t, sp.url)
	a := sp.broker(withHistory)
	b := sp.brokerAt(viaProxy, withHistory)
	c := ctx(t)
	px.Cut()
	var cursors []string
	for i := range 6 {
		r, err := a.Publish(c, pubsub.Message{Topic: "t/x", Data: fmt.Appendf(nil, "%d", i)})
		require.NoError(t, err)
		cursors = append(cursors, r.Cursor)
	}
	px.Restore()
	sub, err := b.Subscribe(c, "t/#", &pubsub.SubscribeOptions{Since: cursors[3]})
	require.NoError(t, err)
	require.False(t, sub.Gap())
	for i := 4; i < 6; i++ {
		m := recv(t, sub)
		require.Equal(t, fmt.Sprint(i), string(m.Data))
		require.Equal(t, cursors[i], m.Cursor)
	}
	page, err := b.History(c, "t/#", pubsub.HistoryOptions{Since: cursors[4]})
	require.NoError(t, err)
	require.False(t, page.Gap)
	require.Len(t, page.Messages, 1)
	require.Equal(t, cursors[5], page.Messages[0].Cursor)

	// A cursor truly from the future is a gap, and delivery goes live.
	future := pubsub.Cursor{Epoch: "x", Seq: 1 << 40}
	fc, _ := pubsub.ParseCursor(cursors[0])
	future.Epoch = fc.Epoch
	sub2, err := b.Subscribe(c, "t/#", &pubsub.SubscribeOptions{Since: future.String()})
	require.NoError(t, err)
	require.True(t, sub2.Gap())
	_, err = a.Publish(c, pubsub.Message{Topic: "t/x", Data: []byte("live")})
	require.NoError(t, err)
	require.Equal(t, "live", string(recv(t, sub2).Data))
}

// TestHistoryReadsReleaseConsumers: each History read consumes the stream
// briefly; afterwards only the node's own consumer remains (RabbitMQ 3.10
// keeps counting a stream consumer whose channel closed without a cancel).
func TestHistoryReadsReleaseConsumers(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	b := sp.broker(withHistory)
	c := ctx(t)
	_, err := b.Publish(c, pubsub.Message{Topic: "a", Data: []byte("1")})
	require.NoError(t, err)
	for range 20 {
		_, err := b.History(c, "a", pubsub.HistoryOptions{})
		require.NoError(t, err)
	}
	out := rabbitmqctl(t, "list_queues", "-q", "--no-table-headers", "name", "consumers")
	require.Contains(t, out, b.NodeQueue()+"\t1\n")
}
