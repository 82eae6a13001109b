package natsx_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
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
	s := sse.NewHandler(b, &sse.Options{Format: sse.FormatEnvelope})
	mux.Handle("/events", s)
	w := ws.NewHandler(b, nil)
	mux.Handle("/ws", w)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		_ = w.Shutdown(ctx)
		srv.Close()
	})
	return srv
}

type envelope struct {
	Topic, ID, Cursor string
	Data              json.RawMessage
}

// TestTwoNodes is the scale-out recipe: two nodes share NATS; a REST
// publish on node A reaches an SSE client and a WebSocket client on node
// B with the same cursor, and an SSE client that read it on node B
// resumes on node A with Last-Event-ID and gets exactly what it missed.
func TestTwoNodes(t *testing.T) {
	sp := newSpace(t)
	brokerA, brokerB := sp.broker(), sp.broker()
	a, b := hubNode(t, brokerA), hubNode(t, brokerB)
	c := ctx(t)

	// An SSE client on B: events go to a channel; sb-open says it is live.
	events := make(chan sse.Event, 16)
	sseCtx, stopSSE := context.WithCancel(c)
	sseDone := make(chan struct{})
	go func() {
		defer close(sseDone)
		client := &sse.Client{URL: b.URL + "/events?topic=" + url.QueryEscape("chat/#")}
		_ = client.Run(sseCtx, func(e sse.Event) error {
			events <- e
			return nil
		})
	}()
	t.Cleanup(func() { stopSSE(); <-sseDone })
	open := <-events
	require.Equal(t, "sb-open", open.Type)

	// A WebSocket client on B.
	wc, err := ws.Dial(c, "ws"+strings.TrimPrefix(b.URL, "http")+"/ws", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = wc.Close() })
	wsub, err := wc.Subscribe(c, "chat/#", nil)
	require.NoError(t, err)

	// A REST publish on A.
	resp, err := http.Post(a.URL+"/topics/chat/room1", "application/json", strings.NewReader(`{"text":"hello from node A"}`))
	require.NoError(t, err)
	var receipt struct{ ID, Cursor string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&receipt))
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotEmpty(t, receipt.Cursor)

	var e sse.Event
	select {
	case e = <-events:
	case <-time.After(10 * time.Second):
		t.Fatal("no SSE event on node B")
	}
	var env envelope
	require.NoError(t, json.Unmarshal([]byte(e.Data), &env))
	require.Equal(t, "chat/room1", env.Topic)
	require.Equal(t, receipt.ID, env.ID, "the message id survives the hop between nodes")
	require.Equal(t, receipt.Cursor, e.ID, "the SSE id is the cursor of the publish receipt")
	require.JSONEq(t, `{"text":"hello from node A"}`, string(env.Data))

	select {
	case ev := <-wsub.C():
		require.NotNil(t, ev.Message)
		require.Equal(t, "chat/room1", ev.Message.Topic)
		require.Equal(t, receipt.ID, ev.Message.ID)
		require.Equal(t, receipt.Cursor, ev.Message.Cursor, "cursors are the same on every node")
	case <-time.After(10 * time.Second):
		t.Fatal("no WebSocket message on node B")
	}
	stopSSE()
	<-sseDone

	// Missed while away: two on chat, one elsewhere.
	for i := range 2 {
		_, err := brokerA.Publish(c, pubsub.Message{Topic: "chat/room1", Data: fmt.Appendf(nil, `{"n":%d}`, i)})
		require.NoError(t, err)
		_, err = brokerB.Publish(c, pubsub.Message{Topic: "other/x", Data: []byte(`{}`)})
		require.NoError(t, err)
	}

	// Behind a load balancer: resume on node A.
	rctx, cancel := context.WithTimeout(c, 15*time.Second)
	defer cancel()
	var got []string
	done := errors.New("done")
	client := &sse.Client{URL: a.URL + "/events?topic=" + url.QueryEscape("chat/#"), LastEventID: e.ID}
	err = client.Run(rctx, func(e sse.Event) error {
		require.NotEqual(t, "sb-reset", e.Type, "no gap")
		if e.Type != "" {
			return nil
		}
		var env envelope
		if err := json.Unmarshal([]byte(e.Data), &env); err != nil {
			return err
		}
		got = append(got, string(env.Data))
		if len(got) == 2 {
			return done
		}
		return nil
	})
	require.ErrorIs(t, err, done)
	require.Equal(t, []string{`{"n":0}`, `{"n":1}`}, got, "exactly the missed messages, in order")
}
