package grpcx_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/switchboard-go/switchboard/grpcx"
	"github.com/switchboard-go/switchboard/pubsub"
)

// switchBroker is a Memory whose readiness the test sets.
type switchBroker struct {
	*pubsub.Memory
	down atomic.Bool
}

func (b *switchBroker) Ready(ctx context.Context) error {
	if b.down.Load() {
		return errors.Join(pubsub.ErrUnavailable, errors.New("link cut by the test"))
	}
	return b.Memory.Ready(ctx)
}

// TestHealthFollowsTheBroker: the gRPC health service answers SERVING
// while the broker is ready and NOT_SERVING while it is not (Check, and a
// Watch stream sees both changes), and NOT_SERVING for good after
// Shutdown.
func TestHealthFollowsTheBroker(t *testing.T) {
	ctx := testCtx(t)
	b := &switchBroker{Memory: pubsub.NewMemory(nil)}
	_, h := grpcx.NewHandler(b, nil)
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewUnstartedServer(mux)
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv.Config.Protocols = p
	srv.Start()
	cc, err := grpc.NewClient(strings.TrimPrefix(srv.URL, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = cc.Close()
		srv.Close()
		require.NoError(t, h.Close())
		require.NoError(t, b.Close())
	})
	hc := grpchealth.NewClient(srv.Client(), srv.URL, connect.WithGRPCWeb())
	check := func() grpchealth.Status {
		res, err := hc.Check(ctx, &grpchealth.CheckRequest{Service: grpcx.ServiceName})
		require.NoError(t, err)
		return res.Status
	}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watch, err := healthpb.NewHealthClient(cc).Watch(wctx, &healthpb.HealthCheckRequest{Service: grpcx.ServiceName})
	require.NoError(t, err)
	next := func() healthpb.HealthCheckResponse_ServingStatus {
		res, err := watch.Recv()
		require.NoError(t, err)
		return res.GetStatus()
	}

	require.Equal(t, grpchealth.StatusServing, check())
	require.Equal(t, healthpb.HealthCheckResponse_SERVING, next())
	b.down.Store(true)
	require.Equal(t, grpchealth.StatusNotServing, check())
	require.Equal(t, healthpb.HealthCheckResponse_NOT_SERVING, next())
	b.down.Store(false)
	require.Equal(t, grpchealth.StatusServing, check())
	require.Equal(t, healthpb.HealthCheckResponse_SERVING, next())
	stopWatch()

	require.NoError(t, h.Shutdown(ctx))
	require.Equal(t, grpchealth.StatusNotServing, check())
}
