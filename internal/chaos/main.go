package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(cli(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// cli runs the program: 0 when the contract held, 1 when it broke, 2 when
// the run could not be set up.
func cli(ctx context.Context, args []string, out, errOut io.Writer) int {
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(errOut)
	var c Config
	fs.DurationVar(&c.Duration, "duration", DefaultDuration, "how long to kill clients and inject faults")
	fs.IntVar(&c.Disconnects, "disconnects", DefaultDisconnects, "random client disconnects over the run")
	fs.IntVar(&c.Faults, "faults", DefaultFaults, "broker-link faults (cut or black hole, hub↔RabbitMQ and hub↔Mosquitto) over the run")
	fs.IntVar(&c.Restarts, "restarts", DefaultRestarts, "hub restarts over the run (negative: none)")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed of the random choices")
	fs.DurationVar(&c.Interval, "interval", DefaultInterval, "each publisher's pause between publishes")
	fs.IntVar(&c.PerKind, "per-kind", DefaultPerKind, "clients of each kind on the RabbitMQ hubs")
	fs.DurationVar(&c.DrainTimeout, "drain", DefaultDrainTimeout, "bound on the wait for the last messages")
	fs.StringVar(&c.AMQPURL, "amqp", envOr("SWITCHBOARD_AMQP_URL", DefaultAMQPURL), "RabbitMQ URL (loopback)")
	fs.StringVar(&c.MQTTAddr, "mqtt", envOr("SWITCHBOARD_MQTT_ADDR", DefaultMQTTAddr), "Mosquitto host:port (loopback)")
	fs.BoolVar(&c.MoveMQTT, "mqtt-move", false, "move reconnecting MQTT subscribers between hubs too (shows the duplicates of a cursorless client moving to a lagging hub)")
	verbose := fs.Bool("v", false, "log the hubs' and brokers' events too")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if c.Duration > time.Hour || c.Disconnects > 100_000 || c.Faults > 1000 {
		fmt.Fprintln(errOut, "chaos: bounded runs only: -duration ≤ 1h, -disconnects ≤ 100000, -faults ≤ 1000")
		return 2
	}
	for _, a := range []string{c.AMQPURL, "tcp://" + c.MQTTAddr} {
		if h, err := hostOf(a); err != nil || !loopback(h) {
			fmt.Fprintf(errOut, "chaos: services must be on loopback, not %q\n", a)
			return 2
		}
	}
	c.Logger = slog.New(slog.NewTextHandler(errOut, nil))
	if *verbose {
		c.HubLogger = c.Logger
	}
	sum, err := Run(ctx, c)
	if err != nil {
		fmt.Fprintln(errOut, "chaos:", err)
		return 2
	}
	sum.Print(out)
	if !sum.OK() {
		return 1
	}
	return 0
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
