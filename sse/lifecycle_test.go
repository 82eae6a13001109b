package sse

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/switchboard-go/switchboard/pubsub"
)

// requireRefused checks the answer to a stream opened after Shutdown or
// Close: 200 with only retry:, so that EventSource comes back later (a
// 503 would stop it for good).
func requireRefused(t *testing.T, u string) {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	er := newEventReader(resp.Body, 0)
	_, err = er.next()
	require.ErrorIs(t, err, errEOF())
	require.Equal(t, DefaultRetry, er.retry)
}

// TestShutdownSendsGoAwayAndWaits: every open stream gets what was
// delivered to it, then ends (the go-away: the browser reconnects with
// Last-Event-ID); Shutdown returns once all have returned.
func TestShutdownSendsGoAwayAndWaits(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	h := NewHandler(b, nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	s1, s2 := open(t, srv.URL+"?topic=t", nil), open(t, srv.URL+"?topic=t&topic=u", nil)
	s1.next(t) // sb-open: both streams are running
	s2.next(t)
	require.Equal(t, 2, h.Active())

	r := publish(t, b, "t", "last", nil)
	require.NoError(t, h.Shutdown(context.Background()))
	require.Equal(t, 0, h.Active(), "Shutdown returned before its streams")
	for _, s := range []*rawStream{s1, s2} {
		require.Equal(t, Event{ID: r.Cursor, Data: "last"}, s.next(t))
		_, err := s.er.next()
		require.ErrorIs(t, err, errEOF())
	}
	requireRefused(t, srv.URL+"?topic=t")
	require.NoError(t, h.Shutdown(context.Background()))
	require.NoError(t, h.Close())
}

// TestCloseCutsAndWaits: Close ends every stream at once and returns once
// they have returned; new streams are refused like after Shutdown.
func TestCloseCutsAndWaits(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	h := NewHandler(b, nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	s := open(t, srv.URL+"?topic=t", nil)
	s.next(t)
	require.Equal(t, 1, h.Active())

	require.NoError(t, h.Close())
	require.Equal(t, 0, h.Active(), "Close returned before its stream")
	_, err := s.er.next()
	require.Error(t, err, "the stream goes on after Close")
	requireRefused(t, srv.URL+"?topic=t")
	require.NoError(t, h.Close())
	require.NoError(t, h.Shutdown(context.Background()))
}

// TestCloseCutsStalledStream: a client that stopped reading, with no
// WriteTimeout to end it, does not hold Close: the write in progress is
// failed.
func TestCloseCutsStalledStream(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	h := NewHandler(b, &Options{WriteTimeout: -1, Buffer: 4096})
	srv := httptest.NewServer(h)
	defer srv.Close()
	c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("GET /?topic=t HTTP/1.1\r\nHost: x\r\n\r\n"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return h.Active() == 1 }, 5*time.Second, time.Millisecond)
	// More than loopback TCP buffers hold, fewer messages than the
	// subscription buffer: the stream blocks in a write that nothing else
	// ends.
	payload := []byte(strings.Repeat("x", 64<<10))
	for range 300 {
		_, err := b.Publish(context.Background(), pubsub.Message{Topic: "t", Data: payload})
		require.NoError(t, err)
	}
	require.NoError(t, h.Close())
	require.Equal(t, 0, h.Active())
}

// stuckBroker never completes a subscription until its context ends: a
// stream that cannot answer the go-away signal.
type stuckBroker struct {
	*pubsub.Memory
	entered chan struct{}
}

func (b *stuckBroker) SubscribeMany(ctx context.Context, _ []string, _ *pubsub.SubscribeOptions) (pubsub.Subscription, error) {
	b.entered <- struct{}{}
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestShutdownCutsWhenContextEnds: when ctx ends before a stream has
// gone, Shutdown cuts it, waits for it and returns ctx's error.
func TestShutdownCutsWhenContextEnds(t *testing.T) {
	b := &stuckBroker{Memory: pubsub.NewMemory(nil), entered: make(chan struct{}, 1)}
	defer b.Close()
	h := NewHandler(b, nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	done := make(chan error, 1)
	go func() {
		resp, err := http.Get(srv.URL + "?topic=t")
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	<-b.entered
	require.Equal(t, 1, h.Active())

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, h.Shutdown(ctx), context.Canceled)
	require.Equal(t, 0, h.Active(), "Shutdown returned before the cut stream")
	require.Error(t, <-done, "a cut stream gets no answer")
	requireRefused(t, srv.URL+"?topic=t")
}

// TestShutdownAndCloseTogether: both may run at once, and both return
// only when the streams have.
func TestShutdownAndCloseTogether(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	h := NewHandler(b, nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	s := open(t, srv.URL+"?topic=t", nil)
	s.next(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			if i%2 == 0 {
				errs[i] = h.Shutdown(context.Background())
			} else {
				errs[i] = h.Close()
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 0, h.Active())
}
