// Command notifications delivers per-user notifications by long polling,
// without the classic long-poll bug: every poll carries the cursor of the
// last notification the client has, so whatever was published between two
// polls comes back in the next one — each notification exactly once, in
// order.
//
//	go run ./examples/notifications    # then open http://127.0.0.1:8080/
//	curl -d 'Your order shipped' http://127.0.0.1:8080/topics/notifications/ann
//	curl 'http://127.0.0.1:8080/poll?topic=notifications/ann&cursor=&timeout=30s'
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/switchboard-go/switchboard/longpoll"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

//go:embed index.html
var indexHTML []byte

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "notifications:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done. ready, if set, gets the listening address.
func run(ctx context.Context, args []string, logOut io.Writer, ready func(addr string)) error {
	fs := flag.NewFlagSet("notifications", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	history := fs.Duration("history", time.Hour, "how long notifications stay available to clients that were away")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(logOut, nil))

	// The broker's history is what a poll with a cursor reads from.
	broker := pubsub.NewMemory(&pubsub.MemoryOptions{HistoryAge: *history})
	defer broker.Close()

	poll := longpoll.NewHandler(broker, &longpoll.Options{Logger: log})
	mux := http.NewServeMux()
	// GET /poll?topic=notifications/USER&cursor=C&timeout=30s
	mux.Handle("/poll", poll)
	// POST /topics/notifications/USER publishes the body (the sending
	// side: a backend, a cron job, curl).
	mux.Handle("/topics/", transport.NewRESTHandler(broker, &transport.RESTOptions{Logger: log}))
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
	log.Info("notifications listening", "addr", ln.Addr().String())
	if ready != nil {
		ready(ln.Addr().String())
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	log.Info("notifications shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Held polls are answered at once (clients poll again, here or
	// elsewhere, with their cursor) while the server stops.
	if e := transport.Shutdown(sctx, srv, poll); e != nil {
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
