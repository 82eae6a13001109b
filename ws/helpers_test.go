package ws

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
)

// testServer is a Handler over a Memory broker on an httptest server.
type testServer struct {
	t      *testing.T
	broker *pubsub.Memory
	h      *Handler
	srv    *httptest.Server
	url    string // ws://…/ws
}

func newTestServer(t *testing.T, opts *Options, mopts *pubsub.MemoryOptions) *testServer {
	t.Helper()
	var mo pubsub.MemoryOptions
	if mopts != nil {
		mo = *mopts
	}
	b := pubsub.NewMemory(&mo)
	h := NewHandler(b, opts)
	mux := http.NewServeMux()
	mux.Handle("/ws", h)
	srv := httptest.NewServer(mux)
	ts := &testServer{t: t, broker: b, h: h, srv: srv, url: "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"}
	t.Cleanup(func() {
		_ = h.Close()
		srv.Close()
		_ = b.Close()
	})
	return ts
}

// rawConn is a plain coder/websocket client speaking switchboard.v1 by hand.
type rawConn struct {
	t *testing.T
	c *websocket.Conn
}

func (ts *testServer) dialRaw(t *testing.T, hdr http.Header) *rawConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, ts.url, &websocket.DialOptions{Subprotocols: []string{Subprotocol}, HTTPHeader: hdr})
	require.NoError(t, err)
	require.Equal(t, Subprotocol, c.Subprotocol())
	c.SetReadLimit(-1)
	t.Cleanup(func() { _ = c.CloseNow() })
	return &rawConn{t: t, c: c}
}

func (r *rawConn) send(frame string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(r.t, r.c.Write(ctx, websocket.MessageText, []byte(frame)))
}

// recv reads the next frame as raw bytes.
func (r *rawConn) recvRaw() []byte {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ, b, err := r.c.Read(ctx)
	require.NoError(r.t, err)
	require.Equal(r.t, websocket.MessageText, typ)
	return b
}

// recv reads the next frame, decoded.
func (r *rawConn) recv() map[string]any {
	r.t.Helper()
	b := r.recvRaw()
	var m map[string]any
	require.NoError(r.t, json.Unmarshal(b, &m), "frame %s", b)
	return m
}

// expect reads the next frame and checks its type (and id when set).
func (r *rawConn) expect(typ, id string) map[string]any {
	r.t.Helper()
	m := r.recv()
	require.Equal(r.t, typ, m["type"], "frame %v", m)
	if id != "" {
		require.Equal(r.t, id, m["id"], "frame %v", m)
	}
	return m
}

// closeStatus reads until the connection closes and returns the close code.
func (r *rawConn) closeStatus() websocket.StatusCode {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, _, err := r.c.Read(ctx)
		if err != nil {
			return websocket.CloseStatus(err)
		}
	}
}

func publish(t *testing.T, b pubsub.Broker, topic string, data string) pubsub.Receipt {
	t.Helper()
	r, err := b.Publish(context.Background(), pubsub.Message{Topic: topic, Data: []byte(data)})
	require.NoError(t, err)
	return r
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func newBenchServer(h http.Handler) *httptest.Server { return httptest.NewServer(h) }
