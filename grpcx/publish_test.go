package grpcx_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/switchboard-go/switchboard/grpcx"
	pb "github.com/switchboard-go/switchboard/grpcx/pubsubv1"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

func TestPublishErrors(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, &grpcx.Options{Limits: limits(0, 1000), ReadLimit: 4000}, pubsub.MemoryOptions{})
	for _, proto := range protocols {
		c := e.client(proto)
		for name, tc := range map[string]struct {
			req  *pb.PublishRequest
			code connect.Code
		}{
			"empty-topic":   {&pb.PublishRequest{}, connect.CodeInvalidArgument},
			"wildcard":      {&pb.PublishRequest{Topic: "a/+"}, connect.CodeInvalidArgument},
			"too-large":     {&pb.PublishRequest{Topic: "a", Data: make([]byte, 1001)}, connect.CodeResourceExhausted},
			"header-large":  {&pb.PublishRequest{Topic: "a", Data: make([]byte, 900), Header: map[string]string{"k": strings.Repeat("v", 200)}}, connect.CodeResourceExhausted},
			"read-max-size": {&pb.PublishRequest{Topic: "a", Data: make([]byte, 5000)}, connect.CodeResourceExhausted},
			"key-too-long":  {&pb.PublishRequest{Topic: "a", Key: strings.Repeat("k", 201)}, connect.CodeInvalidArgument},
			"id-too-long":   {&pb.PublishRequest{Topic: "a", Id: strings.Repeat("k", 201)}, connect.CodeInvalidArgument},
			"id-not-key":    {&pb.PublishRequest{Topic: "a", Id: "x", Key: "y"}, connect.CodeInvalidArgument},
		} {
			t.Run(proto+"/"+name, func(t *testing.T) {
				_, err := c.Publish(ctx, connect.NewRequest(tc.req))
				requireCode(t, tc.code, err)
			})
		}
	}
	// The handler still works.
	publish(t, ctx, e.client("grpc"), "a", "ok")
}

func TestDefaultReadLimit(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, &grpcx.Options{Limits: transport.Limits{MaxMessageBytes: -1}}, pubsub.MemoryOptions{HistorySize: -1})
	c := e.client("grpc")
	_, err := c.Publish(ctx, connect.NewRequest(&pb.PublishRequest{Topic: "a", Data: make([]byte, grpcx.DefaultReadLimit-100)}))
	require.NoError(t, err)
	_, err = c.Publish(ctx, connect.NewRequest(&pb.PublishRequest{Topic: "a", Data: make([]byte, grpcx.DefaultReadLimit+1)}))
	requireCode(t, connect.CodeResourceExhausted, err)
}

