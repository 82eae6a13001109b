package ws

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/obstest"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// TestObserverSeesConnectionLifecycle: a connection, its subscriptions
// (refused by Auth, unsubscribed, ended by Shutdown), its publishes and
// its deliveries are reported, each with its transport.
func TestObserverSeesConnectionLifecycle(t *testing.T) {
	rec := obstest.New()
	ts := newTestServer(t, &Options{Observer: rec.Observer(), Auth: &transport.Auth{
		Authorize: func(_ context.Context, _ *transport.Identity, _ transport.Action, topic string) error {
			if topic == "secret" {
				return transport.ErrForbidden
			}
			return nil
		},
	}}, nil)
	c := ts.dialRaw(t, nil)
	rec.WaitKind(t, obstest.ConnOpened, 1)

	c.send(`{"type":"subscribe","id":"x","filter":"secret"}`)
	c.expect("error", "x")
	c.send(`{"type":"subscribe","id":"s1","filter":"chat/#"}`)
	c.expect("subscribed", "s1")
	c.send(`{"type":"publish","id":"p1","topic":"chat/a","data":"hello"}`)
	var raw []byte // the ack and the message, in either order
	for range 2 {
		if b := c.recvRaw(); decodeMap(t, b)["type"] == "message" {
			raw = b
		}
	}
	require.NotNil(t, raw)
	c.send(`{"type":"unsubscribe","id":"s1"}`)
	c.expect("unsubscribed", "s1")
	c.send(`{"type":"subscribe","id":"s2","filter":"news"}`)
	c.expect("subscribed", "s2")

	pub := rec.Of(obstest.Published)
	require.Len(t, pub, 1)
	require.Equal(t, obstest.Event{Kind: obstest.Published, Transport: "ws", Topic: "chat/a", Bytes: len(`"hello"`)}, pub[0])
	del := rec.WaitKind(t, obstest.Delivered, 1)
	require.Equal(t, obstest.Event{Kind: obstest.Delivered, Transport: "ws", Topic: "chat/a", Bytes: len(raw)}, del[0])

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- ts.h.Shutdown(ctx) }() // it waits for the close handshake the client answers here
	require.Equal(t, websocket.StatusGoingAway, c.closeStatus())
	require.NoError(t, <-errc)
	rec.WaitKind(t, obstest.ConnClosed, 1)

	var ends []string
	for _, e := range rec.Of(obstest.SubEnded) {
		ends = append(ends, e.Filters[0]+" "+string(e.Reason))
	}
	require.Equal(t, []string{"secret auth", "chat/# client", "news shutdown"}, ends)
	require.Len(t, rec.Of(obstest.SubStarted), 2)
	require.True(t, rec.Of(obstest.SubEnded)[0].Refused)
	require.False(t, rec.Of(obstest.SubEnded)[1].Refused)
	for _, e := range rec.Events() {
		require.Equal(t, "ws", e.Transport)
	}
}

// TestObserverSeesSlowConsumer: a subscription dropped for a client that
// fell behind ends with reason slow_consumer.
func TestObserverSeesSlowConsumer(t *testing.T) {
	rec := obstest.New()
	b := pubsub.NewMemory(nil)
	defer b.Close()
	_, url := newTinyServer(t, b, &Options{Buffer: 8, WriteTimeout: 200 * time.Millisecond, Observer: rec.Observer()})
	ctx := context.Background()
	hc := tinyHTTPClient()
	defer hc.CloseIdleConnections()
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{Subprotocol}, HTTPClient: hc})
	require.NoError(t, err)
	defer c.CloseNow()
	r := &rawConn{t: t, c: c}
	r.send(`{"type":"subscribe","id":"s","filter":"seq"}`)
	r.expect("subscribed", "s")
	for i := 0; ; i++ { // until the subscription overflows; the client does not read
		_, err := b.Publish(ctx, pubsub.Message{Topic: "seq", Data: []byte(`{"i":` + strconv.Itoa(i) + `,"p":` + payload1K + `}`)})
		require.NoError(t, err)
		if len(rec.Of(obstest.SubEnded)) > 0 {
			break
		}
	}
	ended := rec.WaitKind(t, obstest.SubEnded, 1)
	require.Equal(t, transport.EndSlowConsumer, ended[0].Reason)
	// 4429 when the writer saw the overflow first; an abrupt close when
	// its blocked write timed out first. Either way the client was slow.
	st := r.closeStatus()
	require.True(t, st == CloseSlowConsumer || st == -1 || st == websocket.StatusInternalError, "close %v", st)
	rec.WaitKind(t, obstest.ConnClosed, 1)
	require.Len(t, rec.Of(obstest.SubEnded), 1, "reported once")
}

// TestObserverSeesRequestPublish: the publish of a request frame is
// reported too.
func TestObserverSeesRequestPublish(t *testing.T) {
	rec := obstest.New()
	ts := newTestServer(t, &Options{Observer: rec.Observer()}, nil)
	c := ts.dialRaw(t, nil)
	c.send(`{"type":"request","id":"r","topic":"svc/echo","data":"q","timeout_ms":1}`)
	c.expect("error", "r") // nobody answers
	pub := rec.WaitKind(t, obstest.Published, 1)
	require.Equal(t, obstest.Event{Kind: obstest.Published, Transport: "ws", Topic: "svc/echo", Bytes: len(`"q"`)}, pub[0])
}

// TestObserverSeesGuideForm: a guide-form publish (no id, success is
// silent) is reported as Published and its message frame as Delivered,
// as switchboard.v1's are.
func TestObserverSeesGuideForm(t *testing.T) {
	rec := obstest.New()
	ts := newTestServer(t, &Options{Observer: rec.Observer()}, nil)
	c := ts.dialRaw(t, nil)
	c.send(`{"type":"subscribe","topics":["user-events"]}`)
	c.expect("subscribed", "")
	c.send(`{"type":"publish","topic":"user-events","data":{"userId":42}}`)
	raw := c.recvRaw()
	require.Equal(t, "message", decodeMap(t, raw)["type"])

	pub := rec.WaitKind(t, obstest.Published, 1)
	require.Equal(t, obstest.Event{Kind: obstest.Published, Transport: "ws", Topic: "user-events", Bytes: len(`{"userId":42}`)}, pub[0])
	del := rec.WaitKind(t, obstest.Delivered, 1)
	require.Equal(t, obstest.Event{Kind: obstest.Delivered, Transport: "ws", Topic: "user-events", Bytes: len(raw)}, del[0])
}
