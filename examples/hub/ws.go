package main

import (
	"flag"
	"strings"

	"github.com/switchboard-go/switchboard/ws"
)

var wsOrigins string

// WebSocket: GET /ws upgrades to the switchboard.v1 protocol (subscribe with
// since, publish, request/reply), and speaks the guide's simpler pub/sub
// frames (subscribe with topics, publish without id) on the same socket;
// GET /switchboard.mjs serves its JavaScript client (and /switchboard.d.mts
// its types). Browsers from other origins are refused
// unless -ws-origins lists them.
func init() {
	extraFlags = append(extraFlags, func(fs *flag.FlagSet) {
		fs.StringVar(&wsOrigins, "ws-origins", "", "comma-separated extra origins allowed to open /ws (host patterns such as app.example.com or *.example.com)")
	})
	register("ws", func(h *hub) error {
		o := &ws.Options{Logger: h.log, Auth: h.auth, Observer: h.observer}
		for _, p := range strings.Split(wsOrigins, ",") {
			if p = strings.TrimSpace(p); p != "" {
				o.OriginPatterns = append(o.OriginPatterns, p)
			}
		}
		s := ws.NewHandler(h.broker, o)
		h.mux.Handle("/ws", s)
		// The switchboard.v1 JavaScript client, which the page imports.
		h.mux.Handle("GET /switchboard.mjs", ws.ClientScript())
		h.mux.Handle("GET /switchboard.d.mts", ws.ClientTypes())
		h.manage(s) // hijacked: close 1001, which http.Server cannot do
		return nil
	})
}
