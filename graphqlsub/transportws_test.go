package graphqlsub_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/graphqlsub"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

func TestTransportWSSubscribeNextComplete(t *testing.T) {
	e := newEnv(t, nil)
	start := e.publish(t, "chat/x", "before")
	c := dial(t, e.url, graphqlsub.SubprotocolTransportWS)
	require.Equal(t, graphqlsub.SubprotocolTransportWS, c.c.Subprotocol())
	c.init(nil)
	c.send(subscribeMsg("1", subQuery, map[string]any{"f": "chat/+", "s": start.Cursor}))
	r1 := e.publish(t, "chat/room1", `{"hello":"world"}`)
	e.publish(t, "other/room1", "not matching")
	r2 := e.publish(t, "chat/room2", "second")

	for _, want := range []struct{ topic, data, cursor string }{
		{"chat/room1", `{"hello":"world"}`, r1.Cursor}, {"chat/room2", "second", r2.Cursor},
	} {
		m := c.read()
		require.Equal(t, "next", m.Type)
		require.Equal(t, "1", m.ID)
		ev := decodeEvent(t, m.Payload)
		require.Empty(t, ev.Errors)
		require.Equal(t, want.topic, ev.Data.Messages.Topic)
		require.Equal(t, want.data, ev.Data.Messages.Data)
		require.Equal(t, want.cursor, ev.Data.Messages.Cursor)
	}

	// complete from the client: nothing more for id 1, and the id is free.
	c.send(map[string]any{"type": "complete", "id": "1"})
	c.send(map[string]any{"type": "ping"})
	require.Equal(t, "pong", c.read().Type)
	e.publish(t, "chat/room3", "after complete")
	c.send(map[string]any{"type": "ping", "payload": map[string]any{"n": 1}})
	pong := c.read()
	require.Equal(t, "pong", pong.Type, "no next after complete")
	require.JSONEq(t, `{"n":1}`, string(pong.Payload))

	// Ids are reusable after completion; a query yields next then complete.
	c.send(subscribeMsg("1", `{ messages(topic: "chat/#") { data } }`, nil))
	m := c.read()
	require.Equal(t, "next", m.Type)
	require.JSONEq(t, `{"data":{"messages":[{"data":"before"},{"data":"{\"hello\":\"world\"}"},{"data":"second"},{"data":"after complete"}]}}`, string(m.Payload))
	require.Equal(t, wireMsg{Type: "complete", ID: "1"}, c.read())

	require.NoError(t, c.c.Close(websocket.StatusNormalClosure, ""))
}

func TestTransportWSMutationAndRequestError(t *testing.T) {
	e := newEnv(t, nil)
	c := dial(t, e.url, graphqlsub.SubprotocolTransportWS)
	c.init(map[string]any{"token": "ignored without Auth"})

	c.send(subscribeMsg("m", `mutation { publish(topic: "a/b", data: "hi") { topic data cursor } }`, nil))
	m := c.read()
	require.Equal(t, "next", m.Type)
	require.Contains(t, string(m.Payload), `"topic":"a/b"`)
	require.Equal(t, "complete", c.read().Type)

	// A validation error is a single error message, with no complete.
	c.send(subscribeMsg("bad", `subscription { nope }`, nil))
	m = c.read()
	require.Equal(t, "error", m.Type)
	require.Equal(t, "bad", m.ID)
	var errs []graphqlsub.Error
	require.NoError(t, json.Unmarshal(m.Payload, &errs))
	require.NotEmpty(t, errs)
	require.Contains(t, errs[0].Message, "nope")
	// An invalid filter fails the subscribe resolver: also an error message.
	c.send(subscribeMsg("bad2", subQuery, map[string]any{"f": "a/#/b"}))
	m = c.read()
	require.Equal(t, "error", m.Type)
	require.Contains(t, string(m.Payload), "bad_request")
	c.send(map[string]any{"type": "ping"})
	require.Equal(t, "pong", c.read().Type, "no complete after error")
}

