// Command graphqlchat serves the guide's GraphQL chat — the schema of its
// Apollo server and client: messages(roomId), addMessage,
// updateUserStatus, and the subscriptions messageAdded(roomId),
// userStatusChanged(userId), notificationAdded — over
// graphql-transport-ws, legacy graphql-ws and GraphQL over SSE, on a
// Switchboard broker: each room and each user is a topic, so a subscriber
// gets exactly the events of the room or user it asked for.
//
//	go run ./examples/graphqlchat            # GraphQL at http://127.0.0.1:8080/graphql
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
	"strings"
	"syscall"
	"time"

	"github.com/switchboard-go/switchboard/graphqlsub"
	"github.com/switchboard-go/switchboard/graphqlsub/gophers"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "graphqlchat:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done. ready, if set, gets the listening address.
func run(ctx context.Context, args []string, logOut io.Writer, ready func(addr string)) error {
	fs := flag.NewFlagSet("graphqlchat", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(logOut, nil))

	broker := pubsub.NewMemory(nil)
	defer broker.Close()
	schema, err := newSchema(broker)
	if err != nil {
		return fmt.Errorf("failed to parse the schema: %w", err)
	}
	gql := graphqlsub.NewHandler(gophers.New(schema, nil), &graphqlsub.Options{Auth: userAuth(), Logger: log})

	mux := http.NewServeMux()
	mux.Handle("/graphql", gql)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("failed to listen: %w", err)
	}
	log.Info("graphqlchat listening", "addr", ln.Addr().String(), "endpoint", "/graphql")
	if ready != nil {
		ready(ln.Addr().String())
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	log.Info("graphqlchat shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// WebSockets close with 1001 and SSE streams end, which
	// http.Server.Shutdown alone would wait for; plain requests finish.
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

// userAuth takes the caller's user id as the guide's Apollo server does:
// the Authorization header (HTTP), or the connection_init payload's
// authorization (connectionParams of a WebSocket client), with or without
// "Bearer ". No user id is anonymous; one that cannot name a topic level
// is refused (401).
func userAuth() *transport.Auth {
	return &transport.Auth{Authenticate: func(_ context.Context, c transport.Credentials) (*transport.Identity, error) {
		user := ""
		for _, k := range []string{"authorization", "Authorization"} {
			if s, ok := c.Payload[k].(string); ok && s != "" {
				user = s
				break
			}
		}
		if user == "" && c.Header != nil {
			user = c.Header.Get("Authorization")
		}
		if len(user) > 7 && strings.EqualFold(user[:7], "bearer ") {
			user = user[7:]
		}
		if user = strings.TrimSpace(user); user == "" {
			return nil, nil
		}
		if err := checkID("user id", user); err != nil {
			return nil, err
		}
		return &transport.Identity{Subject: user}, nil
	}}
}
