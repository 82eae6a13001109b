package graphqlsub_test

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSSESingleConnection(t *testing.T) {
	e := newEnv(t, nil)
	start := e.publish(t, "one/a", "zero")
	e.publish(t, "one/a", "first")

	// Reserve.
	status, _, token := do(t, "PUT", e.url, "", "", "")
	require.Equal(t, http.StatusCreated, status)
	require.Len(t, token, 32)

	with := func(method, u, body string) *http.Request {
		req, err := http.NewRequest(method, u, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("X-GraphQL-Event-Stream-Token", token)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		return req
	}
	send := func(req *http.Request) (int, string) {
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	// An operation before the stream opens is queued for it.
	sub := `{"query":"subscription($s: String) { messages(filter: \"one/#\", since: $s) { data } }","variables":{"s":"` + start.Cursor + `"},"extensions":{"operationId":"s1"}}`
	status, body := send(with("POST", e.url, sub))
	require.Equal(t, http.StatusAccepted, status, body)
	status, _ = send(with("POST", e.url, sub))
	require.Equal(t, http.StatusConflict, status, "duplicate operation id")
	status, _ = send(with("POST", e.url, `{"query":"{ messages(topic: \"x\") { id } }"}`))
	require.Equal(t, http.StatusBadRequest, status, "missing operation id")

	// Open the stream.
	sreq := with("GET", e.url, "")
	sreq.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(sreq)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	status, _ = send(sreq.Clone(sreq.Context()))
	require.Equal(t, http.StatusConflict, status, "a second stream for the token")

	br := bufio.NewReader(resp.Body)
	event := func() string {
		var lines []string
		for {
			l, err := br.ReadString('\n')
			require.NoError(t, err)
			if l == "\n" {
				return strings.Join(lines, "|")
			}
			lines = append(lines, strings.TrimSuffix(l, "\n"))
		}
	}
	require.Equal(t, `event: next|data: {"id":"s1","payload":{"data":{"messages":{"data":"first"}}}}`, event())
	e.publish(t, "one/b", "live")
	require.Equal(t, `event: next|data: {"id":"s1","payload":{"data":{"messages":{"data":"live"}}}}`, event())

	// A query on the same stream: next, complete.
	status, _ = send(with("POST", e.url, `{"query":"{ messages(topic: \"one/b\") { data } }","extensions":{"operationId":"q1"}}`))
	require.Equal(t, http.StatusAccepted, status)
	require.Equal(t, `event: next|data: {"id":"q1","payload":{"data":{"messages":[{"data":"live"}]}}}`, event())
	require.Equal(t, `event: complete|data: {"id":"q1"}`, event())

	// Stop s1; a later query proves nothing more comes for it.
	status, _ = send(with("DELETE", e.url+"?operationId=s1", ""))
	require.Equal(t, http.StatusOK, status)
	e.publish(t, "one/c", "after stop")
	status, _ = send(with("POST", e.url, `{"query":"{ messages(topic: \"none\") { data } }","extensions":{"operationId":"q2"}}`))
	require.Equal(t, http.StatusAccepted, status)
	require.Equal(t, `event: next|data: {"id":"q2","payload":{"data":{"messages":[]}}}`, event())

	// Unknown tokens.
	req := with("POST", e.url, sub)
	req.Header.Set("X-GraphQL-Event-Stream-Token", "nope")
	status, _ = send(req)
	require.Equal(t, http.StatusNotFound, status)
}
