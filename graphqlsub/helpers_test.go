package graphqlsub_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/graphqlsub"
	"github.com/switchboard-go/switchboard/graphqlsub/gophers"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// env is a handler over BrokerSchema on a memory broker, served by httptest.
type env struct {
	broker *pubsub.Memory
	h      *graphqlsub.Handler
	srv    *httptest.Server
	url    string // http://…/graphql
}

func newEnv(t testing.TB, opts *graphqlsub.Options) *env {
	t.Helper()
	b := pubsub.NewMemory(nil)
	var auth *transport.Auth
	if opts != nil {
		auth = opts.Auth
	}
	schema, err := gophers.NewBrokerSchema(b, auth)
	require.NoError(t, err)
	h := graphqlsub.NewHandler(gophers.New(schema, nil), opts)
	mux := http.NewServeMux()
	mux.Handle("/graphql", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		require.NoError(t, h.Close())
		srv.Close()
		require.NoError(t, b.Close())
	})
	return &env{broker: b, h: h, srv: srv, url: srv.URL + "/graphql"}
}

func (e *env) publish(t testing.TB, topic, data string) pubsub.Receipt {
	t.Helper()
	r, err := e.broker.Publish(context.Background(), pubsub.Message{Topic: topic, Data: []byte(data)})
	require.NoError(t, err)
	return r
}

// wsClient is a raw graphql-transport-ws / graphql-ws client.
type wsClient struct {
	t *testing.T
	c *websocket.Conn
}

func dial(t *testing.T, url string, subprotocols ...string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: subprotocols})
	require.NoError(t, err)
	if resp.Body != nil {
		resp.Body.Close()
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return &wsClient{t: t, c: c}
}

func (w *wsClient) sendRaw(s string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(w.t, w.c.Write(ctx, websocket.MessageText, []byte(s)))
}

func (w *wsClient) send(v any) {
	w.t.Helper()
	b, err := json.Marshal(v)
	require.NoError(w.t, err)
	w.sendRaw(string(b))
}

type wireMsg struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// read returns the next message; it fails the test on a close or timeout.
func (w *wsClient) read() wireMsg {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := w.c.Read(ctx)
	require.NoError(w.t, err)
	var m wireMsg
	require.NoError(w.t, json.Unmarshal(b, &m), "%s", b)
	return m
}

// expectClose reads until the server closes and returns the close code and
// reason.
func (w *wsClient) expectClose() (websocket.StatusCode, string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		_, b, err := w.c.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			require.ErrorAs(w.t, err, &ce, "want a close frame, got %v", err)
			return ce.Code, ce.Reason
		}
		w.t.Logf("message before close: %s", b)
	}
}

// initTransport performs connection_init / connection_ack.
func (w *wsClient) init(payload any) {
	w.t.Helper()
	m := map[string]any{"type": "connection_init"}
	if payload != nil {
		m["payload"] = payload
	}
	w.send(m)
	require.Equal(w.t, "connection_ack", w.read().Type)
}

func subscribeMsg(id, query string, vars map[string]any) map[string]any {
	p := map[string]any{"query": query}
	if vars != nil {
		p["variables"] = vars
	}
	return map[string]any{"type": "subscribe", "id": id, "payload": p}
}

// msgEvent is the payload of a next message for Subscription.messages.
type msgEvent struct {
	Data *struct {
		Messages *struct {
			ID, Topic, Data, Cursor string
		} `json:"messages"`
	} `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func decodeEvent(t *testing.T, p json.RawMessage) msgEvent {
	t.Helper()
	var ev msgEvent
	require.NoError(t, json.Unmarshal(p, &ev), "%s", p)
	return ev
}

const subQuery = `subscription S($f: String!, $s: String) { messages(filter: $f, since: $s) { id topic data cursor } }`
