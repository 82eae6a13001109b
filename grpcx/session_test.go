package grpcx_test

import (
	"errors"
	"io"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/grpcx"
	pb "github.com/switchboard-go/switchboard/grpcx/pubsubv1"
	"github.com/switchboard-go/switchboard/pubsub"
)

type sessionStream = connect.BidiStreamForClient[pb.SessionRequest, pb.SessionResponse]

func sendCmd(t *testing.T, st *sessionStream, r *pb.SessionRequest) {
	t.Helper()
	require.NoError(t, st.Send(r))
}

func next(t *testing.T, st *sessionStream) *pb.SessionResponse {
	t.Helper()
	r, err := st.Receive()
	require.NoError(t, err)
	return r
}

func result(t *testing.T, st *sessionStream, id string) *pb.SessionResult {
	t.Helper()
	r := next(t, st).GetResult()
	require.NotNil(t, r)
	require.Equal(t, id, r.GetId())
	return r
}

func delivery(t *testing.T, st *sessionStream) *pb.SessionDelivery {
	t.Helper()
	r := next(t, st)
	d := r.GetDelivery()
	require.NotNil(t, d, "not a delivery: %v", r)
	return d
}

func subCmd(id string, s *pb.SessionSubscribe) *pb.SessionRequest {
	return &pb.SessionRequest{Id: id, Command: &pb.SessionRequest_Subscribe{Subscribe: s}}
}

func pubCmd(id, topic, data string) *pb.SessionRequest {
	return &pb.SessionRequest{Id: id, Command: &pb.SessionRequest_Publish{Publish: &pb.PublishRequest{Topic: topic, Data: []byte(data)}}}
}

func ackCmd(id, sub, msg string, nack, requeue bool) *pb.SessionRequest {
	return &pb.SessionRequest{Id: id, Command: &pb.SessionRequest_Ack{Ack: &pb.SessionAck{SubscriptionId: sub, MessageId: msg, Nack: nack, Requeue: requeue}}}
}

func TestSession(t *testing.T) {
	for _, proto := range protocols {
		t.Run(proto, func(t *testing.T) {
			ctx := testCtx(t)
			e := newEnv(t, &grpcx.Options{Limits: limits(2, 0)}, pubsub.MemoryOptions{})
			st := e.client(proto).Session(ctx)
			defer st.CloseResponse()

			sendCmd(t, st, subCmd("s1", &pb.SessionSubscribe{Filter: "chat/+"}))
			r := result(t, st, "s1")
			require.True(t, r.GetOk(), r.GetError())
			require.NotEmpty(t, r.GetOpened().GetHead())

			sendCmd(t, st, pubCmd("p1", "chat/1", "hello"))
			var pubRes *pb.SessionResult
			var got *pb.SessionDelivery
			for pubRes == nil || got == nil { // the result and the delivery race
				ev := next(t, st)
				if ev.GetResult() != nil {
					pubRes = ev.GetResult()
				} else {
					got = ev.GetDelivery()
				}
			}
			require.True(t, pubRes.GetOk())
			require.Equal(t, "p1", pubRes.GetId())
			require.Equal(t, "s1", got.GetSubscriptionId())
			require.Equal(t, "hello", string(got.GetMessage().GetData()))
			require.Equal(t, pubRes.GetPublish().GetId(), got.GetMessage().GetId())

			// Errors are results, and the session goes on.
			for id, cmd := range map[string]*pb.SessionRequest{
				"dup":   subCmd("s1", &pb.SessionSubscribe{Filter: "x"}),
				"bad":   subCmd("bad", &pb.SessionSubscribe{Filter: "a/#/b"}),
				"noid":  subCmd("", &pb.SessionSubscribe{Filter: "x"}),
				"empty": {Id: "empty"},
				"topic": pubCmd("topic", "a/+", ""),
				"ack":   ackCmd("ack", "s1", "nope", false, false),
				"unsub": {Id: "unsub", Command: &pb.SessionRequest_Unsubscribe{Unsubscribe: &pb.SessionUnsubscribe{SubscriptionId: "nope"}}},
			} {
				if cmd.GetId() == "" {
					cmd.Id = ""
				}
				sendCmd(t, st, cmd)
				r := next(t, st).GetResult()
				require.NotNil(t, r)
				require.False(t, r.GetOk(), id)
				require.NotEmpty(t, r.GetCode(), id)
				require.NotEmpty(t, r.GetError(), id)
			}

			sendCmd(t, st, subCmd("s2", &pb.SessionSubscribe{Filter: "b"}))
			require.True(t, result(t, st, "s2").GetOk())
			sendCmd(t, st, subCmd("s3", &pb.SessionSubscribe{Filter: "c"}))
			r = result(t, st, "s3")
			require.False(t, r.GetOk())
			require.Equal(t, "resource_exhausted", r.GetCode())

			sendCmd(t, st, &pb.SessionRequest{Id: "u", Command: &pb.SessionRequest_Unsubscribe{Unsubscribe: &pb.SessionUnsubscribe{SubscriptionId: "s1"}}})
			require.True(t, result(t, st, "u").GetOk())
			sendCmd(t, st, pubCmd("p2", "chat/1", "unheard"))
			require.True(t, result(t, st, "p2").GetOk())
			sendCmd(t, st, pubCmd("p3", "b", "heard"))
			ev1, ev2 := next(t, st), next(t, st)
			if ev1.GetDelivery() == nil {
				ev1, ev2 = ev2, ev1
			}
			require.Equal(t, "heard", string(ev1.GetDelivery().GetMessage().GetData()))
			require.Equal(t, "p3", ev2.GetResult().GetId())

			require.NoError(t, st.CloseRequest())
			_, err := st.Receive()
			require.ErrorIs(t, err, io.EOF)
		})
	}
}

