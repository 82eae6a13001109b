package sse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/switchboard-go/switchboard/pubsub"
)

var errDone = errors.New("done")

// TestClientSurvivesSlowConsumerWithoutLoss makes a client stop reading
// while many large messages are published: its subscription overflows, the
// server ends the stream after the last delivered event, and the client
// reconnects with Last-Event-ID and gets every message exactly once, in
// order.
func TestClientSurvivesSlowConsumerWithoutLoss(t *testing.T) {
	b, h, _ := setup(t, pubsub.MemoryOptions{}, &Options{Buffer: 4, Retry: 10 * time.Millisecond})
	const n = 200
	payload := strings.Repeat("x", 32<<10)
	release := make(chan struct{})
	ready := make(chan struct{})
	var got []string
	var connects atomic.Int32
	var reqs atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqs.Add(1)
		h.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	c := &Client{URL: proxy.URL + "?topic=t"}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		errc <- c.Run(ctx, func(ev Event) error {
			if ev.Type == "sb-open" {
				if connects.Add(1) == 1 {
					close(ready)
					<-release // stop reading while the publisher floods
				}
				return nil
			}
			if ev.Type != "" {
				return fmt.Errorf("unexpected event %+v", ev)
			}
			i, _, _ := strings.Cut(ev.Data, ":")
			got = append(got, i)
			if len(got) == n {
				return errDone
			}
			return nil
		})
	}()
	<-ready
	for i := range n {
		publish(t, b, "t", fmt.Sprintf("%d:%s", i, payload), nil)
	}
	close(release)
	require.ErrorIs(t, <-errc, errDone)
	for i := range n {
		require.Equal(t, fmt.Sprint(i), got[i])
	}
	require.Equal(t, int32(1), connects.Load(), "a resumed stream sends no sb-open")
	require.Greater(t, reqs.Load(), int32(1), "the slow client was disconnected and resumed")
	require.Eventually(t, func() bool { return h.Active() == 0 }, 5*time.Second, 5*time.Millisecond)
}

func TestClientStopsOnFatalStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/html":
			w.Header().Set("Content-Type", "text/html")
		default:
			http.Error(w, "nope", http.StatusForbidden)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	var se *StatusError
	err := (&Client{URL: srv.URL + "/403"}).Run(ctx, func(Event) error { return nil })
	require.ErrorAs(t, err, &se)
	require.Equal(t, 403, se.StatusCode)
	err = (&Client{URL: srv.URL + "/204"}).Run(ctx, func(Event) error { return nil })
	require.ErrorAs(t, err, &se)
	require.Equal(t, 204, se.StatusCode)
	err = (&Client{URL: srv.URL + "/html"}).Run(ctx, func(Event) error { return nil })
	require.ErrorIs(t, err, ErrNotEventStream)
}

func TestClientRetriesServerErrors(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case 2:
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "retry: 1\nid: 7\ndata: a\n\n")
		default:
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprintf(w, "data: b%s\n\n", r.Header.Get("Last-Event-ID"))
		}
	}))
	defer srv.Close()
	var got []Event
	err := (&Client{URL: srv.URL, Retry: time.Millisecond}).Run(context.Background(), func(ev Event) error {
		got = append(got, ev)
		if len(got) == 2 {
			return errDone
		}
		return nil
	})
	require.ErrorIs(t, err, errDone)
	require.Equal(t, []Event{{ID: "7", Data: "a"}, {ID: "7", Data: "b7"}}, got)
}

