package main

import (
	"flag"
	"fmt"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/sse"
)

var sseFormat string

// SSE: GET /events?topic=FILTER streams text/event-stream; browsers resume
// with Last-Event-ID. -sse-format chooses envelope (default: topic, cursor
// and data as JSON) or data (the raw payload).
func init() {
	extraFlags = append(extraFlags, func(fs *flag.FlagSet) {
		fs.StringVar(&sseFormat, "sse-format", "envelope", "SSE data lines: envelope (JSON with topic and cursor) or data (raw payload)")
	})
	register("sse", func(h *hub) error {
		o := &sse.Options{Logger: h.log, Observer: h.observer}
		switch sseFormat {
		case "envelope", "":
			o.Format = sse.FormatEnvelope
			// The envelope carries the headers; named events would be
			// invisible to a generic page listening for "message".
			o.EventName = func(*pubsub.Message) string { return "" }
		case "data":
			o.Format = sse.FormatData
		default:
			return fmt.Errorf("unknown -sse-format %q: want envelope or data", sseFormat)
		}
		s := sse.NewHandler(h.broker, o)
		h.mux.Handle("/events", s)
		h.manage(s) // streams end after what was delivered
		return nil
	})
}
