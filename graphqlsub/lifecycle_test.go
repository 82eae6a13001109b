package graphqlsub_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/graphqlsub"
)

// heldExec starts every subscription, then holds it inside Subscribe until
// released: the operation's goroutine, and so its session, cannot finish
// before, which shows whether Shutdown and Close wait for them.
type heldExec struct {
	started chan string // the subscription's operation name, once Subscribe runs
	release chan struct{}
}

func (x *heldExec) Execute(context.Context, *graphqlsub.Request) *graphqlsub.Result {
	return &graphqlsub.Result{Data: json.RawMessage(`{}`)}
}

func (x *heldExec) Subscribe(_ context.Context, req *graphqlsub.Request) (<-chan *graphqlsub.Result, error) {
	x.started <- req.OperationName
	<-x.release
	ch := make(chan *graphqlsub.Result)
	close(ch)
	return ch, nil
}

// lcEnv holds one session of every kind open on a Handler over heldExec:
// a graphql-transport-ws and a legacy graphql-ws WebSocket, an SSE stream
// (distinct connections) and an SSE reservation with its stream open.
type lcEnv struct {
	h       *graphqlsub.Handler
	url     string
	exec    *heldExec
	release func()
	tws     *wsClient      // graphql-transport-ws
	lws     *wsClient      // legacy graphql-ws
	sse     *http.Response // distinct connections stream
	single  *http.Response // single connection stream
}

const heldQuery = "subscription Held { x }"

func openSessions(t *testing.T) *lcEnv {
	t.Helper()
	x := &heldExec{started: make(chan string, 8), release: make(chan struct{})}
	h := graphqlsub.NewHandler(x, nil)
	srv := httptest.NewServer(h)
	t.Cleanup(func() { require.NoError(t, h.Close()); srv.Close() })
	var once sync.Once
	release := func() { once.Do(func() { close(x.release) }) }
	t.Cleanup(release) // runs first: a failed test must not leave Close waiting
	e := &lcEnv{h: h, url: srv.URL, exec: x, release: release}

	e.tws = dial(t, e.url, graphqlsub.SubprotocolTransportWS)
	e.tws.init(nil)
	e.tws.send(map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{"query": heldQuery, "operationName": "Held"}})
	require.Equal(t, "Held", <-x.started)

	e.lws = dial(t, e.url, graphqlsub.SubprotocolLegacyWS)
	e.lws.init(nil)
	require.Equal(t, "ka", e.lws.read().Type)
	e.lws.send(map[string]any{"type": "start", "id": "1", "payload": map[string]any{"query": heldQuery, "operationName": "Held"}})
	require.Equal(t, "Held", <-x.started)

	e.sse = streamRequest(t, e.url+"?"+url.Values{"query": {heldQuery}, "operationName": {"Held"}}.Encode(), "")
	require.Equal(t, http.StatusOK, e.sse.StatusCode)
	require.Equal(t, "Held", <-x.started)

	status, _, token := do(t, "PUT", e.url, "", "", "")
	require.Equal(t, http.StatusCreated, status)
	e.single = streamRequest(t, e.url, token)
	require.Equal(t, http.StatusOK, e.single.StatusCode)
	req, err := http.NewRequest("POST", e.url, strings.NewReader(`{"query":"`+heldQuery+`","operationName":"Held","extensions":{"operationId":"1"}}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GraphQL-Event-Stream-Token", token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.Equal(t, "Held", <-x.started)

	require.Equal(t, 4, h.Active(), "two WebSockets, an SSE stream and a reservation")
	return e
}

// streamRequest opens a text/event-stream response (with a
// single-connection token when not empty); the test closes its body.
func streamRequest(t *testing.T, u, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/event-stream")
	if token != "" {
		req.Header.Set("X-GraphQL-Event-Stream-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// requireEnded reads an event stream to its end, which must be clean.
func requireEnded(t *testing.T, resp *http.Response) {
	t.Helper()
	_, err := io.ReadAll(resp.Body)
	require.NoError(t, err, "the stream ends, it is not broken")
}

// requireRefused checks that every kind of new session is refused with 503
// and Retry-After.
func requireRefused(t *testing.T, u string) {
	t.Helper()
	_, resp, err := websocket.Dial(context.Background(), u, &websocket.DialOptions{Subprotocols: []string{graphqlsub.SubprotocolTransportWS}})
	require.Error(t, err)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "WebSocket")
	require.NotEmpty(t, resp.Header.Get("Retry-After"))

	sse := streamRequest(t, u+"?"+url.Values{"query": {heldQuery}, "operationName": {"Held"}}.Encode(), "")
	require.Equal(t, http.StatusServiceUnavailable, sse.StatusCode, "SSE stream")
	require.NotEmpty(t, sse.Header.Get("Retry-After"))

	status, hd, _ := do(t, "PUT", u, "", "", "")
	require.Equal(t, http.StatusServiceUnavailable, status, "SSE reservation")
	require.NotEmpty(t, hd.Get("Retry-After"))
}

// closeCode reads until the connection fails and returns the close code
// the server sent, -1 when it dropped the connection without a close frame.
func closeCode(t *testing.T, c *wsClient) websocket.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		if _, _, err := c.c.Read(ctx); err != nil {
			require.NotErrorIs(t, err, context.DeadlineExceeded)
			return websocket.CloseStatus(err)
		}
	}
}

// Shutdown sends the go-away signal (close 1001, the end of the SSE
// streams), Close cuts without one; both refuse new sessions and wait
// until every session has gone.
func TestLifecycleStopSignalsAndWaits(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(*graphqlsub.Handler) error
		code websocket.StatusCode // what both WebSockets get
	}{
		{"Shutdown", func(h *graphqlsub.Handler) error { return h.Shutdown(context.Background()) }, websocket.StatusGoingAway},
		{"Close", (*graphqlsub.Handler).Close, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := openSessions(t)
			done := make(chan error, 1)
			go func() { done <- tc.stop(e.h) }()

			require.Equal(t, tc.code, closeCode(t, e.tws), "graphql-transport-ws")
			require.Equal(t, tc.code, closeCode(t, e.lws), "graphql-ws")
			requireEnded(t, e.single)

			// It waits: the operations are still held, so are the sessions.
			select {
			case err := <-done:
				t.Fatalf("%s returned %v while its sessions were still running", tc.name, err)
			default:
			}
			require.Equal(t, 4, e.h.Active())
			requireRefused(t, e.url)

			e.release()
			require.NoError(t, <-done)
			require.Zero(t, e.h.Active())
			requireEnded(t, e.sse)
			require.NoError(t, e.h.Shutdown(context.Background()), "idempotent, in either order")
			require.NoError(t, e.h.Close(), "idempotent, in either order")
		})
	}
}

// A client that never answers the close handshake does not hold Shutdown
// past its context: the rest is cut, waited for, and ctx's error returned.
func TestLifecycleShutdownDeadlineCuts(t *testing.T) {
	for _, sp := range []string{graphqlsub.SubprotocolTransportWS, graphqlsub.SubprotocolLegacyWS} {
		t.Run(sp, func(t *testing.T) {
			e := newEnv(t, nil)
			c := dial(t, e.url, sp)
			c.init(nil) // and never read again
			require.Equal(t, 1, e.h.Active())
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			require.ErrorIs(t, e.h.Shutdown(ctx), context.Canceled)
			require.Zero(t, e.h.Active())
		})
	}
}
