package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func start(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, io.Discard, func(a string) { addrc <- a }) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	select {
	case a := <-addrc:
		return "http://" + a + "/graphql"
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start")
	}
	return ""
}

func post(t *testing.T, ctx context.Context, url, query string, vars map[string]any, accept string) *http.Response {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return resp
}

// send posts a message and returns its cursor.
func send(t *testing.T, url, room, content string) string {
	t.Helper()
	resp := post(t, context.Background(), url,
		`mutation M($r: ID!, $c: String!) { sendMessage(roomId: $r, sender: "ann", content: $c) { cursor } }`,
		map[string]any{"r": room, "c": content}, "application/json")
	defer resp.Body.Close()
	var res struct {
		Data   struct{ SendMessage struct{ Cursor string } }
		Errors []any
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&res))
	require.Empty(t, res.Errors)
	require.NotEmpty(t, res.Data.SendMessage.Cursor)
	return res.Data.SendMessage.Cursor
}

// The served schema over GraphQL over SSE: a subscription resumed after a
// cursor gets the rest of its room only, then live messages; introspection
// is on.
func TestServeSubscriptionResume(t *testing.T) {
	url := start(t)
	first := send(t, url, "general", "one")
	send(t, url, "lobby", "elsewhere")
	send(t, url, "general", "two")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp := post(t, ctx, url, `subscription S($s: String) { messageAdded(roomId: "general", since: $s) { content roomId } }`,
		map[string]any{"s": first}, "text/event-stream")
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	lines := bufio.NewScanner(resp.Body)
	next := func() string {
		for lines.Scan() {
			if d, ok := strings.CutPrefix(lines.Text(), "data: "); ok {
				return d
			}
		}
		t.Fatalf("stream ended: %v", lines.Err())
		return ""
	}
	require.JSONEq(t, `{"data":{"messageAdded":{"content":"two","roomId":"general"}}}`, next())
	send(t, url, "lobby", "not for general")
	send(t, url, "general", "three")
	require.JSONEq(t, `{"data":{"messageAdded":{"content":"three","roomId":"general"}}}`, next())

	r := post(t, context.Background(), url, `{ __type(name: "Message") { name } }`, nil, "application/json")
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	require.JSONEq(t, `{"data":{"__type":{"name":"Message"}}}`, string(b))
}
