package ws

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

// readUntilClosed reads c in the background until its connection ends and
// delivers the error that ended it.
func readUntilClosed(c *rawConn) <-chan error {
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for {
			if _, _, err := c.c.Read(ctx); err != nil {
				done <- err
				return
			}
		}
	}()
	return done
}

// requireRefused checks that a new upgrade gets HTTP 503 with Retry-After.
func requireRefused(t *testing.T, ts *testServer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, ts.url, &websocket.DialOptions{Subprotocols: []string{Subprotocol}})
	require.Error(t, err)
	require.NotNil(t, resp)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
}

func TestLifecycleShutdownGoesAwayAndWaits(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	var ended []<-chan error
	for range 3 {
		c := ts.dialRaw(t, nil)
		c.send(`{"type":"subscribe","id":"s","filter":"a"}`)
		c.expect("subscribed", "s")
		ended = append(ended, readUntilClosed(c))
	}
	require.Equal(t, 3, ts.h.Active())

	require.NoError(t, ts.h.Shutdown(context.Background()))
	require.Zero(t, ts.h.Active(), "Shutdown returns once every connection has ended")
	for _, e := range ended {
		require.Equal(t, websocket.StatusGoingAway, websocket.CloseStatus(<-e), "the go-away signal is close 1001")
	}
	requireRefused(t, ts)

	require.NoError(t, ts.h.Shutdown(context.Background()), "idempotent")
	require.NoError(t, ts.h.Close(), "Close after Shutdown")
}

func TestLifecycleShutdownDeadlineCutsAndWaits(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	c := ts.dialRaw(t, nil)
	ended := readUntilClosed(c)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the deadline has passed: whatever has not gone is cut
	require.ErrorIs(t, ts.h.Shutdown(ctx), context.Canceled)
	require.Zero(t, ts.h.Active(), "Shutdown waits for the cut connections too")
	require.Error(t, <-ended)
	requireRefused(t, ts)
}

func TestLifecycleCloseCutsAndWaits(t *testing.T) {
	gone := make(disconnects, 4)
	ts := newTestServer(t, &Options{Logger: slog.New(gone)}, nil)
	var ended []<-chan error
	for range 2 {
		c := ts.dialRaw(t, nil)
		c.send(`{"type":"subscribe","id":"s","filter":"a"}`)
		c.expect("subscribed", "s")
		ended = append(ended, readUntilClosed(c))
	}
	require.Equal(t, 2, ts.h.Active())

	require.NoError(t, ts.h.Close())
	require.Zero(t, ts.h.Active(), "Close returns once every connection has ended")
	for _, e := range ended {
		err := <-e
		require.Error(t, err)
		require.False(t, errors.Is(err, context.DeadlineExceeded), "the connection was not cut: %v", err)
		require.Equal(t, websocket.StatusCode(-1), websocket.CloseStatus(err), "a cut sends no close frame: %v", err)
	}
	for range 2 {
		require.Equal(t, cutReason, <-gone)
	}
	requireRefused(t, ts)

	require.NoError(t, ts.h.Close(), "idempotent")
	require.NoError(t, ts.h.Shutdown(context.Background()), "Shutdown after Close")
}

func TestLifecycleActiveCounts(t *testing.T) {
	gone := make(disconnects, 4)
	ts := newTestServer(t, &Options{Logger: slog.New(gone)}, nil)
	require.Zero(t, ts.h.Active())
	a := ts.dialRaw(t, nil)
	b := ts.dialRaw(t, nil)
	require.Equal(t, 2, ts.h.Active())

	require.NoError(t, a.c.Close(websocket.StatusNormalClosure, ""))
	<-gone // logged after the connection left
	require.Equal(t, 1, ts.h.Active())

	b.send(`{"type":"ping","id":"x"}`)
	b.expect("pong", "x")
	require.NoError(t, ts.h.Close())
	require.Zero(t, ts.h.Active())
}

func TestLifecycleShutdownAndCloseTogether(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	var ended []<-chan error
	for range 4 {
		ended = append(ended, readUntilClosed(ts.dialRaw(t, nil)))
	}
	shut := make(chan error, 1)
	go func() { shut <- ts.h.Shutdown(context.Background()) }()
	require.NoError(t, ts.h.Close())
	require.NoError(t, <-shut)
	require.Zero(t, ts.h.Active())
	for _, e := range ended {
		require.Error(t, <-e)
	}
	requireRefused(t, ts)
}