func TestTransportWSCloseCodes(t *testing.T) {
	e := newEnv(t, &graphqlsub.Options{
		InitTimeout: time.Second,
		Auth: &transport.Auth{Authenticate: func(ctx context.Context, c transport.Credentials) (*transport.Identity, error) {
			if c.Token != "good" {
				return nil, transport.ErrForbidden
			}
			return &transport.Identity{Subject: "alice"}, nil
		}},
	})
	good := map[string]any{"token": "good"}
	sub := subscribeMsg("1", subQuery, map[string]any{"f": "x"})
	for _, tc := range []struct {
		name   string
		steps  func(c *wsClient)
		code   websocket.StatusCode
		reason string
	}{
		{"not json", func(c *wsClient) { c.sendRaw("{") }, 4400, "Invalid message received"},
		{"no type", func(c *wsClient) { c.sendRaw(`{"id":"1"}`) }, 4400, "Invalid message received"},
		{"unknown type", func(c *wsClient) { c.sendRaw(`{"type":"hello"}`) }, 4400, "Invalid message received"},
		{"next from client", func(c *wsClient) { c.init(good); c.sendRaw(`{"type":"next","id":"1","payload":{}}`) }, 4400, "Invalid message received"},
		{"subscribe without id", func(c *wsClient) { c.init(good); c.sendRaw(`{"type":"subscribe","payload":{"query":"{a}"}}`) }, 4400, "Invalid message received"},
		{"subscribe with numeric id", func(c *wsClient) { c.init(good); c.sendRaw(`{"type":"subscribe","id":1,"payload":{"query":"{a}"}}`) }, 4400, "Invalid message received"},
		{"subscribe without query", func(c *wsClient) { c.init(good); c.sendRaw(`{"type":"subscribe","id":"1","payload":{}}`) }, 4400, "Invalid message received"},
		{"lone surrogate", func(c *wsClient) {
			c.init(good)
			c.sendRaw(`{"type":"subscribe","id":"1","payload":{"query":"{a}","variables":{"f":"a/\ud800"}}}`)
		}, 4400, "Invalid message received"},
		{"init payload not object", func(c *wsClient) { c.sendRaw(`{"type":"connection_init","payload":"x"}`) }, 4400, "Invalid message received"},
		{"subscribe before ack", func(c *wsClient) { c.send(sub) }, 4401, "Unauthorized"},
		{"refused credentials", func(c *wsClient) {
			c.send(map[string]any{"type": "connection_init", "payload": map[string]any{"token": "bad"}})
		}, 4403, "Forbidden"},
		{"second init", func(c *wsClient) { c.init(good); c.send(map[string]any{"type": "connection_init"}) }, 4429, "Too many initialisation requests"},
		{"duplicate id", func(c *wsClient) { c.init(good); c.send(sub); c.send(sub) }, 4409, "Subscriber for 1 already exists"},
		{"init timeout", func(c *wsClient) {}, 4408, "Connection initialisation timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, e.url, graphqlsub.SubprotocolTransportWS)
			tc.steps(c)
			code, reason := c.expectClose()
			require.Equal(t, tc.code, code)
			require.True(t, strings.HasPrefix(reason, tc.reason), "reason %q", reason)
		})
	}

	t.Run("no subprotocol", func(t *testing.T) {
		c := dial(t, e.url)
		code, reason := c.expectClose()
		require.Equal(t, websocket.StatusCode(4406), code)
		require.Equal(t, "Subprotocol not acceptable", reason)
	})
	t.Run("long bad id reason is cut", func(t *testing.T) {
		c := dial(t, e.url, graphqlsub.SubprotocolTransportWS)
		c.init(good)
		s := subscribeMsg(strings.Repeat("é", 200), subQuery, map[string]any{"f": "x"})
		c.send(s)
		c.send(s)
		code, reason := c.expectClose()
		require.Equal(t, websocket.StatusCode(4409), code)
		require.Less(t, len(reason), 124)
	})
}

