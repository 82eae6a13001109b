package main

import (
	"errors"
	"net/http"

	"github.com/switchboard-go/switchboard/pubsub"
)

// Health: GET /healthz answers 200 while the process serves (liveness);
// GET /readyz answers 200 while the broker is ready (pubsub.Ready: its
// connection is up) and 503 with the reason otherwise, and from the start
// of shutdown on, so a load balancer stops sending clients here.
func init() {
	register("health", func(h *hub) error {
		h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write([]byte("ok\n"))
		})
		h.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			err := h.ctx.Err()
			if err == nil {
				err = pubsub.Ready(r.Context(), h.broker)
			} else {
				err = errShuttingDown
			}
			if err != nil {
				w.Header().Set("Retry-After", "5")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte("not ready: " + err.Error() + "\n"))
				return
			}
			_, _ = w.Write([]byte("ready\n"))
		})
		return nil
	})
}

var errShuttingDown = errors.New("shutting down")
