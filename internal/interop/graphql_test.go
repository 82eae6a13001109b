package interop

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/graphqlsub"
	"github.com/switchboard-go/switchboard/graphqlsub/gophers"
	"github.com/switchboard-go/switchboard/internal/testenv"
	"github.com/switchboard-go/switchboard/mqttx"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// graphqlServer serves graphqlsub (BrokerSchema) at /graphql and the REST
// handler at /topics/ over one memory broker. Credentials: token "good"
// (connection_init payload or Bearer header) is alice; anything else is
// refused with 403 / close 4403. It returns the base URL and the cursor of
// a marker message published before "interop/a" = "one" and
// "interop/b" = "two". With share, every subscription operation may share
// an execution (Options.ShareSubscriptions), so the clients run on the
// shared path too (each of their subscriptions is distinct, so the results
// are the same).
func graphqlServer(t *testing.T, share bool) (string, string) {
	t.Helper()
	b := pubsub.NewMemory(nil)
	schema, err := gophers.NewBrokerSchema(b, nil)
	require.NoError(t, err)
	auth := &transport.Auth{Authenticate: func(ctx context.Context, c transport.Credentials) (*transport.Identity, error) {
		if c.Token != "good" {
			return nil, transport.ErrForbidden
		}
		return &transport.Identity{Subject: "alice"}, nil
	}}
	opts := &graphqlsub.Options{Auth: auth, InitTimeout: time.Second}
	if share {
		opts.ShareSubscriptions = func(context.Context, *graphqlsub.Request) bool { return true }
	}
	h := graphqlsub.NewHandler(gophers.New(schema, nil), opts)
	mux := http.NewServeMux()
	mux.Handle("/graphql", h)
	mux.Handle("/topics/", transport.NewRESTHandler(b, nil))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		require.NoError(t, h.Close())
		srv.Close()
		require.NoError(t, b.Close())
	})
	ctx := context.Background()
	marker, err := b.Publish(ctx, pubsub.Message{Topic: "marker", Data: []byte("x")})
	require.NoError(t, err)
	for _, m := range [][2]string{{"interop/a", "one"}, {"interop/b", "two"}} {
		_, err := b.Publish(ctx, pubsub.Message{Topic: m[0], Data: []byte(m[1])})
		require.NoError(t, err)
	}
	return srv.URL, marker.Cursor
}

// forShareModes runs test with subscriptions running alone, then shared.
func forShareModes(t *testing.T, test func(t *testing.T, share bool)) {
	t.Run("alone", func(t *testing.T) { test(t, false) })
	t.Run("shared", func(t *testing.T) { test(t, true) })
}

type closeInfo struct {
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}

func TestGraphQLWSClient(t *testing.T) { forShareModes(t, testGraphQLWSClient) }

