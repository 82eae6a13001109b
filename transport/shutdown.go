package transport

import (
	"context"
	"errors"
	"net/http"
	"sync"
)

// Shutdowner is the lifecycle every Switchboard handler and server follows
// (sse, longpoll, ws, grpcx and graphqlsub handlers, mqttx.Server):
//
//   - Shutdown(ctx) is graceful: new connections are refused (HTTP 503,
//     WebSocket close 1001, gRPC Unavailable, MQTT reason 0x8B; SSE answers
//     200 with only a retry: line, as EventSource stops for good on an
//     error status), every open
//     client is told to come back (with the cursor to resume from where the
//     wire has one), and Shutdown waits until they have gone. When ctx ends
//     first it cuts the rest, waits for them, and returns ctx's error.
//   - Close() is abrupt: every connection is cut at once, then Close waits
//     for the handler's goroutines. It always returns nil.
//
// Both are idempotent, may be called together, and return only when no
// goroutine of the handler is left serving a client.
type Shutdowner interface {
	Shutdown(ctx context.Context) error
	Close() error
}

// Shutdown stops an HTTP server and the Switchboard handlers mounted on it
// in the order they need: srv stops accepting connections while every part
// tells its clients to come back (streams, held polls and hijacked
// WebSockets never go idle, so http.Server.Shutdown alone would wait for
// them until ctx ends); then Shutdown waits for all of them. When ctx ends
// first, it closes what is left (each part's Close, then srv.Close) and
// returns ctx's error. srv may be nil, for parts with listeners of their
// own such as mqttx.Server.
func Shutdown(ctx context.Context, srv *http.Server, parts ...Shutdowner) error {
	errs := make([]error, len(parts)+1)
	var wg sync.WaitGroup
	for i, p := range parts {
		wg.Go(func() { errs[i] = p.Shutdown(ctx) })
	}
	if srv != nil {
		wg.Go(func() { errs[len(parts)] = srv.Shutdown(ctx) })
	}
	wg.Wait()
	err := errors.Join(errs...)
	if err != nil && ctx.Err() != nil {
		for _, p := range parts {
			_ = p.Close()
		}
		if srv != nil {
			_ = srv.Close()
		}
		return ctx.Err()
	}
	return err
}
