package grpcx_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/grpcx"
	pb "github.com/switchboard-go/switchboard/grpcx/pubsubv1"
	"github.com/switchboard-go/switchboard/grpcx/pubsubv1/pubsubv1connect"
	"github.com/switchboard-go/switchboard/pubsub"
)

// noFlushLog is an access-log middleware's ResponseWriter that forgets
// Flush and Unwrap; unwrapLog keeps Unwrap (but still not Flush).
type noFlushLog struct{ http.ResponseWriter }

type unwrapLog struct{ http.ResponseWriter }

func (u unwrapLog) Unwrap() http.ResponseWriter { return u.ResponseWriter }

// syncBuf is a log sink safe for the handler's goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestStreamBehindMiddleware: behind a wrapper that cannot flush, a
// stream fails at once with Internal naming the cause (and a Warn log)
// instead of holding its messages in a buffer; unary calls still work.
// Behind a wrapper with Unwrap, flushes reach the server's writer through
// http.ResponseController and the stream delivers.
func TestStreamBehindMiddleware(t *testing.T) {
	ctx := testCtx(t)
	b := pubsub.NewMemory(nil)
	var logs syncBuf
	_, h := grpcx.NewHandler(b, &grpcx.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	t.Cleanup(func() {
		require.NoError(t, h.Close())
		require.NoError(t, b.Close())
	})
	serve := func(wrap func(http.ResponseWriter) http.ResponseWriter) pubsubv1connect.PubSubServiceClient {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(wrap(w), r)
		}))
		t.Cleanup(srv.Close)
		return pubsubv1connect.NewPubSubServiceClient(srv.Client(), srv.URL)
	}

	bad := serve(func(w http.ResponseWriter) http.ResponseWriter { return noFlushLog{w} })
	st, err := bad.Subscribe(ctx, connect.NewRequest(&pb.SubscribeRequest{Filters: []string{"a"}}))
	require.NoError(t, err)
	require.False(t, st.Receive())
	require.Equal(t, connect.CodeInternal, connect.CodeOf(st.Err()), "%v", st.Err())
	require.ErrorContains(t, st.Err(), "cannot flush")
	require.NoError(t, st.Close())
	require.Contains(t, logs.String(), "level=WARN")
	require.Contains(t, logs.String(), "cannot flush")
	_, err = bad.Publish(ctx, connect.NewRequest(&pb.PublishRequest{Topic: "a", Data: []byte("x")}))
	require.NoError(t, err, "unary calls need no flush")

	good := serve(func(w http.ResponseWriter) http.ResponseWriter { return unwrapLog{w} })
	first, err := b.Publish(ctx, pubsub.Message{Topic: "a", Data: []byte("first")})
	require.NoError(t, err)
	_, err = b.Publish(ctx, pubsub.Message{Topic: "a", Data: []byte("next")})
	require.NoError(t, err)
	// The stream stays open: "next" reaches the client only if it was
	// flushed (a type assertion on the wrapper found no Flusher, and the
	// message sat in the server's buffer until the 20 s bound).
	st, err = good.Subscribe(ctx, connect.NewRequest(&pb.SubscribeRequest{Filters: []string{"a"}, Since: first.Cursor}))
	require.NoError(t, err)
	defer st.Close()
	for st.Receive() {
		if m := st.Msg().GetMessage(); m != nil {
			require.Equal(t, "next", string(m.GetData()))
			return
		}
	}
	t.Fatalf("the stream ended: %v", st.Err())
}
