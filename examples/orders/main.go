// Command orders processes orders through RabbitMQ with the amqpx broker:
// an HTTP API produces orders, a consumer group of workers fulfils them
// with manual acknowledgements and prefetch 1, express orders jump the
// queue by priority, and an order that keeps failing is dead-lettered
// after a few attempts instead of looping forever.
//
//	go run ./examples/orders -amqp amqp://guest:guest@127.0.0.1:5672/
//	curl -d '{"item":"book","qty":1,"express":true}' http://127.0.0.1:8080/orders
//
// Run it twice (with different -addr) and the workers of both processes
// share the work: the group's queue lives in RabbitMQ.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/switchboard-go/switchboard/amqpx"
	"github.com/switchboard-go/switchboard/pubsub"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "orders:", err)
		os.Exit(1)
	}
}

// Topics.
const (
	createdTopic   = "orders/created"             // new orders, consumed by the group
	processedTopic = "orders/processed/"          // + order id: fulfilled
	failedTopic    = "orders/failed/"             // + order id: dead-lettered
	deadTopic      = "$deadletter/orders/created" // where the broker moves failing orders
	workerGroup    = "fulfilment"
)

// Order is what POST /orders accepts.
type Order struct {
	ID      string `json:"id"`
	Item    string `json:"item"`
	Qty     int    `json:"qty"`
	Express bool   `json:"express"`
}

// config is the parsed command line.
type config struct {
	addr, amqpURL, exchange, prefix string
	workers, maxQty, attempts       int
	workTime, queueExpiry           time.Duration
}

