package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/switchboard-go/switchboard/sse"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func start(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), io.Discard, func(a string) { addrc <- a })
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	select {
	case a := <-addrc:
		return "http://" + a
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start")
	}
	return ""
}

// stream runs an SSE client in the background and returns its events; it
// stops when the returned func is called, which waits for it.
func stream(t *testing.T, url, lastID string) (<-chan sse.Event, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan sse.Event, 1024)
	done := make(chan struct{})
	c := &sse.Client{URL: url, LastEventID: lastID}
	go func() {
		defer close(done)
		_ = c.Run(ctx, func(e sse.Event) error {
			select {
			case ch <- e:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return ch, stop
}

// next returns the next update or alert event.
func next(t *testing.T, ch <-chan sse.Event) sse.Event {
	t.Helper()
	for {
		select {
		case e := <-ch:
			if e.Type == "update" || e.Type == "alert" {
				return e
			}
			if e.Type == "sb-reset" {
				t.Fatalf("unexpected reset: %s", e.Data)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no event within 10s")
		}
	}
}

func TestResumeLosesNothing(t *testing.T) {
	base := start(t, "-interval", "5ms", "-alert-pct", "0.5", "-symbols", "ACME,GLOBEX")
	url := base + "/events?topic=ticker/%23"

	// A reference stream that stays open the whole time.
	ref, _ := stream(t, url, "")
	first := next(t, ref)

	// A second stream reads a few events, then drops.
	b, stopB := stream(t, url, "")
	var last sse.Event
	for range 5 {
		last = next(t, b)
	}
	stopB()

	// The reference stream passes where B stopped and keeps going while
	// B is away.
	var want []sse.Event
	seen := first.ID == last.ID
	for n := 0; len(want) < 30; n++ {
		require.Less(t, n, 10000, "the reference stream never passed B's last event %s", last.ID)
		e := next(t, ref)
		if seen {
			want = append(want, e)
		}
		seen = seen || e.ID == last.ID
	}

	// B comes back with its Last-Event-ID and gets exactly what it missed.
	c, _ := stream(t, url, last.ID)
	types := map[string]int{}
	for i, w := range want {
		got := next(t, c)
		require.Equal(t, w, got, "event %d after the resume point", i)
		types[got.Type]++

		if got.Type == "update" {
			var q Quote
			require.NoError(t, json.Unmarshal([]byte(got.Data), &q))
			require.NotEmpty(t, q.Symbol)
			require.Positive(t, q.Price)
		}
	}
	require.Positive(t, types["update"], "update events")
	require.Positive(t, types["alert"], "alert events (alert-pct is 0.5%% with 1%% volatility)")
}

func TestPage(t *testing.T) {
	base := start(t)
	resp, err := http.Get(base + "/")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(body), `addEventListener("alert"`)

	resp, err = http.Get(base + "/events?topic=ticker/%2B%2B")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "an invalid filter is refused")
}
