// Command orders processes the orders of the guide's AMQP scenario through
// RabbitMQ with the amqpx broker: the guide's amqplib producer publishes
// {orderId, customer, items, timestamp} to the topic exchange "orders" with
// routing key "order.created" and an "order-priority" header, and a
// consumer group of workers fulfils them with manual acknowledgements and
// prefetch 1. An HTTP API places orders of the same shape, which reach the
// guide's amqplib consumer on its queue "order_processing" (bound
// "order.*") as well. An order that is not valid (no orderId, no items) is
// dead-lettered at once; one that keeps failing is dead-lettered after a
// few attempts instead of looping forever.
//
//	go run ./examples/orders -amqp amqp://guest:guest@127.0.0.1:5672/
//	curl -H 'Order-Priority: high' -d '{"customer":"Ann","items":[{"product":"book","quantity":1}]}' http://127.0.0.1:8080/orders
//
// Run it twice (with different -addr) and the workers of both processes
// share the work: the group's queue lives in RabbitMQ. With -queue
// order_processing the workers join the guide's consumer on its queue
// instead (competing consumers: each order is processed by one of them).
package main

import (
	"cmp"
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

// Topics. On the AMQP exchange "order/created" is the routing key
// "order.created" the guide's producer writes, and the guide's queue
// (bound "order.*") receives it; processed and failed announcements have
// one level more, so that queue does not.
const (
	createdTopic   = "order/created"             // new orders, consumed by the group
	processedTopic = "order/processed/"          // + order id: fulfilled
	failedTopic    = "order/failed/"             // + order id (or message id): dead-lettered
	deadTopic      = "$deadletter/order/created" // where the broker moves failing orders
	workerGroup    = "fulfilment"
	priorityHeader = "order-priority" // "high" or "normal", as the guide's producer sets it
)

// Order is the guide's order message, and what POST /orders accepts
// (orderId and timestamp are filled in when missing).
type Order struct {
	OrderID   string `json:"orderId"`
	Customer  string `json:"customer"`
	Items     []Item `json:"items"`
	Timestamp string `json:"timestamp"`
}

// Item is one line of an order.
type Item struct {
	Product  string `json:"product"`
	Quantity int    `json:"quantity"`
}

// validate says what is wrong with an order, or nil. The order id must be
// usable as a topic level (it names the order's announcements).
func (o *Order) validate() error {
	if o.OrderID == "" {
		return errors.New("orderId is required")
	}
	if len(o.OrderID) > 64 || strings.ContainsAny(o.OrderID, "/+#.*$") || pubsub.ValidateTopic(o.OrderID) != nil {
		return fmt.Errorf("orderId %q: 1 to 64 characters without / + # . * $", o.OrderID)
	}
	if strings.TrimSpace(o.Customer) == "" {
		return errors.New("customer is required")
	}
	if len(o.Items) == 0 {
		return errors.New("items must list at least one item")
	}
	for i, it := range o.Items {
		if strings.TrimSpace(it.Product) == "" || it.Quantity < 1 {
			return fmt.Errorf("items[%d]: product is required and quantity must be at least 1", i)
		}
	}
	return nil
}

// config is the parsed command line.
type config struct {
	addr, amqpURL, exchange, prefix, queue string
	workers, maxQty, attempts              int
	workTime, queueExpiry                  time.Duration
}

// run serves until ctx is done. ready, if set, gets the HTTP address.
func run(ctx context.Context, args []string, logOut io.Writer, ready func(addr string)) error {
	var c config
	fs := flag.NewFlagSet("orders", flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "HTTP listen address")
	fs.StringVar(&c.amqpURL, "amqp", "amqp://guest:guest@127.0.0.1:5672/", "RabbitMQ URL")
	fs.StringVar(&c.exchange, "exchange", "orders", "AMQP topic exchange")
	fs.StringVar(&c.prefix, "queue-prefix", "orders", "prefix of the AMQP queues")
	fs.StringVar(&c.queue, "queue", "", "consume this existing application queue (e.g. order_processing) instead of the group's own")
	fs.IntVar(&c.workers, "workers", 2, "workers in this process (each takes one order at a time)")
	fs.IntVar(&c.maxQty, "max-qty", 10, "the warehouse cannot fulfil more than this of one item (such orders fail)")
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
	o := &amqpx.Options{Exchange: c.exchange, QueuePrefix: c.prefix,
		ConnectionName: "orders", MaxPriority: 10, GroupQueueExpiry: c.queueExpiry, Logger: log}
	if c.queue != "" {
		o.GroupQueues = map[string]string{workerGroup: c.queue}
	}
	broker, err := amqpx.Dial(dctx, c.amqpURL, o)
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

// placeOrder validates an order and publishes it as the guide's producer
// does: the order as JSON, the order-priority header (from the request's
// Order-Priority header: "high" or "normal"), and for high priority a
// higher AMQP priority too.
func placeOrder(w http.ResponseWriter, r *http.Request, b pubsub.Broker) {
	var o Order
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		http.Error(w, "bad order: "+err.Error(), http.StatusBadRequest)
		return
	}
	if o.OrderID == "" {
		o.OrderID = "ORD-" + pubsub.NewID()
	}
	if o.Timestamp == "" {
		o.Timestamp = time.Now().UTC().Format(time.RFC3339Nano)
	}
	if err := o.validate(); err != nil {
		http.Error(w, "bad order: "+err.Error(), http.StatusBadRequest)
		return
	}
	priority := strings.ToLower(cmp.Or(r.Header.Get("Order-Priority"), "normal"))
	amqpPriority := map[string]string{"normal": "1", "high": "9"}[priority]
	if amqpPriority == "" {
		http.Error(w, "bad order: Order-Priority must be high or normal", http.StatusBadRequest)
		return
	}
	data, _ := json.Marshal(o)
	msg := pubsub.Message{Topic: createdTopic, ID: o.OrderID, Data: data,
		Header: map[string]string{priorityHeader: priority, amqpx.HeaderPriority: amqpPriority,
			amqpx.HeaderContentType: "application/json"}}
	if _, err := b.Publish(r.Context(), msg); err != nil {
		http.Error(w, "order not accepted: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(map[string]string{"orderId": o.OrderID})
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
		err := json.Unmarshal(m.Data, &o)
		if err == nil {
			err = o.validate()
		}
		if err != nil {
			// Retrying cannot fix a malformed or invalid order:
			// dead-letter it now.
			w.log.Warn("invalid order", "worker", w.name, "message", m.ID, "err", err)
			_ = sub.Nack(m, false)
			continue
		}
		priority := cmp.Or(m.Header[priorityHeader], "normal")
		if err := w.fulfil(ctx, o); err != nil {
			if ctx.Err() != nil {
				return // shutting down: closing the subscription requeues the order
			}
			w.log.Warn("order failed", "worker", w.name, "order", o.OrderID, "attempt", m.Attempt, "err", err)
			_ = sub.Nack(m, true) // back to the queue; dead-lettered after -attempts
			continue
		}
		// Announce, then acknowledge: if we crash in between, the order is
		// fulfilled again rather than lost (at least once).
		done := pubsub.Message{Topic: processedTopic + o.OrderID, Data: m.Data,
			Header: map[string]string{"worker": w.name, priorityHeader: priority}}
		if _, err := w.broker.Publish(ctx, done); err != nil {
			_ = sub.Nack(m, true)
			continue
		}
		if err := sub.Ack(m); err != nil {
			w.log.Warn("ack", "worker", w.name, "order", o.OrderID, "err", err)
			continue
		}
		w.log.Info("order fulfilled", "worker", w.name, "order", o.OrderID, "customer", o.Customer, "priority", priority)
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
	for _, it := range o.Items {
		if it.Quantity > w.cfg.maxQty {
			return fmt.Errorf("the warehouse cannot ship %d × %s (at most %d)", it.Quantity, it.Product, w.cfg.maxQty)
		}
	}
	return nil
}

// watchDeadLetters reports every order the workers gave up on, under its
// order id, or its message id when it has no usable one.
func watchDeadLetters(ctx context.Context, b pubsub.Broker, sub pubsub.Subscription, log *slog.Logger) {
	defer sub.Close()
	for m := range sub.C() {
		var o Order
		_ = json.Unmarshal(m.Data, &o)
		name := o.OrderID
		if (&Order{OrderID: name, Customer: "-", Items: []Item{{"-", 1}}}).validate() != nil {
			name = m.ID
		}
		reason := m.Header[pubsub.HeaderDeadLetterReason]
		log.Error("order dead-lettered", "order", o.OrderID, "message", m.ID, "reason", reason)
		failed := pubsub.Message{Topic: failedTopic + name, Data: m.Data,
			Header: map[string]string{"reason": reason, "message-id": m.ID}}
		if _, err := b.Publish(ctx, failed); err != nil {
			log.Warn("cannot announce a dead letter", "message", m.ID, "err", err)
			_ = sub.Nack(m, true)
			continue
		}
		_ = sub.Ack(m)
	}
}
