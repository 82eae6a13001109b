package graphqlsub_test

import (
	"bufio"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/graphqlsub"
	"github.com/switchboard-go/switchboard/transport"
)

func do(t *testing.T, method, u, ctype, accept, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	require.NoError(t, err)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(b)
}

func TestHTTP(t *testing.T) {
	e := newEnv(t, &graphqlsub.Options{Limits: transport.Limits{MaxMessageBytes: 1024}})
	const js, gr = "application/json", "application/graphql-response+json"
	pub := `{"query":"mutation($t: String!, $d: String!) { publish(topic: $t, data: $d) { topic data } }","variables":{"t":"a/b","d":"x"}}`
	getQ := url.Values{"query": {`{ messages(topic: "a/#") { topic data } }`}}.Encode()
	getM := url.Values{"query": {`mutation { publish(topic: "a", data: "x") { id } }`}}.Encode()

	for _, tc := range []struct {
		name, method, ctype, accept, body, query string
		status                                   int
		media, contains                          string
	}{
		{"post mutation", "POST", js, "", pub, "", 200, js, `{"data":{"publish":{"topic":"a/b","data":"x"}}}`},
		{"get query", "GET", "", gr, "", getQ, 200, gr, `{"data":{"messages":[{"topic":"a/b","data":"x"}]}}`},
		{"get mutation", "GET", "", "", "", getM, 405, js, "mutations need POST"},
		{"validation error graphql-response", "POST", js, gr, `{"query":"{ nope }"}`, "", 400, gr, `"errors"`},
		{"validation error json", "POST", js, js, `{"query":"{ nope }"}`, "", 200, js, `"errors"`},
		{"syntax error", "POST", js, gr, `{"query":"{"}`, "", 400, gr, `"errors"`},
		{"field error keeps 200", "POST", js, gr, `{"query":"{ messages(topic: \"a/#/b\") { id } }"}`, "", 200, gr, `"data":null`},
		{"subscription over plain http", "POST", js, "", `{"query":"subscription { messages(filter: \"a\") { id } }"}`, "", 400, js, "subscriptions need"},
		{"bad json", "POST", js, "", `{"query":`, "", 400, js, "bad_request"},
		{"query not a string", "POST", js, "", `{"query":1}`, "", 400, js, "query"},
		{"variables not an object", "POST", js, "", `{"query":"{a}","variables":[1]}`, "", 400, js, "variables"},
		{"wrong content type", "POST", "text/plain", "", pub, "", 415, js, "Content-Type"},
		{"too large", "POST", js, "", `{"query":"` + strings.Repeat("a", 2000) + `"}`, "", 413, js, "too_large"},
		{"not acceptable", "POST", js, "text/html", pub, "", 406, js, "Accept"},
		{"missing query", "GET", "", "", "", "", 400, js, "query parameter"},
		{"bad method", "PATCH", js, "", pub, "", 405, js, "method"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := e.url
			if tc.query != "" {
				u += "?" + tc.query
			}
			status, h, body := do(t, tc.method, u, tc.ctype, tc.accept, tc.body)
			require.Equal(t, tc.status, status, body)
			require.True(t, strings.HasPrefix(h.Get("Content-Type"), tc.media), h.Get("Content-Type"))
			require.Contains(t, body, tc.contains)
		})
	}
}

// readSSE returns the events of a text/event-stream body as "type data".
func readSSE(t *testing.T, r io.Reader) []string {
	t.Helper()
	var out []string
	var typ, data string
	hasData := false
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if hasData {
				out = append(out, strings.TrimSpace(typ+" "+data))
			}
			typ, data, hasData = "", "", false
		case strings.HasPrefix(line, "event:"):
			typ = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data = strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")
			hasData = true
		}
	}
	return out
}

func TestSSE(t *testing.T) {
	e := newEnv(t, nil)
	start := e.publish(t, "s/1", "zero")
	e.publish(t, "s/1", "one")
	e.publish(t, "s/2", "two")

	// A query over SSE: next, then complete with an (empty) data field.
	req, _ := http.NewRequest("POST", e.url, strings.NewReader(`{"query":"{ messages(topic: \"s/#\", limit: 1) { data } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "text/event-stream; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Equal(t, []string{`next {"data":{"messages":[{"data":"zero"}]}}`, "complete"}, readSSE(t, resp.Body))
	resp.Body.Close()

	// Validation errors go inside the stream, with status 200.
	req, _ = http.NewRequest("GET", e.url+"?query="+url.QueryEscape("subscription { nope }"), nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	ev := readSSE(t, resp.Body)
	resp.Body.Close()
	require.Len(t, ev, 2)
	require.Contains(t, ev[0], `next {"errors":[`)
	require.Equal(t, "complete", ev[1])

	// A subscription streams events until the client goes away.
	q := url.Values{"query": {subQuery}, "variables": {`{"f":"s/#","s":"` + start.Cursor + `"}`}}
	req, _ = http.NewRequest("GET", e.url+"?"+q.Encode(), nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for _, want := range []string{`"data":"one"`, `"data":"two"`} {
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "event: next\n", line)
		line, err = br.ReadString('\n')
		require.NoError(t, err)
		require.Contains(t, line, want)
		line, _ = br.ReadString('\n')
		require.Equal(t, "\n", line)
	}
}

// noFlush is a middleware's ResponseWriter without Flush or Unwrap.
type noFlush struct{ http.ResponseWriter }

// TestSSEBehindMiddlewareWithoutFlush: GraphQL over SSE behind a wrapper
// that cannot flush answers 500 naming the problem, with a Warn log,
// instead of a stream that ends at once: in distinct connections mode and
// for the stream of single connection mode.
func TestSSEBehindMiddlewareWithoutFlush(t *testing.T) {
	var logs lockedLog
	e := newEnv(t, &graphqlsub.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.h.ServeHTTP(noFlush{w}, r)
	}))
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(`{"query":"{ messages(topic: \"s/#\", limit: 1) { data } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	require.Contains(t, string(body), "cannot flush")
	require.Contains(t, logs.String(), "level=WARN")
	require.Contains(t, logs.String(), "cannot flush")

	// Single connection mode: reserve, then open the stream.
	status, _, token := do(t, "PUT", srv.URL, "", "", "")
	require.Equal(t, http.StatusCreated, status)
	req, _ = http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("X-GraphQL-Event-Stream-Token", token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	require.Contains(t, string(body), "cannot flush")
	require.Equal(t, 2, strings.Count(logs.String(), "cannot flush"))
}

// lockedLog collects log output written by handler goroutines.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
