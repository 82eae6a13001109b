package main

import (
	"context"
	"flag"
	"log/slog"
	"time"

	"github.com/switchboard-go/switchboard/natsx"
	"github.com/switchboard-go/switchboard/pubsub"
)

var natsStream string

// NATS: -broker nats://127.0.0.1:4222 runs the hub on NATS JetStream.
// Start several hubs on different -addr with the same broker URL and
// -nats-stream: a message published on any of them reaches subscribers on
// all of them, on every transport, and cursors (SSE Last-Event-ID,
// long-poll) work on every hub. Each hub holds one core NATS subscription
// per distinct filter its clients use; the stream keeps the history.
func init() {
	extraFlags = append(extraFlags, func(fs *flag.FlagSet) {
		fs.StringVar(&natsStream, "nats-stream", natsx.DefaultStream, "JetStream stream shared by the hubs (with -broker nats://…)")
	})
	registerBroker("nats", func(ctx context.Context, u string, log *slog.Logger) (pubsub.Broker, error) {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return natsx.Dial(ctx, u, &natsx.Options{Stream: natsStream, Name: "switchboard-hub", Logger: log})
	})
}
