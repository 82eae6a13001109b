package grpcx

import (
	"context"
	"sync"
	"time"

	"connectrpc.com/grpchealth"

	"github.com/switchboard-go/switchboard/pubsub"
)

// healthPoll is how often a Watch call of the health service asks the
// broker whether it is still ready.
const healthPoll = time.Second

// healthChecker answers the gRPC health service: NOT_SERVING once the
// handler shuts down (the static part) or while the broker is not ready
// (pubsub.ReadinessChecker), SERVING otherwise.
type healthChecker struct {
	static *grpchealth.StaticChecker
	h      *Handler
}

var _ grpchealth.Watcher = (*healthChecker)(nil)

// Check reports the static status, turned NOT_SERVING while the broker
// is not ready.
func (c *healthChecker) Check(ctx context.Context, req *grpchealth.CheckRequest) (*grpchealth.CheckResponse, error) {
	res, err := c.static.Check(ctx, req)
	if err != nil || res.Status != grpchealth.StatusServing {
		return res, err
	}
	if err := pubsub.Ready(ctx, c.h.b); err != nil {
		c.h.log.Debug("grpcx: health NOT_SERVING: broker not ready", "err", err)
		return &grpchealth.CheckResponse{Status: grpchealth.StatusNotServing}, nil
	}
	return res, nil
}

// Watch tells the watcher of shutdown (through the static checker) and of
// every change of the broker's readiness, seen by polling it every
// healthPoll.
func (c *healthChecker) Watch(ctx context.Context, req *grpchealth.CheckRequest, onChange func()) (func(), error) {
	stopStatic, err := c.static.Watch(ctx, req, onChange)
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(healthPoll)
		defer t.Stop()
		ready := pubsub.Ready(ctx, c.h.b) == nil
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if now := pubsub.Ready(ctx, c.h.b) == nil; now != ready {
					ready = now
					onChange()
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			stopStatic()
			close(done)
			wg.Wait()
		})
	}, nil
}
