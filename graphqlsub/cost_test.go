package graphqlsub_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/graphqlsub"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// aliasAttack is issue 13's query: 300 aliases of a history read of 1,000
// messages each, 14.6 KB of GraphQL.
func aliasAttack() string {
	var b strings.Builder
	b.WriteString("{")
	for i := range 300 {
		fmt.Fprintf(&b, ` a%d: messages(topic: "#", limit: 1000) { data }`, i)
	}
	b.WriteString(" }")
	return b.String()
}

// fill publishes n messages of 1 KiB of text.
func fill(t testing.TB, b pubsub.Broker, n int) {
	for i := range n {
		data := []byte(fmt.Sprintf("%04d%s", i, strings.Repeat("x", 1020)))
		_, err := b.Publish(context.Background(), pubsub.Message{Topic: "big/x", Data: data})
		require.NoError(t, err)
	}
}

// requireTooCostly checks a GraphQL errors array refusing the attack.
func requireTooCostly(t *testing.T, where string, errs json.RawMessage) {
	t.Helper()
	var e []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	}
	require.NoError(t, json.Unmarshal(errs, &e), "%s: %.300s", where, errs)
	require.Len(t, e, 1, "%s: %.300s", where, errs)
	require.Equal(t, "too_costly", e[0].Extensions["code"], "%s: %s", where, e[0].Message)
}

// The alias attack is refused before it runs, with a GraphQL request error
// (extensions.code "too_costly"), on every transport: GraphQL over HTTP
// (POST and GET), graphql-transport-ws, legacy graphql-ws, and GraphQL over
// SSE in both modes.
func TestAliasAttackRefusedOnEveryTransport(t *testing.T) {
	e := newEnv(t, nil)
	fill(t, e.broker, 200)
	attack := aliasAttack()
	params, err := json.Marshal(map[string]any{"query": attack})
	require.NoError(t, err)
	type result struct {
		Data   json.RawMessage `json:"data"`
		Errors json.RawMessage `json:"errors"`
	}

	t.Run("http post", func(t *testing.T) {
		status, _, body := do(t, "POST", e.url, "application/json", "application/graphql-response+json", string(params))
		require.Equal(t, http.StatusBadRequest, status, "%.300s", body)
		var r result
		require.NoError(t, json.Unmarshal([]byte(body), &r), "%.300s", body)
		require.Nil(t, r.Data)
		requireTooCostly(t, "POST", r.Errors)
	})
	t.Run("http get", func(t *testing.T) {
		status, _, body := do(t, "GET", e.url+"?query="+url.QueryEscape(attack), "", "application/json", "")
		require.Equal(t, http.StatusOK, status, "%.300s", body)
		var r result
		require.NoError(t, json.Unmarshal([]byte(body), &r), "%.300s", body)
		requireTooCostly(t, "GET", r.Errors)
	})
	t.Run("graphql-transport-ws", func(t *testing.T) {
		c := dial(t, e.url, graphqlsub.SubprotocolTransportWS)
		c.init(nil)
		c.send(subscribeMsg("a", attack, nil))
		m := c.read()
		require.Equal(t, "error", m.Type, "%.300s", m.Payload)
		requireTooCostly(t, "transport-ws", m.Payload)
	})
	t.Run("graphql-ws", func(t *testing.T) {
		c := dial(t, e.url, graphqlsub.SubprotocolLegacyWS)
		c.send(map[string]any{"type": "connection_init"})
		require.Equal(t, "connection_ack", c.read().Type)
		c.send(map[string]any{"type": "start", "id": "a", "payload": map[string]any{"query": attack}})
		m := c.read()
		for m.Type == "ka" {
			m = c.read()
		}
		require.Equal(t, "data", m.Type, "%.300s", m.Payload)
		var r result
		require.NoError(t, json.Unmarshal(m.Payload, &r))
		requireTooCostly(t, "graphql-ws", r.Errors)
	})
	t.Run("sse", func(t *testing.T) {
		req, err := http.NewRequest("POST", e.url, bytes.NewReader(params))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		ev := readSSE(t, resp.Body)
		require.Len(t, ev, 2)
		require.Equal(t, "complete", ev[1])
		var r result
		require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(ev[0], "next ")), &r), "%.300s", ev[0])
		requireTooCostly(t, "sse", r.Errors)
	})
	t.Run("sse single connection", func(t *testing.T) {
		status, _, token := do(t, "PUT", e.url, "", "", "")
		require.Equal(t, http.StatusCreated, status)
		sreq, err := http.NewRequest("GET", e.url, nil)
		require.NoError(t, err)
		sreq.Header.Set("X-GraphQL-Event-Stream-Token", token)
		sreq.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(sreq)
		require.NoError(t, err)
		defer resp.Body.Close()
		op, err := json.Marshal(map[string]any{"query": attack, "extensions": map[string]any{"operationId": "q"}})
		require.NoError(t, err)
		req, err := http.NewRequest("POST", e.url, bytes.NewReader(op))
		require.NoError(t, err)
		req.Header.Set("X-GraphQL-Event-Stream-Token", token)
		req.Header.Set("Content-Type", "application/json")
		presp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		presp.Body.Close()
		require.Equal(t, http.StatusAccepted, presp.StatusCode)
		br := bufio.NewReader(resp.Body)
		for {
			l, err := br.ReadString('\n')
			require.NoError(t, err)
			if data, ok := strings.CutPrefix(l, "data: "); ok {
				var m struct {
					ID      string `json:"id"`
					Payload result `json:"payload"`
				}
				require.NoError(t, json.Unmarshal([]byte(data), &m), "%.300s", data)
				require.Equal(t, "q", m.ID)
				requireTooCostly(t, "sse single", m.Payload.Errors)
				return
			}
		}
	})
}

