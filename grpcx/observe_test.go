package grpcx_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/grpcx"
	pb "github.com/switchboard-go/switchboard/grpcx/pubsubv1"
	"github.com/switchboard-go/switchboard/internal/obstest"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

func secretAuth() *transport.Auth {
	return &transport.Auth{
		Authorize: func(_ context.Context, _ *transport.Identity, _ transport.Action, topic string) error {
			if topic == "secret" {
				return transport.ErrForbidden
			}
			return nil
		},
	}
}

// TestObserverSeesSubscribe: a Subscribe call is a session and a
// subscription; its deliveries, a Publish call, a refusal by Auth and the
// client's cancel are reported, all as transport "grpc".
func TestObserverSeesSubscribe(t *testing.T) {
	rec := obstest.New()
	e := newEnv(t, &grpcx.Options{Observer: rec.Observer(), Auth: secretAuth()}, pubsub.MemoryOptions{})
	c := e.client("grpc")
	ctx := testCtx(t)

	st, err := c.Subscribe(ctx, connect.NewRequest(&pb.SubscribeRequest{Filters: []string{"secret"}}))
	require.NoError(t, err)
	require.False(t, st.Receive())
	requireCode(t, connect.CodePermissionDenied, st.Err())
	_ = st.Close()
	ended := rec.WaitKind(t, obstest.SubEnded, 1)
	require.Equal(t, transport.EndAuth, ended[0].Reason)

	sctx, cancel := context.WithCancel(ctx)
	sub, _ := subscribe(t, sctx, c, &pb.SubscribeRequest{Filters: []string{"chat/+"}})
	publish(t, ctx, c, "chat/a", "hello")
	require.Equal(t, "hello", string(recv(t, sub).GetData()))
	del := rec.WaitKind(t, obstest.Delivered, 1)
	require.Equal(t, "chat/a", del[0].Topic)
	require.Greater(t, del[0].Bytes, len("hello"))
	pub := rec.Of(obstest.Published)
	require.Len(t, pub, 1)
	require.Equal(t, obstest.Event{Kind: obstest.Published, Transport: "grpc", Topic: "chat/a", Bytes: 5}, pub[0])

	cancel()
	ended = rec.WaitKind(t, obstest.SubEnded, 2)
	require.Equal(t, transport.EndClient, ended[1].Reason)
	require.Equal(t, []string{"chat/+"}, ended[1].Filters)
	rec.Wait(t, "every stream closed", func(evs []obstest.Event) bool {
		open := 0
		for _, e := range evs {
			switch e.Kind {
			case obstest.ConnOpened:
				open++
			case obstest.ConnClosed:
				open--
			}
		}
		return open == 0
	})
	for _, ev := range rec.Events() {
		require.Equal(t, "grpc", ev.Transport)
	}
	require.Len(t, rec.Of(obstest.SubStarted), 1)
}

// TestObserverSeesSession: a Session's subscriptions end "client" when
// unsubscribed and "shutdown" when the handler closes.
func TestObserverSeesSession(t *testing.T) {
	rec := obstest.New()
	e := newEnv(t, &grpcx.Options{Observer: rec.Observer()}, pubsub.MemoryOptions{})
	ctx := testCtx(t)
	st := e.client("grpc").Session(ctx)
	defer st.CloseResponse()
	sendCmd(t, st, subCmd("s1", &pb.SessionSubscribe{Filter: "a"}))
	require.True(t, result(t, st, "s1").GetOk())
	sendCmd(t, st, &pb.SessionRequest{Id: "u", Command: &pb.SessionRequest_Unsubscribe{Unsubscribe: &pb.SessionUnsubscribe{SubscriptionId: "s1"}}})
	require.True(t, result(t, st, "u").GetOk())
	sendCmd(t, st, subCmd("s2", &pb.SessionSubscribe{Filter: "b"}))
	require.True(t, result(t, st, "s2").GetOk())
	_, err := e.b.Publish(ctx, pubsub.Message{Topic: "b", Data: []byte("x")})
	require.NoError(t, err)
	require.Equal(t, "x", string(delivery(t, st).GetMessage().GetData()))
	require.NoError(t, e.h.Close())
	ends := rec.WaitKind(t, obstest.SubEnded, 2)
	require.Equal(t, "a client", ends[0].Filters[0]+" "+string(ends[0].Reason))
	require.Equal(t, "b shutdown", ends[1].Filters[0]+" "+string(ends[1].Reason))
	require.Len(t, rec.Of(obstest.Delivered), 1)
}

// TestObserverSeesLimitRefusals: a subscription refused by
// Limits.MaxSubscriptions (a Session's, a Subscribe call's filters) is
// reported as refused with reason limit, as a refusal by Auth is.
func TestObserverSeesLimitRefusals(t *testing.T) {
	rec := obstest.New()
	e := newEnv(t, &grpcx.Options{Observer: rec.Observer(), Limits: transport.Limits{MaxSubscriptions: 1}}, pubsub.MemoryOptions{})
	c := e.client("grpc")
	ctx := testCtx(t)

	st, err := c.Subscribe(ctx, connect.NewRequest(&pb.SubscribeRequest{Filters: []string{"a", "b"}}))
	require.NoError(t, err)
	require.False(t, st.Receive())
	requireCode(t, connect.CodeResourceExhausted, st.Err())
	_ = st.Close()
	ended := rec.WaitKind(t, obstest.SubEnded, 1)
	require.Equal(t, obstest.Event{Kind: obstest.SubEnded, Transport: "grpc", Filters: []string{"a", "b"},
		Reason: transport.EndLimit, Refused: true, Err: ended[0].Err}, ended[0])

	ss := c.Session(ctx)
	defer ss.CloseResponse()
	sendCmd(t, ss, subCmd("s1", &pb.SessionSubscribe{Filter: "a"}))
	require.True(t, result(t, ss, "s1").GetOk())
	sendCmd(t, ss, subCmd("s2", &pb.SessionSubscribe{Filter: "b"}))
	require.False(t, result(t, ss, "s2").GetOk())
	ended = rec.WaitKind(t, obstest.SubEnded, 2)
	require.Equal(t, obstest.Event{Kind: obstest.SubEnded, Transport: "grpc", Filters: []string{"b"},
		Reason: transport.EndLimit, Refused: true, Err: ended[1].Err}, ended[1])
	require.Len(t, rec.Of(obstest.SubStarted), 1)
}
