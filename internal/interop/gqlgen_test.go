package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/examples/gqlgenchat/chat"
	"github.com/switchboard-go/switchboard/graphqlsub"
	"github.com/switchboard-go/switchboard/graphqlsub/gqlgen"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// gqlgenServer serves the gqlgen chat schema with graphqlsub over a memory
// broker whose history holds 16 messages. It returns the base URL and a
// cursor in room "general" that the history no longer reaches.
func gqlgenServer(t *testing.T) (string, string) {
	t.Helper()
	b := pubsub.NewMemory(&pubsub.MemoryOptions{HistorySize: 16})
	h := graphqlsub.NewHandler(gqlgen.New(chat.New(b, nil), nil), nil)
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		require.NoError(t, h.Close())
		srv.Close()
		require.NoError(t, b.Close())
	})
	ctx := context.Background()
	old, err := b.Publish(ctx, pubsub.Message{Topic: chat.RoomTopic("general"), Data: []byte(`{"roomId":"general","sender":"x","content":"gone"}`)})
	require.NoError(t, err)
	for i := range 16 {
		_, err := b.Publish(ctx, pubsub.Message{Topic: chat.RoomTopic("filler"), Data: fmt.Appendf(nil, `{"roomId":"filler","sender":"x","content":"%d"}`, i)})
		require.NoError(t, err)
	}
	return srv.URL, old.Cursor
}

// TestGQLGenClients: npm graphql-ws, graphql-sse (distinct and single
// connection) and subscriptions-transport-ws against the gqlgen chat
// schema: mutations, replay after a cursor then live with per-room
// filtering, resume after the last cursor received (nothing lost or
// repeated), and the gap error in band for a cursor the history no longer
// reaches; a refused subscription keeps its error code.
func TestGQLGenClients(t *testing.T) {
	for _, proto := range []string{"ws", "sse", "sse-single", "legacy"} {
		t.Run(proto, func(t *testing.T) {
			base, stale := gqlgenServer(t)
			out := runNode(context.Background(), t, "gqlgen-chat.mjs", base, proto, stale)
			var res struct {
				First   []string `json:"first"`
				Resumed []string `json:"resumed"`
				Gap     struct {
					Data   json.RawMessage    `json:"data"`
					Errors []graphqlsub.Error `json:"errors"`
				} `json:"gap"`
				AfterGap string             `json:"afterGap"`
				Refused  []graphqlsub.Error `json:"refused"`
			}
			require.NoError(t, json.Unmarshal([]byte(out), &res), out)
			require.Equal(t, []string{"two", "three"}, res.First)
			require.Equal(t, []string{"four", "five", "six"}, res.Resumed)
			require.JSONEq(t, `{"messageAdded":null}`, string(res.Gap.Data))
			require.Len(t, res.Gap.Errors, 1, out)
			require.Equal(t, map[string]any{"code": graphqlsub.CodeGap, "cursor": stale}, res.Gap.Errors[0].Extensions)
			require.Equal(t, "seven", res.AfterGap)
			require.Len(t, res.Refused, 1, out)
			require.Equal(t, transport.CodeBadRequest, res.Refused[0].Extensions["code"], out)
			require.Contains(t, res.Refused[0].Message, "invalid roomId")
		})
	}
}