// sink is a ResponseWriter that keeps the first bytes of the body only, so
// that a measurement of the handler's allocations does not count a
// recorder holding the response.
type sink struct {
	h      http.Header
	status int
	n      int
	head   []byte
}

func (s *sink) Header() http.Header {
	if s.h == nil {
		s.h = http.Header{}
	}
	return s.h
}

func (s *sink) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
}

func (s *sink) Write(b []byte) (int, error) {
	s.WriteHeader(http.StatusOK)
	s.n += len(b)
	if len(s.head) < 512 {
		s.head = append(s.head, b[:min(len(b), 512-len(s.head))]...)
	}
	return len(b), nil
}

// allocated returns the heap bytes f allocated: an upper bound on the
// extra memory it held at its peak.
func allocated(f func()) uint64 {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// attackOnce posts the alias attack to h and returns what the request
// allocated.
func attackOnce(t testing.TB, h http.Handler, query string) (*sink, uint64) {
	params, err := json.Marshal(map[string]any{"query": query})
	require.NoError(t, err)
	w := &sink{}
	got := allocated(func() {
		req := httptest.NewRequest("POST", "/graphql", bytes.NewReader(params))
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(w, req)
	})
	return w, got
}

// Issue 13's alias attack over 1,000 messages of 1 KiB: before, one
// request built a 310 MB response (RSS +1.9 GB); now it is refused before
// it runs and the request allocates next to nothing.
func TestAliasAttackMemoryFlat(t *testing.T) {
	e := newEnv(t, nil)
	fill(t, e.broker, 1000)
	w, got := attackOnce(t, e.h, aliasAttack())
	t.Logf("alias attack: status %d, %d B answered, %.2f MiB allocated", w.status, w.n, float64(got)/(1<<20))
	require.Less(t, got, uint64(1<<20), "allocated by the refused attack")
	require.Contains(t, string(w.head), `"too_costly"`)
}

// Within the cost limit, many aliases still cannot build a result over
// Limits.MaxResponseBytes: the history field takes its share of the
// operation's budget (graphqlsub.ResponseBudget), and the page that finds
// it spent fails with "too_large"; a single read is cut where the budget
// ends and continues from its last cursor.
func TestHistoryFieldsShareTheResponseBudget(t *testing.T) {
	const budget = 64 << 10
	e := newEnv(t, &graphqlsub.Options{Limits: transport.Limits{MaxResponseBytes: budget}})
	fill(t, e.broker, 100)

	var b strings.Builder
	b.WriteString("{")
	for i := range 9 {
		fmt.Fprintf(&b, ` a%d: messages(topic: "#", limit: 100) { data cursor }`, i) // cost 9 x 201
	}
	b.WriteString(" }")
	w, got := attackOnce(t, e.h, b.String())
	t.Logf("9 aliases of 100 x 1 KiB: %d B answered, %.2f MiB allocated", w.n, float64(got)/(1<<20))
	require.Less(t, w.n, budget)
	require.Contains(t, string(w.head), `"too_large"`)

	// One read pages through everything within the budget.
	var seen int
	since := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 20)
		q, err := json.Marshal(map[string]any{"query": `query($s: String) { messages(topic: "#", since: $s, limit: 1000) { data cursor } }`,
			"variables": map[string]any{"s": since}})
		require.NoError(t, err)
		status, _, body := do(t, "POST", e.url, "application/json", "", string(q))
		require.Equal(t, 200, status, "%.300s", body)
		require.Less(t, len(body), budget)
		var r struct {
			Data struct {
				Messages []struct{ Data, Cursor string }
			}
		}
		require.NoError(t, json.Unmarshal([]byte(body), &r), "%.300s", body)
		if len(r.Data.Messages) == 0 {
			break
		}
		for _, m := range r.Data.Messages {
			require.Equal(t, fmt.Sprintf("%04d", seen), m.Data[:4])
			seen++
		}
		since = r.Data.Messages[len(r.Data.Messages)-1].Cursor
	}
	require.Equal(t, 100, seen)
}

