package main

import (
	"context"
	"flag"
	"log/slog"
	"time"

	"github.com/switchboard-go/switchboard/amqpx"
	"github.com/switchboard-go/switchboard/pubsub"
)

var (
	amqpExchange          string
	amqpHistory           bool
	amqpExchangeTransient bool
)

// AMQP: -broker amqp://guest:guest@127.0.0.1:5672/ (or amqps://) runs the
// hub on RabbitMQ. Start several hubs on different -addr with the same
// broker URL and -amqp-exchange: a message published on any of them reaches
// subscribers on all of them, on every transport. Each hub declares one
// queue for all its subscribers (rabbitmqctl list_queues shows
// switchboard.node.<id>, or with -amqp-history, the default, one consumer
// per hub on the shared stream switchboard.history, so cursors work on
// every hub).
func init() {
	extraFlags = append(extraFlags, func(fs *flag.FlagSet) {
		fs.StringVar(&amqpExchange, "amqp-exchange", "switchboard", "RabbitMQ topic exchange shared by the hubs (with -broker amqp://…)")
		fs.BoolVar(&amqpExchangeTransient, "amqp-exchange-transient", false, "declare -amqp-exchange non-durable, as applications do that declare it with {durable: false} (an existing exchange is used as it is either way)")
		fs.BoolVar(&amqpHistory, "amqp-history", true, "keep history in a RabbitMQ stream, so cursors (SSE Last-Event-ID, long-poll) work on every hub (with -broker amqp://…)")
	})
	registerBroker("amqp", func(ctx context.Context, u string, log *slog.Logger) (pubsub.Broker, error) {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return amqpx.Dial(ctx, u, &amqpx.Options{Exchange: amqpExchange, ConnectionName: "switchboard-hub",
			History: amqpHistory, TransientExchange: amqpExchangeTransient, Logger: log})
	})
}
