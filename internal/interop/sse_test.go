package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/testenv"
	"github.com/switchboard-go/switchboard/longpoll"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/sse"
	"github.com/switchboard-go/switchboard/transport"
)

// pushServer serves /events (sse), /poll (longpoll) and /topics/ (REST
// publish) over one memory broker, as the hub does, plus test controls:
// POST /ctl/drop ends every open SSE stream from the server side, GET
// /ctl/last-event-ids lists the Last-Event-ID header of each stream
// request, and GET /blank is an empty same-origin page for browsers.
type pushServer struct {
	URL    string
	broker *pubsub.Memory

	mu       sync.Mutex
	cancels  map[*http.Request]context.CancelFunc
	hijacked map[net.Conn]bool
	lastIDs  []string
}

func startPushServer(t *testing.T, so *sse.Options) *pushServer {
	t.Helper()
	ps := &pushServer{broker: pubsub.NewMemory(nil), cancels: map[*http.Request]context.CancelFunc{}, hijacked: map[net.Conn]bool{}}
	sh := sse.NewHandler(ps.broker, so)
	lh := longpoll.NewHandler(ps.broker, nil)
	mux := http.NewServeMux()
	mux.Handle("/topics/", transport.NewRESTHandler(ps.broker, nil))
	mux.Handle("/poll", lh)
	mux.HandleFunc("/events", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		ps.mu.Lock()
		ps.cancels[r] = cancel
		ps.lastIDs = append(ps.lastIDs, r.Header.Get("Last-Event-ID"))
		ps.mu.Unlock()
		defer func() {
			ps.mu.Lock()
			delete(ps.cancels, r)
			ps.mu.Unlock()
		}()
		sh.ServeHTTP(w, r.WithContext(ctx))
	})
	mux.HandleFunc("POST /ctl/drop", func(w http.ResponseWriter, r *http.Request) {
		// A stream kept on net/http's goroutine ends with its request's
		// context; one taken over from net/http (HTTP/1.x, the default)
		// no longer has one, so its connection is shut down instead, as a
		// network drop would: the client sees the end, the server the
		// hang-up.
		ps.mu.Lock()
		n := len(ps.cancels) + len(ps.hijacked)
		for _, c := range ps.cancels {
			c()
		}
		for c := range ps.hijacked {
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
				_ = tc.CloseRead()
			}
		}
		clear(ps.hijacked)
		ps.mu.Unlock()
		fmt.Fprint(w, n)
	})
	mux.HandleFunc("GET /ctl/last-event-ids", func(w http.ResponseWriter, r *http.Request) {
		ps.mu.Lock()
		defer ps.mu.Unlock()
		_ = json.NewEncoder(w).Encode(ps.lastIDs)
	})
	mux.HandleFunc("GET /blank", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><title>interop</title>")
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ConnState = func(c net.Conn, st http.ConnState) {
		if st == http.StateHijacked { // an SSE stream taken over
			ps.mu.Lock()
			ps.hijacked[c] = true
			ps.mu.Unlock()
		}
	}
	srv.Start()
	ps.URL = srv.URL
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, sh.Shutdown(ctx))
		require.NoError(t, lh.Shutdown(ctx))
		srv.Close()
		require.NoError(t, ps.broker.Close())
	})
	return ps
}

func (ps *pushServer) lastEventIDs() []string {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return append([]string(nil), ps.lastIDs...)
}

// sseRun is what the SSE scripts print.
type sseRun struct {
	Got []struct {
		Type string `json:"type"`
		ID   string `json:"id"`
		Data string `json:"data"`
	} `json:"got"`
	Cursors []string `json:"cursors"`
	Opens   int      `json:"opens"`
	Resets  int      `json:"resets"`
	Reset   struct {
		ID   string `json:"id"`
		Data struct {
			Reason string `json:"reason"`
			Cursor string `json:"cursor"`
		} `json:"data"`
	} `json:"reset"`
}

// checkSSERun asserts that a client got the 15 messages the script
// published (5 before a server-side drop, 5 while disconnected, 5 after the
// reconnect) exactly once, in order, with their cursors as ids, that the
// reconnect carried the Last-Event-ID of the fifth, and that a resume from
// a malformed cursor got the sb-reset event.
func checkSSERun(t *testing.T, ps *pushServer, out string) {
	t.Helper()
	var run sseRun
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(out)), &run), out)
	require.Len(t, run.Cursors, 15)
	require.Len(t, run.Got, 15, "every message once: %s", out)
	for i, ev := range run.Got {
		want := "message"
		if i%3 == 1 {
			want = "update"
		}
		require.Equal(t, want, ev.Type, "event %d", i)
		require.Equal(t, run.Cursors[i], ev.ID, "event %d", i)
		require.Equal(t, fmt.Sprintf("m%d\nsecond line", i), ev.Data, "event %d", i)
	}
	require.Equal(t, 2, run.Opens)
	require.Zero(t, run.Resets)
	ids := ps.lastEventIDs()
	require.Len(t, ids, 3)
	require.Equal(t, "", ids[0])
	require.Equal(t, run.Cursors[4], ids[1], "the reconnect resumes after the last event received")
	// The last stream resumed from a bogus ?lastEventId=: sb-reset, with
	// the head as its id.
	require.Equal(t, "invalid-cursor", run.Reset.Data.Reason)
	require.Equal(t, run.Cursors[14], run.Reset.Data.Cursor)
	require.Equal(t, run.Cursors[14], run.Reset.ID)
}

// TestSSENodeEventSource drives npm's eventsource package: it receives
// plain and named events, survives a server-side disconnect and resumes
// with Last-Event-ID without loss or duplicate.
func TestSSENodeEventSource(t *testing.T) {
	ps := startPushServer(t, &sse.Options{Retry: 300 * time.Millisecond})
	out := runNode(context.Background(), t, "sse-eventsource.mjs", ps.URL)
	checkSSERun(t, ps, out)
}

// TestSSEChromiumEventSource runs the same scenario in headless Chromium:
// a page's EventSource receives plain and named events and reconnects
// after the server drops it, losing nothing.
func TestSSEChromiumEventSource(t *testing.T) {
	chromium := testenv.Chromium(t)
	ps := startPushServer(t, &sse.Options{Retry: 300 * time.Millisecond})
	out := runNode(context.Background(), t, "sse-chromium.mjs", ps.URL, chromium)
	checkSSERun(t, ps, out)
}