func TestTransportWSIdentityAndAuthorize(t *testing.T) {
	e := newEnv(t, &graphqlsub.Options{
		Auth: &transport.Auth{
			Authenticate: func(ctx context.Context, c transport.Credentials) (*transport.Identity, error) {
				require.Equal(t, "graphql", c.Transport)
				require.Equal(t, "tok", c.Payload["token"])
				return &transport.Identity{Subject: c.Token}, nil
			},
			Authorize: func(ctx context.Context, id *transport.Identity, a transport.Action, topic string) error {
				if strings.HasPrefix(topic, "secret") && (id == nil || id.Subject != "root") {
					return fmt.Errorf("%w: %s may not %s %s", transport.ErrForbidden, id.Subject, a, topic)
				}
				return nil
			},
		},
	})
	c := dial(t, e.url, graphqlsub.SubprotocolTransportWS)
	c.init(map[string]any{"token": "tok"})
	c.send(subscribeMsg("1", subQuery, map[string]any{"f": "secret/#"}))
	m := c.read()
	require.Equal(t, "error", m.Type)
	require.Contains(t, string(m.Payload), "tok may not subscribe secret/#")
	require.Contains(t, string(m.Payload), `"code":"forbidden"`)
}

func TestTransportWSResumeAndGap(t *testing.T) {
	e := newEnv(t, nil)
	r1 := e.publish(t, "t", "1")
	e.publish(t, "t", "2")
	e.publish(t, "t", "3")
	c := dial(t, e.url, graphqlsub.SubprotocolTransportWS)
	c.init(nil)
	c.send(subscribeMsg("resume", subQuery, map[string]any{"f": "t", "s": r1.Cursor}))
	for _, want := range []string{"2", "3"} {
		m := c.read()
		require.Equal(t, "next", m.Type)
		require.Equal(t, want, decodeEvent(t, m.Payload).Data.Messages.Data)
	}

	// A cursor from another epoch: a gap event, then live delivery.
	c.send(subscribeMsg("gap", subQuery, map[string]any{"f": "t", "s": "zzzz-5"}))
	m := c.read()
	require.Equal(t, "next", m.Type)
	require.Equal(t, "gap", m.ID)
	ev := decodeEvent(t, m.Payload)
	require.Nil(t, ev.Data, "%s", m.Payload)
	require.Len(t, ev.Errors, 1, "one error per gap, not one per field: %s", m.Payload)
	require.Equal(t, map[string]any{"code": "gap", "cursor": "zzzz-5"}, ev.Errors[0].Extensions)
	// Live from the moment of the subscribe: ping/pong proves the subscribe
	// was processed, but not that the stream is live, so publish until the
	// gap subscription sees something.
	r4 := e.publish(t, "t", "4")
	got := map[string]string{}
	for len(got) < 2 {
		m := c.read()
		require.Equal(t, "next", m.Type)
		got[m.ID] = decodeEvent(t, m.Payload).Data.Messages.Cursor
	}
	require.Equal(t, map[string]string{"resume": r4.Cursor, "gap": r4.Cursor}, got)
}

func TestTransportWSMaxSubscriptions(t *testing.T) {
	e := newEnv(t, &graphqlsub.Options{Limits: transport.Limits{MaxSubscriptions: 1}})
	c := dial(t, e.url, graphqlsub.SubprotocolTransportWS)
	c.init(nil)
	c.send(subscribeMsg("1", subQuery, map[string]any{"f": "x"}))
	c.send(subscribeMsg("2", subQuery, map[string]any{"f": "y"}))
	m := c.read()
	require.Equal(t, "error", m.Type)
	require.Equal(t, "2", m.ID)
	require.Contains(t, string(m.Payload), transport.CodeRateLimited)
}

func TestTransportWSReadLimit(t *testing.T) {
	e := newEnv(t, &graphqlsub.Options{Limits: transport.Limits{MaxMessageBytes: 512}})
	c := dial(t, e.url, graphqlsub.SubprotocolTransportWS)
	c.init(nil)
	c.send(subscribeMsg("1", "{ "+strings.Repeat("a ", 400)+"}", nil))
	code, _ := c.expectClose()
	require.Equal(t, websocket.StatusMessageTooBig, code)
}

