package grpcx_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/switchboard-go/switchboard/grpcx"
	pb "github.com/switchboard-go/switchboard/grpcx/pubsubv1"
	"github.com/switchboard-go/switchboard/grpcx/pubsubv1/pubsubv1connect"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// A subscriber that stops reading is ended with ResourceExhausted and the
// cursor to resume from; resuming from it loses nothing and repeats
// nothing.
func TestSlowConsumerResume(t *testing.T) {
	for _, proto := range []string{"grpc", "connect"} {
		t.Run(proto, func(t *testing.T) {
			ctx := testCtx(t)
			e := newEnv(t, &grpcx.Options{Buffer: 4}, pubsub.MemoryOptions{})
			c := e.slowClient(t, proto)
			st, _ := subscribe(t, ctx, c, &pb.SubscribeRequest{Filters: []string{"big"}})
			// 32 messages of 64 KiB overflow the client's 64 KiB HTTP/2
			// window and the 4-message buffer.
			const n = 32
			for i := range n {
				payload := make([]byte, 64<<10) // the broker keeps it
				payload[0] = byte(i)
				_, err := e.b.Publish(ctx, pubsub.Message{Topic: "big", Data: payload})
				require.NoError(t, err)
			}
			got := 0
			for st.Receive() {
				m := st.Msg().GetMessage()
				require.Equal(t, byte(got), m.GetData()[0])
				got++
			}
			require.Less(t, got, n, "the consumer was never slow")
			err := st.Err()
			requireCode(t, connect.CodeResourceExhausted, err)
			var ce *connect.Error
			require.ErrorAs(t, err, &ce)
			resume := ce.Meta().Get(grpcx.ResumeCursorKey)
			require.NotEmpty(t, resume)
			require.Contains(t, ce.Message(), resume)

			st2, op := subscribe(t, ctx, c, &pb.SubscribeRequest{Filters: []string{"big"}, Since: resume})
			require.Nil(t, op.GetGap())
			for ; got < n; got++ {
				require.Equal(t, byte(got), recv(t, st2).GetData()[0])
			}
		})
	}
}

func TestShutdown(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, nil, pubsub.MemoryOptions{})
	c := e.client("grpc")
	st, _ := subscribe(t, ctx, c, &pb.SubscribeRequest{Filters: []string{"a"}})
	last := publish(t, ctx, c, "a", "1").GetCursor()
	recv(t, st)
	sess := c.Session(ctx)
	defer sess.CloseResponse()
	require.NoError(t, sess.Send(subCmd("s", &pb.SessionSubscribe{Filter: "a"})))
	_, err := sess.Receive()
	require.NoError(t, err)

	require.NoError(t, e.h.Shutdown(ctx))

	require.False(t, st.Receive())
	requireCode(t, connect.CodeUnavailable, st.Err())
	var ce *connect.Error
	require.ErrorAs(t, st.Err(), &ce)
	require.Equal(t, last, ce.Meta().Get(grpcx.ResumeCursorKey))
	_, err = sess.Receive()
	requireCode(t, connect.CodeUnavailable, err)

	_, err = c.Publish(ctx, connect.NewRequest(&pb.PublishRequest{Topic: "a"}))
	requireCode(t, connect.CodeUnavailable, err)
	hc := grpchealth.NewClient(e.h2c, e.srv.URL, connect.WithGRPC())
	res, err := hc.Check(ctx, &grpchealth.CheckRequest{Service: grpcx.ServiceName})
	require.NoError(t, err)
	require.Equal(t, grpchealth.StatusNotServing, res.Status)
}

func TestBrokerClose(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, nil, pubsub.MemoryOptions{})
	c := e.client("connect")
	st, _ := subscribe(t, ctx, c, &pb.SubscribeRequest{Filters: []string{"a", "b"}})
	require.NoError(t, e.b.Close())
	require.False(t, st.Receive())
	requireCode(t, connect.CodeUnavailable, st.Err())
	_, err := c.Publish(ctx, connect.NewRequest(&pb.PublishRequest{Topic: "a"}))
	requireCode(t, connect.CodeUnavailable, err)
}

func TestClientCancel(t *testing.T) {
	// The server's stream goroutines end when clients go (goleak checks
	// at the end of the package).
	e := newEnv(t, nil, pubsub.MemoryOptions{})
	c := e.client("grpc")
	for i := range 5 {
		ctx, cancel := context.WithCancel(testCtx(t))
		st, _ := subscribe(t, ctx, c, &pb.SubscribeRequest{Filters: []string{fmt.Sprint(i)}})
		sess := c.Session(ctx)
		require.NoError(t, sess.Send(subCmd("s", &pb.SessionSubscribe{Filter: "x"})))
		_, err := sess.Receive()
		require.NoError(t, err)
		cancel()
		require.False(t, st.Receive())
		_ = st.Close()
		_ = sess.CloseResponse()
	}
}

