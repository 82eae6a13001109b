package ws

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
)

// TestPublishKey: a publish frame's "key" is the message ID and the
// broker's idempotency key; the Go client sends msg.ID as the key.
func TestPublishKey(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	ctx := context.Background()
	sub, err := ts.broker.Subscribe(ctx, "k/#", nil)
	require.NoError(t, err)
	defer sub.Close()

	raw := ts.dialRaw(t, nil)
	raw.send(`{"type":"publish","id":"p1","topic":"k/a","key":"order-9","data":"one"}`)
	first := raw.expect("ack", "p1")
	require.Equal(t, "order-9", first["message_id"])
	raw.send(`{"type":"publish","id":"p2","topic":"k/a","key":"order-9","data":"again"}`)
	again := raw.expect("ack", "p2")
	require.Equal(t, first["cursor"], again["cursor"], "the repeat is answered with the original receipt")
	require.Equal(t, first["time"], again["time"])
	raw.send(`{"type":"publish","id":"p3","topic":"k/a","key":"` + strings.Repeat("x", 201) + `","data":1}`)
	bad := raw.expect("error", "p3")
	require.Equal(t, "bad_request", bad["code"])

	c := dialClient(t, ts.url, nil)
	r1, err := c.Publish(ctx, pubsub.Message{Topic: "k/b", ID: "go-1", Data: []byte("two")})
	require.NoError(t, err)
	r2, err := c.Publish(ctx, pubsub.Message{Topic: "k/b", ID: "go-1", Data: []byte("two")})
	require.NoError(t, err)
	require.Equal(t, r1, r2)
	require.Equal(t, "go-1", r1.ID)

	require.Equal(t, `"one"`, string((<-sub.C()).Data))
	require.Equal(t, "two", string((<-sub.C()).Data), "each key was delivered once")
}

// TestRequestKeyRepeated: a request frame repeating a key is not
// delivered again, so it gets no reply: a timeout error (ws/doc.go).
func TestRequestKeyRepeated(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	ctx := context.Background()
	sub, err := ts.broker.Subscribe(ctx, "svc/#", nil)
	require.NoError(t, err)
	defer sub.Close()

	raw := ts.dialRaw(t, nil)
	raw.send(`{"type":"request","id":"r1","topic":"svc/echo","key":"req-1","data":"q","timeout_ms":5000}`)
	req := <-sub.C()
	_, err = ts.broker.Publish(ctx, pubsub.Message{Topic: req.Header[pubsub.HeaderReplyTo],
		Header: map[string]string{pubsub.HeaderCorrelationID: req.Header[pubsub.HeaderCorrelationID]}, Data: []byte(`"a"`)})
	require.NoError(t, err)
	raw.expect("reply", "r1")

	raw.send(`{"type":"request","id":"r2","topic":"svc/echo","key":"req-1","data":"q","timeout_ms":50}`)
	require.Equal(t, "timeout", raw.expect("error", "r2")["code"])
	select {
	case m := <-sub.C():
		t.Fatalf("the repeated request was delivered: %v", m)
	default:
	}
}