// run serves until ctx is done. ready, if set, gets the HTTP address.
func run(ctx context.Context, args []string, logOut io.Writer, ready func(addr string)) error {
	var c config
	fs := flag.NewFlagSet("orders", flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "HTTP listen address")
	fs.StringVar(&c.amqpURL, "amqp", "amqp://guest:guest@127.0.0.1:5672/", "RabbitMQ URL")
	fs.StringVar(&c.exchange, "exchange", "orders", "AMQP topic exchange")
	fs.StringVar(&c.prefix, "queue-prefix", "orders", "prefix of the AMQP queues")
	fs.IntVar(&c.workers, "workers", 2, "workers in this process (each takes one order at a time)")
	fs.IntVar(&c.maxQty, "max-qty", 10, "the warehouse cannot fulfil more than this per order (such orders fail)")
	fs.IntVar(&c.attempts, "attempts", 3, "attempts before a failing order is dead-lettered")
	fs.DurationVar(&c.workTime, "work-time", 200*time.Millisecond, "how long fulfilling one order takes")
	fs.DurationVar(&c.queueExpiry, "queue-expiry", 0, "delete the group's queue after it has had no consumer for this long (0 keeps it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.workers < 0 || c.attempts < 1 {
		return errors.New("-workers must be at least 0 and -attempts at least 1")
	}
	log := slog.New(slog.NewTextHandler(logOut, nil))

	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	broker, err := amqpx.Dial(dctx, c.amqpURL, &amqpx.Options{Exchange: c.exchange, QueuePrefix: c.prefix,
		ConnectionName: "orders", MaxPriority: 10, GroupQueueExpiry: c.queueExpiry, Logger: log})
	cancel()
	if err != nil {
		return fmt.Errorf("failed to connect to RabbitMQ: %w", err)
	}
	defer broker.Close()

	// Subscribe everything before serving, so no order is accepted
	// before someone consumes it.
	wctx, stopWork := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopWork() // runs first: workers stop, then wg.Wait, then broker.Close
	for i := range c.workers {
		sub, err := broker.Subscribe(wctx, createdTopic, &pubsub.SubscribeOptions{
			Group: workerGroup, ManualAck: true, Prefetch: 1, MaxDeliveries: c.attempts})
		if err != nil {
			return fmt.Errorf("failed to start worker: %w", err)
		}
		w := &worker{name: fmt.Sprintf("worker-%d", i+1), broker: broker, cfg: c, log: log}
		wg.Add(1)
		go func() { defer wg.Done(); w.run(wctx, sub) }()
	}
	dead, err := broker.Subscribe(wctx, deadTopic, &pubsub.SubscribeOptions{Group: "dead-letters", ManualAck: true, Prefetch: 1})
	if err != nil {
		return fmt.Errorf("failed to watch dead letters: %w", err)
	}
	wg.Add(1)
	go func() { defer wg.Done(); watchDeadLetters(wctx, broker, dead, log) }()

	mux := http.NewServeMux()
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) { placeOrder(w, r, broker) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("failed to listen: %w", err)
	}
	log.Info("orders listening", "addr", ln.Addr().String(), "workers", c.workers)
	if ready != nil {
		ready(ln.Addr().String())
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	log.Info("orders shutting down")
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if e := srv.Shutdown(sctx); e != nil {
		_ = srv.Close()
	}
	if err == nil {
		err = <-serveErr
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	// Unacknowledged orders go back to the queue when the workers'
	// subscriptions close: another process (or the next start) gets them.
	return err
}

// placeOrder validates an order and publishes it; express orders get a
// higher AMQP priority.
func placeOrder(w http.ResponseWriter, r *http.Request, b pubsub.Broker) {
	var o Order
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		http.Error(w, "bad order: "+err.Error(), http.StatusBadRequest)
		return
	}
	if strings.TrimSpace(o.Item) == "" || o.Qty < 1 {
		http.Error(w, "bad order: item is required and qty must be at least 1", http.StatusBadRequest)
		return
	}
	o.ID = pubsub.NewID()
	data, _ := json.Marshal(o)
	priority := "1"
	if o.Express {
		priority = "9"
	}
	msg := pubsub.Message{Topic: createdTopic, ID: o.ID, Data: data,
		Header: map[string]string{amqpx.HeaderPriority: priority, amqpx.HeaderContentType: "application/json"}}
	if _, err := b.Publish(r.Context(), msg); err != nil {
		http.Error(w, "order not accepted: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(map[string]string{"id": o.ID})
}

// worker fulfils orders one at a time.
type worker struct {
	name   string
	broker pubsub.Broker
	cfg    config
	log    *slog.Logger
}

func (w *worker) run(ctx context.Context, sub pubsub.Subscription) {
	defer sub.Close()
	for m := range sub.C() {
		var o Order
		if err := json.Unmarshal(m.Data, &o); err != nil {
			// Retrying cannot fix a malformed order: dead-letter it now.
			w.log.Warn("malformed order", "worker", w.name, "err", err)
			_ = sub.Nack(m, false)
			continue
		}
		if err := w.fulfil(ctx, o); err != nil {
			if ctx.Err() != nil {
				return // shutting down: closing the subscription requeues the order
			}
			w.log.Warn("order failed", "worker", w.name, "order", o.ID, "attempt", m.Attempt, "err", err)
			_ = sub.Nack(m, true) // back to the queue; dead-lettered after -attempts
			continue
		}
		// Announce, then acknowledge: if we crash in between, the order is
		// fulfilled again rather than lost (at least once).
		done := pubsub.Message{Topic: processedTopic + o.ID, Data: m.Data, Header: map[string]string{"worker": w.name}}
		if _, err := w.broker.Publish(ctx, done); err != nil {
			_ = sub.Nack(m, true)
			continue
		}
		if err := sub.Ack(m); err != nil {
			w.log.Warn("ack", "worker", w.name, "order", o.ID, "err", err)
			continue
		}
		w.log.Info("order fulfilled", "worker", w.name, "order", o.ID, "item", o.Item, "express", o.Express)
	}
	if err := sub.Err(); err != nil && ctx.Err() == nil {
		w.log.Error("worker stopped", "worker", w.name, "err", err)
	}
}

func (w *worker) fulfil(ctx context.Context, o Order) error {
	t := time.NewTimer(w.cfg.workTime)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	if o.Qty > w.cfg.maxQty {
		return fmt.Errorf("the warehouse cannot ship %d × %s (at most %d)", o.Qty, o.Item, w.cfg.maxQty)
	}
	return nil
}

// watchDeadLetters reports every order the workers gave up on.
func watchDeadLetters(ctx context.Context, b pubsub.Broker, sub pubsub.Subscription, log *slog.Logger) {
	defer sub.Close()
	for m := range sub.C() {
		var o Order
		_ = json.Unmarshal(m.Data, &o)
		reason := m.Header[pubsub.HeaderDeadLetterReason]
		log.Error("order dead-lettered", "order", o.ID, "reason", reason)
		failed := pubsub.Message{Topic: failedTopic + o.ID, Data: m.Data, Header: map[string]string{"reason": reason}}
		if _, err := b.Publish(ctx, failed); err != nil {
			_ = sub.Nack(m, true)
			continue
		}
		_ = sub.Ack(m)
	}
}