func TestMaxConnections(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, &grpcx.Options{Limits: transport.Limits{MaxConnections: 1}}, pubsub.MemoryOptions{})
	c := e.client("grpc")
	subscribe(t, ctx, c, &pb.SubscribeRequest{Filters: []string{"a"}})
	st, err := c.Subscribe(ctx, connect.NewRequest(&pb.SubscribeRequest{Filters: []string{"a"}}))
	require.NoError(t, err)
	defer st.Close()
	require.False(t, st.Receive())
	requireCode(t, connect.CodeUnavailable, st.Err())
	publish(t, ctx, c, "a", "unary calls are not counted")
}

func TestReflectionAndHealth(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, nil, pubsub.MemoryOptions{})
	rc := grpcreflect.NewClient(e.h2c, e.srv.URL)
	rs := rc.NewStream(ctx)
	names, err := rs.ListServices()
	require.NoError(t, err)
	require.ElementsMatch(t, names, []protoreflect.FullName{grpcx.ServiceName, grpcreflect.ReflectV1ServiceName, grpchealth.HealthV1ServiceName})
	files, err := rs.FileContainingSymbol(protoreflect.FullName(grpcx.ServiceName))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	require.Equal(t, "switchboard/pubsub/v1/pubsub.proto", files[0].GetName())
	require.Len(t, files[0].GetService()[0].GetMethod(), 5)
	_, err = rs.Close()
	require.NoError(t, err)

	hc := grpchealth.NewClient(e.h2c, e.srv.URL, connect.WithGRPC())
	res, err := hc.Check(ctx, &grpchealth.CheckRequest{Service: grpcx.ServiceName})
	require.NoError(t, err)
	require.Equal(t, grpchealth.StatusServing, res.Status)
}

// In a Session, a subscription that overflows is ended with SessionEnded
// and its last cursor; the session and its other commands go on.
func TestSessionSlowConsumer(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, &grpcx.Options{Buffer: 4}, pubsub.MemoryOptions{})
	st := e.slowClient(t, "grpc").Session(ctx)
	defer st.CloseResponse()
	sendCmd(t, st, subCmd("s", &pb.SessionSubscribe{Filter: "big"}))
	require.True(t, result(t, st, "s").GetOk())
	const n = 32
	for i := range n {
		payload := make([]byte, 64<<10)
		payload[0] = byte(i)
		_, err := e.b.Publish(ctx, pubsub.Message{Topic: "big", Data: payload})
		require.NoError(t, err)
	}
	got := 0
	var ended *pb.SessionEnded
	for ended == nil {
		ev := next(t, st)
		if d := ev.GetDelivery(); d != nil {
			require.Equal(t, byte(got), d.GetMessage().GetData()[0])
			got++
			continue
		}
		ended = ev.GetEnded()
		require.NotNil(t, ended, "unexpected event %v", ev)
	}
	require.Less(t, got, n)
	require.Equal(t, "s", ended.GetSubscriptionId())
	require.Equal(t, "resource_exhausted", ended.GetCode())
	// Resume within the same session from the last cursor.
	sendCmd(t, st, subCmd("s", &pb.SessionSubscribe{Filter: "big", Since: ended.GetLastCursor()}))
	r := result(t, st, "s")
	require.True(t, r.GetOk(), r.GetError())
	require.Nil(t, r.GetOpened().GetGap())
	for ; got < n; got++ {
		require.Equal(t, byte(got), delivery(t, st).GetMessage().GetData()[0])
	}
}

// openPublishStream opens a PublishStream whose first message reached the
// broker, so the server is inside the call.
func openPublishStream(t *testing.T, ctx context.Context, e *env, c pubsubv1connect.PubSubServiceClient) *connect.ClientStreamForClient[pb.PublishStreamRequest, pb.PublishStreamResponse] {
	t.Helper()
	watch, err := e.b.Subscribe(ctx, "ps", nil)
	require.NoError(t, err)
	defer watch.Close()
	ps := c.PublishStream(ctx)
	require.NoError(t, ps.Send(&pb.PublishStreamRequest{Message: &pb.PublishRequest{Topic: "ps", Data: []byte("1")}}))
	<-watch.C()
	return ps
}

// requireRefused checks that new streams and unary calls fail with
// Unavailable.
func requireRefused(t *testing.T, ctx context.Context, c pubsubv1connect.PubSubServiceClient) {
	t.Helper()
	st, err := c.Subscribe(ctx, connect.NewRequest(&pb.SubscribeRequest{Filters: []string{"a"}}))
	require.NoError(t, err)
	defer st.Close()
	require.False(t, st.Receive())
	requireCode(t, connect.CodeUnavailable, st.Err())
	_, err = c.Publish(ctx, connect.NewRequest(&pb.PublishRequest{Topic: "a"}))
	requireCode(t, connect.CodeUnavailable, err)
}

