package main

import (
	"context"
	"flag"
	"log/slog"
	"time"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/redisx"
)

var redisPrefix string

// Redis: -broker redis://127.0.0.1:6379/0 (or rediss://) runs the hub on
// Redis. Start several hubs on different -addr with the same broker URL
// and -redis-prefix: a message published on any of them reaches
// subscribers on all of them, on every transport, and cursors (SSE
// Last-Event-ID, long-poll) work on every hub. Each hub reads the shared
// stream <prefix>:log once (redis-cli XINFO STREAM switchboard:log) and
// matches filters itself.
func init() {
	extraFlags = append(extraFlags, func(fs *flag.FlagSet) {
		fs.StringVar(&redisPrefix, "redis-prefix", redisx.DefaultPrefix, "Redis key prefix shared by the hubs (with -broker redis://…)")
	})
	dial := func(ctx context.Context, u string, log *slog.Logger) (pubsub.Broker, error) {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return redisx.Dial(ctx, u, &redisx.Options{Prefix: redisPrefix, Logger: log})
	}
	registerBroker("redis", dial) // rediss (TLS) finds it without its "s"
}
