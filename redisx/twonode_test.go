package redisx_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/sse"
	"github.com/switchboard-go/switchboard/transport"
	"github.com/switchboard-go/switchboard/ws"
)

// hubNode serves REST, SSE and WebSocket over b, like one hub process.
func hubNode(t *testing.T, b pubsub.Broker) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/topics/", transport.NewRESTHandler(b, nil))
	s := sse.NewHandler(b, nil)
	mux.Handle("/events", s)
	w := ws.NewHandler(b, nil)
	mux.Handle("/ws", w)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = transport.Shutdown(ctx, srv.Config, s, w)
		srv.Close()
	})
	return srv
}

// sseEvents runs an SSE client against url until the test ends and
// returns its events.
func sseEvents(t *testing.T, streamURL, lastEventID string) <-chan sse.Event {
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan sse.Event, 64)
	var wg sync.WaitGroup
	wg.Go(func() {
		c := &sse.Client{URL: streamURL, LastEventID: lastEventID}
		_ = c.Run(ctx, func(e sse.Event) error {
			select {
			case events <- e:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	return events
}

func nextEvent(t *testing.T, events <-chan sse.Event) sse.Event {
	t.Helper()
	select {
	case e := <-events:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no SSE event within 10 s")
		return sse.Event{}
	}
}

// TestTwoNodes is the scale-out recipe: two nodes share Redis; a REST
// publish on node A reaches an SSE client and a WebSocket client on node
// B with the same cursor, and an SSE client that read it on B resumes on
// A with Last-Event-ID and gets exactly what it missed, in order.
func TestTwoNodes(t *testing.T) {
	sp := newSpace(t)
	brokerA, brokerB := sp.broker(), sp.broker()
	a, b := hubNode(t, brokerA), hubNode(t, brokerB)
	c := ctx(t)
	stream := "/events?topic=" + url.QueryEscape("chat/#")

	events := sseEvents(t, b.URL+stream, "")
	open := nextEvent(t, events)
	require.Equal(t, "sb-open", open.Type, "a fresh stream starts with its head")
	wc, err := ws.Dial(c, b.URL+"/ws", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = wc.Close() })
	wsub, err := wc.Subscribe(c, "chat/#", nil)
	require.NoError(t, err)

	resp, err := http.Post(a.URL+"/topics/chat/room1", "text/plain", strings.NewReader("hello from A"))
	require.NoError(t, err)
	var receipt transport.PublishResponse
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&receipt))
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotEmpty(t, receipt.Cursor)

	e := nextEvent(t, events)
	require.Equal(t, "hello from A", e.Data)
	require.Equal(t, receipt.Cursor, e.ID, "the SSE id is the cursor node A returned")
	select {
	case ev := <-wsub.C():
		require.NotNil(t, ev.Message)
		require.Equal(t, "hello from A", string(ev.Message.Data))
		require.Equal(t, receipt.ID, ev.Message.ID, "the id survives the hop")
		require.Equal(t, receipt.Cursor, ev.Message.Cursor)
	case <-time.After(10 * time.Second):
		t.Fatal("no WebSocket message")
	}

	// Behind a load balancer: the client that read the message on node B
	// reconnects to node A with Last-Event-ID.
	for i := range 3 {
		_, err := brokerB.Publish(c, pubsub.Message{Topic: "chat/room1", Data: fmt.Appendf(nil, "missed %d", i)})
		require.NoError(t, err)
	}
	_, err = brokerB.Publish(c, pubsub.Message{Topic: "other/x", Data: []byte("not for chat/#")})
	require.NoError(t, err)
	rctx, cancel := context.WithTimeout(c, 10*time.Second)
	defer cancel()
	var got []string
	done := errors.New("done")
	client := &sse.Client{URL: a.URL + stream, LastEventID: e.ID}
	err = client.Run(rctx, func(e sse.Event) error {
		require.Empty(t, e.Type, "no sb-reset: the cursor of node B resumes on node A")
		got = append(got, e.Data)
		if len(got) == 3 {
			return done
		}
		return nil
	})
	require.ErrorIs(t, err, done)
	require.Equal(t, []string{"missed 0", "missed 1", "missed 2"}, got)
}