// Shutdown ends Subscribe with its go-away (Unavailable), refuses new
// calls, and waits for a PublishStream to finish: its client gets its
// summary. Active counts the open streams, not unary calls.
func TestShutdownWaitsForStreams(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, nil, pubsub.MemoryOptions{})
	c := e.client("grpc")
	st, _ := subscribe(t, ctx, c, &pb.SubscribeRequest{Filters: []string{"a"}})
	require.Equal(t, 1, e.h.Active())
	ps := openPublishStream(t, ctx, e, c)
	require.Equal(t, 2, e.h.Active())
	publish(t, ctx, c, "a", "unary calls are not streams")
	require.Equal(t, 2, e.h.Active())
	// Received before Shutdown: a message still on its way when the stream
	// ends is not lost (the resume cursor is before it), but this test is
	// about the stream ending.
	recv(t, st)

	done := make(chan error, 1)
	go func() { done <- e.h.Shutdown(ctx) }()
	require.False(t, st.Receive(), "Subscribe ends on Shutdown")
	requireCode(t, connect.CodeUnavailable, st.Err())
	requireRefused(t, ctx, c)
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) while a PublishStream was open", err)
	default:
	}
	require.NoError(t, ps.Send(&pb.PublishStreamRequest{Message: &pb.PublishRequest{Topic: "ps", Data: []byte("2")}}))
	res, err := ps.CloseAndReceive()
	require.NoError(t, err, "a graceful shutdown lets the batch finish")
	require.EqualValues(t, 2, res.Msg.GetSuccessCount())
	require.NoError(t, <-done)
	require.Zero(t, e.h.Active())
	require.NoError(t, e.h.Shutdown(ctx), "idempotent")
}

// When Shutdown's context ends first, the streams still open are cut and
// waited for, and Shutdown returns the context's error.
func TestShutdownDeadlineCuts(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, nil, pubsub.MemoryOptions{})
	c := e.client("grpc")
	ps := openPublishStream(t, ctx, e, c)
	sctx, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, e.h.Shutdown(sctx), context.Canceled)
	require.Zero(t, e.h.Active(), "Shutdown waits for the cut streams")
	_, err := ps.CloseAndReceive()
	require.Error(t, err, "the PublishStream was cut")
	requireRefused(t, ctx, c)
}

// Close cuts every stream at once, without the HTTP server's help: a
// Subscribe stream blocked writing to a client that does not read, a
// Session whose reader is blocked on the request body, and a
// PublishStream waiting for its client. It waits for them (Active is 0
// when it returns) and refuses new calls; it may race Shutdown.
func TestCloseCuts(t *testing.T) {
	for _, proto := range protocols {
		t.Run(proto, func(t *testing.T) { testCloseCuts(t, proto) })
	}
}

func testCloseCuts(t *testing.T, proto string) {
	ctx := testCtx(t)
	e := newEnv(t, nil, pubsub.MemoryOptions{})
	c := e.client(proto)
	slow, _ := subscribe(t, ctx, e.slowClient(t, proto), &pb.SubscribeRequest{Filters: []string{"big"}})
	for range 32 { // overflow the client's 64 KiB HTTP/2 window, not the buffer
		_, err := e.b.Publish(ctx, pubsub.Message{Topic: "big", Data: make([]byte, 64<<10)})
		require.NoError(t, err)
	}
	sess := c.Session(ctx)
	defer sess.CloseResponse()
	sendCmd(t, sess, subCmd("s", &pb.SessionSubscribe{Filter: "a"}))
	require.True(t, result(t, sess, "s").GetOk())
	ps := openPublishStream(t, ctx, e, c)
	require.Equal(t, 3, e.h.Active())

	shut := make(chan error, 1)
	go func() { shut <- e.h.Shutdown(context.Background()) }()
	require.NoError(t, e.h.Close())
	require.Zero(t, e.h.Active())
	require.NoError(t, <-shut, "Shutdown returns once Close has ended the streams")

	for slow.Receive() {
	}
	require.Error(t, slow.Err())
	for {
		if _, err := sess.Receive(); err != nil {
			require.NotErrorIs(t, err, io.EOF)
			break
		}
	}
	_, err := ps.CloseAndReceive()
	require.Error(t, err)
	requireRefused(t, ctx, c)
	hc := grpchealth.NewClient(e.h2c, e.srv.URL, connect.WithGRPC())
	res, err := hc.Check(ctx, &grpchealth.CheckRequest{Service: grpcx.ServiceName})
	require.NoError(t, err)
	require.Equal(t, grpchealth.StatusNotServing, res.Status)
	require.NoError(t, e.h.Close(), "idempotent")
}

// Close also cuts a stream served over HTTP/1.1 (Connect protocol).
func TestCloseCutsHTTP1(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, nil, pubsub.MemoryOptions{})
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c := pubsubv1connectClient(&http.Client{Transport: tr}, e.srv.URL)
	st, _ := subscribe(t, ctx, c, &pb.SubscribeRequest{Filters: []string{"a"}})
	require.Equal(t, 1, e.h.Active())
	require.NoError(t, e.h.Close())
	require.Zero(t, e.h.Active())
	require.False(t, st.Receive())
	require.Error(t, st.Err())
}
