package mqttx_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/testenv"
	"github.com/switchboard-go/switchboard/mqttx"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/pubsub/pubsubtest"
)

// dialMosquitto connects a Broker to the test Mosquitto.
func dialMosquitto(t *testing.T, opts *mqttx.Options) *mqttx.Broker {
	t.Helper()
	addr := testenv.Mosquitto(t)
	return dialAddr(t, addr, opts)
}

func dialAddr(t *testing.T, addr string, opts *mqttx.Options) *mqttx.Broker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := mqttx.Dial(ctx, "mqtt://"+addr, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// prefix returns a topic prefix no other test run uses.
func prefix(t *testing.T) string {
	return "sbtest/" + pubsub.NewEpoch() + "/"
}

func recv(t *testing.T, s pubsub.Subscription) *pubsub.Message {
	t.Helper()
	select {
	case m, ok := <-s.C():
		require.True(t, ok, "subscription ended: %v", s.Err())
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5s")
		return nil
	}
}

func TestBrokerRoundTrip(t *testing.T) {
	ctx := context.Background()
	b := dialMosquitto(t, nil)
	p := prefix(t)
	sub, err := b.Subscribe(ctx, p+"+/x", nil)
	require.NoError(t, err)
	defer sub.Close()

	data := []byte{0, 1, 2, 0xff, '\n', 'h', 'i'}
	hdr := map[string]string{
		"event":                    "update",
		pubsub.HeaderReplyTo:       p + "reply",
		pubsub.HeaderCorrelationID: "corr-1",
		mqttx.HeaderContentType:    "application/octet-stream",
		mqttx.HeaderQoS:            "2",
		mqttx.HeaderMessageExpiry:  "60",
	}
	rec, err := b.Publish(ctx, pubsub.Message{Topic: p + "a/x", Data: data, Header: hdr, ID: "my-id"})
	require.NoError(t, err)
	require.Equal(t, "my-id", rec.ID)
	m := recv(t, sub)
	require.Equal(t, p+"a/x", m.Topic)
	require.Equal(t, data, m.Data)
	require.Equal(t, "my-id", m.ID)
	require.False(t, m.Retain)
	require.WithinDuration(t, rec.Time, m.Time, time.Millisecond)
	require.Equal(t, hdr, m.Header)

	// An ID is assigned when absent; the filter's level rules hold.
	_, err = b.Publish(ctx, pubsub.Message{Topic: p + "a/b/x", Data: []byte("deeper")})
	require.NoError(t, err)
	rec, err = b.Publish(ctx, pubsub.Message{Topic: p + "b/x", Data: []byte("ok")})
	require.NoError(t, err)
	require.NotEmpty(t, rec.ID)
	m = recv(t, sub)
	require.Equal(t, "ok", string(m.Data))
	require.Equal(t, rec.ID, m.ID)
	require.Nil(t, m.Header)
}

func TestBrokerRequestReply(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b := dialMosquitto(t, nil)
	p := prefix(t)
	sub, err := b.Subscribe(ctx, p+"svc", nil)
	require.NoError(t, err)
	defer sub.Close()
	done := make(chan error, 1)
	go func() {
		m, ok := <-sub.C()
		if !ok {
			done <- sub.Err()
			return
		}
		_, err := pubsub.Reply(ctx, b, m, pubsub.Message{Data: append([]byte("re: "), m.Data...)})
		done <- err
	}()
	reply, err := pubsub.Request(ctx, b, pubsub.Message{Topic: p + "svc", Data: []byte("ping")})
	require.NoError(t, err)
	require.Equal(t, "re: ping", string(reply.Data))
	require.NoError(t, <-done)
}

func TestBrokerRetained(t *testing.T) {
	ctx := context.Background()
	b := dialMosquitto(t, nil)
	p := prefix(t)
	_, err := b.Publish(ctx, pubsub.Message{Topic: p + "state", Data: []byte("on"), Retain: true})
	require.NoError(t, err)
	t.Cleanup(func() { // clear it
		_, _ = b.Publish(context.Background(), pubsub.Message{Topic: p + "state", Retain: true})
	})

	s1, err := b.Subscribe(ctx, p+"#", nil)
	require.NoError(t, err)
	defer s1.Close()
	m := recv(t, s1)
	require.True(t, m.Retain)
	require.Equal(t, "on", string(m.Data))

	// A second subscription to the same filter gets the retained message
	// too, and the first does not get it twice.
	s2, err := b.Subscribe(ctx, p+"#", nil)
	require.NoError(t, err)
	defer s2.Close()
	m = recv(t, s2)
	require.True(t, m.Retain)
	require.Equal(t, "on", string(m.Data))

	s3, err := b.Subscribe(ctx, p+"#", &pubsub.SubscribeOptions{NoRetained: true})
	require.NoError(t, err)
	defer s3.Close()

	_, err = b.Publish(ctx, pubsub.Message{Topic: p + "marker", Data: []byte("live")})
	require.NoError(t, err)
	for _, s := range []pubsub.Subscription{s1, s2, s3} {
		m := recv(t, s)
		require.Equal(t, p+"marker", m.Topic, "retained message delivered twice or to a NoRetained subscription")
		require.False(t, m.Retain)
	}
}

func TestBrokerGroups(t *testing.T) {
	ctx := context.Background()
	b1 := dialMosquitto(t, nil)
	b2 := dialMosquitto(t, nil)
	require.True(t, b1.Capabilities().Groups)
	p := prefix(t)
	var subs []pubsub.Subscription
	for _, b := range []*mqttx.Broker{b1, b1, b2} {
		s, err := b.Subscribe(ctx, p+"jobs/+", &pubsub.SubscribeOptions{Group: "workers"})
		require.NoError(t, err)
		defer s.Close()
		subs = append(subs, s)
	}
	all, err := b2.Subscribe(ctx, p+"jobs/+", nil)
	require.NoError(t, err)
	defer all.Close()

	const n = 30
	for i := range n {
		_, err := b1.Publish(ctx, pubsub.Message{Topic: p + "jobs/j", Data: fmt.Appendf(nil, "%d", i)})
		require.NoError(t, err)
	}
	for range n {
		recv(t, all) // every message reached the server's subscribers
	}
	seen := map[string]int{}
	counts := make([]int, len(subs))
	deadline := time.After(5 * time.Second)
	for len(seen) < n {
		for i, s := range subs {
			select {
			case m := <-s.C():
				seen[string(m.Data)]++
				counts[i]++
			case <-deadline:
				t.Fatalf("group got %d of %d messages", len(seen), n)
			default:
			}
		}
	}
	for k, c := range seen {
		require.Equal(t, 1, c, "message %s delivered to %d group members", k, c)
	}
	for i, c := range counts {
		require.Positive(t, c, "member %d got nothing: %v", i, counts)
	}
}

func TestBrokerOverflow(t *testing.T) {
	ctx := context.Background()
	b := dialMosquitto(t, nil)
	p := prefix(t)
	closing, err := b.Subscribe(ctx, p+"t", &pubsub.SubscribeOptions{Buffer: 2})
	require.NoError(t, err)
	dropping, err := b.Subscribe(ctx, p+"t", &pubsub.SubscribeOptions{Buffer: 2, Overflow: pubsub.OverflowDropOldest})
	require.NoError(t, err)
	defer dropping.Close()
	watch, err := b.Subscribe(ctx, p+"t", &pubsub.SubscribeOptions{Buffer: 10})
	require.NoError(t, err)
	defer watch.Close()
	for i := range 5 {
		_, err := b.Publish(ctx, pubsub.Message{Topic: p + "t", Data: fmt.Appendf(nil, "%d", i)})
		require.NoError(t, err)
	}
	for range 5 {
		recv(t, watch)
	}
	// OverflowClose: two buffered messages, then the end with the error.
	var got []string
	for _, m := range pubsubtest.UntilEnd(t, closing, 10*time.Second) {
		got = append(got, string(m.Data))
	}
	require.Equal(t, []string{"0", "1"}, got)
	var sce *pubsub.SlowConsumerError
	require.ErrorAs(t, closing.Err(), &sce)
	require.ErrorIs(t, closing.Err(), pubsub.ErrSlowConsumer)
	// OverflowDropOldest keeps the newest.
	require.Equal(t, "3", string(recv(t, dropping).Data))
	require.Equal(t, "4", string(recv(t, dropping).Data))
	require.NoError(t, dropping.Err())
}

func TestBrokerBadInput(t *testing.T) {
	ctx := context.Background()
	b := dialMosquitto(t, nil)
	for _, f := range []string{"", "a/#/b", "a+", "$share/g/a", "a\x00b"} {
		_, err := b.Subscribe(ctx, f, nil)
		require.ErrorIs(t, err, pubsub.ErrInvalidFilter, "filter %q", f)
	}
	_, err := b.Subscribe(ctx, "a", &pubsub.SubscribeOptions{Group: "g/x"})
	require.ErrorIs(t, err, pubsub.ErrInvalidFilter)
	_, err = b.Subscribe(ctx, "a", &pubsub.SubscribeOptions{Since: "abc-1"})
	require.ErrorIs(t, err, pubsub.ErrNotSupported)
	_, err = b.Subscribe(ctx, "a", &pubsub.SubscribeOptions{ManualAck: true})
	require.ErrorIs(t, err, pubsub.ErrNotSupported)
	for _, topic := range []string{"", "a/+", "a/#"} {
		_, err = b.Publish(ctx, pubsub.Message{Topic: topic})
		require.ErrorIs(t, err, pubsub.ErrInvalidTopic, "topic %q", topic)
	}
}

func TestBrokerSubscriptionEnds(t *testing.T) {
	b := dialMosquitto(t, nil)
	p := prefix(t)
	ctx, cancel := context.WithCancel(context.Background())
	s1, err := b.Subscribe(ctx, p+"x", nil)
	require.NoError(t, err)
	cancel()
	_, ok := <-s1.C()
	require.False(t, ok)
	require.ErrorIs(t, s1.Err(), context.Canceled)

	s2, err := b.Subscribe(context.Background(), p+"x", nil)
	require.NoError(t, err)
	require.NoError(t, b.Close())
	require.NoError(t, b.Close())
	_, ok = <-s2.C()
	require.False(t, ok)
	require.ErrorIs(t, s2.Err(), pubsub.ErrClosed)
	_, err = b.Publish(context.Background(), pubsub.Message{Topic: p + "x"})
	require.ErrorIs(t, err, pubsub.ErrClosed)
	_, err = b.Subscribe(context.Background(), p+"x", nil)
	require.ErrorIs(t, err, pubsub.ErrClosed)
}

func TestDialErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := mqttx.Dial(ctx, "http://127.0.0.1:1", nil)
	require.Error(t, err)
	// Nothing listens on port 1: Dial gives up when ctx is done.
	_, err = mqttx.Dial(ctx, "mqtt://127.0.0.1:1", nil)
	require.Error(t, err)
	require.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
}

// TestBrokerChurnSameFilter: subscriptions to a filter another one keeps
// come and go; routing state stays bounded and the long-lived subscription
// still gets each message once.
func TestBrokerChurnSameFilter(t *testing.T) {
	ctx := context.Background()
	b := dialMosquitto(t, nil)
	topic := prefix(t) + "churn"
	keep, err := b.Subscribe(ctx, topic, nil)
	require.NoError(t, err)
	defer keep.Close()
	for i := range 150 {
		s, err := b.Subscribe(ctx, topic, nil)
		require.NoError(t, err)
		_, err = b.Publish(ctx, pubsub.Message{Topic: topic, Data: fmt.Appendf(nil, "%d", i)})
		require.NoError(t, err)
		require.Equal(t, fmt.Sprint(i), string(recv(t, s).Data))
		require.NoError(t, s.Close())
	}
	for i := range 150 {
		require.Equal(t, fmt.Sprint(i), string(recv(t, keep).Data))
	}
	_, err = b.Publish(ctx, pubsub.Message{Topic: topic, Data: []byte("end")})
	require.NoError(t, err)
	require.Equal(t, "end", string(recv(t, keep).Data), "no duplicates before it")
}
