package sse

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// accessLog is what a common access-log middleware does: it wraps the
// ResponseWriter to record the status, and forgets Flush and Unwrap.
type accessLog struct {
	http.ResponseWriter
	status int
}

func (a *accessLog) WriteHeader(code int) { a.status = code; a.ResponseWriter.WriteHeader(code) }

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

// unwrapLog is the same middleware done right: it keeps Unwrap.
type unwrapLog struct{ accessLog }

func (u *unwrapLog) Unwrap() http.ResponseWriter { return u.ResponseWriter }

// TestMiddlewareWithoutFlush: behind a wrapper that cannot flush, the
// handler says so with a 500 naming the problem (a 200 that ends at once
// made EventSource reconnect every few seconds forever, silently); behind
// a wrapper with Unwrap it streams as usual.
func TestMiddlewareWithoutFlush(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	var logs lockedLog
	h := NewHandler(b, &Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	defer h.Close()

	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&accessLog{ResponseWriter: w}, r)
	}))
	defer bad.Close()
	resp, err := http.Get(bad.URL + "/?topic=a")
	require.NoError(t, err)
	var body transport.ErrorBody
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	resp.Body.Close()
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	require.Contains(t, body.Error.Message, "cannot flush")
	require.Contains(t, body.Error.Message, "Unwrap")
	require.Contains(t, logs.String(), "level=WARN")
	require.Contains(t, logs.String(), "cannot flush")

	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&unwrapLog{accessLog{ResponseWriter: w}}, r)
	}))
	defer good.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a bound, not a timing assertion
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, good.URL+"/?topic=a", nil)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	sc := bufio.NewScanner(resp.Body)
	_, err = b.Publish(ctx, pubsub.Message{Topic: "a", Data: []byte(`"hi"`)})
	require.NoError(t, err)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "data:") && strings.Contains(sc.Text(), "hi") {
			return
		}
	}
	t.Fatalf("the stream ended without the message: %v", sc.Err())
}
