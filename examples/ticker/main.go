// Command ticker is a stock ticker over Server-Sent Events: simulated prices
// go out as named "update" events, big moves as "alert" events, and a client
// that reconnects with Last-Event-ID gets every event it missed, in order.
//
//	go run ./examples/ticker            # then open http://127.0.0.1:8080/
//	curl -N 'http://127.0.0.1:8080/events?topic=ticker/%23'
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/sse"
	"github.com/switchboard-go/switchboard/transport"
)

//go:embed index.html
var indexHTML []byte

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "ticker:", err)
		os.Exit(1)
	}
}

// Quote is the payload of an update event (topic ticker/<symbol>).
type Quote struct {
	Symbol    string  `json:"symbol"`
	Price     float64 `json:"price"`
	ChangePct float64 `json:"change_pct"` // since the previous quote
	Time      string  `json:"time"`
}

// Alert is the payload of an alert event (topic ticker/<symbol>/alert).
type Alert struct {
	Symbol    string  `json:"symbol"`
	Price     float64 `json:"price"`
	ChangePct float64 `json:"change_pct"`
	Message   string  `json:"message"`
}

// run serves until ctx is done. ready, if set, gets the listening address.
func run(ctx context.Context, args []string, logOut io.Writer, ready func(addr string)) error {
	fs := flag.NewFlagSet("ticker", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	symbols := fs.String("symbols", "ACME,GLOBEX,INITECH,UMBRELLA", "comma-separated ticker symbols")
	interval := fs.Duration("interval", time.Second, "time between two quotes of one symbol")
	alertPct := fs.Float64("alert-pct", 1.5, "a move of at least this many percent also sends an alert")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *interval <= 0 {
		return fmt.Errorf("-interval must be positive, got %v", *interval)
	}
	syms := strings.Split(*symbols, ",")
	for _, s := range syms {
		if s == "" || strings.ContainsAny(s, "/+#") || pubsub.ValidateTopic(s) != nil {
			return fmt.Errorf("-symbols: %q is not a valid symbol", s)
		}
	}
	log := slog.New(slog.NewTextHandler(logOut, nil))

	// The memory broker keeps a bounded history with cursors: that is what
	// lets a reconnecting EventSource resume without loss.
	broker := pubsub.NewMemory(nil)
	defer broker.Close()

	events := sse.NewHandler(broker, &sse.Options{
		// The event: field is the message's "event" header ("update" or
		// "alert"), so pages listen with addEventListener("update", …).
		Logger: log,
	})
	mux := http.NewServeMux()
	mux.Handle("GET /events", events)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(indexHTML)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("failed to listen: %w", err)
	}
	log.Info("ticker listening", "addr", ln.Addr().String())
	if ready != nil {
		ready(ln.Addr().String())
	}

	genCtx, stopGen := context.WithCancel(ctx)
	defer stopGen()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		quotes(genCtx, broker, syms, *interval, *alertPct, log)
	}()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	log.Info("ticker shutting down")
	stopGen()
	wg.Wait()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Event streams end (browsers reconnect and resume elsewhere) while
	// the server stops.
	if e := transport.Shutdown(sctx, srv, events); e != nil {
		log.Warn("shutdown", "err", e)
	}
	if err == nil {
		err = <-serveErr
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// quotes publishes a random walk of prices until ctx is done.
func quotes(ctx context.Context, b pubsub.Broker, symbols []string, interval time.Duration, alertPct float64, log *slog.Logger) {
	prices := make(map[string]float64, len(symbols))
	for _, s := range symbols {
		prices[s] = 50 + rand.Float64()*100
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, s := range symbols {
				old := prices[s]
				p := math.Round(old*(1+rand.NormFloat64()*0.01)*100) / 100
				p = max(p, 0.01)
				prices[s] = p
				pct := math.Round((p-old)/old*10000) / 100
				q := Quote{Symbol: s, Price: p, ChangePct: pct, Time: now.UTC().Format(time.RFC3339Nano)}
				if err := publish(ctx, b, "ticker/"+s, "update", q); err != nil {
					log.Warn("publish quote", "symbol", s, "err", err)
					return
				}
				if math.Abs(pct) >= alertPct {
					a := Alert{Symbol: s, Price: p, ChangePct: pct,
						Message: fmt.Sprintf("%s moved %+.2f%% to %.2f", s, pct, p)}
					if err := publish(ctx, b, "ticker/"+s+"/alert", "alert", a); err != nil {
						log.Warn("publish alert", "symbol", s, "err", err)
						return
					}
				}
			}
		}
	}
}

func publish(ctx context.Context, b pubsub.Broker, topic, event string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = b.Publish(ctx, pubsub.Message{Topic: topic, Data: data, Header: map[string]string{"event": event}})
	if errors.Is(err, context.Canceled) || errors.Is(err, pubsub.ErrClosed) {
		return nil
	}
	return err
}
