package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
	"github.com/switchboard-go/switchboard/ws"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func start(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, io.Discard, func(a string) { addrc <- a }) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	select {
	case a := <-addrc:
		return a
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start")
	}
	return ""
}

func dial(t *testing.T, addr, room, name string) *ws.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := ws.Dial(ctx, "ws://"+addr+"/ws?room="+room+"&name="+name, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func next(t *testing.T, sub *ws.Subscription) *pubsub.Message {
	t.Helper()
	select {
	case ev, ok := <-sub.C():
		require.True(t, ok, "subscription ended: %v", sub.Err())
		require.False(t, ev.Gap)
		return ev.Message
	case <-time.After(10 * time.Second):
		t.Fatal("no message within 10s")
	}
	return nil
}

func TestChatRoom(t *testing.T) {
	addr := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	ann := dial(t, addr, "lobby", "ann")
	sub, err := ann.Subscribe(ctx, "chat/lobby/#", nil)
	require.NoError(t, err)

	// Someone in another room is not heard in the lobby.
	carol := dial(t, addr, "kitchen", "carol")
	_, err = carol.Publish(ctx, pubsub.Message{Topic: "chat/kitchen/msg/carol", Data: []byte(`{"text":"elsewhere"}`)})
	require.NoError(t, err)

	// A page on another origin is refused before the upgrade: nobody joins.
	_, err = ws.Dial(ctx, "ws://"+addr+"/ws?room=lobby&name=mallory",
		&ws.ClientOptions{Header: http.Header{"Origin": {"http://evil.example"}}})
	var de *ws.DialError
	require.True(t, errors.As(err, &de), "%v", err)
	require.Equal(t, http.StatusForbidden, de.StatusCode)

	// Bob joins: ann sees the notice (and none for mallory).
	bob := dial(t, addr, "lobby", "bob")
	m := next(t, sub)
	require.Equal(t, "chat/lobby/presence", m.Topic)
	require.JSONEq(t, `{"event":"join","user":"bob"}`, string(m.Data))

	// Bob speaks as himself; speaking as ann is refused.
	_, err = bob.Publish(ctx, pubsub.Message{Topic: "chat/lobby/msg/bob", Data: []byte(`{"text":"hi ann"}`)})
	require.NoError(t, err)
	m = next(t, sub)
	require.Equal(t, "chat/lobby/msg/bob", m.Topic, "%s", m.Data)
	require.JSONEq(t, `{"text":"hi ann"}`, string(m.Data))
	_, err = bob.Publish(ctx, pubsub.Message{Topic: "chat/lobby/msg/ann", Data: []byte(`{"text":"I am ann"}`)})
	require.ErrorIs(t, err, transport.ErrForbidden)
	_, err = bob.Subscribe(ctx, "chat/kitchen/#", nil)
	require.ErrorIs(t, err, transport.ErrForbidden)

	// Request/reply: who is in the lobby?
	rep, err := bob.Request(ctx, pubsub.Message{Topic: "chat/svc/who", Data: []byte(`{"room":"lobby"}`)})
	require.NoError(t, err)
	var who WhoReply
	require.NoError(t, json.Unmarshal(rep.Data, &who))
	require.Equal(t, WhoReply{Room: "lobby", Members: []string{"ann", "bob"}}, who)

	// Bob leaves: ann sees the notice.
	require.NoError(t, bob.Close())
	m = next(t, sub)
	require.Equal(t, "chat/lobby/presence", m.Topic)
	require.JSONEq(t, `{"event":"leave","user":"bob"}`, string(m.Data))
}

func TestBadNameRefused(t *testing.T) {
	addr := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := ws.Dial(ctx, "ws://"+addr+"/ws?room=lobby&name=a/b", nil)
	var de *ws.DialError
	require.True(t, errors.As(err, &de), "%v", err)
	require.Equal(t, http.StatusBadRequest, de.StatusCode)
}