func TestSessionManualAck(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, nil, pubsub.MemoryOptions{})
	st := e.client("grpc").Session(ctx)
	defer st.CloseResponse()
	sendCmd(t, st, subCmd("w", &pb.SessionSubscribe{Filter: "jobs", ManualAck: true, Prefetch: 1}))
	require.True(t, result(t, st, "w").GetOk())
	for _, j := range []string{"j1", "j2"} {
		_, err := e.b.Publish(ctx, pubsub.Message{Topic: "jobs", Data: []byte(j)})
		require.NoError(t, err)
	}
	d := delivery(t, st)
	require.Equal(t, "j1", string(d.GetMessage().GetData()))
	require.EqualValues(t, 1, d.GetMessage().GetAttempt())

	// Nack with requeue: j1 comes again (prefetch 1 holds j2 back).
	sendCmd(t, st, ackCmd("n", "w", d.GetMessage().GetId(), true, true))
	require.True(t, result(t, st, "n").GetOk())
	d = delivery(t, st)
	require.Equal(t, "j1", string(d.GetMessage().GetData()))
	require.EqualValues(t, 2, d.GetMessage().GetAttempt())
	sendCmd(t, st, ackCmd("a", "w", d.GetMessage().GetId(), false, false))
	require.True(t, result(t, st, "a").GetOk())
	d = delivery(t, st)
	require.Equal(t, "j2", string(d.GetMessage().GetData()))
	// Acking twice is an error.
	sendCmd(t, st, ackCmd("a2", "w", d.GetMessage().GetId(), false, false))
	require.True(t, result(t, st, "a2").GetOk())
	sendCmd(t, st, ackCmd("a3", "w", d.GetMessage().GetId(), false, false))
	r := result(t, st, "a3")
	require.False(t, r.GetOk())
	require.Equal(t, "not_found", r.GetCode())
	// Nack without requeue dead-letters.
	dl, err := e.b.Subscribe(ctx, "$deadletter/#", nil)
	require.NoError(t, err)
	defer dl.Close()
	_, err = e.b.Publish(ctx, pubsub.Message{Topic: "jobs", Data: []byte("j3")})
	require.NoError(t, err)
	d = delivery(t, st)
	sendCmd(t, st, ackCmd("r", "w", d.GetMessage().GetId(), true, false))
	require.True(t, result(t, st, "r").GetOk())
	m := <-dl.C()
	require.Equal(t, "j3", string(m.Data))
}

func TestSessionHTTP1Refused(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, nil, pubsub.MemoryOptions{})
	st := pubsubv1connectClient(e.srv.Client(), e.srv.URL).Session(ctx)
	defer st.CloseResponse()
	_ = st.Send(subCmd("s", &pb.SessionSubscribe{Filter: "a"}))
	_, err := st.Receive()
	require.Error(t, err)
	require.False(t, errors.Is(err, io.EOF))
}
