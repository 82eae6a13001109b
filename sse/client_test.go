package sse

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
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