func TestAuth(t *testing.T) {
	ctx := testCtx(t)
	auth := &transport.Auth{
		Authenticate: func(_ context.Context, c transport.Credentials) (*transport.Identity, error) {
			switch {
			case c.Transport != "grpc":
				return nil, errors.New("wrong transport")
			case c.Token == "good":
				return &transport.Identity{Subject: "alice"}, nil
			case c.Username == "bob" && c.Password == "pw":
				return &transport.Identity{Subject: "bob"}, nil
			case c.Token == "banned":
				return nil, transport.ErrForbidden
			}
			return nil, errors.New("bad token")
		},
		Authorize: func(_ context.Context, id *transport.Identity, a transport.Action, topic string) error {
			if strings.HasPrefix(topic, "private/") && id.Subject != "alice" {
				return errors.New("not yours")
			}
			return nil
		},
	}
	e := newEnv(t, &grpcx.Options{Auth: auth}, pubsub.MemoryOptions{})
	for _, proto := range protocols {
		c := e.client(proto)
		req := func(token string, r *pb.PublishRequest) *connect.Request[pb.PublishRequest] {
			cr := connect.NewRequest(r)
			if token != "" {
				cr.Header().Set("Authorization", token)
			}
			return cr
		}
		t.Run(proto, func(t *testing.T) {
			_, err := c.Publish(ctx, req("", &pb.PublishRequest{Topic: "a"}))
			requireCode(t, connect.CodeUnauthenticated, err)
			_, err = c.Publish(ctx, req("Bearer wrong", &pb.PublishRequest{Topic: "a"}))
			requireCode(t, connect.CodeUnauthenticated, err)
			_, err = c.Publish(ctx, req("Bearer banned", &pb.PublishRequest{Topic: "a"}))
			requireCode(t, connect.CodePermissionDenied, err)
			_, err = c.Publish(ctx, req("Basic Ym9iOnB3", &pb.PublishRequest{Topic: "private/x"})) // bob:pw
			requireCode(t, connect.CodePermissionDenied, err)
			_, err = c.Publish(ctx, req("Basic Ym9iOnB3", &pb.PublishRequest{Topic: "public/x"}))
			require.NoError(t, err)
			_, err = c.Publish(ctx, req("Bearer good", &pb.PublishRequest{Topic: "private/x"}))
			require.NoError(t, err)

			sreq := connect.NewRequest(&pb.SubscribeRequest{Filters: []string{"public/x", "private/#"}})
			sreq.Header().Set("Authorization", "Basic Ym9iOnB3")
			st, err := c.Subscribe(ctx, sreq)
			require.NoError(t, err)
			require.False(t, st.Receive())
			requireCode(t, connect.CodePermissionDenied, st.Err())
			_ = st.Close()

			_, err = c.Request(ctx, connect.NewRequest(&pb.RequestRequest{Topic: "x"}))
			requireCode(t, connect.CodeUnauthenticated, err)
		})
	}
}

func TestPublishStream(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, &grpcx.Options{Limits: limits(0, 100)}, pubsub.MemoryOptions{})
	for _, proto := range protocols {
		t.Run(proto, func(t *testing.T) {
			c := e.client(proto)
			sub, err := e.b.Subscribe(ctx, "batch/#", nil)
			require.NoError(t, err)
			defer sub.Close()
			st := c.PublishStream(ctx)
			reqs := []*pb.PublishRequest{
				{Topic: "batch/1", Data: []byte("one")},
				{Topic: "bad/+"},
				{Topic: "batch/2", Data: []byte("two")},
				{Topic: "batch/3", Data: make([]byte, 101)},
				nil,
				{Topic: "batch/4", Data: []byte("four")},
			}
			for _, r := range reqs {
				require.NoError(t, st.Send(&pb.PublishStreamRequest{Message: r}))
			}
			res, err := st.CloseAndReceive()
			require.NoError(t, err)
			sum := res.Msg
			require.EqualValues(t, 3, sum.GetSuccessCount())
			require.EqualValues(t, 3, sum.GetFailureCount())
			require.Len(t, sum.GetIds(), 3)
			require.Len(t, sum.GetFailures(), 3)
			require.EqualValues(t, 1, sum.GetFailures()[0].GetIndex())
			require.Equal(t, "invalid_argument", sum.GetFailures()[0].GetCode())
			require.EqualValues(t, 3, sum.GetFailures()[1].GetIndex())
			require.Equal(t, "resource_exhausted", sum.GetFailures()[1].GetCode())
			require.Equal(t, "invalid_argument", sum.GetFailures()[2].GetCode())
			for i, want := range []string{"one", "two", "four"} {
				m := <-sub.C()
				require.Equal(t, want, string(m.Data))
				require.Equal(t, sum.GetIds()[i], m.ID)
				if i == 2 {
					require.Equal(t, sum.GetLastCursor(), m.Cursor)
				}
			}
		})
	}
}

func TestPublishStreamMaxBatch(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, &grpcx.Options{MaxBatch: 3}, pubsub.MemoryOptions{})
	st := e.client("grpc").PublishStream(ctx)
	for range 4 {
		if err := st.Send(&pb.PublishStreamRequest{Message: &pb.PublishRequest{Topic: "a"}}); err != nil {
			break // the server may already have answered
		}
	}
	_, err := st.CloseAndReceive()
	requireCode(t, connect.CodeResourceExhausted, err)
}

