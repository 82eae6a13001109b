package graphqlsub_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/graphqlsub"
	"github.com/switchboard-go/switchboard/transport"
)

func TestMaxConnections(t *testing.T) {
	e := newEnv(t, &graphqlsub.Options{Limits: transport.Limits{MaxConnections: 1}})
	c := dial(t, e.url, graphqlsub.SubprotocolTransportWS)
	c.init(nil)

	// The second WebSocket is accepted and closed with 1013 (try again later).
	c2 := dial(t, e.url, graphqlsub.SubprotocolTransportWS)
	code, _ := c2.expectClose()
	require.Equal(t, websocket.StatusTryAgainLater, code)

	// An SSE stream gets 503.
	req, _ := http.NewRequest("GET", e.url+"?query="+strings.ReplaceAll("{ messages(topic: \"a\") { id } }", " ", "%20"), nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)

	// Once the first leaves, there is room again.
	require.NoError(t, c.c.Close(websocket.StatusNormalClosure, ""))
	require.Eventually(t, func() bool {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 5*time.Second, 10*time.Millisecond)
}

// panicky panics on every operation.
type panicky struct{}

func (panicky) Execute(context.Context, *graphqlsub.Request) *graphqlsub.Result { panic("boom") }
func (panicky) Subscribe(context.Context, *graphqlsub.Request) (<-chan *graphqlsub.Result, error) {
	panic("boom")
}

func TestExecutorPanicCloses4500(t *testing.T) {
	h := graphqlsub.NewHandler(panicky{}, nil)
	srv := httptest.NewServer(h)
	t.Cleanup(func() { require.NoError(t, h.Close()); srv.Close() })
	c := dial(t, srv.URL, graphqlsub.SubprotocolTransportWS)
	c.init(nil)
	c.send(subscribeMsg("1", "subscription { x }", nil))
	code, reason := c.expectClose()
	require.Equal(t, websocket.StatusCode(4500), code)
	require.Equal(t, "Internal server error", reason)
}
