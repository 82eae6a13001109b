package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/testenv"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
	"github.com/switchboard-go/switchboard/ws"
)

// wsServer serves /ws (default origin check), /ws-open (origins
// 127.0.0.1:* allowed), /topics/ (REST) and /blank over one memory broker,
// with a Go responder on svc/go that adds 1 to {"n":…}.
func wsServer(t *testing.T) (*httptest.Server, *pubsub.Memory) {
	t.Helper()
	b := pubsub.NewMemory(nil)
	strict := ws.NewHandler(b, nil)
	open := ws.NewHandler(b, &ws.Options{OriginPatterns: []string{"127.0.0.1:*"}})
	mux := http.NewServeMux()
	mux.Handle("/ws", strict)
	mux.Handle("/ws-open", open)
	mux.Handle("/topics/", transport.NewRESTHandler(b, nil))
	mux.HandleFunc("GET /blank", blankPage)
	srv := httptest.NewServer(mux)

	ctx, cancel := context.WithCancel(context.Background())
	svc, err := b.Subscribe(ctx, "svc/go", nil)
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for m := range svc.C() {
			var in struct{ N int }
			if json.Unmarshal(m.Data, &in) == nil {
				_, _ = pubsub.Reply(ctx, b, m, pubsub.Message{Data: fmt.Appendf(nil, `{"n":%d}`, in.N+1)})
			}
		}
	}()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		require.NoError(t, strict.Shutdown(sctx))
		require.NoError(t, open.Shutdown(sctx))
		srv.Close()
		cancel()
		wg.Wait()
		require.NoError(t, b.Close())
	})
	return srv, b
}

func blankPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, "<!doctype html><title>interop</title>")
}

// TestWSNodeClient drives npm's ws package through the switchboard.v1
// protocol: subscribe, publish JSON and binary, REST → WebSocket byte
// identity, request/reply answered by a node socket and by Go, a request
// timeout, resume with since, a gap, and an error frame.
func TestWSNodeClient(t *testing.T) {
	srv, b := wsServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A Go subscriber checks that what node publishes reaches the broker
	// byte-identical.
	sub, err := b.Subscribe(ctx, "interop/b", nil)
	require.NoError(t, err)

	out := runNode(ctx, t, "ws-client.mjs", srv.URL)
	var res struct {
		OK    bool     `json:"ok"`
		Steps []string `json:"steps"`
	}
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(out)), &res), out)
	require.True(t, res.OK)
	require.Equal(t, []string{"subscribe", "publish-json", "publish-binary", "rest-to-ws", "request-node-responder",
		"request-go-responder", "request-timeout", "resume", "gap", "errors"}, res.Steps)
	select {
	case m := <-sub.C():
		require.Equal(t, []byte{0, 1, 2, 0xff, 0xfe, 0x0d, 0x0a}, m.Data)
	case <-time.After(5 * time.Second):
		t.Fatal("node's binary publish did not reach the broker")
	}
}

// TestWSChromium runs headless Chromium's WebSocket: a same-origin page
// subscribes, publishes and receives (its own message and a REST publish,
// bytes unchanged); a page from another origin is refused by the default
// handler and admitted by one whose OriginPatterns allow it.
func TestWSChromium(t *testing.T) {
	chromium := testenv.Chromium(t)
	srv, b := wsServer(t)
	other := httptest.NewServer(http.HandlerFunc(blankPage))
	defer other.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub, err := b.Subscribe(ctx, "browser/page", nil)
	require.NoError(t, err)

	out := runNode(ctx, t, "ws-chromium.mjs", srv.URL, other.URL, chromium)
	var res struct {
		Same struct {
			Protocol  string          `json:"protocol"`
			AckCursor string          `json:"ackCursor"`
			Own       json.RawMessage `json:"own"`
			Rest      json.RawMessage `json:"rest"`
			CloseCode int             `json:"closeCode"`
		} `json:"same"`
		CrossDefault, CrossAllowed struct {
			Opened bool `json:"opened"`
			Code   int  `json:"code"`
		}
	}
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(out)), &res), out)
	require.Equal(t, ws.Subprotocol, res.Same.Protocol)
	require.Equal(t, 1000, res.Same.CloseCode)
	own, err := transport.DecodeEnvelope(res.Same.Own)
	require.NoError(t, err)
	require.Equal(t, `{"from":"chromium"}`, string(own.Data))
	require.Equal(t, res.Same.AckCursor, own.Cursor)
	rest, err := transport.DecodeEnvelope(res.Same.Rest)
	require.NoError(t, err)
	require.Equal(t, []byte{1, 2, 3, 255}, rest.Data)
	select {
	case m := <-sub.C():
		require.Equal(t, `{"from":"chromium"}`, string(m.Data))
	case <-time.After(5 * time.Second):
		t.Fatal("the page's publish did not reach the broker")
	}

	require.False(t, res.CrossDefault.Opened, "a cross-origin page is refused by default")
	require.Equal(t, 1006, res.CrossDefault.Code, "browsers see a refused handshake as 1006")
	require.True(t, res.CrossAllowed.Opened, "OriginPatterns admit the other origin")
}