func TestRequest(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, &grpcx.Options{RequestTimeout: 200 * time.Millisecond}, pubsub.MemoryOptions{})
	sub, err := e.b.Subscribe(ctx, "svc/echo", nil)
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range sub.C() {
			_, _ = pubsub.Reply(ctx, e.b, m, pubsub.Message{Data: append([]byte("echo:"), m.Data...)})
		}
	}()
	t.Cleanup(func() { _ = sub.Close(); <-done })
	for _, proto := range protocols {
		t.Run(proto, func(t *testing.T) {
			c := e.client(proto)
			res, err := c.Request(ctx, connect.NewRequest(&pb.RequestRequest{Topic: "svc/echo", Data: []byte(proto)}))
			require.NoError(t, err)
			require.Equal(t, "echo:"+proto, string(res.Msg.GetReply().GetData()))
			_, err = c.Request(ctx, connect.NewRequest(&pb.RequestRequest{Topic: "svc/nobody"}))
			requireCode(t, connect.CodeDeadlineExceeded, err)
			_, err = c.Request(ctx, connect.NewRequest(&pb.RequestRequest{Topic: "svc/#"}))
			requireCode(t, connect.CodeInvalidArgument, err)
		})
	}
}

// TestPublishKey: PublishRequest.key is the idempotency key; a repeat gets
// the original receipt and is not delivered again.
func TestPublishKey(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, nil, pubsub.MemoryOptions{})
	sub, err := e.b.Subscribe(ctx, "k/#", nil)
	require.NoError(t, err)
	defer sub.Close()
	for _, proto := range protocols {
		c := e.client(proto)
		key := "key-" + proto
		first, err := c.Publish(ctx, connect.NewRequest(&pb.PublishRequest{Topic: "k/" + proto, Key: key, Data: []byte("one")}))
		require.NoError(t, err)
		require.Equal(t, key, first.Msg.GetId())
		again, err := c.Publish(ctx, connect.NewRequest(&pb.PublishRequest{Topic: "k/" + proto, Key: key, Id: key, Data: []byte("again")}))
		require.NoError(t, err)
		require.Equal(t, first.Msg.GetCursor(), again.Msg.GetCursor(), "%s: the original receipt", proto)
		require.True(t, first.Msg.GetTime().AsTime().Equal(again.Msg.GetTime().AsTime()))
		m := <-sub.C()
		require.Equal(t, "one", string(m.Data))
	}
	_, err = e.client("grpc").Publish(ctx, connect.NewRequest(&pb.PublishRequest{Topic: "k/end", Data: []byte("end")}))
	require.NoError(t, err)
	require.Equal(t, "end", string((<-sub.C()).Data), "no repeat was delivered")
}

func TestMalformedRequests(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, nil, pubsub.MemoryOptions{})
	badUTF8 := protowire.AppendTag(nil, 1, protowire.BytesType)
	badUTF8 = protowire.AppendString(badUTF8, "a\xff")
	for name, tc := range map[string]struct {
		ctype, body string
		status      int
		code        string
	}{
		"garbage-proto": {"application/proto", "\xff\xff\xff", 400, "invalid_argument"},
		"bad-utf8":      {"application/proto", string(badUTF8), 400, "invalid_argument"},
		"garbage-json":  {"application/json", "{", 400, "invalid_argument"},
		"wrong-type":    {"application/json", `{"topic": 5}`, 400, "invalid_argument"},
		"bad-topic":     {"application/json", `{"topic": "a/#"}`, 400, "invalid_argument"},
		"ok-json":       {"application/json", `{"topic": "a", "data": "aGk="}`, 200, ""},
		"unknown-type":  {"text/plain", "hi", 415, ""},
	} {
		t.Run(name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(ctx, "POST", e.srv.URL+"/switchboard.pubsub.v1.PubSubService/Publish", strings.NewReader(tc.body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", tc.ctype)
			res, err := e.srv.Client().Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			require.Equal(t, tc.status, res.StatusCode, "body: %s", body)
			if tc.code != "" {
				var eb struct{ Code string }
				require.NoError(t, json.Unmarshal(body, &eb), "body: %s", body)
				require.Equal(t, tc.code, eb.Code)
			}
		})
	}
}