func testGraphQLWSClient(t *testing.T, share bool) {
	base, since := graphqlServer(t, share)
	out := runNode(context.Background(), t, "graphql-ws-client.mjs", base, since)
	var res struct {
		Events     [][2]string     `json:"events"`
		Mutation   json.RawMessage `json:"mutation"`
		Query      json.RawMessage `json:"query"`
		Validation string          `json:"validation"`
		BadMessage closeInfo       `json:"badMessage"`
		Duplicate  closeInfo       `json:"duplicateID"`
		Timeout    closeInfo       `json:"initTimeout"`
		Forbidden  closeInfo       `json:"forbidden"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	require.Equal(t, [][2]string{{"interop/a", "one"}, {"interop/b", "two"}, {"interop/live", "from REST"}}, res.Events)
	require.JSONEq(t, `{"data":{"publish":{"topic":"interop/m","data":"via graphql"}}}`, string(res.Mutation))
	require.JSONEq(t, `{"data":{"messages":[{"data":"via graphql"}]}}`, string(res.Query))
	require.Contains(t, res.Validation, "nope")
	require.Equal(t, 4400, res.BadMessage.Code, out)
	require.Equal(t, closeInfo{4409, "Subscriber for same already exists"}, res.Duplicate)
	require.Equal(t, closeInfo{4408, "Connection initialisation timeout"}, res.Timeout)
	require.Equal(t, closeInfo{4403, "Forbidden"}, res.Forbidden)
}

func TestGraphQLSSEClient(t *testing.T) { forShareModes(t, testGraphQLSSEClient) }

func testGraphQLSSEClient(t *testing.T, share bool) {
	base, since := graphqlServer(t, share)
	out := runNode(context.Background(), t, "graphql-sse-client.mjs", base, since)
	var res struct {
		Events [][2]string `json:"events"`
		Query  struct {
			Got      []json.RawMessage `json:"got"`
			Complete bool              `json:"complete"`
		} `json:"query"`
		Validation struct {
			Got      []struct{ Errors []graphqlsub.Error } `json:"got"`
			Complete bool                                  `json:"complete"`
		} `json:"validation"`
		Single [][]json.RawMessage `json:"single"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	require.Equal(t, [][2]string{{"interop/a", "one"}, {"interop/b", "two"}, {"interop/sse", "from REST to SSE"}}, res.Events)
	require.True(t, res.Query.Complete, out)
	require.Len(t, res.Query.Got, 1)
	require.JSONEq(t, `{"data":{"messages":[{"data":"one"}]}}`, string(res.Query.Got[0]))
	require.True(t, res.Validation.Complete, out)
	require.Len(t, res.Validation.Got, 1)
	require.Contains(t, res.Validation.Got[0].Errors[0].Message, "nope")
	require.Len(t, res.Single, 2, out)
	require.Len(t, res.Single[0], 2, out)
	require.JSONEq(t, `{"data":{"messages":{"data":"one"}}}`, string(res.Single[0][0]))
	require.JSONEq(t, `{"data":{"messages":{"data":"two"}}}`, string(res.Single[0][1]))
	require.Len(t, res.Single[1], 1, out)
	require.JSONEq(t, `{"data":{"messages":[{"data":"two"}]}}`, string(res.Single[1][0]))
}

func TestGraphQLLegacyClient(t *testing.T) { forShareModes(t, testGraphQLLegacyClient) }

func testGraphQLLegacyClient(t *testing.T, share bool) {
	base, since := graphqlServer(t, share)
	out := runNode(context.Background(), t, "graphql-legacy-client.mjs", base, since)
	var res struct {
		Connected bool            `json:"connected"`
		Events    [][2]string     `json:"events"`
		Query     json.RawMessage `json:"query"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	require.True(t, res.Connected)
	require.Equal(t, [][2]string{{"interop/a", "one"}, {"interop/b", "two"}, {"interop/legacy", "from REST to legacy"}}, res.Events)
	require.JSONEq(t, `{"data":{"messages":[{"data":"one"}]}}`, string(res.Query))
}

// TestGraphQLFromMQTT: mosquitto_pub publishes into mqttx.Server, and the
// npm graphql-ws client receives the message byte-exact (dataBase64) on a
// subscription over the same broker.
func TestGraphQLFromMQTT(t *testing.T) {
	pub := testenv.Command(t, "mosquitto_pub")
	b := pubsub.NewMemory(nil)
	schema, err := gophers.NewBrokerSchema(b, nil)
	require.NoError(t, err)
	h := graphqlsub.NewHandler(gophers.New(schema, nil), nil)
	srv := httptest.NewServer(h)
	ms, err := mqttx.NewServer(b, nil)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- ms.Serve(ln) }()
	t.Cleanup(func() {
		require.NoError(t, ms.Close())
		<-served
		require.NoError(t, h.Close())
		srv.Close()
		require.NoError(t, b.Close())
	})
	marker, err := b.Publish(context.Background(), pubsub.Message{Topic: "marker", Data: []byte("x")})
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	for _, args := range [][]string{
		{"-V", "mqttv311", "-q", "1", "-t", "sensors/1/temp", "-m", "21.5"},
		{"-V", "mqttv5", "-q", "1", "-t", "sensors/2/temp", "-m", "héllo"},
	} {
		out, err := exec.CommandContext(ctx, pub, append([]string{"-h", host, "-p", port}, args...)...).CombinedOutput()
		require.NoError(t, err, "mosquitto_pub: %s", out)
	}
	out := runNode(ctx, t, "graphql-ws-take.mjs", strings.Replace(srv.URL, "http", "ws", 1), "sensors/+/temp", marker.Cursor, "2")
	var got []struct{ Topic, Data, DataBase64 string }
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	require.Len(t, got, 2)
	require.Equal(t, "sensors/1/temp", got[0].Topic)
	require.Equal(t, "21.5", got[0].Data)
	require.Equal(t, "sensors/2/temp", got[1].Topic)
	require.Equal(t, "héllo", got[1].Data)
	require.Equal(t, "aMOpbGxv", got[1].DataBase64)
}

// TestGraphQLChromiumEventSource: a browser's native EventSource consumes
// GraphQL over SSE, including the complete event that gqlgen's format
// (no data field) never dispatches.
func TestGraphQLChromiumEventSource(t *testing.T) {
	chromium := testenv.Chromium(t)
	b := pubsub.NewMemory(nil)
	schema, err := gophers.NewBrokerSchema(b, nil)
	require.NoError(t, err)
	h := graphqlsub.NewHandler(gophers.New(schema, nil), nil)
	mux := http.NewServeMux()
	mux.Handle("/graphql", h)
	mux.HandleFunc("/blank", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<!doctype html><title>blank</title>"))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		require.NoError(t, h.Close())
		srv.Close()
		require.NoError(t, b.Close())
	})
	ctx := context.Background()
	marker, err := b.Publish(ctx, pubsub.Message{Topic: "marker", Data: []byte("x")})
	require.NoError(t, err)
	for _, m := range [][2]string{{"web/a", "one"}, {"web/b", "two"}} {
		_, err := b.Publish(ctx, pubsub.Message{Topic: m[0], Data: []byte(m[1])})
		require.NoError(t, err)
	}
	out := runNode(ctx, t, "graphql-chromium.mjs", srv.URL, chromium, marker.Cursor)
	var res struct {
		Events [][2]string `json:"events"`
		Query  []string    `json:"query"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	require.Equal(t, [][2]string{{"web/a", "one"}, {"web/b", "two"}, {"web/live", "from the browser"}}, res.Events)
	require.Equal(t, []string{`next {"data":{"messages":[{"data":"one"}]}}`, `complete ""`}, res.Query)
}
