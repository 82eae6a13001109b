// Command gqlgenchat serves a chat schema generated with gqlgen
// (package chat) through graphqlsub: graphql-transport-ws (npm
// graphql-ws), legacy graphql-ws, GraphQL over SSE (npm graphql-sse) and
// GraphQL over HTTP on one endpoint. Each room is a broker topic; a
// subscription resumes after a cursor and reports gaps and slow consumers
// in band.
//
//	go run ./examples/gqlgenchat            # GraphQL at http://127.0.0.1:8080/graphql
package main

import (
	"context"
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

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/extension"

	"github.com/switchboard-go/switchboard/examples/gqlgenchat/chat"
	"github.com/switchboard-go/switchboard/graphqlsub"
	"github.com/switchboard-go/switchboard/graphqlsub/gqlgen"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "gqlgenchat:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done. ready, if set, gets the listening address.
func run(ctx context.Context, args []string, logOut io.Writer, ready func(addr string)) error {
	fs := flag.NewFlagSet("gqlgenchat", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(logOut, nil))

	broker := pubsub.NewMemory(nil)
	defer broker.Close()
	exec := gqlgen.New(chat.New(broker, nil), &gqlgen.Options{
		Extensions: []graphql.HandlerExtension{extension.Introspection{}},
		Logger:     log,
	})
	gql := graphqlsub.NewHandler(exec, &graphqlsub.Options{Logger: log})

	mux := http.NewServeMux()
	mux.Handle("/graphql", gql)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("failed to listen: %w", err)
	}
	log.Info("gqlgenchat listening", "addr", ln.Addr().String(), "endpoint", "/graphql")
	if ready != nil {
		ready(ln.Addr().String())
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	log.Info("gqlgenchat shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// WebSockets close with 1001 and SSE streams end, which
	// http.Server.Shutdown alone would wait for.
	if e := transport.Shutdown(sctx, srv, gql); e != nil {
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
