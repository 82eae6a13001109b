// Command sensors lets MQTT devices publish temperatures straight into a
// Switchboard broker (mqttx.Server, MQTT 3.1.1 and 5) and shows them live in
// a browser dashboard over Server-Sent Events.
//
//	go run ./examples/sensors -mqtt-addr 127.0.0.1:1883    # dashboard on http://127.0.0.1:8080/
//	mosquitto_pub -p 1883 -r -t sensors/kitchen/temperature -m 21.5
//
// Devices publish retained values, so the dashboard (and any new
// subscriber) shows each sensor's last temperature and status at once; a
// device registers a will (sensors/ID/status = "offline", retained) that the
// server publishes when it vanishes without saying goodbye.
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
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/switchboard-go/switchboard/mqttx"
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
		fmt.Fprintln(os.Stderr, "sensors:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done. ready, if set, gets the HTTP and MQTT
// listening addresses.
func run(ctx context.Context, args []string, logOut io.Writer, ready func(httpAddr, mqttAddr string)) error {
	fs := flag.NewFlagSet("sensors", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "HTTP listen address (dashboard, /events, MQTT over WebSocket at /mqtt)")
	mqttAddr := fs.String("mqtt-addr", "127.0.0.1:1883", "MQTT TCP listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(logOut, nil))

	broker := pubsub.NewMemory(nil)
	defer broker.Close()

	mq, err := mqttx.NewServer(broker, &mqttx.ServerOptions{Auth: deviceAuth(), Logger: log})
	if err != nil {
		return err
	}
	defer mq.Close()
	events := sse.NewHandler(broker, &sse.Options{Format: sse.FormatEnvelope, Logger: log})

	mux := http.NewServeMux()
	mux.Handle("GET /events", events) // ?topic=sensors/%2B/temperature&topic=sensors/%2B/status
	mux.Handle("/mqtt", mq)           // MQTT over WebSocket, e.g. MQTT.js in a browser
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(indexHTML)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}

	mln, err := net.Listen("tcp", *mqttAddr)
	if err != nil {
		return fmt.Errorf("failed to listen for MQTT (is Mosquitto on that port? choose another with -mqtt-addr): %w", err)
	}
	hln, err := net.Listen("tcp", *addr)
	if err != nil {
		_ = mln.Close()
		return fmt.Errorf("failed to listen: %w", err)
	}
	log.Info("sensors listening", "addr", hln.Addr().String(), "mqtt", mln.Addr().String())
	if ready != nil {
		ready(hln.Addr().String(), mln.Addr().String())
	}

	var wg sync.WaitGroup
	errc := make(chan error, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := mq.Serve(mln); err != nil && !errors.Is(err, mqttx.ErrServerClosed) {
			errc <- fmt.Errorf("mqtt: %w", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := srv.Serve(hln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()

	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	log.Info("sensors shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Devices get DISCONNECT "server shutting down" and event streams end
	// (browsers come back with Last-Event-ID) while the HTTP server stops.
	if e := transport.Shutdown(sctx, srv, mq, events); e != nil {
		log.Warn("shutdown", "err", e)
	}
	wg.Wait()
	return err
}

// deviceAuth lets MQTT clients publish only well-formed readings under
// sensors/ID/temperature (a number, in °C) and sensors/ID/status (online
// or offline), and subscribe to sensors/#. Anything else is refused with a
// reason code the device sees.
func deviceAuth() *transport.Auth {
	return &transport.Auth{
		Authorize: func(_ context.Context, _ *transport.Identity, a transport.Action, topic string) error {
			switch a {
			case transport.ActionSubscribe:
				if pubsub.Within(topic, "sensors/#") {
					return nil
				}
			case transport.ActionPublish:
				parts := strings.Split(topic, "/")
				if len(parts) == 3 && parts[0] == "sensors" && parts[1] != "" &&
					(parts[2] == "temperature" || parts[2] == "status") {
					return nil
				}
			}
			return fmt.Errorf("%w: %s on %q (devices publish sensors/ID/temperature and sensors/ID/status)", transport.ErrForbidden, a, topic)
		},
	}
}
