package main

import (
	"github.com/switchboard-go/switchboard/grpcx"
)

// gRPC, gRPC-Web and Connect: switchboard.pubsub.v1.PubSubService at
// /switchboard.pubsub.v1.PubSubService/, with server reflection and health,
// over HTTP/1.1 and h2c on the hub's port (grpc-go and grpcurl connect with
// prior knowledge: grpcurl -plaintext localhost:8080 list).
func init() {
	register("grpc", func(h *hub) error {
		_, g := grpcx.NewHandler(h.broker, &grpcx.Options{Logger: h.log})
		g.Register(h.mux)
		h.onShutdown(g.Shutdown) // end streams with a resume cursor before http.Server.Shutdown
		h.onClose(g.Close)       // then wait for the Session readers the server's close released
		return nil
	})
}