func TestShutdownGoingAway(t *testing.T) {
	e := newEnv(t, nil)
	c := dial(t, e.url, graphqlsub.SubprotocolTransportWS)
	c.init(nil)
	c.send(subscribeMsg("1", subQuery, map[string]any{"f": "x"}))
	l := dial(t, e.url, graphqlsub.SubprotocolLegacyWS)
	l.send(map[string]any{"type": "connection_init"})
	require.Equal(t, "connection_ack", l.read().Type)

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- e.h.Shutdown(ctx)
	}()
	code, _ := c.expectClose()
	require.Equal(t, websocket.StatusGoingAway, code)
	code, _ = l.expectClose()
	require.Equal(t, websocket.StatusGoingAway, code)
	require.NoError(t, <-done)

	// New connections are refused while shut down.
	_, resp, err := websocket.Dial(context.Background(), e.url, &websocket.DialOptions{Subprotocols: []string{graphqlsub.SubprotocolTransportWS}})
	require.Error(t, err)
	require.Equal(t, 503, resp.StatusCode)
	require.False(t, errors.Is(err, context.DeadlineExceeded))
}

func TestStreamSlowConsumer(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start, err := b.Publish(ctx, pubsub.Message{Topic: "s", Data: []byte("0")})
	require.NoError(t, err)
	ch, err := graphqlsub.Stream(ctx, b, "s", &graphqlsub.StreamOptions{Since: start.Cursor, Buffer: 2,
		Match: func(m *pubsub.Message) bool { return string(m.Data) != "skip" }},
		func(ev graphqlsub.Event) graphqlsub.Event { return ev })
	require.NoError(t, err)
	for _, d := range []string{"1", "skip", "2", "3", "4", "5", "6"} {
		_, err := b.Publish(ctx, pubsub.Message{Topic: "s", Data: []byte(d)})
		require.NoError(t, err)
	}
	var got []string
	var end *graphqlsub.StreamError
	for ev := range ch {
		if ev.Err != nil {
			end = ev.Err
			continue
		}
		got = append(got, string(ev.Message.Data))
	}
	require.NotNil(t, end, "the stream must end with an error, got %v", got)
	require.Equal(t, graphqlsub.CodeSlowConsumer, end.Code)
	require.ErrorIs(t, end, pubsub.ErrSlowConsumer)
	require.NotContains(t, got, "skip")
	// Resuming from the reported cursor yields exactly what was not seen.
	rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
	defer rcancel()
	rest, err := graphqlsub.Stream(rctx, b, "s", &graphqlsub.StreamOptions{Since: end.Cursor},
		func(ev graphqlsub.Event) graphqlsub.Event { return ev })
	require.NoError(t, err)
	all := append([]string(nil), got...)
	for len(all) == 0 || all[len(all)-1] != "6" {
		ev, ok := <-rest
		require.True(t, ok, "resumed stream ended early after %v", all)
		require.Nil(t, ev.Err)
		all = append(all, string(ev.Message.Data))
	}
	require.Equal(t, []string{"1", "2", "3", "4", "5", "6"}, all)
}

// An id is free again as soon as its complete (or error) arrives: a client
// reusing it at once must not get 4409.
func TestTransportWSImmediateIDReuse(t *testing.T) {
	e := newEnv(t, nil)
	c := dial(t, e.url, graphqlsub.SubprotocolTransportWS)
	c.init(nil)
	for i := 0; i < 50; i++ {
		c.send(subscribeMsg("same", `{ messages(topic: "none") { id } }`, nil))
		require.Equal(t, "next", c.read().Type)
		require.Equal(t, "complete", c.read().Type)
		c.send(subscribeMsg("same", `{ nope }`, nil))
		require.Equal(t, "error", c.read().Type)
	}
}
