package ws

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
)

// lockedLog collects log output written by handler goroutines.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// noHijack is an access-log middleware's ResponseWriter that forgets
// Hijack and Unwrap.
type noHijack struct{ http.ResponseWriter }

// withUnwrap keeps Unwrap (but not Hijack).
type withUnwrap struct{ http.ResponseWriter }

func (u withUnwrap) Unwrap() http.ResponseWriter { return u.ResponseWriter }

// TestUpgradeBehindMiddleware: behind a wrapper that cannot hijack, the
// upgrade fails (501) and a Warn log names the cause; behind one with
// Unwrap it succeeds.
func TestUpgradeBehindMiddleware(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // a bound, not a timing assertion
	defer cancel()
	b := pubsub.NewMemory(nil)
	defer b.Close()
	var logs lockedLog
	h := NewHandler(b, &Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	defer h.Close()
	serve := func(wrap func(http.ResponseWriter) http.ResponseWriter) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(wrap(w), r)
		}))
		t.Cleanup(srv.Close)
		return "ws" + strings.TrimPrefix(srv.URL, "http")
	}

	bad := serve(func(w http.ResponseWriter) http.ResponseWriter { return noHijack{w} })
	_, resp, err := websocket.Dial(ctx, bad, &websocket.DialOptions{Subprotocols: []string{Subprotocol}})
	require.Error(t, err)
	require.NotNil(t, resp)
	require.Equal(t, http.StatusNotImplemented, resp.StatusCode)
	require.Contains(t, logs.String(), "level=WARN")
	require.Contains(t, logs.String(), "cannot hijack")

	good := serve(func(w http.ResponseWriter) http.ResponseWriter { return withUnwrap{w} })
	c, _, err := websocket.Dial(ctx, good, &websocket.DialOptions{Subprotocols: []string{Subprotocol}})
	require.NoError(t, err)
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`)))
	_, _, err = c.Read(ctx)
	require.NoError(t, err)
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
}
