package sse

import (
	"github.com/switchboard-go/switchboard/pubsub"
)

// encodeEvent appends the event for m (event:, id:, data lines, blank
// line). Everything in it depends on m alone, so the handler's
// wire.EncodeCache encodes each message once for all its streams.
func (h *Handler) encodeEvent(dst []byte, m *pubsub.Message) []byte {
	id := eventID(m)
	name := ""
	if h.o.EventName != nil {
		name = h.o.EventName(m)
	} else {
		name = m.Header["event"]
	}
	if name != "" && cleanField(name) {
		dst = appendField(dst, "event", name)
	}
	if id != "" {
		dst = appendField(dst, "id", id)
	}
	if h.o.Format == FormatEnvelope {
		dst = appendEnvelope(dst, m)
	} else {
		dst = appendData(dst, m.Data)
	}
	return append(dst, '\n')
}
