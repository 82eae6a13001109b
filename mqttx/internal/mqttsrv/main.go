// Command mqttsrv serves an mqttx.Server over an in-memory broker on -addr,
// for measuring it with mqttload in a separate process:
//
//	go build -o /tmp/mqttsrv ./mqttx/internal/mqttsrv && /tmp/mqttsrv -addr 127.0.0.1:28840 &
//	go run ./mqttx/internal/mqttload -addr 127.0.0.1:28840 -server-pid $!
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/switchboard-go/switchboard/mqttx"
	"github.com/switchboard-go/switchboard/pubsub"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:28840", "MQTT listen address")
	history := flag.Int("history", 0, "memory broker history size (0: default, -1: none)")
	buffer := flag.Int("buffer", 0, "ServerOptions.Buffer (0: default)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	mem := pubsub.NewMemory(&pubsub.MemoryOptions{HistorySize: *history})
	defer mem.Close()
	srv, err := mqttx.NewServer(mem, &mqttx.ServerOptions{Buffer: *buffer})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	_ = srv.Serve(ln)
}