// bigResult returns a result of n bytes of data for any query.
type bigResult int

func (n bigResult) Execute(context.Context, *graphqlsub.Request) *graphqlsub.Result {
	return &graphqlsub.Result{Data: json.RawMessage(`{"s":"` + strings.Repeat("x", int(n)) + `"}`)}
}

func (bigResult) Subscribe(context.Context, *graphqlsub.Request) (<-chan *graphqlsub.Result, error) {
	return nil, fmt.Errorf("no subscriptions")
}

// A result over Limits.MaxResponseBytes is replaced by an error.
func TestResponseSizeCap(t *testing.T) {
	h := graphqlsub.NewHandler(bigResult(5000), &graphqlsub.Options{Limits: transport.Limits{MaxResponseBytes: 4096}})
	defer h.Close()
	srv := httptest.NewServer(h)
	defer srv.Close()
	status, _, body := do(t, "POST", srv.URL, "application/json", "", `{"query":"{ s }"}`)
	require.Equal(t, 200, status)
	require.Less(t, len(body), 1024)
	var r struct {
		Data   json.RawMessage
		Errors []struct{ Extensions map[string]any }
	}
	require.NoError(t, json.Unmarshal([]byte(body), &r), "%s", body)
	require.Equal(t, "null", string(r.Data))
	require.Equal(t, "too_large", r.Errors[0].Extensions["code"])

	h2 := graphqlsub.NewHandler(bigResult(3000), &graphqlsub.Options{Limits: transport.Limits{MaxResponseBytes: 4096}})
	defer h2.Close()
	srv2 := httptest.NewServer(h2)
	defer srv2.Close()
	status, _, body = do(t, "POST", srv2.URL, "application/json", "", `{"query":"{ s }"}`)
	require.Equal(t, 200, status)
	require.Len(t, body, 3000+len(`{"data":{"s":""}}`), "under the cap: the result as is")
}

// BenchmarkAliasAttack reports what issue 13's alias attack allocates, with
// the defaults and with the cost limit and response cap turned off (the
// behaviour before them):
//
//	go test -run '^$' -bench AliasAttack -benchtime 1x ./graphqlsub
func BenchmarkAliasAttack(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts *graphqlsub.Options
	}{
		{"defaults", nil},
		{"unbounded", &graphqlsub.Options{MaxCost: -1, Limits: transport.Limits{MaxResponseBytes: -1}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := newEnv(b, bc.opts)
			fill(b, e.broker, 1000)
			var total uint64
			var n int
			for b.Loop() {
				w, got := attackOnce(b, e.h, aliasAttack())
				total += got
				n = w.n
			}
			b.ReportMetric(float64(total)/float64(b.N)/(1<<20), "MiB-alloc/op")
			b.ReportMetric(float64(n)/(1<<20), "MiB-body")
		})
	}
}
