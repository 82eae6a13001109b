package transport_test

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/transport"
)

// part is a Shutdowner whose Shutdown finishes when release is closed or
// its context ends.
type part struct {
	release          chan struct{}
	shutdowns, close atomic.Int32
}

func (p *part) Shutdown(ctx context.Context) error {
	p.shutdowns.Add(1)
	select {
	case <-p.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *part) Close() error { p.close.Add(1); return nil }

// serve runs an HTTP server; the channel yields what Serve returned.
func serve(t *testing.T) (*http.Server, <-chan error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.NotFoundHandler()}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return srv, served
}

func TestShutdownGraceful(t *testing.T) {
	srv, served := serve(t)
	a := &part{release: make(chan struct{})}
	b := &part{release: make(chan struct{})}
	close(a.release)
	close(b.release)
	require.NoError(t, transport.Shutdown(context.Background(), srv, a, b))
	require.EqualValues(t, 1, a.shutdowns.Load())
	require.EqualValues(t, 1, b.shutdowns.Load())
	require.Zero(t, a.close.Load()+b.close.Load(), "nothing to cut after a graceful shutdown")
	require.ErrorIs(t, <-served, http.ErrServerClosed, "the server is shut down too")
}

func TestShutdownDeadlineCloses(t *testing.T) {
	srv, served := serve(t)
	quick := &part{release: make(chan struct{})}
	close(quick.release)
	stuck := &part{release: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, transport.Shutdown(ctx, srv, quick, stuck), context.Canceled)
	require.EqualValues(t, 1, stuck.close.Load(), "what did not finish in time is closed")
	require.ErrorIs(t, <-served, http.ErrServerClosed)
	require.NoError(t, transport.Shutdown(context.Background(), nil), "no server, no parts")
}
