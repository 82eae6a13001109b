package pubsubtest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
)

// Features declares what the broker under test supports.
type Features struct {
	// Capabilities must equal what the broker's Capabilities returns.
	Capabilities pubsub.Capabilities
	// Timeout bounds each wait for a delivery; 0 means 5 s.
	Timeout time.Duration
	// SharedBackend: brokers from two constructor calls share one backend
	// (RabbitMQ, Mosquitto), so a message published on one reaches a
	// subscriber on the other. Enables the MultiNode case.
	SharedBackend bool
	// Messages scales the bulk cases; 0 means 100.
	Messages int
}

// Constructor returns a new broker for one test case. Run closes it.
type Constructor func(t *testing.T) pubsub.Broker

type suite struct {
	f   Features
	new Constructor
}

// Run runs the conformance suite as parallel subtests of t.
func Run(t *testing.T, f Features, newBroker Constructor) {
	if f.Timeout <= 0 {
		f.Timeout = 5 * time.Second
	}
	if f.Messages <= 0 {
		f.Messages = 100
	}
	s := &suite{f: f, new: newBroker}
	cases := []struct {
		name string
		need func(pubsub.Capabilities) bool
		run  func(t *testing.T)
	}{
		{"Capabilities", nil, s.testCapabilities},
		{"PublishSubscribe", nil, s.testPublishSubscribe},
		{"BytesAndHeaders", nil, s.testBytesAndHeaders},
		{"InvalidInput", nil, s.testInvalidInput},
		{"Wildcards", nil, s.testWildcards},
		{"DollarTopics", nil, s.testDollarTopics},
		{"TopicIsolation", nil, s.testTopicIsolation},
		{"OrderPerPublisher", nil, s.testOrderPerPublisher},
		{"SubscriptionClose", nil, s.testSubscriptionClose},
		{"ContextCancel", nil, s.testContextCancel},
		{"CloseDuringPublish", nil, s.testCloseDuringPublish},
		{"SlowConsumer", nil, s.testSlowConsumer},
		{"DropOldest", nil, s.testDropOldest},
		{"RequestReply", nil, s.testRequestReply},
		{"MultiNode", nil, s.testMultiNode},
		{"ResumeFromCursor", needHistory, s.testResume},
		{"ResumeWhilePublishing", needHistory, s.testResumeWhilePublishing},
		{"Gap", needHistory, s.testGap},
		{"HistoryRead", needHistory, s.testHistoryRead},
		{"SlowConsumerResume", needHistory, s.testSlowConsumerResume},
		{"Retained", func(c pubsub.Capabilities) bool { return c.Retain }, s.testRetained},
		{"Groups", func(c pubsub.Capabilities) bool { return c.Groups }, s.testGroups},
		{"AckGating", needAcks, s.testAckGating},
		{"NackRedeliver", needAcks, s.testNackRedeliver},
		{"DeadLetter", needAcks, s.testDeadLetter},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.need != nil && !c.need(f.Capabilities) {
				t.Skip("capability not declared")
			}
			t.Parallel()
			c.run(t)
		})
	}
}

func needHistory(c pubsub.Capabilities) bool { return c.History }
func needAcks(c pubsub.Capabilities) bool    { return c.Acks }

