package drain

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestTracker(t *testing.T) {
	tr := New()
	require.True(t, tr.Enter())
	require.True(t, tr.Enter())
	require.Equal(t, 2, tr.Active())

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, tr.Shutdown(ctx), context.Canceled, "two requests still running")
	select {
	case <-tr.Closing():
	default:
		t.Fatal("Closing must be closed once Shutdown starts")
	}
	require.False(t, tr.Enter(), "no new requests after Shutdown")

	done := make(chan error, 1)
	go func() { done <- tr.Shutdown(context.Background()) }()
	tr.Leave()
	tr.Leave()
	require.NoError(t, <-done)
	require.NoError(t, tr.Shutdown(context.Background()), "idempotent")
}
