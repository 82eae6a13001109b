package pubsubtest

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
)

func (s *suite) testCapabilities(t *testing.T) {
	b := s.broker(t)
	require.Equal(t, s.f.Capabilities, b.Capabilities(), "declared features must match Capabilities()")
}

func (s *suite) testPublishSubscribe(t *testing.T) {
	b := s.broker(t)
	topic := prefix(t) + "/a"
	sub := s.subscribe(t, b, topic, nil)
	ids := map[string]bool{}
	for i := range s.f.Messages {
		r := s.publish(t, b, topic, strconv.Itoa(i))
		require.NotEmpty(t, r.ID)
		require.False(t, ids[r.ID], "duplicate id %q", r.ID)
		ids[r.ID] = true
		if s.f.Capabilities.History {
			_, err := pubsub.ParseCursor(r.Cursor)
			require.NoError(t, err, "receipt cursor")
		}
	}
	for i := range s.f.Messages {
		m := s.next(t, sub)
		require.Equal(t, topic, m.Topic)
		require.Equal(t, strconv.Itoa(i), string(m.Data))
		require.True(t, ids[m.ID], "delivered id %q was not in a receipt", m.ID)
		require.False(t, m.Time.IsZero(), "time")
	}
}

func (s *suite) testBytesAndHeaders(t *testing.T) {
	b := s.broker(t)
	topic := prefix(t) + "/bytes"
	sub := s.subscribe(t, b, topic, nil)
	payloads := [][]byte{{}, {0}, {0xff, 0xfe, 0, 1, '\r', '\n'}, []byte(`{"json":true}`), make([]byte, 64<<10)}
	for i := range payloads[4] {
		payloads[4][i] = byte(i * 7)
	}
	for i, p := range payloads {
		_, err := b.Publish(s.ctx(t), pubsub.Message{Topic: topic, Data: p, Header: map[string]string{"k": "v" + strconv.Itoa(i), "üñí": "çødé"}})
		require.NoError(t, err)
	}
	for i, p := range payloads {
		m := s.next(t, sub)
		require.Equal(t, len(p), len(m.Data), "payload %d length", i)
		require.True(t, string(p) == string(m.Data), "payload %d differs", i)
		require.Equal(t, "v"+strconv.Itoa(i), m.Header["k"])
		require.Equal(t, "çødé", m.Header["üñí"])
	}
}

func (s *suite) testInvalidInput(t *testing.T) {
	b := s.broker(t)
	ctx := s.ctx(t)
	for _, topic := range []string{"", "a/+", "a/#", "x\x00y", string([]byte{0xff})} {
		_, err := b.Publish(ctx, pubsub.Message{Topic: topic})
		require.ErrorIs(t, err, pubsub.ErrInvalidTopic, "topic %q", topic)
	}
	for _, filter := range []string{"", "a/#/b", "a+", "#a", "a/b#", "x\x00"} {
		_, err := b.Subscribe(ctx, filter, nil)
		require.ErrorIs(t, err, pubsub.ErrInvalidFilter, "filter %q", filter)
	}
	if s.f.Capabilities.History {
		_, err := b.Subscribe(ctx, prefix(t), &pubsub.SubscribeOptions{Since: "not a cursor"})
		require.ErrorIs(t, err, pubsub.ErrInvalidCursor)
	}
}

func (s *suite) testWildcards(t *testing.T) {
	b := s.broker(t)
	p := prefix(t)
	type want struct {
		filter string
		topics []string
	}
	topics := []string{p + "/x", p + "/x/y", p + "/x/y/z", p + "/w/y", p + "/x/"}
	cases := []want{
		{p + "/x", []string{p + "/x"}},
		{p + "/+", []string{p + "/x"}},
		{p + "/+/y", []string{p + "/x/y", p + "/w/y"}},
		{p + "/x/#", []string{p + "/x", p + "/x/y", p + "/x/y/z", p + "/x/"}},
		{p + "/x/+", []string{p + "/x/y", p + "/x/"}},
		{p + "/#", topics},
	}
	subs := make([]pubsub.Subscription, len(cases))
	for i, c := range cases {
		subs[i] = s.subscribe(t, b, c.filter, nil)
	}
	for _, topic := range topics {
		s.publish(t, b, topic, topic)
	}
	for i, c := range cases {
		var got []string
		for len(got) < len(c.topics) {
			got = append(got, s.next(t, subs[i]).Topic)
		}
		require.ElementsMatch(t, c.topics, got, "filter %q", c.filter)
		if c.filter != p+"/#" {
			none(t, subs[i], 50*time.Millisecond)
		}
	}
}

func (s *suite) testDollarTopics(t *testing.T) {
	b := s.broker(t)
	id := pubsub.NewID()
	dollar := "$sbtest" + id + "/y"
	plain := "sbtest" + id + "/y"
	all := s.subscribe(t, b, "#", nil)
	plus := s.subscribe(t, b, "+/y", nil)
	exact := s.subscribe(t, b, "$sbtest"+id+"/#", nil)
	s.publish(t, b, dollar, "d")
	s.publish(t, b, plain, "p")
	require.Equal(t, "d", string(s.next(t, exact).Data))
	for _, sub := range []pubsub.Subscription{all, plus} {
		for {
			m := s.next(t, sub) // other tests' messages may pass by on '#'
			require.NotEqual(t, dollar, m.Topic, "a leading wildcard matched a $ topic")
			if m.Topic == plain {
				break
			}
		}
	}
}

