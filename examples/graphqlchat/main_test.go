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
	return postAs(t, ctx, url, "", query, vars, accept)
}

// postAs is post with user as the Authorization header ("" sends none).
func postAs(t *testing.T, ctx context.Context, url, user, query string, vars map[string]any, accept string) *http.Response {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", accept)
	if user != "" {
		req.Header.Set("Authorization", user)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return resp
}

// do runs a query or mutation and returns the named field of data.
func do(t *testing.T, url, query string, vars map[string]any, field string, v any) gqlResult {
	t.Helper()
	return doAs(t, url, "", query, vars, field, v)
}

// doAs is do with user as the Authorization header.
func doAs(t *testing.T, url, user, query string, vars map[string]any, field string, v any) gqlResult {
	t.Helper()
	resp := postAs(t, context.Background(), url, user, query, vars, "application/json")
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
	const send = `mutation($room: ID!, $text: String!) {
	  addMessage(roomId: $room, content: $text) { id sender cursor }
	}`
	const status = `mutation($uid: ID!, $s: String!) { setStatus(userId: $uid, status: $s) { status } }`

	// A cursor to subscribe from, so the subscriptions see everything
	// published after it however long their setup takes.
	var first struct{ Cursor, Sender string }
	do(t, url, send, map[string]any{"room": "lobby", "text": "before"}, "addMessage", &first)
	require.NotEmpty(t, first.Cursor)
	require.Equal(t, "anonymous", first.Sender, "no Authorization: anonymous, as the guide's server does")

	msgs := subscribe(t, url, `subscription($room: ID!, $since: String) {
	  messageAdded(roomId: $room, since: $since) { roomId content sender timestamp cursor }
	}`, map[string]any{"room": "general", "since": first.Cursor})
	statuses := subscribe(t, url, `subscription($uid: ID!, $since: String) {
	  userStatusChanged(userId: $uid, since: $since) { userId status lastSeen }
	}`, map[string]any{"uid": "u2", "since": first.Cursor})

	doAs(t, url, "u1", send, map[string]any{"room": "lobby", "text": "not for general"}, "addMessage", &struct{}{})
	doAs(t, url, "u1", send, map[string]any{"room": "general", "text": "hello general"}, "addMessage", &struct{}{})
	do(t, url, status, map[string]any{"uid": "u1", "s": "AWAY"}, "setStatus", &struct{}{})
	doAs(t, url, "u2", `mutation { updateUserStatus(status: "ONLINE") { userId } }`, nil, "updateUserStatus", &struct{}{})

	var m struct {
		MessageAdded struct{ RoomID, Content, Sender, Cursor string }
	}
	next(t, msgs, "messageAdded", &m.MessageAdded)
	require.Equal(t, "hello general", m.MessageAdded.Content, "only room general's messages")
	require.Equal(t, "general", m.MessageAdded.RoomID)
	require.Equal(t, "u1", m.MessageAdded.Sender, "the sender is the caller's Authorization")
	require.NotEmpty(t, m.MessageAdded.Cursor)

	var s struct{ UserID, Status, LastSeen string }
	next(t, statuses, "userStatusChanged", &s)
	require.Equal(t, "u2", s.UserID, "only user u2's changes")
	require.Equal(t, "ONLINE", s.Status)
	require.NotEmpty(t, s.LastSeen)

	// History answers the queries (the guide's messages and userStatus,
	// and recentMessages), and bad input gets a clear error.
	var recent []struct{ Content, Sender string }
	do(t, url, `{ recentMessages(roomId: "lobby") { content sender } }`, nil, "recentMessages", &recent)
	require.Equal(t, []struct{ Content, Sender string }{{"before", "anonymous"}, {"not for general", "u1"}}, recent)
	do(t, url, `query($r: ID!) { messages(roomId: $r) { id content sender timestamp } }`, map[string]any{"r": "lobby"}, "messages", &recent)
	require.Len(t, recent, 2)
	var empty []struct{ ID string }
	do(t, url, `{ messages(roomId: "nobody-here") { id } }`, nil, "messages", &empty)
	require.NotNil(t, empty)
	require.Empty(t, empty)
	var st *struct{ Status string }
	do(t, url, `{ userStatus(userId: "u1") { status lastSeen } }`, nil, "userStatus", &st)
	require.Equal(t, "AWAY", st.Status)
	do(t, url, `{ userStatus(userId: "u9") { status } }`, nil, "userStatus", &st)
	require.Nil(t, st)

	res := do(t, url, status, map[string]any{"uid": "u1", "s": "SLEEPING"}, "", nil)
	require.Len(t, res.Errors, 1)
	require.Contains(t, res.Errors[0].Message, "want ONLINE, OFFLINE or AWAY")
	res = do(t, url, send, map[string]any{"room": "a/b", "text": "x"}, "", nil)
	require.Len(t, res.Errors, 1)
	require.Contains(t, res.Errors[0].Message, `invalid roomId "a/b"`)
	res = do(t, url, `mutation { updateUserStatus(status: "ONLINE") { userId } }`, nil, "", nil)
	require.Len(t, res.Errors, 1)
	require.Contains(t, res.Errors[0].Message, "not authenticated")
	resp := postAs(t, context.Background(), url, "a/b", `{ messages(roomId: "x") { id } }`, nil, "application/json")
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "a user id that cannot name a topic level is refused")
}
