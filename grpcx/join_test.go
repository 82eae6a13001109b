package grpcx_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/grpcx"
	pb "github.com/switchboard-go/switchboard/grpcx/pubsubv1"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// groupAuth authenticates "Bearer <subject>" and lets everyone subscribe to
// public/#, alice join her "workers" group and anyone join groups named
// "<subject>-…".
var groupAuth = &transport.Auth{
	Authenticate: func(_ context.Context, c transport.Credentials) (*transport.Identity, error) {
		return &transport.Identity{Subject: c.Token}, nil
	},
	Authorize: func(_ context.Context, id *transport.Identity, a transport.Action, topic string) error {
		switch {
		case a == transport.ActionJoin && topic == "workers" && id.Subject == "alice":
			return nil
		case a == transport.ActionJoin && strings.HasPrefix(topic, id.Subject+"-"):
			return nil
		case a == transport.ActionSubscribe && strings.HasPrefix(topic, "public/"):
			return nil
		case a == transport.ActionPublish:
			return nil
		}
		return fmt.Errorf("%s may not %s %s", id.Subject, a, topic)
	},
}

// Issue 13: bob, who may read public/jobs, can join alice's "workers"
// group neither with Subscribe nor in a Session, so it keeps every job.
func TestAuthGroup(t *testing.T) {
	for _, proto := range protocols {
		t.Run(proto, func(t *testing.T) {
			ctx := testCtx(t)
			e := newEnv(t, &grpcx.Options{Auth: groupAuth}, pubsub.MemoryOptions{})
			c := e.client(proto)
			sub := func(who, group string) (*connect.ServerStreamForClient[pb.SubscribeResponse], error) {
				r := connect.NewRequest(&pb.SubscribeRequest{Filters: []string{"public/jobs"}, Group: group})
				r.Header().Set("Authorization", "Bearer "+who)
				st, err := c.Subscribe(ctx, r)
				require.NoError(t, err)
				t.Cleanup(func() { _ = st.Close() })
				if !st.Receive() {
					return nil, st.Err()
				}
				require.NotNil(t, st.Msg().GetOpened(), "first event is not Opened: %v", st.Msg())
				return st, nil
			}

			alice, err := sub("alice", "workers")
			require.NoError(t, err)
			_, err = sub("bob", "workers")
			requireCode(t, connect.CodePermissionDenied, err)
			_, err = sub("bob", "bob-workers")
			require.NoError(t, err)

			sess := c.Session(ctx)
			defer sess.CloseResponse()
			sess.RequestHeader().Set("Authorization", "Bearer bob")
			sendCmd(t, sess, subCmd("s1", &pb.SessionSubscribe{Filter: "public/jobs", Group: "workers"}))
			r := result(t, sess, "s1")
			require.False(t, r.GetOk())
			require.Equal(t, "permission_denied", r.GetCode(), r.GetError())
			sendCmd(t, sess, subCmd("s2", &pb.SessionSubscribe{Filter: "private/jobs", Group: "bob-workers"}))
			require.Equal(t, "permission_denied", result(t, sess, "s2").GetCode(), "the filter is still checked")
			sendCmd(t, sess, subCmd("s3", &pb.SessionSubscribe{Filter: "public/jobs", Group: "bob-workers"}))
			require.True(t, result(t, sess, "s3").GetOk())
			require.NoError(t, sess.CloseRequest())

			// alice's group keeps every job.
			for i := range 3 {
				_, err := e.b.Publish(ctx, pubsub.Message{Topic: "public/jobs", Data: []byte(strconv.Itoa(i))})
				require.NoError(t, err)
			}
			for i := range 3 {
				require.Equal(t, strconv.Itoa(i), string(recv(t, alice).GetData()))
			}
		})
	}
}
