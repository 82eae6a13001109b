package pubsubtest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
)

func (s *suite) testResume(t *testing.T) {
	b := s.broker(t)
	topic := prefix(t) + "/r"
	var rs []pubsub.Receipt
	for i := range 10 {
		rs = append(rs, s.publish(t, b, topic, strconv.Itoa(i)))
	}
	sub := s.subscribe(t, b, topic, &pubsub.SubscribeOptions{Since: rs[2].Cursor})
	require.False(t, sub.Gap())
	s.publish(t, b, topic, "10")
	for i := 3; i <= 10; i++ {
		m := s.next(t, sub)
		require.Equal(t, strconv.Itoa(i), string(m.Data))
	}
	none(t, sub, 50*time.Millisecond)

	// Resuming from the newest cursor replays nothing.
	sub2 := s.subscribe(t, b, topic, &pubsub.SubscribeOptions{Since: rs[9].Cursor, Buffer: 1})
	require.False(t, sub2.Gap())
	require.Equal(t, "10", string(s.next(t, sub2).Data))
}

func (s *suite) testResumeWhilePublishing(t *testing.T) {
	b := s.broker(t)
	topic := prefix(t) + "/race"
	n := 4 * s.f.Messages
	cursors := make(chan string, n)
	go func() {
		for i := range n {
			r, err := b.Publish(context.Background(), pubsub.Message{Topic: topic, Data: []byte(strconv.Itoa(i))})
			if err != nil {
				t.Errorf("publish: %v", err)
				close(cursors)
				return
			}
			cursors <- r.Cursor
		}
		close(cursors)
	}()
	var from string
	k := n / 4
	for range k {
		from = <-cursors
	}
	sub := s.subscribe(t, b, topic, &pubsub.SubscribeOptions{Since: from, Buffer: n})
	require.False(t, sub.Gap())
	for i := k; i < n; i++ {
		m := s.next(t, sub)
		require.Equal(t, strconv.Itoa(i), string(m.Data), "no gap, no duplicate across replay and live")
	}
	for range cursors {
	}
}

func (s *suite) testGap(t *testing.T) {
	b := s.broker(t)
	topic := prefix(t) + "/gap"
	r := s.publish(t, b, topic, "0")
	c, err := pubsub.ParseCursor(r.Cursor)
	require.NoError(t, err)
	other := pubsub.Cursor{Epoch: "zz" + c.Epoch[:min(len(c.Epoch), 8)], Seq: c.Seq}
	sub := s.subscribe(t, b, topic, &pubsub.SubscribeOptions{Since: other.String()})
	require.True(t, sub.Gap(), "a cursor from another epoch is a gap")
	s.publish(t, b, topic, "live")
	require.Equal(t, "live", string(s.next(t, sub).Data), "delivery continues live after a gap")
}

func (s *suite) testHistoryRead(t *testing.T) {
	b := s.broker(t)
	hr, ok := b.(pubsub.HistoryReader)
	require.True(t, ok, "a broker with History implements HistoryReader")
	p := prefix(t)
	ctx := s.ctx(t)
	first, err := hr.History(ctx, p+"/#", pubsub.HistoryOptions{Limit: -1})
	require.NoError(t, err)
	require.Empty(t, first.Messages, "a negative limit reads only the head")
	start := first.Head
	for i := range 5 {
		s.publish(t, b, p+"/h", strconv.Itoa(i))
		s.publish(t, b, p+"/other", "x")
	}
	page, err := hr.History(ctx, p+"/h", pubsub.HistoryOptions{Since: start, Limit: 3})
	require.NoError(t, err)
	require.Len(t, page.Messages, 3)
	require.True(t, page.More)
	require.False(t, page.Gap)
	page2, err := hr.History(ctx, p+"/h", pubsub.HistoryOptions{Since: page.Next, Limit: 3})
	require.NoError(t, err)
	require.Len(t, page2.Messages, 2)
	require.False(t, page2.More)
	for i, m := range append(page.Messages, page2.Messages...) {
		require.Equal(t, strconv.Itoa(i), string(m.Data))
	}
	page3, err := hr.History(ctx, p+"/h", pubsub.HistoryOptions{Since: page2.Next})
	require.NoError(t, err)
	require.Empty(t, page3.Messages)
	_, err = hr.History(ctx, p+"/#/x", pubsub.HistoryOptions{})
	require.ErrorIs(t, err, pubsub.ErrInvalidFilter)
	_, err = hr.History(ctx, p, pubsub.HistoryOptions{Since: "garbage"})
	require.ErrorIs(t, err, pubsub.ErrInvalidCursor)
}

func (s *suite) testSlowConsumerResume(t *testing.T) {
	b := s.broker(t)
	topic := prefix(t) + "/slow"
	sub := s.subscribe(t, b, topic, &pubsub.SubscribeOptions{Buffer: 4})
	const n = 40
	for i := range n {
		s.publish(t, b, topic, strconv.Itoa(i))
	}
	got := s.ended(t, sub)
	var sc *pubsub.SlowConsumerError
	require.ErrorAs(t, sub.Err(), &sc)
	sub2 := s.subscribe(t, b, topic, &pubsub.SubscribeOptions{Since: sc.LastCursor, Buffer: n})
	for range n - len(got) {
		got = append(got, s.next(t, sub2))
	}
	for i, m := range got {
		require.Equal(t, strconv.Itoa(i), string(m.Data), "resume after overflow: every message once, in order")
	}
}

func (s *suite) testRetained(t *testing.T) {
	b := s.broker(t)
	p := prefix(t)
	_, err := b.Publish(s.ctx(t), pubsub.Message{Topic: p + "/temp", Data: []byte("21"), Retain: true})
	require.NoError(t, err)
	_, err = b.Publish(s.ctx(t), pubsub.Message{Topic: p + "/temp", Data: []byte("22"), Retain: true})
	require.NoError(t, err)
	sub := s.subscribe(t, b, p+"/+", nil)
	m := s.next(t, sub)
	require.Equal(t, "22", string(m.Data), "the last retained message")
	require.True(t, m.Retain, "delivered from the retained store")
	s.publish(t, b, p+"/temp", "23")
	m = s.next(t, sub)
	require.Equal(t, "23", string(m.Data))
	require.False(t, m.Retain, "a live publish is not flagged retained")

	_, err = b.Publish(s.ctx(t), pubsub.Message{Topic: p + "/temp", Retain: true}) // empty clears
	require.NoError(t, err)
	sub2 := s.subscribe(t, b, p+"/+", nil)
	none(t, sub2, 100*time.Millisecond)
	sub3 := s.subscribe(t, b, p+"/+", &pubsub.SubscribeOptions{NoRetained: true})
	none(t, sub3, 50*time.Millisecond)
}
