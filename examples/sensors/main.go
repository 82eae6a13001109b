// Command sensors lets MQTT devices (this example's sensors/ID/temperature and
// the guide's MQTT.js sensors/temperature/ID alike) publish temperatures straight into a
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
	publish := fs.String("publish", defaultPublish, "comma-separated topic filters devices may publish to (and register wills on)")
	subscribe := fs.String("subscribe", defaultSubscribe, "comma-separated topic filters devices may subscribe to (a filter within one of them is allowed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(logOut, nil))
	auth, err := deviceAuth(*publish, *subscribe)
	if err != nil {
		return err
	}

	broker := pubsub.NewMemory(nil)
	defer broker.Close()

	mq, err := mqttx.NewServer(broker, &mqttx.ServerOptions{Auth: auth, Logger: log})
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

// What devices may do by default: this example's layout
// (sensors/ID/temperature, sensors/ID/status), the guide's MQTT.js client
// (sensors/temperature/ID, its will on clients/disconnected, sensors/# to
// read) and the guide's browser client over WebSocket (notifications/#).
const (
	defaultPublish   = "sensors/+/temperature,sensors/+/status,sensors/temperature/+,sensors/humidity/+,clients/disconnected,notifications/#"
	defaultSubscribe = "sensors/#,clients/#,notifications/#"
)

// deviceAuth lets MQTT clients publish (and register wills) on topics that
// match one of the publish filters, and subscribe to filters within one of
// the subscribe filters. Anything else is refused: MQTT 5 devices see
// reason code 0x87; MQTT 3.1.1 devices get a normal acknowledgement and
// the message is dropped (3.1.1 has no reason code to say no; see mqttx).
func deviceAuth(publish, subscribe string) (*transport.Auth, error) {
	parse := func(flag, list string) ([]pubsub.Filter, error) {
		var fs []pubsub.Filter
		for f := range strings.SplitSeq(list, ",") {
			if f = strings.TrimSpace(f); f == "" {
				continue
			}
			pf, err := pubsub.ParseFilter(f)
			if err != nil {
				return nil, fmt.Errorf("-%s: %w", flag, err)
			}
			fs = append(fs, pf)
		}
		return fs, nil
	}
	pubs, err := parse("publish", publish)
	if err != nil {
		return nil, err
	}
	subs, err := parse("subscribe", subscribe)
	if err != nil {
		return nil, err
	}
	return &transport.Auth{
		Authorize: func(_ context.Context, _ *transport.Identity, a transport.Action, topic string) error {
			switch a {
			case transport.ActionSubscribe:
				for _, f := range subs {
					if pubsub.Within(topic, f.String()) {
						return nil
					}
				}
				return fmt.Errorf("%w: subscribe to %q (allowed: %s)", transport.ErrForbidden, topic, subscribe)
			case transport.ActionPublish:
				for _, f := range pubs {
					if f.Match(topic) {
						return nil
					}
				}
				return fmt.Errorf("%w: publish to %q (allowed: %s)", transport.ErrForbidden, topic, publish)
			}
			return fmt.Errorf("%w: %s on %q", transport.ErrForbidden, a, topic)
		},
	}, nil
}