// broker returns a fresh broker closed at the end of the test.
func (s *suite) broker(t *testing.T) pubsub.Broker {
	b := s.new(t)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func (s *suite) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// prefix returns a unique topic prefix for one test.
func prefix(t *testing.T) string {
	return "sbtest/" + pubsub.NewEpoch()
}

func (s *suite) subscribe(t *testing.T, b pubsub.Broker, filter string, o *pubsub.SubscribeOptions) pubsub.Subscription {
	t.Helper()
	sub, err := b.Subscribe(s.ctx(t), filter, o)
	require.NoError(t, err, "subscribe %q", filter)
	t.Cleanup(func() { _ = sub.Close() })
	return sub
}

func (s *suite) publish(t *testing.T, b pubsub.Broker, topic string, data string) pubsub.Receipt {
	t.Helper()
	r, err := b.Publish(s.ctx(t), pubsub.Message{Topic: topic, Data: []byte(data)})
	require.NoError(t, err, "publish to %q", topic)
	return r
}

// next waits for the next message.
func (s *suite) next(t *testing.T, sub pubsub.Subscription) *pubsub.Message {
	t.Helper()
	select {
	case m, ok := <-sub.C():
		require.True(t, ok, "subscription ended early: %v", sub.Err())
		return m
	case <-time.After(s.f.Timeout):
		t.Fatalf("no message within %v", s.f.Timeout)
		return nil
	}
}

// none asserts that nothing arrives within d (used only where the contract
// is "nothing arrives", never to wait for something).
func none(t *testing.T, sub pubsub.Subscription, d time.Duration) {
	t.Helper()
	select {
	case m, ok := <-sub.C():
		if ok {
			t.Fatalf("unexpected message on %q: %q", m.Topic, m.Data)
		}
	case <-time.After(d):
	}
}

// ended waits for the subscription's channel to close, draining it, and
// returns what was drained.
func (s *suite) ended(t *testing.T, sub pubsub.Subscription) []*pubsub.Message {
	t.Helper()
	var got []*pubsub.Message
	deadline := time.After(s.f.Timeout)
	for {
		select {
		case m, ok := <-sub.C():
			if !ok {
				return got
			}
			got = append(got, m)
		case <-deadline:
			t.Fatalf("subscription did not end within %v", s.f.Timeout)
		}
	}
}

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
	id := pubsub.NewEpoch()
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

func (s *suite) testSubscriptionClose(t *testing.T) {
	b := s.broker(t)
	topic := prefix(t)
	sub := s.subscribe(t, b, topic, nil)
	require.NoError(t, sub.Close())
	require.NoError(t, sub.Close(), "Close is idempotent")
	s.ended(t, sub)
	require.ErrorIs(t, sub.Err(), pubsub.ErrClosed)
	s.publish(t, b, topic, "after close") // must not panic or block
}

func (s *suite) testContextCancel(t *testing.T) {
	b := s.broker(t)
	topic := prefix(t)
	ctx, cancel := context.WithCancel(context.Background())
	sub, err := b.Subscribe(ctx, topic, nil)
	require.NoError(t, err)
	require.Nil(t, sub.Err())
	cancel()
	s.ended(t, sub)
	require.ErrorIs(t, sub.Err(), context.Canceled)

	_, err = b.Subscribe(ctx, topic, nil)
	require.ErrorIs(t, err, context.Canceled, "Subscribe with a done context")
	_, err = b.Publish(ctx, pubsub.Message{Topic: topic})
	require.ErrorIs(t, err, context.Canceled, "Publish with a done context")
}

func (s *suite) testCloseDuringPublish(t *testing.T) {
	b := s.new(t)
	topic := prefix(t)
	sub, err := b.Subscribe(s.ctx(t), topic, &pubsub.SubscribeOptions{Overflow: pubsub.OverflowDropOldest})
	require.NoError(t, err)
	var wg sync.WaitGroup
	started := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				if i == 1 {
					select {
					case started <- struct{}{}:
					default:
					}
				}
				_, err := b.Publish(context.Background(), pubsub.Message{Topic: topic, Data: []byte("x")})
				if errors.Is(err, pubsub.ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("publish during close: want nil or ErrClosed, got %v", err)
					return
				}
			}
		}()
	}
	<-started
	require.NoError(t, b.Close())
	wg.Wait()
	s.ended(t, sub)
	require.ErrorIs(t, sub.Err(), pubsub.ErrClosed)
	require.NoError(t, b.Close(), "Close is idempotent")
	_, err = b.Subscribe(s.ctx(t), topic, nil)
	require.ErrorIs(t, err, pubsub.ErrClosed)
	_, err = b.Publish(s.ctx(t), pubsub.Message{Topic: topic})
	require.ErrorIs(t, err, pubsub.ErrClosed)
}

func (s *suite) testSlowConsumer(t *testing.T) {
	b := s.broker(t)
	topic := prefix(t)
	sub := s.subscribe(t, b, topic, &pubsub.SubscribeOptions{Buffer: 4})
	for i := range 64 {
		s.publish(t, b, topic, strconv.Itoa(i))
	}
	got := s.ended(t, sub)
	var sc *pubsub.SlowConsumerError
	require.ErrorAs(t, sub.Err(), &sc)
	require.ErrorIs(t, sub.Err(), pubsub.ErrSlowConsumer)
	require.NotEmpty(t, got, "buffered messages stay readable after overflow")
	for i, m := range got {
		require.Equal(t, strconv.Itoa(i), string(m.Data), "delivered in order, none skipped before the overflow")
	}
	require.Equal(t, got[len(got)-1].Cursor, sc.LastCursor)
}

