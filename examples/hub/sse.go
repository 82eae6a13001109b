package main

import (
	"flag"
	"fmt"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/sse"
)

var sseFormat string

// SSE: GET /events?topic=FILTER streams text/event-stream; browsers resume
// with Last-Event-ID. -sse-format chooses the data lines: data (the
// default, as the sse package's: the raw payload, so JSON.parse(event.data)
// works and text arrives as text; the cursor is the event id) or envelope
// (JSON with topic, cursor and the payload). A page may ask for the other
// one with &format=envelope or &format=data.
func init() {
	extraFlags = append(extraFlags, func(fs *flag.FlagSet) {
		fs.StringVar(&sseFormat, "sse-format", "data", "SSE data lines: data (raw payload, as the sse package) or envelope (JSON with topic and cursor)")
	})
	register("sse", func(h *hub) error {
		o := &sse.Options{Logger: h.log, Auth: h.auth, Observer: h.observer}
		switch sseFormat {
		case "data", "":
			o.Format = sse.FormatData
		case "envelope":
			o.Format = sse.FormatEnvelope
			// The envelope carries the headers; named events would be
			// invisible to a generic page listening for "message".
			o.EventName = func(*pubsub.Message) string { return "" }
		default:
			return fmt.Errorf("unknown -sse-format %q: want data or envelope", sseFormat)
		}
		s := sse.NewHandler(h.broker, o)
		h.mux.Handle("/events", s)
		h.manage(s) // streams end after what was delivered
		return nil
	})
}
