package sse

import (
	"sync/atomic"

	"github.com/switchboard-go/switchboard/pubsub"
)

// The memory broker hands the same *Message to every subscription, so a
// handler with many streams encodes each event once and copies the bytes
// into every stream. The cache is a small ring indexed by sequence number;
// an entry is valid only for the very *Message it was made from.
const encodeCacheSize = 256

type encodedEvent struct {
	m *pubsub.Message
	b []byte // immutable once stored
}

type encodeCache [encodeCacheSize]atomic.Pointer[encodedEvent]

func (c *encodeCache) slot(m *pubsub.Message) *atomic.Pointer[encodedEvent] {
	cur, err := pubsub.ParseCursor(m.Cursor)
	if err != nil {
		return nil
	}
	return &c[cur.Seq%encodeCacheSize]
}

// appendEvent appends the event for m (event:, id:, data lines, blank
// line) to dst, from the cache when another stream already encoded it.
func (h *Handler) appendEvent(dst []byte, m *pubsub.Message, id string) []byte {
	slot := h.cache.slot(m)
	if slot != nil {
		if e := slot.Load(); e != nil && e.m == m {
			return append(dst, e.b...)
		}
	}
	start := len(dst)
	dst = h.encodeEvent(dst, m, id)
	if slot != nil {
		slot.Store(&encodedEvent{m: m, b: append([]byte(nil), dst[start:]...)})
	}
	return dst
}

// encodeEvent appends the event for m; everything in it depends on m
// alone (id is m.Cursor or "", see stream.writeMessage).
func (h *Handler) encodeEvent(dst []byte, m *pubsub.Message, id string) []byte {
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
