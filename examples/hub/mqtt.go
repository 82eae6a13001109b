package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"time"

	"github.com/switchboard-go/switchboard/mqttx"
	"github.com/switchboard-go/switchboard/pubsub"
)

var mqttAddr string

// MQTT: devices connect with MQTT 3.1.1 or 5 over TCP on -mqtt-addr
// (default :1883; "off" disables it) and over WebSocket at /mqtt
// (subprotocol "mqtt"). If the TCP port is taken (Mosquitto often holds
// 1883) the hub says so and serves everything else.
//
// -broker mqtt://host:1883 runs the hub on an external MQTT 5 broker.
func init() {
	extraFlags = append(extraFlags, func(fs *flag.FlagSet) {
		fs.StringVar(&mqttAddr, "mqtt-addr", ":1883", `MQTT TCP listen address ("off" disables it)`)
	})
	registerBroker("mqtt", func(ctx context.Context, u string, log *slog.Logger) (pubsub.Broker, error) {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return mqttx.Dial(ctx, u, &mqttx.Options{Logger: log})
	})
	register("mqtt", func(h *hub) error {
		srv, err := mqttx.NewServer(h.broker, &mqttx.ServerOptions{Logger: h.log, Auth: h.auth, Observer: h.observer})
		if err != nil {
			return err
		}
		h.mux.Handle("/mqtt", srv)
		h.manage(srv) // DISCONNECT 0x8B to every client
		if mqttAddr == "" || mqttAddr == "off" {
			return nil
		}
		ln, err := net.Listen("tcp", mqttAddr)
		if err != nil {
			h.log.Error("MQTT over TCP is OFF: the port is taken (Mosquitto?); MQTT over WebSocket at /mqtt still works. Choose another port with -mqtt-addr",
				"addr", mqttAddr, "err", err)
			return nil
		}
		h.log.Info("MQTT listening", "addr", ln.Addr().String(), "websocket", "/mqtt")
		h.goBackground(func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, mqttx.ErrServerClosed) {
				h.log.Error("MQTT listener stopped", "err", err)
			}
		})
		return nil
	})
}
