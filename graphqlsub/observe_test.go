package graphqlsub_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/graphqlsub"
	"github.com/switchboard-go/switchboard/internal/obstest"
	"github.com/switchboard-go/switchboard/transport"
)

// TestObserverSeesOperations: a WebSocket is a connection, a subscription
// operation a subscription (a query is not), each result written a
// delivery; the client's complete ends it "client", Close "shutdown".
func TestObserverSeesOperations(t *testing.T) {
	rec := obstest.New()
	e := newEnv(t, &graphqlsub.Options{Observer: rec.Observer()})
	c := dial(t, e.url, graphqlsub.SubprotocolTransportWS)
	c.init(nil)
	rec.WaitKind(t, obstest.ConnOpened, 1)

	c.send(subscribeMsg("1", subQuery, map[string]any{"f": "chat/+"}))
	rec.WaitKind(t, obstest.SubStarted, 1)
	e.publish(t, "chat/a", "hello")
	m := c.read()
	require.Equal(t, "next", m.Type)
	del := rec.WaitKind(t, obstest.Delivered, 1)
	require.Greater(t, del[0].Bytes, len(m.Payload))
	require.Empty(t, del[0].Topic, "a GraphQL result is not a broker message")
	c.send(map[string]any{"type": "complete", "id": "1"})
	ended := rec.WaitKind(t, obstest.SubEnded, 1)
	require.Equal(t, transport.EndClient, ended[0].Reason)

	c.send(subscribeMsg("2", `{ messages(topic: "chat/#") { data } }`, nil)) // a query
	require.Equal(t, "next", c.read().Type)
	require.Equal(t, "complete", c.read().Type)
	c.send(subscribeMsg("3", subQuery, map[string]any{"f": "news"}))
	rec.WaitKind(t, obstest.SubStarted, 2)
	require.NoError(t, e.h.Close())
	ended = rec.WaitKind(t, obstest.SubEnded, 2)
	require.Equal(t, transport.EndShutdown, ended[1].Reason)
	rec.WaitKind(t, obstest.ConnClosed, 1)
	require.Len(t, rec.Of(obstest.SubStarted), 2, "the query is no subscription")
	for _, ev := range rec.Events() {
		require.Equal(t, "graphql", ev.Transport)
	}
}
