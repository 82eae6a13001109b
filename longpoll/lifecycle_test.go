package longpoll

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/switchboard-go/switchboard/pubsub"
)

// answer is how a poll made off the test goroutine ended.
type answer struct {
	status     int
	retryAfter string
	body       response
	err        error
}

// pollAsync polls u on its own goroutine; the answer arrives on the
// channel.
func pollAsync(u string) <-chan answer {
	ch := make(chan answer, 1)
	go func() {
		resp, err := http.Get(u)
		if err != nil {
			ch <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		a := answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
		if a.status == http.StatusOK {
			a.err = json.NewDecoder(resp.Body).Decode(&a.body)
		}
		ch <- a
	}()
	return ch
}

func requireRefused(t *testing.T, u string) {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "1", resp.Header.Get("Retry-After"))
}

// TestShutdownSendsGoAwayAndWaits: every held poll is answered at once
// with its cursor (the go-away: nothing is lost), and Shutdown returns
// once all have been answered.
func TestShutdownSendsGoAwayAndWaits(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	h := NewHandler(b, nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	start := poll(t, srv.URL+"?topic=t&timeout=0")
	a1 := pollAsync(srv.URL + "?topic=t&timeout=60&cursor=" + start.Cursor)
	a2 := pollAsync(srv.URL + "?topic=t&topic=u&timeout=60&cursor=" + start.Cursor)
	require.Eventually(t, func() bool { return h.Active() == 2 }, 5*time.Second, time.Millisecond)

	require.NoError(t, h.Shutdown(context.Background()))
	require.Equal(t, 0, h.Active(), "Shutdown returned before its polls")
	for _, ch := range []<-chan answer{a1, a2} {
		a := <-ch
		require.NoError(t, a.err)
		require.Equal(t, http.StatusOK, a.status)
		require.Empty(t, a.body.Messages)
		require.Equal(t, start.Cursor, a.body.Cursor)
		require.True(t, a.body.GoAway, "the answer says the server goes away")
	}
	requireRefused(t, srv.URL+"?topic=t")
	require.NoError(t, h.Shutdown(context.Background()))
	require.NoError(t, h.Close())
}

// TestCloseCutsAndWaits: Close answers held polls at once without their
// cursor (503, poll again later), returns once they are answered, and
// new polls are refused.
func TestCloseCutsAndWaits(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	h := NewHandler(b, nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	held := pollAsync(srv.URL + "?topic=t&timeout=60")
	require.Eventually(t, func() bool { return h.Active() == 1 }, 5*time.Second, time.Millisecond)

	require.NoError(t, h.Close())
	require.Equal(t, 0, h.Active(), "Close returned before its poll")
	a := <-held
	require.NoError(t, a.err)
	require.Equal(t, http.StatusServiceUnavailable, a.status, "a cut poll gets no cursor")
	require.Equal(t, "1", a.retryAfter)
	requireRefused(t, srv.URL+"?topic=t")
	require.NoError(t, h.Close())
	require.NoError(t, h.Shutdown(context.Background()))
}

// stuckBroker never answers a history read until its context ends: a
// poll that cannot answer the go-away signal.
type stuckBroker struct {
	*pubsub.Memory
	entered chan struct{}
}

func (b *stuckBroker) History(ctx context.Context, _ string, _ pubsub.HistoryOptions) (pubsub.HistoryPage, error) {
	b.entered <- struct{}{}
	<-ctx.Done()
	return pubsub.HistoryPage{}, ctx.Err()
}

// TestShutdownCutsWhenContextEnds: when ctx ends before a poll has been
// answered, Shutdown cuts it, waits for it and returns ctx's error.
func TestShutdownCutsWhenContextEnds(t *testing.T) {
	b := &stuckBroker{Memory: pubsub.NewMemory(nil), entered: make(chan struct{}, 1)}
	defer b.Close()
	h := NewHandler(b, nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	stuck := pollAsync(srv.URL + "?topic=t")
	<-b.entered
	require.Equal(t, 1, h.Active())

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, h.Shutdown(ctx), context.Canceled)
	require.Equal(t, 0, h.Active(), "Shutdown returned before the cut poll")
	a := <-stuck
	require.NoError(t, a.err)
	require.Equal(t, http.StatusServiceUnavailable, a.status)
	requireRefused(t, srv.URL+"?topic=t")
}

// TestShutdownAndCloseTogether: both may run at once, and both return
// only when the polls have been answered.
func TestShutdownAndCloseTogether(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	h := NewHandler(b, nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	held := pollAsync(srv.URL + "?topic=t&timeout=60")
	require.Eventually(t, func() bool { return h.Active() == 1 }, 5*time.Second, time.Millisecond)
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
	a := <-held
	require.NoError(t, a.err)
	require.Contains(t, []int{http.StatusOK, http.StatusServiceUnavailable}, a.status)
}
