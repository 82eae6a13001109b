package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/switchboard-go/switchboard/transport"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func start(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, io.Discard, func(a string) { addrc <- a }) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		http.DefaultClient.CloseIdleConnections()
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

type pollResponse struct {
	Messages []json.RawMessage `json:"messages"`
	Cursor   string            `json:"cursor"`
	Gap      bool              `json:"gap"`
}

func poll(t *testing.T, base, topic, cursor, timeout string, limit int) pollResponse {
	t.Helper()
	q := url.Values{"topic": {topic}, "cursor": {cursor}, "timeout": {timeout}}
	if limit > 0 {
		q.Set("limit", fmt.Sprint(limit))
	}
	resp, err := http.Get(base + "/poll?" + q.Encode())
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var pr pollResponse
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&pr))
	return pr
}

// TestEveryNotificationOnceInOrder publishes while the client polls in
// small batches: notifications published between two polls are exactly
// what the classic long-poll server loses.
func TestEveryNotificationOnceInOrder(t *testing.T) {
	base := start(t)
	const n = 40

	// Where "now" is: a poll without cursor that answers at once.
	cursor := poll(t, base, "notifications/ann", "", "0", 0).Cursor
	require.NotEmpty(t, cursor)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range n {
			for _, user := range []string{"ann", "bob"} {
				resp, err := http.Post(base+"/topics/notifications/"+user, "text/plain", strings.NewReader(fmt.Sprintf("%s #%d", user, i)))
				if err != nil {
					t.Errorf("publish: %v", err)
					return
				}
				resp.Body.Close()
			}
		}
	}()
	defer wg.Wait()

	var got []string
	deadline := time.Now().Add(15 * time.Second)
	for len(got) < n {
		require.True(t, time.Now().Before(deadline), "got %d of %d notifications", len(got), n)
		pr := poll(t, base, "notifications/ann", cursor, "5s", 7)
		require.False(t, pr.Gap)
		require.LessOrEqual(t, len(pr.Messages), 7)
		for _, raw := range pr.Messages {
			m, err := transport.DecodeEnvelope(raw)
			require.NoError(t, err)
			require.Equal(t, "notifications/ann", m.Topic)
			got = append(got, string(m.Data))
		}
		cursor = pr.Cursor
	}
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("ann #%d", i)
	}
	require.Equal(t, want, got)

	// Nothing more for ann (the cursor may move past bob's notifications).
	wg.Wait()
	pr := poll(t, base, "notifications/ann", cursor, "50ms", 0)
	require.Empty(t, pr.Messages)
	require.NotEmpty(t, pr.Cursor)
}

func TestBadRequests(t *testing.T) {
	base := start(t)
	for _, u := range []string{"/poll?topic=notifications/%2B%2B", "/poll", "/poll?topic=a&timeout=soon"} {
		resp, err := http.Get(base + u)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, u)
	}
}
