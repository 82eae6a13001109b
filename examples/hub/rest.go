package main

import "github.com/switchboard-go/switchboard/transport"

// REST: POST /topics/{topic} publishes the body; GET /topics/{filter}?since=
// reads history.
func init() {
	register("rest", func(h *hub) error {
		h.mux.Handle("/topics/", transport.NewRESTHandler(h.broker, &transport.RESTOptions{Logger: h.log, Auth: h.auth, Observer: h.observer}))
		return nil
	})
}
