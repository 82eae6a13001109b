package graphqlsub_test

import (
	"context"
	"testing"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/graphqlsub"
	"github.com/switchboard-go/switchboard/transport"
)

func TestLegacyWS(t *testing.T) {
	e := newEnv(t, nil)
	start := e.publish(t, "room/1", "old")
	c := dial(t, e.url, graphqlsub.SubprotocolLegacyWS)
	require.Equal(t, graphqlsub.SubprotocolLegacyWS, c.c.Subprotocol())

	// A malformed message gets connection_error and the connection stays.
	c.sendRaw("not json")
	require.Equal(t, "connection_error", c.read().Type)

	c.send(map[string]any{"type": "connection_init", "payload": map[string]any{}})
	require.Equal(t, "connection_ack", c.read().Type)
	require.Equal(t, "ka", c.read().Type, "ka right after the ack")

	c.send(map[string]any{"type": "start", "id": "a", "payload": map[string]any{"query": subQuery,
		"variables": map[string]any{"f": "room/+", "s": start.Cursor}}})
	e.publish(t, "room/1", "hello")
	m := c.read()
	require.Equal(t, "data", m.Type)
	require.Equal(t, "a", m.ID)
	require.Equal(t, "hello", decodeEvent(t, m.Payload).Data.Messages.Data)

	// Validation errors travel in data, then complete.
	c.send(map[string]any{"type": "start", "id": "b", "payload": map[string]any{"query": "{ nope }"}})
	m = c.read()
	require.Equal(t, "data", m.Type)
	require.Contains(t, string(m.Payload), `"errors"`)
	require.Equal(t, "complete", c.read().Type)

	// An invalid payload is an error for that id.
	c.send(map[string]any{"type": "start", "id": "c", "payload": map[string]any{"query": 5}})
	m = c.read()
	require.Equal(t, "error", m.Type)
	require.Equal(t, "c", m.ID)

	// stop, then a query proves the stop was processed before the publish.
	c.send(map[string]any{"type": "stop", "id": "a"})
	c.send(map[string]any{"type": "start", "id": "q", "payload": map[string]any{"query": `{ messages(topic: "none") { id } }`}})
	require.Equal(t, "data", c.read().Type)
	require.Equal(t, "complete", c.read().Type)
	e.publish(t, "room/1", "after stop")
	c.send(map[string]any{"type": "start", "id": "q2", "payload": map[string]any{"query": `{ messages(topic: "none") { id } }`}})
	m = c.read()
	require.Equal(t, "q2", m.ID, "nothing for the stopped operation")

	c.send(map[string]any{"type": "connection_terminate"})
	for {
		_, _, err := c.c.Read(context.Background())
		if err != nil {
			require.Equal(t, websocket.StatusNormalClosure, websocket.CloseStatus(err))
			break
		}
	}
}

func TestLegacyWSRefused(t *testing.T) {
	e := newEnv(t, &graphqlsub.Options{Auth: &transport.Auth{
		Authenticate: func(ctx context.Context, c transport.Credentials) (*transport.Identity, error) {
			return nil, transport.ErrForbidden
		}}})
	c := dial(t, e.url, graphqlsub.SubprotocolLegacyWS)
	c.send(map[string]any{"type": "connection_init"})
	require.Equal(t, "connection_error", c.read().Type)
	code, _ := c.expectClose()
	require.Equal(t, websocket.StatusInternalError, code)
}
