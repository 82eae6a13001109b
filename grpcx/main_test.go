package grpcx_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/switchboard-go/switchboard/grpcx"
	pb "github.com/switchboard-go/switchboard/grpcx/pubsubv1"
	"github.com/switchboard-go/switchboard/grpcx/pubsubv1/pubsubv1connect"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// env is a broker and a handler served over HTTP/1.1 and h2c on a loopback
// port.
type env struct {
	b   *pubsub.Memory
	h   *grpcx.Handler
	srv *httptest.Server
	h2c *http.Client
}

func newEnv(t testing.TB, opts *grpcx.Options, mo pubsub.MemoryOptions) *env {
	t.Helper()
	e := &env{b: pubsub.NewMemory(&mo)}
	_, e.h = grpcx.NewHandler(e.b, opts)
	mux := http.NewServeMux()
	e.h.Register(mux)
	e.srv = httptest.NewUnstartedServer(mux)
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	e.srv.Config.Protocols = p
	e.srv.Start()
	cp := new(http.Protocols)
	cp.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: cp}
	e.h2c = &http.Client{Transport: tr}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		e.srv.Close()
		require.NoError(t, e.h.Close())
		require.NoError(t, e.b.Close())
	})
	return e
}

// client returns a client of one protocol: "connect", "grpc" or "grpcweb",
// over h2c.
func (e *env) client(protocol string, opts ...connect.ClientOption) pubsubv1connect.PubSubServiceClient {
	switch protocol {
	case "grpc":
		opts = append(opts, connect.WithGRPC())
	case "grpcweb":
		opts = append(opts, connect.WithGRPCWeb())
	}
	return pubsubv1connect.NewPubSubServiceClient(e.h2c, e.srv.URL, opts...)
}

// slowClient returns a client over h2c whose HTTP/2 flow-control windows
// are the smallest allowed (64 KiB), so a consumer that stops reading holds
// up the server after a few messages.
func (e *env) slowClient(t testing.TB, protocol string) pubsubv1connect.PubSubServiceClient {
	cp := new(http.Protocols)
	cp.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: cp, HTTP2: &http.HTTP2Config{
		MaxReceiveBufferPerConnection: 64 << 10, MaxReceiveBufferPerStream: 64 << 10}}
	t.Cleanup(tr.CloseIdleConnections)
	var opts []connect.ClientOption
	switch protocol {
	case "grpc":
		opts = append(opts, connect.WithGRPC())
	case "grpcweb":
		opts = append(opts, connect.WithGRPCWeb())
	}
	return pubsubv1connect.NewPubSubServiceClient(&http.Client{Transport: tr}, e.srv.URL, opts...)
}

var protocols = []string{"connect", "grpc", "grpcweb"}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// subscribe opens a Subscribe stream and returns it with its Opened event.
func subscribe(t testing.TB, ctx context.Context, c pubsubv1connect.PubSubServiceClient, req *pb.SubscribeRequest) (*connect.ServerStreamForClient[pb.SubscribeResponse], *pb.Opened) {
	t.Helper()
	st, err := c.Subscribe(ctx, connect.NewRequest(req))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	require.True(t, st.Receive(), "no Opened event: %v", st.Err())
	op := st.Msg().GetOpened()
	require.NotNil(t, op, "first event is not Opened: %v", st.Msg())
	return st, op
}

// recv reads the next message of a Subscribe stream.
func recv(t testing.TB, st *connect.ServerStreamForClient[pb.SubscribeResponse]) *pb.Message {
	t.Helper()
	require.True(t, st.Receive(), "stream ended: %v", st.Err())
	m := st.Msg().GetMessage()
	require.NotNil(t, m, "not a message: %v", st.Msg())
	return m
}

func publish(t testing.TB, ctx context.Context, c pubsubv1connect.PubSubServiceClient, topic, data string) *pb.PublishResponse {
	t.Helper()
	res, err := c.Publish(ctx, connect.NewRequest(&pb.PublishRequest{Topic: topic, Data: []byte(data)}))
	require.NoError(t, err)
	return res.Msg
}

func requireCode(t testing.TB, want connect.Code, err error) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, want, connect.CodeOf(err), "error: %v", err)
}

func pubsubv1connectClient(hc connect.HTTPClient, url string, opts ...connect.ClientOption) pubsubv1connect.PubSubServiceClient {
	return pubsubv1connect.NewPubSubServiceClient(hc, url, opts...)
}

func limits(subs int, msgBytes int64) transport.Limits {
	return transport.Limits{MaxSubscriptions: subs, MaxMessageBytes: msgBytes}
}
