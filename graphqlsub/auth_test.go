package graphqlsub_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/graphqlsub"
	"github.com/switchboard-go/switchboard/transport"
)

func TestHTTPAndSSEAuth(t *testing.T) {
	e := newEnv(t, &graphqlsub.Options{Auth: &transport.Auth{
		Authenticate: func(ctx context.Context, c transport.Credentials) (*transport.Identity, error) {
			switch c.Token {
			case "good":
				return &transport.Identity{Subject: "alice"}, nil
			case "":
				return nil, transport.ErrUnauthenticated
			}
			return nil, transport.ErrForbidden
		},
		Authorize: func(ctx context.Context, id *transport.Identity, a transport.Action, topic string) error {
			if id == nil || id.Subject != "alice" {
				return transport.ErrForbidden
			}
			return nil
		},
	}})
	body := `{"query":"{ messages(topic: \"a\") { id } }"}`
	for _, tc := range []struct {
		name, auth, accept string
		status             int
	}{
		{"http anonymous", "", "", 401},
		{"http refused", "Bearer bad", "", 403},
		{"http ok", "Bearer good", "", 200},
		{"sse anonymous", "", "text/event-stream", 401},
		{"sse refused", "Bearer bad", "text/event-stream", 403},
		{"sse ok", "Bearer good", "text/event-stream", 200},
		{"reserve anonymous", "", "PUT", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := "POST"
			if tc.accept == "PUT" {
				method, tc.accept = "PUT", ""
			}
			req, _ := http.NewRequest(method, e.url, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, tc.status, resp.StatusCode)
			if tc.status == 401 {
				require.NotEmpty(t, resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestLegacyWSInitRules(t *testing.T) {
	e := newEnv(t, &graphqlsub.Options{InitTimeout: 500 * time.Millisecond})
	c := dial(t, e.url, graphqlsub.SubprotocolLegacyWS)
	c.send(map[string]any{"type": "start", "id": "a", "payload": map[string]any{"query": "{ messages(topic: \"a\") { id } }"}})
	m := c.read()
	require.Equal(t, "error", m.Type)
	require.Equal(t, "a", m.ID)
	require.Contains(t, string(m.Payload), "connection_init must come first")
	code, _ := c.expectClose()
	require.Equal(t, websocket.StatusCode(4408), code)
}
