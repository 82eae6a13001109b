package main

import (
	"net/http"
	"time"

	"github.com/switchboard-go/switchboard/grpcx"
)

// gRPC, gRPC-Web and Connect: switchboard.pubsub.v1.PubSubService at
// /switchboard.pubsub.v1.PubSubService/, with server reflection and health,
// over HTTP/1.1 and h2c on the hub's port (grpc-go and grpcurl connect with
// prior knowledge: grpcurl -plaintext localhost:8080 list).
func init() {
	register("grpc", func(h *hub) error {
		_, g := grpcx.NewHandler(h.broker, &grpcx.Options{Logger: h.log, Auth: h.auth, Observer: h.observer})
		g.Register(h.mux)
		// HTTP/2 keepalive: ping a connection that has been silent for 30 s
		// and drop it when the ping is not answered within 15 s, so dead
		// peers of idle Subscribe streams are noticed.
		if h.server.HTTP2 == nil {
			h.server.HTTP2 = &http.HTTP2Config{SendPingTimeout: 30 * time.Second, PingTimeout: 15 * time.Second}
		}
		h.manage(g) // streams end with a resume cursor
		return nil
	})
}