func (s *suite) testDropOldest(t *testing.T) {
	b := s.broker(t)
	topic := prefix(t)
	sub := s.subscribe(t, b, topic, &pubsub.SubscribeOptions{Buffer: 4, Overflow: pubsub.OverflowDropOldest})
	const n = 64
	for i := range n {
		s.publish(t, b, topic, strconv.Itoa(i))
	}
	s.publish(t, b, topic, "last")
	var got []string
	for {
		m := s.next(t, sub)
		got = append(got, string(m.Data))
		if string(m.Data) == "last" {
			break
		}
	}
	require.Less(t, len(got), n, "old messages were dropped")
	require.Nil(t, sub.Err(), "a lossy subscription stays open")
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

func (s *suite) testGroups(t *testing.T) {
	b := s.broker(t)
	topic := prefix(t) + "/work"
	g1 := pubsub.NewEpoch()
	g2 := pubsub.NewEpoch()
	a := s.subscribe(t, b, topic, &pubsub.SubscribeOptions{Group: g1, Buffer: 1000})
	c := s.subscribe(t, b, topic, &pubsub.SubscribeOptions{Group: g1, Buffer: 1000})
	solo := s.subscribe(t, b, topic, &pubsub.SubscribeOptions{Group: g2, Buffer: 1000})
	n := s.f.Messages
	for i := range n {
		s.publish(t, b, topic, strconv.Itoa(i))
	}
	seen := map[string]int{}
	perMember := map[pubsub.Subscription]int{}
	for len(seen) < n {
		select {
		case m := <-a.C():
			seen[string(m.Data)]++
			perMember[a]++
		case m := <-c.C():
			seen[string(m.Data)]++
			perMember[c]++
		case <-time.After(s.f.Timeout):
			t.Fatalf("group got %d of %d messages", len(seen), n)
		}
	}
	for k, v := range seen {
		require.Equal(t, 1, v, "message %s delivered to more than one member", k)
	}
	require.Positive(t, perMember[a], "every member gets a share")
	require.Positive(t, perMember[c], "every member gets a share")
	none(t, a, 50*time.Millisecond)
	none(t, c, 1*time.Millisecond)
	for i := range n {
		require.Equal(t, strconv.Itoa(i), string(s.next(t, solo).Data), "another group gets everything")
	}
}

func (s *suite) testAckGating(t *testing.T) {
	b := s.broker(t)
	topic := prefix(t) + "/ack"
	sub := s.subscribe(t, b, topic, &pubsub.SubscribeOptions{ManualAck: true, Prefetch: 1})
	s.publish(t, b, topic, "1")
	s.publish(t, b, topic, "2")
	m1 := s.next(t, sub)
	require.Equal(t, "1", string(m1.Data))
	none(t, sub, 100*time.Millisecond) // prefetch 1: nothing more until the ack
	require.NoError(t, sub.Ack(m1))
	m2 := s.next(t, sub)
	require.Equal(t, "2", string(m2.Data))
	require.NoError(t, sub.Ack(m2))
	none(t, sub, 50*time.Millisecond) // acked messages are not redelivered
}

func (s *suite) testNackRedeliver(t *testing.T) {
	b := s.broker(t)
	topic := prefix(t) + "/nack"
	g := pubsub.NewEpoch()
	for _, opts := range []*pubsub.SubscribeOptions{
		{ManualAck: true, Prefetch: 1},
		{ManualAck: true, Prefetch: 1, Group: g},
	} {
		sub := s.subscribe(t, b, topic, opts)
		s.publish(t, b, topic, "x"+opts.Group)
		m := s.next(t, sub)
		require.Equal(t, 1, m.Attempt)
		require.NoError(t, sub.Nack(m, true))
		m = s.next(t, sub)
		require.Equal(t, "x"+opts.Group, string(m.Data), "redelivered")
		require.Equal(t, 2, m.Attempt)
		require.NoError(t, sub.Ack(m))
		require.NoError(t, sub.Close())
	}
}

func (s *suite) testDeadLetter(t *testing.T) {
	b := s.broker(t)
	p := prefix(t)
	dlt := p + "/dead"
	dead := s.subscribe(t, b, dlt, nil)
	sub := s.subscribe(t, b, p+"/poison", &pubsub.SubscribeOptions{ManualAck: true, Prefetch: 1, MaxDeliveries: 3, DeadLetterTopic: dlt})
	s.publish(t, b, p+"/poison", "bad")
	for attempt := 1; attempt <= 3; attempt++ {
		m := s.next(t, sub)
		require.Equal(t, attempt, m.Attempt)
		require.NoError(t, sub.Nack(m, true))
	}
	m := s.next(t, dead)
	require.Equal(t, "bad", string(m.Data))
	require.Equal(t, p+"/poison", m.Header[pubsub.HeaderOriginalTopic])
	require.NotEmpty(t, m.Header[pubsub.HeaderDeadLetterReason])
	none(t, sub, 100*time.Millisecond) // no hot loop after the maximum

	s.publish(t, b, p+"/poison", "reject")
	m = s.next(t, sub)
	require.NoError(t, sub.Nack(m, false))
	require.Equal(t, "reject", string(s.next(t, dead).Data), "nack without requeue dead-letters at once")
}