func TestClientStopsOnContext(t *testing.T) {
	_, _, srv := setup(t, pubsub.MemoryOptions{}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	err := (&Client{URL: srv.URL + "?topic=t"}).Run(ctx, func(ev Event) error {
		cancel()
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)
}

// cutWriter drops a stream from the server side: it writes the first
// events of a connection (everything up to a blank line counts), then fails
// mid-batch as a broken connection does. With stall set, its second write
// (the first after sb-open) closes stalled and waits for release: the
// stream stops reading its subscription meanwhile.
type cutWriter struct {
	http.ResponseWriter
	left    int // events still to write
	writes  int
	stall   bool
	stalled chan<- struct{}
	release <-chan struct{}
}

var errCut = errors.New("connection cut")

func (w *cutWriter) Write(p []byte) (int, error) {
	if w.writes++; w.stall && w.writes == 2 {
		close(w.stalled)
		<-w.release
	}
	end := len(p)
	for i := 0; ; {
		j := bytes.Index(p[i:], []byte("\n\n"))
		if j < 0 {
			break
		}
		i += j + 2
		if w.left--; w.left == 0 {
			end = i
			break
		}
	}
	if w.left < 0 {
		return 0, errCut
	}
	n, err := w.ResponseWriter.Write(p[:end])
	if err == nil && end < len(p) {
		err = errCut
	}
	return n, err
}

func (w *cutWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestClientManyFiltersConcurrentPublishers: several overlapping filters
// on one stream. First the stream stalls while every filter overflows, each
// at another cursor; then publishers run concurrently through the rest of
// the stream (each keeps at most a window of messages ahead of the client)
// while the server drops connections. The client sees strictly increasing
// cursors, each matching message once and none skipped: every resume from
// its sticky Last-Event-ID loses nothing. Merged subscriptions, one per
// filter, sent messages past the cursor of the filter that overflowed
// first, so the resume skipped that filter's rest.
func TestClientManyFiltersConcurrentPublishers(t *testing.T) {
	const buffer = 8
	// KeepOnServer: cutWriter drops connections and stalls by intercepting
	// the ResponseWriter's writes, which a taken-over stream no longer
	// makes. TestTakeOverResumesAcrossCuts covers the same contract with
	// real connections on the default path.
	b, h, _ := setup(t, pubsub.MemoryOptions{}, &Options{Buffer: buffer, Retry: time.Millisecond, KeepOnServer: true})
	const maxPerConn = 40 // events a connection carries at most
	stalled, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	unstall := func() { releaseOnce.Do(func() { close(release) }) }
	var reqs atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := reqs.Add(1)
		h.ServeHTTP(&cutWriter{ResponseWriter: w, left: maxPerConn - int(n%7)*5,
			stall: n == 1, stalled: stalled, release: release}, r)
	}))
	defer proxy.Close()
	defer unstall() // before proxy.Close, should the test fail early
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	want := make(map[string]bool)
	var mu sync.Mutex
	pub := func(topic string) bool {
		r, err := b.Publish(context.Background(), pubsub.Message{Topic: topic})
		if err != nil {
			t.Error(err)
			return false
		}
		if topic != "c" {
			mu.Lock()
			want[r.Cursor] = true
			mu.Unlock()
		}
		return true
	}
	// The stall: one message the stream takes, then more than the buffer
	// on each topic in turn (a/2 matches a/# and a/2; c matches nothing).
	stall := func() error {
		defer unstall()
		pub("a/1")
		select {
		case <-stalled:
		case <-ctx.Done():
			return fmt.Errorf("the stream never took its first message: %w", ctx.Err())
		}
		for _, topic := range []string{"a/1", "c", "a/2", "b"} {
			for range buffer + 4 {
				pub(topic)
			}
		}
		return nil
	}
	const burst = 1 + 3*(buffer+4)

	const per, window = 400, 64
	credits := make(chan struct{}, window) // matching messages the client may lag behind
	for range window {
		credits <- struct{}{}
	}
	var wg sync.WaitGroup
	start, stop := make(chan struct{}), make(chan struct{})
	var startOnce sync.Once
	begin := func() { startOnce.Do(func() { close(start) }) }
	defer wg.Wait()
	defer close(stop)
	defer begin()
	for _, topic := range []string{"a/1", "a/2", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for range per {
				select {
				case <-credits:
				case <-stop:
					return
				}
				if !pub(topic) || (topic == "a/1" && !pub("c")) {
					return
				}
			}
		}()
	}

	c := &Client{URL: proxy.URL + "?topic=a/%23&topic=a/2&topic=b", Retry: time.Millisecond, MaxBackoff: 10 * time.Millisecond}
	var got []string
	var prev pubsub.Cursor
	prevID := ""
	opened := false
	err := c.Run(ctx, func(ev Event) error {
		switch ev.Type {
		case "sb-open":
			if opened {
				return fmt.Errorf("a second sb-open: a resume became a fresh stream")
			}
			opened = true
			prev, prevID = mustCursor(t, ev.ID), ev.ID
			if err := stall(); err != nil {
				return err
			}
			begin()
			return nil
		case "":
		default:
			return fmt.Errorf("unexpected event %+v", ev)
		}
		cur := mustCursor(t, ev.ID)
		if cur.Seq <= prev.Seq {
			return fmt.Errorf("cursor %s after %s: out of order or repeated", ev.ID, prevID)
		}
		// Every matching message before this one is in history by now:
		// none may have been skipped since the previous event.
		for _, f := range []string{"a/#", "b"} {
			p, err := b.History(ctx, f, pubsub.HistoryOptions{Since: prevID, Limit: 1})
			if err != nil {
				return err
			}
			if len(p.Messages) > 0 && mustCursor(t, p.Messages[0].Cursor).Seq < cur.Seq {
				return fmt.Errorf("%s lost: the client got %s after %s", p.Messages[0].Cursor, ev.ID, prevID)
			}
		}
		prev, prevID = cur, ev.ID
		got = append(got, ev.ID)
		select {
		case credits <- struct{}{}:
		default: // a stall message: it took no credit
		}
		if len(got) == burst+3*per {
			return errDone
		}
		return nil
	})
	require.ErrorIs(t, err, errDone)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, want, burst+3*per)
	for _, id := range got {
		require.True(t, want[id], "%s was not published on a matching topic", id)
	}
	require.GreaterOrEqual(t, reqs.Load(), int32(3*per/maxPerConn), "the stream was dropped and resumed")
	require.Eventually(t, func() bool { return h.Active() == 0 }, 5*time.Second, 5*time.Millisecond)
}

func mustCursor(t *testing.T, s string) pubsub.Cursor {
	t.Helper()
	c, err := pubsub.ParseCursor(s)
	require.NoError(t, err)
	return c
}
