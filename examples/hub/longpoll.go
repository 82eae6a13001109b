package main

import "github.com/switchboard-go/switchboard/longpoll"

// Long polling: GET /poll?topic=FILTER&cursor=C&timeout=25s answers with
// the messages after C, or holds the request until one arrives.
// Publishing over plain HTTP is POST /topics/{topic} (rest.go).
func init() {
	register("longpoll", func(h *hub) error {
		p := longpoll.NewHandler(h.broker, &longpoll.Options{Logger: h.log, Auth: h.auth, Observer: h.observer})
		h.mux.Handle("/poll", p)
		h.manage(p) // held polls are answered at once
		return nil
	})
}