func (s *suite) testTopicIsolation(t *testing.T) {
	b := s.broker(t)
	p := prefix(t)
	a := s.subscribe(t, b, p+"/a", nil)
	bb := s.subscribe(t, b, p+"/b", nil)
	for i := range 10 {
		s.publish(t, b, p+"/a", "a"+strconv.Itoa(i))
		s.publish(t, b, p+"/b", "b"+strconv.Itoa(i))
	}
	for i := range 10 {
		require.Equal(t, "a"+strconv.Itoa(i), string(s.next(t, a).Data))
		require.Equal(t, "b"+strconv.Itoa(i), string(s.next(t, bb).Data))
	}
	none(t, a, 50*time.Millisecond)
}

func (s *suite) testOrderPerPublisher(t *testing.T) {
	b := s.broker(t)
	p := prefix(t)
	topic := p + "/order"
	const publishers = 4
	n := s.f.Messages
	subs := []pubsub.Subscription{
		s.subscribe(t, b, topic, &pubsub.SubscribeOptions{Buffer: publishers * n}),
		s.subscribe(t, b, p+"/#", &pubsub.SubscribeOptions{Buffer: publishers * n}),
	}
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				_, err := b.Publish(context.Background(), pubsub.Message{Topic: topic, Data: []byte(fmt.Sprintf("%d/%d", p, i))})
				if err != nil {
					t.Errorf("publish: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for si, sub := range subs {
		next := make([]int, publishers)
		for got := 0; got < publishers*n; {
			m := s.next(t, sub)
			var p, i int
			_, err := fmt.Sscanf(string(m.Data), "%d/%d", &p, &i)
			require.NoError(t, err)
			require.Equal(t, next[p], i, "subscription %d: publisher %d out of order", si, p)
			next[p]++
			got++
		}
	}
}

func (s *suite) testRequestReply(t *testing.T) {
	b := s.broker(t)
	topic := prefix(t) + "/echo"
	svc := s.subscribe(t, b, topic, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range svc.C() {
			_, err := pubsub.Reply(context.Background(), b, m, pubsub.Message{Data: append([]byte("re:"), m.Data...)})
			if err != nil {
				t.Errorf("reply: %v", err)
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), s.f.Timeout)
	defer cancel()
	for i := range 3 {
		r, err := pubsub.Request(ctx, b, pubsub.Message{Topic: topic, Data: []byte("q" + strconv.Itoa(i))})
		require.NoError(t, err)
		require.Equal(t, "re:q"+strconv.Itoa(i), string(r.Data))
	}
	short, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	_, err := pubsub.Request(short, b, pubsub.Message{Topic: prefix(t) + "/nobody"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NoError(t, svc.Close())
	<-done
}

func (s *suite) testMultiNode(t *testing.T) {
	if !s.f.SharedBackend {
		t.Skip("brokers do not share a backend")
	}
	b1, b2 := s.broker(t), s.broker(t)
	topic := prefix(t) + "/multi"
	sub := s.subscribe(t, b2, topic, nil)
	r := s.publish(t, b1, topic, "across")
	m := s.next(t, sub)
	require.Equal(t, "across", string(m.Data))
	require.Equal(t, r.ID, m.ID, "the message id survives the hop")
}

func (s *suite) testSubscribeAll(t *testing.T) {
	b := s.broker(t)
	p := prefix(t)
	_, multi := b.(pubsub.MultiSubscriber)
	sub, err := pubsub.SubscribeAll(s.ctx(t), b, []string{p + "/a/#", p + "/+/x", p + "/b"}, &pubsub.SubscribeOptions{Buffer: 100})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Close() })
	topics := []string{p + "/a/x", p + "/b", p + "/c", p + "/a/y", p + "/b/x"}
	for i, topic := range topics {
		s.publish(t, b, topic, strconv.Itoa(i))
	}
	// a/x matches two filters; c matches none.
	want := map[string]int{"0": 2, "1": 1, "3": 1, "4": 1}
	if multi {
		want["0"] = 1 // a MultiSubscriber delivers each message once
	}
	n := 0
	for _, c := range want {
		n += c
	}
	got := map[string]int{}
	var order []string
	for range n {
		m := s.next(t, sub)
		got[string(m.Data)]++
		order = append(order, string(m.Data))
	}
	require.Equal(t, want, got)
	if multi {
		require.Equal(t, []string{"0", "1", "3", "4"}, order, "a MultiSubscriber keeps publish order across filters")
	}
	none(t, sub, 50*time.Millisecond)
}

// testSubscribeAfterPublish: a message whose Publish returned before
// Subscribe was called is not delivered to that subscription (it was not
// published afterwards), round after round on fresh topics.
func (s *suite) testSubscribeAfterPublish(t *testing.T) {
	if s.f.KnownEarlyDelivery {
		t.Skip("known defect of this broker: Features.KnownEarlyDelivery")
	}
	b := s.broker(t)
	for i := range 50 {
		topic := prefix(t) + "/after/" + strconv.Itoa(i)
		s.publish(t, b, topic, "before")
		sub := s.subscribe(t, b, topic, nil)
		s.publish(t, b, topic, "after")
		require.Equal(t, "after", string(s.next(t, sub).Data), "round %d: a message published before Subscribe was delivered", i)
		require.NoError(t, sub.Close())
	}
}
