// Command notes serves the guide's NoteService over Connect, gRPC and
// gRPC-Web on one port, backed by a Switchboard broker: a StreamNotes call
// sees the notes other clients create while it is open.
//
//	go run ./examples/notes -addr 127.0.0.1:8080
//
// See README.md for curl, grpcurl and grpc-go calls.
package main

//go:generate protoc -I . --go_out=. --go_opt=paths=source_relative --connect-go_out=. --connect-go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative notespb/notes.proto

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

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"

	"github.com/switchboard-go/switchboard/examples/notes/notespb/notespbconnect"
	"github.com/switchboard-go/switchboard/pubsub"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "notes:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done. ready, if set, gets the listening address.
func run(ctx context.Context, args []string, logOut io.Writer, ready func(addr string)) error {
	fs := flag.NewFlagSet("notes", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(logOut, nil))

	broker := pubsub.NewMemory(nil)
	defer broker.Close()

	mux := http.NewServeMux()
	mux.Handle(notespbconnect.NewNoteServiceHandler(newNoteService(broker),
		connect.WithReadMaxBytes(1<<20)))
	// Reflection lets grpcurl and buf curl call the service without the
	// .proto file; the health service answers load balancers.
	reflector := grpcreflect.NewStaticReflector(notespbconnect.NoteServiceName)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
	mux.Handle(grpchealth.NewHandler(grpchealth.NewStaticChecker(notespbconnect.NoteServiceName)))

	// HTTP/1.1 for Connect and gRPC-Web, prior-knowledge HTTP/2 (h2c) for
	// gRPC clients and bidirectional streams.
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: mux, Protocols: protocols, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("failed to listen: %w", err)
	}
	log.Info("notes listening", "addr", ln.Addr().String())
	if ready != nil {
		ready(ln.Addr().String())
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		return err
	}
	log.Info("notes shutting down")
	// Closing the broker ends the open StreamNotes calls (Unavailable), so
	// Shutdown only waits for short calls to finish.
	_ = broker.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
