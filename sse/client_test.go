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
// mid-batch as a broken connection does.
type cutWriter struct {
	http.ResponseWriter
	left int // events still to write
}

var errCut = errors.New("connection cut")

func (w *cutWriter) Write(p []byte) (int, error) {
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
// on one stream while publishers run concurrently. The client sees
// strictly increasing cursors, each matching message once, across the
// reconnects that server-side drops and overflows (a small buffer) cause:
// a resume from its sticky Last-Event-ID loses nothing. Merging one
// subscription per filter could send a later cursor before an earlier one
// of another filter, which the resume then skipped.
func TestClientManyFiltersConcurrentPublishers(t *testing.T) {
	b, h, _ := setup(t, pubsub.MemoryOptions{}, &Options{Buffer: 8, Retry: time.Millisecond})
	const maxPerConn = 40 // events a connection carries at most
	var reqs atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := reqs.Add(1)
		h.ServeHTTP(&cutWriter{ResponseWriter: w, left: maxPerConn - int(n%7)*5}, r)
	}))
	defer proxy.Close()

	const per = 400
	topics := []string{"a/1", "a/2", "b", "c"} // a/2 matches a/# and a/2; c matches nothing
	want := make(map[string]bool)
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	var startOnce sync.Once
	begin := func() { startOnce.Do(func() { close(start) }) }
	defer begin() // publishers never wait forever
	for _, topic := range topics {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range per {
				r, err := b.Publish(context.Background(), pubsub.Message{Topic: topic, Data: []byte(fmt.Sprint(i))})
				if err != nil {
					t.Error(err)
					return
				}
				if topic != "c" {
					mu.Lock()
					want[r.Cursor] = true
					mu.Unlock()
				}
			}
		}()
	}
	defer wg.Wait()

	c := &Client{URL: proxy.URL + "?topic=a/%23&topic=a/2&topic=b", Retry: time.Millisecond, MaxRetry: 10 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
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
		// Every matching message between the previous event and this one
		// is already in history: none may have been skipped.
		for _, f := range []string{"a/#", "b"} {
			p, err := b.History(ctx, f, pubsub.HistoryOptions{Since: prevID, Limit: 1})
			if err != nil {
				return err
			}
			if len(p.Messages) > 0 && p.Messages[0].Cursor != ev.ID && mustCursor(t, p.Messages[0].Cursor).Seq < cur.Seq {
				return fmt.Errorf("%s lost: the client got %s after %s", p.Messages[0].Cursor, ev.ID, prevID)
			}
		}
		prev, prevID = cur, ev.ID
		got = append(got, ev.ID)
		if len(got) == 3*per {
			return errDone
		}
		return nil
	})
	require.ErrorIs(t, err, errDone)
	wg.Wait()
	require.Len(t, want, 3*per)
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
