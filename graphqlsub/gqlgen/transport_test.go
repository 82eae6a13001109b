package gqlgen_test

import (
	"bufio"
	"bytes"
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

	"github.com/switchboard-go/switchboard/examples/gqlgenchat/chat"
	"github.com/switchboard-go/switchboard/graphqlsub"
	"github.com/switchboard-go/switchboard/graphqlsub/gqlgen"
	"github.com/switchboard-go/switchboard/pubsub"
)

// smallBuffers gives every accepted connection a small kernel send buffer
// (and the test's client a small receive buffer), so that a client that
// stops reading blocks the server's writes after tens of KiB instead of
// tens of MiB: about 50 events of 1 KiB here, far below the 700 spare.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(16 << 10)
	}
	return c, err
}

// sseEvents reads a GraphQL over SSE stream: the data of each next event,
// and "" for complete.
type sseEvents struct {
	s *bufio.Scanner
}

func (e *sseEvents) next(t *testing.T) (data string, complete bool) {
	t.Helper()
	var event string
	for e.s.Scan() {
		line := e.s.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = line[len("event: "):]
		case strings.HasPrefix(line, "data:"):
			if event == "complete" {
				return "", true
			}
			return strings.TrimPrefix(line, "data: "), false
		}
	}
	t.Fatalf("stream ended without complete: %v", e.s.Err())
	return "", false
}

// The whole chain over a real transport: a GraphQL over SSE client that
// stops reading blocks the Handler's writes, which stops gqlgen pulling
// events, which leaves them in Stream's bounded broker subscription until
// it overflows. The client then gets, in order and without a hole, what was
// delivered, an event with slow_consumer and the last cursor it received,
// and complete; resuming from that cursor yields exactly the rest.
func TestSlowSSEClientOverTheHandler(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	h := graphqlsub.NewHandler(gqlgen.New(chat.New(b, nil), nil), nil)
	defer h.Close()
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = smallBuffers{srv.Listener}
	srv.Start()
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetReadBuffer(64 << 10)
			}
			return c, err
		},
	}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	open := func(since string) (*sseEvents, func()) {
		body, err := json.Marshal(map[string]any{
			"query":     `subscription S($s: String) { messageAdded(roomId: "r", since: $s) { content cursor } }`,
			"variables": map[string]any{"s": since},
		})
		require.NoError(t, err)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		resp, err := client.Do(req)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		return &sseEvents{s: bufio.NewScanner(resp.Body)}, func() { resp.Body.Close() }
	}
	msg := func(d string) (content, cursor string) {
		var r struct {
			Data struct {
				MessageAdded struct{ Content, Cursor string }
			}
		}
		require.NoError(t, json.Unmarshal([]byte(d), &r), d)
		return r.Data.MessageAdded.Content, r.Data.MessageAdded.Cursor
	}

	marker := publish(t, b, "other", "marker")
	publish(t, b, "r", "0")
	events, done := open(marker.Cursor)
	defer done()
	d, _ := events.next(t) // the subscription is live
	c, last := msg(d)
	require.Equal(t, "0", c)

	// Far more than the subscription buffer, the blocked write and the
	// small socket buffers hold, while the client reads nothing.
	const n = 1000
	pad := strings.Repeat(".", 1000)
	for i := 1; i < n; i++ {
		publish(t, b, "r", fmt.Sprintf("%d%s", i, pad))
	}

	got := 1
	var end map[string]any
	for {
		d, complete := events.next(t)
		if complete {
			break
		}
		require.Nil(t, end, "an event after the end")
		if strings.Contains(d, `"errors"`) {
			var r struct{ Errors []graphqlsub.Error }
			require.NoError(t, json.Unmarshal([]byte(d), &r))
			require.Len(t, r.Errors, 1, d)
			end = r.Errors[0].Extensions
			continue
		}
		c, cur := msg(d)
		require.Equal(t, fmt.Sprintf("%d%s", got, pad), c)
		got++
		last = cur
	}
	require.Equal(t, map[string]any{"code": graphqlsub.CodeSlowConsumer, "cursor": last}, end)
	require.Less(t, got, n)
	done()

	events, done = open(last)
	defer done()
	for ; got < n; got++ {
		d, complete := events.next(t)
		require.False(t, complete)
		c, _ := msg(d)
		require.Equal(t, fmt.Sprintf("%d%s", got, pad), c)
	}
}

// TestSharedSubscriptionOverTheHandler: with Options.ShareSubscriptions,
// gqlgen runs one subscription for three GraphQL over SSE clients of the
// same live document, and each of them gets every message once, in order.
func TestSharedSubscriptionOverTheHandler(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	h := graphqlsub.NewHandler(gqlgen.New(chat.New(b, nil), nil), &graphqlsub.Options{
		ShareSubscriptions: func(context.Context, *graphqlsub.Request) bool { return true },
	})
	defer h.Close()
	srv := httptest.NewServer(h)
	defer srv.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	type delivery struct {
		client  int
		content string
	}
	got := make(chan delivery, 64)
	body := `{"query":"subscription { messageAdded(roomId: \"r\") { content } }"}`
	for i := range 3 {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		wg.Go(func() {
			defer resp.Body.Close()
			events := &sseEvents{s: bufio.NewScanner(resp.Body)}
			for events.s.Scan() {
				line, ok := strings.CutPrefix(events.s.Text(), "data: ")
				if !ok {
					continue
				}
				var r struct {
					Data struct{ MessageAdded struct{ Content string } }
				}
				_ = json.Unmarshal([]byte(line), &r)
				select {
				case got <- delivery{i, r.Data.MessageAdded.Content}:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	// The streams answer before they subscribe: publish probes until each
	// one got one.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for seen := map[int]bool{}; len(seen) < 3; {
		select {
		case d := <-got:
			seen[d.client] = true
		case <-tick.C:
			publish(t, b, "r", "probe")
		case <-ctx.Done():
			t.Fatal("not every stream live within 30 s")
		}
	}
	for _, c := range []string{"m1", "m2", "m3"} {
		publish(t, b, "r", c)
	}
	contents := map[int][]string{}
	for n := 0; n < 9; {
		select {
		case d := <-got:
			if d.content != "probe" {
				contents[d.client] = append(contents[d.client], d.content)
				n++
			}
		case <-ctx.Done():
			t.Fatalf("missing messages: %v", contents)
		}
	}
	for i := range 3 {
		require.Equal(t, []string{"m1", "m2", "m3"}, contents[i], "client %d", i)
	}
	cancel()
}
