package sse

import (
	"github.com/switchboard-go/switchboard/pubsub"
)

// encodeEvent appends the event for m (event:, id:, data lines, blank
// line). Everything in it depends on m alone, so the handler's
// wire.EncodeCache encodes each message once for all its streams.
func (h *Handler) encodeEvent(dst []byte, m *pubsub.Message) []byte {
	return h.appendEvent(dst, m, h.o.Format)
}

// encodeAlt is encodeEvent in the other format, for the streams whose
// request asked for it (format=data or format=envelope).
func (h *Handler) encodeAlt(dst []byte, m *pubsub.Message) []byte {
	return h.appendEvent(dst, m, altFormat(h.o.Format))
}

func altFormat(f Format) Format {
	if f == FormatEnvelope {
		return FormatData
	}
	return FormatEnvelope
}

func (h *Handler) appendEvent(dst []byte, m *pubsub.Message, f Format) []byte {
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
	if f == FormatEnvelope {
		dst = appendEnvelope(dst, m)
	} else {
		dst = appendData(dst, m.Data)
	}
	return append(dst, '\n')
}
