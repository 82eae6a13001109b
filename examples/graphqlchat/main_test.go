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

type gqlResult struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []struct {
		Message string `json:"message"`
	} `json:"errors"`
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

// do runs a query or mutation and returns the named field of data.
func do(t *testing.T, url, query string, vars map[string]any, field string, v any) gqlResult {
	t.Helper()
	resp := post(t, context.Background(), url, query, vars, "application/json")
	defer resp.Body.Close()
	var res gqlResult
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&res))
	if v != nil {
		require.Empty(t, res.Errors)
		require.NoError(t, json.Unmarshal(res.Data[field], v))
	}
	return res
}

// subscribe opens a GraphQL over SSE subscription and returns the "data"
// of each "next" event.
func subscribe(t *testing.T, url, query string, vars map[string]any) <-chan gqlResult {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	resp := post(t, ctx, url, query, vars, "text/event-stream")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream"))
	ch := make(chan gqlResult, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && event == "next":
				var r gqlResult
				if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &r) != nil {
					continue
				}
				select {
				case ch <- r:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	t.Cleanup(func() { cancel(); resp.Body.Close(); <-done })
	return ch
}

func next(t *testing.T, ch <-chan gqlResult, field string, v any) {
	t.Helper()
	select {
	case r, ok := <-ch:
		require.True(t, ok, "stream ended")
		require.Empty(t, r.Errors)
		require.NoError(t, json.Unmarshal(r.Data[field], v))
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
}

func TestPerRoomAndPerUserFiltering(t *testing.T) {
	url := start(t)
	const send = `mutation($room: ID!, $text: String!, $uid: ID!) {
	  sendMessage(roomId: $room, content: $text, sender: {id: $uid, name: "Ann"}) { id cursor }
	}`
	const status = `mutation($uid: ID!, $s: String!) { setStatus(userId: $uid, status: $s) { status } }`

	// A cursor to subscribe from, so the subscriptions see everything
	// published after it however long their setup takes.
	var first struct{ Cursor string }
	do(t, url, send, map[string]any{"room": "lobby", "text": "before", "uid": "u1"}, "sendMessage", &first)
	require.NotEmpty(t, first.Cursor)

	msgs := subscribe(t, url, `subscription($room: ID!, $since: String) {
	  messageAdded(roomId: $room, since: $since) { content sender { id name } timestamp cursor }
	}`, map[string]any{"room": "general", "since": first.Cursor})
	statuses := subscribe(t, url, `subscription($uid: ID!, $since: String) {
	  userStatusChanged(userId: $uid, since: $since) { userId status lastSeen }
	}`, map[string]any{"uid": "u2", "since": first.Cursor})

	do(t, url, send, map[string]any{"room": "lobby", "text": "not for general", "uid": "u1"}, "sendMessage", &struct{}{})
	do(t, url, send, map[string]any{"room": "general", "text": "hello general", "uid": "u1"}, "sendMessage", &struct{}{})
	do(t, url, status, map[string]any{"uid": "u1", "s": "AWAY"}, "setStatus", &struct{}{})
	do(t, url, status, map[string]any{"uid": "u2", "s": "ONLINE"}, "setStatus", &struct{}{})

	var m struct {
		MessageAdded struct {
			Content string
			Sender  struct{ ID, Name string }
			Cursor  string
		}
	}
	next(t, msgs, "messageAdded", &m.MessageAdded)
	require.Equal(t, "hello general", m.MessageAdded.Content, "only room general's messages")
	require.Equal(t, "u1", m.MessageAdded.Sender.ID)
	require.NotEmpty(t, m.MessageAdded.Cursor)

	var s struct{ UserID, Status, LastSeen string }
	next(t, statuses, "userStatusChanged", &s)
	require.Equal(t, "u2", s.UserID, "only user u2's changes")
	require.Equal(t, "ONLINE", s.Status)
	require.NotEmpty(t, s.LastSeen)

	// History answers the query, and bad input gets a clear error.
	var recent []struct{ Content string }
	do(t, url, `{ recentMessages(roomId: "lobby") { content } }`, nil, "recentMessages", &recent)
	require.Equal(t, []struct{ Content string }{{"before"}, {"not for general"}}, recent)
	res := do(t, url, status, map[string]any{"uid": "u1", "s": "SLEEPING"}, "", nil)
	require.Len(t, res.Errors, 1)
	require.Contains(t, res.Errors[0].Message, "want ONLINE, OFFLINE or AWAY")
	res = do(t, url, send, map[string]any{"room": "a/b", "text": "x", "uid": "u1"}, "", nil)
	require.Len(t, res.Errors, 1)
	require.Contains(t, res.Errors[0].Message, `invalid roomId "a/b"`)
}
